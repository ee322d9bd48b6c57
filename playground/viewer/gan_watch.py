"""``playground gan watch RUN``: what a GAN makes, in a window (or headless, into a video), with a side panel.

- DCGAN and cDCGAN: the grid the run draws from its fixed noise (the noise kept in every
  checkpoint), made by the checkpoint's generator. ``l`` plays a latent walk: the generator renders
  every frame on a loop from the fixed noise through a few random noise vectors and back, moving
  between them by spherical interpolation; a cDCGAN walks one noise vector per row through every
  class column, so the columns keep their class while the style moves.
- pix2pix and CycleGAN: rows of input | output | target (CycleGAN: A | A→B | back, B | B→A | back)
  for the run's fixed inputs, as its sample grids lay them out.
- Steering by hand (``viewer/gan_steer.py``, the pictures of ``playground.gan_steering``): click tiles
  to pick them, ``i`` walks between two, ``m`` shows a − b + c; digit keys set a cDCGAN's class or an
  InfoGAN's categorical code, ↑ / ↓ and Tab move its continuous codes; ``a`` and ``g`` go back.
- ``--follow``: the newest checkpoint (polled at most once a second) replaces the one shown, and a
  DCGAN's sample grid from training shows when it is newer still; when the run ends the viewer says
  so and keeps showing its last checkpoint.

The walk moves a fixed distance per displayed frame (a leg takes 2 s at speed 1 and 30 fps), so a
generator too slow for the frame rate slows the walk down in a window instead of making it jump, and
a recording always plays it at its own speed. The panel shows the run, the checkpoint's iteration,
the newest sample grid's, the latest losses and the latest ``gan eval`` result.

The session (``GanSession``, no pygame) makes the pictures; ``GanWatchApp`` is the loop around it,
with the same keys, screen, recorder and waiting as ``watch``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import torch

import gans
from gans import grid
from gans.base import GanModel
from gans.latent import slerp
from gans.metrics import kid_name
from playground import gan_inference, gan_training, runs
from playground.gan_steering import Steerer, note
from playground.config import GanConfig, of_run
from playground.errors import CheckpointError, PlaygroundError, RunStateError
from playground.i18n import Words, say
from playground.settings import resolve_device
from playground.store import Run, Store, get_store
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
from playground.viewer.controls import GanControls
from playground.viewer.gan_steer import Steering, refused, tile_at
from playground.viewer.display import Screen, even, frame_surface, go_headless, require_display
from playground.viewer.follow import POLL_S, Follower
from playground.viewer.hud import (
    ACCENT,
    BACKGROUND,
    CHOSEN,
    DIM,
    GOOD,
    LINE,
    PAD,
    PANEL_WIDTH,
    Message,
    Panel,
    TEXT,
    ViewState,
    draw_help,
    draw_sparkline,
    fmt,
    font,
    step_text,
    text,
)
from playground.viewer.record import Recorder, check_record_path, default_video_path

log = logging.getLogger(__name__)

FPS = 30  # display and video frames per second
HEADLESS_S = 10  # headless without --max-frames: this many seconds of video
LEG_S = 2.0  # one leg of the latent walk, at speed 1
WAYPOINTS = 3  # random noise vectors the walk visits before it comes back to the fixed noise
FIT = (840, 720)  # without --zoom, the picture is scaled to fit in this box
TRANSLATION_ROWS = 8  # pix2pix and CycleGAN: at most this many rows of the fixed inputs
GRID_PAD = 2  # gans.grid's border between tiles
HEADER = LINE + 10  # the strip above the picture: column captions, or what is shown
PANEL_HEIGHT = 27 * LINE
REFRESH_S = 2.0  # follow mode: how often the losses and the quality are re-read
WAIT_SIZE = (640, 240)  # the window while waiting for a first checkpoint
LOSSES = (
    ("loss/d", "D loss"), ("loss/g", "G loss"), ("d/real", "D(x)"), ("d/fake", "D(G(z))"),
    ("critic/real", "critic(x)"), ("critic/fake", "critic(G(z))"), ("critic/wasserstein", "W estimate"),
    ("loss/info", "info loss"), ("loss/g_l1", "L1"), ("loss/cycle", "cycle"),
    ("loss/d_a", "D_A loss"), ("loss/d_b", "D_B loss"),
)
CURVES = (("loss/d", ACCENT), ("loss/g", GOOD))
CURVE_POINTS = 150

GAN_KEYS = (
    ("l", "latent walk on / off (DCGAN)"),
    ("click", "pick a tile (up to 3)"),
    ("i / m", "walk between 2 picks / a - b + c"),
    ("0-9", "cDCGAN class / InfoGAN code"),
    ("Up / Down, Tab", "InfoGAN: move / choose a code"),
    ("a / g", "own classes and codes / the grid"),
    ("space", "pause / resume"),
    ("Right", "one walk frame (while paused)"),
    ("+ / -", "walk faster / slower"),
    ("r", "a new walk"),
    ("s", "save a screenshot"),
    ("h", "this help"),
    ("q / Esc", "quit"),
)


# -- the latent walk ------------------------------------------------------------------------------------
class LatentWalk:
    """A loop through the latent space: from the fixed noise through ``waypoints`` random noise
    vectors and back. ``position`` counts legs (0 ≤ position < legs); ``z()`` is the noise there."""

    def __init__(self, z: torch.Tensor, *, classes: int = 0, seed: int = 0, waypoints: int = WAYPOINTS) -> None:
        n = z.size(0)
        if classes:  # one noise vector per row, shared by its class columns
            rows = math.ceil(n / classes)
            self.index = torch.arange(n) // classes
            start = z[torch.arange(rows) * classes]
        else:
            self.index = torch.arange(n)
            start = z
        generator = torch.Generator().manual_seed(seed)
        self.points = [start.float()] + [torch.randn(start.shape, generator=generator) for _ in range(waypoints)]
        self.position = 0.0

    @property
    def legs(self) -> int:
        return len(self.points)

    def advance(self, legs: float) -> None:
        self.position = (self.position + legs) % self.legs

    def z(self, position: float | None = None) -> torch.Tensor:
        position = self.position if position is None else position % self.legs
        leg = int(position)
        a, b = self.points[leg], self.points[(leg + 1) % self.legs]
        return slerp(a, b, position - leg)[self.index]


# -- the session: pictures and what the panel shows (no pygame) ----------------------------------------
@dataclass
class GanHud:
    run_id: str = ""
    model: str = ""  # its title, e.g. "Conditional DCGAN"
    dataset: str = ""
    image_size: int = 0
    total_iters: int = 0
    checkpoint_step: int | None = None
    samples_step: int | None = None  # the newest sample grid training wrote
    showing: str = ""  # what the picture is
    following: bool = False
    run_status: str | None = None
    losses: dict[str, float] = field(default_factory=dict)
    losses_step: int | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)
    quality: dict[str, Any] | None = None  # the latest `gan eval` payload
    message: str = ""


class GanSession:
    """A GAN run's generator at one checkpoint: ``frame()`` is the picture to show now."""

    def __init__(self, run: Run, config: GanConfig, store: Store, *, device: str = "cpu",
                 use_sample_grids: bool = False) -> None:
        self.run = run
        self.config = config
        self.store = store
        self.device = device
        self.kind = gans.get(config.model).data_kind
        self.use_sample_grids = use_sample_grids and self.kind == "images"
        self.model: GanModel | None = None
        self.fixed: dict[str, torch.Tensor] = {}
        self.step: int | None = None
        self.path: Path | None = None
        self.columns = 1
        self.walk: LatentWalk | None = None
        self.walks = 0  # walks drawn so far (each new one has its own waypoints)
        self._picture: np.ndarray | None = None
        self._samples: tuple[int, np.ndarray] | None = None  # (iteration, picture) of a newer sample grid
        self._walk_frame: tuple[tuple[int | None, float], np.ndarray] | None = None
        self.steering: Steering | None = None  # set by the first steering key or click
        self.hud = GanHud(run_id=run.id, model=gans.get(config.model).title, dataset=config.data,
                          image_size=config.image_size, total_iters=config.iters)

    @property
    def can_walk(self) -> bool:
        return self.kind == "images"

    @property
    def classes(self) -> int:
        return int(getattr(self.model, "classes", 0) or 0)

    # -- checkpoints ------------------------------------------------------------------------------
    def load(self, step: int, path: Path) -> None:
        """Show another checkpoint (its generator, and the fixed inputs it carries)."""
        state = gan_training.read_checkpoint(path, self.device)
        if self.model is None:
            self.model = gan_training.build_model(self.config, state["data"], self.device)
        gan_training.load_into(self.model, state, path, for_training=False)
        fixed = {k: v.cpu() for k, v in state["fixed"].items()}
        if self.kind != "images":  # a few rows of triples fit on a screen; the sample grids hold them all
            rows = max(1, min(TRANSLATION_ROWS, 768 // (self.config.image_size + GRID_PAD)))
            fixed = {k: v[:rows] for k, v in fixed.items()}
        self.fixed = fixed
        self.step = int(state.get("step", step))
        self.path = Path(path)
        self._picture = None
        self._walk_frame = None
        if self._samples is not None and self._samples[0] <= self.step:
            self._samples = None
        self.hud.checkpoint_step = self.step

    def picture(self) -> np.ndarray:
        """The checkpoint's grid from the fixed inputs, as the run's sample grids draw it."""
        if self._picture is None:
            assert self.model is not None, "load a checkpoint first"
            images, self.columns = self.model.render(self.fixed)
            self._picture = grid.grid(images, self.columns, pad=GRID_PAD)
        return self._picture

    def captions(self) -> list[str]:
        """A caption per column of the picture (none for a DCGAN's grid)."""
        if self.kind == "paired":
            return ["input", "output", "target"]
        if self.kind == "unpaired":
            return ["A", "A -> B", "back to A", "B", "B -> A", "back to B"]
        if self.classes and self.model is not None and (self.steering is None or self.steering.mode == "grid"):
            return list(self.model.class_names)
        return []

    # -- sample grids from training ---------------------------------------------------------------
    def update_samples(self) -> None:
        """Note the newest sample grid; while following a DCGAN, show it if it is newer than the checkpoint."""
        newest = max(self.store.artifacts(self.run.id, "samples"), key=lambda a: a.step or 0, default=None)
        self.hud.samples_step = None if newest is None else newest.step
        if not self.use_sample_grids or newest is None or newest.step is None or self.step is None:
            return
        if newest.step <= self.step or (self._samples is not None and self._samples[0] >= newest.step):
            return
        from PIL import Image

        try:
            with Image.open(newest.path) as image:
                picture = np.asarray(image.convert("RGB"))
        except OSError as exc:  # pruned or half-visible: the checkpoint's own grid stays
            log.debug("sample grid %s not shown: %s", newest.path, exc)
            return
        if picture.shape == self.picture().shape:
            self._samples = (newest.step, picture)

    # -- the latent walk --------------------------------------------------------------------------
    def start_walk(self) -> None:
        if not self.can_walk:
            raise PlaygroundError("viewer.walk_needs_dcgan", model=self.config.model)
        self.picture()  # the columns of the grid
        # Never the run's own seed: that one drew the fixed noise, and the walk would stand still on it.
        seed = (self.config.seed + 1) * 1_000_003 + self.walks
        self.walk = LatentWalk(self.fixed["z"], classes=self.classes, seed=seed)
        self.walks += 1
        self._walk_frame = None

    def stop_walk(self) -> None:
        self.walk = None
        self._walk_frame = None

    def walk_picture(self) -> np.ndarray:
        assert self.walk is not None and self.model is not None
        key = (self.step, self.walk.position)
        if self._walk_frame is None or self._walk_frame[0] != key:
            images = self.model.generate(self.walk.z(), self.fixed.get("labels"))  # type: ignore[attr-defined]
            self._walk_frame = key, grid.grid(images, self.columns, pad=GRID_PAD)
        return self._walk_frame[1]

    # -- steering by hand ------------------------------------------------------------------------
    def steer(self) -> Steering:
        """The steering state on the checkpoint shown (made on first use, carried over to newer checkpoints)."""
        if not self.can_walk:
            raise PlaygroundError("gan_steering.needs_images", model=self.config.model)
        assert self.model is not None and self.step is not None and self.path is not None, "load a checkpoint first"
        if self.steering is None or self.steering.steerer.loaded.step != self.step:
            self.picture()  # the grid's columns
            loaded = gan_inference.Loaded(self.run, self.config, self.model, self.step, self.path, self.fixed)
            steerer = Steerer(loaded)
            self.steering = Steering(steerer) if self.steering is None else self.steering.moved_to(steerer)
        return self.steering

    def tile_at(self, x: float, y: float) -> int | None:
        """The grid tile (from 1) under a point of the picture at 1x, when the grid is what is shown."""
        if self.walk is not None or (self.steering is not None and self.steering.mode != "grid"):
            return None
        return tile_at(x, y, self.columns, len(self.fixed.get("z", ())), self.config.image_size)

    def frame(self) -> np.ndarray:
        """What to show now: a walk frame, a steered picture, a newer sample grid from training, or the
        checkpoint's grid (with the picked tiles outlined)."""
        if self.walk is not None:
            leg = int(self.walk.position) + 1
            self.hud.showing = f"latent walk, leg {leg} of {self.walk.legs}"
            return self.walk_picture()
        if self.steering is not None:
            steering = self.steer()
            steered = steering.picture()
            if steered is not None or steering.picks:
                self.hud.showing = steering.showing()
                return steered if steered is not None else steering.outline(
                    self.picture(), self.columns, self.config.image_size)
        if self._samples is not None:
            self.hud.showing = f"fixed noise, sample grid of iteration {self._samples[0]:,}"
            return self._samples[1]
        what = "fixed noise" if self.kind == "images" else "fixed inputs"
        self.hud.showing = f"{what}, checkpoint iteration {self.step:,}"
        return self.picture()

    # -- the panel's numbers from the store -------------------------------------------------------
    def refresh(self, samples: bool = True) -> None:
        """Re-read the losses, the latest quality and (unless ``samples`` is False) the newest sample grid."""
        hud = self.hud
        hud.losses.clear()
        hud.losses_step = None
        for key, _label in LOSSES:
            rows = self.store.metrics(self.run.id, key)
            if rows:
                hud.losses[key] = float(rows[-1][3])
                hud.losses_step = max(hud.losses_step or 0, int(rows[-1][0]))
            if key in dict(CURVES):
                hud.curves[key] = [float(r[3]) for r in rows[-CURVE_POINTS:]]
        evaluations = gan_inference.evaluations(self.run, self.store)
        hud.quality = evaluations[-1] if evaluations else None
        if samples:
            self.update_samples()


class GanFollower(Follower):
    """A GAN run has no best checkpoint by score: once it ends, its last one stays on screen."""

    ended_pick = "latest"

    def no_checkpoint_hint(self, run_id: str) -> Words:
        return Words("viewer.hint_train_gan")  # `gan resume` needs a checkpoint

    def ended_message(self, status: str, step: int) -> Message:
        return Message("viewer.run_ended_last", status=status, step=step)

    def new_checkpoint_message(self, step: int) -> Message:
        return Message("viewer.new_checkpoint_iteration", step=step)

    def kept_message(self, step: int | None, error: CheckpointError) -> Message:
        return Message("viewer.kept_iteration", step=step, error=error)


# -- drawing -------------------------------------------------------------------------------------------------
def fit_scale(picture_shape: tuple[int, ...], zoom: int | None = None) -> float:
    """``--zoom``, or the largest whole zoom up to 4 that fits the box, or a shrink where even 1x does not fit."""
    if zoom is not None:
        return float(zoom)
    height, width = int(picture_shape[0]), int(picture_shape[1])
    whole = min(4, FIT[0] // width, FIT[1] // height)
    return float(whole) if whole >= 1 else min(FIT[0] / width, FIT[1] / height)


def scaled_size(picture_shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    return max(1, round(int(picture_shape[1]) * scale)), max(1, round(int(picture_shape[0]) * scale))


def gan_size(picture_shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    width, height = scaled_size(picture_shape, scale)
    return even(width + PANEL_WIDTH), even(max(HEADER + height, PANEL_HEIGHT))


def picture_surface(picture: np.ndarray, scale: float) -> pygame.Surface:
    if float(scale).is_integer():
        return frame_surface(picture, int(scale))
    return pygame.transform.smoothscale(frame_surface(picture), scaled_size(picture.shape, scale))


def _quality_line(quality: dict[str, Any]) -> str:
    metric = str(quality.get("metric", "FD"))
    kid = kid_name(metric)
    extra = ""
    if "psnr" in quality:
        extra = f", PSNR {quality['psnr']:.1f} dB"
    elif "cycle_l1" in quality:
        extra = f", cycle L1 {quality['cycle_l1']:.3f}"
    return f"{metric} {quality['fd']:.2f}, {kid} {quality['kid']:.4f}{extra}"


def draw_gan(surface: pygame.Surface, picture: pygame.Surface, hud: GanHud, view: ViewState, *,
             captions: list[str], tile: tuple[float, float] | None, walking: bool) -> dict[str, Any]:
    """The picture on the left under its captions, the panel on the right; returns what was drawn.

    ``tile`` is (first column's centre, column pitch) in screen pixels, for placing the captions.
    """
    surface.fill(BACKGROUND)
    picture_rect = picture.get_rect(topleft=(0, HEADER))
    surface.blit(picture, picture_rect)
    drawn: dict[str, Any] = {"picture_size": picture_rect.size, "lines": [], "captions": []}
    if captions and tile is not None:
        first, pitch = tile
        for i, caption in enumerate(captions):
            width = max(8, int(pitch) - 4)
            shown = caption
            while shown and font(14).size(shown)[0] > width:
                shown = shown[:-1]
            x = round(first + i * pitch - font(14).size(shown)[0] / 2)
            text(surface, shown, (x, 6), DIM, 14)
            drawn["captions"].append(shown)
    else:
        text(surface, hud.showing, (PAD, 6), DIM, 14, max_width=picture_rect.width - 2 * PAD)

    panel = Panel(surface, picture_rect.width, drawn)
    line, x, w = panel.line, panel.x, panel.w
    panel.heading(hud.run_id, f"{hud.model} on {hud.dataset} ({hud.image_size}x{hud.image_size})",
                  f"checkpoint iteration {step_text(hud.checkpoint_step)} of {hud.total_iters:,}")
    line(f"newest sample grid: iteration {step_text(hud.samples_step)}", DIM)
    panel.following(hud.following, hud.run_status)
    state = "PAUSED   " if view.paused else (f"walk speed x{view.speed:g}   " if walking else "")
    line(f"{state}{view.fps:.0f} fps", CHOSEN if view.paused else DIM)
    line(hud.showing, TEXT, 14)

    panel.y += 6
    at = "" if hud.losses_step is None else f" at iteration {hud.losses_step:,}"
    line(f"latest losses{at}", DIM, 14)
    if not hud.losses:
        line("none logged yet", DIM, 14)
    for key, label in LOSSES:
        if key in hud.losses:
            line(f"{label}  {fmt(hud.losses[key], 3)}", TEXT, 16)
    for key, color in CURVES:
        values = hud.curves.get(key) or []
        if len(values) >= 2:
            label = dict(LOSSES)[key]
            line(f"{label} over the last {len(values)} points", DIM, 14)
            draw_sparkline(surface, pygame.Rect(x, panel.y, w, 34), values, color)
            panel.y += 40

    panel.y += 6
    line("quality (gan eval)", DIM, 14)
    if hud.quality is None:
        line("not measured yet: playground gan eval RUN", DIM, 14)
    else:
        line(_quality_line(hud.quality), TEXT, 16)
        line(f"at iteration {int(hud.quality.get('step', 0)):,} over {hud.quality.get('n', '?')} images", DIM, 14)
    if hud.message:
        panel.y += 4
        line(hud.message, GOOD, 14)
    text(surface, "h: keys", (x, panel.rect.bottom - LINE - 4), DIM, 14)

    if view.show_help:
        help_rect = pygame.Rect(0, 0, min(max(picture_rect.width, 200), 330),
                                min(surface.get_height(), len(GAN_KEYS) * (LINE + 2) + 40))
        draw_help(surface, help_rect, GAN_KEYS)
        drawn["help"] = True
    return drawn


# -- the loop ------------------------------------------------------------------------------------------------
class GanWatchApp(ViewerApp):
    """The loop around a ``GanSession``: keys, the walk's speed, follow mode, drawing, screenshots."""

    step_word = "iter"
    session: GanSession
    controls: GanControls
    follower: GanFollower | None

    def __init__(self, session: GanSession, screen: Screen, *, scale: float, fps: float,
                 max_frames: int | None = None, follower: GanFollower | None = None,
                 screenshot_dir: Path | None = None, controls: GanControls | None = None,
                 notify: Notify | None = None) -> None:
        super().__init__(session, screen, fps=fps, controls=controls or GanControls(), max_frames=max_frames,
                         follower=follower, screenshot_dir=screenshot_dir, notify=notify)
        self.scale = scale
        self.legs_per_frame = 1.0 / (LEG_S * self.fps)  # at speed 1
        self.walked = False
        self.noted: set[tuple[str, str]] = set()  # (run, how) steering already recorded for the game
        self.poll_s = POLL_S  # follow mode: how often the newest checkpoint is looked for
        self.refresh_s = REFRESH_S
        self._last_poll = time.monotonic()
        self._last_refresh = self._last_poll
        # The picture a surface was made from, held: keyed by id() alone, a freed picture's id can come back on a
        # new one (a steered picture after the outlined grid), and the old surface would stay on screen.
        self._surface: tuple[np.ndarray, pygame.Surface] | None = None
        self._note_checkpoint()
        session.hud.following = follower is not None
        if follower is not None:
            session.hud.run_status = follower.status
        if screen.window is None:  # a recording plays at its own frame rate
            self.controls.view.fps = self.fps

    def toggle_walk(self) -> None:
        session = self.session
        if session.walk is not None:
            session.stop_walk()
            self.say(Message("viewer.walk_off"))
        elif not session.can_walk:
            self.say(Message("viewer.no_walk", model=session.config.model))
        else:
            session.start_walk()
            self.walked = True
            note(session.run.id, "walk", self.noted)
            self.say(Message("viewer.walk_on"))

    def poll(self) -> None:
        """Follow mode: the run's status, and the newest checkpoint unless paused (at most once a second)."""
        assert self.follower is not None
        session = self.session
        paused = self.controls.view.paused
        chosen = self.follower.choose()
        message = None
        loaded = False
        if chosen is not None:
            step, path, status = chosen
            session.hud.run_status = status
            message = self.follower.status_change(status, step)
            if step != session.step and not paused:
                try:
                    session.load(step, path)
                except CheckpointError as exc:  # training prunes old checkpoints; the next poll tries again
                    log.debug("checkpoint %s not loaded yet: %s", path, exc)
                else:
                    loaded = True
                    self._note_checkpoint()
                    message = message or self.follower.new_checkpoint_message(step)
        now = time.monotonic()
        if loaded or now - self._last_refresh >= self.refresh_s:
            self._last_refresh = now
            session.refresh(samples=not paused)
        if message:
            self.say(message)

    def advance(self) -> bool:
        """Follow mode's polls, the walk's keys, and the walk's step for this frame."""
        controls = self.controls
        session = self.session
        view = controls.view
        if self.follower is not None and time.monotonic() - self._last_poll >= self.poll_s:
            self._last_poll = time.monotonic()
            self.poll()
        if controls.take_walk():
            self.toggle_walk()
        for what, value in controls.take_steering():
            self.steer(what, value)
        if controls.take_restart() and session.walk is not None:
            session.start_walk()
            self.say(Message("viewer.walk_new"))
        steps = controls.take_steps()
        if session.walk is not None:
            if not view.paused:
                session.walk.advance(view.speed * self.legs_per_frame)
            elif steps:
                session.walk.advance(steps * self.legs_per_frame)
        return True

    def steer(self, what: str, value: object) -> None:
        """One steering key or click (see ``viewer/gan_steer.py``); a request the run cannot take is said."""
        session = self.session
        try:
            steering = session.steer()
            if what == "click":
                x, y = value  # type: ignore[misc]
                tile = session.tile_at(x / self.scale, (y - HEADER) / self.scale)
                if tile is None:
                    return
                if session.walk is not None:
                    session.stop_walk()
                steering.pick(tile)
                return
            if session.walk is not None:
                session.stop_walk()
            message = {
                "digit": lambda: steering.digit(int(value)),  # type: ignore[call-overload]
                "up": lambda: steering.nudge(1), "down": lambda: steering.nudge(-1),
                "next_code": steering.next_code, "interpolate": steering.interpolate,
                "arithmetic": steering.arithmetic, "back": steering.back, "grid": steering.to_grid,
            }[what]()
            if steering.picture() is not None:  # drawn now, so a refusal is said at once
                note(session.run.id, steering.mode, self.noted)
        except PlaygroundError as exc:
            if session.steering is not None:
                session.steering.back()
            self.say(refused(exc))
            return
        if message:
            self.say(message)

    def draw(self) -> dict[str, Any]:
        session = self.session
        picture = session.frame()
        if self._surface is None or self._surface[0] is not picture:
            self._surface = picture, picture_surface(picture, self.scale)
        return draw_gan(self.screen.canvas, self._surface[1], session.hud, self.controls.view,
                        captions=session.captions(), tile=self._tile(picture), walking=session.walk is not None)

    def _tile(self, picture: np.ndarray) -> tuple[float, float] | None:
        """Where the grid's columns are on screen: (first column's centre, pitch)."""
        columns = self.session.columns
        if columns < 1:
            return None
        width = picture.shape[1] * self.scale
        pitch = (width - GRID_PAD * self.scale) / columns
        return GRID_PAD * self.scale + (pitch - GRID_PAD * self.scale) / 2, pitch


@dataclass
class GanWatchSummary(ViewerSummary):
    run_id: str
    model: str
    walked: bool = False

    def lines(self) -> list[str]:
        """What the CLI prints, in the process's language."""
        steps = " -> ".join(f"{s:,}" for s in self.checkpoint_steps) or say("viewer.no_checkpoints")
        if self.walked:
            out = [say("viewer.gan_summary_walk", run=self.run_id, model=self.model, steps=steps)]
        else:
            out = [say("viewer.gan_summary", run=self.run_id, model=self.model, steps=steps)]
        return out + self.recording_lines()

    def record(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "path": str(self.path) if self.path else None,
            "checkpoint_steps": self.checkpoint_steps,
            **self.frame_record(),
            "walk": self.walked,
            "interrupted": self.interrupted,
        }


def _check_checkpoint_option(checkpoint: str | None, follow: bool) -> None:
    if checkpoint is None:
        return
    if follow:
        raise PlaygroundError("viewer.gan_follow_and_checkpoint")
    if checkpoint != "latest" and not checkpoint.isdigit():
        raise PlaygroundError("viewer.gan_bad_checkpoint", checkpoint=checkpoint)


def gan_watch(
    ref: str,
    *,
    checkpoint: str | None = None,
    follow: bool = False,
    fps: int | None = None,
    zoom: int | None = None,
    headless: bool = False,
    record: str | Path | None = None,
    max_frames: int | None = None,
    walk: bool = False,
    notify: Notify | None = None,
    store: Store | None = None,
    controls: GanControls | None = None,
) -> GanWatchSummary:
    """Watch a GAN run's pictures; see the module docstring. Returns what was shown (and recorded).

    Headless records ``--max-frames`` frames (default: 10 s of video) to ``record`` or the run's
    ``videos/`` folder, registered with the run as a ``video`` artifact; a window runs until quit.
    """
    check_view_options(zoom=zoom, fps=fps, max_frames=max_frames)
    _check_checkpoint_option(checkpoint, follow)
    record_path = check_record_path(record) if record is not None else None
    if headless:
        go_headless()
    else:
        require_display(Words("viewer.no_display_hint_gan"))
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind != "gan":
        raise RunStateError("viewer.gan_watch_rl_run", run=run.id)
    runs.folder_here(run)  # trained on another machine of a shared store: its checkpoints are there
    config = of_run(run)
    if walk and gans.get(config.model).data_kind != "images":
        raise PlaygroundError("viewer.walk_option_needs_dcgan", run=run.id, model=config.model)
    follower = GanFollower(run.id, store) if follow else None
    chosen: tuple[int, Path] | None = None
    if follower is None:
        if not runs.checkpoints(run, store):
            raise CheckpointError("viewer.gan_no_checkpoint_yet", run=run.id)
        chosen = runs.pick_checkpoint(run, checkpoint or "latest", store)
    else:
        chosen = first_choice(follower)
    fps = fps or FPS
    if max_frames is None and headless:
        max_frames = HEADLESS_S * fps
    device = resolve_device("auto")

    summary = GanWatchSummary(run_id=run.id, model=config.model, fps=float(fps))
    started = time.monotonic()
    # Beside a training run, leave it the cores; otherwise a grid of 64 images uses them all.
    threads = one_torch_thread() if follow else contextlib.nullcontext()
    with threads, showing(summary) as held:
        screen = held.screen = Screen(WAIT_SIZE, title=f"{run.id} · playground gan watch", headless=headless,
                                      fps=fps, realtime=not headless or follow,
                                      no_display=Words("viewer.no_display_hint_gan"))
        if chosen is None:
            chosen = wait_for_first(follower, screen, notify)
            if chosen is None:
                summary.interrupted = True
                return summary
        session = GanSession(run, config, store, device=device, use_sample_grids=follow)
        for attempt in range(3):
            try:
                session.load(*chosen)
                break
            except CheckpointError:
                # Following, the training may prune the checkpoint between listing and loading it.
                again = follower.choose() if follower is not None and attempt < 2 else None
                if again is None:
                    raise
                chosen = again[0], again[1]
        session.refresh()
        picture = session.picture()
        scale = fit_scale(picture.shape, zoom)
        size = gan_size(picture.shape, scale)
        screen.resize(size)
        summary.size = size
        if record_path is None and headless:
            record_path = default_video_path(Path(run.folder), run.id, session.step or 0)
        if record_path is not None:
            held.recorder = screen.recorder = Recorder(record_path, fps)
        app = GanWatchApp(session, screen, scale=scale, fps=fps, max_frames=max_frames, follower=follower,
                          screenshot_dir=Path(run.folder) / "screenshots", controls=controls,
                          notify=notify if follow else None)
        if walk:
            app.toggle_walk()
        run_app(app, summary, started)
        summary.walked = app.walked
        finish_recording(held, summary, store, run.id, lambda: {
            "viewer": "gan watch", "frames": summary.frames, "fps": fps, "walk": app.walked,
            "checkpoint_steps": app.checkpoint_steps,
        })
    return summary
