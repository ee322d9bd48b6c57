"""The watch keys (and gan watch's): pygame events in, viewer intentions out (no drawing, no game logic).

space pauses, → steps one agent step while paused, + / - change speed, r restarts the game,
s saves a screenshot, v shows the agent's view, h shows the keys, q / Esc / closing the window quits.
"""

from __future__ import annotations

import pygame

from playground.viewer.hud import ViewState

MIN_SPEED = 1 / 16
MAX_SPEED = 64.0

FASTER = (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS)
SLOWER = (pygame.K_MINUS, pygame.K_KP_MINUS, pygame.K_UNDERSCORE)
QUIT = (pygame.K_q, pygame.K_ESCAPE)


class WatchControls:
    """Turns events into a ``ViewState`` and one-shot requests the loop takes with ``take_*``."""

    def __init__(self, view: ViewState | None = None) -> None:
        self.view = view or ViewState()
        self.quit = False
        self.steps = 0  # agent steps asked for while paused
        self.restart = False
        self.screenshot = False

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.quit = True
        elif event.type == pygame.KEYDOWN:
            self.key(event.key)

    def key(self, key: int) -> None:
        view = self.view
        if key in QUIT:
            self.quit = True
        elif key == pygame.K_SPACE:
            view.paused = not view.paused
        elif key == pygame.K_RIGHT:
            if view.paused:
                self.steps += 1
        elif key in FASTER:
            view.speed = min(MAX_SPEED, view.speed * 2)
        elif key in SLOWER:
            view.speed = max(MIN_SPEED, view.speed / 2)
        elif key == pygame.K_r:
            self.restart = True
        elif key == pygame.K_s:
            self.screenshot = True
        elif key == pygame.K_h:
            view.show_help = not view.show_help
        elif key == pygame.K_v:
            view.show_inset = not view.show_inset

    def take_steps(self) -> int:
        steps, self.steps = self.steps, 0
        return steps

    def take_restart(self) -> bool:
        restart, self.restart = self.restart, False
        return restart

    def take_screenshot(self) -> bool:
        shot, self.screenshot = self.screenshot, False
        return shot


class GanControls(WatchControls):
    """``gan watch``: the same keys where they make sense (→ steps the latent walk while paused, + and -
    change its speed, r draws a new walk), l starts or stops the walk; there is no agent's view (v)."""

    def __init__(self, view: ViewState | None = None) -> None:
        super().__init__(view)
        self.walk = False

    def key(self, key: int) -> None:
        if key == pygame.K_l:
            self.walk = True
        elif key != pygame.K_v:
            super().key(key)

    def take_walk(self) -> bool:
        walk, self.walk = self.walk, False
        return walk
