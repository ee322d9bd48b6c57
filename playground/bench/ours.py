"""Our RL training path, in-process and without the store: the config, agent and environments a
run would get (``build_rl_config`` → ``training.make_agent``), driven by light hooks instead of a
run's. The store's share of a real run (a metrics flush every 2 s) is left out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from agents.base import Agent, Policy
from playground import training
from playground.config import RLConfig, build_rl_config


def our_agent(algo: str, env_id: str, *, seed: int = 0, sets: Iterable[str] = (), n_envs: int | None = None,
              preset: str | None = None, device: str = "cpu") -> tuple[RLConfig, Agent]:
    """A built agent exactly as ``playground rl train`` would build it."""
    config = build_rl_config(algo, env_id, seed=seed, sets=list(sets), n_envs=n_envs, preset=preset, device=device)
    agent = training.make_agent(config, device=device)
    agent.build()
    return config, agent


class BenchHooks:
    """``TrainingHooks`` that count and can stop: after ``seconds`` of training (counted from the
    first step taken, so that starting worker processes is not), and/or on an evaluation schedule
    that stops at a target score."""

    def __init__(self, *, seconds: float | None = None, evaluate: Callable[[int, Policy], float] | None = None,
                 eval_every: int = 0, target: float = float("inf")) -> None:
        self.seconds = seconds
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.target = target
        self.initial: int | None = None
        self.first: tuple[float, int] | None = None
        self.last: tuple[float, int] | None = None
        self.next_eval = eval_every
        self.evaluations: list[tuple[int, float]] = []
        self.reached: int | None = None
        self.episodes = 0

    def on_step(self, step: int, policy: Policy, save: Callable[[Path], None]) -> bool:
        now = time.perf_counter()
        if self.initial is None:
            self.initial = step
        if self.first is None:
            if step == self.initial:
                return True
            self.first = (now, step)
        self.last = (now, step)
        if self.evaluate is not None and self.eval_every and step >= self.next_eval:
            self.next_eval = (step // self.eval_every + 1) * self.eval_every
            mean = self.evaluate(step, policy)
            self.evaluations.append((step, mean))
            if mean >= self.target:
                self.reached = step
                return False
        return not (self.seconds is not None and now - self.first[0] >= self.seconds)

    def log(self, step: int, values: Mapping[str, float]) -> None:
        pass

    def episode(self, step: int, score: float, length: int) -> None:
        self.episodes += 1

    def rate(self) -> float:
        """Steps per second between the first and the last step seen."""
        if self.first is None or self.last is None:
            return 0.0
        (t0, s0), (t1, s1) = self.first, self.last
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


def train_steps(agent: Agent, steps: int) -> int:
    """Train ``agent`` for ``steps`` more environment steps; returns how many it took."""
    start = agent.step
    agent.learn(start + steps, BenchHooks())
    return agent.step - start


def learn_steps(model: Any, steps: int) -> int:
    """The same for a plain SB3 model: ``learn`` continues where the last call ended."""
    start = model.num_timesteps
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    return model.num_timesteps - start
