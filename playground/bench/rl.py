"""rl: environment steps per second of training PPO, A2C and DQN on Atari Pong with the RL Zoo
hyperparameters: our training path (fast ALE vector env, our agents) against plain
stable-baselines3 run the way RL Baselines3 Zoo runs it (``playground.peers.sb3_zoo``).

Both sides continue one model from round to round, so every round is real training (PPO: whole
rollouts plus their updates). DQN's Zoo entry collects 100k steps before its first update; here
both sides start updating after ``DQN_LEARNING_STARTS`` steps, so the figure is DQN's training
speed, not random play.

Our path is what ``playground rl train`` runs, CPU choices included (``agents/sb3.py``: the
image CNN under bfloat16 autocast where the CPU computes bfloat16 natively); both sides keep
torch's default thread count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.bench import Figure, alternate, level_of, per_second
from playground.bench.ours import learn_steps, our_agent, train_steps

ENV_ID = "ALE/Pong-v5"
DQN_LEARNING_STARTS = 1000


@dataclass(frozen=True)
class Level:
    steps: dict[str, int]  # environment steps per round, per algorithm
    rounds: int
    algos: tuple[str, ...] = ("ppo", "a2c", "dqn")
    warmup: bool = True
    # Changes to the Zoo's settings, the same on both sides: only the tests' tiny level has any
    # (short PPO rollouts, so that a round takes a second).
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)


LEVELS = {
    "tiny": Level(steps={"ppo": 128, "a2c": 80, "dqn": 64}, rounds=1, warmup=False,
                  overrides={"ppo": {"n_steps": 16, "batch_size": 64},
                             "dqn": {"buffer_size": 1000, "learning_starts": 64}}),
    "quick": Level(steps={"ppo": 1024, "a2c": 800, "dqn": 400}, rounds=1),
    "full": Level(steps={"ppo": 3072, "a2c": 3200, "dqn": 1500}, rounds=3),
}


def figure(algo: str, level: Level, device: str) -> Figure:
    from playground.peers import sb3_zoo

    steps = level.steps[algo]
    overrides = {"learning_starts": DQN_LEARNING_STARTS} if algo == "dqn" else {}
    overrides.update(level.overrides.get(algo, {}))
    _config, ours = our_agent(algo, ENV_ID, sets=[f"{k}={v}" for k, v in overrides.items()], device=device)
    peer = sb3_zoo.atari_model(algo, ENV_ID, device=device, **overrides)
    try:
        if algo == "dqn":  # fill both replay buffers past learning_starts before any round is timed
            train_steps(ours, overrides["learning_starts"])
            learn_steps(peer, overrides["learning_starts"])
        n_envs = ours.n_envs
        result = Figure("rl", f"{algo.upper()} {ENV_ID} training, {n_envs} env{'s' if n_envs > 1 else ''}",
                        "steps/s", "SB3 as RL Zoo runs it (AtariWrapper, DummyVecEnv, VecFrameStack 4)")
        result.notes["n_envs"] = {"ours": n_envs, "peer": peer.n_envs}
        return alternate(
            result,
            lambda: per_second(lambda: train_steps(ours, steps), device),
            lambda: per_second(lambda: learn_steps(peer, steps), device),
            level.rounds,
            warmup=level.warmup,
        )
    finally:
        ours.close()
        peer.get_env().close()


def run(level: str, device: str) -> list[Figure]:
    chosen = level_of(LEVELS, level)
    return [figure(algo, chosen, device) for algo in chosen.algos]
