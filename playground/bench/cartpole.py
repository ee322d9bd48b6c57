"""cartpole: wall time until PPO first reaches an evaluation mean of 475 on CartPole-v1, our
preset through our training path against plain SB3 with the RL Zoo's CartPole hyperparameters.

Both are evaluated the same way: every ``eval_every`` steps, ``episodes`` whole games played
deterministically; ours with the platform's evaluation (``training.evaluate_policy``, the games
played side by side), the peer with SB3's ``EvalCallback`` on one env as the Zoo runs it. The
clock runs from building the model to the evaluation that reaches the target, evaluations
included. Round k uses seed k on both sides; a side that never reaches the target within
``max_steps`` counts its whole time (and the notes say so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agents.base import Policy
from playground.bench import Figure, alternate, level_of
from playground.bench.ours import BenchHooks, our_agent

ENV_ID = "CartPole-v1"


@dataclass(frozen=True)
class Level:
    target: float
    eval_every: int  # environment steps; a multiple of the 8 envs
    episodes: int
    max_steps: int
    rounds: int


LEVELS = {
    "tiny": Level(target=25.0, eval_every=256, episodes=2, max_steps=2048, rounds=1),
    "quick": Level(target=475.0, eval_every=4096, episodes=10, max_steps=100_000, rounds=1),
    "full": Level(target=475.0, eval_every=4096, episodes=10, max_steps=100_000, rounds=3),
}


def ours_seconds(level: Level, seed: int, device: str, notes: list[int | None]) -> float:
    from playground import training

    start = time.perf_counter()
    config, agent = our_agent("ppo", ENV_ID, seed=seed, device=device)

    def evaluate(step: int, policy: Policy) -> float:
        return training.evaluate_policy(config, policy, level.episodes, seed=seed + 10_000).mean

    hooks = BenchHooks(evaluate=evaluate, eval_every=level.eval_every, target=level.target)
    try:
        agent.learn(level.max_steps, hooks)
    finally:
        agent.close()
    notes.append(hooks.reached)
    return time.perf_counter() - start


def peer_seconds(level: Level, seed: int, device: str, notes: list[int | None]) -> float:
    from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
    from stable_baselines3.common.env_util import make_vec_env

    from playground.peers import sb3_zoo

    start = time.perf_counter()
    model = sb3_zoo.cartpole_ppo(seed=seed, device=device)
    eval_env = make_vec_env(ENV_ID, n_envs=1, seed=seed + 10_000)
    stop = StopTrainingOnRewardThreshold(reward_threshold=level.target, verbose=0)
    callback = EvalCallback(eval_env, callback_on_new_best=stop, n_eval_episodes=level.episodes,
                            eval_freq=level.eval_every // model.n_envs, deterministic=True, verbose=0)
    model.learn(total_timesteps=level.max_steps, callback=callback)
    elapsed = time.perf_counter() - start
    model.get_env().close()
    eval_env.close()
    notes.append(model.num_timesteps if callback.best_mean_reward >= level.target else None)
    return elapsed


def run(level: str, device: str) -> list[Figure]:
    chosen = level_of(LEVELS, level)
    figure = Figure("cartpole", f"PPO {ENV_ID} wall time to an evaluation mean of {chosen.target:g}", "s",
                    "SB3 with RL Zoo's CartPole hyperparameters, EvalCallback", higher_is_better=False)
    reached_ours: list[int | None] = []
    reached_peer: list[int | None] = []
    seeds = {"ours": 0, "peer": 0}

    def side(name: str) -> float:
        seed = seeds[name]
        seeds[name] += 1
        if name == "ours":
            return ours_seconds(chosen, seed, device, reached_ours)
        return peer_seconds(chosen, seed, device, reached_peer)

    alternate(figure, lambda: side("ours"), lambda: side("peer"), chosen.rounds, warmup=False)
    figure.notes.update({"steps_reached": {"ours": reached_ours, "peer": reached_peer},
                         "eval_every": chosen.eval_every, "episodes": chosen.episodes, "max_steps": chosen.max_steps})
    return [figure]
