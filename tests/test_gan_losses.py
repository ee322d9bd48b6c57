"""The GAN losses and the WGAN-GP gradient penalty (gans/networks.py), against numbers worked out by hand.

Logits 0 and ln 3 are used because their sigmoids are exact: sigma(0) = 1/2, sigma(ln 3) = 3/4.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gans.networks import adversarial_loss, gradient_penalty

LOGITS = torch.tensor([0.0, math.log(3.0)])


def test_bce_on_known_logits() -> None:
    # Real (target 1): -log sigma(l):  -log 1/2 = ln 2,  -log 3/4 = ln 4/3;  mean (ln 2 + ln 4/3) / 2.
    real = adversarial_loss(LOGITS, True, "bce")
    assert real.item() == pytest.approx((math.log(2) + math.log(4 / 3)) / 2, abs=1e-6)  # 0.490415
    # Fake (target 0): -log(1 - sigma(l)):  ln 2,  -log 1/4 = ln 4;  mean (ln 2 + ln 4) / 2.
    fake = adversarial_loss(LOGITS, False, "bce")
    assert fake.item() == pytest.approx((math.log(2) + math.log(4)) / 2, abs=1e-6)  # 1.039721


def test_the_generator_loss_is_non_saturating() -> None:
    # G's loss is D's "real" loss on fakes: -log sigma(l). Where D rejects a fake (l = -ln 3, sigma = 1/4)
    # its gradient is -(1 - sigma) = -3/4; the saturating log(1 - sigma(l)) would give only -1/4.
    logit = torch.tensor([-math.log(3.0)], requires_grad=True)
    loss = adversarial_loss(logit, True, "bce")
    assert loss.item() == pytest.approx(math.log(4), abs=1e-6)
    loss.backward()
    assert logit.grad is not None and logit.grad.item() == pytest.approx(-0.75, abs=1e-6)


def test_lsgan_on_known_outputs() -> None:
    outputs = torch.tensor([0.0, 3.0])
    # Real: mean((d - 1)^2) = (1 + 4) / 2;  fake: mean(d^2) = (0 + 9) / 2.
    assert adversarial_loss(outputs, True, "lsgan").item() == pytest.approx(2.5)
    assert adversarial_loss(outputs, False, "lsgan").item() == pytest.approx(4.5)


def test_wasserstein_critic_and_generator_losses() -> None:
    d_real, d_fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])  # means 2 and -1
    # The critic maximises mean D(real) - mean D(fake): its loss is -2 + (-1) = -3.
    critic = adversarial_loss(d_real, True, "wgan-gp") + adversarial_loss(d_fake, False, "wgan-gp")
    assert critic.item() == pytest.approx(-3.0)
    # The generator (dcgan.py asks for "real" on its fakes) minimises -mean D(fake) = 1.
    assert adversarial_loss(d_fake, True, "wgan-gp").item() == pytest.approx(1.0)


def test_losses_are_float32_whatever_the_precision_of_the_logits() -> None:
    loss = adversarial_loss(LOGITS.to(torch.bfloat16), True, "bce")
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(0.4904, abs=2e-3)


class _LinearCritic(nn.Module):
    """D(x) = <w, x> + b: its gradient with respect to x is w at every point, so the penalty is known."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(0.7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1) + self.b


def _images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 2, 2, generator=g), torch.randn(n, 1, 2, 2, generator=g)


def test_gradient_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared() -> None:
    real, fake = _images(3, 0)
    # w = [[3, 0], [0, 4]]: ||w|| = 5, so each sample's penalty is (5 - 1)^2 = 16; with lambda = 10, 160.
    # (The norm is per sample: over the whole batch of 3 it would be (5*sqrt(3) - 1)^2 = 60.7.)
    critic = _LinearCritic(torch.tensor([[[3.0, 0.0], [0.0, 4.0]]]))
    assert (10.0 * gradient_penalty(critic, real, fake)).item() == pytest.approx(160.0, rel=1e-5)
    # ||w|| = 0.5: (0.5 - 1)^2 = 0.25;  ||w|| = 1: no penalty at all.
    half = _LinearCritic(torch.tensor([[[0.3, 0.0], [0.0, 0.4]]]))
    assert gradient_penalty(half, real, fake).item() == pytest.approx(0.25, rel=1e-5)
    unit = _LinearCritic(torch.tensor([[[0.6, 0.0], [0.0, 0.8]]]))
    assert gradient_penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_trains_the_critic_towards_unit_gradients() -> None:
    # For w = [3, 0, 0, 4]: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * [0.6, 0, 0, 0.8] = [4.8, 0, 0, 6.4].
    real, fake = _images(4, 1)
    critic = _LinearCritic(torch.tensor([[[3.0, 0.0], [0.0, 4.0]]]))
    gradient_penalty(critic, real, fake).backward()
    assert critic.w.grad is not None
    torch.testing.assert_close(critic.w.grad.flatten(), torch.tensor([4.8, 0.0, 0.0, 6.4]))
    assert critic.b.grad is None or critic.b.grad.item() == 0.0


class _ConditionalLinearCritic(nn.Module):
    """D(x, y) = <w_y, x>: one weight per class, so each sample's gradient norm depends on its label."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([[3.0, 0.0, 0.0, 4.0], [0.0, 0.6, 0.8, 0.0]]))  # norms 5 and 1

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) * self.w[labels]).sum(1)


def test_gradient_penalty_passes_the_labels_and_averages_per_sample_penalties() -> None:
    real, fake = _images(2, 2)
    # Class 0: (5 - 1)^2 = 16; class 1: (1 - 1)^2 = 0; the mean over the batch is 8.
    penalty = gradient_penalty(_ConditionalLinearCritic(), real, fake, torch.tensor([0, 1]))
    assert penalty.item() == pytest.approx(8.0, rel=1e-5)
