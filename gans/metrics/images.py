"""Getting images into a feature network: checks that name the mistake, then channels and size."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from playground.errors import PlaygroundError

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what PIL's convert("L") uses


def _checked_images(images: Tensor | np.ndarray, what: str = "images", minimum: int = 1) -> Tensor:
    """Check the shape and type of an image batch (values are checked batch by batch, in ``_as_float``)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor):
        raise PlaygroundError(f"the {what} must be a tensor of shape N×C×H×W, not {type(images).__name__}.")
    if images.ndim != 4:
        raise PlaygroundError(f"the {what} must have shape N×C×H×W, not {tuple(images.shape)}.")
    if images.shape[0] < minimum:
        raise PlaygroundError(
            f"measuring quality needs at least {minimum} {what}, got {images.shape[0]}; generate or load more images."
        )
    if images.shape[1] not in (1, 3):
        raise PlaygroundError(
            f"the {what} have {images.shape[1]} channels; quality can be measured on 1-channel (grayscale) "
            "or 3-channel (RGB) images, given as N×C×H×W."
        )
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise PlaygroundError(f"the {what} must be floats in [-1, 1] or uint8, not {images.dtype}.")
    return images


def _as_float(batch: Tensor, what: str = "images") -> Tensor:
    """Floats in [-1, 1]: uint8 (0..255) is converted; NaN or a wrong scale gets a sentence."""
    if batch.dtype == torch.uint8:
        return batch.float() / 127.5 - 1.0
    batch = batch.float()
    if not torch.isfinite(batch).all():
        raise PlaygroundError(f"the {what} contain NaN or infinity; the generator has probably diverged.")
    lo, hi = float(batch.min()), float(batch.max())
    if lo < -1.05 or hi > 1.05:
        raise PlaygroundError(
            f"the {what} range from {lo:.3g} to {hi:.3g}; scale them to [-1, 1] (x / 127.5 - 1 for 0..255 pixels)."
        )
    return batch.clamp(-1.0, 1.0)


def _to_network_input(x: Tensor, channels: int, size: int, antialias: bool = True) -> Tensor:
    """Match the network's channels and size: gray→RGB by repeating, RGB→gray by luma; bilinear resize.

    FID resizes without antialiasing (as pytorch-fid does), so its numbers stay comparable; our own
    networks antialias, which only matters when shrinking large images."""
    if x.shape[1] != channels:
        if channels == 3:
            x = x.expand(-1, 3, -1, -1)
        else:
            weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            x = (x * weights).sum(dim=1, keepdim=True)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
    return x
