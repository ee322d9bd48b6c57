"""Plain stable-baselines3, run the way RL Baselines3 Zoo runs it: the benchmark's RL peer.

Atari: one Gymnasium env per copy with SB3's ``AtariWrapper`` (no-op starts, frame skip 4 with
max-pooling, life-loss terminals, 84x84 grayscale, clipped rewards), a ``DummyVecEnv``, and
``VecFrameStack`` of 4 (SB3 adds the channels-first transpose itself). The hyperparameters are
the Zoo's (hyperparams/ppo.yml, a2c.yml and dqn.yml, entries ``atari`` and ``CartPole-v1``),
written out here on their own so the peer does not read our presets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_atari_env, make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecFrameStack


def linear_schedule(initial: float) -> Callable[[float], float]:
    """The Zoo's ``lin_X``: X at the start, falling linearly with the progress remaining."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * initial

    return schedule


ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}

# n_envs and hyperparameters per algorithm; lin_ values are built fresh by ``zoo_hyperparameters``.
ATARI: dict[str, dict[str, Any]] = {
    "ppo": {"n_envs": 8, "n_steps": 128, "n_epochs": 4, "batch_size": 256, "learning_rate": "lin_2.5e-4",
            "clip_range": "lin_0.1", "vf_coef": 0.5, "ent_coef": 0.01},
    "a2c": {"n_envs": 16, "ent_coef": 0.01, "vf_coef": 0.25,
            "policy_kwargs": {"optimizer_class": RMSpropTFLike, "optimizer_kwargs": {"eps": 1e-5}}},
    "dqn": {"n_envs": 1, "buffer_size": 100_000, "learning_rate": 1e-4, "batch_size": 32, "learning_starts": 100_000,
            "target_update_interval": 1000, "train_freq": 4, "gradient_steps": 1, "exploration_fraction": 0.1,
            "exploration_final_eps": 0.01, "optimize_memory_usage": False},
}
CARTPOLE_PPO: dict[str, Any] = {"n_envs": 8, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
                                "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001", "clip_range": "lin_0.2"}


def zoo_hyperparameters(entry: dict[str, Any], **overrides: Any) -> tuple[int, dict[str, Any]]:
    """(n_envs, constructor keywords) of a Zoo entry, ``lin_X`` turned into schedules."""
    kwargs = {**entry, **overrides}
    n_envs = int(kwargs.pop("n_envs"))
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = linear_schedule(float(value[4:]))
    return n_envs, kwargs


def atari_env(env_id: str, n_envs: int, seed: int) -> VecEnv:
    """The Zoo's Atari vector env. ``ALE/…-v5`` ids skip frames themselves, so the ALE env steps
    single frames here and AtariWrapper does the skipping (as with the NoFrameskip ids)."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    venv = make_atari_env(env_id, n_envs=n_envs, seed=seed, env_kwargs={"frameskip": 1}, vec_env_cls=DummyVecEnv)
    return VecFrameStack(venv, n_stack=4)


def quiet(model: BaseAlgorithm) -> BaseAlgorithm:
    """A logger that writes nothing: with ``verbose=0`` SB3 still makes an empty ``/tmp/SB3-<time>`` folder
    for every ``learn``, and a benchmark calls it many times."""
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def atari_model(algo: str, env_id: str, seed: int = 0, device: str = "cpu", **overrides: Any) -> BaseAlgorithm:
    n_envs, kwargs = zoo_hyperparameters(ATARI[algo], **overrides)
    return quiet(ALGOS[algo]("CnnPolicy", atari_env(env_id, n_envs, seed), seed=seed, device=device, verbose=0,
                             **kwargs))


def cartpole_ppo(seed: int = 0, device: str = "cpu") -> PPO:
    n_envs, kwargs = zoo_hyperparameters(CARTPOLE_PPO)
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)
    model = PPO("MlpPolicy", env, seed=seed, device=device, verbose=0, **kwargs)
    quiet(model)
    return model
