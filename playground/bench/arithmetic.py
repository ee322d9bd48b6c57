"""The bound under every learner figure: how much arithmetic a learner does per step, and how fast this machine
does arithmetic at all.

A network's speed on a CPU is bound by its matrix products and convolutions. ``flops_per_unit`` counts them (forward
and backward, as torch dispatches them, whatever the number format) over one call of a learner's work;
``matmul_peak`` times one large matrix product in a number format, about the most any network's arithmetic reaches
on the device. Together they say how much of the machine each side of a learner figure uses, and how far ours could
go if it used all of it (``bench.arithmetic`` in the report).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import torch

# A product this size runs at the CPU's full speed (1024: 2.1 GFLOP, about 30 ms on 2 cores); a GPU needs a
# larger one to fill it.
CPU_SIZE, CUDA_SIZE = 1024, 4096
TIMED_SECONDS = 0.5


def flops_per_unit(work: Callable[[], int]) -> float:
    """Floating-point operations of matrix products and convolutions per unit of ``work`` (it returns how many
    units it did: environment steps), counted by torch over one call."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        units = work()
    return counter.get_total_flops() / units


FORMATS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def dtype_named(name: str) -> torch.dtype:
    """The dtype of a precision's name (``agents.precision.Precision.name``)."""
    if name not in FORMATS:
        raise ValueError(f"not a number format: {name!r}")
    return FORMATS[name]


@functools.cache
def matmul_peak(dtype: torch.dtype, device: str) -> float:
    """FLOP/s of a square matrix product in ``dtype`` on ``device``: the best of repeated products over about half
    a second, after one to warm up. Measured once per process."""
    size = CUDA_SIZE if device.startswith("cuda") else CPU_SIZE
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    sync: Callable[[], Any] = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    torch.mm(a, b)
    sync()
    best, spent = 0.0, 0.0
    while spent < TIMED_SECONDS:
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        seconds = time.perf_counter() - start
        spent += seconds
        best = max(best, 2 * size**3 / seconds)
    return best


def arithmetic_notes(ours: Callable[[], int], peer: Callable[[], int], precision: str, device: str) -> dict[str, Any]:
    """A learner figure's ``arithmetic`` note: FLOPs per step on each side (one call of each work, counted), and the
    matrix-product speed each side's number format reaches here (the peer computes in float32)."""
    return {"ours": flops_per_unit(ours), "peer": flops_per_unit(peer), "precision": precision,
            "peak": {"ours": matmul_peak(dtype_named(precision), device),
                     "peer": matmul_peak(torch.float32, device)}}
