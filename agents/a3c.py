"""A3C: asynchronous advantage actor-critic, written here in one file (CleanRL style).

Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning" (arXiv:1602.01783).

stable-baselines3 has no A3C (its A2C is the synchronous variant), so this file holds all of it:

1. One *global* actor-critic network lives in shared memory (``model.share_memory()``), and so do
   the statistics of its optimizer (shared RMSProp, as in the paper, or shared Adam).
2. N *worker* processes (``n_envs`` = workers), each with its own environment and its own local
   copy of the network, loop: copy the global weights, play ``n_steps`` (the paper's t_max),
   compute n-step returns (or GAE), the policy-gradient, value and entropy losses, clip the
   gradient, and apply it to the global weights with the shared optimizer. No lock guards the
   weights (Hogwild): workers write over each other, which is the algorithm.
3. The *parent* process (the one the platform runs) owns everything outside the math: workers
   send it ``(kind, ...)`` messages, each through a pipe of its own (finished games, averaged losses,
   errors); it forwards them to the platform's ``TrainingHooks``, which checkpoint, evaluate and ask
   to stop.
   Starting and watching the processes is ``agents/worker_pool.py``: a worker that dies or goes
   silent fails the run, and every worker is ended on every path out of ``learn``.

The file reads top to bottom: hyperparameters, the network, the shared optimizers, the worker's
math (``n_step_returns``, ``gae_advantages``: pure functions, tested in ``tests/test_returns.py``),
the worker's loop, the agent, its checkpoints.

What differs from the paper, on purpose: the paper's Atari network is the small 2013 DQN network
(16 and 32 filters, 256 hidden units); we use the Nature DQN CNN (as the platform's other Atari
agents do). The paper sampled each run's learning rate log-uniformly in [1e-4, 1e-2]; our Atari
preset uses 7e-4 decayed linearly to 0 (the value OpenAI Baselines' and RL Baselines3 Zoo's A2C
use), see ``agents/presets/a3c.yaml``. The paper writes RMSProp with epsilon inside the square
root (below) but, as far as we could check, gives no value for it; we use 1e-5 with that 7e-4.
Workers are processes (the paper used threads of one process; Python's threads would serialise).
The network trains on the CPU whatever the ``device`` setting: Hogwild over shared CPU memory is
what A3C is.

``lstm=true`` adds the paper's recurrent variant (A3C LSTM): the trunk feeds an ``nn.LSTMCell``
whose (h, c) each worker carries from rollout to rollout and zeroes when a game ends; the loss
replays the rollout from the state it began with, so gradients flow through at most t_max steps
(truncated BPTT). While playing, ``begin_episodes`` tells the agent which games just began. On
CartPole-v1 the LSTM needs longer rollouts than the cartpole preset's t_max of 5: with
``--set n_steps=20`` (2 workers) it passed 195 within 40k steps and scored 500 by 200k; with the
preset's t_max of 5 (lstm_size 256 or 32, with or without entropy) the shared LSTM's value
estimate stayed blind to the state and the policy collapsed to one action.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.multiprocessing as mp
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn
from torch.distributions import Categorical

from agents.base import Agent, Thought, TrainingHooks, check_schedule, checkpoint_archive, learning_rate_at
from agents.frames import is_image
from agents.worker_pool import LossAverager, Outbox, SharedSteps, StopSignal, WorkerPool
from playground.errors import BadConfig, CheckpointError, IncompatibleEnvironment
from playground.i18n import Words

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
META_MEMBER = "playground.json"  # the same metadata member name as SB3 checkpoints carry
MODEL_MEMBER = "model.pth"
OPTIMIZER_MEMBER = "optimizer.pth"
REPORT_EVERY_S = 1.0  # how often a worker sends its averaged losses (also its heartbeat)
LOG_EVERY_S = 2.0  # how often the parent writes averaged losses to the run's curves
SHUTDOWN_GRACE_S = 20.0  # how long workers get to finish their rollout after a stop


# -- hyperparameters ---------------------------------------------------------------------------


class A3CHyperparameters(BaseModel):
    """Strict: ``n_steps=2.5`` or ``lstm=yes please`` is an error, not a guess."""

    model_config = ConfigDict(extra="forbid", strict=True)

    n_steps: int = Field(default=5, gt=0)  # t_max: steps per worker between two updates
    gamma: float = Field(default=0.99, gt=0, le=1)
    gae_lambda: float = Field(default=1.0, ge=0, le=1)  # 1.0 = the paper's plain n-step returns
    ent_coef: float = Field(default=0.01, ge=0)
    vf_coef: float = Field(default=0.5, ge=0)
    max_grad_norm: float = Field(default=40.0, gt=0)
    learning_rate: float | str = 7e-4  # a number, or lin_X: X decayed linearly to 0 over training
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    rms_alpha: float = Field(default=0.99, gt=0, lt=1)  # RMSProp decay; the paper's 0.99
    rms_eps: float = Field(default=1e-5, gt=0)  # RMSProp epsilon, inside the square root
    net_arch: list[int] = Field(default_factory=lambda: [64, 64])  # MLP hidden sizes (vector obs)
    worker_timeout_s: float = Field(default=120.0, gt=0)  # a worker silent this long counts as hung
    lstm: bool = False  # a recurrent core (LSTMCell) between the shared trunk and the heads
    lstm_size: int = Field(default=256, gt=0)  # the LSTM's hidden (and cell) size; used when lstm is on

    _schedule = field_validator("learning_rate")(check_schedule)

    @field_validator("net_arch")
    @classmethod
    def _layers(cls, value: list[int]) -> list[int]:
        if not value or any(size <= 0 for size in value):
            raise ValueError("give one or more positive layer sizes, e.g. [64, 64]")
        return value


# -- networks ------------------------------------------------------------------------------------


def layer_init(layer: nn.Module, std: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights, constant bias (as CleanRL and SB3 initialise actor-critics)."""
    nn.init.orthogonal_(layer.weight, std)  # type: ignore[arg-type]
    nn.init.constant_(layer.bias, bias)  # type: ignore[arg-type]
    return layer


LSTMState = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (batch, lstm_size); zeros = a game's start


class ActorCritic(nn.Module):
    """Policy logits and state value from one observation batch.

    Images (uint8, channels first, e.g. Atari's 4x84x84): the Nature DQN CNN, shared by the
    policy and value heads, as in the paper ("all non-output layers shared"). Vectors: two MLPs,
    one for the policy and one for the value (tanh; SB3's and CleanRL's default for classic tasks).

    With ``lstm``: one shared trunk (the Nature CNN to 512 units for images; a tanh MLP over
    ``net_arch`` for vectors), then an ``nn.LSTMCell`` of ``lstm_size`` units, then the two heads
    (the paper's A3C LSTM, with its 256 cells after the convolutional layers). Use ``step(obs,
    state)``; ``forward(obs)`` is for the feed-forward network only.
    """

    def __init__(
        self, obs_shape: Sequence[int], obs_dtype: str, n_actions: int, net_arch: Sequence[int],
        lstm: bool = False, lstm_size: int = 256,
    ) -> None:
        super().__init__()
        self.image = is_image(obs_shape, obs_dtype)
        self.recurrent = bool(lstm)
        self.lstm_size = int(lstm_size)
        if self.image:
            channels = obs_shape[0]
            self.trunk = nn.Sequential(
                layer_init(nn.Conv2d(channels, 32, 8, stride=4)), nn.ReLU(),
                layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
                layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
                nn.Flatten(),
            )
            with torch.no_grad():
                flat = self.trunk(torch.zeros(1, *obs_shape)).shape[1]
            self.trunk.append(layer_init(nn.Linear(flat, 512)))
            self.trunk.append(nn.ReLU())
            features = 512
        else:
            size = int(np.prod(obs_shape))

            def mlp(out: int | None, out_std: float) -> nn.Sequential:
                layers: list[nn.Module] = [nn.Flatten()]
                previous = size
                for hidden in net_arch:
                    layers += [layer_init(nn.Linear(previous, hidden)), nn.Tanh()]
                    previous = hidden
                if out is not None:
                    layers.append(layer_init(nn.Linear(previous, out), std=out_std))
                return nn.Sequential(*layers)

            if not self.recurrent:
                self.actor = mlp(n_actions, 0.01)
                self.critic = mlp(1, 1.0)
                return
            self.trunk = mlp(None, 0.0)
            features = int(net_arch[-1])
        if self.recurrent:
            self.lstm = nn.LSTMCell(features, self.lstm_size)
            for name, param in self.lstm.named_parameters():  # as CleanRL's PPO-LSTM: orthogonal, zero bias
                if "bias" in name:
                    nn.init.constant_(param, 0.0)
                else:
                    nn.init.orthogonal_(param, 1.0)
            features = self.lstm_size
        self.policy_head = layer_init(nn.Linear(features, n_actions), std=0.01)
        self.value_head = layer_init(nn.Linear(features, 1), std=1.0)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.trunk(obs.float() / 255.0 if self.image else obs.float())

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.recurrent:
            raise RuntimeError("this network has an LSTM core: call step(obs, state), not forward(obs)")
        if self.image:
            features = self._features(obs)
            return self.policy_head(features), self.value_head(features).squeeze(-1)
        obs = obs.float()
        return self.actor(obs), self.critic(obs).squeeze(-1)

    def initial_state(self, batch: int) -> LSTMState:
        """The recurrent state at the start of a game: zeros."""
        return torch.zeros(batch, self.lstm_size), torch.zeros(batch, self.lstm_size)

    def step(self, obs: torch.Tensor, state: LSTMState | None) -> tuple[torch.Tensor, torch.Tensor, LSTMState | None]:
        """(logits, value, new state) for one time step; the state passes through when there is no LSTM."""
        if not self.recurrent:
            logits, value = self.forward(obs)
            return logits, value, state
        h, c = self.lstm(self._features(obs), state)
        return self.policy_head(h), self.value_head(h).squeeze(-1), (h, c)


def reset_state(state: LSTMState, done: torch.Tensor) -> LSTMState:
    """Zero the rows whose game just ended (``done`` is 0/1, one per row)."""
    keep = (1.0 - done.float()).unsqueeze(-1)
    return state[0] * keep, state[1] * keep


def unroll(
    model: ActorCritic, observations: Sequence[torch.Tensor], dones: Sequence[float], state: LSTMState,
) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
    """Replay a rollout through the LSTM from ``state``, one step at a time, zeroing the state after each done.

    Gradients flow through the whole rollout (truncated BPTT over at most t_max steps, as in the
    paper). Returns the logits and values of every step (concatenated) and the state after the last.
    """
    all_logits, all_values = [], []
    for obs, done in zip(observations, dones, strict=True):
        logits, value, state = model.step(obs, state)  # type: ignore[assignment]
        all_logits.append(logits)
        all_values.append(value)
        state = reset_state(state, torch.full((obs.shape[0],), float(done)))
    return torch.cat(all_logits), torch.cat(all_values), state


# -- shared optimizers -----------------------------------------------------------------------------
#
# The state (running averages) is created at once and moved to shared memory, so that every
# worker's step reads and writes the same statistics. The update rules are written out here,
# in place, rather than borrowed from torch.optim, so that "shared" visibly means: these tensors.


class _SharedStatistics(torch.optim.Optimizer):
    """An optimizer whose per-parameter statistics exist from the start, in shared memory."""

    statistics: tuple[str, ...] = ()

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = torch.zeros(())
                for name in self.statistics:
                    self.state[p][name] = torch.zeros_like(p, memory_format=torch.preserve_format)
        self.share_memory()

    def share_memory(self) -> None:
        """Move every state tensor to shared memory (again after ``load_state_dict``)."""
        for state in self.state.values():
            for value in state.values():
                value.share_memory_()


class SharedRMSprop(_SharedStatistics):
    """The paper's shared RMSProp: g = a*g + (1-a)*grad^2; theta -= lr * grad / sqrt(g + eps)."""

    statistics = ("square_avg",)

    def __init__(self, params: Any, lr: float, alpha: float, eps: float) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg.mul_(group["alpha"]).addcmul_(p.grad, p.grad, value=1 - group["alpha"])
                p.addcdiv_(p.grad, square_avg.add(group["eps"]).sqrt_(), value=-group["lr"])


class SharedAdam(_SharedStatistics):
    """Adam (betas 0.9/0.999, eps 1e-8) whose moments and step count are shared by all workers."""

    statistics = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] += 1
                t = float(state["step"])
                state["exp_avg"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denominator = (state["exp_avg_sq"] / (1 - beta2**t)).sqrt_().add_(group["eps"])
                p.addcdiv_(state["exp_avg"], denominator, value=-group["lr"] / (1 - beta1**t))


def make_optimizer(model: nn.Module, hp: A3CHyperparameters) -> torch.optim.Optimizer:
    lr = learning_rate_at(hp.learning_rate, 0, 1)
    if hp.optimizer == "adam":
        return SharedAdam(model.parameters(), lr=lr)
    return SharedRMSprop(model.parameters(), lr=lr, alpha=hp.rms_alpha, eps=hp.rms_eps)


# -- the worker's math: the targets of one rollout ------------------------------------------------
#
# One rollout of T steps from one environment, as 1-D arrays of length T: the rewards r_t, the values
# V(s_t) the network gave while playing, and how each step's game ended, if it did: ``terminated``
# (a terminal state: nothing follows it, no bootstrap) or ``truncated`` (a time limit cut it off: the
# game could have gone on, so the targets bootstrap from ``final_values[t]``, V of the observation the
# clock cut off). ``last_value`` is V(s_T), the state after the last step, for a game that goes on.

RolloutArray = torch.Tensor | np.ndarray | Sequence[float]


def _floats(*arrays: RolloutArray) -> list[torch.Tensor]:
    """Lists, numpy arrays or tensors → float32 tensors, so the math takes whatever the caller holds."""
    return [torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in arrays]


def n_step_returns(
    rewards: RolloutArray, *, terminated: RolloutArray, truncated: RolloutArray, final_values: RolloutArray,
    last_value: float, gamma: float,
) -> torch.Tensor:
    """The paper's targets: R_t = r_t + gamma * R_{t+1}, starting from R_T = V(s_T) after the last step.

    After a terminated step the sum starts again from 0; after a truncated one from V(final observation)."""
    rewards, terminated, truncated, final_values = _floats(rewards, terminated, truncated, final_values)
    returns = torch.empty_like(rewards)
    running = torch.tensor(float(last_value))
    for t in reversed(range(len(rewards))):
        following = torch.where(truncated[t] > 0, final_values[t], running) * (1.0 - terminated[t])
        running = rewards[t] + gamma * following
        returns[t] = running
    return returns


def gae_advantages(
    rewards: RolloutArray, *, values: RolloutArray, terminated: RolloutArray, truncated: RolloutArray,
    final_values: RolloutArray, last_value: float, gamma: float, gae_lambda: float,
) -> torch.Tensor:
    """Generalized advantage estimation (Schulman et al. 2016, arXiv:1506.02438):
    A_t = delta_t + gamma * lambda * A_{t+1} within a game, delta_t = r_t + gamma * V(next) - V(s_t).

    V(next) is V(s_{t+1}) within a game, V(s_T) after the last step, V(final observation) after a
    cut-off and 0 after a terminal state; an ended game (either way) passes nothing back. lambda = 1
    gives the n-step returns minus the values, lambda = 0 the one-step TD errors."""
    rewards, values, terminated, truncated, final_values = _floats(
        rewards, values, terminated, truncated, final_values)
    following = torch.cat([values[1:], torch.tensor([float(last_value)])])
    following = torch.where(truncated > 0, final_values, following) * (1.0 - terminated)
    deltas = rewards + gamma * following - values
    goes_on = 1.0 - torch.clamp(terminated + truncated, max=1.0)
    advantages = torch.empty_like(deltas)
    running = torch.tensor(0.0)
    for t in reversed(range(len(deltas))):
        running = deltas[t] + gamma * gae_lambda * goes_on[t] * running
        advantages[t] = running
    return advantages


# -- the worker: one process, one environment, one local network -----------------------------------


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs that is not shared memory; plain and picklable (spawn sends it)."""

    index: int
    seed: int
    total_steps: int
    hyperparameters: dict[str, Any]
    model_kwargs: dict[str, Any]
    make_env: Callable[[int, int], Any]  # (n_envs, seed) -> an SB3 VecEnv
    parent_pid: int


def worker(
    setup: WorkerSetup,
    shared_model: ActorCritic,
    optimizer: torch.optim.Optimizer,
    counter: SharedSteps,  # environment steps taken by all workers together
    stop: StopSignal,  # the parent asks every worker to finish
    messages: Outbox,  # (kind, worker index, wall time, payload) to the parent
) -> None:
    """One worker process's loop (``agents.worker_pool.run_worker`` runs it): sync, roll out, update."""
    hp = A3CHyperparameters.model_validate(setup.hyperparameters)
    torch.manual_seed(setup.seed)
    env = setup.make_env(1, setup.seed)
    local_model = ActorCritic(**setup.model_kwargs)
    shared_params = list(shared_model.parameters())
    local_params = list(local_model.parameters())
    # The optimizer must step the shared tensors themselves, not copies of them.
    assert all(a is b for a, b in zip(optimizer.param_groups[0]["params"], shared_params, strict=True))
    sums: dict[str, float] = {}
    updates = 0
    last_report = time.time()

    def report() -> None:
        nonlocal sums, updates, last_report
        if updates:
            means = {key: value / updates for key, value in sums.items()}
            messages.put(("losses", setup.index, time.time(), (counter.total, updates, means)))
        else:
            messages.put(("alive", setup.index, time.time(), None))
        sums, updates, last_report = {}, 0, time.time()

    try:
        obs = torch.as_tensor(env.reset())
        # The LSTM's (h, c), carried from one rollout to the next and zeroed when a game ends.
        state = local_model.initial_state(1) if local_model.recurrent else None
        step = counter.total
        while not stop.is_set() and step < setup.total_steps:
            if os.getppid() != setup.parent_pid:  # the parent died without stopping us
                return
            # 1. sync: the local network starts from the global weights
            local_model.load_state_dict(shared_model.state_dict())

            # 2. roll out up to t_max steps with the local network
            observations, actions, rewards, dones, values = [], [], [], [], []
            terminated, truncated, final_values = [], [], []  # how each step's game ended, if it did
            start_state = state  # the loss replays the rollout from here (never modified in place)
            for _ in range(hp.n_steps):
                with torch.no_grad():
                    logits, value, next_state = local_model.step(obs, state)
                action = Categorical(logits=logits).sample()
                next_obs, reward, done, infos = env.step(action.numpy())
                reward = reward.astype(np.float32)
                info = infos[0]
                cut_off = bool(done[0] and info.get("TimeLimit.truncated", False))
                final_value = 0.0
                if cut_off:
                    # A time limit is not a terminal state: the targets bootstrap from the value of the
                    # observation the clock cut off (with the LSTM's state before the reset: the one
                    # that goes with that observation).
                    terminal = torch.as_tensor(info["terminal_observation"]).unsqueeze(0)
                    with torch.no_grad():
                        final_value = float(local_model.step(terminal, next_state)[1][0])
                if next_state is not None:
                    next_state = reset_state(next_state, torch.as_tensor(done, dtype=torch.float32))
                state = next_state
                step = counter.add(setup.index)
                if "episode" in info:  # a whole game ended (raw score, whatever the learner sees)
                    messages.put(("episode", setup.index, time.time(), (step, float(info["episode"]["r"]),
                                                                         int(info["episode"]["l"]))))
                observations.append(obs)
                actions.append(action)
                rewards.append(float(reward[0]))
                dones.append(float(done[0]))
                terminated.append(float(done[0] and not cut_off))
                truncated.append(float(cut_off))
                final_values.append(final_value)
                values.append(float(value[0]))
                obs = torch.as_tensor(next_obs)
                if step >= setup.total_steps:
                    break

            # 3. the paper's n-step returns (gae_lambda = 1) or GAE, bootstrapped from the value of the last state
            with torch.no_grad():
                last_value = float(local_model.step(obs, state)[1][0])  # with the carried LSTM state
            rollout = {
                "rewards": torch.tensor(rewards), "terminated": torch.tensor(terminated),
                "truncated": torch.tensor(truncated), "final_values": torch.tensor(final_values),
                "last_value": last_value, "gamma": hp.gamma,
            }
            old_values = torch.tensor(values)
            if hp.gae_lambda == 1.0:
                returns = n_step_returns(**rollout)
                advantages = returns - old_values
            else:
                advantages = gae_advantages(values=old_values, gae_lambda=hp.gae_lambda, **rollout)
                returns = advantages + old_values

            # 4. losses on the rollout, gradients on the local network
            if local_model.recurrent:
                assert start_state is not None
                logits, new_values, _ = unroll(local_model, observations, dones, start_state)
            else:
                logits, new_values = local_model(torch.cat(observations))
            distribution = Categorical(logits=logits)
            policy_loss = -(advantages * distribution.log_prob(torch.cat(actions))).mean()
            value_loss = nn.functional.mse_loss(new_values, returns)
            entropy = distribution.entropy().mean()
            loss = policy_loss + hp.vf_coef * value_loss - hp.ent_coef * entropy
            local_model.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(local_params, hp.max_grad_norm)

            # 5. apply them to the global network, no lock (Hogwild)
            lr = learning_rate_at(hp.learning_rate, step, setup.total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for shared, local in zip(shared_params, local_params, strict=True):
                shared.grad = local.grad
            optimizer.step()

            updates += 1
            for key, value_ in (("policy_loss", policy_loss.item()), ("value_loss", value_loss.item()),
                                ("entropy", entropy.item()), ("grad_norm", float(grad_norm)),
                                ("learning_rate", lr)):
                sums[key] = sums.get(key, 0.0) + value_
            if time.time() - last_report >= REPORT_EVERY_S:
                report()
        report()
    finally:
        env.close()


# -- the agent: the parent process -----------------------------------------------------------------


class A3CAgent(Agent):
    name = "a3c"
    Hyperparameters = A3CHyperparameters

    @classmethod
    def default_n_envs(cls, preset_n_envs: int) -> int:
        """One worker per core the process may use: the asynchronous design scales with cores."""
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hp = A3CHyperparameters.model_validate(self.hyperparameters)
        self.model: ActorCritic | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self._ctx = mp.get_context("spawn")  # a clean interpreter per worker; never fork torch's threads
        self._counter = SharedSteps(self._ctx, 0)  # a fresh one, with a slot per worker, for each learn call
        self.n_updates = 0
        self._pool: WorkerPool | None = None  # the workers of the running (or last) learn call
        self._act_state: LSTMState | None = None  # the LSTM's (h, c) per env of the batch act() plays

    @classmethod
    def check_env(cls, spec: Any) -> None:
        from gymnasium import spaces

        if isinstance(spec.observation_space, spaces.Discrete):
            raise IncompatibleEnvironment("agents.needs_measured_states", algo=cls.name, env=spec.env_id)
        if not isinstance(spec.action_space, spaces.Discrete):
            raise IncompatibleEnvironment("agents.a3c_needs_discrete", env=spec.env_id,
                                          space=type(spec.action_space).__name__)

    # building and loading
    def _model_kwargs(self) -> dict[str, Any]:
        space = self.spec.observation_space
        return {
            "obs_shape": tuple(int(n) for n in space.shape),
            "obs_dtype": str(np.dtype(space.dtype)),
            "n_actions": int(self.spec.action_space.n),
            "net_arch": list(self.hp.net_arch),
            "lstm": self.hp.lstm,
            "lstm_size": self.hp.lstm_size,
        }

    def build(self, tensorboard_dir: Path | None = None) -> None:
        if tensorboard_dir is not None:
            log.warning("A3C writes no TensorBoard files yet; its curves are in the run's metrics")
        if self.device != "cpu":
            log.info("A3C trains in CPU worker processes; the device setting '%s' is not used", self.device)
        torch.manual_seed(self.seed)
        self.model = ActorCritic(**self._model_kwargs())
        self.model.share_memory()
        self._act_state = None
        self.optimizer = make_optimizer(self.model, self.hp)

    def check_build(self) -> None:
        try:
            ActorCritic(**self._model_kwargs())
        except (ValueError, RuntimeError) as exc:
            raise BadConfig("agents.a3c_no_network", reason=str(exc).splitlines()[0]) from None

    def load(self, path: Path, *, for_training: bool = False, tensorboard_dir: Path | None = None) -> int:
        path = Path(path)
        meta, model_state, optimizer_state = read_a3c_checkpoint(path)
        if meta.get("env") != self.spec.env_id:
            raise CheckpointError("agents.a3c_other_env", name=path.name, trained=meta.get("env"), env=self.spec.env_id)
        if for_training and meta.get("optimizer") != self.hp.optimizer:
            raise CheckpointError("agents.a3c_other_optimizer", name=path.name, saved=meta.get("optimizer"),
                                  optimizer=self.hp.optimizer)
        self.build(tensorboard_dir)
        assert self.model is not None and self.optimizer is not None
        try:
            self.model.load_state_dict(model_state, strict=True)
            if for_training:
                self.optimizer.load_state_dict(optimizer_state)
                self._check_optimizer_state()
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError("agents.a3c_does_not_fit", name=path.name, env=self.spec.env_id,
                                  reason=first[:200]) from None
        self.optimizer.share_memory()  # load_state_dict made private copies; share them again
        self.model.share_memory()
        self._counter = SharedSteps(self._ctx, 0, start=int(meta["step"]))
        self.n_updates = int(meta.get("n_updates", 0))
        return self.step

    def _check_optimizer_state(self) -> None:
        assert self.model is not None and self.optimizer is not None
        for p in self.model.parameters():
            for key, value in self.optimizer.state[p].items():
                if key != "step" and value.shape != p.shape:
                    raise ValueError(f"optimizer state '{key}' has shape {tuple(value.shape)}, not {tuple(p.shape)}")

    def save(self, path: Path) -> None:
        assert self.model is not None and self.optimizer is not None
        meta = {
            "format": CHECKPOINT_FORMAT,
            "algo": self.name,
            "env": self.spec.env_id,
            "step": self.step,
            "n_updates": self.n_updates,
            "optimizer": self.hp.optimizer,
            # Without the LSTM, the metadata stays exactly as it was before the option existed.
            "hyperparameters": self.hp.model_dump(exclude=None if self.hp.lstm else {"lstm", "lstm_size"}),
        }
        # Workers keep writing while we read (Hogwild); a copy is a consistent-enough snapshot.
        model_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(META_MEMBER, json.dumps(meta))
            for member, state in ((MODEL_MEMBER, model_state), (OPTIMIZER_MEMBER, self.optimizer.state_dict())):
                buffer = io.BytesIO()
                torch.save(state, buffer)
                archive.writestr(member, buffer.getvalue())

    # training
    def learn(self, total_steps: int, hooks: TrainingHooks) -> int:
        assert self.model is not None and self.optimizer is not None, "build() or load() first"
        if self.step >= total_steps:
            return self.step
        losses = LossAverager(LOG_EVERY_S)
        started_at, started_step = time.monotonic(), self.step

        def handle(kind: str, index: int, payload: Any) -> None:
            """What a worker sent, to the hooks: finished games at once, losses averaged."""
            if kind == "episode":
                step, score, length = payload
                hooks.episode(step, score, length)
            elif kind == "losses":
                step, updates, means = payload
                self.n_updates += updates
                losses.add(updates, means)
                if losses.due():
                    self._log_losses(hooks, losses, started_at, started_step)

        pool = self._pool = WorkerPool(self._ctx, "A3C worker", self.hp.worker_timeout_s, handle)
        self._counter = SharedSteps(self._ctx, self.n_envs, start=self.step)
        make_env = self.make_env  # picklable (playground.envs.TrainEnvFactory): each worker builds its own

        def worker_args(index: int) -> tuple[Any, ...]:
            setup = WorkerSetup(
                index=index, seed=self.seed + index, total_steps=total_steps,
                hyperparameters=self.hp.model_dump(), model_kwargs=self._model_kwargs(),
                make_env=make_env, parent_pid=os.getpid(),
            )
            return setup, self.model, self.optimizer, self._counter

        clean = False
        try:
            pool.start(self.n_envs, worker, worker_args)
            while True:
                pool.receive(timeout=0.1)
                pool.check()
                if not hooks.on_step(self.step, self, self.save):
                    log.info("A3C: stop asked for at step %d; stopping the workers", self.step)
                    break
                if self.step >= total_steps or pool.all_done:
                    break
            pool.finish(grace_s=SHUTDOWN_GRACE_S)  # each worker finishes its rollout and update
            self._log_losses(hooks, losses, started_at, started_step)
            clean = True
        finally:
            pool.end(grace_s=5.0 if clean else 0.0)  # after a failure, no politeness
        return self.step

    def _log_losses(self, hooks: TrainingHooks, losses: LossAverager, started_at: float, started_step: int) -> None:
        values = losses.pop()
        elapsed = time.monotonic() - started_at
        values["time/total_timesteps"] = float(self.step)
        values["train/n_updates"] = float(self.n_updates)
        if elapsed > 0:
            values["time/fps"] = (self.step - started_step) / elapsed
        hooks.log(self.step, values)

    # playing
    def begin_episodes(self, mask: np.ndarray) -> None:
        """The envs in ``mask`` just began a game: their LSTM state goes back to zeros (others keep theirs)."""
        if self.model is None or not self.model.recurrent:
            return
        mask = np.asarray(mask, dtype=bool).reshape(-1)
        if self._act_state is None or self._act_state[0].shape[0] != len(mask):
            self._act_state = self.model.initial_state(len(mask))  # a new batch: every row starts afresh
            return
        self._act_state = reset_state(self._act_state, torch.as_tensor(mask, dtype=torch.float32))

    def _forward(self, obs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, value) for a batch; the LSTM state (if any) advances one step."""
        assert self.model is not None
        obs_tensor = torch.as_tensor(np.asarray(obs))
        with torch.no_grad():
            if self.model.recurrent:
                # A batch of another size than the state's is another set of games: start from zeros.
                if self._act_state is None or self._act_state[0].shape[0] != obs_tensor.shape[0]:
                    self._act_state = self.model.initial_state(obs_tensor.shape[0])
                logits, value, self._act_state = self.model.step(obs_tensor, self._act_state)
            else:
                logits, value = self.model(obs_tensor)
        return logits, value

    @staticmethod
    def _choose(logits: torch.Tensor, deterministic: bool) -> np.ndarray:
        if deterministic:
            return logits.argmax(dim=-1).numpy()
        return Categorical(logits=logits).sample().numpy()

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        logits, _ = self._forward(obs)
        return self._choose(logits, deterministic)

    def think(self, obs: np.ndarray, deterministic: bool = True) -> Thought:
        logits, value = self._forward(obs)
        return Thought(
            actions=self._choose(logits, deterministic),
            probabilities=torch.softmax(logits, dim=-1).numpy(),
            values=value.numpy().reshape(-1),
        )

    @property
    def step(self) -> int:
        return self._counter.total

    def close(self) -> None:
        if self._pool is not None:
            self._pool.end()


# -- checkpoints ---------------------------------------------------------------------------------


def read_a3c_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(metadata, model state, optimizer state) from our zip, tensors read with ``weights_only=True``."""
    members = [META_MEMBER, MODEL_MEMBER, OPTIMIZER_MEMBER]
    with checkpoint_archive(path, members, Words("agents.what_a3c_checkpoint")) as archive:
        meta = json.loads(archive.read(META_MEMBER).decode())
        model_state = torch.load(io.BytesIO(archive.read(MODEL_MEMBER)), weights_only=True, map_location="cpu")
        optimizer_state = torch.load(io.BytesIO(archive.read(OPTIMIZER_MEMBER)), weights_only=True, map_location="cpu")
    if not isinstance(meta, dict) or meta.get("algo") != "a3c" or not isinstance(meta.get("step"), int):
        raise CheckpointError("agents.a3c_not_a3c", name=path.name, algo=repr(meta.get("algo")))
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError("agents.a3c_bad_format", name=path.name, format=meta.get("format"))
    return meta, model_state, optimizer_state
