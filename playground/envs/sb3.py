"""The stable-baselines3 backend: RL Baselines3 Zoo's Atari wrappers, and SB3's own vector envs for every other task.

Kept beside the fast backend as the reference it is measured against and the fallback when ale-py's
C++ env cannot start. Its episodes report what the fast backend's do: raw whole-game scores and
agent steps (``info["episode"]``), so the two can stand in for each other.
"""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.env_util import make_atari_env, make_vec_env
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecFrameStack,
    VecTransposeImage,
)
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn
from stable_baselines3.common.vec_env.util import dict_to_obs

from playground.envs.classic import step_one
from playground.envs.specs import (
    ATARI_FRAME_SKIP,
    ATARI_FRAME_STACK,
    ATARI_MAX_FRAMES,
    ATARI_NOOP_MAX,
    ATARI_SCREEN,
    EnvSpec,
    make_kwargs,
    register_envs,
)


class _GameLength(VecEnvWrapper):
    """Count agent steps per game in the SB3 backend.

    SB3's Monitor sits under the frame-skip wrapper, so its ``l`` counts emulator frames
    (noops included); we replace it with agent steps so both backends report the same thing.
    """

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self) -> VecEnvObs:
        self._steps[:] = 0
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self._steps += 1
        for i, env_info in enumerate(infos):
            episode = env_info.get("episode")
            if episode is not None:
                episode["l"] = int(self._steps[i])
                self._steps[i] = 0
        return obs, rewards, dones, infos


def make_atari(spec: EnvSpec, n_envs: int, seed: int, *, train: bool) -> VecEnv:
    """The RL Baselines3 Zoo path: AtariWrapper + frame stack + channels-first."""
    register_envs()  # gym.make needs ale-py's ids in Gymnasium's registry
    wrapper_kwargs = {
        "noop_max": ATARI_NOOP_MAX,
        "frame_skip": ATARI_FRAME_SKIP,
        "screen_size": ATARI_SCREEN,
        "terminal_on_life_loss": train,
        "clip_reward": train,
    }
    # AtariWrapper does the frame skipping, so the ALE env underneath must step single frames;
    # the id's own repeat_action_probability stays (it is not overridden).
    env_kwargs = {
        "frameskip": 1,
        "repeat_action_probability": spec.repeat_action_probability,
        "max_num_frames_per_episode": ATARI_MAX_FRAMES,
    }
    venv = make_atari_env(
        spec.env_id,
        n_envs=n_envs,
        seed=seed,
        wrapper_kwargs=wrapper_kwargs,
        env_kwargs=env_kwargs,
        vec_env_cls=DummyVecEnv,
    )
    venv = VecFrameStack(venv, n_stack=ATARI_FRAME_STACK)
    venv = VecTransposeImage(venv)
    return _GameLength(venv)


class ClassicVecEnv(DummyVecEnv):
    """SB3's ``DummyVecEnv`` with a step that copies arrays, not whole objects.

    ``DummyVecEnv.step_wait`` deep-copies every step's infos and observation buffer. For the small
    games (Taxi's info carries an ``action_mask`` array) that copying cost more than the game itself:
    ``playground rl train qlearning Taxi-v4`` spent 14.5 of its 53 s in ``copy.deepcopy``. Here the
    observations are one array copy, and the infos are the dicts the envs returned this step (Gymnasium
    envs build a new one every step), in a new list; what an env returns is never shared between steps.
    """

    def step_wait(self) -> VecEnvStepReturn:
        infos: list[dict] = []
        for i, env in enumerate(self.envs):
            obs, reward, done, info, reset_info = step_one(env, self.actions[i])
            self.buf_rews[i] = reward
            self.buf_dones[i] = done
            if reset_info is not None:
                self.reset_infos[i] = reset_info
            self._save_obs(i, obs)
            infos.append(info)
        self.buf_infos = infos
        return self._obs_from_buf(), self.buf_rews.copy(), self.buf_dones.copy(), list(infos)

    def _obs_from_buf(self) -> VecEnvObs:
        return dict_to_obs(self.observation_space, {key: buf.copy() for key, buf in self.buf_obs.items()})


def make_classic(spec: EnvSpec, n_envs: int, seed: int) -> VecEnv:
    """A ``ClassicVecEnv`` of Monitor-wrapped envs, env i seeded with seed + i at its first reset."""
    return make_vec_env(spec.registered_id, n_envs=n_envs, seed=seed, vec_env_cls=ClassicVecEnv,
                        env_kwargs=make_kwargs(spec))
