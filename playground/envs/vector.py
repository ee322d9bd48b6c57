"""The vector envs agents learn from and are scored on, by id and backend.

Atari ids get the fast backend (ale-py's C++ vector env, ``playground.envs.ale``) and fall back to
the stable-baselines3 one (``playground.envs.sb3``) when it cannot start; other ids get SB3's
vector envs, or for an algorithm that computes with numpy alone (``numpy_only``) our own
(``playground.envs.classic``), which loads neither torch nor SB3. Every backend reports raw whole-game
scores in ``info["episode"]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from playground.envs.specs import EnvSpec, check_env_args, resolve
from playground.errors import MissingDependency

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

logger = logging.getLogger(__name__)


def _make_atari(spec: EnvSpec, n_envs: int, seed: int, backend: str, *, train: bool) -> VecEnv:
    if backend in ("auto", "fast"):
        # Looked up on the package, where a caller (or a test) may put another fast env.
        from playground import envs

        try:
            venv: VecEnv = envs.AleVecEnv(spec, n_envs, terminal_on_life_loss=train, clip_rewards=train)
        except Exception as exc:
            if backend == "fast":
                raise MissingDependency("envs.fast_failed", env=spec.env_id, reason=str(exc)) from exc
            logger.warning(
                "fast Atari backend unavailable for %s (%s); falling back to the sb3 backend",
                spec.env_id,
                exc,
            )
        else:
            venv.seed(seed)
            return venv
    from playground.envs import sb3

    return sb3.make_atari(spec, n_envs, seed, train=train)


def _make_classic(spec: EnvSpec, n_envs: int, seed: int, numpy_only: bool) -> VecEnv:
    if numpy_only:
        from playground.envs.classic import NumpyVecEnv

        return NumpyVecEnv(spec, n_envs, seed)  # type: ignore[return-value]  (the same API, not SB3's class)
    from playground.envs import sb3

    return sb3.make_classic(spec, n_envs, seed)


def make_train_env(spec: EnvSpec, n_envs: int, seed: int, backend: str = "auto", *, numpy_only: bool = False,
                   ) -> VecEnv:
    """Vector env that agents learn from.

    Atari: clipped rewards and a terminal on every life loss (the Zoo's AtariWrapper signal);
    ``info["episode"]`` still reports raw whole-game scores. Classic envs: raw rewards.
    """
    check_env_args(n_envs, backend)
    if spec.is_atari:
        return _make_atari(spec, n_envs, seed, backend, train=True)
    return _make_classic(spec, n_envs, seed, numpy_only)


def make_eval_env(spec: EnvSpec, n_envs: int, seed: int, backend: str = "auto", *, numpy_only: bool = False,
                  ) -> VecEnv:
    """Vector env that scores agents: whole games, raw rewards, done only when the game ends.

    Observations are preprocessed exactly as in training so the policy sees what it learned on.
    """
    check_env_args(n_envs, backend)
    if spec.is_atari:
        return _make_atari(spec, n_envs, seed, backend, train=False)
    return _make_classic(spec, n_envs, seed, numpy_only)


@dataclass(frozen=True)
class TrainEnvFactory:
    """``make_env(n_envs, seed)`` for an agent, by id and backend, so it pickles into worker processes."""

    env_id: str
    backend: str = "auto"
    numpy_only: bool = False  # the agent computes with numpy alone: no torch, no SB3 (classic ids)

    def __call__(self, n_envs: int, seed: int) -> VecEnv:
        return make_train_env(resolve(self.env_id), n_envs, seed, backend=self.backend, numpy_only=self.numpy_only)
