"""pix2pix at 256x256 written plainly from the paper (Isola, Zhu, Zhou and Efros 2017,
arXiv:1611.07004, Section 3.2 and Appendix 6.1.1): the U-Net 256 generator
(C64-C128-C256-C512-C512-C512-C512-C512 down, CD512-CD512-CD512-C512-C256-C128-C64 up with a
skip from each mirrored layer), the 70x70 PatchGAN (C64-C128-C256-C512), BatchNorm, the
cross-entropy GAN loss plus 100 × L1, Adam 2e-4 with beta1 0.5, batch size 1.

It is the benchmark's peer for our ``gans/pix2pix.py``: every layer is spelled out in order, the
way a reader of the paper would write it, with no platform around it.
"""

from __future__ import annotations

import torch
from torch import nn


def _down(c_in: int, c_out: int, norm: bool = True) -> nn.Sequential:
    """LeakyReLU(0.2) → 4x4 stride-2 conv (→ BatchNorm): one encoder step, halving the picture."""
    layers: list[nn.Module] = [nn.LeakyReLU(0.2, True), nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


def _up(c_in: int, c_out: int, dropout: bool = False) -> nn.Sequential:
    """ReLU → 4x4 stride-2 transposed conv → BatchNorm (→ Dropout 0.5): one decoder step."""
    layers: list[nn.Module] = [nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                               nn.BatchNorm2d(c_out)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers)


class UNet256(nn.Module):
    """Eight halvings take 256x256 to 1x1; each decoder output is concatenated with its mirror."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        self.e1 = nn.Conv2d(in_channels, 64, 4, 2, 1, bias=False)  # C64 has no BatchNorm
        self.e2 = _down(64, 128)
        self.e3 = _down(128, 256)
        self.e4 = _down(256, 512)
        self.e5 = _down(512, 512)
        self.e6 = _down(512, 512)
        self.e7 = _down(512, 512)
        self.e8 = _down(512, 512, norm=False)  # the 1x1 bottleneck is not normalised
        self.d8 = _up(512, 512)
        self.d7 = _up(1024, 512, dropout=True)
        self.d6 = _up(1024, 512, dropout=True)
        self.d5 = _up(1024, 512, dropout=True)
        self.d4 = _up(1024, 256)
        self.d3 = _up(512, 128)
        self.d2 = _up(256, 64)
        self.d1 = nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(128, out_channels, 4, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.e1(x)
        e2 = self.e2(e1)
        e3 = self.e3(e2)
        e4 = self.e4(e3)
        e5 = self.e5(e4)
        e6 = self.e6(e5)
        e7 = self.e7(e6)
        e8 = self.e8(e7)
        d = torch.cat([e7, self.d8(e8)], 1)
        d = torch.cat([e6, self.d7(d)], 1)
        d = torch.cat([e5, self.d6(d)], 1)
        d = torch.cat([e4, self.d5(d)], 1)
        d = torch.cat([e3, self.d4(d)], 1)
        d = torch.cat([e2, self.d3(d)], 1)
        d = torch.cat([e1, self.d2(d)], 1)
        return self.d1(d)


def patchgan70(in_channels: int, norm: type[nn.Module] = nn.BatchNorm2d) -> nn.Sequential:
    """C64-C128-C256-C512 then a 1-channel conv: each output sees a 70x70 patch of the input.
    Convolutions before a BatchNorm carry no bias; with InstanceNorm (CycleGAN) they do."""
    bias = norm is nn.InstanceNorm2d
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=bias), norm(128), nn.LeakyReLU(0.2, True),
        nn.Conv2d(128, 256, 4, 2, 1, bias=bias), norm(256), nn.LeakyReLU(0.2, True),
        nn.Conv2d(256, 512, 4, 1, 1, bias=bias), norm(512), nn.LeakyReLU(0.2, True),
        nn.Conv2d(512, 1, 4, 1, 1),
    )


def init_weights(m: nn.Module) -> None:
    """Gaussian N(0, 0.02) weights, as in the paper; BatchNorm scales around 1."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class PlainPix2Pix:
    def __init__(self, a_images: torch.Tensor, b_images: torch.Tensor, device: str = "cpu",
                 lambda_l1: float = 100.0) -> None:
        """``a_images``, ``b_images``: N×3×256×256 floats in [-1, 1], pair i = (a[i], b[i])."""
        self.device = torch.device(device)
        self.a, self.b = a_images, b_images
        self.G = UNet256(a_images.size(1), b_images.size(1)).to(self.device)
        self.D = patchgan70(a_images.size(1) + b_images.size(1)).to(self.device)
        self.G.apply(init_weights)
        self.D.apply(init_weights)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.gan_loss = nn.BCEWithLogitsLoss()
        self.l1 = nn.L1Loss()
        self.lambda_l1 = lambda_l1
        self.i = 0

    def train_step(self) -> int:
        """One pair (batch size 1): D on (A, real B) and (A, G(A)), then G; returns 1."""
        k = self.i % len(self.a)
        self.i += 1
        real_a = self.a[k : k + 1].to(self.device)
        real_b = self.b[k : k + 1].to(self.device)
        fake_b = self.G(real_a)

        self.opt_d.zero_grad()
        pred_fake = self.D(torch.cat([real_a, fake_b.detach()], 1))
        pred_real = self.D(torch.cat([real_a, real_b], 1))
        loss_d = 0.5 * (self.gan_loss(pred_fake, torch.zeros_like(pred_fake))
                        + self.gan_loss(pred_real, torch.ones_like(pred_real)))
        loss_d.backward()
        self.opt_d.step()

        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad()
        pred_fake = self.D(torch.cat([real_a, fake_b], 1))
        loss_g = self.gan_loss(pred_fake, torch.ones_like(pred_fake)) + self.lambda_l1 * self.l1(fake_b, real_b)
        loss_g.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        loss_g.item()  # a training script reports its losses: one sync per step, like ours
        return 1
