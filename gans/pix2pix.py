"""pix2pix (Isola, Zhu, Zhou and Efros 2017, arXiv:1611.07004): image-to-image translation from
paired examples.

A U-Net generator turns an input image into an output image; a 70x70 PatchGAN discriminator
judges (input, output) pairs patch by patch. The generator's loss is the adversarial loss plus
100 × the L1 distance to the real target: L1 gets the low frequencies right, the GAN the
texture. Paper and reference-code defaults: Adam lr 2e-4, beta1 0.5, batch 1, BatchNorm,
dropout 0.5 in the decoder, D's loss halved, learning rate constant for the first half of the
run, then linearly to zero.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from gans import networks
from gans.base import GanModel, Hyperparameters, fixed_pairs, linear_decay
from playground.errors import BadConfig, PlaygroundError


class Pix2PixHyperparameters(Hyperparameters):
    ngf: int = Field(64, gt=0, description="generator width")
    ndf: int = Field(64, gt=0, description="discriminator width")
    n_layers_d: int = Field(3, gt=0, le=6, description="PatchGAN depth (3 sees 70x70 patches)")
    norm: Literal["batch", "instance"] = "batch"
    dropout: bool = True
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    lambda_l1: float = Field(100.0, ge=0, description="weight of the L1 distance to the target")
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    decay_from: float = Field(0.5, ge=0, le=1, description="fraction of the run after which the lr decays to 0")


def as_rgb(images: torch.Tensor) -> torch.Tensor:
    """Grayscale next to colour in one grid: repeat the single channel."""
    return images.repeat(1, 3, 1, 1) if images.size(1) == 1 else images


class Pix2Pix(GanModel):
    name = "pix2pix"
    title = "pix2pix"
    data_kind = "paired"
    Hyperparameters = Pix2PixHyperparameters
    net_names = ("G", "D")
    generator_names = ("G",)

    def __init__(self, hp: Pix2PixHyperparameters, **kwargs: Any) -> None:
        super().__init__(hp, **kwargs)
        self.in_ch, self.out_ch = (self.channels, self.channels_b)
        if hp.direction == "BtoA":
            self.in_ch, self.out_ch = self.out_ch, self.in_ch
        p = self.precision
        self.G = p.prepare(networks.init_normal(
            networks.UNetGenerator(self.in_ch, self.out_ch, self.image_size, hp.ngf, hp.norm, hp.dropout)))
        self.D = p.prepare(networks.init_normal(
            networks.PatchDiscriminator(self.in_ch + self.out_ch, hp.ndf, hp.n_layers_d, hp.norm)))
        self.nets = {"G": self.G, "D": self.D}
        self.optimizers = {
            "G": networks.adam(self.G.parameters(), hp.lr, (hp.beta1, 0.999)),
            "D": networks.adam(self.D.parameters(), hp.lr, (hp.beta1, 0.999)),
        }
        factor = linear_decay(self.total_iters, hp.decay_from)
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in self.optimizers.items()}

    @classmethod
    def check_image_size(cls, size: int) -> None:
        if not (networks.power_of_two(size) and 32 <= size <= 1024):
            raise BadConfig("gans.pix2pix_image_size", size=size)

    def _pair(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = (self.precision.images(t) for t in batch)
        return (a, b) if self.hp.direction == "AtoB" else (b, a)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        hp, p = self.hp, self.precision
        src, dst = self._pair(batch)
        with p.autocast():
            fake = self.G(src)
            # D judges (input, output) pairs: the real target → 1, the generated one → 0.
            pred_real = self.D(torch.cat([src, dst], 1))
            pred_fake = self.D(torch.cat([src, fake.detach()], 1))
            loss_d = 0.5 * (networks.adversarial_loss(pred_real, True, "bce")
                            + networks.adversarial_loss(pred_fake, False, "bce"))
        p.step(loss_d, self.optimizers["D"])

        self.D.requires_grad_(False)
        try:
            with p.autocast():
                loss_gan = networks.adversarial_loss(self.D(torch.cat([src, fake], 1)), True, "bce")
                loss_l1 = nn.functional.l1_loss(fake.float(), dst.float())
                loss_g = loss_gan + hp.lambda_l1 * loss_l1
            p.step(loss_g, self.optimizers["G"])
        finally:
            self.D.requires_grad_(True)
        return {
            "loss/d": loss_d.item(),
            "loss/g": loss_g.item(),
            "loss/g_gan": loss_gan.item(),
            "loss/g_l1": loss_l1.item(),
            "d/real": torch.sigmoid(pred_real.float()).mean().item(),
            "d/fake": torch.sigmoid(pred_fake.float()).mean().item(),
        }

    def fixed_inputs(self, dataset: Any, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return fixed_pairs(dataset, n, generator)

    def translate(self, images: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        """The generator's output for a batch of inputs (eval mode: BatchNorm statistics, no dropout)."""
        if direction is not None and direction != self.hp.direction:
            raise PlaygroundError("gans.pix2pix_one_direction", trained=self.hp.direction, direction=direction)
        if images.size(1) != self.in_ch:
            images = images.mean(1, keepdim=True) if self.in_ch == 1 else images.expand(-1, self.in_ch, -1, -1)
        with self.evaluating():
            return self.G(self.precision.images(images)).float().cpu()

    def render(self, fixed: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        src, dst = (fixed["a"], fixed["b"]) if self.hp.direction == "AtoB" else (fixed["b"], fixed["a"])
        out = self.translate(src)
        triples = [as_rgb(t) for t in (src, out, dst)]
        rows = torch.stack(triples, 1).flatten(0, 1)  # input | output | target, one pair per row
        return rows, 3
