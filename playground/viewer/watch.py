"""``playground watch RUN``: an agent plays in a window (or headless, into a video), with its HUD.

The loop's clock runs at the display rate (``--fps``); each displayed frame advances the game by
``speed × native fps / display fps`` emulator frames, so what is shown and how fast the game runs
are independent (+ and - change the speed, not the frame rate). Events are pumped every frame.
Headless, there is no clock (frames are made as fast as the machine can, and the video still
plays at the game's real speed), except in follow mode, which keeps to real time so that the
games spread over the training they show.

A tabular agent (value iteration, Q-learning, ...: ``agents/tabular.py``) is shown on its grid instead of
the env's own small picture: every cell coloured by V(s), the greedy action as an arrow, the agent on its
cell (``grid.TableBoard``), redrawn from the table every frame. Following such a run, the newest table is
loaded while a game goes on (a table holds nothing about the game being played), not only between games.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import agents
from playground import envs, runs
from playground.config import of_run
from playground.envs.grids import grid_world
from playground.errors import PlaygroundError, RunStateError
from playground.i18n import say
from playground.store import Store, get_store
from playground.training import make_agent
from playground.viewer.common import (
    Notify,
    ViewerApp,
    ViewerSummary,
    check_view_options,
    finish_recording,
    first_choice,
    one_torch_thread,
    run_app,
    showing,
    wait_for_first,
)
from playground.viewer.controls import WatchControls
from playground.viewer.display import Screen, go_headless, require_display
from playground.viewer.follow import Follower
from playground.viewer.grid import TableBoard, is_tabular
from playground.viewer.hud import HudState, draw_watch, watch_size
from playground.viewer.record import Recorder, check_record_path, default_video_path
from playground.viewer.session import GameResult, WatchSession, load_for_play

log = logging.getLogger(__name__)

REFRESH_S = 2.0  # follow mode: how often the curve and status are re-read during a game


def default_zoom(frame_shape: tuple[int, ...]) -> int:
    """Atari's 160-pixel-wide screen at 3x; frames already the size of a window (CartPole's 600) at 1x."""
    return max(1, min(4, 480 // max(1, int(frame_shape[1]))))


@dataclass
class WatchSummary(ViewerSummary):
    run_id: str
    env: str
    seed: int | None
    games: list[GameResult] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the CLI prints, in the process's language."""
        out = []
        for i, game in enumerate(self.games, 1):
            if game.seed is not None:
                out.append(say("viewer.game_line_seed", game=i, score=game.score, steps=game.steps,
                               checkpoint=game.checkpoint_step, seed=game.seed))
            else:
                out.append(say("viewer.game_line", game=i, score=game.score, steps=game.steps,
                               checkpoint=game.checkpoint_step))
        if not self.games:
            out.append(say("viewer.no_game_finished"))
        return out + self.recording_lines()

    def record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "env": self.env,
            "seed": self.seed,
            "path": str(self.path) if self.path else None,
            "games": [asdict(g) for g in self.games],
            "checkpoint_steps": self.checkpoint_steps,
            **self.frame_record(),
            "interrupted": self.interrupted,
        }


class WatchApp(ViewerApp):
    """The loop around a ``WatchSession``: keys, speed, drawing, follow mode, screenshots."""

    session: WatchSession
    controls: WatchControls
    follower: Follower | None

    def __init__(self, session: WatchSession, screen: Screen, *, zoom: int, fps: float,
                 episodes: int | None = None, max_frames: int | None = None, follower: Follower | None = None,
                 screenshot_dir: Path | None = None, controls: WatchControls | None = None,
                 notify: Notify | None = None, board: TableBoard | None = None) -> None:
        super().__init__(session, screen, fps=fps, controls=controls or WatchControls(), max_frames=max_frames,
                         follower=follower, screenshot_dir=screenshot_dir, notify=notify)
        self.zoom = zoom
        self.board = board  # a tabular agent's grid, drawn instead of the game's picture
        self.episodes = episodes
        self.frames_per_tick = session.env.native_fps / self.fps  # at speed 1: the game's real speed
        self.credit = 0.0
        self._last_refresh = time.monotonic()
        self._note_checkpoint()

    def advance(self) -> bool:
        """Restarts, the next game (follow mode: on the newest checkpoint), and the game's frames for this one."""
        controls = self.controls
        session = self.session
        if controls.take_restart():
            session.restart()
            self.credit = 0.0
        if session.game_over:
            if self.episodes is not None and len(session.results) >= self.episodes:
                return False
            if self.follower is not None:
                message = self.follower.between_games(session.hud, session.load)
                self._note_checkpoint()
                if message:
                    self.say(message)
            session.new_game()
        view = controls.view
        if view.paused:
            for _ in range(controls.take_steps()):
                session.step_decision()
            self.credit = 0.0
        else:
            controls.take_steps()
            self.credit += view.speed * self.frames_per_tick
            n = int(self.credit)
            self.credit -= n
            for _ in range(n):
                session.step()
                if session.game_over:
                    self.credit = 0.0
                    break
        if self.follower is not None and time.monotonic() - self._last_refresh > REFRESH_S:
            self._last_refresh = time.monotonic()
            message = self.follower.refresh(session.hud, session.load if self.board is not None else None)
            self._note_checkpoint()
            if message:
                self.say(message)
        return True

    def draw(self) -> dict[str, Any]:
        session = self.session
        frame = session.frame
        if self.board is not None:
            frame = self.board.frame(session.agent, int(np.asarray(session.obs).reshape(-1)[0]))
        drawn = draw_watch(self.screen.canvas, frame, session.hud, self.controls.view, self.zoom, session.obs[0])
        if self.board is not None:
            drawn["board"] = self.board.drawn
        return drawn


def watch(
    ref: str,
    *,
    checkpoint: str | None = None,
    episodes: int | None = None,
    fps: int | None = None,
    zoom: int | None = None,
    seed: int | None = None,
    record: str | Path | None = None,
    headless: bool = False,
    follow: bool = False,
    max_frames: int | None = None,
    notify: Notify | None = None,
    store: Store | None = None,
    controls: WatchControls | None = None,
) -> WatchSummary:
    """Watch a run's agent play; see the module docstring. Returns what was played (and recorded).

    Headless without ``record`` records to the run's ``videos/`` folder. Without ``episodes``, a
    window plays until the user quits, headless plays one game (with ``follow``: until Ctrl-C).
    A recording is registered with the run as a ``video`` artifact.
    """
    check_view_options(zoom=zoom, fps=fps, episodes=episodes, max_frames=max_frames, seed=seed)
    if follow and checkpoint is not None:
        raise PlaygroundError("viewer.follow_and_checkpoint")
    record_path = check_record_path(record) if record is not None else None
    if headless:
        go_headless()
    else:
        require_display()
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind == "gan":
        raise RunStateError("viewer.watch_gan_run", run=run.id)
    if run.kind != "rl":
        raise RunStateError("viewer.watch_not_rl", run=run.id, kind=run.kind)
    runs.folder_here(run)  # trained on another machine of a shared store: its checkpoints are there
    config = of_run(run)
    follower = Follower(run.id, store) if follow else None
    chosen: tuple[int, Path] | None = None
    if follower is None:
        chosen = runs.pick_checkpoint(run, checkpoint or "best", store)
    else:
        chosen = first_choice(follower)
    if seed is None:
        seed = secrets.randbelow(2**31)
    if episodes is None and headless and not follow:
        episodes = 1

    spec = envs.resolve(config.env)
    tabular = is_tabular(agents.get(config.algo))
    summary = WatchSummary(run_id=run.id, env=spec.env_id, seed=seed)
    started = time.monotonic()
    with one_torch_thread():
        env = envs.make_watch_env(spec, config.env_backend)
        session: WatchSession | None = None
        try:
            with showing(summary) as held:
                probe = env.reset(seed=seed).frames[-1]
                board = TableBoard(grid_world(env.env), env.action_names) if tabular else None
                if board is not None:
                    probe = np.zeros(board.shape, dtype=np.uint8)
                zoom = zoom or (1 if board is not None else default_zoom(probe.shape))
                fps = fps or round(env.native_fps)
                size = watch_size(probe.shape, zoom, len(env.action_names),
                                  distribution=bool(config.hyperparameters.get("distributional")))
                summary.fps, summary.size = float(fps), size
                screen = held.screen = Screen(size, title=f"{run.id} · playground watch", headless=headless,
                                              fps=fps, realtime=not headless or follow)
                if chosen is None:
                    chosen = wait_for_first(follower, screen, notify)
                    if chosen is None:
                        summary.interrupted = True
                        return summary
                step, path = chosen
                agent = make_agent(config, device="cpu")
                try:
                    load_for_play(agent, path)
                except BaseException:
                    agent.close()
                    raise
                hud = HudState(run_id=run.id, algo=config.algo, env_id=spec.env_id, following=follow,
                               run_status=follower.status if follower else None,
                               eval_curve=[(e.step, e.mean) for e in store.evaluations(run.id, played=True)])
                session = WatchSession(env, agent, hud, seed=seed, checkpoint_step=step)
                if board is not None:  # the grid's own names (LEFT, DOWN, ...) for the Q-value bars
                    hud.action_names = board.action_names
                if record_path is None and headless:
                    record_path = default_video_path(Path(run.folder), run.id, step)
                if record_path is not None:
                    held.recorder = screen.recorder = Recorder(record_path, fps)
                app = WatchApp(session, screen, zoom=zoom, fps=fps, episodes=episodes, max_frames=max_frames,
                               follower=follower, screenshot_dir=Path(run.folder) / "screenshots",
                               controls=controls, notify=notify if follow else None, board=board)
                run_app(app, summary, started)
                summary.games = list(session.results)
                finish_recording(held, summary, store, run.id, lambda: {
                    "games": len(summary.games), "scores": [g.score for g in summary.games],
                    "frames": summary.frames, "fps": fps, "seed": seed, "checkpoint_steps": app.checkpoint_steps,
                })
        finally:
            if session is not None:
                session.close()
            else:
                env.close()
    return summary

