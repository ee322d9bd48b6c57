"""Where frames go: a pygame window, or an off-screen canvas (headless); either may be recorded.

The loop draws on one canvas; ``Screen.present`` shows it in the window (if any) and hands it to
the recorder (if any), so what is recorded is exactly what a person would have seen.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import numpy as np
import pygame

from playground.i18n import Words
from playground.viewer.errors import NoDisplay

if TYPE_CHECKING:
    from playground.viewer.record import Recorder

OFFSCREEN_DRIVERS = ("dummy", "offscreen")


def has_display() -> bool:
    """Whether SDL can open a window here: an off-screen driver always can; on Linux and the BSDs a
    window needs an X11 or Wayland display; macOS and Windows have one in a user's session."""
    if os.environ.get("SDL_VIDEODRIVER", "").lower() in OFFSCREEN_DRIVERS:
        return True
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def keep_compiler_out() -> None:
    """Keep triton (torch's compiler, loaded lazily by the first optimizer step or ``torch.compile``)
    out of a process that opens a window.

    A desktop that draws through Mesa (llvmpipe, and many laptops' drivers) loads Mesa's LLVM when the
    window opens; triton's native library carries another LLVM, and loading it afterwards crashes the
    process (SIGSEGV; ``pygame.display.set_mode(...)`` then ``import triton`` reproduces it). The viewer
    plays and samples, it never compiles, so it goes without triton; torch then takes its eager paths.
    If triton is already loaded (before any window) the order is safe and nothing changes.
    """
    sys.modules.setdefault("triton", None)  # ``import triton`` now raises ImportError, which torch handles


def no_display_hint() -> Words:
    """What ``playground watch`` suggests when there is no screen; other commands pass their own hint."""
    return Words("viewer.no_display_hint_watch")


def require_display(hint: Words | None = None) -> None:
    """NoDisplay, ending with ``hint`` (what to do instead), where no window can open."""
    if not has_display():
        raise NoDisplay("viewer.no_display", hint=hint or no_display_hint())


def go_headless() -> None:
    """No window will open: keep SDL (which classic environments' renderers start) off any real display."""
    if not has_display() or "SDL_VIDEODRIVER" not in os.environ:
        os.environ["SDL_VIDEODRIVER"] = "dummy"


def canvas_array(surface: pygame.Surface) -> np.ndarray:
    """(height, width, 3) uint8 copy of a surface."""
    width, height = surface.get_size()
    return np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8).reshape(height, width, 3)


def frame_surface(frame: np.ndarray, zoom: int = 1) -> pygame.Surface:
    """An RGB frame (height, width, 3) as a surface, scaled by a whole number (nearest neighbour: crisp pixels)."""
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    height, width = frame.shape[:2]
    surface = pygame.image.frombuffer(frame.tobytes(), (width, height), "RGB")
    if zoom != 1:
        surface = pygame.transform.scale(surface, (width * zoom, height * zoom))
    return surface


def even(n: int) -> int:
    """Video encoders (yuv420p) want even sizes."""
    return n + (n % 2)


class Screen:
    """A canvas of ``size``, shown in a window unless headless, recorded when a recorder is given.

    A window keeps to ``fps``; headless runs flat out unless ``realtime`` (following a run that trains,
    where the point is to see the agent change over time).
    """

    def __init__(
        self,
        size: tuple[int, int],
        *,
        title: str,
        headless: bool,
        fps: float,
        recorder: Recorder | None = None,
        realtime: bool | None = None,
        no_display: Words | None = None,
    ) -> None:
        self.headless = headless
        self.fps = fps
        self.realtime = not headless if realtime is None else realtime
        self.recorder = recorder
        self.window: pygame.Surface | None = None
        pygame.font.init()
        if headless:
            go_headless()
        else:
            require_display(no_display)
            keep_compiler_out()
            pygame.display.init()
            try:
                self.window = pygame.display.set_mode(size)
            except pygame.error as exc:
                raise NoDisplay("viewer.no_display_sdl", hint=no_display or no_display_hint(), error=str(exc)) from None
            pygame.display.set_caption(title)
        self.canvas = pygame.Surface(size)
        self.clock = pygame.time.Clock()
        self.presented = 0

    @property
    def size(self) -> tuple[int, int]:
        return self.canvas.get_size()

    def resize(self, size: tuple[int, int]) -> None:
        if size == self.size:
            return
        self.canvas = pygame.Surface(size)
        if self.window is not None:
            self.window = pygame.display.set_mode(size)

    def events(self) -> list[pygame.event.Event]:
        """Everything that happened since the last call; pumping every frame keeps the window responsive."""
        if self.window is None:
            return []
        return pygame.event.get()

    def present(self) -> None:
        if self.window is not None:
            self.window.blit(self.canvas, (0, 0))
            pygame.display.flip()
        if self.recorder is not None:
            self.recorder.add(canvas_array(self.canvas))
        self.presented += 1

    def wait(self) -> None:
        """Hold to the frame rate (a window, or headless in real time); otherwise run as fast as possible."""
        self.clock.tick(self.fps if self.realtime else 0)

    def close(self) -> None:
        if self.window is not None:
            pygame.display.quit()
            self.window = None
