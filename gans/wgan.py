"""Wasserstein GAN (Arjovsky, Chintala and Bottou 2017, arXiv:1701.07875), with weight clipping or,
for comparison on the same networks, the gradient penalty of WGAN-GP (Gulrajani et al. 2017,
arXiv:1704.00028).

The discriminator becomes a *critic*: it outputs a raw score, no sigmoid, and is trained to make
mean D(real) − mean D(fake) as large as it can while staying K-Lipschitz. That gap is then an
estimate of the Wasserstein-1 (earth mover's) distance between the data and the generator's
images, up to the constant K; the paper shows it falling as the samples improve (section 4.2,
Figures 3 and 4), which is why we log it as ``critic/wasserstein``. The generator minimises
−mean D(G(z)).

Each iteration is one critic step on a real batch and a fresh fake batch; every ``n_critic``-th
iteration also takes one generator step on a fresh z, as in Algorithm 1 (lines 2-11).

- ``constraint: clip`` (the paper): after every critic update, every critic parameter is clamped to
  [−c, c] (Algorithm 1, line 7), so the first step's scores come from the unclipped initial critic
  and iteration 1's estimate stands apart from the rest. Paper defaults (stated with Algorithm 1;
  DCGAN networks, section 4.1): RMSProp, lr α = 5e-5, c = 0.01, n_critic 5, batch m = 64.
  Section 4.2 reports that a momentum optimizer such as Adam (β1 > 0) made the clipped critic's
  training unstable, hence RMSProp; ``warnings`` says so when ``optimizer: adam`` comes with clipping.
- ``constraint: gp`` (WGAN-GP, Algorithm 1 there): no clipping; λ·(‖∇D(x̂)‖₂ − 1)² on random points
  between real and fake is added to the critic's loss; Adam lr 1e-4, betas (0, 0.9), λ = 10,
  n_critic 5, and no BatchNorm in the critic (the penalty is per sample; layer norm instead, as
  the paper's section 4 recommends).

Not taken from the authors' code (martinarjovsky/WassersteinGAN): its 100 critic steps per
generator step for the first 25 generator steps and every 500th; Algorithm 1 has none.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from gans import networks
from gans.base import GanModel, Hyperparameters
from gans.dcgan import DCGAN
from playground.i18n import Words


class WGANHyperparameters(Hyperparameters):
    nz: int = Field(100, gt=0, description="length of the noise vector z")
    ngf: int = Field(64, gt=0, description="generator width (channels of its last hidden layer)")
    ndf: int = Field(64, gt=0, description="critic width (channels of its first layer)")
    lr_g: float = Field(5e-5, gt=0, description="generator learning rate (paper: 5e-5 with RMSProp; WGAN-GP: 1e-4)")
    lr_d: float = Field(5e-5, gt=0, description="critic learning rate (paper: 5e-5 with RMSProp; WGAN-GP: 1e-4)")
    n_critic: int = Field(5, gt=0, description="critic steps per generator step (both papers: 5)")
    constraint: Literal["clip", "gp"] = Field(
        "clip", description="how the critic stays Lipschitz: clip weights (WGAN) or penalise its gradient (WGAN-GP)")
    clip: float = Field(
        0.01, gt=0, description="clipping: critic weights are clamped to [-clip, clip] after each step (paper: 0.01)")
    gp_lambda: float = Field(10.0, ge=0, description="gradient penalty: weight of the penalty (WGAN-GP: 10)")
    optimizer: Literal["rmsprop", "adam"] = Field(
        "rmsprop", description="optimizer of both networks (WGAN: rmsprop; WGAN-GP: adam)")
    beta1: float = Field(0.0, ge=0, lt=1, description="Adam only: first-moment decay (WGAN-GP: 0)")
    beta2: float = Field(0.9, ge=0, lt=1, description="Adam only: second-moment decay (WGAN-GP: 0.9)")


class WGAN(DCGAN):
    """DCGAN's networks, sampling and checkpoint state, with a Wasserstein critic in place of D.

    Sampling (``fixed_inputs``, ``render``, ``generate``, ``sample``), the 32/64 size check and the
    ``iteration`` counter in ``extra_state`` are DCGAN's, inherited unchanged."""

    name = "wgan"
    title = "Wasserstein GAN"
    Hyperparameters = WGANHyperparameters
    conditional = False

    def __init__(self, hp: WGANHyperparameters, **kwargs: Any) -> None:
        # DCGAN's __init__ builds Adam and picks the critic's norm from its ``loss`` setting; the networks
        # are the same classes, built here with the optimizer and norm this model's settings ask for.
        GanModel.__init__(self, hp, **kwargs)
        self.classes = 0
        # Clipping keeps BatchNorm in the critic, as the WGAN authors' DCGAN critic had (their code's
        # DCGAN_D; the paper's runs without BatchNorm, section 4.3, remove it from the generator only). The gradient
        # penalty is per sample and BatchNorm mixes samples, so gp uses the layer norm that DCGAN's
        # ``loss: wgan-gp`` uses (GroupNorm with one group).
        norm = "batch" if hp.constraint == "clip" else "layer"
        self.G = self.precision.prepare(networks.init_normal(
            networks.DCGANGenerator(hp.nz, hp.ngf, self.channels, self.image_size)))
        self.D = self.precision.prepare(networks.init_normal(
            networks.DCGANDiscriminator(hp.ndf, self.channels, self.image_size, 0, norm)))
        self.nets = {"G": self.G, "D": self.D}
        self.optimizers = {"G": self._optimizer(self.G, hp.lr_g), "D": self._optimizer(self.D, hp.lr_d)}
        self.iteration = 0

    def _optimizer(self, net: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.hp.optimizer == "rmsprop":  # PyTorch's defaults (alpha 0.99), as the authors' code
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        return networks.adam(net.parameters(), lr, (self.hp.beta1, self.hp.beta2))

    @classmethod
    def warnings(cls, hp: WGANHyperparameters) -> list[Words]:
        if hp.optimizer == "adam" and hp.constraint == "clip":
            return [Words("wgan.adam_with_clipping", beta1=hp.beta1)]
        return []

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        hp, p = self.hp, self.precision
        real = p.images(batch[0])
        z = torch.randn(real.size(0), hp.nz, device=self.device)

        # Critic: maximise mean D(real) − mean D(fake), i.e. minimise its negative ("wgan-gp" in
        # networks.adversarial_loss is that Wasserstein loss, whichever constraint is used).
        with p.autocast():
            with torch.no_grad():  # G gets no gradient from the critic's step
                fake = self.G(z)
            d_real = self.D(real)
            d_fake = self.D(fake)
            loss_d = (networks.adversarial_loss(d_real, True, "wgan-gp")
                      + networks.adversarial_loss(d_fake, False, "wgan-gp"))
        out: dict[str, float] = {}
        if hp.constraint == "gp":
            penalty = networks.gradient_penalty(self.D, real, fake)
            loss_d = loss_d + hp.gp_lambda * penalty
            out["critic/penalty"] = penalty.item()
        p.step(loss_d, self.optimizers["D"])
        if hp.constraint == "clip":
            out["critic/clipped_fraction"] = self._clip_critic()
        real_mean, fake_mean = d_real.float().mean().item(), d_fake.float().mean().item()
        out |= {"loss/d": loss_d.item(), "critic/real": real_mean, "critic/fake": fake_mean,
                "critic/wasserstein": real_mean - fake_mean}

        # Generator, every n_critic iterations, on a fresh z (Algorithm 1, lines 9-11): minimise −mean D(G(z)).
        self.iteration += 1
        if self.iteration % hp.n_critic == 0:
            self.D.requires_grad_(False)  # no critic gradients to compute for the generator's step
            try:
                with p.autocast():
                    z = torch.randn(real.size(0), hp.nz, device=self.device)
                    loss_g = networks.adversarial_loss(self.D(self.G(z)), True, "wgan-gp")
                p.step(loss_g, self.optimizers["G"])
            finally:
                self.D.requires_grad_(True)
            out["loss/g"] = loss_g.item()
        return out

    @torch.no_grad()
    def _clip_critic(self) -> float:
        """Clamp every critic parameter to [−clip, clip] (Algorithm 1, line 7); returns the share now at ±clip."""
        c = self.hp.clip
        params = list(self.D.parameters())
        for param in params:
            param.clamp_(-c, c)
        at_bound = torch.stack([(param.abs() >= c).sum() for param in params]).sum()
        return at_bound.item() / sum(param.numel() for param in params)
