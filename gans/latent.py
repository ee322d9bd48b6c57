"""Moving through a generator's latent space: the math behind the latent walk and steering.

A generator maps a noise vector z to an image; nearby vectors give similar images. Three ways to
move, each a few lines of tensor arithmetic with no knowledge of any model:

- ``slerp``: the spherical path between two noise vectors. Gaussian noise in many dimensions lies
  near a sphere of radius about sqrt(d); the straight line between two such points cuts through the
  unlikely middle, where a generator has seen little (White 2016, "Sampling Generative Networks",
  arXiv:1609.04468).
- ``path``: ``steps`` points from ``a`` to ``b`` along that arc, ends included.
- ``arithmetic``: a − b + c, the DCGAN paper's "vector arithmetic" (Radford et al. 2016,
  arXiv:1511.06434, section 6.3): what makes ``a`` differ from ``b``, added to ``c``. The paper
  averaged three samples per concept; one each is noisier but is what a learner picks by hand.
"""

from __future__ import annotations

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Row-wise spherical interpolation between ``a`` and ``b`` (N×D each) at ``t`` in [0, 1];
    rows that point the same way (or exactly opposite) fall back to the straight line."""
    unit_a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-8)
    unit_b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-8)
    omega = torch.acos((unit_a * unit_b).sum(1, keepdim=True).clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    straight = sin.abs() < 1e-6
    safe = torch.where(straight, torch.ones_like(sin), sin)
    curved = torch.sin((1 - t) * omega) / safe * a + torch.sin(t * omega) / safe * b
    return torch.where(straight, (1 - t) * a + t * b, curved)


def path(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` (≥ 2) vectors on the arc from ``a`` to ``b`` (each a D-vector), ``a`` first and ``b`` last."""
    if steps < 2:
        raise ValueError("a path needs at least its two ends")
    a, b = a.reshape(1, -1).float(), b.reshape(1, -1).float()
    return torch.cat([slerp(a, b, i / (steps - 1)) for i in range(steps)])


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a − b + c, element-wise (any shape, all three alike)."""
    return a.float() - b.float() + c.float()
