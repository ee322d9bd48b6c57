"""Atari frame stacks into a convolutional network, as fast as the CPU allows, for every image agent.

Frames stay uint8 from the emulator to the network (the env, rollout buffers and replay memories keep bytes);
:func:`through` turns a batch into the first convolution's input in one pass, straight to the format the
convolutions compute in (bfloat16 where the CPU or GPU computes it, else float32) and in channels-last memory
order, which oneDNN's convolutions run without reordering; the 1/255 scaling goes into that convolution's
weights. Measured on a 2-core Xeon with AMX (forward, backward and Adam step of the Nature CNN with policy and
value heads, batch 256): 45.7 ms with float32 frames under bfloat16 autocast (what SB3's preprocessing gives),
about 31 ms with this; 108.8 ms against 71.4 ms in plain float32 (docs/benchmarks.md, issue 20's section).

Only memory order and the moment of the conversion change: the weights are the same numbers with the same names,
so checkpoints load with or without it.

Batches that are trained on more than once (PPO's rollout, four epochs of minibatches) can be packed once
beforehand (:func:`pack`): channels last, and each 4x4 tile of pixels folded into the channels, so that the first
convolution (8x8, stride 4) becomes the same sums as a 2x2 convolution with stride 1 over 64 channels, which oneDNN
runs faster (batch 256 in bfloat16 on a 2-core Zen 5 EPYC, forward and backward: 5.7 against 8.8 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def is_image(shape: Sequence[int], dtype: Any) -> bool:
    """A stack of uint8 frames, channels first (Atari's 4x84x84)."""
    return len(shape) == 3 and np.dtype(dtype) == np.uint8


def nature_cnn(channels: int) -> nn.Sequential:
    """The convolutions of Mnih et al. 2015 (Methods, "Model architecture"): 32 8x8 filters with stride 4, 64 4x4
    with stride 2, 64 3x3 with stride 1, each followed by a ReLU; flattened (3136 features for 84x84). The
    paper's 512-unit layer is the caller's (dueling splits it into two streams). Weights in channels-last order."""
    return channels_last(nn.Sequential(
        nn.Conv2d(channels, 32, kernel_size=8, stride=4), nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
        nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
        nn.Flatten(),
    ))


def channels_last(module: nn.Module) -> nn.Module:
    """The module's convolution weights in channels-last order (other tensors are untouched); returns it."""
    return module.to(memory_format=torch.channels_last)


# From this many frame stacks on, converting straight into a channels-last tensor beats converting and then
# reordering (PPO's 256: 4.7 ms against 11.9 ms); below it the reverse holds, by a little (8: 0.13 against 0.08 ms).
_COPY_INTO_CHANNELS_LAST_FROM = 64
SCALE = 1.0 / 255.0


def bytes_in(obs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """uint8 frame stacks (N x C x H x W) as ``dtype`` numbers 0..255 (exact, bfloat16 included), channels last, in
    one pass over the batch."""
    if obs.dim() == 4 and obs.shape[0] >= _COPY_INTO_CHANNELS_LAST_FROM:
        return torch.empty(obs.shape, dtype=dtype, device=obs.device, memory_format=torch.channels_last).copy_(obs)
    return obs.to(dtype).contiguous(memory_format=torch.channels_last)


def through(layers: nn.Sequential, frames: torch.Tensor, *, folded: bool = False) -> torch.Tensor:
    """``layers`` (whose first module is the first convolution, or a Sequential that starts with it) applied to
    frames scaled to [0, 1]. For uint8 frames the 1/255 goes into the first convolution's weights (8k numbers)
    instead of into the input (7M for PPO's 256 frame stacks): one pass less over the batch, 10% of an update.
    ``folded``: that convolution's weights hold the 1/255 already (a copy made for acting). The format is
    autocast's while it is on, else the weights'. Floating-point frames are taken as scaled already. uint8 frames
    may come packed by :func:`pack` (their channels then number the convolution's times its stride squared)."""
    first, *rest = layers
    if isinstance(first, nn.Sequential):
        x = through(first, frames, folded=folded)
    elif frames.dtype != torch.uint8:
        if folded:
            raise ValueError("folded weights take uint8 frames only")
        x = first(frames.contiguous(memory_format=torch.channels_last))
    else:
        conv: nn.Conv2d = first  # type: ignore[assignment]
        x = bytes_in(frames, compute_dtype(frames.device.type) or conv.weight.dtype)
        weight = conv.weight if folded else conv.weight * SCALE
        if frames.shape[1] == conv.in_channels:
            x = F.conv2d(x, weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        else:  # frames pack()ed into tiles of the convolution's stride
            x = F.conv2d(x, packed_weight(weight, packing(conv)), conv.bias)
    for layer in rest:
        x = layer(x)
    return x


def packing(conv: nn.Conv2d, frame_size: Sequence[int] = ()) -> int:
    """The tile size :func:`pack` uses for frames (of ``frame_size``, height and width) into ``conv``: its stride,
    or 1 where the frames or the convolution do not split into such tiles (a kernel that is not a multiple of the
    stride, padding, dilation, groups)."""
    block = conv.stride[0]
    plain = conv.padding == (0, 0) and conv.dilation == (1, 1) and conv.groups == 1 and conv.stride[1] == block
    fits = all(size % block == 0 for size in (*conv.kernel_size, *frame_size))
    return block if plain and fits else 1


def pack(frames: torch.Tensor, block: int) -> torch.Tensor:
    """uint8 frame stacks (N x C x H x W) with each ``block`` x ``block`` tile of pixels folded into the channels:
    N x C·block² x H/block x W/block, channels last in memory (so its rows are contiguous NHWC frames), channel
    ``(i·block + j)·C + c`` holding channel c of the tile's pixel (i, j). The same bytes, in the order a
    convolution with stride ``block`` reads them; :func:`through` takes them as they are. ``block`` 1 only
    reorders to channels last. H and W must be multiples of ``block``."""
    n, c, h, w = frames.shape
    if h % block or w % block:
        raise ValueError(f"frames of {h}x{w} do not split into tiles of {block}")
    rows = frames.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)  # N x H x W x C, contiguous
    tiles = rows.reshape(n, h // block, block, w // block, block * c).transpose(2, 3).contiguous()
    return tiles.reshape(n, h // block, w // block, block * block * c).permute(0, 3, 1, 2)


def packed_weight(weight: torch.Tensor, block: int) -> torch.Tensor:
    """A convolution's weights (O x C x K x K, stride ``block``) rearranged for input packed by :func:`pack`: O x
    C·block² x K/block x K/block, stride 1, the same sums. Differentiable, so gradients reach the original."""
    out, c, kh, kw = weight.shape
    tiles = weight.reshape(out, c, kh // block, block, kw // block, block).permute(0, 3, 5, 1, 2, 4)
    return tiles.reshape(out, block * block * c, kh // block, kw // block).contiguous(memory_format=torch.channels_last)


def compute_dtype(device_type: str) -> torch.dtype | None:
    """The format autocast computes convolutions in on this kind of device right now (bfloat16 or float16), or None
    outside autocast."""
    return torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
