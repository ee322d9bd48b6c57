"""Side-by-side benchmarks: ours against a plain peer, in one process tree, alternating, as ratios.

Each suite measures its figures for our path and for the peer's in alternating rounds (so a
machine that slows down mid-run slows both), then reports the medians and their ratio, always
ours ÷ peer. Absolute numbers hold for the machine they ran on; the ratio is the claim.

The framework lives here; each suite is one module (``rl``, ``env``, ``a3c``, ``gan``,
``cartpole``) with a ``LEVELS`` table (``tiny`` for the tests, ``quick``, ``full``) and a
``run(level, device)`` function; ``ours`` drives our RL training path without the store. The
peers themselves live in ``playground.peers``.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import torch

from playground.errors import PlaygroundError
from playground.i18n import Words, say

SUITE_NAMES = ("rl", "env", "a3c", "gan", "cartpole")
# A figure whose rounds on one side differ by more than this fraction of their median is void: the
# machine's load changed under it (other work, a browser, a second run), so its ratio would be luck.
MAX_SPREAD = 0.25
ALL = "all"
LEVELS = ("tiny", "quick", "full")


@dataclass
class Figure:
    """One measured quantity for ours and for the peer, round by round."""

    suite: str
    name: str
    unit: str
    peer_name: str
    ours: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)
    higher_is_better: bool = True  # rates are; wall times (cartpole) are not
    notes: dict[str, Any] = field(default_factory=dict)  # what else a round found (steps reached, …)

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def peer_median(self) -> float:
        return statistics.median(self.peer)

    @property
    def ratio(self) -> float:
        """Ours over the peer's, whatever the unit: for rates above 1 is better, for times below 1."""
        return self.ours_median / self.peer_median if self.peer_median else float("nan")

    @property
    def void(self) -> str | None:
        """Why this figure cannot be reported (its rounds disagree too much), or None when it can."""
        reasons: list[Words] = []
        for side, values in ((None, self.ours), (self.peer_name, self.peer)):
            spread = spread_of(values)
            if spread is not None and spread > MAX_SPREAD:
                reasons.append(Words("bench.void_ours", spread=spread) if side is None
                               else Words("bench.void_side", side=side, spread=spread))
        if not reasons:
            return None
        both = reasons[0] if len(reasons) == 1 else Words("bench.void_both", first=reasons[0], second=reasons[1])
        return say("bench.void", reasons=both, limit=MAX_SPREAD)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ours_median": self.ours_median, "peer_median": self.peer_median, "ratio": self.ratio,
                "void": self.void}


def spread_of(values: list[float]) -> float | None:
    """(max − min) ÷ median of a side's rounds; None with fewer than two rounds."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    return (max(values) - min(values)) / abs(middle) if middle else float("inf")


def alternate(
    figure: Figure, ours: Callable[[], float], peer: Callable[[], float], rounds: int, *, warmup: bool = True
) -> Figure:
    """Warm both up once (unless ``warmup`` is off), then ours, peer, ours, peer… ``rounds`` times each."""
    if warmup:
        ours()
        peer()
    for _ in range(rounds):
        figure.ours.append(ours())
        figure.peer.append(peer())
    return figure


def per_second(work: Callable[[], int], device: str = "cpu") -> float:
    """Run ``work`` (which returns how many units it did) and return units per second of wall time."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    done = work()
    sync()
    return done / (time.perf_counter() - start)


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu_model()}, {cores()} cores, {gpu}; torch {torch.__version__}, Python {platform.python_version()}"


def _cpuinfo(field: str) -> str | None:
    """The first value of ``field`` in /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(field) and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


# The CPU flags that decide which kernels torch's CPU convolutions and matrix products can use.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
                "avx_vnni", "asimd", "sve", "bf16")


def cpu_flags() -> list[str]:
    """Of :data:`KERNEL_FLAGS`, those this CPU reports (empty where /proc/cpuinfo is missing)."""
    present = set((_cpuinfo("flags") or _cpuinfo("Features") or "").split())
    return [flag for flag in KERNEL_FLAGS if flag in present]


def kernels() -> dict[str, Any]:
    """What torch picks on this CPU: the vector instructions its kernels dispatch to, whether oneDNN is there,
    whether it computes bfloat16 natively (AVX512-BF16 or AMX: our CNNs then run in bfloat16) and whether AMX
    tiles are there; with the CPU's model and kernel flags."""
    from agents.precision import cpu_has_bfloat16

    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        capability = "unknown"
    try:
        amx = bool(torch._C._cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        amx = "amx_tile" in cpu_flags()
    return {"cpu": cpu_model(), "flags": cpu_flags(), "capability": capability,
            "onednn": bool(torch.backends.mkldnn.is_available()), "bfloat16": cpu_has_bfloat16(), "amx": amx,
            "threads": torch.get_num_threads()}


def kernels_line() -> str:
    k = kernels()

    def yes(value: bool) -> str:
        return say("bench.yes" if value else "bench.no")

    return say("bench.kernels", capability=k["capability"], onednn=yes(k["onednn"]), bfloat16=yes(k["bfloat16"]),
               amx=yes(k["amx"]), flags=" ".join(k["flags"]) or "-", threads=k["threads"])


def cores() -> int:
    """CPU cores this process may use (respects pinning, unlike os.cpu_count())."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_average() -> float | None:
    """The 1-minute load average: how busy the machine was (other work slows both sides, not equally)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


L = TypeVar("L")


def level_of(levels: Mapping[str, L], level: str) -> L:
    """A suite's settings for ``level`` (tiny, quick or full)."""
    if level not in levels:
        raise PlaygroundError("bench.unknown_level", level=level, choices=", ".join(levels))
    return levels[level]


def suite_names(suite: str) -> list[str]:
    """``all`` → every suite in order; otherwise the one named, checked."""
    if suite == ALL:
        return list(SUITE_NAMES)
    if suite not in SUITE_NAMES:
        raise PlaygroundError("bench.unknown_suite", suite=suite, choices=", ".join(SUITE_NAMES), all=ALL)
    return [suite]


def run(suite: str, *, quick: bool = False, device: str = "cpu", level: str | None = None,
        on_figure: Callable[[Figure], None] | None = None) -> list[Figure]:
    """Run one suite (or ``all``); ``level`` overrides ``quick`` (the tests use ``tiny``).

    ``on_figure`` hears of each figure as soon as it is measured (the CLI shows progress with it).
    """
    names = suite_names(suite)
    chosen = level or ("quick" if quick else "full")
    if chosen not in LEVELS:
        raise PlaygroundError("bench.unknown_level", level=chosen, choices=", ".join(LEVELS))
    figures: list[Figure] = []
    for name in names:
        module = importlib.import_module(f"playground.bench.{name}")
        for figure in module.run(chosen, device):
            figures.append(figure)
            if on_figure is not None:
                on_figure(figure)
    return figures


def _amount(value: float, unit: str) -> str:
    return f"{value:,.1f} {unit}" if value >= 10 else f"{value:,.2f} {unit}"


def markdown(figures: list[Figure], command: str) -> str:
    lines = [say("bench.machine", machine=machine()), kernels_line(), say("bench.command", command=command), "",
             say("bench.table_header"), "|---|---|---|---|---|---|"]
    void = []
    for f in figures:
        better = "" if f.higher_is_better else " " + say("bench.lower_is_better")
        reason = f.void
        ratio = say("bench.void_ratio", n=len(void) + 1) if reason else f"{f.ratio:.2f}x{better}"
        lines.append(f"| {f.suite} | {f.name} | {_amount(f.ours_median, f.unit)} | {_amount(f.peer_median, f.unit)} | "
                     f"{f.peer_name} | {ratio} |")
        if reason:
            void.append(say("bench.void_note", n=len(void) + 1, suite=f.suite, name=f.name, reason=reason))
    return "\n".join(lines + ([""] + void if void else []) + _ceilings(figures) + _arithmetic(figures)
                     + _kernels(figures)) + "\n"


def _listed(sentences: list[str]) -> list[str]:
    """Sentences under the table, after a blank line, as a list (so that a markdown viewer keeps them apart)."""
    return [""] + [f"- {sentence}" for sentence in sentences] if sentences else []


def _ceilings(figures: list[Figure]) -> list[str]:
    """One sentence per learner figure that knows its ceiling: how close each side's training came to it; and one
    for its ceiling with the games, where the suite measured them too."""
    lines = []
    for f in figures:
        ceiling = f.notes.get("ceiling")
        if not ceiling or f.void:
            continue
        float32 = f.notes.get("float32")
        words = {"name": f.name, "ceiling": _amount(f.ours_median, f.unit), "ours": ceiling["ours"],
                 "peer": ceiling["peer"]}
        if float32:  # measured in a lower precision, and again in float32
            lines.append(say("bench.ceiling", precision=f.notes["precision"],
                             float32=_amount(statistics.median(float32), f.unit), **words))
        else:
            lines.append(say("bench.ceiling_float32", **words))
        with_games = f.notes.get("with_games")
        if with_games:
            lines.append(say("bench.ceiling_with_games", name=f.name, ours_bound=_amount(with_games["ours"], f.unit),
                             over_peer=with_games["over_peer"], over_bound=with_games["over_bound"],
                             peer_bound=_amount(with_games["peer"], f.unit),
                             ours=with_games["trained"]["ours"], peer=with_games["trained"]["peer"]))
    return _listed(lines)


def _arithmetic(figures: list[Figure]) -> list[str]:
    """One sentence per learner figure that counted its arithmetic (``playground.bench.arithmetic``): what a step
    costs on each side, what share of this machine's matrix-product speed each side reaches, and the most ours could
    reach at that speed against the peer's figure."""
    lines = []
    for f in figures:
        counted = f.notes.get("arithmetic")
        if not counted or f.void:
            continue
        ours_peak, peer_peak = counted["peak"]["ours"], counted["peak"]["peer"]
        lines.append(say("bench.arithmetic", name=f.name, ours=counted["ours"] / 1e6, peer=counted["peer"] / 1e6,
                         ours_use=f.ours_median * counted["ours"] / ours_peak,
                         peer_use=f.peer_median * counted["peer"] / peer_peak,
                         precision=counted["precision"], ours_peak=ours_peak / 1e9, peer_peak=peer_peak / 1e9,
                         most=ours_peak / counted["ours"] / f.peer_median))
    return _listed(lines)


def _kernels(figures: list[Figure]) -> list[str]:
    """One sentence per learner figure that caught its oneDNN kernels (``playground.bench.onednn``): each pass's
    implementations, speed and share of the kernels' time."""
    lines = []
    for f in figures:
        passes = f.notes.get("kernels")
        if not passes or f.void:
            continue
        total = sum(p["ms"] for p in passes.values()) or 1.0
        parts = [say("bench.kernel_pass", what=say(f"bench.pass_{name}"), names=", ".join(p["implementations"]),
                     gflops=p["gflops"], share=p["ms"] / total) for name, p in passes.items()]
        lines.append(say("bench.kernels_ran", name=f.name, passes="; ".join(parts)))
    return _listed(lines)
