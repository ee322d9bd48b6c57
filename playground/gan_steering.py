"""Steering a trained generator by hand: the pictures behind the Watch page's Steer tab and ``gan watch``'s keys.

A ``Steerer`` holds one checkpoint's generator and the noise of its sample grid (the "tiles", kept in
every checkpoint), and draws what a learner asks for:

- ``grid``: the tiles as training drew them, numbered so they can be picked;
- ``with_class`` (conditional DCGAN): every tile's noise, all in one class;
- ``with_codes`` (InfoGAN): every tile's noise with the latent codes set by hand, one categorical
  value per categorical code and one number per continuous code;
- ``interpolate`` (every generator of images): the spherical path between two tiles' noise;
- ``arithmetic``: tiles a, b and c, then the image of a − b + c.

The math is ``gans.latent``'s; this module loads, checks a request (a wrong one is one sentence) and
draws. The web app reaches it through ``serve`` in a warm child process, so its own process never
loads torch.
"""

from __future__ import annotations

import json
import logging
import math
import select
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from gans import grid, latent
from playground import gan_inference
from playground.errors import PlaygroundError

log = logging.getLogger(__name__)

PAD = 2  # border between tiles, as the sample grids have it
MAX_STEPS = 16  # an interpolation's frames, ends included
CODE_RANGE = 3.0  # continuous codes train in [-1, 1]; the InfoGAN paper shows them pushed to ±2 and beyond
NUMBERED_TILE = 96  # tiles are scaled up to at least this many pixels before their numbers are drawn
IDLE_EXIT_S = 15 * 60  # ``serve`` ends after this long without a request
MAX_SCALE = 8  # the most a request may enlarge its picture


@dataclass(frozen=True)
class Controls:
    """What one run can be steered by: the doors build their sliders and pickers from this."""

    model: str
    step: int
    tiles: int  # tiles of the fixed grid (numbered from 1)
    columns: int
    classes: tuple[str, ...] = ()  # conditional DCGAN: the class names
    categorical: tuple[int, ...] = ()  # InfoGAN: values of each categorical code
    continuous: int = 0  # InfoGAN: how many continuous codes
    ops: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return asdict(self)


class Steerer:
    """One checkpoint of an image GAN, ready to draw what a learner asks for."""

    def __init__(self, loaded: gan_inference.Loaded) -> None:
        self.loaded = loaded
        fixed = loaded.fixed
        self.model = loaded.model
        if self.model.data_kind != "images":
            raise PlaygroundError("gan_steering.needs_images", model=self.model.name)
        self.fixed = fixed
        self.z = fixed["z"].float()
        self.classes = tuple(self.model.class_names) if getattr(self.model, "classes", 0) else ()
        hp = self.model.hp
        self.categorical = tuple(int(v) for v in getattr(hp, "categorical", ()) or ())
        self.continuous = int(getattr(hp, "continuous", 0) or 0)
        self._images, self.columns = self.model.render(fixed)  # the grid as training drew it, rendered once

    @classmethod
    def open(cls, ref: str, which: str = "latest", device: str = "cpu") -> Steerer:
        return cls(gan_inference.load(ref, which, device))

    # -- what can be asked ------------------------------------------------------------------------
    def controls(self) -> Controls:
        ops = ["grid", "interpolate", "arithmetic"]
        if self.classes:
            ops.insert(1, "class")
        if self.categorical or self.continuous:
            ops.insert(1, "codes")
        return Controls(model=self.model.name, step=self.loaded.step, tiles=len(self.z), columns=self.columns,
                        classes=self.classes, categorical=self.categorical, continuous=self.continuous, ops=tuple(ops))

    def _tile(self, number: int) -> int:
        """A tile's index from the number a learner sees (1 … tiles)."""
        if not 1 <= int(number) <= len(self.z):
            raise PlaygroundError("gan_steering.no_such_tile", tile=number, tiles=len(self.z))
        return int(number) - 1

    def _generate(self, z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Images from noise ``z``, each with the class (cDCGAN) or the codes (InfoGAN) of the tile in ``like``."""
        extra = self.fixed.get("labels", self.fixed.get("codes"))
        return self.model.generate(z, None if extra is None else extra[like])  # type: ignore[attr-defined]

    def _noise_per_tile(self) -> torch.Tensor:
        """A different noise vector for every tile: the grid's own, unless tiles share theirs (an InfoGAN grid
        has one per row, its columns differing in the code), then a fixed draw of the same size."""
        if len(torch.unique(self.z, dim=0)) == len(self.z):
            return self.z
        return torch.randn(self.z.shape, generator=torch.Generator().manual_seed(0))

    # -- pictures ---------------------------------------------------------------------------------
    def grid(self, numbered: bool = True) -> np.ndarray:
        picture = grid.grid(self._images, self.columns, pad=PAD)
        return number_tiles(picture, len(self._images), self.columns, self.loaded.config.image_size) if numbered \
            else picture

    def with_class(self, label: str) -> np.ndarray:
        if not self.classes:
            raise PlaygroundError("gan_steering.no_classes", model=self.model.name)
        if label not in self.classes:
            raise PlaygroundError("gan_inference.unknown_label", label=label, names=", ".join(self.classes))
        labels = torch.full((len(self.z),), self.classes.index(label), dtype=torch.long)
        images = self.model.generate(self.z, labels)  # type: ignore[attr-defined]
        return grid.grid(images, self.columns, pad=PAD)  # the grid's own shape: the window keeps its size

    def with_codes(self, categorical: Sequence[int], continuous: Sequence[float]) -> np.ndarray:
        if not (self.categorical or self.continuous):
            raise PlaygroundError("gan_steering.no_codes", model=self.model.name)
        if len(categorical) != len(self.categorical) or len(continuous) != self.continuous:
            raise PlaygroundError("gan_steering.wrong_codes", categorical=len(self.categorical),
                                  continuous=self.continuous, given_categorical=len(categorical),
                                  given_continuous=len(continuous))
        for i, (value, size) in enumerate(zip(categorical, self.categorical, strict=True)):
            if not 0 <= int(value) < size:
                raise PlaygroundError("gan_steering.bad_categorical", code=i + 1, value=value, top=size - 1)
        for i, value in enumerate(continuous):
            if not (math.isfinite(float(value)) and abs(float(value)) <= CODE_RANGE):
                raise PlaygroundError("gan_steering.bad_continuous", code=i + 1, value=value, limit=CODE_RANGE)
        images = self.model.generate_with(  # type: ignore[attr-defined]
            self._noise_per_tile(), categorical=[int(v) for v in categorical], continuous=[float(v) for v in continuous])
        return grid.grid(images, self.columns, pad=PAD)

    def interpolate(self, first: int, last: int, steps: int = 8) -> np.ndarray:
        a, b = self._tile(first), self._tile(last)
        if a == b:
            raise PlaygroundError("gan_steering.same_tile", tile=first)
        if torch.equal(self.z[a], self.z[b]):
            raise PlaygroundError("gan_steering.same_noise", first=first, last=last)
        if not 2 <= int(steps) <= MAX_STEPS:
            raise PlaygroundError("gan_steering.bad_steps", steps=steps, most=MAX_STEPS)
        z = latent.path(self.z[a], self.z[b], int(steps))
        # A conditional tile keeps its class (an InfoGAN tile its codes) all the way: only the noise moves.
        images = self._generate(z, torch.full((int(steps),), a, dtype=torch.long))
        return grid.grid(images, int(steps), pad=PAD)

    def arithmetic(self, a: int, b: int, c: int) -> np.ndarray:
        picks = [self._tile(n) for n in (a, b, c)]
        index = torch.tensor(picks)
        result = latent.arithmetic(*(self.z[i] for i in picks)).unsqueeze(0)
        images = torch.cat([self._generate(self.z[index], index),
                            self._generate(result, torch.tensor([picks[2]]))])
        return grid.grid(images, 4, pad=PAD)

    def draw(self, op: str, **args: Any) -> np.ndarray:
        """One request by name (what ``serve`` and the viewer send)."""
        if op == "grid":
            return self.grid(numbered=bool(args.get("numbered", True)))
        if op == "class":
            return self.with_class(str(args["label"]))
        if op == "codes":
            return self.with_codes(list(args.get("categorical", [])), list(args.get("continuous", [])))
        if op == "interpolate":
            return self.interpolate(int(args["first"]), int(args["last"]), int(args.get("steps", 8)))
        if op == "arithmetic":
            return self.arithmetic(int(args["a"]), int(args["b"]), int(args["c"]))
        raise PlaygroundError("gan_steering.unknown_op", op=op, ops=", ".join(self.controls().ops))


def note(run_id: str, how: str, noted: set[tuple[str, ...]], player: str | None = None) -> None:
    """A ``latent_steered`` event (evidence for the game's latent-walk badge), once per run, way of steering and
    player in this process: a slider dragged across its range is one event, not a hundred. ``player``: who steered
    (a served app's page names its person; default this machine's profile)."""
    from playground.game.profiles import active_player

    if player is None:
        try:
            player = active_player()
        except PlaygroundError:
            player = None
    if (run_id, how, player or "") in noted:
        return
    from playground import events
    from playground.store import get_store

    events.record(get_store(), events.LatentSteered(run=run_id, how=how, player=player))
    noted.add((run_id, how, player or ""))


def number_tiles(picture: np.ndarray, n: int, columns: int, size: int) -> np.ndarray:
    """The grid scaled up (nearest pixels) until a tile is ``NUMBERED_TILE`` wide, each tile's number in its corner."""
    from PIL import Image, ImageDraw

    scale = max(1, math.ceil(NUMBERED_TILE / max(size, 1)))
    image = Image.fromarray(picture).resize((picture.shape[1] * scale, picture.shape[0] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    pitch = (size + PAD) * scale
    for i in range(n):
        row, column = divmod(i, columns)
        x, y = PAD * scale + column * pitch, PAD * scale + row * pitch
        label = str(i + 1)
        box = draw.textbbox((x + 2, y + 1), label)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
        draw.text((x + 2, y + 1), label, fill=(255, 230, 90))
    return np.asarray(image)


# -- the web app's warm sampler --------------------------------------------------------------------
def serve(requests: IO[str] = sys.stdin, answers: IO[str] = sys.stdout, idle_exit_s: float = IDLE_EXIT_S) -> None:
    """Answer one JSON request per line until the input closes or nobody asks for ``idle_exit_s``.

    A request: ``{"run": ID, "checkpoint": "latest" | STEP, "op": …, "out": PNG path, "lang": …, "scale": 1-8,
    …the op's values}``;
    ``{"run": ID, "checkpoint": …, "op": "controls"}`` asks what the run can be steered by. The answer is
    one line: ``{"controls": {…}}``, ``{"path": PNG}`` or ``{"error": sentence}``. The newest checkpoint
    read stays loaded, so a slider's next position costs one forward pass.
    """
    steerers: dict[tuple[str, str], Steerer] = {}
    noted: set[tuple[str, ...]] = set()
    while True:
        if hasattr(requests, "fileno"):
            ready, _, _ = select.select([requests], [], [], idle_exit_s)
            if not ready:
                log.info("no request for %.0f s: the sampler ends", idle_exit_s)
                return
        line = requests.readline()
        if not line:
            return
        request: dict[str, Any] = {}
        try:
            request = json.loads(line)
            answer = _answer(request, steerers, noted)
        except PlaygroundError as exc:  # in the language of the page that asked
            answer = {"error": exc.sentence(request.get("lang"))}
        except (KeyError, ValueError, TypeError) as exc:  # a malformed request is the caller's bug
            answer = {"error": f"bad request: {type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def _answer(request: dict[str, Any], steerers: dict[tuple[str, str], Steerer],
            noted: set[tuple[str, ...]]) -> dict[str, Any]:
    key = (str(request["run"]), str(request.get("checkpoint", "latest")))
    steerer = steerers.get(key)
    if steerer is None:
        steerers.clear()  # one checkpoint at a time: a laptop's memory is not ours to fill
        steerer = steerers[key] = Steerer.open(*key)
    op = request["op"]
    if op == "controls":
        return {"controls": steerer.controls().record()}
    args = {k: v for k, v in request.items()
            if k not in ("run", "checkpoint", "op", "out", "lang", "scale", "player")}
    picture = steerer.draw(op, **args)
    scale = max(1, min(MAX_SCALE, int(request.get("scale", 1))))  # a page shows small tiles larger, in crisp pixels
    picture = np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)
    if op != "grid":
        player = request.get("player")
        note(steerer.loaded.run.id, op, noted, str(player) if player else None)
    return {"path": str(grid.save_png(picture, Path(request["out"])))}
