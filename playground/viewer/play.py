"""``playground play ENV``: a person plays an Atari game with the keyboard, at the game's normal speed.

Normal speed is the console's: one emulator frame per displayed frame at 60 Hz (the agents'
frame skip of 4 is how often they decide, not how fast the game runs). The id's sticky actions
stay on, so people and agents play the same game. Each finished game is stored as a human
result for that game and player (``playground.game.results``), for the leaderboards.
"""

from __future__ import annotations

import collections
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pygame

from playground import envs
from playground.envs import WatchEnv
from playground.errors import PlaygroundError
from playground.i18n import Words
from playground.game.profiles import active_player
from playground.game.results import check_player, human_games, record_human_game
from playground.store import Store, get_store
from playground.viewer.common import check_view_options
from playground.viewer.display import Screen, even, frame_surface, go_headless, require_display
from playground.viewer.hud import (
    BACKGROUND,
    CHOSEN,
    DIM,
    LINE,
    PAD,
    PANEL,
    PANEL_WIDTH,
    TEXT,
    draw_banner,
    draw_legend,
    fmt,
    legend_height,
    text,
)
from playground.viewer.keyboard import KeyboardInput, KeyMap, KeySource, check_playable

AGAIN = (pygame.K_SPACE, pygame.K_RETURN, pygame.K_KP_ENTER)
QUIT = (pygame.K_q, pygame.K_ESCAPE)


@dataclass
class HumanResult:
    score: float
    frames: int  # emulator frames played
    seed: int | None


class PlaySession:
    """A person's game: keys in, ``step(keys)`` → the next frame. No pygame window here."""

    def __init__(self, env: WatchEnv, keymap: KeyMap, *, seed: int | None = None) -> None:
        self.env = env
        self.keymap = keymap
        self.results: list[HumanResult] = []
        self.action_counts: collections.Counter[str] = collections.Counter()
        self._next_seed = seed
        self.frame: np.ndarray
        self.new_game()

    def new_game(self) -> None:
        self.seed, self._next_seed = self._next_seed, None
        start = self.env.reset(seed=self.seed)
        self.frame = start.frames[-1]
        self.lives = start.lives
        self.score = 0.0
        self.frames = 0
        self.game_over = False

    def step(self, keys: frozenset[int]) -> np.ndarray:
        if self.game_over:
            return self.frame
        action = self.keymap.action(keys)
        self.action_counts[self.env.action_names[action]] += 1
        result = self.env.step(action)
        self.frame = result.frames[-1]
        self.score += result.reward
        self.lives = result.lives
        self.frames += 1
        if result.game_over:
            self.game_over = True
            self.results.append(HumanResult(float(self.score), self.frames, self.seed))
        return self.frame


@dataclass
class PlaySummary:
    player: str
    env: str
    games: list[HumanResult] = field(default_factory=list)
    frames: int = 0
    actions: dict[str, int] = field(default_factory=dict)  # emulator frames played with each action
    elapsed_s: float = 0.0

    def record(self) -> dict[str, Any]:
        return {"player": self.player, "env": self.env, "games": [asdict(g) for g in self.games],
                "frames": self.frames, "actions": self.actions, "elapsed_s": round(self.elapsed_s, 3)}


def play_size(frame_shape: tuple[int, ...], zoom: int, legend_rows: int) -> tuple[int, int]:
    height, width = int(frame_shape[0]), int(frame_shape[1])
    panel = 9 * (LINE + 2) + legend_height(legend_rows) + 3 * LINE
    return even(width * zoom + PANEL_WIDTH), even(max(height * zoom, panel))


def draw_play(surface: pygame.Surface, session: PlaySession, *, player: str, env_id: str, zoom: int,
              legend: list[tuple[str, str]], best: float | None, game: int) -> None:
    surface.fill(BACKGROUND)
    game_surface = frame_surface(session.frame, zoom)
    surface.blit(game_surface, (0, 0))
    x0 = game_surface.get_width()
    pygame.draw.rect(surface, PANEL, (x0, 0, surface.get_width() - x0, surface.get_height()))
    x, y, w = x0 + PAD, PAD, surface.get_width() - x0 - 2 * PAD
    y = text(surface, player, (x, y), CHOSEN, 22, max_width=w) + 2
    y = text(surface, f"plays {env_id}", (x, y), DIM, max_width=w) + 8
    y = text(surface, f"game {game}   score {fmt(session.score)}", (x, y), TEXT, 20) + 4
    y = text(surface, f"your best {fmt(best)}", (x, y), DIM) + 2
    seconds = session.frames / envs.ATARI_FPS
    lives = f"   lives {session.lives}" if session.lives else ""
    y = text(surface, f"time {int(seconds // 60)}:{int(seconds % 60):02d}{lives}", (x, y), DIM) + 12
    y = draw_legend(surface, x, y, w, legend, title="keys (the game's own mapping)") + 8
    text(surface, "q / Esc: quit", (x, y), DIM, 14)


def play(
    env_id: str,
    *,
    zoom: int | None = None,
    player: str | None = None,
    seed: int | None = None,
    games: int | None = None,
    keys: KeySource | None = None,
    headless: bool = False,
    max_frames: int | None = None,
    max_frames_per_game: int = envs.ATARI_MAX_FRAMES,
    store: Store | None = None,
) -> PlaySummary:
    """Play ``env_id`` until the user quits (or ``games`` games); every finished game is stored.

    ``keys`` replaces the keyboard (tests script it); ``headless`` draws off-screen and, without
    ``games``, plays one game.
    """
    check_view_options(zoom=zoom, max_frames=max_frames, seed=seed)
    if games is not None and games < 1:
        raise PlaygroundError("viewer.bad_games", games=games)
    player = check_player(player) if player is not None else active_player()
    spec = envs.resolve(env_id)
    store = store or get_store()
    env = envs.make_play_env(spec, max_frames=max_frames_per_game)
    try:
        keymap = KeyMap(check_playable(spec, env), env.action_names)
        if headless:
            go_headless()
        else:
            require_display(Words("viewer.no_display_hint_play"))
    except BaseException:
        env.close()
        raise
    screen: Screen | None = None
    session: PlaySession | None = None
    summary = PlaySummary(player=player, env=spec.env_id)
    started = time.monotonic()
    try:
        legend = keymap.legend()
        session = PlaySession(env, keymap, seed=secrets.randbelow(2**31) if seed is None else seed)
        zoom = zoom or max(1, min(4, 480 // session.frame.shape[1]))
        screen = Screen(play_size(session.frame.shape, zoom, len(legend)), title=f"{spec.env_id} · playground play",
                        headless=headless, fps=envs.ATARI_FPS if spec.is_atari else env.native_fps)
        source = keys or KeyboardInput()
        if headless and games is None:
            games = 1
        stored = [g.score for g in human_games(store, player=player, game=spec.game)]
        best = max(stored) if stored else None
        while True:  # Ctrl-C ends the loop like q does (every finished game is already stored)
            events = screen.events()
            source.feed(events)
            if any(e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key in QUIT) for e in events):
                break
            if session.game_over:
                if games is not None and len(session.results) >= games:
                    break
                if screen.window is not None and not any(e.type == pygame.KEYDOWN and e.key in AGAIN for e in events):
                    screen.wait()  # the result stays up until the player asks for another game
                    continue
                session.new_game()
            session.step(source.keys())
            if session.game_over:
                result = session.results[-1]
                record_human_game(player=player, env=spec.env_id, game=spec.game, score=result.score,
                                  seed=result.seed, frames=result.frames, store=store)
                best = result.score if best is None else max(best, result.score)
            draw_play(screen.canvas, session, player=player, env_id=spec.env_id, zoom=zoom, legend=legend,
                      best=best, game=len(session.results) + (0 if session.game_over else 1))
            if session.game_over:
                draw_banner(screen.canvas, [f"game over: {fmt(session.score)}", f"stored for {player}",
                                            "space: play again   q: quit"],
                            center=(session.frame.shape[1] * zoom // 2, session.frame.shape[0] * zoom // 2))
            screen.present()
            summary.frames += 1
            if max_frames is not None and summary.frames >= max_frames:
                break
            screen.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if session is not None:
            summary.games = list(session.results)
            summary.actions = dict(session.action_counts)
        summary.elapsed_s = time.monotonic() - started
        if screen is not None:
            screen.close()
        env.close()
    return summary
