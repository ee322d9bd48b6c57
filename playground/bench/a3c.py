"""a3c: how our A3C's training speed grows with its worker processes, on Atari Pong with the
paper's settings (``agents/a3c.py``, preset ``atari``). The peer of each figure is the same A3C
with one worker, so the ratio is the speed-up that the extra workers buy.

A round starts the workers, lets them train for a fixed wall time and counts the steps taken
from the first step on (process start-up is not counted).
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.bench import Figure, alternate, cores, level_of
from playground.bench.ours import BenchHooks, our_agent

ENV_ID = "ALE/Pong-v5"


@dataclass(frozen=True)
class Level:
    seconds: float  # training time per round, after the workers took their first step
    rounds: int
    workers: tuple[int, ...] | None = None  # None: 2, and the number of cores when that is more
    warmup: bool = False  # each round starts fresh processes anyway


LEVELS = {
    "tiny": Level(seconds=1.0, rounds=1, workers=(2,)),
    "quick": Level(seconds=4.0, rounds=1, workers=(2,)),
    "full": Level(seconds=10.0, rounds=3),
}


def steps_per_second(workers: int, seconds: float, device: str) -> float:
    _config, agent = our_agent("a3c", ENV_ID, n_envs=workers, device=device)
    hooks = BenchHooks(seconds=seconds)
    try:
        agent.learn(10**9, hooks)
    finally:
        agent.close()
    return hooks.rate()


def run(level: str, device: str) -> list[Figure]:
    chosen = level_of(LEVELS, level)
    counts = chosen.workers or tuple(sorted({2, cores(), 2 * cores()}))
    figures = []
    for n in counts:
        figure = Figure("a3c", f"A3C {ENV_ID} training, {n} workers", "steps/s", "the same A3C with 1 worker")
        figure.notes["cores"] = cores()
        figures.append(alternate(figure, lambda n=n: steps_per_second(n, chosen.seconds, device),
                                 lambda: steps_per_second(1, chosen.seconds, device), chosen.rounds,
                                 warmup=chosen.warmup))
    return figures
