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

An update whose forward pass meets the weights and frames that acting already ran through the layers (A2C's one
gradient step per rollout) need not run them again: :func:`through` keeps the ReLUs' outputs when asked, and
:func:`through_known` turns them into the same result with autograd's own backward pass (the same gradients, bit
for bit). A2C on Pong, 2-core Zen 5 EPYC: 2,454 against 2,369 steps/s (medians of ten alternating rounds).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


def through(
    layers: Sequence[nn.Module], frames: torch.Tensor, *, folded: bool = False, keep: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """``layers`` (whose first module is the first convolution, or a Sequential that starts with it; later ones may
    be Sequentials too) applied to frames scaled to [0, 1]. For uint8 frames the 1/255 goes into the first
    convolution's weights (8k numbers) instead of into the input (7M for PPO's 256 frame stacks): one pass less over
    the batch, 10% of an update. ``folded``: that convolution's weights hold the 1/255 already (a copy made for
    acting). The format is autocast's while it is on, else the weights'. Floating-point frames are taken as scaled
    already. uint8 frames may come packed by :func:`pack` (their channels then number the convolution's times its
    stride squared). ``keep``: a list that gets every ReLU's output, in order (what :func:`through_known` takes)."""
    first, *rest = layers
    if isinstance(first, nn.Sequential):
        x = through(first, frames, folded=folded, keep=keep)
    elif frames.dtype != torch.uint8:
        if folded:
            raise ValueError("folded weights take uint8 frames only")
        x = first(frames.contiguous(memory_format=torch.channels_last))
    else:
        conv: nn.Conv2d = first  # type: ignore[assignment]
        x = bytes_in(frames, compute_dtype(frames.device.type) or conv.weight.dtype)
        weight, args = _first_convolution(conv, frames, conv.weight if folded else conv.weight * SCALE)
        x = F.conv2d(x, weight, conv.bias, *args)
    for layer in _leaves(rest):
        x = layer(x)
        if keep is not None and isinstance(layer, nn.ReLU):
            keep.append(x)
    return x


def _first_convolution(conv: nn.Conv2d, frames: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """The first convolution's ``weight`` and (stride, padding, dilation, groups) for ``frames``: as they are, or
    rearranged for frames that :func:`pack` folded into tiles of its stride (the same sums, stride 1)."""
    if frames.shape[1] == conv.in_channels:
        return weight, _convolution(conv)
    return packed_weight(weight, packing(conv)), ((1, 1), (0, 0), (1, 1), 1)


def _convolution(conv: nn.Conv2d) -> tuple[Any, ...]:
    return conv.stride, conv.padding, conv.dilation, conv.groups


def _leaves(layers: Sequence[nn.Module]) -> Iterator[nn.Module]:
    for layer in layers:
        if isinstance(layer, nn.Sequential):
            yield from _leaves(layer)
        else:
            yield layer


class _KnownOutput(torch.autograd.Function):
    """A convolution or linear layer and the ReLU after it, whose output is known already: forward hands it back,
    backward is what autograd computes for the two (ReLU's threshold_backward, then the layer's own)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, output: torch.Tensor,
                conv: tuple[Any, ...] | None) -> torch.Tensor:
        ctx.conv = conv  # (stride, padding, dilation, groups), or None for a linear layer
        ctx.save_for_backward(x, weight, output)
        return output.detach()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, output = ctx.saved_tensors
        grad = torch.ops.aten.threshold_backward(grad, output, 0)
        if ctx.conv is None:
            grad_x = grad.mm(weight) if ctx.needs_input_grad[0] else None
            return grad_x, grad.t().mm(x), grad.sum(0), None, None
        stride, padding, dilation, groups = ctx.conv
        grad_x, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[0]], stride, padding, dilation, False, [0] * len(stride), groups,
            [ctx.needs_input_grad[0], True, True])
        return grad_x, grad_weight, grad_bias, None, None


def through_known(layers: Sequence[nn.Module], frames: torch.Tensor, outputs: Sequence[torch.Tensor],
                  dtype: torch.dtype) -> torch.Tensor:
    """What ``through(layers, frames)`` gives in ``dtype``, with its graph for the backward pass, computing no layer:
    ``outputs`` are its ReLUs' outputs for these very frames and weights, kept by ``through(..., keep=...)`` when
    they were computed before (A2C acts with the weights of its one update, on the frames it then learns from).
    The backward pass is autograd's for each layer and its ReLU, on the same tensors. ``layers``: convolutions and
    linear layers each followed by a ReLU, and Flatten; uint8 frames, plain or packed, as :func:`through` takes."""
    leaves, known = list(_leaves(layers)), iter(outputs)
    x = bytes_in(frames, dtype)
    for i, layer in enumerate(leaves):
        if isinstance(layer, nn.Flatten):
            x = layer(x)
            continue
        if isinstance(layer, nn.ReLU):
            continue
        followed_by_relu = i + 1 < len(leaves) and isinstance(leaves[i + 1], nn.ReLU)
        if not isinstance(layer, (nn.Conv2d, nn.Linear)) or layer.bias is None or not followed_by_relu:
            raise ValueError(f"through_known takes layers with biases each followed by a ReLU, not {layer}")
        weight, conv = layer.weight, None
        if isinstance(layer, nn.Conv2d):
            first = i == 0  # it takes the frames: the 1/255 in its weights, packed frames allowed
            weight, conv = _first_convolution(layer, frames, weight * SCALE) if first else (weight, _convolution(layer))
        x = _KnownOutput.apply(x, weight.to(dtype), layer.bias.to(dtype), next(known), conv)
    return x


def as_rows(outputs: torch.Tensor) -> torch.Tensor:
    """A batch of channels-last feature maps as the contiguous rows of its memory (N x H x W x C); others as they
    are. :func:`from_rows` undoes it."""
    return outputs.permute(0, 2, 3, 1) if outputs.dim() == 4 else outputs


def from_rows(outputs: torch.Tensor) -> torch.Tensor:
    return outputs.permute(0, 3, 1, 2) if outputs.dim() == 4 else outputs


def packing(conv: nn.Conv2d, frame_size: Sequence[int] = ()) -> int:
    """The tile size :func:`pack` uses for frames (of ``frame_size``, height and width) into ``conv``: its stride,
    or 1 where the frames or the convolution do not split into such tiles (a kernel that is not a multiple of the
    stride, padding, dilation, groups)."""
    block = conv.stride[0]
    plain = conv.padding == (0, 0) and conv.dilation == (1, 1) and conv.groups == 1 and conv.stride[1] == block
    fits = all(size % block == 0 for size in (*conv.kernel_size, *frame_size))
    return block if plain and fits else 1


def rows_of(frames: torch.Tensor) -> torch.Tensor:
    """Frame stacks (N x C x H x W) as the rows of channels-last memory, N x H x W x C, contiguous: the stack's frames
    interleaved plane by plane, which for Atari's 4 uint8 frames beats torch's reorder to channels last (8 stacks:
    44 against 50 us; PPO's rollout of 1,024: 4.0-4.2 against 5.9-6.9 ms; 2-core Zen 5 EPYC)."""
    return torch.stack(frames.unbind(1), dim=-1)


def pack(frames: torch.Tensor, block: int) -> torch.Tensor:
    """uint8 frame stacks (N x C x H x W) with each ``block`` x ``block`` tile of pixels folded into the channels:
    N x C·block² x H/block x W/block, channels last in memory (so its rows are contiguous NHWC frames), channel
    ``(i·block + j)·C + c`` holding channel c of the tile's pixel (i, j). The same bytes, in the order a
    convolution with stride ``block`` reads them; :func:`through` takes them as they are. ``block`` 1 only
    reorders to channels last. H and W must be multiples of ``block``."""
    return from_rows(pack_rows(rows_of(frames), block))


def pack_rows(rows: torch.Tensor, block: int) -> torch.Tensor:
    """:func:`pack` for frames given as :func:`rows_of` gives them (N x H x W x C), returning the packed rows
    (N x H/block x W/block x C·block², contiguous). Each row of a tile (``block`` pixels, C·block bytes, 16 for Atari)
    is contiguous in both and moves as one number of that many bytes where a dtype that wide exists: a plain copy,
    the same bytes, and far faster than moving them one by one (PPO's rollout of 1,024 frame stacks: 1.3–1.8
    against 3.8 ms; A2C's 80: 0.05 against 0.29 ms)."""
    n, h, w, c = rows.shape
    if h % block or w % block:
        raise ValueError(f"frames of {h}x{w} do not split into tiles of {block}")
    dtype, run = rows.dtype, block * c * rows.element_size()
    data = rows.contiguous().view(torch.uint8)
    wide = next(t for t in _WIDEST if run % t.itemsize == 0 and data.data_ptr() % t.itemsize == 0)
    tiles = data.reshape(n, h // block, block, w // block, run).view(wide).transpose(2, 3).contiguous()
    return tiles.view(torch.uint8).view(dtype).reshape(n, h // block, w // block, block * block * c)


# The widest numbers a tile's row of bytes may move as (pack_rows); only copied, never computed with.
_WIDEST = (torch.complex128, torch.int64, torch.int32, torch.int16, torch.uint8)


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
