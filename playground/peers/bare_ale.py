"""The ceiling for Atari stepping: one bare ALE emulator per core, each in its own process, with
nothing but ``act`` (frame skip 4 done by ALE itself, no screen processing, no Python wrappers).

A worker keeps its emulator between calls, so a benchmark round measures stepping only.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

FRAME_SKIP = 4
_ale = None


def _emulator(rom: str, seed: int, sticky: float) -> Any:
    global _ale
    if _ale is None:
        from ale_py import ALEInterface, LoggerMode, roms

        ALEInterface.setLoggerMode(LoggerMode.Error)
        ale = ALEInterface()
        ale.setInt("random_seed", seed)
        ale.setInt("frame_skip", FRAME_SKIP)
        ale.setFloat("repeat_action_probability", sticky)
        ale.loadROM(roms.get_rom_path(rom))
        _ale = ale
    return _ale


def steps(args: tuple[str, int, float, int]) -> tuple[int, float, float]:
    """Step one emulator ``n`` agent steps with random legal actions; (steps, start, end) in wall time."""
    rom, seed, sticky, n = args
    ale = _emulator(rom, seed, sticky)
    actions = ale.getMinimalActionSet()
    picks = np.random.default_rng(seed).integers(0, len(actions), size=n)
    start = time.time()
    for k in picks:
        ale.act(actions[k])
        if ale.game_over():
            ale.reset_game()
    return n, start, time.time()


class BareAlePool:
    """``workers`` processes (one per core), each holding one emulator."""

    def __init__(self, rom: str, workers: int, sticky: float = 0.25) -> None:
        import multiprocessing as mp

        self.rom, self.workers, self.sticky = rom, workers, sticky
        self._pool = mp.get_context("spawn").Pool(workers)

    def steps_per_second(self, steps_each: int) -> float:
        """All workers step at once; total steps over the span from the first start to the last end."""
        results = self._pool.map(steps, [(self.rom, i, self.sticky, steps_each) for i in range(self.workers)],
                                 chunksize=1)
        total = sum(n for n, _, _ in results)
        return total / (max(e for _, _, e in results) - min(s for _, s, _ in results))

    def close(self) -> None:
        self._pool.close()
        self._pool.join()
