"""env: raw Atari environment stepping (random actions, agent steps per second) of our training
env against SB3's wrappers as RL Zoo uses them, and against one bare ALE emulator per core
(the ceiling no Python vector env can pass)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.bench import Figure, alternate, cores, level_of, per_second

ENV_ID = "ALE/Pong-v5"
N_ENVS = 8  # the PPO Atari preset's


@dataclass(frozen=True)
class Level:
    steps: int  # vector steps per round (× N_ENVS agent steps)
    rounds: int
    warmup: bool = True


LEVELS = {
    "tiny": Level(steps=20, rounds=1, warmup=False),
    "quick": Level(steps=250, rounds=2),
    "full": Level(steps=1000, rounds=3),
}


def stepping(venv: Any, steps: int, seed: int) -> Any:
    """Work for one round: ``venv``, reset now, stepped ``steps`` vector steps with random actions (fresh ones each
    round); it returns the agent steps taken."""
    rng = np.random.default_rng(seed)
    n_actions = int(venv.action_space.n)
    venv.reset()

    def work() -> int:
        for actions in rng.integers(0, n_actions, size=(steps, venv.num_envs)):
            venv.step(actions)
        return steps * venv.num_envs

    return work


def run(level: str, device: str) -> list[Figure]:
    from playground import envs
    from playground.peers import sb3_zoo
    from playground.peers.bare_ale import BareAlePool

    chosen = level_of(LEVELS, level)
    spec = envs.resolve(ENV_ID)
    ours_env = envs.make_train_env(spec, N_ENVS, seed=0, backend="fast")
    sb3_env = sb3_zoo.atari_env(ENV_ID, N_ENVS, seed=0)
    n_workers = cores()
    pool = BareAlePool(spec.rom or "pong", n_workers, spec.repeat_action_probability)
    try:
        ours = stepping(ours_env, chosen.steps, 1)
        peer = stepping(sb3_env, chosen.steps, 1)
        wrappers = Figure("env", f"{ENV_ID} stepping, {N_ENVS} envs, random actions", "steps/s",
                          "SB3 AtariWrapper + DummyVecEnv + VecFrameStack 4")
        alternate(wrappers, lambda: per_second(ours), lambda: per_second(peer), chosen.rounds, warmup=chosen.warmup)
        # The pool steps as many agent steps in all as one round of ours does.
        each = max(1, chosen.steps * N_ENVS // n_workers)
        ceiling = Figure("env", f"{ENV_ID} stepping, {N_ENVS} envs, against the ceiling", "steps/s",
                         f"bare ALE, one emulator per core ({n_workers} processes)")
        ceiling.notes["workers"] = n_workers
        return [wrappers, alternate(ceiling, lambda: per_second(ours), lambda: pool.steps_per_second(each),
                                    chosen.rounds, warmup=True)]
    finally:
        ours_env.close()
        sb3_env.close()
        pool.close()
