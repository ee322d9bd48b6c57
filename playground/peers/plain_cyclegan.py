"""CycleGAN at 256x256 written plainly from the paper (Zhu, Park, Isola and Efros 2017,
arXiv:1703.10593, Section 4 and Appendix 7): two ResNet generators with 9 residual blocks
(c7s1-64, d128, d256, R256 × 9, u128, u64, c7s1-3), two 70x70 PatchGANs, InstanceNorm, the
least-squares GAN loss, cycle loss λ = 10, identity loss 0.5 λ, a history of 50 generated images
for the discriminators, Adam 2e-4 with beta1 0.5, batch size 1.

It is the benchmark's peer for our ``gans/cyclegan.py``; the PatchGAN is the one the pix2pix
peer spells out.
"""

from __future__ import annotations

import itertools
import random

import torch
from torch import nn

from playground.peers.plain_pix2pix import patchgan70


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels)  # no learned scale, no running statistics


class Residual(nn.Module):
    """R256: two 3x3 convolutions with reflection padding, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet9(in_channels: int = 3, out_channels: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.ReflectionPad2d(3), nn.Conv2d(in_channels, 64, 7), _norm(64), nn.ReLU(True),  # c7s1-64
        nn.Conv2d(64, 128, 3, 2, 1), _norm(128), nn.ReLU(True),  # d128
        nn.Conv2d(128, 256, 3, 2, 1), _norm(256), nn.ReLU(True),  # d256
        *[Residual(256) for _ in range(9)],
        nn.ConvTranspose2d(256, 128, 3, 2, 1, output_padding=1), _norm(128), nn.ReLU(True),  # u128
        nn.ConvTranspose2d(128, 64, 3, 2, 1, output_padding=1), _norm(64), nn.ReLU(True),  # u64
        nn.ReflectionPad2d(3), nn.Conv2d(64, out_channels, 7), nn.Tanh(),  # c7s1-3
    )


def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class History:
    """The last 50 generated images; half the time D sees an old one instead of the new one."""

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        image = image.detach()
        if len(self.images) < self.size:
            self.images.append(image)
            return image
        if random.random() < 0.5:
            k = random.randrange(self.size)
            old, self.images[k] = self.images[k], image
            return old
        return image


class PlainCycleGAN:
    def __init__(self, a_images: torch.Tensor, b_images: torch.Tensor, device: str = "cpu") -> None:
        """``a_images``, ``b_images``: N×3×256×256 floats in [-1, 1] (unpaired; step i takes a[i], b[i])."""
        self.device = torch.device(device)
        self.a, self.b = a_images, b_images
        ca, cb = a_images.size(1), b_images.size(1)
        self.G_A, self.G_B = resnet9(ca, cb).to(self.device), resnet9(cb, ca).to(self.device)
        self.D_A = patchgan70(cb, nn.InstanceNorm2d).to(self.device)  # judges B images
        self.D_B = patchgan70(ca, nn.InstanceNorm2d).to(self.device)  # judges A images
        for net in (self.G_A, self.G_B, self.D_A, self.D_B):
            net.apply(_init)
        self.opt_g = torch.optim.Adam(itertools.chain(self.G_A.parameters(), self.G_B.parameters()), lr=2e-4,
                                      betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), lr=2e-4,
                                      betas=(0.5, 0.999))
        self.mse = nn.MSELoss()
        self.l1 = nn.L1Loss()
        self.lam = 10.0
        self.pool_a, self.pool_b = History(), History()
        self.i = 0

    def _gan(self, pred: torch.Tensor, real: bool) -> torch.Tensor:
        return self.mse(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    def train_step(self) -> int:
        k = self.i % len(self.a)
        self.i += 1
        real_a = self.a[k : k + 1].to(self.device)
        real_b = self.b[k : k + 1].to(self.device)

        # generators
        for p in itertools.chain(self.D_A.parameters(), self.D_B.parameters()):
            p.requires_grad_(False)
        self.opt_g.zero_grad()
        fake_b = self.G_A(real_a)
        fake_a = self.G_B(real_b)
        loss_idt = (self.l1(self.G_A(real_b), real_b) + self.l1(self.G_B(real_a), real_a)) * self.lam * 0.5
        loss_gan = self._gan(self.D_A(fake_b), True) + self._gan(self.D_B(fake_a), True)
        loss_cycle = (self.l1(self.G_B(fake_b), real_a) + self.l1(self.G_A(fake_a), real_b)) * self.lam
        loss_g = loss_gan + loss_cycle + loss_idt
        loss_g.backward()
        self.opt_g.step()
        for p in itertools.chain(self.D_A.parameters(), self.D_B.parameters()):
            p.requires_grad_(True)

        # discriminators
        self.opt_d.zero_grad()
        old_b, old_a = self.pool_b(fake_b), self.pool_a(fake_a)
        loss_d_a = 0.5 * (self._gan(self.D_A(real_b), True) + self._gan(self.D_A(old_b), False))
        loss_d_b = 0.5 * (self._gan(self.D_B(real_a), True) + self._gan(self.D_B(old_a), False))
        (loss_d_a + loss_d_b).backward()
        self.opt_d.step()
        loss_g.item()  # one sync per step, like ours
        return 1
