"""DQN, from Nature DQN up to Rainbow, written here in one file that reads top to bottom (CleanRL style).

**DQN** (Mnih et al. 2015, "Human-level control through deep reinforcement learning", Nature, Methods and
Algorithm 1): a network Q(s, a) scores every action; the agent acts epsilon-greedily on it, keeps what happens
in a replay memory (``agents/replay.py``) and learns from random batches of it, moving Q(s, a) toward
``r + gamma * max_a' Q_target(s', a')``. Q_target is a copy of the network refreshed only now and then, so the
network does not chase its own moving estimate.

Six improvements, each a setting that is off by default, in the order this file implements them (all six
together are Rainbow: Hessel et al. 2018, "Rainbow: Combining Improvements in Deep Reinforcement Learning",
section "The Integrated Agent" and table 1):

1. **Noisy nets** (``noisy``; Fortunato et al. 2018, "Noisy Networks for Exploration", section 3 (b),
   factorised Gaussian noise, and 3.2, initialisation): the linear layers get learnable noise on their weights,
   so the agent explores by acting on a perturbed network and learns how much to perturb, instead of
   epsilon-greedy's coin flips.
2. **Dueling network** (``dueling``; Wang et al. 2016, "Dueling Network Architectures for Deep Reinforcement
   Learning", section 3, eq. 9): two streams, the state's value V(s) and each action's advantage A(s, a),
   joined as ``Q = V + A - mean_a A``; V learns from every action taken in a state.
3. **Distributional RL, C51** (``distributional``; Bellemare et al. 2017, "A Distributional Perspective on
   Reinforcement Learning", section 4 and Algorithm 1): the network predicts the whole distribution of the
   return, as probabilities on ``atoms`` fixed values between ``v_min`` and ``v_max``; the target distribution
   is projected back onto those values and learnt with a cross-entropy. Q is that distribution's mean.
4. **Double DQN** (``double``; van Hasselt et al. 2016, "Deep Reinforcement Learning with Double Q-learning",
   section "Double DQN", eq. 4): the online network picks the next action and the target network values it;
   the max of one noisy estimate is biased upward, and picking with one and valuing with the other undoes it.
5. **Multi-step returns** (``n_step``; Sutton 1988; Hessel et al. 2018, "Extensions to DQN", multi-step): the
   target sums n real rewards before bootstrapping with ``gamma ** n``, so rewards travel back n steps per
   update. The replay memory sums them; here the loss takes its returns, discounts and bootstrap flags as given.
6. **Prioritized replay** (``prioritized``; Schaul et al. 2016, "Prioritized Experience Replay", sections 3.3
   and 3.4): transitions with a large error are replayed more often (``alpha``), and importance-sampling
   weights (``beta``, from ``beta0`` annealed to 1) undo the bias that brings. The sum tree is in
   ``agents/replay.py``; here the loss weights each sample and hands back its error as the new priority.

The file reads: settings; the noisy layer; the networks (torso, head, ``QNetwork``); the learning math as pure
functions of tensors (``td_target``, ``project_distribution``, ``dqn_loss``, the schedules). Nothing here knows
the store, runs or the UI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import nn

from agents.base import check_schedule
from playground.errors import BadConfig

# -- settings ----------------------------------------------------------------------------------------------------


class DQNSettings(BaseModel):
    """Every hyperparameter of the family. The first group has the names, meanings and defaults of
    stable-baselines3's DQN (so the RL Zoo's presets read the same); the improvements follow, each off.

    Strict: ``n_step=2.5`` or ``double=yes please`` is an error, not a guess."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)

    learning_rate: float | str = 1e-4
    """Adam's step size: a number, or lin_X for X decayed linearly to 0 over training."""
    optimizer_eps: float = Field(default=1e-8, gt=0)
    """Adam's epsilon (PyTorch's and SB3's 1e-8; Rainbow uses 1.5e-4)."""
    buffer_size: int = Field(default=1_000_000, gt=0)
    """Transitions the replay memory keeps."""
    learning_starts: int = Field(default=100, ge=0)
    """Environment steps played (acting at random) before learning begins."""
    batch_size: int = Field(default=32, gt=0)
    """Transitions per gradient step."""
    tau: float = Field(default=1.0, gt=0, le=1)
    """Target network update: 1 copies the online network, less moves it that fraction of the way (Polyak)."""
    gamma: float = Field(default=0.99, gt=0, le=1)
    """Discount per step."""
    train_freq: int = Field(default=4, gt=0)
    """Environment steps between two rounds of learning."""
    gradient_steps: int = Field(default=1, ge=-1)
    """Gradient steps per round of learning; -1: as many as environment steps were played since the last."""
    target_update_interval: int = Field(default=10_000, gt=0)
    """Environment steps between two target network updates."""
    exploration_fraction: float = Field(default=0.1, gt=0, le=1)
    """Fraction of training over which epsilon falls from its initial to its final value."""
    exploration_initial_eps: float = Field(default=1.0, ge=0, le=1)
    """Probability of a random action at the start of training."""
    exploration_final_eps: float = Field(default=0.05, ge=0, le=1)
    """Probability of a random action once the exploration fraction has passed."""
    max_grad_norm: float = Field(default=10.0, gt=0)
    """Gradients are clipped to this norm."""
    net_arch: list[int] | None = None
    """Hidden linear layers; default [512] after the Nature CNN, [64, 64] for flat observations."""

    double: bool = False
    """Double DQN: the online network picks the next action, the target network values it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean A, from two streams."""
    prioritized: bool = False
    """Prioritized replay: transitions with larger errors are replayed more often."""
    alpha: float = 0.5
    """How much priorities count, from 0 (uniform) to 1 (in proportion to the error)."""
    beta0: float = Field(default=0.4, ge=0, le=1)
    """Importance-sampling correction at the start of training, annealed to 1 by its end."""
    n_step: int = 1
    """Rewards summed before bootstrapping (1 is plain DQN, Rainbow uses 3)."""
    noisy: bool = False
    """Noisy linear layers explore instead of epsilon-greedy."""
    noisy_sigma0: float = Field(default=0.5, gt=0)
    """Initial noise scale of noisy layers (sigma0 / sqrt(inputs))."""
    distributional: bool = False
    """C51: learn the distribution of the return on a fixed support, not only its mean."""
    atoms: int = 51
    """Points of the return distribution's support."""
    v_min: float = -10.0
    """Lowest return the distribution can represent."""
    v_max: float = 10.0
    """Highest return the distribution can represent."""

    _schedule = field_validator("learning_rate")(check_schedule)

    @field_validator("gradient_steps")
    @classmethod
    def _gradient_steps(cls, value: int) -> int:
        if value == 0:
            raise ValueError("use -1 (as many as environment steps) or a positive number")
        return value

    @field_validator("net_arch")
    @classmethod
    def _layers(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(size <= 0 for size in value):
            raise ValueError("give positive layer sizes, e.g. [64, 64]")
        return value

    @field_validator("n_step")
    @classmethod
    def _n_step(cls, value: int) -> int:
        if value < 1:
            raise BadConfig("dqn.bad_n_step", n_step=value)
        return value

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise BadConfig("dqn.bad_alpha", alpha=value)
        return value

    @field_validator("atoms")
    @classmethod
    def _atoms(cls, value: int) -> int:
        if value < 2:
            raise BadConfig("dqn.too_few_atoms", atoms=value)
        return value

    @model_validator(mode="after")
    def _together(self) -> DQNSettings:
        if not self.v_min < self.v_max:
            raise BadConfig("dqn.bad_support", v_min=self.v_min, v_max=self.v_max)
        if self.noisy and (self.exploration_initial_eps > 0 or self.exploration_final_eps > 0):
            raise BadConfig("dqn.noisy_with_epsilon", initial=self.exploration_initial_eps,
                            final=self.exploration_final_eps)
        return self


# -- the noisy layer (improvement 1) -----------------------------------------------------------------------------


def scaled_noise(noise: torch.Tensor) -> torch.Tensor:
    """f(x) = sgn(x) * sqrt(|x|), applied to standard normal draws (Fortunato et al. 2018, section 3 (b))."""
    return noise.sign() * noise.abs().sqrt()


class NoisyLinear(nn.Module):
    """A linear layer with factorised Gaussian noise: ``w = mu_w + sigma_w * (f(e_out) outer f(e_in))`` and
    ``b = mu_b + sigma_b * f(e_out)``, with p + q noise draws per resample instead of p * q.

    In training mode (``.train()``) the layer uses the noise drawn by the last :meth:`reset_noise`; in eval mode
    (``.eval()``) it uses the means ``mu`` only, a deterministic network: what evaluation and the viewer see.
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5) -> None:
        super().__init__()
        self.in_features, self.out_features, self.sigma0 = int(in_features), int(out_features), float(sigma0)
        self.weight_mu = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.weight_sigma = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.bias_mu = nn.Parameter(torch.empty(self.out_features))
        self.bias_sigma = nn.Parameter(torch.empty(self.out_features))
        # f(e_in) and f(e_out): saved with the weights (a resumed run goes on with the same noise), p + q numbers
        self.register_buffer("noise_in", torch.zeros(self.in_features))
        self.register_buffer("noise_out", torch.zeros(self.out_features))
        self.reset_parameters()
        self.reset_noise()

    def reset_parameters(self) -> None:
        """Section 3.2: mu ~ U[-1/sqrt(p), 1/sqrt(p)] and sigma = sigma0 / sqrt(p), p the number of inputs."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.weight_mu.uniform_(-bound, bound)
            self.bias_mu.uniform_(-bound, bound)
            self.weight_sigma.fill_(self.sigma0 * bound)
            self.bias_sigma.fill_(self.sigma0 * bound)

    @torch.no_grad()
    def reset_noise(self) -> None:
        """Draw new noise: e_in first, then e_out, each standard normal, then f of each."""
        self.noise_in.copy_(scaled_noise(torch.randn_like(self.noise_in)))
        self.noise_out.copy_(scaled_noise(torch.randn_like(self.noise_out)))

    @property
    def weight_epsilon(self) -> torch.Tensor:
        """The weights' noise, (out, in): the outer product f(e_out) f(e_in)^T."""
        return torch.outer(self.noise_out, self.noise_in)

    @property
    def bias_epsilon(self) -> torch.Tensor:
        """The biases' noise, (out,): f(e_out)."""
        return self.noise_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        # Building the (out, in) weight costs less than the batch's matrix product at DQN's batch sizes.
        weight = self.weight_mu + self.weight_sigma * self.weight_epsilon
        bias = self.bias_mu + self.bias_sigma * self.bias_epsilon
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, sigma0={self.sigma0}"


# -- the networks: torso, head (improvements 2 and 3) ------------------------------------------------------------


def is_image(shape: Sequence[int], dtype: Any) -> bool:
    """A stack of uint8 frames, channels first (Atari's 4x84x84)."""
    return len(shape) == 3 and np.dtype(dtype) == np.uint8


def nature_cnn(channels: int) -> nn.Sequential:
    """The convolutions of Mnih et al. 2015 (Methods, "Model architecture"): 32 8x8 filters with stride 4, 64 4x4
    with stride 2, 64 3x3 with stride 1, each followed by a ReLU; flattened (3136 features for 84x84). The
    paper's 512-unit layer comes after, in the head, because dueling splits it into two streams."""
    return nn.Sequential(
        nn.Conv2d(channels, 32, kernel_size=8, stride=4), nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
        nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
        nn.Flatten(),
    )


class QNetwork(nn.Module):
    """Q-values for every action, built from the settings.

    Layout: **torso** (the Nature CNN for uint8 frame stacks, scaled by 1/255 here; a flatten for flat
    observations), then the hidden layers of ``net_arch`` (default [512] after the CNN, [64, 64] for flat
    observations), all but the last shared. The **head** holds the last hidden layer and the output: one stream
    of ``actions`` outputs, or with ``dueling`` a value stream (1 output) and an advantage stream (``actions``
    outputs), each with its own last hidden layer as in Wang et al. 2016 (figure 1), joined as
    ``V + A - mean_a A``. With ``distributional`` each output is ``atoms`` logits, one softmax per action, and
    the dueling join is made on the logits before the softmax (as Rainbow does). With ``noisy`` every linear
    layer is a :class:`NoisyLinear` (Hessel et al. 2018, "The Integrated Agent"); the convolutions stay plain.
    """

    def __init__(self, obs_shape: Sequence[int], obs_dtype: Any, n_actions: int, settings: DQNSettings) -> None:
        super().__init__()
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.image = is_image(self.obs_shape, obs_dtype)
        self.n_actions = int(n_actions)
        self.dueling, self.distributional = settings.dueling, settings.distributional
        self.n_atoms = settings.atoms if settings.distributional else 1
        hidden = list(settings.net_arch) if settings.net_arch is not None else ([512] if self.image else [64, 64])

        def linear(inputs: int, outputs: int) -> nn.Module:
            return NoisyLinear(inputs, outputs, settings.noisy_sigma0) if settings.noisy else nn.Linear(inputs, outputs)

        torso: list[nn.Module] = [nature_cnn(self.obs_shape[0])] if self.image else [nn.Flatten()]
        features = self._features(nn.Sequential(*torso))
        for size in hidden[:-1]:
            torso += [linear(features, size), nn.ReLU()]
            features = size
        self.torso = nn.Sequential(*torso)

        def stream(outputs: int) -> nn.Sequential:
            layers: list[nn.Module] = []
            inputs = features
            for size in hidden[-1:]:
                layers += [linear(inputs, size), nn.ReLU()]
                inputs = size
            layers.append(linear(inputs, outputs))
            return nn.Sequential(*layers)

        if self.dueling:
            self.value = stream(self.n_atoms)
            self.advantage = stream(self.n_actions * self.n_atoms)
        else:
            self.q = stream(self.n_actions * self.n_atoms)
        if self.distributional:  # z_i, the returns the atoms stand for; rebuilt from the settings, not saved
            self.register_buffer("support", torch.linspace(settings.v_min, settings.v_max, settings.atoms),
                                 persistent=False)

    def _features(self, torso: nn.Module) -> int:
        with torch.no_grad():
            return int(torso(torch.zeros(1, *self.obs_shape)).shape[1])

    def head_outputs(self, obs: torch.Tensor) -> torch.Tensor:
        """(batch, actions, atoms): logits per action with ``distributional``, else Q-values with atoms = 1."""
        x = obs.float()
        if self.image:
            x = x / 255.0  # uint8 frames in, [0, 1] inside: the memory and the env keep bytes
        x = self.torso(x)
        if not self.dueling:
            return self.q(x).view(-1, self.n_actions, self.n_atoms)
        value = self.value(x).view(-1, 1, self.n_atoms)
        advantage = self.advantage(x).view(-1, self.n_actions, self.n_atoms)
        return value + advantage - advantage.mean(dim=1, keepdim=True)  # Wang et al. 2016, eq. 9

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values, (batch, actions): for C51 the mean of each action's return distribution."""
        out = self.head_outputs(obs)
        if self.distributional:
            return self.expected(out.softmax(dim=-1))
        return out.squeeze(-1)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """C51 only: (batch, actions, atoms) logits of the return distributions (the loss takes log_softmax)."""
        if not self.distributional:
            raise ValueError("logits and distributions exist only with distributional=true")
        return self.head_outputs(obs)

    def distribution(self, obs: torch.Tensor) -> torch.Tensor:
        """C51 only: (batch, actions, atoms) probabilities of the return taking each value of ``support``."""
        return self.logits(obs).softmax(dim=-1)

    def expected(self, probs: torch.Tensor) -> torch.Tensor:
        """Q = sum_i z_i p_i: (..., atoms) probabilities to (...) means."""
        return (probs * self.support).sum(dim=-1)

    def reset_noise(self) -> None:
        """Draw new noise in every noisy layer (nothing without ``noisy``)."""
        for module in self.modules():
            if isinstance(module, NoisyLinear):
                module.reset_noise()


# -- the learning math (improvements 3 to 6), pure functions of tensors ------------------------------------------


def greedy_next_actions(next_q_target: torch.Tensor, next_q_online: torch.Tensor | None = None) -> torch.Tensor:
    """a*, (batch,): the argmax of the online network's next Q-values with Double DQN (pass them), else of the
    target network's (van Hasselt et al. 2016, eq. 4 against Mnih et al. 2015)."""
    chooser = next_q_target if next_q_online is None else next_q_online
    return chooser.argmax(dim=1)


def td_target(next_q_target: torch.Tensor, returns: torch.Tensor, discounts: torch.Tensor, bootstrap: torch.Tensor,
              next_q_online: torch.Tensor | None = None) -> torch.Tensor:
    """``returns + bootstrap * discounts * Q_target(next, a*)``, (batch,).

    ``next_q_*`` are (batch, actions) Q-values of the next observations; ``returns`` the (up to) n discounted
    rewards, ``discounts`` gamma ** m, ``bootstrap`` False where the episode terminated (a time-limit cut-off
    still bootstraps), all as the replay memory hands them out. Give ``next_q_online`` for Double DQN."""
    actions = greedy_next_actions(next_q_target, next_q_online)
    next_value = next_q_target.gather(1, actions.unsqueeze(1)).squeeze(1)
    return returns + bootstrap.to(next_value.dtype) * discounts * next_value


def project_distribution(next_probs: torch.Tensor, returns: torch.Tensor, discounts: torch.Tensor,
                         bootstrap: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """The C51 target: the distribution of ``returns + bootstrap * discounts * Z(next, a*)`` put back onto the
    fixed ``support`` (Bellemare et al. 2017, Algorithm 1), (batch, atoms), each row summing to 1.

    Each next atom z_j moves to Tz_j, clipped into [v_min, v_max]; it lies at fractional position b_j on the
    support, and its probability splits between the atoms below and above it in proportion to nearness
    (all of it to one atom when b_j is whole). A terminated sample (no bootstrap) collapses to its return.
    """
    n_atoms = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta = (v_max - v_min) / (n_atoms - 1)
    scale = (bootstrap.to(support.dtype) * discounts).unsqueeze(1)
    moved = returns.unsqueeze(1) + scale * support.unsqueeze(0)  # Tz, (batch, atoms)
    position = ((moved - v_min) / delta).clamp(0, n_atoms - 1)  # b: clipping Tz is clipping b
    lower = position.floor().long().clamp(max=n_atoms - 1)
    upper = (lower + 1).clamp(max=n_atoms - 1)  # at the last atom the upper share is zero anyway
    upper_share = position - lower
    target = torch.zeros_like(next_probs)
    target.scatter_add_(1, lower, next_probs * (1 - upper_share))
    target.scatter_add_(1, upper, next_probs * upper_share)
    return target


class Batch(NamedTuple):
    """A replay batch as tensors on the learner's device (see ``agents.replay.ReplayBatch`` for each field)."""

    observations: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    next_observations: torch.Tensor
    discounts: torch.Tensor
    bootstrap: torch.Tensor
    weights: torch.Tensor


def as_batch(batch: Any, device: torch.device | str) -> Batch:
    """A ``ReplayBatch`` of numpy arrays (or anything with its fields) as a :class:`Batch`; tensors already on
    ``device`` are not copied. Observations keep their dtype (uint8 frames are scaled inside the network)."""
    def tensor(value: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.as_tensor(value, device=device, dtype=dtype)

    return Batch(
        observations=tensor(batch.observations),
        actions=tensor(batch.actions, torch.int64),
        returns=tensor(batch.returns, torch.float32),
        next_observations=tensor(batch.next_observations),
        discounts=tensor(batch.discounts, torch.float32),
        bootstrap=tensor(batch.bootstrap, torch.bool),
        weights=tensor(batch.weights, torch.float32),
    )


def dqn_loss(online: QNetwork, target: QNetwork, batch: Any, settings: DQNSettings
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss to call ``backward`` on, and per-sample errors, (batch,), for ``update_priorities``.

    Scalar DQN: the Huber loss (smooth L1, as SB3 and the Nature paper's error clipping) between Q(s, a) and
    :func:`td_target`; the errors are the signed TD errors ``target - Q(s, a)``. C51: the cross-entropy between
    the projected target distribution and the predicted one of the action taken; the errors are each sample's
    cross-entropy (Rainbow prioritises by this loss). Both are averaged over the batch with each sample
    weighted by ``batch.weights`` (importance weights; all 1 without prioritized replay).

    The target side runs without gradients; with ``double`` the online network also values the next
    observations, in whatever mode (and noise) it is in.
    """
    b = as_batch(batch, next(online.parameters()).device)
    rows = torch.arange(b.actions.shape[0], device=b.actions.device)
    with torch.no_grad():
        next_q_online = online(b.next_observations) if settings.double else None
        if settings.distributional:
            next_probs = target.distribution(b.next_observations)  # (batch, actions, atoms)
            chosen = greedy_next_actions(target.expected(next_probs), next_q_online)
            wanted = project_distribution(next_probs[rows, chosen], b.returns, b.discounts, b.bootstrap,
                                          online.support)
        else:
            wanted = td_target(target(b.next_observations), b.returns, b.discounts, b.bootstrap, next_q_online)
    if settings.distributional:
        log_probs = F.log_softmax(online.logits(b.observations)[rows, b.actions], dim=-1)
        per_sample = -(wanted * log_probs).sum(dim=-1)
        errors = per_sample.detach()
    else:
        q_taken = online(b.observations).gather(1, b.actions.unsqueeze(1)).squeeze(1)
        per_sample = F.smooth_l1_loss(q_taken, wanted, reduction="none")
        errors = (wanted - q_taken).detach()
    return (b.weights * per_sample).mean(), errors


@torch.no_grad()
def update_target(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Move the target network's weights ``tau`` of the way to the online network's (1: a copy, as Nature DQN)."""
    for mine, theirs in zip(target.parameters(), online.parameters(), strict=True):
        if tau >= 1.0:
            mine.copy_(theirs)
        else:
            mine.lerp_(theirs, tau)


def epsilon(step: int, settings: DQNSettings, total_steps: int) -> float:
    """Probability of a random action at ``step``: from ``exploration_initial_eps`` linearly down to
    ``exploration_final_eps`` over the first ``exploration_fraction`` of ``total_steps``, then flat (SB3's
    DQN schedule)."""
    done = max(step, 0) / max(total_steps, 1)
    progress = min(done / settings.exploration_fraction, 1.0)
    start, end = settings.exploration_initial_eps, settings.exploration_final_eps
    return start + progress * (end - start)


def beta(step: int, settings: DQNSettings, total_steps: int) -> float:
    """The importance-sampling exponent at ``step``: ``beta0`` at the start, linearly to 1 at the end of training
    (Schaul et al. 2016, section 3.4)."""
    done = min(max(step, 0) / max(total_steps, 1), 1.0)
    return settings.beta0 + done * (1.0 - settings.beta0)
