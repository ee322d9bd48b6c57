"""Which of oneDNN's kernels a learner's work runs on this CPU, and how fast each kind goes.

torch's CPU convolutions and (bfloat16) matrix products are oneDNN's, and oneDNN picks an implementation per
problem and per processor: on a 2-core Zen 4 EPYC a PPO update's forward convolutions ran on its brgemm kernels
(``brg_conv_fwd:avx512_core_bf16``, about 370-420 GFLOP/s) but their weight gradients on its older ones
(``jit_bf16:avx512_core_bf16``, 230-300 GFLOP/s), against 444 GFLOP/s for a plain bfloat16 matrix product; that is
where the learner's ceiling stops there (docs/benchmarks.md). :func:`kernels_of` runs a piece of work once with
oneDNN's verbose log on and sums what it executed by pass: the implementations' names and their speed, from the
problem sizes the log gives. The log goes to the process's standard output (oneDNN writes it with C's stdio), so
it is caught there for that one call. Where oneDNN runs nothing (a GPU, torch without it) or the log cannot be
caught or read, the summary is empty and the report says nothing of it.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

# (primitive kind, propagation kind) -> the pass it belongs to
PASSES = {("convolution", "forward_training"): "forward", ("convolution", "forward_inference"): "forward",
          ("convolution", "backward_data"): "backward_data", ("convolution", "backward_weights"): "backward_weights",
          ("matmul", None): "matmul", ("inner_product", "forward_training"): "matmul",
          ("inner_product", "forward_inference"): "matmul"}
ORDER = ("forward", "backward_data", "backward_weights", "matmul")  # the order the report names the passes in


@dataclass
class Pass:
    """One pass's primitives over the work: their implementations, FLOPs and milliseconds."""

    implementations: list[str] = field(default_factory=list)
    flops: float = 0.0
    ms: float = 0.0

    @property
    def gflops(self) -> float:
        return self.flops / self.ms / 1e6 if self.ms else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"implementations": self.implementations, "gflops": self.gflops, "ms": self.ms}


def flops_of(kind: str, problem: str) -> float | None:
    """Floating-point operations of one primitive from its verbose problem description: a convolution's
    ``mb256_ic64oc32_ih21oh20kh2sh1dh0ph0_iw21ow20kw2sw1dw0pw0`` (groups ``g``, depth ``d``: each pass computes as
    many products as the forward), an inner product's ``mb32ic3136oc512``, a matrix product's
    ``256x3136:3136x512`` (batch dimensions in front); None for anything else or a description it cannot read."""
    sizes = _sizes(problem)
    if kind == "convolution":
        if not {"mb", "ic", "oc", "oh", "kh"} <= sizes.keys():
            return None
        groups = sizes.get("g", 1)
        spatial = math.prod(sizes.get(f"o{axis}", 1) * sizes.get(f"k{axis}", 1) for axis in "dhw")
        return 2.0 * sizes["mb"] * sizes["oc"] * (sizes["ic"] // groups) * spatial
    if kind == "inner_product":  # mb32ic3136oc512, or with the input's spatial sizes (ic64ih7iw7)
        if not {"mb", "ic", "oc"} <= sizes.keys():
            return None
        return 2.0 * sizes["mb"] * sizes["oc"] * sizes["ic"] * math.prod(sizes.get(f"i{axis}", 1) for axis in "dhw")
    if kind == "matmul":
        shapes = re.fullmatch(r"([\dx]+):([\dx]+)", problem.strip())
        if not shapes:
            return None
        a, b = ([int(n) for n in side.split("x")] for side in shapes.groups())
        if len(a) < 2 or len(b) < 2:
            return None
        return 2.0 * math.prod(a) * b[-1]
    return None


def _sizes(problem: str) -> dict[str, int]:
    """A problem description's named sizes: ``mb256_ic64oc32_ih21oh20`` -> {mb: 256, ic: 64, oc: 32, ih: 21, ...}."""
    return {key: int(value) for key, value in re.findall(r"([a-z]+)(\d+)", problem)}


def parse(log: str) -> dict[str, Pass]:
    """oneDNN's verbose lines (v3's ``onednn_verbose,v1,primitive,exec,cpu,...`` or the older
    ``onednn_verbose,exec,cpu,...``) summed by pass; other lines are skipped."""
    passes: dict[str, Pass] = {}
    for line in log.splitlines():
        fields = line.strip().split(",")
        if not fields or fields[0] not in ("onednn_verbose", "dnnl_verbose") or "exec" not in fields:
            continue
        at = fields.index("exec")
        if len(fields) < at + 10 or fields[at + 1] != "cpu":
            continue
        kind, implementation, propagation = fields[at + 2], fields[at + 3], fields[at + 4]
        name = PASSES.get((kind, propagation)) or PASSES.get((kind, None))
        try:
            ms = float(fields[-1])
        except ValueError:
            continue
        flops = flops_of(kind, fields[-2])
        if name is None or flops is None:
            continue
        summed = passes.setdefault(name, Pass())
        if implementation not in summed.implementations:
            summed.implementations.append(implementation)
        summed.flops += flops
        summed.ms += ms
    return passes


def kernels_of(work: Callable[[], Any]) -> dict[str, dict[str, Any]]:
    """Run ``work`` once with oneDNN's verbose log on; what it executed, by pass (``forward``, ``backward_data``,
    ``backward_weights``, ``matmul``): implementations, GFLOP/s, milliseconds. Empty where nothing was caught."""
    if not torch.backends.mkldnn.is_available() or not hasattr(os, "dup2"):
        return {}
    try:
        flush = ctypes.CDLL(None).fflush  # oneDNN prints through C's stdio: its buffer must reach the file
    except (OSError, AttributeError):
        return {}
    sys.stdout.flush()
    with tempfile.TemporaryFile() as log:
        saved = os.dup(1)
        try:
            os.dup2(log.fileno(), 1)
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                work()
        finally:
            flush(None)  # even if the work failed: the log's lines must not reach the terminal later
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        text = log.read().decode("utf-8", errors="replace")
    passes = parse(text)
    return {name: passes[name].as_dict() for name in ORDER if name in passes}
