"""CycleGAN (Zhu, Park, Isola and Efros 2017, arXiv:1703.10593): translation between two image
sets with no pairs.

Two generators (G_A: A→B, G_B: B→A) and two PatchGAN discriminators (D_A judges B images, D_B
judges A images). Besides fooling the discriminators, an image sent there and back must come
back (cycle loss, λ = 10 each way), and an image already in the target domain should pass
unchanged (identity loss, 0.5 × λ). Paper and reference-code defaults: ResNet generators (9
blocks at 256x256, 6 below), InstanceNorm, least-squares GAN loss, discriminators fed from a
history of 50 generated images, Adam lr 2e-4, beta1 0.5, batch 1, learning rate constant for
the first half, then linearly to zero.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from gans import networks
from gans.base import GanModel, Hyperparameters, fixed_pairs, linear_decay
from gans.pix2pix import as_rgb
from playground.errors import BadConfig


class CycleGANHyperparameters(Hyperparameters):
    ngf: int = Field(64, gt=0, description="generator width")
    ndf: int = Field(64, gt=0, description="discriminator width")
    n_blocks: int | None = Field(None, gt=0, description="residual blocks (default 9 at 256x256 and above, else 6)")
    n_layers_d: int = Field(3, gt=0, le=6)
    norm: Literal["instance", "batch"] = "instance"
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    lambda_a: float = Field(10.0, ge=0, description="weight of the cycle loss A→B→A")
    lambda_b: float = Field(10.0, ge=0, description="weight of the cycle loss B→A→B")
    lambda_identity: float = Field(0.5, ge=0, description="identity loss, as a fraction of the cycle weights")
    pool_size: int = Field(50, ge=0, description="generated images the discriminators remember")
    decay_from: float = Field(0.5, ge=0, le=1)


class CycleGAN(GanModel):
    name = "cyclegan"
    title = "CycleGAN"
    data_kind = "unpaired"
    Hyperparameters = CycleGANHyperparameters
    net_names = ("G_A", "G_B", "D_A", "D_B")
    generator_names = ("G_A", "G_B")

    def __init__(self, hp: CycleGANHyperparameters, **kwargs: Any) -> None:
        super().__init__(hp, **kwargs)
        blocks = hp.n_blocks or (9 if self.image_size >= 256 else 6)
        p = self.precision
        ca, cb = self.channels, self.channels_b
        self.G_A = p.prepare(networks.init_normal(networks.ResnetGenerator(ca, cb, hp.ngf, blocks, hp.norm)))
        self.G_B = p.prepare(networks.init_normal(networks.ResnetGenerator(cb, ca, hp.ngf, blocks, hp.norm)))
        self.D_A = p.prepare(networks.init_normal(networks.PatchDiscriminator(cb, hp.ndf, hp.n_layers_d, hp.norm)))
        self.D_B = p.prepare(networks.init_normal(networks.PatchDiscriminator(ca, hp.ndf, hp.n_layers_d, hp.norm)))
        self.nets = {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}
        betas = (hp.beta1, 0.999)
        self.optimizers = {
            "G": networks.adam(itertools.chain(self.G_A.parameters(), self.G_B.parameters()), hp.lr, betas),
            "D": networks.adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), hp.lr, betas),
        }
        factor = linear_decay(self.total_iters, hp.decay_from)
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in self.optimizers.items()}
        self.pool_a = networks.ImagePool(hp.pool_size)  # generated A images, for D_B
        self.pool_b = networks.ImagePool(hp.pool_size)  # generated B images, for D_A
        # Identity needs G_A to take B images as they are: only when both sets have the same channels.
        self.identity = hp.lambda_identity > 0 and ca == cb

    @classmethod
    def check_image_size(cls, size: int) -> None:
        if size % 4 or not 32 <= size <= 1024:
            raise BadConfig("gans.cyclegan_image_size", size=size)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        hp, p = self.hp, self.precision
        real_a, real_b = (p.images(t) for t in batch)
        l1 = nn.functional.l1_loss
        out: dict[str, float] = {}

        # Generators: fool both discriminators, come back around the cycle, leave the target domain alone.
        for d in (self.D_A, self.D_B):
            d.requires_grad_(False)
        try:
            with p.autocast():
                fake_b = self.G_A(real_a)
                fake_a = self.G_B(real_b)
                rec_a = self.G_B(fake_b)
                rec_b = self.G_A(fake_a)
                loss_g_a = networks.adversarial_loss(self.D_A(fake_b), True, "lsgan")
                loss_g_b = networks.adversarial_loss(self.D_B(fake_a), True, "lsgan")
                loss_cycle_a = l1(rec_a.float(), real_a.float()) * hp.lambda_a
                loss_cycle_b = l1(rec_b.float(), real_b.float()) * hp.lambda_b
                loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b
                if self.identity:
                    loss_idt_a = l1(self.G_A(real_b).float(), real_b.float()) * hp.lambda_b * hp.lambda_identity
                    loss_idt_b = l1(self.G_B(real_a).float(), real_a.float()) * hp.lambda_a * hp.lambda_identity
                    loss_g = loss_g + loss_idt_a + loss_idt_b
                    out["loss/idt"] = (loss_idt_a + loss_idt_b).item()
            p.step(loss_g, self.optimizers["G"])
        finally:
            for d in (self.D_A, self.D_B):
                d.requires_grad_(True)

        # Discriminators: real → 1, generated (new or remembered) → 0, least squares, halved.
        fake_b_seen = self.pool_b.query(fake_b)
        fake_a_seen = self.pool_a.query(fake_a)
        with p.autocast():
            pred_real_b, pred_fake_b = self.D_A(real_b), self.D_A(fake_b_seen)
            pred_real_a, pred_fake_a = self.D_B(real_a), self.D_B(fake_a_seen)
            loss_d_a = 0.5 * (networks.adversarial_loss(pred_real_b, True, "lsgan")
                              + networks.adversarial_loss(pred_fake_b, False, "lsgan"))
            loss_d_b = 0.5 * (networks.adversarial_loss(pred_real_a, True, "lsgan")
                              + networks.adversarial_loss(pred_fake_a, False, "lsgan"))
        p.step(loss_d_a + loss_d_b, self.optimizers["D"])
        return out | {
            "loss/g": loss_g.item(),
            "loss/g_gan": (loss_g_a + loss_g_b).item(),
            "loss/cycle": (loss_cycle_a + loss_cycle_b).item(),
            "loss/d_a": loss_d_a.item(),
            "loss/d_b": loss_d_b.item(),
            "d/real": 0.5 * (pred_real_a.float().mean() + pred_real_b.float().mean()).item(),
            "d/fake": 0.5 * (pred_fake_a.float().mean() + pred_fake_b.float().mean()).item(),
        }

    def fixed_inputs(self, dataset: Any, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return fixed_pairs(dataset, n, generator)

    def translate(self, images: torch.Tensor, direction: str | None = "AtoB") -> torch.Tensor:
        net, want = (self.G_A, self.channels) if direction in (None, "AtoB") else (self.G_B, self.channels_b)
        if images.size(1) != want:
            images = images.mean(1, keepdim=True) if want == 1 else images.expand(-1, want, -1, -1)
        with self.evaluating():
            return net(self.precision.images(images)).float().cpu()

    def render(self, fixed: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        a, b = fixed["a"], fixed["b"]
        fake_b = self.translate(a, "AtoB")
        fake_a = self.translate(b, "BtoA")
        rec_a = self.translate(fake_b, "BtoA")
        rec_b = self.translate(fake_a, "AtoB")
        columns = [as_rgb(t) for t in (a, fake_b, rec_a, b, fake_a, rec_b)]
        return torch.stack(columns, 1).flatten(0, 1), 6  # A | A→B | back; B | B→A | back

    def extra_state(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state(), "pool_b": self.pool_b.state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool_a.load(state.get("pool_a"), self.device)
        self.pool_b.load(state.get("pool_b"), self.device)
