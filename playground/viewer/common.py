"""Pieces every viewer loop shares (``watch``, ``gan watch``, ``play``, ``duel``): option checks, one
torch thread, waiting for a run's first checkpoint, screenshots, the line that says what was recorded, and
``ViewerApp``, the frame loop that ``watch`` and ``gan watch`` share.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygame

from playground.atomic import atomic_write
from playground.errors import PlaygroundError
from playground.i18n import say
from playground.session import StopFlag
from playground.store import Store
from playground.viewer.controls import WatchControls
from playground.viewer.display import Screen, canvas_array
from playground.viewer.follow import POLL_S, Follower, sleep_responsively
from playground.viewer.hud import Message, draw_message, said
from playground.viewer.record import Recorder

Notify = Callable[[str], None]

MESSAGE_S = 3.0  # how long a message stays in the panel (in displayed time)


def check_view_options(*, zoom: int | None = None, fps: int | None = None, episodes: int | None = None,
                       max_frames: int | None = None, seed: int | None = None) -> None:
    """One sentence for each out-of-range number, before anything is opened."""
    if zoom is not None and not 1 <= zoom <= 8:
        raise PlaygroundError("viewer.bad_zoom", zoom=zoom)
    if fps is not None and not 1 <= fps <= 240:
        raise PlaygroundError("viewer.bad_fps", fps=fps)
    if episodes is not None and episodes < 1:
        raise PlaygroundError("viewer.bad_episodes", episodes=episodes)
    if max_frames is not None and max_frames < 1:
        raise PlaygroundError("viewer.bad_max_frames", max_frames=max_frames)
    if seed is not None and seed < 0:
        raise PlaygroundError("viewer.bad_seed", seed=seed)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """One observation at a time needs no thread pool, and a run training beside us wants the cores."""
    from playground import threads

    with threads.at_most(1):
        yield


def checkpoint_waiter(screen: Screen, notify: Notify | None,
                      interrupted: Callable[[], bool] = lambda: False) -> Callable[[str], bool]:
    """Follow mode before the first checkpoint: say so (on screen in English, and once to the CLI in the
    process's language), poll, stay responsive; stop waiting when the person quits or ``interrupted()``
    (Ctrl-C) says so."""
    told: set[str] = set()
    quit_asked = False

    def keep_going() -> bool:
        nonlocal quit_asked
        controls = WatchControls()
        for event in screen.events():
            controls.handle(event)
        quit_asked = quit_asked or controls.quit or interrupted()
        return not quit_asked

    def wait(message: str) -> bool:
        if notify is not None and message not in told:
            told.add(message)
            notify(say("viewer.ctrl_c_stops", message=said(message)))
        if screen.window is not None:
            draw_message(screen.canvas, [message, "the viewer starts when the training writes one", "q quits"])
            screen.present()
        return sleep_responsively(POLL_S, keep_going)

    return wait


def save_screenshot(canvas: pygame.Surface, path: Path) -> Path:
    """The whole picture as a PNG, written atomically; raises OSError when it cannot be written."""
    from PIL import Image

    image = Image.fromarray(canvas_array(canvas), "RGB")
    return atomic_write(path, lambda fh: image.save(fh, format="PNG"))


def recorded_line(path: Path, frames: int, size: tuple[int, int], fps: float, elapsed_s: float) -> str:
    rate = frames / elapsed_s if elapsed_s > 0 else 0.0
    return say("viewer.recorded", frames=frames, width=size[0], height=size[1], fps=fps, elapsed=elapsed_s,
               rate=rate, path=path)


class ViewerApp:
    """The loop around a viewer session (``watch``, ``gan watch``): keys, the message in the panel, the
    checkpoints shown, screenshots, and one displayed frame after another until quit or ``max_frames``.

    The session has a ``hud`` with ``run_id``, ``checkpoint_step`` and ``message``. A subclass says what a
    frame does between the keys and the picture (``advance``) and how the picture is drawn (``draw``).
    """

    step_word = "step"  # in a screenshot's name: what a checkpoint's number counts

    def __init__(self, session: Any, screen: Screen, *, fps: float, controls: Any, max_frames: int | None = None,
                 follower: Any = None, screenshot_dir: Path | None = None, notify: Notify | None = None) -> None:
        self.session = session
        self.screen = screen
        self.fps = float(fps)
        self.max_frames = max_frames
        self.follower = follower
        self.screenshot_dir = screenshot_dir
        self.controls = controls
        self.notify = notify
        self.presented = 0
        self.screenshots: list[Path] = []
        self.drawn: dict[str, Any] = {}
        self.checkpoint_steps: list[int] = []
        self._message_until = 0

    def _note_checkpoint(self) -> None:
        step = self.session.hud.checkpoint_step
        if step is not None and (not self.checkpoint_steps or self.checkpoint_steps[-1] != step):
            self.checkpoint_steps.append(step)

    def say(self, message: str) -> None:
        """Show ``message`` in the panel for a while (in English, see ``hud.Message``) and tell the terminal."""
        self.session.hud.message = message
        self._message_until = self.presented + round(MESSAGE_S * self.fps)
        if self.notify is not None:
            self.notify(said(message))

    def advance(self) -> bool:
        """What one frame does after the keys are read and before it is drawn; False stops the viewer."""
        raise NotImplementedError

    def draw(self) -> dict[str, Any]:
        """Draw the frame on the screen's canvas; returns what was drawn."""
        raise NotImplementedError

    def tick(self) -> bool:
        """One displayed frame; False when the viewer should stop."""
        controls = self.controls
        for event in self.screen.events():
            controls.handle(event)
        if controls.quit:
            return False
        if not self.advance():
            return False
        if self.presented >= self._message_until:
            self.session.hud.message = ""
        self.drawn = self.draw()
        self.screen.present()
        self.presented += 1
        if controls.take_screenshot():
            self.save_screenshot()
        if self.max_frames is not None and self.presented >= self.max_frames:
            return False
        self.screen.wait()
        # A window shows the rate it holds; a recording plays at its own frame rate whatever the machine did.
        controls.view.fps = self.screen.clock.get_fps() if self.screen.window is not None else self.fps
        return True

    def run(self) -> None:
        while self.tick():
            pass

    def save_screenshot(self) -> Path | None:
        """The whole picture (and its panel) as a PNG in the run's ``screenshots/`` folder."""
        if self.screenshot_dir is None:
            return None
        hud = self.session.hud
        name = (f"{hud.run_id}-{self.step_word}-{hud.checkpoint_step}-{time.strftime('%Y%m%d-%H%M%S')}"
                f"-{len(self.screenshots) + 1}.png")
        path = self.screenshot_dir / name
        try:
            save_screenshot(self.screen.canvas, path)
        except OSError as exc:
            self.say(Message("viewer.screenshot_failed", reason=exc.strerror or str(exc)))
            return None
        self.screenshots.append(path)
        self.say(Message("viewer.screenshot_saved", name=path.name))
        return path


# -- what a viewer run returns, and the steps around its loop -----------------------------------------------
@dataclass(kw_only=True)
class ViewerSummary:
    """What ``watch`` and ``gan watch`` report alike: the checkpoints shown, the frames, the recording."""

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

    def recording_lines(self) -> list[str]:
        """The CLI's last lines: what was recorded, and whether it was stopped."""
        out = []
        if self.path is not None:
            out.append(recorded_line(self.path, self.frames, self.size, self.fps, self.elapsed_s))
        if self.interrupted:
            out.append(say("viewer.stopped"))
        return out

    def frame_record(self) -> dict[str, Any]:
        """The frames, the picture's size and the rates, for ``record()``."""
        return {
            "frames": self.frames,
            "fps": self.fps,
            "width": self.size[0],
            "height": self.size[1],
            "elapsed_s": round(self.elapsed_s, 3),
            "frames_per_s": round(self.frames_per_s, 1),
        }


def first_choice(follower: Follower) -> tuple[int, Path] | None:
    """Follow mode: the checkpoint to start on, if there is one yet (a run that ended without one fails
    here, before any window opens); notes the run's status."""
    first = follower.choose()
    if first is None:
        return None
    follower.status = first[2]
    return first[0], first[1]


def wait_for_first(follower: Follower | None, screen: Screen, notify: Notify | None) -> tuple[int, Path] | None:
    """Follow mode with no checkpoint yet: wait for the first one; None when the user stopped waiting."""
    assert follower is not None
    # Ctrl-C as a flag while waiting, not an exception: a KeyboardInterrupt that lands in a finalizer (the
    # store's connections are closed by one) is printed and lost, and the viewer then waited for ever.
    ctrl_c = StopFlag()
    with ctrl_c.installed():
        waited = follower.first(checkpoint_waiter(screen, notify, lambda: ctrl_c.is_set))
    return None if waited is None else (waited[0], waited[1])


def run_app(app: ViewerApp, summary: ViewerSummary, started: float) -> None:
    """Run the loop until it ends (or Ctrl-C), then note in ``summary`` what it showed."""
    try:
        app.run()
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.checkpoint_steps = app.checkpoint_steps
    summary.frames = app.presented
    summary.elapsed_s = time.monotonic() - started


@dataclass
class Showing:
    """The screen and the recorder a viewer run has opened, for ``showing`` to close or abandon."""

    screen: Screen | None = None
    recorder: Recorder | None = None


@contextlib.contextmanager
def showing(summary: ViewerSummary) -> Iterator[Showing]:
    """Around a viewer run: Ctrl-C (while waiting for a checkpoint, or while loading) ends it as stopped;
    any other error abandons an unfinished recording; the screen is closed either way."""
    held = Showing()
    try:
        yield held
    except KeyboardInterrupt:
        summary.interrupted = True
    except BaseException:
        if held.recorder is not None:
            held.recorder.abort()
        raise
    finally:
        if held.screen is not None:
            held.screen.close()


def finish_recording(held: Showing, summary: ViewerSummary, store: Store, run_id: str,
                     meta: Callable[[], dict[str, Any]]) -> None:
    """Close the video, if there is one, and register it with the run as a ``video`` artifact, at the last
    checkpoint shown. Once closed, an error registering it no longer abandons it."""
    recorder, held.recorder = held.recorder, None
    if recorder is None:
        return
    summary.path = recorder.close()
    if summary.path is not None:
        store.add_artifact(run_id, "video", str(summary.path), step=summary.checkpoint_steps[-1], meta=meta())
