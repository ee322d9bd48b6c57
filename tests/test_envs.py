"""Environment factory: ids resolve or fail with one sentence, and the Atari envs give agents
the clipped life-loss signal while every reported score is the raw score of a whole game."""

from __future__ import annotations

import importlib.util
import logging
import os

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from playground import envs
from playground.errors import BadConfig, MissingDependency, PlaygroundError, UnknownEnvironment


def _random_actions(n_actions: int, n_envs: int, steps: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_actions, size=(steps, n_envs))


def _rollout(venv, actions: np.ndarray) -> dict:
    """Step through fixed actions and keep what the assertions need, per env."""
    n = venv.num_envs
    obs = venv.reset()
    assert obs.shape == (n, 4, 84, 84) and obs.dtype == np.uint8
    out = {
        "rewards": [],
        "dones": [],
        "episodes": [[] for _ in range(n)],  # (step, episode dict)
        "lives": [],
        "infos": [],
    }
    for step, act in enumerate(actions):
        obs, rewards, dones, infos = venv.step(act)
        out["rewards"].append(rewards.copy())
        out["dones"].append(dones.copy())
        out["lives"].append([info.get("lives") for info in infos])
        out["infos"].append(infos)
        for i, info in enumerate(infos):
            if "episode" in info:
                out["episodes"][i].append((step, info["episode"]))
    assert obs.shape == (n, 4, 84, 84) and obs.dtype == np.uint8
    out["rewards"] = np.array(out["rewards"])
    out["dones"] = np.array(out["dones"])
    return out


# ------------------------------------------------------------------------------- resolve


def test_resolve_cartpole_describes_a_classic_env() -> None:
    spec = envs.resolve("CartPole-v1")
    assert spec.game == "CartPole"
    assert not spec.is_atari and spec.rom is None and spec.action_meanings is None
    assert spec.observation_space.shape == (4,)
    assert spec.action_space == spaces.Discrete(2)
    assert envs.resolve("CartPole-v1") is spec  # cached per id


def test_resolve_atari_ids() -> None:
    spec = envs.resolve("ALE/Pong-v5")
    assert spec.game == "Pong" and spec.is_atari and spec.rom == "pong"
    assert spec.observation_space == spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert spec.action_space == spaces.Discrete(6)
    assert "FIRE" in spec.action_meanings
    assert spec.repeat_action_probability == pytest.approx(0.25)

    legacy = envs.resolve("PongNoFrameskip-v4")
    assert legacy.game == "Pong" and legacy.is_atari and legacy.rom == "pong"
    assert legacy.repeat_action_probability == 0.0
    assert envs.resolve("ALE/MontezumaRevenge-v5").game == "MontezumaRevenge"


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("ALE/Pongg-v5", "ALE/Pong-v5"), ("cartpole-v1", "CartPole-v1"), ("LunarLander-v2", "LunarLander-v3")],
)
def test_unknown_id_suggests_the_close_one(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownEnvironment) as err:
        envs.resolve(typo)
    message = str(err.value)
    assert f"'{typo}'" in message and f"did you mean {suggestion}?" in message
    assert isinstance(err.value, PlaygroundError)


def test_missing_dependency_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("Box2D") is not None:
        # Box2D is installed here: make gym.make fail the way it does without it.
        def no_box2d(*args, **kwargs):
            raise gym.error.DependencyNotInstalled(
                'Box2D is not installed, you can install it by run `pip install swig` followed by '
                '`pip install "gymnasium[box2d]"`'
            )

        monkeypatch.setattr(envs.gym, "make", no_box2d)
        envs.resolve.cache_clear()
    try:
        with pytest.raises(MissingDependency) as err:
            envs.resolve("LunarLander-v3")
    finally:
        envs.resolve.cache_clear()
    assert str(err.value) == "LunarLander-v3 needs Box2D: pip install 'gymnasium[box2d]'"


def test_bad_arguments_are_bad_config() -> None:
    spec = envs.resolve("CartPole-v1")
    with pytest.raises(BadConfig):
        envs.make_train_env(spec, 2, 0, backend="turbo")
    with pytest.raises(BadConfig):
        envs.make_eval_env(spec, 0, 0)


# ------------------------------------------------------------------------ fast Atari backend


def test_fast_breakout_learns_from_lives_but_reports_whole_raw_games() -> None:
    spec = envs.resolve("ALE/Breakout-v5")
    actions = _random_actions(spec.action_space.n, 2, 2500)
    train = envs.make_train_env(spec, 2, seed=7)
    evaluation = envs.make_eval_env(spec, 2, seed=7)
    assert isinstance(train, envs.AleVecEnv) and isinstance(evaluation, envs.AleVecEnv)
    assert train.observation_space == spec.observation_space
    try:
        tr = _rollout(train, actions)
        ev = _rollout(evaluation, actions)
    finally:
        train.close()
        evaluation.close()

    assert set(np.unique(tr["rewards"])) <= {-1.0, 0.0, 1.0}
    assert tr["rewards"].dtype == np.float32
    for i in range(2):
        train_games = tr["episodes"][i]
        eval_games = ev["episodes"][i]
        assert len(train_games) >= 3
        # The learner saw life-loss terminals before the first whole game ended.
        first_game_end = train_games[0][0]
        assert tr["dones"][:first_game_end, i].sum() >= 1
        # Breakout has 5 lives: about 5 dones per game for learning, 1 per game in eval.
        assert tr["dones"][:, i].sum() >= 4 * len(train_games)
        # Same seeds and actions -> the same games; scores are raw totals of whole games.
        assert [(s, e["r"], e["l"]) for s, e in train_games] == [(s, e["r"], e["l"]) for s, e in eval_games]
        start = 0
        for step, episode in eval_games:
            assert episode["r"] == pytest.approx(ev["rewards"][start : step + 1, i].sum())
            assert episode["l"] == step + 1 - start
            start = step + 1
        # Eval: done only at game end, although lives were lost in between.
        assert list(np.flatnonzero(ev["dones"][:, i])) == [s for s, _ in eval_games]
        lives = np.array([row[i] for row in ev["lives"]])
        lost_a_life = np.flatnonzero(lives[1:] < lives[:-1]) + 1
        assert len(lost_a_life) > len(eval_games)
    # terminal_observation: the final frames of a game, never the reset frames.
    step, _ = tr["episodes"][0][0]
    info = tr["infos"][step][0]
    assert info["terminal_observation"].shape == (4, 84, 84)
    assert info["TimeLimit.truncated"] is False


def test_fast_scores_are_raw_while_learning_rewards_are_clipped() -> None:
    spec = envs.resolve("ALE/SpaceInvaders-v5")  # aliens are worth 5 to 30 points
    actions = _random_actions(spec.action_space.n, 2, 1300, seed=1)
    train = envs.make_train_env(spec, 2, seed=3)
    try:
        tr = _rollout(train, actions)
    finally:
        train.close()
    games = [(i, step, ep) for i in range(2) for step, ep in tr["episodes"][i]]
    assert games, "no Space Invaders game ended"
    for i, step, episode in games[:1]:
        clipped_total = tr["rewards"][: step + 1, i].sum()
        assert episode["r"] > clipped_total > 0
        assert episode["r"] % 5 == 0


def test_fast_life_loss_dones_match_ale_own_life_loss_signal() -> None:
    from ale_py.vector_env import AtariVectorEnv

    spec = envs.resolve("ALE/Breakout-v5")
    actions = _random_actions(spec.action_space.n, 2, 800, seed=2)
    ours = envs.make_train_env(spec, 2, seed=11)
    ref = AtariVectorEnv(
        "breakout", 2, num_threads=2, autoreset_mode="SameStep", life_loss_info=True,
        reward_clipping=True, repeat_action_probability=0.25,
    )
    try:
        ours.reset()
        ref.reset(seed=11)
        for act in actions:
            obs, rewards, dones, _ = ours.step(act)
            ref_obs, ref_rewards, term, trunc, _ = ref.step(act)
            np.testing.assert_array_equal(dones, term | trunc)
            np.testing.assert_array_equal(rewards, ref_rewards)
            np.testing.assert_array_equal(obs, ref_obs)
    finally:
        ours.close()
        ref.close()


def test_fast_time_limit_ends_the_game_as_truncation() -> None:
    spec = envs.resolve("ALE/Pong-v5")
    venv = envs.AleVecEnv(spec, 2, terminal_on_life_loss=True, clip_rewards=True, max_frames_per_game=400)
    try:
        venv.seed(0)
        venv.reset()
        ended = []
        for step in range(130):
            obs, _, dones, infos = venv.step(np.zeros(2, dtype=np.int64))
            for i in np.flatnonzero(dones):
                ended.append((step, i, infos[i], obs[i]))
    finally:
        venv.close()
    assert ended, "the 400-frame limit never ended a game"
    for step, _, info, reset_obs in ended:
        assert info["TimeLimit.truncated"] is True
        assert info["episode"]["l"] == step + 1 == 100  # 400 frames / frameskip 4
        # The returned observation starts the next game; the final one is in the info.
        assert info["terminal_observation"].shape == (4, 84, 84)
        assert not np.array_equal(info["terminal_observation"], reset_obs)


def test_fast_seeding_is_reproducible() -> None:
    spec = envs.resolve("ALE/Breakout-v5")
    actions = _random_actions(spec.action_space.n, 2, 60)

    def frames(seed: int) -> np.ndarray:
        venv = envs.make_train_env(spec, 2, seed=seed)
        try:
            return np.stack([venv.reset()] + [venv.step(a)[0] for a in actions])
        finally:
            venv.close()

    first = frames(5)
    np.testing.assert_array_equal(first, frames(5))
    assert not np.array_equal(first, frames(6))


@pytest.mark.skipif(not hasattr(os, "sched_yield"), reason="no sched_yield on this system")
def test_fast_env_yields_its_core_before_the_games_only_while_it_has_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The acting thread gives way before waking the games' threads (AleVecEnv.yields_before_games), but not while
    its share is one thread (beside a busy program, which would get the core), and the games are the same."""
    from playground.envs import ale

    yields: list[int] = []
    real_yield = os.sched_yield
    monkeypatch.setattr(ale.os, "sched_yield", lambda: yields.append(1) or real_yield())
    monkeypatch.setattr(ale.threads, "cores", lambda: 2)  # a 2-core machine, whatever runs the test
    spec = envs.resolve("ALE/Pong-v5")
    actions = _random_actions(spec.action_space.n, 2, 20)

    def frames(share: str) -> tuple[np.ndarray, int]:
        monkeypatch.setenv(ale.threads.ENV_VAR, share)
        yields.clear()
        venv = envs.make_train_env(spec, 2, seed=3)
        try:
            return np.stack([venv.reset()] + [venv.step(a)[0] for a in actions]), len(yields)
        finally:
            venv.close()

    alone, yielded = frames("2")
    assert yielded == len(actions)
    beside_busy, yielded = frames("1")
    assert yielded == 0
    np.testing.assert_array_equal(alone, beside_busy)


def test_auto_falls_back_to_sb3_when_the_fast_env_cannot_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no threads today")

    monkeypatch.setattr(envs, "AleVecEnv", broken)
    spec = envs.resolve("ALE/Pong-v5")
    with caplog.at_level(logging.WARNING, logger="playground.envs"):
        venv = envs.make_train_env(spec, 1, seed=0)
    try:
        assert "falling back" in caplog.text
        assert venv.reset().shape == (1, 4, 84, 84)
    finally:
        venv.close()
    with pytest.raises(MissingDependency):
        envs.make_train_env(spec, 1, seed=0, backend="fast")


# ------------------------------------------------------------------------- sb3 Atari backend


def test_sb3_backend_has_the_same_observations_and_whole_game_scores() -> None:
    spec = envs.resolve("ALE/Breakout-v5")
    actions = _random_actions(spec.action_space.n, 2, 700, seed=4)
    train = envs.make_train_env(spec, 2, seed=1, backend="sb3")
    evaluation = envs.make_eval_env(spec, 2, seed=1, backend="sb3")
    assert not isinstance(train, envs.AleVecEnv)
    assert train.observation_space == spec.observation_space
    try:
        tr = _rollout(train, actions)
        ev = _rollout(evaluation, actions)
    finally:
        train.close()
        evaluation.close()
    assert set(np.unique(tr["rewards"])) <= {-1.0, 0.0, 1.0}
    for i in range(2):
        assert tr["episodes"][i], "no Breakout game ended in the sb3 training env"
        first_end, first = tr["episodes"][i][0]
        assert tr["dones"][:first_end, i].sum() >= 1  # life-loss terminals came first
        assert first["l"] == first_end + 1  # agent steps, not emulator frames
        # Eval: raw rewards, done only at game end.
        assert list(np.flatnonzero(ev["dones"][:, i])) == [s for s, _ in ev["episodes"][i]]
        start = 0
        for step, episode in ev["episodes"][i]:
            assert episode["r"] == pytest.approx(ev["rewards"][start : step + 1, i].sum())
            start = step + 1


# --------------------------------------------------------------------------- classic envs


def test_classic_env_reports_monitor_episodes_with_raw_returns() -> None:
    spec = envs.resolve("CartPole-v1")
    venv = envs.make_train_env(spec, 2, seed=0)
    try:
        obs = venv.reset()
        assert obs.shape == (2, 4)
        assert not np.array_equal(obs[0], obs[1])  # env i seeded with seed + i
        returns = np.zeros(2)
        episodes = []
        rng = np.random.default_rng(0)
        for _ in range(300):
            obs, rewards, dones, infos = venv.step(rng.integers(0, 2, size=2))
            returns += rewards
            for i in np.flatnonzero(dones):
                episodes.append((infos[i]["episode"]["r"], returns[i]))
                returns[i] = 0.0
    finally:
        venv.close()
    assert len(episodes) >= 5
    for reported, summed in episodes:
        assert reported == pytest.approx(summed)
    first, second = envs.make_eval_env(spec, 2, seed=0), envs.make_train_env(spec, 2, seed=0)
    try:
        np.testing.assert_array_equal(first.reset(), second.reset())
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(("env_id", "numpy_only"), [("CartPole-v1", False), ("Taxi-v4", False),
                                                    ("CartPole-v1", True), ("Taxi-v4", True)])
def test_classic_vector_env_steps_like_sb3s_without_sharing_buffers(env_id: str, numpy_only: bool) -> None:
    """Our classic vector envs (SB3's class with a copying step, and the numpy-only one the tabular methods use)
    copy arrays instead of deep-copying every step's objects: each must give what SB3's DummyVecEnv gives, step for
    step, episodes included, and nothing it returns may change afterwards."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    spec = envs.resolve(env_id)
    ours = envs.make_train_env(spec, 3, seed=4, numpy_only=numpy_only)
    peer = make_vec_env(spec.registered_id, n_envs=3, seed=4, vec_env_cls=DummyVecEnv,
                        env_kwargs=envs.specs.make_kwargs(spec))
    assert type(ours).__name__ == ("NumpyVecEnv" if numpy_only else "ClassicVecEnv")
    scoring = envs.make_eval_env(spec, 1, seed=0, numpy_only=numpy_only)
    assert type(scoring) is type(ours)
    scoring.close()
    rng = np.random.default_rng(0)
    kept = []
    ends = 0
    try:
        np.testing.assert_array_equal(ours.reset(), peer.reset())
        for _ in range(400):
            actions = rng.integers(0, ours.action_space.n, size=3)
            got, want = ours.step(actions), peer.step(actions)
            for g, w in zip(got[:3], want[:3]):
                np.testing.assert_array_equal(g, w)
                assert g.dtype == w.dtype
            for g, w in zip(got[3], want[3]):
                assert g.keys() == w.keys()
                for key in g:
                    if key == "episode":
                        assert (g[key]["r"], g[key]["l"]) == (w[key]["r"], w[key]["l"])
                    else:
                        np.testing.assert_array_equal(g[key], w[key])
                        assert type(g[key]) is type(w[key]), key  # Taxi's last state stays an int
                ends += "terminal_observation" in g
            kept.append((got[0], got[0].copy(), got[1], got[1].copy(), got[3], repr(got[3])))
    finally:
        ours.close()
        peer.close()
    assert ends >= 3, "no game ended: the terminal observations were not compared"
    for obs, obs_then, rewards, rewards_then, infos, infos_then in kept:
        np.testing.assert_array_equal(obs, obs_then)
        np.testing.assert_array_equal(rewards, rewards_then)
        assert repr(infos) == infos_then
