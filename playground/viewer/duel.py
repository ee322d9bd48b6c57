"""``playground duel RUN``: a person and a run's agent play the same game, same seed, side by side.

Both games run at the console's 60 Hz, one emulator frame per displayed frame on each side; the
agent decides every 4th frame, as it was trained to. When the person's game ends first, the
agent's game runs on fast-forward. When both have ended, a result screen says who won and by
how much, and the duel is stored (``playground.game.results.record_duel``). A duel the person
quits before both games end is not stored.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygame

from playground import envs, runs
from playground.config import of_run
from playground.errors import RunStateError
from playground.i18n import Words
from playground.game.profiles import active_player
from playground.game.results import check_player, record_duel
from playground.store import Store, get_store
from playground.training import make_agent
from playground.viewer.common import check_view_options, one_torch_thread
from playground.viewer.display import Screen, even, frame_surface, go_headless, has_display
from playground.viewer.errors import NoDisplay, NotPlayable
from playground.viewer.hud import (
    BACKGROUND,
    CHOSEN,
    DIM,
    LINE,
    PAD,
    TEXT,
    HudState,
    draw_banner,
    draw_legend,
    fmt,
    legend_height,
    text,
)
from playground.viewer.keyboard import KeyboardInput, KeyMap, KeySource, check_playable, keyboard_problem
from playground.viewer.play import QUIT, PlaySession
from playground.viewer.session import WatchSession, load_for_play

GAP = 24
HEADER = 2 * LINE + 2 * PAD
FAST_FORWARD = 8  # agent frames per displayed frame once the person's game is over


@dataclass
class DuelSummary:
    player: str
    run_id: str
    env: str
    checkpoint_step: int
    seed: int
    human_score: float | None = None
    agent_score: float | None = None
    winner: str | None = None  # human, agent or draw; None when the duel was left unfinished
    frames: int = 0
    elapsed_s: float = 0.0

    def record(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verdict(human: float, agent: float) -> str:
    margin = abs(human - agent)
    points = "point" if margin == 1 else "points"
    if human > agent:
        return f"You win by {fmt(margin)} {points}!"
    if agent > human:
        return f"The agent wins by {fmt(margin)} {points}."
    return f"A draw at {fmt(human)}."


def duel_size(frame_shape: tuple[int, ...], zoom: int, legend_rows: int) -> tuple[int, int]:
    height, width = int(frame_shape[0]), int(frame_shape[1])
    return (even(2 * PAD + 2 * width * zoom + GAP),
            even(HEADER + height * zoom + PAD + legend_height(legend_rows, columns=2) + PAD))


def draw_duel(surface: pygame.Surface, human: PlaySession, machine: WatchSession, *, player: str, zoom: int,
              legend: list[tuple[str, str]], result: list[str] | None) -> None:
    surface.fill(BACKGROUND)
    h, w = human.frame.shape[:2]
    sw, sh = w * zoom, h * zoom
    sides = (
        (PAD, f"you ({player})", human.score, human.frame, human.game_over),
        (PAD + sw + GAP, f"agent {machine.hud.run_id} (step {machine.hud.checkpoint_step:,})", machine.hud.score,
         machine.frame, machine.game_over),
    )
    for x, name, score, frame, over in sides:
        text(surface, name, (x, PAD), CHOSEN, 18, max_width=sw)
        text(surface, f"score {fmt(score)}", (x, PAD + LINE + 2), TEXT, 20, max_width=sw)
        surface.blit(frame_surface(frame, zoom), (x, HEADER))
        if over and result is None:
            draw_banner(surface, ["game over", f"score {fmt(score)}"], center=(x + sw // 2, HEADER + sh // 2))
    if human.game_over and not machine.game_over:
        text(surface, f"the agent plays on (x{FAST_FORWARD})", (PAD + sw + GAP, HEADER + sh + 2), DIM, 14)
    draw_legend(surface, PAD, HEADER + sh + PAD + 4, surface.get_width() - 2 * PAD, legend, columns=2,
                title="keys (the game's own mapping)   q / Esc: quit")
    if result is not None:
        draw_banner(surface, result)


def duel(
    ref: str,
    *,
    checkpoint: str | None = None,
    zoom: int | None = None,
    player: str | None = None,
    seed: int | None = None,
    keys: KeySource | None = None,
    headless: bool = False,
    max_frames: int | None = None,
    max_frames_per_game: int = envs.ATARI_MAX_FRAMES,
    store: Store | None = None,
) -> DuelSummary:
    """One duel against ``ref``'s agent (its best checkpoint unless told); stored once both games end."""
    check_view_options(zoom=zoom, max_frames=max_frames, seed=seed)
    player = check_player(player) if player is not None else active_player()
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind != "rl":
        raise RunStateError("viewer.duel_not_rl", run=run.id, kind=run.kind)
    config = of_run(run)
    spec = envs.resolve(config.env)
    runs.folder_here(run)  # trained on another machine of a shared store: its checkpoints are there
    step, path = runs.pick_checkpoint(run, checkpoint or "best", store)
    human_env = envs.make_play_env(spec, max_frames=max_frames_per_game)
    problem = keyboard_problem(spec, human_env)
    if problem is not None:
        human_env.close()
        raise NotPlayable("viewer.duel_not_playable", run=run.id, env=spec.env_id, problem=problem)
    if headless:
        go_headless()
    elif not has_display():
        human_env.close()
        raise NoDisplay("viewer.no_display", hint=Words("viewer.no_display_hint_duel"))
    seed = secrets.randbelow(2**31) if seed is None else seed
    summary = DuelSummary(player=player, run_id=run.id, env=spec.env_id, checkpoint_step=step, seed=seed)
    started = time.monotonic()
    machine: WatchSession | None = None
    screen: Screen | None = None
    with one_torch_thread():
        try:
            keymap = KeyMap(check_playable(spec, human_env), human_env.action_names)
            legend = keymap.legend()
            agent = make_agent(config, device="cpu")
            agent_env = envs.make_watch_env(spec, config.env_backend, max_frames=max_frames_per_game)
            try:
                load_for_play(agent, path)
            except BaseException:
                agent.close()
                agent_env.close()
                raise
            machine = WatchSession(agent_env, agent, HudState(run_id=run.id, algo=config.algo, env_id=spec.env_id),
                                   seed=seed, checkpoint_step=step)
            human = PlaySession(human_env, keymap, seed=seed)
            zoom = zoom or max(1, min(3, 480 // human.frame.shape[1]))
            screen = Screen(duel_size(human.frame.shape, zoom, len(legend)), title=f"duel: you vs {run.id}",
                            headless=headless, fps=envs.ATARI_FPS)
            source = keys or KeyboardInput()
            result: list[str] | None = None
            while True:
                events = screen.events()
                source.feed(events)
                if any(e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key in QUIT) for e in events):
                    break
                if result is not None and any(e.type == pygame.KEYDOWN for e in events):
                    break
                if not human.game_over:
                    human.step(source.keys())
                for _ in range(1 if not human.game_over else FAST_FORWARD):
                    if machine.game_over:
                        break
                    machine.step()
                if result is None and human.game_over and machine.game_over:
                    summary.human_score = human.results[-1].score
                    summary.agent_score = machine.results[-1].score
                    summary.winner = record_duel(
                        player=player, run_id=run.id, checkpoint=str(path), env=spec.env_id, game=spec.game,
                        seed=seed, human_score=summary.human_score, agent_score=summary.agent_score, store=store,
                    )
                    result = [verdict(summary.human_score, summary.agent_score),
                              f"you {fmt(summary.human_score)}   agent {fmt(summary.agent_score)}",
                              f"stored for {player}", "press any key"]
                draw_duel(screen.canvas, human, machine, player=player, zoom=zoom, legend=legend, result=result)
                screen.present()
                summary.frames += 1
                if max_frames is not None and summary.frames >= max_frames:
                    break
                if result is not None and screen.window is None:
                    break  # headless: the result screen is drawn once
                screen.wait()
        except KeyboardInterrupt:
            pass
        finally:
            summary.elapsed_s = time.monotonic() - started
            if screen is not None:
                screen.close()
            if machine is not None:
                machine.close()
            human_env.close()
    return summary
