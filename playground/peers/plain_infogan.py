"""InfoGAN on MNIST written plainly from the paper (Chen et al. 2016, appendix C and its table 1): a
10-way categorical code, 2 continuous codes Uniform(-1, 1) and 62 noise numbers; D and Q share a body
(4x4 conv 64 stride 2, 4x4 conv 128 stride 2 with BatchNorm, FC 1024 with BatchNorm, leaky ReLU 0.1),
D has one FC output and Q an FC 128 layer before its outputs; G mirrors it (FC 1024, FC 7x7x128,
4x4 up-conv 64, 4x4 up-conv to the image, BatchNorm and ReLU between; no bias before a BatchNorm,
which has its own). Adam, lr 2e-4 for D and Q,
1e-3 for G, beta1 0.5. Each step, as the authors' trainer: D and Q on real and (detached) fake
images plus the information loss, then G on the GAN loss plus the same information loss.
Q reads a continuous code as a Gaussian of standard deviation 1 (the authors' MNIST setting).

It is the benchmark's peer for our ``gans/infogan.py``; one ``train_step`` is one iteration of ours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from playground.peers.loader import endless_batches

NOISE, CATEGORIES, CONTINUOUS = 62, 10, 2


def _generator(nc: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(NOISE + CATEGORIES + CONTINUOUS, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(),
        nn.Linear(1024, 7 * 7 * 128, bias=False), nn.BatchNorm1d(7 * 7 * 128), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, nc, 4, 2, 1), nn.Tanh(),
    )


def _shared_body(nc: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(nc, 64, 4, 2, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.1),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1024, bias=False), nn.BatchNorm1d(1024), nn.LeakyReLU(0.1),
    )


class PlainInfoGAN:
    def __init__(self, images: torch.Tensor, batch_size: int = 64, device: str = "cpu") -> None:
        """``images``: N×C×28×28 floats in [-1, 1]."""
        self.device = torch.device(device)
        nc = images.size(1)
        self.G = _generator(nc).to(self.device)
        self.body = _shared_body(nc).to(self.device)
        self.d_head = nn.Linear(1024, 1).to(self.device)
        self.q_head = nn.Sequential(nn.Linear(1024, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(0.1),
                                    nn.Linear(128, CATEGORIES + CONTINUOUS)).to(self.device)
        for net in (self.G, self.body, self.d_head, self.q_head):
            for m in net.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
        d_and_q = [*self.body.parameters(), *self.d_head.parameters(), *self.q_head.parameters()]
        self.opt_d = torch.optim.Adam(d_and_q, lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-3, betas=(0.5, 0.999))
        self._batches = endless_batches(images, batch_size, self.device)

    def _information(self, q: torch.Tensor, digit: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """-log Q(c | x) less its constants: cross-entropy of the digit code, 0.5 (c - mu)^2 of the others."""
        return F.cross_entropy(q[:, :CATEGORIES], digit) + 0.5 * (cont - q[:, CATEGORIES:]).pow(2).sum(1).mean()

    def train_step(self) -> int:
        real = next(self._batches)
        b = real.size(0)
        digit = torch.randint(CATEGORIES, (b,), device=self.device)
        cont = torch.rand(b, CONTINUOUS, device=self.device) * 2 - 1
        z = torch.randn(b, NOISE, device=self.device)
        fake = self.G(torch.cat([z, F.one_hot(digit, CATEGORIES).float(), cont], 1))
        ones, zeros = torch.ones(b, device=self.device), torch.zeros(b, device=self.device)

        self.opt_d.zero_grad()
        h_fake = self.body(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(self.d_head(self.body(real)).view(-1), ones)
                  + F.binary_cross_entropy_with_logits(self.d_head(h_fake).view(-1), zeros)
                  + self._information(self.q_head(h_fake), digit, cont))
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad()
        h = self.body(fake)
        loss_g = (F.binary_cross_entropy_with_logits(self.d_head(h).view(-1), ones)
                  + self._information(self.q_head(h), digit, cont))
        loss_g.backward()
        self.opt_g.step()
        loss_g.item()  # the authors' trainer logs its losses: one sync per step, like ours
        return b
