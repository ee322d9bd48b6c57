"""Getting images into a feature network: checks that name the mistake, then channels and size."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from playground.errors import PlaygroundError
from playground.i18n import Words

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what PIL's convert("L") uses


def _checked_images(images: Tensor | np.ndarray, what: Words | None = None, minimum: int = 1) -> Tensor:
    """Check the shape and type of an image batch (values are checked batch by batch, in ``_as_float``).

    ``what`` names the batch in the sentences ("the real images"); default: images."""
    what = what or Words("gans.what_images")
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor):
        raise PlaygroundError("gans.images_not_tensor", what=what, type=type(images).__name__)
    if images.ndim != 4:
        raise PlaygroundError("gans.images_bad_shape", what=what, shape=tuple(images.shape))
    if images.shape[0] < minimum:
        raise PlaygroundError("gans.images_too_few", minimum=minimum, what=what, count=images.shape[0])
    if images.shape[1] not in (1, 3):
        raise PlaygroundError("gans.images_bad_channels", what=what, channels=images.shape[1])
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise PlaygroundError("gans.images_bad_dtype", what=what, dtype=str(images.dtype))
    return images


def _as_float(batch: Tensor, what: Words | None = None) -> Tensor:
    """Floats in [-1, 1]: uint8 (0..255) is converted; NaN or a wrong scale gets a sentence."""
    what = what or Words("gans.what_images")
    if batch.dtype == torch.uint8:
        return batch.float() / 127.5 - 1.0
    batch = batch.float()
    if not torch.isfinite(batch).all():
        raise PlaygroundError("gans.images_not_finite", what=what)
    lo, hi = float(batch.min()), float(batch.max())
    if lo < -1.05 or hi > 1.05:
        raise PlaygroundError("gans.images_bad_range", what=what, lo=lo, hi=hi)
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
