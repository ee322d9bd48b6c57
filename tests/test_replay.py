"""The DQN family's replay memory (agents/replay.py), against numbers worked out by hand.

The n-step examples use n = 3 and gamma = 0.9, two envs stepping side by side::

    t              0     1     2     3     4
    env 0 reward   1     2     3     4     5     terminated after t = 4 (no bootstrap)
    env 1 reward   10    20    30    40    50    truncated after t = 4 (bootstrap from its final observation)

    t = 0: 1 + 0.9*2 + 0.81*3 = 5.23    next = obs 3,  discount 0.729
    t = 1: 2 + 0.9*3 + 0.81*4 = 7.94    next = obs 4,  discount 0.729
    t = 2: 3 + 0.9*4 + 0.81*5 = 10.65   next = final,  discount 0.729
    t = 3: 4 + 0.9*5          = 8.5     next = final,  discount 0.81
    t = 4: 5                  = 5       next = final,  discount 0.9
    (env 1: ten times those returns, the same next observations and discounts)

Atari-like checks use a fake vector env whose 84x84 frames carry a unique id in their first three pixels, so a
rebuilt stack can be compared with exactly what the env showed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from agents import replay
from agents.replay import (
    FINAL,
    PREFIX,
    MinTree,
    ReplayMemory,
    ReplaySettings,
    SumTree,
    memory_nbytes,
)
from playground.errors import BadConfig, CheckpointError, PlaygroundError

CJK = re.compile(r"[\u3400-\u9fff]")
N, GAMMA = 3, 0.9


# -- the sum tree ------------------------------------------------------------------------------------------------


def test_sum_tree_holds_sums_and_finds_prefix_sums() -> None:
    tree = SumTree(5)  # 8 leaves: priorities 1, 2, 3, 4, then four empty ones
    tree.set(np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert tree.leaves == 8 and tree.total == 10.0
    #             root  left half     right half     node 4 = 1+2, node 5 = 3+4, nodes 6 and 7 empty
    assert tree.nodes[1:8].tolist() == [10.0, 10.0, 0.0, 3.0, 7.0, 0.0, 0.0]
    # running sums 1, 3, 6, 10: a value falls on the item where the running sum passes it
    values = np.array([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99])
    assert tree.find(values).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert tree.find(np.array([10.0, 10.5])).tolist() == [3, 3]  # past the end: the last item, never an empty leaf


def test_sum_tree_batch_update_redoes_every_node_above() -> None:
    tree = SumTree(5)
    tree.set(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    tree.set(np.array([1, 3]), np.array([5.0, 0.0]))  # priorities now 1, 5, 3, 0
    assert tree.total == 9.0 and tree.nodes[4] == 6.0 and tree.nodes[5] == 3.0
    assert tree.get(np.arange(5)).tolist() == [1.0, 5.0, 3.0, 0.0, 0.0]
    assert tree.find(np.array([0.5, 1.0, 5.99, 6.0, 8.99])).tolist() == [0, 1, 1, 2, 2]
    minimum = MinTree(5)
    minimum.set(np.arange(4), np.array([4.0, 2.0, 3.0, 5.0]))
    assert minimum.minimum == 2.0
    minimum.set(np.array([1, 0]), np.array([math.inf, 6.0]))
    assert minimum.minimum == 3.0
    # rebuilding from the leaves gives the same tree
    copy = SumTree(5)
    copy.nodes[copy.leaves:] = tree.nodes[tree.leaves:]
    copy.rebuild()
    assert np.array_equal(copy.nodes, tree.nodes)


def test_stratified_sampling_draws_in_proportion_to_priority() -> None:
    tree = SumTree(3)
    tree.set(np.arange(3), np.array([1.0, 2.0, 7.0]))
    rng = np.random.default_rng(0)
    draws = np.concatenate([tree.sample(64, rng) for _ in range(500)])
    assert set(np.unique(draws)) == {0, 1, 2}  # never the empty fourth leaf
    assert np.allclose(np.bincount(draws, minlength=3) / draws.size, [0.1, 0.2, 0.7], atol=0.01)


# -- n-step returns ---------------------------------------------------------------------------------------------


def flat(n_envs: int = 2, capacity: int = 64, **settings: object) -> ReplayMemory:
    settings = {"n_step": N, "gamma": GAMMA, **settings}
    chosen = ReplaySettings(capacity=capacity, obs_shape=(2,), n_envs=n_envs, **settings)  # type: ignore[arg-type]
    return ReplayMemory(chosen, seed=0)


def by_observation(memory: ReplayMemory) -> dict[tuple[float, float], dict[str, object]]:
    """Every sampleable transition, keyed by its observation (t, env)."""
    batch = memory.gather(np.flatnonzero(memory.ready))
    return {tuple(obs): {"return": float(r), "next": tuple(nxt), "discount": float(d), "bootstrap": bool(b)}
            for obs, r, nxt, d, b in zip(batch.observations.tolist(), batch.returns, batch.next_observations.tolist(),
                                         batch.discounts, batch.bootstrap, strict=True)}


def test_n_step_targets_across_a_termination_and_a_time_limit_cut_off() -> None:
    memory = flat()
    final = np.array([[100.0, 0.0], [99.0, 1.0]])  # the observations the episodes end on
    for t in range(5):
        obs = np.array([[t, 0.0], [t, 1.0]])
        ended = t == 4
        next_obs = final if ended else obs + [1.0, 0.0]
        memory.add(obs, [0, 1], [t + 1.0, 10.0 * (t + 1)], next_obs, [ended, False], [False, ended])
        # a transition waits until its n steps are all in the memory
        assert len(memory) == {0: 0, 1: 0, 2: 0, 3: 2, 4: 10}[t]
    got = by_observation(memory)
    expected_env0 = {0: (5.23, (3, 0), 0.729, True), 1: (7.94, (4, 0), 0.729, True),
                     2: (10.65, (100, 0), 0.729, False), 3: (8.5, (100, 0), 0.81, False),
                     4: (5.0, (100, 0), 0.9, False)}
    expected_env1 = {0: (52.3, (3, 1), 0.729, True), 1: (79.4, (4, 1), 0.729, True),
                     2: (106.5, (99, 1), 0.729, True), 3: (85.0, (99, 1), 0.81, True), 4: (50.0, (99, 1), 0.9, True)}
    for env, expected in ((0, expected_env0), (1, expected_env1)):
        for t, (ret, nxt, discount, bootstrap) in expected.items():
            transition = got[(t, env)]
            assert transition["return"] == pytest.approx(ret, rel=1e-6), (env, t)
            assert transition["next"] == nxt and transition["discount"] == pytest.approx(discount, rel=1e-6)
            assert transition["bootstrap"] is bootstrap, (env, t)
    # a new episode does not leak into the old one's windows, and is not sampleable until its window fills
    memory.add(np.array([[50.0, 0.0], [50.0, 1.0]]), [0, 0], [1000.0, 1000.0], np.zeros((2, 2)), [False, False],
               [False, False])
    assert len(memory) == 10 and by_observation(memory) == got
    batch = memory.sample(256)
    assert set(map(tuple, batch.observations.tolist())) <= set(got)
    assert batch.actions.dtype == np.int64 and set(batch.actions.tolist()) == {0, 1}
    assert np.array_equal(batch.actions, batch.observations[:, 1].astype(np.int64))  # env 1 always did action 1


def test_n_step_1_is_plain_dqn() -> None:
    memory = flat(n_envs=1, n_step=1)
    for t in range(3):
        memory.add([[t, 0.0]], [0], [t + 1.0], [[7.0, 0.0]], [t == 2], [False])
    got = by_observation(memory)
    assert got[(0, 0)] == {"return": 1.0, "next": (1, 0), "discount": pytest.approx(0.9), "bootstrap": True}
    assert got[(2, 0)] == {"return": 3.0, "next": (7, 0), "discount": pytest.approx(0.9), "bootstrap": False}


def test_uniform_sampling_is_uniform_over_complete_transitions() -> None:
    memory = flat(n_envs=1, n_step=1)
    for t in range(10):  # one long episode: steps 0..8 have their next observation, step 9 does not yet
        memory.add([[t, 0.0]], [0], [0.0], [[0.0, 0.0]], [False], [False])
    draws = memory.sample(9000).observations[:, 0].astype(int)
    counts = np.bincount(draws, minlength=10)
    assert counts[9] == 0 and np.all(np.abs(counts[:9] - 1000) < 150), counts
    assert np.all(memory.sample(4).weights == 1.0)


# -- prioritized replay -------------------------------------------------------------------------------------------


def three_transitions() -> ReplayMemory:
    """Priorities 1, 2 and 7 (alpha = 1, eps = 0, so a priority is |TD error|)."""
    memory = flat(n_envs=1, n_step=1, prioritized=True, alpha=1.0, eps=0.0)
    for t in range(3):
        memory.add([[t, 0.0]], [0], [0.0], [[9.0, 0.0]], [t == 2], [False])
    assert len(memory) == 3 and np.flatnonzero(memory.ready).tolist() == [0, 1, 2]
    assert memory.sum_tree.get(np.arange(3)).tolist() == [1.0, 1.0, 1.0]  # new ones get the largest so far: 1
    memory.update_priorities(np.array([0, 1, 2]), np.array([1.0, -2.0, 7.0]))
    return memory


def test_prioritized_sampling_follows_priorities_and_weights_are_computed_by_hand() -> None:
    memory = three_transitions()
    assert memory.sum_tree.total == 10.0 and memory.min_tree.minimum == 1.0
    # P = 0.1, 0.2, 0.7; N = 3; w = (N P)^-beta / max_j w_j with beta = 0.5:
    #   (0.3)^-0.5 = 1.8257, (0.6)^-0.5 = 1.2910, (2.1)^-0.5 = 0.6901; divided by the largest, 1.8257:
    by_hand = {0: 1.0, 1: 0.7071068, 2: 0.3779645}
    draws = []
    for _ in range(300):
        batch = memory.sample(32, beta=0.5)
        draws.append(batch.indices)
        for row, weight in zip(batch.indices.tolist(), batch.weights.tolist(), strict=True):
            assert weight == pytest.approx(by_hand[row], rel=1e-6)  # the same in every batch: memory-wide max
    for _ in range(50):  # a batch of one rarely holds the smallest priority: still divided by the memory's max
        single = memory.sample(1, beta=0.5)
        assert single.weights[0] == pytest.approx(by_hand[int(single.indices[0])], rel=1e-6)
    frequencies = np.bincount(np.concatenate(draws), minlength=3) / (300 * 32)
    assert np.allclose(frequencies, [0.1, 0.2, 0.7], atol=0.01), frequencies
    assert np.all(memory.sample(8, beta=0.0).weights == 1.0)
    with pytest.raises(ValueError):
        memory.sample(8)  # prioritized sampling needs its beta


def test_priorities_follow_td_errors_and_new_transitions_get_the_largest() -> None:
    memory = flat(n_envs=1, n_step=1, prioritized=True, alpha=0.5, eps=0.01)
    for t in range(3):
        memory.add([[t, 0.0]], [0], [0.0], [[9.0, 0.0]], [False], [False])
    memory.update_priorities(np.array([0, 1]), np.array([3.99, -0.99]))
    assert memory.sum_tree.get(np.array([0, 1])).tolist() == pytest.approx([2.0, 1.0])  # (|d| + 0.01) ** 0.5
    memory.add([[3, 0.0]], [0], [0.0], [[9.0, 0.0]], [False], [False])  # step 2 is complete now
    assert memory.sum_tree.get(np.array([2])).tolist() == [2.0] and memory.max_priority == 2.0
    with pytest.raises(ValueError):
        memory.update_priorities(np.array([0]), np.array([math.nan]))


# -- Atari frames, stored once ------------------------------------------------------------------------------------


class FakeAtari:
    """``n_envs`` envs of 4-frame 84x84 uint8 stacks (newest last), each frame stamped with a unique id.

    ``padding`` is what a fresh episode's stack holds before its first frame: ``zeros`` (our ALE vector env,
    SB3's VecFrameStack), ``repeat`` (Gymnasium's FrameStackObservation) or ``continue`` (a life-loss terminal:
    the game goes on, so the next episode starts from the stack it ended on)."""

    def __init__(self, n_envs: int, padding: str, seed: int = 0) -> None:
        self.rng, self.padding, self.next_id = np.random.default_rng(seed), padding, 1
        self.stacks = np.zeros((n_envs, 4, 84, 84), dtype=np.uint8)
        self.left = np.zeros(n_envs, dtype=int)
        for env in range(n_envs):
            self._start(env, first=True)

    def frame(self) -> np.ndarray:
        frame = self.rng.integers(0, 256, (84, 84), dtype=np.uint8)
        frame[0, :3] = self.next_id >> 16, (self.next_id >> 8) & 255, self.next_id & 255
        self.next_id += 1
        return frame

    def _start(self, env: int, first: bool = False) -> None:
        self.left[env] = self.rng.integers(1, 12)
        if self.padding == "continue" and not first:
            return
        frame = self.frame()
        self.stacks[env] = frame if self.padding == "repeat" else 0
        self.stacks[env, -1] = frame

    def step(self) -> tuple[np.ndarray, ...]:
        obs = self.stacks.copy()
        self.stacks = np.concatenate([self.stacks[:, 1:], np.stack([self.frame() for _ in obs])[:, None]], axis=1)
        next_obs = self.stacks.copy()
        rewards = self.rng.integers(-3, 4, len(obs)).astype(np.float32)
        self.left -= 1
        ended = self.left == 0
        terminated = ended & (self.rng.random(len(obs)) < 0.5)
        truncated = ended & ~terminated
        for env in np.flatnonzero(ended):
            self._start(env)
        return obs, self.rng.integers(0, 6, len(obs)), rewards, next_obs, terminated, truncated


def frame_id(stack: np.ndarray) -> int:
    r, g, b = (int(v) for v in stack[-1, 0, :3])
    return (r << 16) | (g << 8) | b


def play(memory: ReplayMemory, env: FakeAtari, steps: int) -> list[list[tuple[np.ndarray, ...]]]:
    """Feed ``steps`` vector steps to ``memory``; return what each env did, step by step."""
    record: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(memory.settings.n_envs)]
    for _ in range(steps):
        obs, actions, rewards, next_obs, terminated, truncated = env.step()
        memory.add(obs, actions, rewards, next_obs, terminated, truncated)
        for e in range(len(obs)):
            record[e].append((obs[e], actions[e], rewards[e], next_obs[e], terminated[e], truncated[e]))
    return record


def expected_transition(steps: list[tuple[np.ndarray, ...]], t: int, n: int, gamma: float) -> tuple[object, ...]:
    """The n-step transition starting at step ``t`` of one env, worked out from what the env did."""
    ret, summed = 0.0, 0
    for k in range(n):
        _, _, reward, _, terminated, truncated = steps[t + k]
        ret += gamma**k * float(reward)
        summed += 1
        if terminated or truncated:
            break
    last = steps[t + summed - 1]
    return steps[t][0], int(steps[t][1]), ret, last[3], gamma**summed, not bool(last[4])


def complete(steps: list[tuple[np.ndarray, ...]], t: int, n: int) -> bool:
    """Whether step t's n-step window is all in: the episode ended within it, or step t+n has been added."""
    return any(s[4] or s[5] for s in steps[t:t + n]) or t + n < len(steps)


def check_against_env(memory: ReplayMemory, record: list[list[tuple[np.ndarray, ...]]]) -> int:
    """Every sampleable transition is exactly what the env gave; return how many there are."""
    where = {frame_id(steps[t][0]): (e, t) for e, steps in enumerate(record) for t in range(len(steps))}
    batch = memory.gather(np.flatnonzero(memory.ready))
    s = memory.settings
    for j in range(len(batch.indices)):
        e, t = where[frame_id(batch.observations[j])]
        obs, action, ret, nxt, discount, bootstrap = expected_transition(record[e], t, s.n_step, s.gamma)
        assert np.array_equal(batch.observations[j], obs), (e, t)
        assert np.array_equal(batch.next_observations[j], nxt), (e, t)
        assert batch.actions[j] == action and batch.bootstrap[j] == bootstrap
        assert batch.returns[j] == pytest.approx(ret, rel=1e-5) and batch.discounts[j] == pytest.approx(discount)
    return len(batch.indices)


def atari(capacity: int, n_envs: int, **settings: object) -> ReplayMemory:
    settings = {"n_step": N, "gamma": GAMMA, **settings}
    return ReplayMemory(ReplaySettings(capacity=capacity, obs_shape=(4, 84, 84), obs_dtype="uint8", n_envs=n_envs,
                                       **settings), seed=1)  # type: ignore[arg-type]


def test_frames_are_stored_once_and_stacks_rebuilt_as_the_env_gave_them() -> None:
    steps = 150
    memory, env = atari(capacity=2 * 200, n_envs=2), FakeAtari(2, "zeros")
    record = play(memory, env, steps)
    # one 84x84 frame per slot, and one slot per step plus one per ended episode (its final observation):
    # not 4 frames per observation, not 8 with the next observation beside it
    assert memory.frames.shape == (400, 84, 84) and memory.frames.nbytes == 400 * 84 * 84
    episodes = [sum(bool(s[4] or s[5]) for s in steps_e) for steps_e in record]
    assert memory._head.tolist() == [steps + e for e in episodes] and (memory.kind == PREFIX).sum() == 0
    assert sum(memory._head) * 84 * 84 < 1.2 * 2 * steps * 84 * 84
    # every transition whose window is complete can be sampled, and each one is exactly the env's
    wanted = sum(complete(steps_e, t, N) for steps_e in record for t in range(len(steps_e)))
    assert check_against_env(memory, record) == wanted == len(memory)
    # right after an episode start the older frames are zeros, as the env gave them
    firsts = [r for r in np.flatnonzero(memory.ready) if memory.age[r] == 0]
    assert firsts and not memory.gather(np.array(firsts)).observations[:, :3].any()
    batch = memory.sample(64)
    for j in range(64):
        e, t = next((e, t) for e, s in enumerate(record) for t in range(len(s))
                    if frame_id(s[t][0]) == frame_id(batch.observations[j]))
        assert np.array_equal(batch.observations[j], record[e][t][0])


@pytest.mark.parametrize("padding", ["repeat", "continue"])
def test_an_env_that_shows_real_frames_at_an_episode_start_gets_them_back(padding: str) -> None:
    memory, env = atari(capacity=2 * 300, n_envs=2), FakeAtari(2, padding, seed=3)
    record = play(memory, env, 100)
    assert (memory.kind == PREFIX).sum() > 0  # the older frames of each first stack were kept
    wanted = sum(complete(steps_e, t, N) for steps_e in record for t in range(len(steps_e)))
    assert check_against_env(memory, record) == wanted == len(memory)


def test_a_full_memory_wraps_round_and_keeps_its_newest_transitions_exact() -> None:
    memory, env = atari(capacity=2 * 40, n_envs=2), FakeAtari(2, "continue", seed=5)
    record = play(memory, env, 200)  # five times round each env's 40 slots
    assert memory.frames.shape[0] == 80 and (memory.kind == FINAL).sum() > 0
    count = check_against_env(memory, record)
    assert 40 < count <= 80 - 2 * (N + 3)  # nearly all of what fits: not the newest n-1 or the oldest 3 per env


def test_two_envs_can_end_their_episodes_at_different_steps() -> None:
    memory, env = atari(capacity=2 * 200, n_envs=2), FakeAtari(2, "zeros", seed=11)
    record = play(memory, env, 60)
    ends = [[t for t, s in enumerate(steps_e) if s[4] or s[5]] for steps_e in record]
    assert ends[0] != ends[1]  # the seed gives the two envs different episode lengths
    assert check_against_env(memory, record) == len(memory) > 0


def test_a_1m_atari_memory_fits_in_7_5_gb_and_the_estimate_is_exact() -> None:
    need = memory_nbytes(1_000_000, (4, 84, 84), obs_dtype="uint8", n_envs=8, prioritized=True)
    assert 1_000_000 * 84 * 84 <= need <= 7.5e9, need
    assert need == 7_102_554_632  # 7.056 GB of frames, 17 MB of per-step fields, 34 MB of trees
    for settings in (ReplaySettings(capacity=1000, obs_shape=(4, 84, 84), obs_dtype="uint8", n_envs=3, n_step=3,
                                    prioritized=True),
                     ReplaySettings(capacity=1000, obs_shape=(8,), n_envs=2)):
        assert ReplayMemory(settings).nbytes == settings.nbytes


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_building_a_big_memory_does_not_touch_its_pages() -> None:
    before = rss()
    settings = ReplaySettings(capacity=100_000, obs_shape=(4, 84, 84), obs_dtype="uint8", n_envs=8, prioritized=True)
    memory = ReplayMemory(settings, check_memory=False)  # 0.7 GB once full
    assert memory.settings.nbytes > 700e6
    assert rss() - before < 60e6  # only the trees' 4 MB are written when it is built
    del memory


# -- save and load ------------------------------------------------------------------------------------------------


def assert_same_batch(a: replay.ReplayBatch, b: replay.ReplayBatch) -> None:
    for name in ("observations", "actions", "returns", "next_observations", "discounts", "bootstrap", "indices",
                 "weights"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_a_saved_memory_comes_back_exactly(tmp_path: Path) -> None:
    memory, env = atari(capacity=2 * 60, n_envs=2, prioritized=True, alpha=0.6), FakeAtari(2, "continue", seed=2)
    play(memory, env, 90)
    batch = memory.sample(16, beta=0.4)
    memory.update_priorities(batch.indices, np.linspace(-3, 3, 16))
    path = memory.save(tmp_path / "replay.npz")
    with np.load(path, allow_pickle=False) as archive:  # plain arrays only
        assert all(archive[name].dtype != object for name in archive.files)
    loaded = ReplayMemory.load(path, memory.settings)
    assert np.array_equal(loaded.sum_tree.nodes, memory.sum_tree.nodes)
    assert np.array_equal(loaded.min_tree.nodes, memory.min_tree.nodes)
    assert loaded.max_priority == memory.max_priority and len(loaded) == len(memory)
    assert_same_batch(loaded.sample(32, beta=0.7), memory.sample(32, beta=0.7))
    # both go on alike
    for _ in range(30):
        step = env.step()
        memory.add(*step)
        loaded.add(*step)
    assert_same_batch(loaded.sample(32, beta=1.0), memory.sample(32, beta=1.0))

    flat_memory = flat(n_envs=1)
    for t in range(7):
        flat_memory.add([[t, 0.0]], [1], [1.0], [[0.0, 0.0]], [t == 4], [False])
    again = ReplayMemory.load(flat_memory.save(tmp_path / "flat.npz"), flat_memory.settings)
    assert_same_batch(again.sample(8), flat_memory.sample(8))


def test_a_resumed_memory_starts_new_games_and_never_joins_them_to_the_cut_ones(tmp_path: Path) -> None:
    # A resumed run plays in new envs: the games under way at the save are cut. Their last steps (whose n-step
    # windows never completed) must never be sampled, and the new games' first stacks hold zeros, as the new envs
    # show them, not the cut games' frames.
    memory, env = atari(capacity=2 * 100, n_envs=2, prioritized=True), FakeAtari(2, "zeros", seed=6)
    before = play(memory, env, 40)
    loaded = ReplayMemory.load(memory.save(tmp_path / "replay.npz"), memory.settings)
    loaded.cut_episodes()
    fresh = FakeAtari(2, "zeros", seed=9)
    fresh.next_id = 10**6  # frame ids of their own
    for e in range(2):
        fresh._start(e, first=True)
    after = play(loaded, fresh, 40)
    record = before + after  # four streams: the cut games' and the new games'
    assert not any(s[4] or s[5] for s in before[0][-N:] + before[1][-N:]), "the seed leaves both games under way"
    wanted = sum(complete(steps_e, t, N) for steps_e in record for t in range(len(steps_e)))
    assert check_against_env(loaded, record) == wanted == len(loaded)


def test_a_saved_memory_with_other_settings_or_a_damaged_file_is_refused(tmp_path: Path) -> None:
    memory = flat(n_envs=1)
    for t in range(5):
        memory.add([[t, 0.0]], [0], [1.0], [[0.0, 0.0]], [False], [False])
    path = memory.save(tmp_path / "replay.npz")
    other = ReplaySettings(**{**memory.settings.__dict__, "n_step": 1})
    with pytest.raises(CheckpointError) as refused:
        ReplayMemory.load(path, other)
    assert refused.value.sentence("en") == (
        f"the saved replay memory {path} was made with n_step=3, but this run has n_step=1; "
        "resume with the settings the run was started with.")
    assert CJK.search(refused.value.sentence("zh"))
    # several differences: the first setting is named
    other = ReplaySettings(**{**memory.settings.__dict__, "capacity": 128, "gamma": 0.5})
    with pytest.raises(CheckpointError, match="made with capacity=64, but this run has capacity=128"):
        ReplayMemory.load(path, other)

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file" * 10)
    for bad in (truncated, garbage):
        with pytest.raises(CheckpointError) as unreadable:
            ReplayMemory.load(bad, memory.settings)
        assert unreadable.value.sentence("en").startswith(f"the saved replay memory {bad} cannot be read (")
        assert unreadable.value.sentence("en").endswith("); it is damaged or not a replay memory.")
        assert CJK.search(unreadable.value.sentence("zh"))
    with pytest.raises(CheckpointError, match="does not exist"):
        ReplayMemory.load(tmp_path / "nowhere.npz", memory.settings)


# -- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "sentence"), [
    ({"n_step": 0}, "n_step must be a whole number of 1 or more, not 0; n_step=1 is plain one-step DQN, "
                    "Rainbow uses 3."),
    ({"alpha": 1.5}, "the priority exponent alpha must lie between 0 and 1, not 1.5; 0 replays uniformly, "
                     "the papers use 0.5 to 0.6."),
    ({"alpha": -0.1}, "the priority exponent alpha must lie between 0 and 1, not -0.1; 0 replays uniformly, "
                      "the papers use 0.5 to 0.6."),
    ({"gamma": 1.01}, "the discount gamma must lie between 0 and 1, not 1.01; 0.99 is the usual value."),
    ({"capacity": 10, "n_envs": 4}, "buffer_size=10 is too small for 4 envs with n_step=1; give it at least 12."),
])
def test_bad_settings_get_one_sentence(settings: dict[str, object], sentence: str) -> None:
    with pytest.raises(BadConfig) as refused:
        ReplaySettings(**{"capacity": 1000, "obs_shape": (4,), **settings})  # type: ignore[arg-type]
    assert refused.value.sentence("en") == sentence
    assert CJK.search(refused.value.sentence("zh"))


def test_a_memory_that_would_not_fit_is_refused_before_anything_is_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "available_memory", lambda: 2_000_000_000)
    settings = ReplaySettings(capacity=1_000_000, obs_shape=(4, 84, 84), obs_dtype="uint8", n_envs=8)
    with pytest.raises(BadConfig) as refused:
        ReplayMemory(settings)
    assert refused.value.sentence("en") == (
        "a replay memory of 1,000,000 transitions needs 7.1 GB, but this machine has only 2.0 GB free; "
        "lower buffer_size (every 100,000 transitions take 0.7 GB), or run fewer envs (n_envs) and close other "
        "programs to free memory.")
    assert CJK.search(refused.value.sentence("zh")) and "7.1 GB" in refused.value.sentence("zh")
    monkeypatch.setattr(replay, "available_memory", lambda: None)  # a machine that cannot say: no refusal
    assert ReplayMemory(ReplaySettings(capacity=1000, obs_shape=(4,))).settings.capacity == 1000


def test_mistakes_of_our_own_code_stay_bugs() -> None:
    memory = flat(n_envs=2)
    with pytest.raises(ValueError):
        memory.add(np.zeros((3, 2)), [0, 0, 0], [0, 0, 0], np.zeros((3, 2)), [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError):
        memory.sample(4)  # nothing complete yet
    with pytest.raises(ValueError):
        atari(capacity=100, n_envs=1).add(np.zeros((1, 4, 84, 84), np.float32), [0], [0], np.zeros((1, 4, 84, 84)),
                                          [0], [0])
    assert not isinstance(ValueError(), PlaygroundError)
