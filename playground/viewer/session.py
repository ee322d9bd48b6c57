"""An agent playing one game after another: the game, the agent and what the HUD shows. No pygame.

``step()`` returns the next emulator frame. The agent decides once per agent step (every 4th
frame in Atari games, as in training); the frames in between come from the same emulator, so a
viewer can show the game at its own speed while the agent sees its usual observations.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.base import Agent
from playground.envs import WatchEnv
from playground.viewer.hud import HudState


def load_for_play(agent: Agent, path: Path) -> int:
    """Load ``path`` into ``agent`` for playing (the network only); returns the checkpoint's step."""
    return agent.load(Path(path), for_training=False)


@dataclass
class GameResult:
    score: float  # raw score of the whole game
    steps: int  # agent decisions
    frames: int  # frames shown: the first one after reset, then every emulator frame
    checkpoint_step: int | None
    seed: int | None


class WatchSession:
    """``env`` + ``agent`` + ``hud``: ``step()`` → the next frame; ``game_over`` once a game has ended."""

    def __init__(self, env: WatchEnv, agent: Agent, hud: HudState, *, seed: int | None = None,
                 checkpoint_step: int | None = None, deterministic: bool = True) -> None:
        self.env = env
        self.agent = agent
        self.hud = hud
        self.deterministic = deterministic
        self.hud.action_names = list(env.action_names)
        self.hud.checkpoint_step = checkpoint_step
        self.results: list[GameResult] = []
        self._next_seed = seed
        self._queue: collections.deque[tuple[np.ndarray, float, bool]] = collections.deque()
        self.frame: np.ndarray
        self.obs: np.ndarray
        self.game_over = False
        self.new_game()

    # -- games -------------------------------------------------------------------------------------
    def new_game(self) -> None:
        """Start the next game; only the first one uses the seed, later ones continue its random stream."""
        seed, self._next_seed = self._next_seed, None
        self.seed = seed
        start = self.env.reset(seed=seed)
        begin = getattr(self.agent, "begin_episodes", None)
        if begin is not None:
            begin(np.ones(1, dtype=bool))
        self.obs = start.obs
        self.frame = start.frames[-1]
        self._queue.clear()
        self._queue.append((self.frame, 0.0, False))
        self.game_over = False
        self.steps = 0
        self.frames = 0
        hud = self.hud
        hud.game = len(self.results) + 1
        hud.score = 0.0
        hud.frame = 0
        hud.lives = start.lives
        hud.values.clear()
        hud.action, hud.action_name = None, ""

    def restart(self) -> None:
        """Abandon this game (its score is not kept) and start another."""
        self.new_game()

    def load(self, step: int, path: Path) -> None:
        """Play on with another checkpoint (follow mode does this between games)."""
        load_for_play(self.agent, path)
        self.hud.checkpoint_step = step

    # -- frames ------------------------------------------------------------------------------------
    def step(self) -> np.ndarray:
        """The next frame; once the game is over, its last frame again."""
        if self.game_over:
            return self.frame
        if not self._queue:
            self._decide()
        frame, reward, last = self._queue.popleft()
        self.frame = frame
        self.frames += 1
        self.hud.frame = self.frames
        self.hud.score += reward  # counted when the frame that earned it is shown
        if last:
            self._finish()
        return frame

    def step_decision(self) -> np.ndarray:
        """Show the rest of this agent step's frames, or the whole next one (stepping while paused)."""
        if not self._queue and not self.game_over:
            self._decide()
        while self._queue and not self.game_over:
            self.step()
        return self.frame

    def _decide(self) -> None:
        thought = self.agent.think(self.obs, deterministic=self.deterministic)
        action = np.asarray(thought.actions)[0]
        hud = self.hud
        if action.ndim == 0:
            index = int(action)
            hud.action = index
            hud.action_name = hud.action_names[index] if index < len(hud.action_names) else str(index)
        else:
            hud.action = [float(a) for a in action.reshape(-1)]
            hud.action_name = " ".join(f"{a:+.2f}" for a in hud.action)
        hud.probabilities = None if thought.probabilities is None else [float(p) for p in thought.probabilities[0]]
        hud.q_values = None if thought.q_values is None else [float(q) for q in thought.q_values[0]]
        hud.distribution = None if thought.distribution is None else [float(p) for p in thought.distribution[0]]
        hud.support = None if thought.support is None else (float(thought.support[0]), float(thought.support[-1]))
        if thought.values is not None:
            hud.value = float(np.asarray(thought.values).reshape(-1)[0])
            hud.values.append(hud.value)
        result = self.env.step(action)
        self.steps += 1
        self.obs = result.obs
        hud.lives = result.lives
        frames = result.frames or [self.frame]
        for i, frame in enumerate(frames):
            last = i == len(frames) - 1
            self._queue.append((frame, result.reward if last else 0.0, result.game_over and last))

    def _finish(self) -> None:
        self.game_over = True
        self._queue.clear()
        score = float(self.hud.score)
        self.results.append(GameResult(score, self.steps, self.frames, self.hud.checkpoint_step, self.seed))
        hud = self.hud
        hud.last_scores.append(score)
        hud.best = score if hud.best is None else max(hud.best, score)

    def close(self) -> None:
        self.env.close()
        self.agent.close()
