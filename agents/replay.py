"""The replay memory of our DQN family: frames stored once, n-step returns, prioritized replay, npz save and load.

DQN learns from old experience: every step of every env goes into a large memory, and each gradient step
learns from a random batch of it. Four ideas make that memory fit a laptop and serve the Rainbow improvements:

1. **Frames stored once.** An Atari observation is a stack of the last 4 84x84 frames, and consecutive
   observations share 3 of them. Storing whole stacks, plus a separate next observation, keeps every frame
   8 times (about 56 GB for a million transitions). Here each env writes a *stream* of slots, one 84x84
   frame per slot, into its own circular store; a stack is rebuilt at sampling time from a slot and the
   3 slots before it, and the next observation is simply a later slot of the same stream.
2. **n-step returns** (Sutton 1988; used by Rainbow, Hessel et al. 2018): a sampled transition carries
   ``r_t + g r_{t+1} + ... + g^(m-1) r_{t+m-1}`` with ``m = n`` (fewer if the episode ended first), the
   observation ``m`` steps later, the discount ``g^m`` for the bootstrap and whether to bootstrap at all.
3. **Prioritized replay** (proportional, Schaul et al. 2016): a transition is drawn with probability
   ``p_i / sum_j p_j`` where ``p_i = (|TD error| + eps)^alpha``, found in a *sum tree*; importance-sampling
   weights undo the bias this brings to the gradient.
4. **Save and restore** as one ``.npz`` of plain arrays (no pickle), so a resumed run goes on with the same
   memory, the same priorities and the same random draws.

What one env's stream looks like (``S`` a step an agent took, ``F`` the observation an episode ended on,
``P`` an older frame of the first stack, kept only when the env's first stack holds real frames)::

    slot   ...  S  S  S  F  P  P  P  S  S  S  S  F  S  S ...
                 episode 1 |  episode 2 (a life-loss  |  episode 3 (a fresh game: the env's
                           |  terminal, game goes on) |  first stack is zeros but for its newest frame)

Stacks do not cross an episode start: a slot remembers its *age* (how many earlier slots of its own episode
stand behind it, at most stack - 1), and the frames before an episode's first frame are **zeros**, as our ALE
vector env and stable-baselines3's ``VecFrameStack`` give them at a reset. An env that shows real frames
there instead (a game that goes on after a life-loss terminal, Gymnasium's ``FrameStackObservation`` repeating
the first frame) gets those frames kept as ``P`` slots, so a rebuilt stack is always exactly what the env gave.

Flat observations (CartPole's 4 floats) use the same stream with one whole observation per slot.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from playground.atomic import atomic_write
from playground.errors import BadConfig, CheckpointError

# What a slot of an env's stream holds.
EMPTY, PREFIX, STEP, FINAL = 0, 1, 2, 3
SAVE_FORMAT = 1
_READ_CHUNK = 64 << 20  # bytes read from a saved file at a time, so a 7 GB memory is never held twice


# -- settings and their cost in bytes --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplaySettings:
    """Everything that shapes a replay memory; a saved memory only loads into one with the same settings."""

    capacity: int
    """How many slots (frames, or flat observations) the memory keeps; about as many transitions (SB3's
    ``buffer_size``). Each episode also keeps the observation it ended on, one slot more."""
    obs_shape: tuple[int, ...]
    """One env's observation: ``(stack, 84, 84)`` for Atari (newest frame last) or ``(4,)`` for CartPole."""
    obs_dtype: str = "float32"
    """``uint8`` with a 3-D shape means a stack of frames, each stored once; anything else is kept whole."""
    n_envs: int = 1
    """How many envs add a transition at every step (each gets its own circular stream)."""
    n_step: int = 1
    """Steps summed into a return before bootstrapping (1 is plain DQN, Rainbow uses 3)."""
    gamma: float = 0.99
    """The discount per step."""
    prioritized: bool = False
    """Draw transitions in proportion to their priority instead of uniformly."""
    alpha: float = 0.6
    """How much priorities count: 0 is uniform, 1 is fully proportional to |TD error|."""
    eps: float = 1e-6
    """Added to |TD error| so that no transition's priority is ever zero."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs_shape", tuple(int(d) for d in self.obs_shape))
        object.__setattr__(self, "obs_dtype", np.dtype(self.obs_dtype).name)
        if isinstance(self.capacity, float) and self.capacity.is_integer():
            object.__setattr__(self, "capacity", int(self.capacity))  # 1e6 as people write it
        if not self.obs_shape or min(self.obs_shape) < 1:
            raise ValueError(f"obs_shape must be a non-empty shape of positive sizes, got {self.obs_shape}")
        if int(self.n_envs) != self.n_envs or self.n_envs < 1:
            raise ValueError(f"n_envs must be a whole number of 1 or more, got {self.n_envs}")
        if not (isinstance(self.n_step, int | np.integer) and self.n_step >= 1):
            raise BadConfig("replay.bad_n_step", n=self.n_step)
        if not 0.0 <= self.alpha <= 1.0:
            raise BadConfig("replay.bad_alpha", alpha=self.alpha)
        if not 0.0 <= self.gamma <= 1.0:
            raise BadConfig("replay.bad_gamma", gamma=self.gamma)
        if not (math.isfinite(self.eps) and self.eps >= 0):
            raise ValueError(f"eps must be a finite number of 0 or more, got {self.eps}")
        least = self.n_envs * (self.n_step + self.stack + 1)
        if int(self.capacity) != self.capacity or self.capacity < least:
            raise BadConfig("replay.bad_capacity", capacity=self.capacity, n_envs=self.n_envs, n_step=self.n_step,
                            least=least)

    @property
    def stacked(self) -> bool:
        """Whether observations are stacks of frames (stored one frame per slot)."""
        return self.obs_dtype == "uint8" and len(self.obs_shape) == 3

    @property
    def stack(self) -> int:
        """Frames per observation (1 for flat observations)."""
        return self.obs_shape[0] if self.stacked else 1

    @property
    def slot_shape(self) -> tuple[int, ...]:
        """What one slot holds: one frame, or one whole flat observation."""
        return self.obs_shape[1:] if self.stacked else self.obs_shape

    @property
    def per_env(self) -> int:
        """Slots in each env's circular stream."""
        return -(-int(self.capacity) // self.n_envs)

    @property
    def nbytes(self) -> int:
        """Bytes of every array a memory with these settings holds once full."""
        slots, envs = self.n_envs * self.per_env, self.n_envs
        per_slot = (
            math.prod(self.slot_shape) * np.dtype(self.obs_dtype).itemsize  # the frame or observation
            + 4 + 4  # action (int32), reward (float32)
            + 1 + 1 + 1 + 1 + 1  # terminated, truncated, kind, age, ready
        )
        per_env = 8 + 8 + 8 + 1  # head, episode_first, last_age, starting
        trees = 2 * (2 * _leaves(slots) * 8) if self.prioritized else 0  # the sum tree and the min tree (float64)
        return slots * per_slot + envs * per_env + trees


def memory_nbytes(capacity: int, obs_shape: tuple[int, ...], obs_dtype: str = "uint8", n_envs: int = 1,
                  prioritized: bool = False) -> int:
    """How many bytes a replay memory of ``capacity`` transitions needs (1M Atari transitions: about 7.1 GB)."""
    return ReplaySettings(capacity=capacity, obs_shape=obs_shape, obs_dtype=obs_dtype, n_envs=n_envs,
                          prioritized=prioritized).nbytes


def available_memory() -> int | None:
    """Bytes this machine can still hand out (``MemAvailable`` of /proc/meminfo); None where it cannot say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gigabytes(nbytes: int) -> str:
    return f"{nbytes / 1e9:.1f} GB"


def check_fits(settings: ReplaySettings) -> None:
    """Refuse, in one sentence, a memory that would not fit in what this machine has free."""
    need, free = settings.nbytes, available_memory()
    if free is not None and need > free:
        per_100k = int(need * 100_000 / settings.capacity)
        raise BadConfig("replay.too_big", capacity=f"{settings.capacity:,}", need=_gigabytes(need),
                        free=_gigabytes(free), per_100k=_gigabytes(per_100k))


# -- trees: sums and minima of priorities, batch in and batch out -------------------------------------------------


def _leaves(capacity: int) -> int:
    """The first power of two at or above ``capacity``: a complete binary tree has that many leaves."""
    return 1 << max(0, int(capacity) - 1).bit_length()


class _Tree:
    """A complete binary tree in one array: node 1 is the root, node i has children 2i and 2i+1, and the leaves
    (one per item) are nodes ``leaves .. 2*leaves-1``. Each inner node combines its two children, so the root
    combines every item, and changing a leaf only changes the log2(leaves) nodes above it.

    Updates take a whole batch of leaves at once and redo the nodes above them level by level: one numpy
    operation per level, never a Python loop over the batch. Each node is recomputed from its children, not
    nudged by a difference, so no rounding error piles up however often priorities change."""

    combine: ClassVar[np.ufunc]
    empty: ClassVar[float]

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.leaves = _leaves(capacity)
        self.depth = self.leaves.bit_length() - 1
        self.nodes = np.full(2 * self.leaves, self.empty, dtype=np.float64)

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[self.leaves + np.asarray(indices, dtype=np.int64)]

    def set(self, indices: np.ndarray, values: np.ndarray | float) -> None:
        """Set the leaves ``indices`` to ``values`` and redo every node above them."""
        nodes = self.leaves + np.asarray(indices, dtype=np.int64).reshape(-1)
        if nodes.size == 0:
            return
        self.nodes[nodes] = values
        for _ in range(self.depth):
            nodes = nodes >> 1  # two leaves with one parent redo it twice, alike: cheaper than np.unique
            self.nodes[nodes] = self.combine(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])

    def rebuild(self) -> None:
        """Redo every inner node from the leaves (after loading all leaves at once)."""
        for level in range(self.depth - 1, -1, -1):
            nodes = np.arange(1 << level, 2 << level)
            self.nodes[nodes] = self.combine(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])


class SumTree(_Tree):
    """Every node holds the sum of its children: the root is the total priority, and walking down from the root
    finds the item at which the running sum of priorities passes a given number (a prefix-sum search)."""

    combine = np.add
    empty = 0.0

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def find(self, values: np.ndarray) -> np.ndarray:
        """For each value in [0, total), the item i with ``sum(p[:i]) <= value < sum(p[:i+1])``.

        At each node: go left when the value falls within the left child's sum, else subtract that sum and go
        right. A draw that rounding pushes to the very end of the range stays on the last item with a non-zero
        priority (never going into an all-zero subtree), so an empty slot is never returned."""
        values = np.asarray(values, dtype=np.float64).copy()
        node = np.ones(values.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * node
            left_sum, right_sum = self.nodes[left], self.nodes[left + 1]
            go_right = (values >= left_sum) & (right_sum > 0)
            values = np.where(go_right, values - left_sum, values)
            node = left + go_right
        return node - self.leaves

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Stratified sampling: cut [0, total) into ``batch_size`` equal segments and draw once in each, so a
        batch spreads over the whole memory (Schaul et al. 2016, appendix B.2.1)."""
        if not self.total > 0:
            raise ValueError("cannot sample from a sum tree whose priorities are all zero")
        segment = self.total / batch_size
        return self.find((np.arange(batch_size) + rng.random(batch_size)) * segment)


class MinTree(_Tree):
    """Every node holds the smaller of its children: the root is the smallest priority, which gives the largest
    importance-sampling weight. Items that cannot be drawn hold +inf."""

    combine = np.minimum
    empty = math.inf

    @property
    def minimum(self) -> float:
        return float(self.nodes[1])


# -- the memory ---------------------------------------------------------------------------------------------------


@dataclass
class ReplayBatch:
    """One batch to learn from. The DQN target is ``returns + bootstrap * discounts * max_a Q(next_observations)``."""

    observations: np.ndarray
    """(B, *obs_shape): what the agent saw when it acted."""
    actions: np.ndarray
    """(B,) int64: what it did."""
    returns: np.ndarray
    """(B,) float32: the discounted sum of the (up to) n rewards that followed."""
    next_observations: np.ndarray
    """(B, *obs_shape): the observation n steps later, or the one the episode ended on."""
    discounts: np.ndarray
    """(B,) float32: gamma ** m, m the number of rewards summed (n, or fewer when the episode ended)."""
    bootstrap: np.ndarray
    """(B,) bool: False when the episode terminated within those m steps (a time-limit cut-off still bootstraps)."""
    indices: np.ndarray
    """(B,) int64: where the transitions lie, for ``update_priorities``."""
    weights: np.ndarray
    """(B,) float32: importance-sampling weights to multiply each loss term by (all 1 for uniform replay)."""


class ReplayMemory:
    """The replay memory; see the module's docstring for how it is laid out.

    Per step of a vectorised env, call ``add(obs, actions, rewards, next_obs, terminated, truncated)`` with one
    row per env; ``sample(batch_size, beta)`` draws a :class:`ReplayBatch`; with prioritized replay, hand the
    batch's TD errors back through ``update_priorities(batch.indices, td_errors)``.
    """

    def __init__(self, settings: ReplaySettings, *, seed: int | None = None, check_memory: bool = True) -> None:
        if check_memory:
            check_fits(settings)
        self.settings = s = settings
        self.rng = np.random.default_rng(seed)
        slots = s.n_envs * s.per_env
        # One row per slot; env e owns rows e*per_env .. (e+1)*per_env - 1. np.empty and np.zeros reserve the
        # memory without touching it, so a 7 GB memory costs nothing until it fills.
        self.frames = np.empty((slots, *s.slot_shape), dtype=s.obs_dtype)
        self.actions = np.zeros(slots, dtype=np.int32)
        self.rewards = np.zeros(slots, dtype=np.float32)
        self.terminated = np.zeros(slots, dtype=bool)
        self.truncated = np.zeros(slots, dtype=bool)
        self.kind = np.zeros(slots, dtype=np.uint8)  # EMPTY, PREFIX, STEP or FINAL
        self.age = np.zeros(slots, dtype=np.uint8)  # earlier slots of the same episode behind this one (< stack)
        self.ready = np.zeros(slots, dtype=bool)  # a step whose n-step window is complete: it may be sampled
        # Per env: slots written so far (the next slot's position in the stream, which never wraps), where the
        # current episode's first step is, the age of the last slot written, and whether an episode starts next.
        self._head = np.zeros(s.n_envs, dtype=np.int64)
        self._episode_first = np.zeros(s.n_envs, dtype=np.int64)
        self._last_age = np.full(s.n_envs, -1, dtype=np.int64)
        self._starting = np.ones(s.n_envs, dtype=bool)
        self.n_ready = 0
        if s.prioritized:
            self.sum_tree = SumTree(slots)
            self.min_tree = MinTree(slots)
            self.max_priority = 1.0  # what a new transition gets: the largest priority seen so far

    def __len__(self) -> int:
        """How many transitions can be sampled now."""
        return self.n_ready

    @property
    def nbytes(self) -> int:
        """Bytes of every array this memory holds (what ``ReplaySettings.nbytes`` predicts)."""
        arrays = [self.frames, self.actions, self.rewards, self.terminated, self.truncated, self.kind, self.age,
                  self.ready, self._head, self._episode_first, self._last_age, self._starting]
        if self.settings.prioritized:
            arrays += [self.sum_tree.nodes, self.min_tree.nodes]
        return sum(a.nbytes for a in arrays)

    # -- adding --------------------------------------------------------------------------------------------------

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray) -> None:
        """One step of every env: ``obs`` what each env showed, ``actions`` what was done, ``rewards``,
        ``terminated`` / ``truncated`` Gymnasium's two endings (a true end; a time-limit cut-off).

        ``next_obs`` is read only for envs whose episode ended: there it must be the observation the episode
        ended on (SB3's ``terminal_observation``, Gymnasium's ``final_obs``), which a time-limit cut-off
        bootstraps from (SB3's DQN copies ``infos[i]["terminal_observation"]`` into those rows). For every other
        env the next observation is the ``obs`` of the next call, so those rows are not read."""
        s = self.settings
        n_envs = s.n_envs
        obs, next_obs = self._observations(obs), self._observations(next_obs)
        actions = np.asarray(actions).reshape(n_envs)
        rewards = np.asarray(rewards, dtype=np.float32).reshape(n_envs)
        terminated = np.asarray(terminated, dtype=bool).reshape(n_envs)
        truncated = np.asarray(truncated, dtype=bool).reshape(n_envs)
        envs = np.arange(n_envs)

        # An episode starts: its stack restarts at zeros, unless the env shows real older frames, kept as P slots.
        starting = envs[self._starting]
        self._last_age[starting] = -1
        if s.stack > 1 and starting.size:
            history = starting[obs[starting, :-1].reshape(starting.size, -1).any(axis=1)]
            for k in range(s.stack - 1):
                self._write(history, obs[history, k], PREFIX)

        newest = obs[:, -1] if s.stacked else obs
        h = self._write(envs, newest, STEP, actions=actions, rewards=rewards, terminated=terminated,
                        truncated=truncated)
        self._episode_first[starting] = h[starting]
        self._starting[:] = False
        # This slot is the observation n steps after the step n slots back: that step's window is now complete.
        self._ready_from(envs, h - s.n_step, h - s.n_step)

        ended = envs[terminated | truncated]
        if ended.size:
            final = next_obs[ended, -1] if s.stacked else next_obs[ended]
            h = self._write(ended, final, FINAL)
            # The episode is over: its last n steps' windows end here, however short.
            self._ready_from(ended, h - s.n_step, h - 1)
            self._starting[ended] = True

    def cut_episodes(self) -> None:
        """The envs are new ones (a resumed run): the games they played when the memory was saved are over. The
        next step of each env starts a game, and the cut games' last steps, whose n-step windows never completed
        (the observations after them were never seen), are never sampled."""
        self._starting[:] = True

    def _observations(self, obs: np.ndarray) -> np.ndarray:
        s = self.settings
        obs = np.asarray(obs)
        if obs.shape != (s.n_envs, *s.obs_shape):
            raise ValueError(f"observations must have shape {(s.n_envs, *s.obs_shape)}, got {obs.shape}")
        if s.stacked and obs.dtype != np.uint8:
            raise ValueError(f"stacked frames must be uint8, got {obs.dtype}")
        return obs.astype(s.obs_dtype, copy=False)

    def _write(self, envs: np.ndarray, frames: np.ndarray, kind: int, *, actions: np.ndarray | None = None,
               rewards: np.ndarray | None = None, terminated: np.ndarray | None = None,
               truncated: np.ndarray | None = None) -> np.ndarray:
        """Write one slot at the head of each env in ``envs``; return the slots' positions in their streams."""
        s, per_env = self.settings, self.settings.per_env
        h = self._head[envs]
        rows = envs * per_env + h % per_env
        full = h >= per_env
        if full.any():
            # The stream has come round: the oldest slot is overwritten, and the slot stack-1 places after it joins
            # the few oldest ones whose stacks may reach back to a frame now gone. Neither may be sampled any more.
            oldest = h[full] - per_env
            self._unready(np.concatenate([rows[full], envs[full] * per_env + (oldest + s.stack - 1) % per_env]))
        self.frames[rows] = frames
        self.kind[rows] = kind
        self.actions[rows] = 0 if actions is None else actions[envs]
        self.rewards[rows] = 0.0 if rewards is None else rewards[envs]
        self.terminated[rows] = False if terminated is None else terminated[envs]
        self.truncated[rows] = False if truncated is None else truncated[envs]
        age = np.minimum(self._last_age[envs] + 1, s.stack - 1)
        self.age[rows] = age
        self._last_age[envs] = age
        self._head[envs] = h + 1
        return h

    def _ready_from(self, envs: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        """Steps ``first .. last`` of each env (positions in its stream) may be sampled, where they belong to the
        current episode."""
        n, per_env = self.settings.n_step, self.settings.per_env
        positions = first[:, None] + np.arange(n)[None, :]
        keep = (positions <= last[:, None]) & (positions >= self._episode_first[envs][:, None])
        rows = (envs[:, None] * per_env + positions % per_env)[keep]
        rows = rows[~self.ready[rows]]
        if rows.size:
            self.ready[rows] = True
            self.n_ready += rows.size
            if self.settings.prioritized:
                self.sum_tree.set(rows, self.max_priority)
                self.min_tree.set(rows, self.max_priority)

    def _unready(self, rows: np.ndarray) -> None:
        rows = np.unique(rows)
        rows = rows[self.ready[rows]]
        if rows.size:
            self.ready[rows] = False
            self.n_ready -= rows.size
            if self.settings.prioritized:
                self.sum_tree.set(rows, 0.0)
                self.min_tree.set(rows, math.inf)

    # -- sampling ------------------------------------------------------------------------------------------------

    def sample(self, batch_size: int, beta: float | None = None) -> ReplayBatch:
        """A batch of ``batch_size`` transitions (drawn with replacement).

        Prioritized replay draws in proportion to priority and needs ``beta``, the strength of the correction,
        which the loop anneals to 1 over training (Schaul et al. 2016, section 3.4)."""
        if self.n_ready == 0:
            raise ValueError("the replay memory has no complete transition to sample yet")
        if not self.settings.prioritized:
            rows = self._uniform(batch_size)
            return self.gather(rows)
        if beta is None or not 0.0 <= beta <= 1.0:
            raise ValueError(f"prioritized sampling needs beta in [0, 1], got {beta}")
        rows = self.sum_tree.sample(batch_size, self.rng)
        # w_i = (N * P(i))^-beta / max_j w_j with P(i) = p_i / total. We normalise by the largest weight over the
        # whole memory (as Schaul et al.'s Algorithm 1 and OpenAI Baselines do), not the batch's: then a
        # transition's weight does not depend on which others happened to be drawn with it, and every update is
        # scaled down by the same bound. The largest weight belongs to the smallest priority, and N and the total
        # cancel: w_i = (p_min / p_i)^beta.
        weights = (self.min_tree.minimum / self.sum_tree.get(rows)) ** beta
        return self.gather(rows, weights)

    def _uniform(self, batch_size: int) -> np.ndarray:
        """Rows drawn uniformly among the sampleable ones: draw among the written slots and draw again for the
        few that are not sampleable (the last n-1 steps of each env, final and prefix slots)."""
        per_env = self.settings.per_env
        written = np.minimum(self._head, per_env)
        ends = np.cumsum(written)
        rows = np.empty(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        for _ in range(64):
            draw = self.rng.integers(0, ends[-1], size=todo.size)
            env = np.searchsorted(ends, draw, side="right")
            candidate = env * per_env + draw - (ends[env] - written[env])
            ok = self.ready[candidate]
            rows[todo[ok]] = candidate[ok]
            todo = todo[~ok]
            if todo.size == 0:
                return rows
        rows[todo] = self.rng.choice(np.flatnonzero(self.ready), size=todo.size)  # a nearly empty memory
        return rows

    def gather(self, rows: np.ndarray, weights: np.ndarray | None = None) -> ReplayBatch:
        """The transitions at ``rows`` (sampleable ones), with their n-step returns and rebuilt stacks."""
        s, per_env = self.settings, self.settings.per_env
        rows = np.asarray(rows, dtype=np.int64)
        if not self.ready[rows].all():
            raise ValueError("gather was asked for transitions that cannot be sampled")
        base, position = rows - rows % per_env, rows % per_env
        returns = np.zeros(rows.size, dtype=np.float64)
        summed = np.zeros(rows.size, dtype=np.int64)
        alive = np.ones(rows.size, dtype=bool)
        ended_by_termination = np.zeros(rows.size, dtype=bool)
        for k in range(s.n_step):  # walk the window one step at a time, all transitions at once
            step = base + (position + k) % per_env
            returns += np.where(alive, s.gamma**k * self.rewards[step], 0.0)
            summed += alive
            ended_by_termination |= alive & self.terminated[step]
            alive &= ~(self.terminated[step] | self.truncated[step])
        following = base + (position + summed) % per_env  # the next step's slot, or the episode's final slot
        return ReplayBatch(
            observations=self._stacks(rows),
            actions=self.actions[rows].astype(np.int64),
            returns=returns.astype(np.float32),
            next_observations=self._stacks(following),
            discounts=(s.gamma**summed).astype(np.float32),
            bootstrap=~ended_by_termination,
            indices=rows,
            weights=np.ones(rows.size, dtype=np.float32) if weights is None else weights.astype(np.float32),
        )

    def _stacks(self, rows: np.ndarray) -> np.ndarray:
        """The observations whose newest frame is at ``rows``: that frame and the ones before it in its episode,
        zeros where the episode had not begun."""
        s, per_env = self.settings, self.settings.per_env
        if not s.stacked:
            return self.frames[rows]
        base, position, age = rows - rows % per_env, rows % per_env, self.age[rows]
        stacks = np.empty((rows.size, *s.obs_shape), dtype=s.obs_dtype)
        for back in range(s.stack):  # back = 0 is the newest frame, stored last in the stack
            there = back <= age
            stacks[there, s.stack - 1 - back] = self.frames[base[there] + (position[there] - back) % per_env]
            stacks[~there, s.stack - 1 - back] = 0
        return stacks

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Set the priorities of the transitions at ``indices`` to ``(|td_error| + eps) ** alpha``.

        A transition overwritten since it was sampled keeps the priority its slot has now."""
        s = self.settings
        if not s.prioritized:
            raise ValueError("update_priorities needs a prioritized replay memory")
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        td = np.asarray(td_errors, dtype=np.float64).reshape(-1)
        if td.shape != rows.shape or not np.isfinite(td).all():
            raise ValueError(f"td_errors must be {rows.size} finite numbers, got {td_errors!r}")
        live = self.ready[rows]
        rows, priorities = rows[live], (np.abs(td[live]) + s.eps) ** s.alpha
        if rows.size:
            self.sum_tree.set(rows, priorities)
            self.min_tree.set(rows, np.where(priorities > 0, priorities, math.inf))  # a zero is never drawn
            self.max_priority = max(self.max_priority, float(priorities.max()))

    # -- saving and loading --------------------------------------------------------------------------------------

    def _per_env(self) -> dict[str, np.ndarray]:
        return {"head": self._head, "episode_first": self._episode_first, "last_age": self._last_age,
                "starting": self._starting}

    def _per_slot(self) -> dict[str, np.ndarray]:
        slots = {"frames": self.frames, "actions": self.actions, "rewards": self.rewards,
                 "terminated": self.terminated, "truncated": self.truncated, "kind": self.kind, "age": self.age,
                 "ready": self.ready}
        if self.settings.prioritized:
            slots["priorities"] = self.sum_tree.nodes[self.sum_tree.leaves:][: self.ready.size]
        return slots

    def _written(self) -> int:
        """Slots written in the env that wrote the most (a saved file holds no more than that per env)."""
        return int(min(self._head.max(), self.settings.per_env))

    def save(self, path: str | Path) -> Path:
        """Write the whole memory to one ``.npz`` of plain arrays (settings and random state as JSON text in the
        ``meta`` array), through a temporary file so a crash never leaves half of one."""
        s, per_env, written = self.settings, self.settings.per_env, self._written()
        for env in range(s.n_envs):  # slots no stream has reached hold np.empty's leftovers: save zeros instead
            self.frames[env * per_env + min(int(self._head[env]), per_env): env * per_env + written] = 0
        meta = {"format": SAVE_FORMAT, "settings": asdict(s), "rng": self.rng.bit_generator.state,
                "max_priority": self.max_priority if s.prioritized else None}
        arrays = {"meta": np.array(json.dumps(meta))}
        arrays.update({name: array.reshape(s.n_envs, per_env, *array.shape[1:])[:, :written]
                       for name, array in self._per_slot().items()})
        arrays.update(self._per_env())
        return atomic_write(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: str | Path, expected_settings: ReplaySettings, *, check_memory: bool = True) -> ReplayMemory:
        """The memory saved at ``path``, exactly as it was (contents, priorities, random state), refused in one
        sentence when it was made with other settings than ``expected_settings`` or cannot be read."""
        path = Path(path)
        meta = check_saved(path, expected_settings)
        memory = cls(expected_settings, check_memory=check_memory)
        try:
            memory._fill_from(path, meta)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise CheckpointError("replay.unreadable", path=str(path), reason=_reason(exc)) from exc
        return memory

    def _fill_from(self, path: Path, meta: dict[str, Any]) -> None:
        s, per_env = self.settings, self.settings.per_env
        with zipfile.ZipFile(path) as archive:
            for name, array in self._per_env().items():
                _read_into(archive, name, array)
            written = self._written()
            if (self._head < 0).any() or (self._episode_first > self._head).any():
                raise ValueError("the stream positions are inconsistent")
            for name, array in self._per_slot().items():
                _read_into(archive, name, array.reshape(s.n_envs, per_env, *array.shape[1:])[:, :written])
        self.n_ready = int(self.ready.sum())
        self.rng.bit_generator.state = meta["rng"]
        if s.prioritized:
            leaves = self.sum_tree.nodes[self.sum_tree.leaves:][: self.ready.size]
            if (leaves[~self.ready] != 0).any() or not (leaves[self.ready] > 0).all():
                raise ValueError("the priorities do not match the sampleable transitions")
            self.min_tree.nodes[self.min_tree.leaves:][: self.ready.size] = np.where(leaves > 0, leaves, math.inf)
            self.sum_tree.rebuild()
            self.min_tree.rebuild()
            self.max_priority = float(meta["max_priority"])


def check_saved(path: str | Path, expected_settings: ReplaySettings) -> dict[str, Any]:
    """The saved memory's metadata, after checking (from its small ``meta`` array alone) that it can be read and
    was made with ``expected_settings``; one sentence otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("replay.file_missing", path=str(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"][()]))
        if meta.get("format") != SAVE_FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        saved = ReplaySettings(**meta["settings"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, BadConfig) as exc:
        raise CheckpointError("replay.unreadable", path=str(path), reason=_reason(exc)) from exc
    for field in fields(ReplaySettings):
        was, now = getattr(saved, field.name), getattr(expected_settings, field.name)
        if was != now:
            raise CheckpointError("replay.settings_differ", path=str(path), setting=field.name, saved=was,
                                  expected=now)
    return meta


def _read_into(archive: zipfile.ZipFile, name: str, out: np.ndarray) -> None:
    """Read the array ``name`` of an ``.npz`` straight into ``out``, a chunk at a time (``np.load`` would make a
    second full copy: 7 GB more at the worst moment of a resume)."""
    with archive.open(f"{name}.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(member)
        if shape != out.shape or dtype != out.dtype or fortran_order:
            raise ValueError(f"{name} holds {dtype} {shape}, expected {out.dtype} {out.shape}")
        for part in [out] if out.flags.c_contiguous else list(out):  # each env's rows are contiguous
            buffer = memoryview(part.reshape(-1).view(np.uint8))
            done = 0
            while done < len(buffer):
                got = member.readinto(buffer[done: done + _READ_CHUNK])
                if not got:
                    raise EOFError(f"{name} ends early")
                done += got


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
