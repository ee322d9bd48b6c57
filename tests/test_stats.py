"""The statistics of compared runs (playground/stats.py): numbers that must come out of rliable for score arrays
whose answers are known by hand, the variants and scores read from the store, and the sentences for what is
missing or too small to trust."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from playground import runs, stats
from playground.game import reference
from playground.store import Run, get_store

REPS = 500  # enough for the intervals these tests look at, and quick; the default is checked once


def _variant(name: str, scores: list[float], env: str = "CartPole-v1") -> stats.Variant:
    return stats.Variant(name=name, runs=[f"{name}-{i}" for i in range(len(scores))], env=env, normalisation="raw",
                         scores=list(scores), raw_scores=list(scores))


def _by_name(result: dict, name: str) -> dict:
    [found] = [v for v in result["variants"] if v["name"] == name]
    return found


# -- the numbers ------------------------------------------------------------------------------------------
def test_iqm_is_the_mean_of_the_middle_half_and_its_interval_contains_it() -> None:
    scores = [7, 1, 100, 4, 2, 6, 5, 3]  # the middle half of 1..7, 100 is 3, 4, 5, 6: mean 4.5; the mean is 16
    result = stats.analyse([_variant("a", scores)], reps=REPS)
    a = _by_name(result, "a")
    assert a["iqm"] == pytest.approx(4.5)
    assert a["enough_runs"] and a["ci"] is not None
    low, high = a["ci"]
    assert low <= 4.5 <= high and low < high


def test_probability_of_improvement_of_separated_identical_and_reversed_variants() -> None:
    better, worse = _variant("better", [10, 11, 12, 13, 14]), _variant("worse", [0, 1, 2, 3, 4])
    same = _variant("same", [0, 1, 2, 3, 4])
    result = stats.analyse([better, worse, same], reps=REPS)
    pairs = {(p["x"], p["y"]): p for p in result["pairs"]}
    assert list(pairs) == [("better", "worse"), ("better", "same"), ("worse", "same")]  # every pair, in order
    clear = pairs["better", "worse"]
    assert clear["probability"] == pytest.approx(1.0) and clear["ci"][0] > 0.9
    tie = pairs["worse", "same"]
    assert tie["probability"] == pytest.approx(0.5)
    assert tie["ci"][0] <= 0.5 <= tie["ci"][1] and tie["ci"][0] < 0.5 < tie["ci"][1]
    reverse = stats.analyse([worse, better], reps=REPS)["pairs"][0]
    assert reverse["probability"] == pytest.approx(0.0) and reverse["ci"][1] < 0.1


def test_the_same_seed_gives_the_same_intervals_and_leaves_numpy_as_it_was() -> None:
    noisy = _variant("noisy", [3.1, 9.4, 0.2, 5.5, 7.7, 1.9, 4.4])
    other = _variant("other", [2.0, 2.5, 8.0, 6.1, 3.3])
    np.random.seed(123)
    expected_draw = np.random.random()
    np.random.seed(123)
    first = stats.analyse([noisy, other], reps=REPS, seed=7)
    assert np.random.random() == expected_draw  # the bootstrap seeded NumPy's generator and put it back
    again = stats.analyse([noisy, other], reps=REPS, seed=7)
    assert first == again
    elsewhere = stats.analyse([noisy, other], reps=REPS, seed=8)
    assert _by_name(elsewhere, "noisy")["ci"] != _by_name(first, "noisy")["ci"]  # the seed is what repeats them
    alone = stats.analyse([noisy], reps=REPS, seed=7)  # a variant's interval does not depend on its company
    assert _by_name(alone, "noisy")["ci"] == _by_name(first, "noisy")["ci"]


def test_performance_profile_counts_the_runs_above_each_threshold() -> None:
    a, b = _variant("a", [1, 2, 3, 4, 5]), _variant("b", [2, 4, 6, 8, 10])
    profile = stats.analyse([a, b], reps=REPS)["profile"]
    taus = np.array(profile["taus"])
    assert len(taus) == stats.TAUS and taus[0] < 1 and taus[-1] > 10
    for curve, scores in zip(profile["curves"], ([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])):
        expected = [np.mean(np.array(scores) > tau) for tau in taus]
        assert curve["fraction"] == pytest.approx(expected)
        assert curve["fraction"][0] == 1.0 and curve["fraction"][-1] == 0.0
        assert all(lo <= f <= hi for lo, f, hi in zip(curve["low"], curve["fraction"], curve["high"]))
    assert [c["name"] for c in profile["curves"]] == ["a", "b"]


def test_the_default_bootstrap_is_rliables_with_the_documented_repetitions() -> None:
    result = stats.analyse([_variant("a", [1, 2, 3, 4])])
    assert (result["reps"], result["seed"], result["confidence"], result["min_runs"]) == (2000, 0, 0.95, 3)
    assert _by_name(result, "a")["iqm"] == pytest.approx(2.5)  # four runs: the middle two


def test_our_statistics_are_rliables_to_the_last_digit() -> None:
    """The bootstrap calls its statistic thousands of times, so ours are numpy over whole arrays; on integer scores
    (ties everywhere) and on odd shapes they give exactly what rliable's own functions give."""
    from rliable import library, metrics

    rng = np.random.default_rng(0)
    for _ in range(300):
        tasks = int(rng.integers(1, 4))
        x = rng.integers(0, 5, size=(int(rng.integers(1, 9)), tasks)).astype(float)
        y = rng.integers(0, 5, size=(int(rng.integers(1, 9)), tasks)).astype(float)
        taus = np.linspace(-1.0, 5.5, 14)
        assert stats.iqm(x) == pytest.approx(metrics.aggregate_iqm(x), abs=1e-12), x
        assert stats.probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y),
                                                                       abs=1e-12), (x, y)
        assert stats.probability_of_improvement(x, x) == 0.5
        np.testing.assert_allclose(stats.score_distribution(x, taus), library.score_distributions(x, taus))


def test_the_intervals_are_those_rliables_own_statistics_give() -> None:
    """Same resamples (the seeded global generator), same statistics: the same intervals as rliable's functions."""
    from rliable import library, metrics

    a, b = _variant("a", [3.0, 1.0, 4.0, 1.0, 5.0]), _variant("b", [9.0, 2.0, 6.0, 5.0, 3.0])
    ours = stats.analyse([a, b], reps=REPS)
    matrices = {v.name: stats._matrix(v.scores) for v in (a, b)}

    for v in (a, b):
        with stats._seeded(stats.SEED):
            point, interval = library.get_interval_estimates(
                {"x": matrices[v.name]}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=REPS)
        assert _by_name(ours, v.name)["iqm"] == pytest.approx(float(point["x"][0]))
        assert _by_name(ours, v.name)["ci"] == pytest.approx(np.asarray(interval["x"]).reshape(2).tolist())
    with stats._seeded(stats.SEED):
        point, interval = library.get_interval_estimates(
            {"x": (matrices["a"], matrices["b"])}, lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
            reps=REPS)
    [pair] = ours["pairs"]
    assert pair["probability"] == pytest.approx(float(point["x"][0]))
    assert pair["ci"] == pytest.approx(np.asarray(interval["x"]).reshape(2).tolist())
    with stats._seeded(stats.SEED):
        profiles, bands = library.create_performance_profile(matrices, np.array(ours["profile"]["taus"]), reps=REPS)
    for curve in ours["profile"]["curves"]:
        assert curve["fraction"] == pytest.approx(profiles[curve["name"]].tolist())
        assert curve["low"] == pytest.approx(bands[curve["name"]][0].tolist())
        assert curve["high"] == pytest.approx(bands[curve["name"]][1].tolist())


# -- too few runs: a sentence, not a confident number --------------------------------------------------
def test_fewer_than_three_runs_get_no_interval_and_one_sentence() -> None:
    few, many = _variant("few", [5.0, 9.0]), _variant("many", [1.0, 2.0, 3.0])
    result = stats.analyse([few, many], reps=REPS)
    assert _by_name(result, "few")["ci"] is None and not _by_name(result, "few")["enough_runs"]
    assert _by_name(result, "few")["iqm"] == pytest.approx(7.0)
    assert _by_name(result, "many")["ci"] is not None
    [pair] = result["pairs"]
    assert pair["ci"] is None and not pair["enough_runs"] and pair["probability"] == pytest.approx(1.0)
    assert result["too_few"] == ["few"]
    [curve_few, curve_many] = result["profile"]["curves"]
    assert curve_few["low"] is None and curve_many["low"] is not None
    [sentence] = [str(w) for w in stats.notes(result)]
    assert sentence.startswith("few: fewer than 3 runs, so no confidence interval is given")
    assert stats.interval_text(7.0, None, "too few runs") == "7.00 (too few runs)"
    assert stats.interval_text(7.0, [6.5, 8.25], "too few runs") == "7.00 [6.50, 8.25]"


def test_nothing_to_analyse_is_said_in_one_sentence() -> None:
    result = stats.analyse([], ["gan-digits-1"])
    assert result["variants"] == [] and result["pairs"] == [] and result["profile"] is None
    assert [w.key for w in stats.notes(result)] == ["stats.no_scores"]


def test_beyond_five_variants_each_is_compared_with_the_first() -> None:
    found = [_variant(f"v{i}", [float(i)]) for i in range(7)]
    result = stats.analyse(found, reps=REPS)
    assert [(p["x"], p["y"]) for p in result["pairs"]] == [("v0", f"v{i}") for i in range(1, 7)]
    assert result["all_pairs"] is False
    assert "stats.first_only" in [w.key for w in stats.notes(result)]


# -- variants and scores from the store ----------------------------------------------------------------
def _rl(seed: int, evals: list[float], *, lr: float = 3e-4, env: str = "CartPole-v1") -> Run:
    config = {"kind": "rl", "algo": "ppo", "env": env, "steps": 3000, "seed": seed,
              "hyperparameters": {"learning_rate": lr}}
    run = runs.create(kind="rl", algo="ppo", env=env, game=reference.game_of(env), config=config, seed=seed,
                      total_steps=3000)
    for i, mean in enumerate(evals, 1):
        get_store().add_evaluation(run.id, step=1000 * i, scores=[mean], mean=mean, std=0.0, checkpoint=None, seed=0)
    runs.end(run.id, "finished", 3000)
    return run


def _gan() -> Run:
    run = runs.create(kind="gan", algo="dcgan", env="digits", game="digits",
                      config={"kind": "gan", "model": "dcgan", "data": "digits", "iters": 10, "seed": 0},
                      total_steps=10)
    get_store().add_quality(run.id, {"fd": 30.0, "step": 10})
    runs.end(run.id, "finished", 10)
    return run


def test_variants_group_seeds_and_take_each_runs_last_evaluation(home: Path) -> None:
    a0 = _rl(0, [50.0, 200.0, 120.0])  # the last evaluation counts, not the best
    b0 = _rl(0, [300.0], lr=1e-3)
    a1 = _rl(1, [80.0])
    never = _rl(2, [])
    gan = _gan()
    found, left_out = stats.variants([a0, b0, a1, never, gan])
    assert [(v.name, v.runs, v.scores, v.normalisation) for v in found] == [
        (a0.id, [a0.id, a1.id], [120.0, 80.0], "raw"), (b0.id, [b0.id], [300.0], "raw")]
    assert left_out == [never.id, gan.id]
    result = stats.compare_runs([a0, b0, a1, never, gan], reps=REPS)
    assert result["left_out"] == [never.id, gan.id]
    assert any(never.id in str(w) and gan.id in str(w) for w in stats.notes(result))


def test_atari_scores_are_human_normalised_and_mixing_raw_games_is_said(home: Path) -> None:
    row = reference.atari_row("Pong")
    random, human = float(row["random"]), float(row["human"])
    pong = [_rl(s, [score], env="ALE/Pong-v5") for s, score in enumerate([random, human, (random + human) / 2])]
    found, _ = stats.variants(pong)
    [variant] = found
    assert variant.normalisation == "human"
    assert variant.scores == pytest.approx([0.0, 1.0, 0.5])
    assert variant.raw_scores == [random, human, (random + human) / 2]
    assert stats.compare_runs(pong, reps=REPS)["mixed_units"] is False

    cartpole = [_rl(s, [100.0 + s]) for s in range(3)]
    mixed = stats.compare_runs(pong + cartpole, reps=REPS)
    assert [v["normalisation"] for v in mixed["variants"]] == ["human", "raw"]
    assert mixed["mixed_units"] is True
    assert "stats.mixed_units" in [w.key for w in stats.notes(mixed)]
    assert stats.scale_key(mixed) == "stats.scale_mixed"
