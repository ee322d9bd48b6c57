"""Keys to actions for people: the game's own mapping, from a live keyboard or a script.

Atari games map keys as ale-py's ``get_keys_to_action`` says (w a s d to move, space to fire, e
for no-op); the arrow keys work as w a s d too. A combination the game lacks falls back to the
largest part of it that the game has (up+right+fire in Pong plays right+fire).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Protocol

import pygame

from playground.envs import EnvSpec, WatchEnv
from playground.i18n import Words
from playground.viewer.errors import NotPlayable

ARROWS = {pygame.K_UP: ord("w"), pygame.K_LEFT: ord("a"), pygame.K_DOWN: ord("s"), pygame.K_RIGHT: ord("d")}
ARROW_NAMES = {ord("w"): "Up", ord("a"): "Left", ord("s"): "Down", ord("d"): "Right"}  # pygame's font has no arrows


def key_code(key: int | str) -> int:
    """pygame's code for a key given as a code or as one character ('w', ' ')."""
    if isinstance(key, str):
        if key.lower() == "space":
            return pygame.K_SPACE
        if len(key) != 1:
            raise ValueError(f"give a key as one character or a pygame key code, not {key!r}")
        return ord(key.lower())
    return int(key)


def key_label(code: int) -> str:
    if code == pygame.K_SPACE:
        name = "space"
    elif 32 < code < 127:
        name = chr(code)
    else:
        name = (pygame.key.name(code) if pygame.display.get_init() else "") or str(code)
    return name + (f"/{ARROW_NAMES[code]}" if code in ARROW_NAMES else "")


def keyboard_problem(spec: EnvSpec, env: WatchEnv) -> Words | None:
    """Why a person cannot play ``spec`` with a keyboard (a few words), or None when they can."""
    from gymnasium import spaces

    if not isinstance(spec.action_space, spaces.Discrete):
        return Words("viewer.problem_continuous")
    if not env.keys_to_action():
        return Words("viewer.problem_no_keys")
    return None


def check_playable(spec: EnvSpec, env: WatchEnv) -> dict[tuple[object, ...], int]:
    """The game's key mapping, or one sentence saying why a person cannot play it with a keyboard."""
    problem = keyboard_problem(spec, env)
    if problem is not None:
        raise NotPlayable("viewer.not_playable", env=spec.env_id, problem=problem)
    return env.keys_to_action() or {}


class KeyMap:
    """Pressed keys → the game's action."""

    def __init__(self, keys_to_action: dict[tuple[object, ...], int], action_names: Sequence[str]) -> None:
        self.action_names = list(action_names)
        self.mapping: dict[frozenset[int], int] = {}
        for combo, action in keys_to_action.items():
            self.mapping[frozenset(key_code(k) for k in combo)] = int(action)  # type: ignore[arg-type]
        self.keys = frozenset(itertools.chain.from_iterable(self.mapping))
        noop = self.action_names.index("NOOP") if "NOOP" in self.action_names else 0
        self.noop = self.mapping.get(frozenset(), noop)
        self.arrows = {k: v for k, v in ARROWS.items() if v in self.keys}

    def action(self, pressed: Iterable[int]) -> int:
        down = frozenset(self.arrows.get(k, k) for k in pressed) & self.keys
        if not down:
            return self.noop
        for size in range(len(down), 0, -1):
            for part in itertools.combinations(sorted(down), size):
                found = self.mapping.get(frozenset(part))
                if found is not None:
                    return found
        return self.noop

    def legend(self) -> list[tuple[str, str]]:
        """(keys, action name) for every action, in the game's action order."""
        by_action: dict[int, frozenset[int]] = {}
        for combo, action in self.mapping.items():
            if action not in by_action or len(combo) < len(by_action[action]):
                by_action[action] = combo
        rows = []
        for action, name in enumerate(self.action_names):
            combo = by_action.get(action)
            if combo is None:
                continue
            keys = " + ".join(key_label(k) for k in sorted(combo, key=lambda c: (c == pygame.K_SPACE, c)))
            rows.append((keys or "(none)", name))
        return rows


class KeySource(Protocol):
    """Where a person's key presses come from: ``feed`` gets each frame's events, ``keys`` the keys down."""

    def feed(self, events: Sequence[pygame.event.Event]) -> None: ...

    def keys(self) -> frozenset[int]: ...


class KeyboardInput:
    """The keys held down, from the KEYDOWN/KEYUP events the loop pumps (so posted events count too)."""

    def __init__(self) -> None:
        self.down: set[int] = set()

    def feed(self, events: Sequence[pygame.event.Event]) -> None:
        for event in events:
            if event.type == pygame.KEYDOWN:
                self.down.add(event.key)
            elif event.type == pygame.KEYUP:
                self.down.discard(event.key)
            elif event.type in (pygame.WINDOWFOCUSLOST, pygame.ACTIVEEVENT):
                self.down.clear()  # a key released in another window never sends its KEYUP here

    def keys(self) -> frozenset[int]:
        return frozenset(self.down)


class ScriptedInput:
    """Keys held down frame by frame, from a list (for tests and demos); nothing once the list ends."""

    def __init__(self, frames: Sequence[Iterable[int | str]]) -> None:
        self.frames = [frozenset(key_code(k) for k in keys) for keys in frames]
        self.index = 0

    def feed(self, events: Sequence[pygame.event.Event]) -> None:
        pass

    def keys(self) -> frozenset[int]:
        keys = self.frames[self.index] if self.index < len(self.frames) else frozenset()
        self.index += 1
        return keys
