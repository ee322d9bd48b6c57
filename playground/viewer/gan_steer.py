"""``gan watch``'s steering keys: what the window shows when a learner takes hold of the latent space.

The pictures are ``playground.gan_steering``'s (the Watch page's Steer tab draws the same ones); this
module keeps what has been asked and turns keys and clicks into requests:

- a click on a tile picks it (outlined; three at most, the oldest dropped), ``i`` walks from the
  first pick to the second, ``m`` shows a − b + c of the three, ``g`` goes back to the grid;
- a conditional DCGAN: a digit key draws every tile in that class, ``a`` gives each column its own
  class again;
- an InfoGAN: a digit key sets the categorical code, ↑ / ↓ move the chosen continuous code by a
  quarter, Tab chooses the next one, ``a`` goes back to the codes the grid was drawn with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playground.errors import PlaygroundError
from playground.gan_steering import PAD, Steerer
from playground.viewer.hud import Message

NUDGE = 0.25  # one ↑ or ↓ on a continuous code
LIMIT = 2.0  # codes trained in [-1, 1]; the InfoGAN paper shows them pushed to ±2
STEPS = 8  # pictures in a walk between two tiles
OUTLINE = (255, 210, 60)


@dataclass
class Steering:
    """What the learner has asked for (``mode``) and the inputs it needs; ``steerer`` is the checkpoint's."""

    steerer: Steerer
    mode: str = "grid"  # grid, class, codes, interpolate or arithmetic
    label: int = 0
    categorical: list[int] = field(default_factory=list)
    continuous: list[float] = field(default_factory=list)
    selected: int = 0  # the continuous code ↑ and ↓ move
    picks: list[int] = field(default_factory=list)  # tile numbers, from 1
    _shown: tuple[Any, np.ndarray] | None = None
    _outlined: tuple[Any, np.ndarray, np.ndarray] | None = None  # (picks, the grid, the grid with frames)

    def __post_init__(self) -> None:
        controls = self.steerer.controls()
        self.categorical = self.categorical or [0] * len(controls.categorical)
        self.continuous = self.continuous or [0.0] * controls.continuous

    def moved_to(self, steerer: Steerer) -> Steering:
        """The same requests on another checkpoint (follow mode loaded a newer one)."""
        return Steering(steerer, self.mode, self.label, self.categorical, self.continuous, self.selected, self.picks)

    # -- requests ---------------------------------------------------------------------------------
    def digit(self, value: int) -> Message | None:
        controls = self.steerer.controls()
        if controls.classes:
            if value >= len(controls.classes):
                return Message("viewer.steer_no_class", value=value, top=len(controls.classes) - 1)
            self.mode, self.label = "class", value
            return Message("viewer.steer_class", label=controls.classes[value])
        if controls.categorical:
            if value >= controls.categorical[0]:
                return Message("viewer.steer_no_value", value=value, top=controls.categorical[0] - 1)
            self.mode, self.categorical[0] = "codes", value
            return Message("viewer.steer_codes", codes=self.codes_text())
        return Message("viewer.steer_digits_need", model=controls.model)

    def nudge(self, direction: int) -> Message | None:
        if not self.continuous:
            return Message("viewer.steer_no_continuous", model=self.steerer.controls().model)
        value = self.continuous[self.selected] + direction * NUDGE
        self.continuous[self.selected] = round(max(-LIMIT, min(LIMIT, value)), 2)
        self.mode = "codes"
        return None

    def next_code(self) -> Message | None:
        if not self.continuous:
            return Message("viewer.steer_no_continuous", model=self.steerer.controls().model)
        self.selected = (self.selected + 1) % len(self.continuous)
        return Message("viewer.steer_selected", code=self.selected + 1)

    def pick(self, tile: int) -> None:
        if tile in self.picks:
            self.picks.remove(tile)
        else:
            self.picks = (self.picks + [tile])[-3:]
        self.mode = "grid"

    def interpolate(self) -> Message | None:
        if len(self.picks) < 2:
            return Message("viewer.steer_pick", n=2, what="walk")
        self.mode = "interpolate"
        return Message("viewer.steer_walk", first=self.picks[0], last=self.picks[1])

    def arithmetic(self) -> Message | None:
        if len(self.picks) < 3:
            return Message("viewer.steer_pick", n=3, what="a - b + c")
        self.mode = "arithmetic"
        return Message("viewer.steer_sum", a=self.picks[0], b=self.picks[1], c=self.picks[2])

    def back(self) -> None:
        self.mode = "grid"

    def to_grid(self) -> None:
        self.mode, self.picks = "grid", []

    # -- pictures ---------------------------------------------------------------------------------
    def codes_text(self) -> str:
        cont = ", ".join(f"{v:+.2f}" + ("*" if i == self.selected else "") for i, v in enumerate(self.continuous))
        return f"categorical {self.categorical} continuous [{cont}]"

    def showing(self) -> str:
        """The header line over the picture (English: the window's font draws no Chinese)."""
        if self.mode == "class":
            return f"every tile as class {self.steerer.controls().classes[self.label]}"
        if self.mode == "codes":
            return self.codes_text()
        if self.mode == "interpolate":
            return f"from tile {self.picks[0]} to tile {self.picks[1]}"
        if self.mode == "arithmetic":
            a, b, c = self.picks
            return f"tiles {a}, {b}, {c}, then {a} - {b} + {c}"
        return f"picked tiles: {', '.join(map(str, self.picks))} (i: walk, m: a - b + c)" if self.picks else ""

    def picture(self) -> np.ndarray | None:
        """The steered picture, or None in grid mode (the session shows its grid, with ``outline``)."""
        if self.mode == "grid":
            return None
        key = (self.mode, self.label, tuple(self.categorical), tuple(self.continuous), tuple(self.picks))
        if self._shown is None or self._shown[0] != key:
            steerer = self.steerer
            if self.mode == "class":
                picture = steerer.with_class(steerer.controls().classes[self.label])
            elif self.mode == "codes":
                picture = steerer.with_codes(self.categorical, self.continuous)
            elif self.mode == "interpolate":
                picture = steerer.interpolate(self.picks[0], self.picks[1], STEPS)
            else:
                picture = steerer.arithmetic(*self.picks)
            self._shown = key, picture
        return self._shown[1]

    def outline(self, picture: np.ndarray, columns: int, size: int) -> np.ndarray:
        """The grid with a frame around each picked tile."""
        if not self.picks:
            return picture
        key = (tuple(self.picks), columns, size)
        if self._outlined is not None and self._outlined[0] == key and self._outlined[1] is picture:
            return self._outlined[2]  # the same frame as last time: the viewer keeps its surface
        out = picture.copy()
        for tile in self.picks:
            row, column = divmod(tile - 1, columns)
            y, x = row * (size + PAD), column * (size + PAD)
            out[y:y + PAD, x:x + size + 2 * PAD] = OUTLINE
            out[y + size + PAD:y + size + 2 * PAD, x:x + size + 2 * PAD] = OUTLINE
            out[y:y + size + 2 * PAD, x:x + PAD] = OUTLINE
            out[y:y + size + 2 * PAD, x + size + PAD:x + size + 2 * PAD] = OUTLINE
        self._outlined = key, picture, out
        return out


def tile_at(x: float, y: float, columns: int, tiles: int, size: int) -> int | None:
    """The number (from 1) of the tile under the point (x, y) of the grid picture, None between tiles."""
    column, dx = divmod(int(x) - PAD, size + PAD)
    row, dy = divmod(int(y) - PAD, size + PAD)
    if x < PAD or y < PAD or dx >= size or dy >= size or column >= columns:
        return None
    number = row * columns + column + 1
    return number if number <= tiles else None


def refused(exc: PlaygroundError) -> Message:
    return Message("viewer.steer_refused", sentence=exc)  # rendered in each language where it is shown
