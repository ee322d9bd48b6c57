"""Honest comparisons of runs, computed by rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of
the Statistical Precipice"): the interquartile mean with stratified bootstrap confidence intervals, the probability
of improvement between variants, and performance profiles.

A *variant* is a group of runs that differ only by seed (``playground.compare.group_by_setup``, the grouping the
runs page draws as one line with a band). Each run gives one score: the mean of its last evaluation of whole games,
human-normalised, (score − random) / (human − random), where the game has random and human reference scores (the
Atari games of ``playground.game.reference``), raw otherwise. GAN runs and runs never evaluated have none and are
left out, by name.

With fewer than ``MIN_RUNS`` runs a variant gets no confidence interval: a bootstrap of one or two numbers is a
point or their range, and reads as more certain than it is; its sentence says so instead.

rliable (with arch, scipy, statsmodels and matplotlib behind it) takes a second or two to import, so it is imported
only when statistics are asked for; the web page asks when the learner turns them on. rliable draws its resamples
from NumPy's global generator whatever ``random_state`` it is handed, so each estimate seeds that generator (and
puts back its state) under a lock: the same scores give the same intervals, in the CLI and the UI alike.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.compare import group_by_setup
from playground.game import reference
from playground.i18n import Words
from playground.store import Run, Store, get_store

REPS = 2000  # bootstrap repetitions (rliable's default)
SEED = 0  # of the resampling, so the same runs give the same intervals
CONFIDENCE = 0.95
MIN_RUNS = 3  # fewer runs in a variant: no confidence interval, a sentence instead
TAUS = 31  # points of a performance profile
MOST_PAIRS_ALL = 5  # up to this many variants every pair is compared; beyond it, each with the first only

_LOCK = threading.Lock()


@dataclass
class Variant:
    """Runs that differ only by seed, with one score each (in ``runs``' order)."""

    name: str  # the first run's id
    runs: list[str]
    env: str
    normalisation: str  # "human" (Atari games with reference scores) or "raw"
    scores: list[float]
    raw_scores: list[float]

    @property
    def enough(self) -> bool:
        return len(self.scores) >= MIN_RUNS


def final_score(run: Run, store: Store) -> float | None:
    """The mean of the run's last evaluation of whole games; None when it has none (GAN runs never do)."""
    played = store.evaluations(run.id, played=True)
    return played[-1].mean if played else None


def normalise(env: str, score: float) -> tuple[float, str]:
    """Human-normalised where the game has random and human scores, else the raw score."""
    normalised = reference.human_normalised(reference.game_of(env), score)
    return (score, "raw") if normalised is None else (normalised, "human")


def variants(runs: Sequence[Run], store: Store | None = None) -> tuple[list[Variant], list[str]]:
    """The variants among ``runs`` that have scores, and the ids of the runs left out for having none."""
    store = store or get_store()
    found: list[Variant] = []
    left_out: list[str] = []
    for group in group_by_setup(runs):
        scored = []
        for run in group:
            score = final_score(run, store)
            if score is None:
                left_out.append(run.id)
            else:
                scored.append((run, score))
        if not scored:
            continue
        normalised = [normalise(run.env, score) for run, score in scored]
        found.append(Variant(name=scored[0][0].id, runs=[r.id for r, _ in scored], env=scored[0][0].env,
                             normalisation=normalised[0][1], scores=[s for s, _ in normalised],
                             raw_scores=[s for _, s in scored]))
    return found, left_out


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """NumPy's global generator seeded for one estimate (rliable resamples with ``np.random.choice``)."""
    with _LOCK:
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


def _matrix(scores: Sequence[float]) -> np.ndarray:
    """rliable's layout: one row per run, one column per task (a variant plays one game)."""
    return np.asarray(scores, dtype=float).reshape(-1, 1)


def _estimate(func: Any, data: tuple[np.ndarray, ...], with_ci: bool, reps: int,
              seed: int) -> tuple[float, list[float] | None]:
    """A point estimate of ``func`` and, ``with_ci``, rliable's stratified bootstrap interval around it."""
    from rliable import library

    if not with_ci:
        return float(func(*data)[0]), None
    with _seeded(seed):
        point, interval = library.get_interval_estimates({"x": data[0] if len(data) == 1 else data}, func, reps=reps,
                                                         confidence_interval_size=CONFIDENCE)
    low, high = np.asarray(interval["x"], dtype=float).reshape(2)
    return float(np.asarray(point["x"]).reshape(-1)[0]), [float(low), float(high)]


def _taus(found: Sequence[Variant]) -> np.ndarray:
    """Thresholds from a little below the lowest score to a little above the highest."""
    every = [s for v in found for s in v.scores]
    low, high = min(every), max(every)
    margin = 0.05 * ((high - low) or max(abs(high), 1.0))
    return np.linspace(low - margin, high + margin, TAUS)


def iqm(scores: np.ndarray) -> float:
    """The interquartile mean of every score in ``scores``: rliable's ``metrics.aggregate_iqm`` (scipy's trim_mean,
    a quarter cut from each end), without scipy's per-call overhead, which the bootstrap pays thousands of times."""
    flat = np.sort(np.asarray(scores, dtype=float).reshape(-1))
    cut = int(0.25 * flat.size)
    return float(flat[cut:flat.size - cut].mean())


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) averaged over tasks (the columns), ties counting one half: rliable's
    ``metrics.probability_of_improvement`` (the Mann-Whitney U of x over y, divided by the number of pairs),
    computed over all pairs at once instead of by one scipy call per task."""
    per_task = []
    for task in range(x.shape[1]):
        diff = x[:, task, None] - y[None, :, task]
        per_task.append(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)
    return float(np.mean(per_task))


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The fraction of all scores above each threshold: rliable's ``library.score_distributions`` (its default
    performance profile), for every threshold at once instead of one ``np.mean`` per threshold."""
    scores = np.asarray(scores, dtype=float)
    return np.mean(scores[..., None] > np.asarray(taus, dtype=float), axis=tuple(range(scores.ndim)))


def _pairs(found: Sequence[Variant]) -> list[tuple[Variant, Variant]]:
    if len(found) <= MOST_PAIRS_ALL:
        return [(x, y) for i, x in enumerate(found) for y in found[i + 1:]]
    return [(found[0], y) for y in found[1:]]


def analyse(found: Sequence[Variant], left_out: Sequence[str] = (), *, reps: int = REPS,
            seed: int = SEED) -> dict[str, Any]:
    """The statistics of ``found`` as plain data: the ``statistics`` object of ``runs compare --json``.

    Every estimate is seeded with ``seed`` on its own, so a variant's interval does not depend on which others are
    compared with it.
    """
    raw_across_games = len({v.env for v in found}) > 1 and any(v.normalisation == "raw" for v in found)
    out: dict[str, Any] = {"score": "last_eval_mean", "reps": reps, "seed": seed, "confidence": CONFIDENCE,
                           "min_runs": MIN_RUNS, "variants": [], "pairs": [], "profile": None,
                           "left_out": list(left_out), "too_few": [v.name for v in found if not v.enough],
                           "mixed_units": raw_across_games, "all_pairs": len(found) <= MOST_PAIRS_ALL}
    if not found:
        return out
    from rliable import library

    # rliable resamples and makes the intervals; the statistics it is handed are ours, the same numbers as its own
    # (tests/test_stats.py) in a tenth of the time: 6.2 s -> 0.9 s for two variants of three seeds.
    def interquartile(scores: np.ndarray) -> np.ndarray:
        return np.array([iqm(scores)])

    def improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array([probability_of_improvement(x, y)])

    for v in found:
        point, ci = _estimate(interquartile, (_matrix(v.scores),), v.enough, reps, seed)
        out["variants"].append({"name": v.name, "runs": v.runs, "env": v.env, "normalisation": v.normalisation,
                                "scores": v.scores, "raw_scores": v.raw_scores, "iqm": point, "ci": ci,
                                "enough_runs": v.enough})
    for x, y in _pairs(found):
        enough = x.enough and y.enough
        point, ci = _estimate(improvement, (_matrix(x.scores), _matrix(y.scores)), enough, reps, seed)
        out["pairs"].append({"x": x.name, "y": y.name, "probability": point, "ci": ci, "enough_runs": enough})
    taus = _taus(found)
    with _seeded(seed):
        profiles, intervals = library.create_performance_profile({v.name: _matrix(v.scores) for v in found}, taus,
                                                                 custom_profile_func=score_distribution, reps=reps,
                                                                 confidence_interval_size=CONFIDENCE)
    out["profile"] = {"taus": [float(t) for t in taus], "curves": [
        {"name": v.name, "fraction": [float(f) for f in profiles[v.name]],
         "low": [float(f) for f in intervals[v.name][0]] if v.enough else None,
         "high": [float(f) for f in intervals[v.name][1]] if v.enough else None}
        for v in found]}
    return out


def compare_runs(runs: Sequence[Run], store: Store | None = None, *, reps: int = REPS,
                 seed: int = SEED) -> dict[str, Any]:
    """``analyse`` of the variants among ``runs``."""
    found, left_out = variants(runs, store)
    return analyse(found, left_out, reps=reps, seed=seed)


def notes(statistics: dict[str, Any]) -> list[Words]:
    """The sentences that go with the numbers: what is missing or too small to trust."""
    said: list[Words] = []
    if not statistics["variants"]:
        return [Words("stats.no_scores")]
    if statistics["left_out"]:
        said.append(Words("stats.left_out", runs=", ".join(statistics["left_out"])))
    if statistics["too_few"]:
        said.append(Words("stats.too_few", variants=", ".join(statistics["too_few"]),
                          min_runs=statistics["min_runs"]))
    if statistics["mixed_units"]:
        said.append(Words("stats.mixed_units"))
    if not statistics["all_pairs"]:
        said.append(Words("stats.first_only", most=MOST_PAIRS_ALL))
    return said


def scale_key(statistics: dict[str, Any]) -> str:
    """The translation key naming the scale of the scores: human-normalised, raw, or some of each."""
    kinds = {v["normalisation"] for v in statistics["variants"]}
    return {frozenset({"human"}): "stats.scale_human", frozenset({"raw"}): "stats.scale_raw"}.get(
        frozenset(kinds), "stats.scale_mixed")


def number(value: float) -> str:
    """A score or probability as the tables print it."""
    return f"{value:,.2f}"


def interval_text(point: float, ci: Sequence[float] | None, no_ci: str) -> str:
    """``12.30 [10.10, 14.20]``, or the point and ``no_ci`` (why there is no interval)."""
    if ci is None:
        return f"{number(point)} ({no_ci})"
    return f"{number(point)} [{number(ci[0])}, {number(ci[1])}]"
