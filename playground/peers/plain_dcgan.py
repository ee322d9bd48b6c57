"""DCGAN at 64x64 written plainly, as the PyTorch examples teach it: two nn.Sequential networks,
a Sigmoid on D with nn.BCELoss, a DataLoader over a tensor dataset, labels filled per batch.

It is the benchmark's peer for our ``gans/dcgan.py``; it trains the same published architecture
(Radford et al. 2016) with the same optimiser settings.
"""

from __future__ import annotations

import torch
from torch import nn

from playground.peers.loader import endless_batches


def _generator(nz: int, ngf: int, nc: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
    )


def _discriminator(ndf: int, nc: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )


def _init(m: nn.Module) -> None:
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class PlainDCGAN:
    def __init__(self, images: torch.Tensor, batch_size: int = 64, nz: int = 100, ngf: int = 64, ndf: int = 64,
                 device: str = "cpu") -> None:
        """``images``: N×C×64×64 floats in [-1, 1]."""
        self.device = torch.device(device)
        self.nz = nz
        nc = images.size(1)
        self.G = _generator(nz, ngf, nc).to(self.device)
        self.D = _discriminator(ndf, nc).to(self.device)
        self.G.apply(_init)
        self.D.apply(_init)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.loss = nn.BCELoss()
        self._batches = endless_batches(images, batch_size, self.device)

    def train_step(self) -> int:
        real = next(self._batches)
        b = real.size(0)
        ones = torch.full((b,), 1.0, device=self.device)
        zeros = torch.full((b,), 0.0, device=self.device)
        self.D.zero_grad()
        loss_real = self.loss(self.D(real).view(-1), ones)
        loss_real.backward()
        fake = self.G(torch.randn(b, self.nz, 1, 1, device=self.device))
        loss_fake = self.loss(self.D(fake.detach()).view(-1), zeros)
        loss_fake.backward()
        self.opt_d.step()
        self.G.zero_grad()
        loss_g = self.loss(self.D(fake).view(-1), ones)
        loss_g.backward()
        self.opt_g.step()
        loss_g.item()  # the example prints its losses every iteration: one sync per step, like ours
        return b
