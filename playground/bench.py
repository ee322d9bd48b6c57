"""Side-by-side benchmarks: ours against a plain peer, in one process, alternating, as ratios.

Each suite measures one figure for our path and for the peer's in alternating rounds (so a
machine that slows down mid-run slows both), then reports the medians and their ratio. Absolute
numbers hold for the machine they ran on; the ratio is the claim.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from playground.errors import PlaygroundError


@dataclass
class Figure:
    suite: str
    name: str
    unit: str
    peer_name: str
    ours: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def peer_median(self) -> float:
        return statistics.median(self.peer)

    @property
    def ratio(self) -> float:
        """Ours over the peer's: above 1 means we are faster (every unit here is 'per second')."""
        return self.ours_median / self.peer_median if self.peer_median else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ours_median": self.ours_median, "peer_median": self.peer_median, "ratio": self.ratio}


def alternate(figure: Figure, ours: Callable[[], float], peer: Callable[[], float], rounds: int) -> Figure:
    """Warm both up once, then ours, peer, ours, peer… ``rounds`` times each."""
    ours()
    peer()
    for _ in range(rounds):
        figure.ours.append(ours())
        figure.peer.append(peer())
    return figure


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {gpu}; torch {torch.__version__}, Python {platform.python_version()}"


# -- suites ----------------------------------------------------------------------------------------
def gan_suite(quick: bool, device: str) -> list[Figure]:
    """DCGAN training images/s at 64x64, batch 64: our model and data path against the plain
    PyTorch-example implementation of the same architecture, on the same Atari frames."""
    from gans import data as gan_data
    from gans.dcgan import DCGAN
    from playground.gan_training import Batches
    from playground.peers.plain_dcgan import PlainDCGAN

    batch, iters, rounds = 64, (4 if quick else 12), (2 if quick else 3)
    dataset = gan_data.open_dataset("atari:Pong", "images", 64)
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    torch.manual_seed(0)
    ours_model = DCGAN(DCGAN.check_hyperparameters({}), image_size=64, channels=3, device=device, total_iters=iters)
    batches = Batches(dataset, batch, seed=0)
    peer_model = PlainDCGAN(images, batch_size=batch, device=device)
    step = 0

    def ours() -> float:
        nonlocal step
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            ours_model.train_step(batches(step))
            step += 1
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return iters * batch / (time.perf_counter() - start)

    figure = Figure("gan", "DCGAN 64x64 training, batch 64", "images/s", "plain PyTorch DCGAN (examples style)")
    return [alternate(figure, ours, lambda: peer_model.images_per_second(iters), rounds)]


SUITES: dict[str, Callable[[bool, str], list[Figure]]] = {"gan": gan_suite}


def run(suite: str, *, quick: bool = False, device: str = "cpu") -> list[Figure]:
    if suite not in SUITES:
        raise PlaygroundError(f"unknown benchmark suite '{suite}'; choose one of: {', '.join(SUITES)}.")
    return SUITES[suite](quick, device)


def markdown(figures: list[Figure], command: str) -> str:
    lines = [f"Machine: {machine()}", f"Command: `{command}`", "",
             "| suite | figure | ours | peer | peer is | ratio |", "|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {f.suite} | {f.name} | {f.ours_median:,.1f} {f.unit} | {f.peer_median:,.1f} {f.unit} | "
                     f"{f.peer_name} | {f.ratio:.2f}x |")
    return "\n".join(lines) + "\n"
