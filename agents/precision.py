"""Which number format a network computes in: bfloat16 where the CPU computes it natively, AMP on CUDA.

Weights, optimizer state and losses stay float32 everywhere; only the forward passes inside
:meth:`Precision.autocast` run in the lower format, except the output layers (:func:`in_float32`). Checkpoints
therefore load on any machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from agents.allocator import keep_freed_memory


def flush_denormals() -> None:
    """Compute numbers below float32's normal range (under about 1.2e-38) as zero on this CPU.

    x86 CPUs take a slow path for such "denormal" numbers, and training makes them: Adam's second moment
    of a weight whose gradient has become tiny (the noisy layers' sigmas, dead units) decays into that range.
    A fused Adam step over 344k weights took 10.3 ms with denormal moments and 0.56 ms flushed (one thread);
    our DQN's CartPole presets trained 1.2x (rainbow) and 1.3x (nature) faster with the very same evaluations
    (tests/test_dqn_agent.py's seeds). Values that small move no weight measurably: Adam divides by their square
    root plus its epsilon (1e-8 or more).

    It is a per-thread setting that threads inherit when they are created, so it must be set before torch's
    thread pool starts: this module sets it when it is imported, which the agents that use it do before they
    build a network.
    """
    torch.set_flush_denormal(True)


flush_denormals()
keep_freed_memory()  # a setting of the whole process too (agents/allocator.py), for the processes that train


def in_float32(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` computed in float32 whatever autocast says: for a network's output layer, whose numbers the
    losses compare to within far less than bfloat16's 8 significant bits.

    A value network's outputs share a large offset and differ by little: a DQN's Q-values on Pong drift to -0.5
    and below (most points are lost) while the TD errors of the steps that score nothing are a few thousandths,
    and bfloat16 rounds a -0.5 to steps of 0.002. On one batch of the Nature network with its outputs moved to
    -0.5 and targets a thousandth from them, the gradients in bfloat16 had cosines of -0.1 to 0.7 with float32's
    with the output layer in bfloat16, and 0.985 or more with it in float32 (tests/test_dqn_agent.py; a batch
    that holds a scoring step has large errors, and there both agree). The output layer is a few thousand
    multiply-adds per frame against the convolutions' millions."""
    with torch.autocast(x.device.type, enabled=False):
        return layer(x.float())


def cpu_has_bfloat16() -> bool:
    """Whether oneDNN computes bfloat16 natively here (elsewhere it would only be emulated, slowly)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass(frozen=True)
class Precision:
    """The autocast format of one device, or None for plain float32."""

    device_type: str
    dtype: torch.dtype | None

    @classmethod
    def choose(cls, device: torch.device | str, *, wanted: bool = True, images: bool = True) -> Precision:
        """bfloat16 on a CPU with native bfloat16 (for image networks: a small MLP gains nothing), bfloat16 on a
        CUDA GPU that has it and float16 on one that does not; float32 when ``wanted`` is false."""
        device = torch.device(device)
        dtype: torch.dtype | None = None
        if wanted and device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif wanted and device.type == "cpu" and images and cpu_has_bfloat16():
            dtype = torch.bfloat16
        return cls(device.type, dtype)

    @property
    def name(self) -> str:
        return "float32" if self.dtype is None else str(self.dtype).removeprefix("torch.")

    @contextmanager
    def autocast(self) -> Iterator[None]:
        context = nullcontext() if self.dtype is None else torch.autocast(self.device_type, dtype=self.dtype)
        with context:
            yield

    def scaler(self) -> torch.amp.GradScaler:
        """float16 gradients underflow without loss scaling; bfloat16 and float32 need none (a disabled scaler
        passes everything through)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.dtype == torch.float16)
