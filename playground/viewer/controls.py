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


DIGITS = {getattr(pygame, f"K_{d}"): d for d in range(10)} | {getattr(pygame, f"K_KP{d}"): d for d in range(10)}
STEER_KEYS = {pygame.K_a: "back", pygame.K_i: "interpolate", pygame.K_m: "arithmetic", pygame.K_g: "grid",
              pygame.K_UP: "up", pygame.K_DOWN: "down", pygame.K_TAB: "next_code"}


class GanControls(WatchControls):
    """``gan watch``: the same keys where they make sense (→ steps the latent walk while paused, + and -
    change its speed, r draws a new walk), l starts or stops the walk; there is no agent's view (v).
    The steering keys and clicks (``viewer/gan_steer.py``) queue up in ``steering`` for the loop to take."""

    def __init__(self, view: ViewState | None = None) -> None:
        super().__init__(view)
        self.walk = False
        self.steering: list[tuple[str, object]] = []

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.steering.append(("click", event.pos))
        else:
            super().handle(event)

    def key(self, key: int) -> None:
        if key == pygame.K_l:
            self.walk = True
        elif key in DIGITS:
            self.steering.append(("digit", DIGITS[key]))
        elif key in STEER_KEYS:
            self.steering.append((STEER_KEYS[key], None))
        elif key != pygame.K_v:
            super().key(key)

    def take_walk(self) -> bool:
        walk, self.walk = self.walk, False
        return walk

    def take_steering(self) -> list[tuple[str, object]]:
        asked, self.steering = self.steering, []
        return asked
