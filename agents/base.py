"""The small interface every RL algorithm implements, ours (A3C) and stable-baselines3's alike.

An agent knows the math: build a model, learn, act, save and load weights. It knows nothing of
the store, run folders or progress bars; the platform hands it a ``TrainingHooks`` object and
the agent calls it as training goes (the role SB3's callbacks play, for every algorithm).
"""

from __future__ import annotations

import json
import pickle
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from playground.errors import CheckpointError
from playground.i18n import Words

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from playground.envs import EnvSpec

# make_env(n_envs, seed) -> a VecEnv for training; the platform decides which backend serves it.
EnvFactory = Callable[[int, int], "VecEnv"]


def check_schedule(value: Any) -> Any:
    """A positive number, or ``lin_X``: X at the start of training, decayed linearly to 0 (as the RL Zoo writes it).

    Shared by every algorithm's hyperparameter model (as a pydantic field validator).
    """
    start = value
    if isinstance(value, str):
        try:
            if not value.startswith("lin_"):
                raise ValueError
            start = float(value[4:])
        except ValueError:
            raise ValueError("use a number or lin_<start>, e.g. lin_2.5e-4") from None
    if not start > 0:
        raise ValueError("it must be above zero")
    return value


class OffPolicyKeys(BaseModel):
    """The settings stable-baselines3's DQN names, with its meanings and defaults, shared by our DQN family
    (``agents.dqn.DQNSettings``) and SB3's (``agents.sb3.DQNHyperparameters``): the RL Zoo's DQN presets read
    the same for both. Strict: ``train_freq=2.5`` is an error, not a guess."""

    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)

    learning_rate: float | str = 1e-4
    """Adam's step size: a number, or lin_X for X decayed linearly to 0 over training."""
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
    """Environment steps between two rounds of learning (ours: transitions summed over the envs)."""
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

    _schedule = field_validator("learning_rate")(check_schedule)

    @field_validator("gradient_steps")
    @classmethod
    def _gradient_steps(cls, value: int) -> int:
        if value == 0:
            raise ValueError("use -1 (as many as environment steps) or a positive number")
        return value


def learning_rate_at(schedule: float | str, step: int, total_steps: int) -> float:
    """``lin_X`` goes from X at step 0 to 0 at ``total_steps``; a number stays put."""
    if isinstance(schedule, str):
        progress_left = max(0.0, 1.0 - step / max(total_steps, 1))
        return float(schedule[4:]) * progress_left
    return float(schedule)


_READ_ERRORS = (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, UnicodeDecodeError, RuntimeError,
                pickle.UnpicklingError, ValueError)


@contextmanager
def checkpoint_archive(path: Path, required: Iterable[str], what: Words) -> Iterator[zipfile.ZipFile]:
    """A checkpoint zip that is safe to read: whole, holding ``required``, naming no file outside itself.

    What goes wrong while the caller reads inside the block (truncation, bad JSON, tensors that
    ``torch.load(weights_only=True)`` refuses) becomes one ``CheckpointError`` sentence.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("agents.checkpoint_missing", path=path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            for name in members:
                if name.startswith("/") or ".." in Path(name).parts:
                    raise CheckpointError("agents.checkpoint_escapes", name=path.name, member=name)
            missing = [name for name in required if name not in members]
            if missing:
                raise CheckpointError("agents.checkpoint_not_what", name=path.name, what=what, member=missing[0])
            bad = archive.testzip()
            if bad is not None:
                raise CheckpointError("agents.checkpoint_bad_checksum", name=path.name, member=bad)
            yield archive
    except CheckpointError:
        raise
    except PermissionError as exc:
        raise CheckpointError("agents.checkpoint_no_permission", name=path.name, reason=exc.strerror) from None
    except _READ_ERRORS as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError("agents.checkpoint_corrupt", name=path.name, reason=first) from None


class Policy(Protocol):
    """What plays games: ``act``, and optionally ``begin_episodes``.

    ``begin_episodes(self, mask: np.ndarray) -> None`` is OPTIONAL (callers check with ``hasattr``):
    it is called with a boolean mask of the envs whose game just began (all of them after a reset,
    then each step's ``dones``); recurrent policies reset their state there. Feed-forward policies
    (every SB3 agent) need not define it.
    """

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """A batch of observations in, a batch of actions out."""
        ...


@dataclass
class Thought:
    """What a policy makes of a batch of observations: its actions and, where the algorithm has them,
    the numbers behind them. The viewer's HUD draws these; the math that makes them stays in the agent.
    """

    actions: np.ndarray  # what ``act`` would return for the same observations
    probabilities: np.ndarray | None = None  # (batch, n_actions): PPO, A2C, A3C on discrete actions
    q_values: np.ndarray | None = None  # (batch, n_actions): DQN
    values: np.ndarray | None = None  # (batch,): the state-value estimate V(s) (DQN: max over Q)
    distribution: np.ndarray | None = None  # (batch, atoms): C51, the chosen action's return probabilities
    support: np.ndarray | None = None  # (atoms,): C51, the return each atom of ``distribution`` stands for


class TrainingHooks(Protocol):
    """What the platform offers a learning loop; implemented in ``playground.training``."""

    def on_step(self, step: int, policy: Policy, save: Callable[[Path], None]) -> bool:
        """Called after each environment step; False means: stop cleanly now."""
        ...

    def log(self, step: int, values: Mapping[str, float]) -> None:
        """Scalars for the run's curves (losses, speeds, entropies)."""
        ...

    def episode(self, step: int, score: float, length: int) -> None:
        """A whole game finished during training, with its raw score."""
        ...


class Agent(ABC):
    """One algorithm bound to one environment; found by name with ``agents.get``."""

    name: ClassVar[str]
    Hyperparameters: ClassVar[type[BaseModel]]
    # False for an algorithm that computes with numpy alone (the tabular methods): the platform then trains and
    # scores it without loading torch or stable-baselines3 (about 3 s of every command's start).
    uses_torch: ClassVar[bool] = True
    # True once training has nothing left to do before its total (planning that no longer changes the plan):
    # a run that stops there has finished, not been stopped.
    converged: bool = False

    def __init__(
        self,
        spec: EnvSpec,
        hyperparameters: Mapping[str, Any],
        *,
        make_env: EnvFactory,
        n_envs: int,
        seed: int,
        device: str,
    ) -> None:
        self.spec = spec
        self.hyperparameters = dict(hyperparameters)
        self.make_env = make_env
        self.n_envs = n_envs
        self.seed = seed
        self.device = device
        self._env: Any = None  # loops that step their envs themselves keep them here between learn calls
        self._obs: np.ndarray | None = None

    @classmethod
    def default_n_envs(cls, preset_n_envs: int) -> int:
        """How many environments (or workers) to use when the user names none."""
        return preset_n_envs

    @classmethod
    def check_env(cls, spec: EnvSpec) -> None:
        """Raise ``IncompatibleEnvironment`` when this algorithm cannot train on ``spec``."""

    @abstractmethod
    def build(self, tensorboard_dir: Path | None = None) -> None:
        """A fresh model, ready to learn."""

    def check_build(self) -> None:
        """Raise ``BadConfig`` when these hyperparameters cannot make a model (a cheap, small build)."""

    @abstractmethod
    def load(self, path: Path, *, for_training: bool = False, tensorboard_dir: Path | None = None) -> int:
        """Weights (and, for training, optimizer state and counters) from a checkpoint; returns its step."""

    @abstractmethod
    def learn(self, total_steps: int, hooks: TrainingHooks) -> int:
        """Train until ``total_steps`` or until a hook says stop; returns the step reached."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write a checkpoint to ``path`` (the caller makes the write atomic)."""

    @abstractmethod
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray: ...

    def think(self, obs: np.ndarray, deterministic: bool = True) -> Thought:
        """Act, and say why: one forward pass that also returns probabilities, Q-values or values.

        Use it instead of ``act`` (not after it): a recurrent policy advances its state once per call.
        The default knows only the actions; algorithms override it.
        """
        return Thought(actions=np.asarray(self.act(obs, deterministic=deterministic)))

    @property
    @abstractmethod
    def step(self) -> int:
        """Environment steps trained so far."""

    def save_extra(self, folder: Path) -> list[Path]:
        """Optional extra state worth keeping beside a checkpoint (DQN's replay buffer)."""
        return []

    def check_extra(self, folder: Path) -> None:
        """Raise ``CheckpointError`` when extra state kept in ``folder`` cannot resume these settings (cheap)."""

    def _training_envs(self) -> tuple[Any, np.ndarray]:
        """The training envs and their latest observations, opened on first use and kept from one ``learn`` call
        to the next (for loops that step envs themselves; their loop updates ``_obs``)."""
        if self._env is None:
            self._env = self.make_env(self.n_envs, self.seed)
            self._obs = None
        if self._obs is None:
            self._obs = self._env.reset()
        return self._env, self._obs

    def close(self) -> None:
        """Release environments and worker processes."""
        if self._env is not None:
            self._env.close()
            self._env, self._obs = None, None
