"""``playground watch RUN``: an agent plays in a window (or headless, into a video), with its HUD.

The loop's clock runs at the display rate (``--fps``); each displayed frame advances the game by
``speed × native fps / display fps`` emulator frames, so what is shown and how fast the game runs
are independent (+ and - change the speed, not the frame rate). Events are pumped every frame.
Headless, there is no clock (frames are made as fast as the machine can, and the video still
plays at the game's real speed), except in follow mode, which keeps to real time so that the
games spread over the training they show.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from playground import envs, runs
from playground.config import RLConfig
from playground.errors import PlaygroundError, RunStateError
from playground.store import Store, get_store
from playground.training import make_agent
from playground.viewer.common import (
    Notify,
    check_view_options,
    checkpoint_waiter,
    one_torch_thread,
    recorded_line,
    save_screenshot,
)
from playground.viewer.controls import WatchControls
from playground.viewer.display import Screen, go_headless, require_display
from playground.viewer.follow import Follower
from playground.viewer.hud import HudState, draw_watch, watch_size
from playground.viewer.record import Recorder, check_record_path, default_video_path
from playground.viewer.session import GameResult, WatchSession

log = logging.getLogger(__name__)

MESSAGE_S = 3.0  # how long a message stays in the panel (in displayed time)
REFRESH_S = 2.0  # follow mode: how often the curve and status are re-read during a game


def default_zoom(frame_shape: tuple[int, ...]) -> int:
    """Atari's 160-pixel-wide screen at 3x; frames already the size of a window (CartPole's 600) at 1x."""
    return max(1, min(4, 480 // max(1, int(frame_shape[1]))))


@dataclass
class WatchSummary:
    run_id: str
    env: str
    seed: int | None
    games: list[GameResult] = field(default_factory=list)
    checkpoint_steps: list[int] = field(default_factory=list)
    path: Path | None = None  # the recording, when there is one
    frames: int = 0  # frames shown (and recorded)
    fps: float = 0.0  # display rate, and the video's frame rate
    size: tuple[int, int] = (0, 0)  # (width, height) of the picture
    elapsed_s: float = 0.0
    interrupted: bool = False

    @property
    def frames_per_s(self) -> float:
        """Frames made per second of wall time (headless: how fast the viewer can go)."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def lines(self) -> list[str]:
        """What the CLI prints."""
        out = []
        for i, game in enumerate(self.games, 1):
            seed = f", seed {game.seed}" if game.seed is not None else ""
            out.append(f"game {i}: score {game.score:g} in {game.steps:,} agent steps "
                       f"(checkpoint step {game.checkpoint_step:,}{seed})")
        if not self.games:
            out.append("no game finished")
        if self.path is not None:
            out.append(recorded_line(self.path, self.frames, self.size, self.fps, self.elapsed_s))
        if self.interrupted:
            out.append("stopped")
        return out

    def record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "env": self.env,
            "seed": self.seed,
            "path": str(self.path) if self.path else None,
            "games": [asdict(g) for g in self.games],
            "checkpoint_steps": self.checkpoint_steps,
            "frames": self.frames,
            "fps": self.fps,
            "width": self.size[0],
            "height": self.size[1],
            "elapsed_s": round(self.elapsed_s, 3),
            "frames_per_s": round(self.frames_per_s, 1),
            "interrupted": self.interrupted,
        }


class WatchApp:
    """The loop around a ``WatchSession``: keys, speed, drawing, follow mode, screenshots."""

    def __init__(self, session: WatchSession, screen: Screen, *, zoom: int, fps: float,
                 episodes: int | None = None, max_frames: int | None = None, follower: Follower | None = None,
                 screenshot_dir: Path | None = None, controls: WatchControls | None = None,
                 notify: Notify | None = None) -> None:
        self.session = session
        self.screen = screen
        self.zoom = zoom
        self.fps = float(fps)
        self.episodes = episodes
        self.max_frames = max_frames
        self.follower = follower
        self.screenshot_dir = screenshot_dir
        self.controls = controls or WatchControls()
        self.notify = notify
        self.frames_per_tick = session.env.native_fps / self.fps  # at speed 1: the game's real speed
        self.credit = 0.0
        self.presented = 0
        self.screenshots: list[Path] = []
        self.drawn: dict[str, Any] = {}
        self._message_until = 0
        self._last_refresh = time.monotonic()
        self.checkpoint_steps: list[int] = []
        self._note_checkpoint()

    def _note_checkpoint(self) -> None:
        step = self.session.hud.checkpoint_step
        if step is not None and (not self.checkpoint_steps or self.checkpoint_steps[-1] != step):
            self.checkpoint_steps.append(step)

    def say(self, message: str) -> None:
        self.session.hud.message = message
        self._message_until = self.presented + round(MESSAGE_S * self.fps)
        if self.notify is not None:
            self.notify(message)

    def tick(self) -> bool:
        """One displayed frame; False when the viewer should stop."""
        controls = self.controls
        for event in self.screen.events():
            controls.handle(event)
        if controls.quit:
            return False
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
            self.follower.refresh(session.hud)
        if self.presented >= self._message_until:
            session.hud.message = ""
        self.drawn = draw_watch(self.screen.canvas, session.frame, session.hud, view, self.zoom, session.obs[0])
        self.screen.present()
        self.presented += 1
        if controls.take_screenshot():
            self.save_screenshot()
        if self.max_frames is not None and self.presented >= self.max_frames:
            return False
        self.screen.wait()
        # A window shows the rate it holds; a recording plays at its own frame rate whatever the machine did.
        view.fps = self.screen.clock.get_fps() if self.screen.window is not None else self.fps
        return True

    def run(self) -> None:
        while self.tick():
            pass

    def save_screenshot(self) -> Path | None:
        """The whole picture (game and panel) as a PNG in the run's ``screenshots/`` folder."""
        if self.screenshot_dir is None:
            return None
        hud = self.session.hud
        name = f"{hud.run_id}-step-{hud.checkpoint_step}-{time.strftime('%Y%m%d-%H%M%S')}-{len(self.screenshots) + 1}.png"
        path = self.screenshot_dir / name
        try:
            save_screenshot(self.screen.canvas, path)
        except OSError as exc:
            self.say(f"could not save the screenshot ({exc.strerror or exc})")
            return None
        self.screenshots.append(path)
        self.say(f"screenshot: {path.name}")
        return path


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
        raise PlaygroundError("--follow always plays the newest checkpoint (the best once the run ends); "
                              "leave out --checkpoint.")
    record_path = check_record_path(record) if record is not None else None
    if headless:
        go_headless()
    else:
        require_display()
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind == "gan":
        raise RunStateError(f"run {run.id} is a GAN run; watch it with `playground gan watch {run.id}`.")
    if run.kind != "rl":
        raise RunStateError(f"run {run.id} is a {run.kind} run; `playground watch` shows RL agents.")
    config = RLConfig.model_validate(run.config)
    follower = Follower(run.id, store) if follow else None
    chosen: tuple[int, Path] | None = None
    if follower is None:
        chosen = runs.pick_checkpoint(run, checkpoint or "best", store)
    else:
        first = follower.choose()  # a run that ended without a checkpoint fails here, before any window
        if first is not None:
            follower.status = first[2]
            chosen = first[0], first[1]
    if seed is None:
        seed = secrets.randbelow(2**31)
    if episodes is None and headless and not follow:
        episodes = 1

    spec = envs.resolve(config.env)
    summary = WatchSummary(run_id=run.id, env=spec.env_id, seed=seed)
    started = time.monotonic()
    with one_torch_thread():
        env = envs.make_watch_env(spec, config.env_backend)
        session: WatchSession | None = None
        recorder: Recorder | None = None
        screen: Screen | None = None
        try:
            probe = env.reset(seed=seed).frames[-1]
            zoom = zoom or default_zoom(probe.shape)
            fps = fps or round(env.native_fps)
            size = watch_size(probe.shape, zoom, len(env.action_names))
            summary.fps, summary.size = float(fps), size
            screen = Screen(size, title=f"{run.id} · playground watch", headless=headless, fps=fps,
                            realtime=not headless or follow)
            if chosen is None:
                assert follower is not None
                waited = follower.first(checkpoint_waiter(screen, notify))
                if waited is None:
                    summary.interrupted = True
                    return summary
                chosen = waited[0], waited[1]
            step, path = chosen
            agent = make_agent(config, device="cpu")
            try:
                agent.load(path, for_training=False)
            except BaseException:
                agent.close()
                raise
            hud = HudState(run_id=run.id, algo=config.algo, env_id=spec.env_id, following=follow,
                           run_status=follower.status if follower else None,
                           eval_curve=[(e.step, e.mean) for e in store.evaluations(run.id)])
            session = WatchSession(env, agent, hud, seed=seed, checkpoint_step=step)
            if record_path is None and headless:
                record_path = default_video_path(Path(run.folder), run.id, step)
            if record_path is not None:
                recorder = Recorder(record_path, fps)
                screen.recorder = recorder
            app = WatchApp(session, screen, zoom=zoom, fps=fps, episodes=episodes, max_frames=max_frames,
                           follower=follower, screenshot_dir=Path(run.folder) / "screenshots",
                           controls=controls, notify=notify if follow else None)
            try:
                app.run()
            except KeyboardInterrupt:
                summary.interrupted = True
            summary.games = list(session.results)
            summary.checkpoint_steps = app.checkpoint_steps
            summary.frames = app.presented
            summary.elapsed_s = time.monotonic() - started
            if recorder is not None:
                summary.path = recorder.close()
                recorder = None
                if summary.path is not None:
                    store.add_artifact(run.id, "video", str(summary.path), step=app.checkpoint_steps[-1], meta={
                        "games": len(summary.games), "scores": [g.score for g in summary.games],
                        "frames": summary.frames, "fps": fps, "seed": seed, "checkpoint_steps": app.checkpoint_steps,
                    })
        except KeyboardInterrupt:
            summary.interrupted = True  # while waiting for a checkpoint, or while loading
        except BaseException:
            if recorder is not None:
                recorder.abort()
            raise
        finally:
            if screen is not None:
                screen.close()
            if session is not None:
                session.close()
            else:
                env.close()
    return summary

