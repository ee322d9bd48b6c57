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
functions of tensors (``td_target``, ``project_distribution``, ``dqn_loss``, the schedules); the agent, whose
``learn`` is Algorithm 1's loop over a vector of envs; its checkpoints. Nothing here knows the store, runs or the
UI: the platform hands ``learn`` its ``TrainingHooks``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field, field_validator, model_validator
from torch import nn

from agents.base import Agent, OffPolicyKeys, Thought, TrainingHooks, checkpoint_archive, learning_rate_at
from agents.frames import is_image, nature_cnn, through
from agents.precision import Precision, in_float32
from agents.replay import ReplayMemory, ReplaySettings, check_fits, check_saved
from agents.worker_pool import LossAverager
from playground import threads
from playground.errors import BadConfig, CheckpointError, IncompatibleEnvironment
from playground.i18n import Words

log = logging.getLogger(__name__)

# -- settings ----------------------------------------------------------------------------------------------------


class DQNSettings(OffPolicyKeys):
    """Every hyperparameter of the family: stable-baselines3's DQN settings (``OffPolicyKeys``: the names, meanings
    and defaults the RL Zoo's presets use), Adam's epsilon and the layers, then the improvements, each off.

    Strict: ``n_step=2.5`` or ``double=yes please`` is an error, not a guess."""

    model_config = ConfigDict(frozen=True)

    optimizer_eps: float = Field(default=1e-8, gt=0)
    """Adam's epsilon (PyTorch's and SB3's 1e-8; Rainbow uses 1.5e-4)."""
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
    mixed_precision: bool = True
    """Image networks in bfloat16 on CPUs that compute it natively, AMP on CUDA; false keeps float32 throughout."""

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
        weight = torch.addcmul(self.weight_mu, self.weight_sigma, self.weight_epsilon)
        bias = torch.addcmul(self.bias_mu, self.bias_sigma, self.bias_epsilon)
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, sigma0={self.sigma0}"


# -- the networks: torso, head (improvements 2 and 3) ------------------------------------------------------------


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
        self._noisy: list[NoisyLinear] | None = None
        if self.distributional:  # z_i, the returns the atoms stand for; rebuilt from the settings, not saved
            self.register_buffer("support", torch.linspace(settings.v_min, settings.v_max, settings.atoms),
                                 persistent=False)

    def _features(self, torso: nn.Module) -> int:
        with torch.no_grad():
            return int(torso(torch.zeros(1, *self.obs_shape)).shape[1])

    def head_outputs(self, obs: torch.Tensor) -> torch.Tensor:
        """(batch, actions, atoms): logits per action with ``distributional``, else Q-values with atoms = 1."""
        # uint8 frames in, straight to the compute format (the 1/255 is the first convolution's): the memory and the
        # env keep bytes
        x = through(self.torso, obs) if self.image else self.torso(obs.float())
        # Under autocast the layers compute in bfloat16 or float16, except each stream's output layer; the outputs,
        # and all the loss math after them (softmax, projection, Huber), are float32.
        if not self.dueling:
            return self._stream_out(self.q, x).view(-1, self.n_actions, self.n_atoms)
        value = self._stream_out(self.value, x).view(-1, 1, self.n_atoms)
        advantage = self._stream_out(self.advantage, x).view(-1, self.n_actions, self.n_atoms)
        return value + advantage - advantage.mean(dim=1, keepdim=True)  # Wang et al. 2016, eq. 9

    @staticmethod
    def _stream_out(stream: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """A stream's hidden layers in the compute format, its output layer in float32 (``in_float32``: in
        bfloat16 the TD errors drown in the rounding of the Q-values' common offset)."""
        *hidden, output = stream
        for layer in hidden:
            x = layer(x)
        return in_float32(output, x)

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
        if self._noisy is None:  # found once: walking the modules costs more than drawing the noise
            self._noisy = [module for module in self.modules() if isinstance(module, NoisyLinear)]
        for layer in self._noisy:
            layer.reset_noise()


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
def clip_gradients(parameters: Sequence[nn.Parameter], max_norm: float) -> None:
    """Scale the gradients to a total norm of ``max_norm`` where theirs is larger: ``clip_grad_norm_``'s result. On a
    CPU the scaling pass over every gradient (6.7M numbers in Rainbow's Atari network) is skipped on the steps that
    need no clipping; on an accelerator ``clip_grad_norm_`` runs as it is, without reading the norm back each step."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    if grads[0].device.type != "cpu":
        nn.utils.clip_grad_norm_(parameters, max_norm)
        return
    total = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    scale = max_norm / (total + 1e-6)
    if not scale >= 1.0:  # a non-finite norm scales too, as clip_grad_norm_ does
        for grad in grads:
            grad.mul_(scale)


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


# -- the agent: acting, remembering, learning --------------------------------------------------------------------


CHECKPOINT_FORMAT = 1
META_MEMBER = "playground.json"  # the same metadata member name as our other checkpoints carry
MODEL_MEMBER, TARGET_MEMBER, OPTIMIZER_MEMBER = "model.pth", "target.pth", "optimizer.pth"
REPLAY_FILE = "replay_buffer.npz"  # beside the checkpoint, only when the run keeps its replay memory
LOG_EVERY_STEPS = 1000  # environment steps between two rows of the run's curves


class DQNAgent(Agent):
    """The DQN family behind the platform's agent interface (``agents.base.Agent``).

    One loop, the one of Mnih et al. 2015's Algorithm 1, over a vector of envs: act for every env at once
    (epsilon-greedy, or greedy on a noisy network), put the step into the replay memory, and every
    ``train_freq`` transitions take ``gradient_steps`` gradient steps on batches of ``batch_size``.

    ``train_freq``, ``target_update_interval``, ``learning_starts`` and the exploration schedule count
    *transitions* (environment steps summed over the envs), so the replay ratio (samples learnt per transition
    played) is the RL Zoo's whatever the number of envs: 8 envs with ``train_freq=4`` take 2 gradient steps per
    step of the vector. (Stable-baselines3 counts steps of the vector instead, which changes the ratio with the
    number of envs.)"""

    name = "dqn"
    Hyperparameters = DQNSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = DQNSettings.model_validate(self.hyperparameters)
        self.torch_device = torch.device(self.device)
        self.precision = Precision.choose(self.torch_device, wanted=self.settings.mixed_precision,
                                          images=self._images())
        self.online: QNetwork | None = None
        self.target: QNetwork | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.memory: ReplayMemory | None = None
        self._step = 0
        self.n_updates = 0
        self._owed = 0  # transitions played since the last round of learning
        self._learning_from = self.settings.learning_starts  # no gradient step before this step
        self._rng = np.random.default_rng(self.seed)

    # -- what this agent can train on, and what it builds --------------------------------------------------------

    @classmethod
    def check_env(cls, spec: Any) -> None:
        from gymnasium import spaces

        if isinstance(spec.observation_space, spaces.Discrete):
            raise IncompatibleEnvironment("agents.needs_measured_states", algo=cls.name, env=spec.env_id)
        if not isinstance(spec.action_space, spaces.Discrete):
            raise IncompatibleEnvironment("agents.dqn_needs_discrete", env=spec.env_id)

    def _images(self) -> bool:
        space = self.spec.observation_space
        return is_image(space.shape, space.dtype)

    def _network(self) -> QNetwork:
        space = self.spec.observation_space
        return QNetwork(space.shape, space.dtype, int(self.spec.action_space.n), self.settings)

    def replay_settings(self) -> ReplaySettings:
        s, space = self.settings, self.spec.observation_space
        return ReplaySettings(capacity=s.buffer_size, obs_shape=tuple(space.shape), obs_dtype=np.dtype(space.dtype).name,
                              n_envs=self.n_envs, n_step=s.n_step, gamma=s.gamma, prioritized=s.prioritized,
                              alpha=s.alpha)

    def check_build(self) -> None:
        """The network builds and the replay memory fits, without reserving either's memory for long."""
        try:
            self._network()
        except (ValueError, RuntimeError) as exc:
            raise BadConfig("dqn.no_network", reason=str(exc).splitlines()[0]) from None
        check_fits(self.replay_settings())

    def build(self, tensorboard_dir: Path | None = None) -> None:
        if tensorboard_dir is not None:
            log.warning("our DQN writes no TensorBoard files yet; its curves are in the run's metrics")
        torch.manual_seed(self.seed)
        self.online = self._network().to(self.torch_device)
        self.target = self._network().to(self.torch_device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.train()  # noisy layers of the target draw noise too (Rainbow); it never takes a gradient
        for parameter in self.target.parameters():
            parameter.requires_grad_(False)
        # A fused Adam updates all 1.7M weights of the Nature network in one pass (5x less time than the loop).
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=learning_rate_at(self.settings.learning_rate,
                                          0, 1), eps=self.settings.optimizer_eps, fused=True)
        self.scaler = self.precision.scaler()
        self.memory = ReplayMemory(self.replay_settings(), seed=self.seed)

    # -- acting --------------------------------------------------------------------------------------------------

    def _forward(self, obs: np.ndarray, *, explore: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(Q-values, C51 probabilities or None) for a batch, without gradients: on the noisy network as it explores
        (``explore``), or on its means (evaluation, the viewer)."""
        assert self.online is not None, "build() or load() first"
        switch = self.online.training != explore  # .train() walks every module: 11% of a CartPole run if every step
        if switch:
            self.online.train(explore)
        try:
            with torch.no_grad(), self.precision.autocast():
                obs_tensor = torch.as_tensor(np.asarray(obs), device=self.torch_device)
                if not self.online.distributional:
                    return self.online(obs_tensor).float(), None
                probs = self.online.distribution(obs_tensor)
                return self.online.expected(probs).float(), probs.float()
        finally:
            if switch:
                self.online.train(not explore)

    def _epsilon_greedy(self, actions: np.ndarray, eps: float) -> np.ndarray:
        """Each action replaced by a random one with probability ``eps``."""
        if eps <= 0:
            return actions
        coin = self._rng.random(len(actions)) < eps
        return np.where(coin, self._rng.integers(0, int(self.spec.action_space.n), size=len(actions)), actions)

    def _explore(self, obs: np.ndarray, eps: float) -> np.ndarray:
        """Actions for the training envs: at random before learning starts; else greedy on the (noisy) network,
        replaced by a random action with probability ``eps``."""
        if self._step < self._learning_from:
            return self._rng.integers(0, int(self.spec.action_space.n), size=len(obs))
        if self.settings.noisy:
            self.online.reset_noise()  # type: ignore[union-attr]  # new noise for every step the agent acts
        q, _probs = self._forward(obs, explore=True)
        return self._epsilon_greedy(q.argmax(dim=1).cpu().numpy(), eps)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Greedy on the network's means; not deterministic: epsilon-greedy with the final epsilon, or greedy on
        freshly drawn noise."""
        return self.think(obs, deterministic).actions

    def think(self, obs: np.ndarray, deterministic: bool = True) -> Thought:
        """Q-values of every action, V(s) the largest; for C51 also the return distribution of the chosen action."""
        assert self.online is not None, "build() or load() first"
        explore = not deterministic and self.settings.noisy
        if explore:
            self.online.reset_noise()
        q, probs = self._forward(obs, explore=explore)
        q_values = q.cpu().numpy()
        actions = q_values.argmax(axis=1)
        if not deterministic and not self.settings.noisy:
            actions = self._epsilon_greedy(actions, self.settings.exploration_final_eps)
        thought = Thought(actions=actions, q_values=q_values, values=q_values.max(axis=1))
        if probs is not None:
            thought.distribution = probs.cpu().numpy()[np.arange(len(actions)), actions]
            thought.support = self.online.support.cpu().numpy()
        return thought

    # -- learning ------------------------------------------------------------------------------------------------

    def _gradient_step(self, total_steps: int) -> dict[str, float]:
        """One gradient step on one batch from the replay memory; returns what the curves show of it (their
        ``train/`` keys without the prefix, which ``LossAverager`` adds)."""
        assert self.online is not None and self.target is not None and self.memory is not None
        assert self.optimizer is not None and self.scaler is not None
        s = self.settings
        b = beta(self._step, s, total_steps) if s.prioritized else None
        batch = self.memory.sample(s.batch_size, b)
        if s.noisy:  # each gradient step sees new noise in both networks (Fortunato et al. 2018, Algorithm 1)
            self.online.reset_noise()
            self.target.reset_noise()
        lr = learning_rate_at(s.learning_rate, self._step, total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.precision.autocast():
            loss, errors = dqn_loss(self.online, self.target, batch, s)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip_gradients(self.optimizer.param_groups[0]["params"], s.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.n_updates += 1
        if s.prioritized:
            self.memory.update_priorities(batch.indices, errors.float().cpu().numpy())
        values = {"loss": float(loss.detach()), "learning_rate": lr}  # the curves' train/ keys
        if b is not None:
            values["beta"] = b
        return values

    def learn(self, total_steps: int, hooks: TrainingHooks) -> int:
        assert self.online is not None and self.memory is not None, "build() or load() first"
        s = self.settings
        env, obs = self._training_envs()
        self.online.train()
        gradient_steps = s.gradient_steps if s.gradient_steps > 0 else s.train_freq  # -1: one per transition
        losses = LossAverager(every_s=0.0)  # emptied every LOG_EVERY_STEPS steps, not on a clock
        started_at, started_step, next_log = time.monotonic(), self._step, self._step + LOG_EVERY_STEPS
        eps = 0.0 if s.noisy else epsilon(self._step, s, total_steps)
        with threads.at_most(None if self._images() or self.torch_device.type != "cpu" else 1):
            while self._step < total_steps:
                eps = 0.0 if s.noisy else epsilon(self._step, s, total_steps)
                actions = self._explore(obs, eps)
                next_obs, rewards, dones, infos = env.step(actions)
                truncated = np.array([bool(info.get("TimeLimit.truncated", False)) for info in infos]) & dones
                terminated = dones & ~truncated
                final_obs = next_obs
                if dones.any():  # the vector env has already reset those envs: their last observation is in infos
                    final_obs = next_obs.copy()
                    for i in np.flatnonzero(dones):
                        final_obs[i] = infos[i]["terminal_observation"]
                self.memory.add(obs, actions, rewards, final_obs, terminated, truncated)
                obs = self._obs = next_obs
                before, self._step = self._step, self._step + self.n_envs
                for info in infos:
                    if "episode" in info:
                        hooks.episode(self._step, float(info["episode"]["r"]), int(info["episode"]["l"]))

                if self._step > self._learning_from and len(self.memory) > 0:
                    self._owed += self._step - max(before, self._learning_from)  # the transitions after it
                    while self._owed >= s.train_freq:
                        self._owed -= s.train_freq
                        for _ in range(gradient_steps):
                            losses.add(1, self._gradient_step(total_steps))
                if self._step // s.target_update_interval > before // s.target_update_interval:
                    update_target(self.target, self.online, s.tau)  # type: ignore[arg-type]

                if self._step >= next_log:
                    next_log = self._step + LOG_EVERY_STEPS
                    self._log(hooks, losses, eps, started_at, started_step)
                if not hooks.on_step(self._step, self, self.save):
                    break
        self._log(hooks, losses, eps, started_at, started_step)
        return self._step

    def _log(self, hooks: TrainingHooks, losses: LossAverager, eps: float, started_at: float, started_step: int) -> None:
        values = losses.pop()
        values["train/n_updates"] = float(self.n_updates)
        values["time/total_timesteps"] = float(self._step)
        if not self.settings.noisy:
            values["rollout/exploration_rate"] = eps
        elapsed = time.monotonic() - started_at
        if elapsed > 0 and self._step > started_step:
            values["time/fps"] = (self._step - started_step) / elapsed
        hooks.log(self._step, values)

    @property
    def step(self) -> int:
        return self._step

    # -- checkpoints and the replay memory beside them -----------------------------------------------------------

    def save(self, path: Path) -> None:
        assert self.online is not None and self.target is not None and self.optimizer is not None
        meta = {"format": CHECKPOINT_FORMAT, "algo": self.name, "env": self.spec.env_id, "step": self._step,
                "n_updates": self.n_updates, "owed": self._owed, "learning_from": self._learning_from,
                "hyperparameters": self.settings.model_dump()}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(META_MEMBER, json.dumps(meta))
            for member, state in ((MODEL_MEMBER, self.online.state_dict()), (TARGET_MEMBER, self.target.state_dict()),
                                  (OPTIMIZER_MEMBER, self.optimizer.state_dict())):
                buffer = io.BytesIO()
                torch.save(state, buffer)
                archive.writestr(member, buffer.getvalue())

    def load(self, path: Path, *, for_training: bool = False, tensorboard_dir: Path | None = None) -> int:
        path = Path(path)
        meta, states = read_dqn_checkpoint(path, for_training=for_training)
        if meta.get("env") != self.spec.env_id:
            raise CheckpointError("dqn.other_env", name=path.name, trained=meta.get("env"), env=self.spec.env_id)
        if for_training:
            self.build(tensorboard_dir)
        else:  # playing needs the network only: no replay memory, no optimizer
            torch.manual_seed(self.seed)
            self.online = self._network().to(self.torch_device)
            self.target, self.optimizer, self.memory = None, None, None
        assert self.online is not None
        try:
            self.online.load_state_dict(states[MODEL_MEMBER], strict=True)
            if for_training:
                assert self.target is not None and self.optimizer is not None
                self.target.load_state_dict(states[TARGET_MEMBER], strict=True)
                self.optimizer.load_state_dict(states[OPTIMIZER_MEMBER])
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError("dqn.does_not_fit", name=path.name, env=self.spec.env_id, reason=first[:200]) from None
        self._step = int(meta["step"])
        self.n_updates = int(meta.get("n_updates", 0))
        self._owed = int(meta.get("owed", 0))
        self._learning_from = int(meta.get("learning_from", self.settings.learning_starts))
        self._rng = np.random.default_rng([self.seed, self._step])  # a resumed run does not replay its first draws
        return self._step

    def save_extra(self, folder: Path) -> list[Path]:
        """The replay memory (with its priorities and random state), as one npz of plain arrays."""
        assert self.memory is not None
        return [self.memory.save(Path(folder) / REPLAY_FILE)]

    def check_extra(self, folder: Path) -> None:
        """Refuse, before anything changes, a saved replay memory made with other settings than this run's."""
        path = Path(folder) / REPLAY_FILE
        if path.is_file():
            check_saved(path, self.replay_settings())

    def load_extra(self, folder: Path) -> bool:
        """The replay memory saved beside the checkpoint, as it was; without one, the memory starts empty and
        learning waits ``learning_starts`` more steps while it fills again."""
        path = Path(folder) / REPLAY_FILE
        if path.is_file():
            self.memory = ReplayMemory.load(path, self.replay_settings())
            self.memory.cut_episodes()  # the run goes on in new envs: their first steps begin new games
            return True
        log.info("no replay memory was kept beside the checkpoint; it fills again before learning resumes")
        self._learning_from = self._step + self.settings.learning_starts
        return False


def read_dqn_checkpoint(path: Path, *, for_training: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, {member: state}) from our zip, tensors read with ``weights_only=True``; playing reads the online
    network only."""
    what = Words("dqn.what_checkpoint")
    members = [MODEL_MEMBER] + ([TARGET_MEMBER, OPTIMIZER_MEMBER] if for_training else [])
    with checkpoint_archive(path, [META_MEMBER], what) as archive:
        meta = json.loads(archive.read(META_MEMBER).decode())
        if not isinstance(meta, dict) or meta.get("algo") != "dqn" or not isinstance(meta.get("step"), int):
            algo = meta.get("algo") if isinstance(meta, dict) else None
            raise CheckpointError("dqn.not_ours", name=Path(path).name, algo=repr(algo))
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("dqn.bad_format", name=Path(path).name, format=meta.get("format"))
        missing = [member for member in members if member not in archive.namelist()]
        if missing:
            raise CheckpointError("agents.checkpoint_not_what", name=Path(path).name, what=what, member=missing[0])
        states = {member: torch.load(io.BytesIO(archive.read(member)), weights_only=True, map_location="cpu")
                  for member in members}
    return meta, states
