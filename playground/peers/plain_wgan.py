"""Wasserstein GAN with weight clipping written plainly from the paper (Arjovsky, Chintala and Bottou
2017, Algorithm 1): the DCGAN networks of the PyTorch example without D's final sigmoid (a critic
gives a raw score), RMSProp with lr 5e-5 for both, the critic's weights clamped to [-0.01, 0.01]
after each of its steps, and one generator step every 5 critic steps.

It is the benchmark's peer for our ``gans/wgan.py``: a call to ``train_step`` is one critic step on a
real batch (and every fifth call also the generator's step), as one iteration of ours is.
"""

from __future__ import annotations

import torch

from playground.peers.loader import endless_batches
from playground.peers.plain_dcgan import _discriminator, _generator, _init


class PlainWGAN:
    def __init__(self, images: torch.Tensor, batch_size: int = 64, nz: int = 100, ngf: int = 64, ndf: int = 64,
                 lr: float = 5e-5, clip: float = 0.01, n_critic: int = 5, device: str = "cpu") -> None:
        """``images``: N×C×64×64 floats in [-1, 1]."""
        self.device = torch.device(device)
        self.nz, self.clip, self.n_critic = nz, clip, n_critic
        nc = images.size(1)
        self.G = _generator(nz, ngf, nc).to(self.device)
        self.D = _discriminator(ndf, nc)[:-1].to(self.device)  # the example's D without its sigmoid
        self.G.apply(_init)
        self.D.apply(_init)
        self.opt_g = torch.optim.RMSprop(self.G.parameters(), lr=lr)
        self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=lr)
        self._batches = endless_batches(images, batch_size, self.device)
        self.steps = 0

    def train_step(self) -> int:
        real = next(self._batches)
        b = real.size(0)
        # Critic: minimise mean D(fake) - mean D(real), then clip every weight (Algorithm 1, lines 2-8).
        with torch.no_grad():
            fake = self.G(torch.randn(b, self.nz, 1, 1, device=self.device))
        self.D.zero_grad()
        loss_d = self.D(fake).mean() - self.D(real).mean()
        loss_d.backward()
        self.opt_d.step()
        for p in self.D.parameters():
            p.data.clamp_(-self.clip, self.clip)
        self.steps += 1
        # Generator, every n_critic critic steps, on fresh noise (lines 9-11): minimise -mean D(G(z)).
        if self.steps % self.n_critic == 0:
            for p in self.D.parameters():
                p.requires_grad_(False)
            self.G.zero_grad()
            loss_g = -self.D(self.G(torch.randn(b, self.nz, 1, 1, device=self.device))).mean()
            loss_g.backward()
            self.opt_g.step()
            for p in self.D.parameters():
                p.requires_grad_(True)
        loss_d.item()  # the authors' script prints its losses: one sync per step, like ours
        return b
