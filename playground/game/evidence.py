"""Evidence: what the store says happened, checked before it may earn anything.

Results come from three places, all written by the playground itself:

- RL: evaluation rows (``rl eval``, or the run's own evaluations while it trains). The result is
  mean − std of the raw scores of at least 10 whole games. It counts only when the SHA-256 of the
  checkpoint it played was recorded, that hash is the one training wrote (checkpoint artifacts
  carry it), and the file, if still on disk, still has it. Algorithm, game and step come from the
  store's run and evaluation rows, never from ``config.yaml``.
- GAN: quality results of ``playground gan eval`` (the evaluations table too), with the same hash checks.
- Human: ``human_game`` and ``duel`` events written by the viewer's own game loop.

Every result becomes an ``Attempt`` that lists the problems that stop it counting anywhere;
``outcome`` then says whether one player's attempts meet one challenge (game, algorithm, budgets,
threshold) and why the others do not.

The wall time of a run is the sum of its training sessions, each from its ``run_started`` event to
the ``run_stopped``/``run_finished``/``run_failed`` event that ends it (a session that died
silently ends at the last metric or artifact it wrote), counted up to the moment the evaluated
checkpoint was written. Time between sessions does not count; evaluations during training do.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from playground.errors import PlaygroundError
from playground.game import reference
from playground.game.catalogue import (
    HIGHER,
    MIN_GAMES,
    Challenge,
    algorithm_of,
    allows,
    one_improvement_apart,
    passes,
    setting_of,
    shown_setting,
)
from playground.game.profiles import default_owner
from playground.game.results import DUEL, HUMAN_GAME, check_player
from playground.i18n import Words, translate
from playground.runs import died_silently
from playground.store import Artifact, Run, Store, file_sha256

RUN_END_EVENTS = ("run_stopped", "run_finished", "run_failed")
GAN_NUMBERS = ("fd", "kid", "kid_std", "psnr", "l1", "cycle_l1", "code_accuracy")
COUNT_METRICS = ("games", "duels_won")
CTIME_MARGIN_S = 2.0


# -- checking files on disk, hashing only what may have changed ---------------------------------------
_hashes: dict[tuple[str, int, int, int, int], str | None] = {}


def changed_since(path: str, sha256: str, moment: float) -> bool:
    """Whether the file at ``path`` no longer has ``sha256`` (False when it is gone: nothing to compare).

    A file whose status has not changed since ``moment`` (its ctime, which no user can set back, is
    older, with a margin for coarse file-system clocks) still has the hash recorded then; anything
    newer is hashed, once per version of the file.
    """
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_ctime < moment - CTIME_MARGIN_S:
        return False
    key = (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if key not in _hashes:
        if len(_hashes) > 4096:
            _hashes.clear()
        _hashes[key] = file_sha256(path)
    now = _hashes[key]
    return now is not None and now != sha256


# -- what a run is ------------------------------------------------------------------------------------
@dataclass
class Session:
    start: float
    end: float
    how: str  # run_stopped | run_finished | run_failed | open


@dataclass
class RunInfo:
    run: Run
    owner: str
    sessions: list[Session]
    started_events: list[dict[str, Any]]
    imported: bool
    checkpoints: dict[str, list[Artifact]]  # path -> checkpoint artifacts written there, oldest first

    @property
    def devices(self) -> list[str]:
        return [d for d in (e["payload"].get("device") for e in self.started_events) if isinstance(d, str)]

    def wall_time_until(self, moment: float) -> float:
        return sum(max(0.0, min(s.end, moment) - s.start) for s in self.sessions if s.start <= moment)


@dataclass
class Attempt:
    """One result a player produced, with everything a leaderboard entry or an award must show."""

    kind: str  # rl | gan | human | duel
    player: str
    game: str  # the game (RL, human) or the dataset name (GAN)
    env: str | None  # environment id (RL, human) or dataset spec (GAN)
    algo: str  # algorithm, GAN model, or "human"
    metrics: dict[str, float]
    n: int  # whole games (RL), samples (GAN), 1 (human)
    created_at: float
    step: int | None = None
    run_id: str | None = None
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    evaluation_id: int | None = None
    event_id: int | None = None
    metric_name: str | None = None  # GAN: FD-mnist, FD-atari or FID
    image_size: int | None = None
    checkpoint_time: float | None = None  # when the evaluated checkpoint was written
    wall_time_s: float | None = None
    problems: list[Words] = field(default_factory=list)  # why it counts nowhere, put into words when shown
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return not self.problems

    @property
    def human_normalised(self) -> float | None:
        if self.kind != "rl" or "score" not in self.metrics:
            return None
        return reference.human_normalised(self.game, self.metrics["score"])

    def evidence(self) -> dict[str, Any]:
        """What earned it: enough to find the run, the checkpoint file and the store row again."""
        out: dict[str, Any] = {"kind": self.kind, "game": self.game, "env": self.env, "algo": self.algo}
        for key in ("run_id", "step", "checkpoint", "checkpoint_sha256", "evaluation_id", "event_id", "metric_name"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["metrics"] = dict(self.metrics)
        out["n"] = self.n
        if self.kind in ("human", "duel"):
            out.update({k: v for k, v in self.extra.items() if v is not None})
        if self.wall_time_s is not None:
            out["wall_time_s"] = round(self.wall_time_s, 1)
        hn = self.human_normalised
        if hn is not None:
            out["human_normalised"] = round(hn, 4)
        return out


# -- reading the store once -------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _valid_player(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    try:
        return check_player(name)
    except PlaygroundError:
        return None


class Evidence:
    """Everything the game reads from the store, read once; attempts are built and checked here."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.events = store.events()
        self.evaluations = store.evaluations()  # games played and GAN quality alike
        self.runs = {r.id: r for r in store.find_runs()}
        by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in self.events:
            if event["run_id"] is not None:
                by_run[event["run_id"]].append(event)
        checkpoints: dict[str, dict[str, list[Artifact]]] = defaultdict(lambda: defaultdict(list))
        for art in store.artifacts(None, "checkpoint"):
            checkpoints[art.run_id][art.path].append(art)
        for arts in (a for per_run in checkpoints.values() for a in per_run.values()):
            arts.sort(key=lambda a: a.created_at)
        self.run_events = by_run
        self.infos = {
            rid: self._run_info(run, by_run.get(rid, []), checkpoints.get(rid, {})) for rid, run in self.runs.items()
        }
        self.attempts: list[Attempt] = []
        self.attempts += self._rl_attempts()
        self.attempts += self._gan_attempts()
        self.attempts += self._human_attempts()

    # runs ---------------------------------------------------------------------------------------
    def _run_info(self, run: Run, events: list[dict[str, Any]], checkpoints: dict[str, list[Artifact]]) -> RunInfo:
        started = [e for e in events if e["kind"] == "run_started"]
        owner = next((p for p in (_valid_player(e["payload"].get("player")) for e in started) if p), None)
        sessions: list[Session] = []
        open_start: float | None = None
        for event in events:
            if event["kind"] == "run_started":
                if open_start is not None:  # a start with no end before it: the earlier one ended unseen
                    sessions.append(self._silent_end(run, open_start, event["created_at"]))
                open_start = event["created_at"]
            elif event["kind"] in RUN_END_EVENTS and open_start is not None:
                if event["kind"] == "run_failed" and died_silently(event["payload"].get("error")):
                    sessions.append(self._silent_end(run, open_start, event["created_at"]))
                else:
                    sessions.append(Session(open_start, event["created_at"], event["kind"]))
                open_start = None
        if open_start is not None:  # still training (or about to be noticed dead): up to its heartbeat
            sessions.append(Session(open_start, max(open_start, run.heartbeat_at or open_start), "open"))
        imported = run.config.get("preset") == "imported" or any(e["kind"] == "run_imported" for e in events)
        # No start recorded (created, never trained): the player its door recorded, before this machine's person.
        return RunInfo(run, owner or _valid_player(run.player) or default_owner(), sessions, started, imported,
                       checkpoints)

    def _silent_end(self, run: Run, start: float, noticed: float) -> Session:
        """A session that died silently counts until the last thing it wrote, not until someone noticed."""
        last = self.store.last_activity(run.id, start, noticed)
        return Session(start, last if last is not None else start, "run_failed")

    def owner(self, run_id: str) -> str | None:
        info = self.infos.get(run_id)
        return info.owner if info is not None else None

    def _checkpoint_record(self, info: RunInfo, path: str, before: float) -> Artifact | None:
        arts = info.checkpoints.get(path) or []
        written = [a for a in arts if a.created_at <= before]
        return (written or arts or [None])[-1]

    def _hash_problems(self, info: RunInfo, path: str | None, sha256: str | None,
                       when: float) -> tuple[list[Words], float]:
        """Problems with the checkpoint evidence, and when the checkpoint was written."""
        if not path or not isinstance(sha256, str) or len(sha256) != 64:
            return [Words("game.why_no_hash")], when
        problems = []
        if changed_since(path, sha256, when):
            problems.append(Words("game.why_checkpoint_changed", file=os.path.basename(path)))
        art = self._checkpoint_record(info, path, when)
        written = art.meta.get("sha256") if art is not None else None
        if art is None:
            problems.append(Words("game.why_not_its_checkpoint", file=os.path.basename(path), run=info.run.id))
        elif written and written != sha256:
            problems.append(Words("game.why_other_file", file=os.path.basename(path)))
        return problems, (art.created_at if art is not None else when)

    # attempts -------------------------------------------------------------------------------------
    def _rl_attempts(self) -> list[Attempt]:
        out = []
        for ev in self.evaluations:
            info = self.infos.get(ev.run_id)
            if info is None or info.run.kind != "rl" or not ev.played:
                continue
            scores = [float(s) for s in ev.scores]
            problems: list[Words] = []
            if info.imported:
                problems.append(Words("game.why_imported"))
            if len(scores) < MIN_GAMES:
                problems.append(Words("game.why_too_few_games", games=len(scores), min_games=MIN_GAMES))
            if not all(math.isfinite(s) for s in scores):
                problems.append(Words("game.why_scores_not_numbers"))
            hash_problems, written_at = self._hash_problems(info, ev.checkpoint, ev.checkpoint_sha256, ev.created_at)
            problems += hash_problems
            art = self._checkpoint_record(info, ev.checkpoint or "", ev.created_at)
            if art is not None and art.step is not None and art.step != ev.step:
                problems.append(Words("game.why_wrong_step", step=ev.step, written=art.step))
            if scores and all(math.isfinite(s) for s in scores):
                mean = sum(scores) / len(scores)
                std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
            else:
                mean = std = float("nan")
            out.append(
                Attempt(
                    kind="rl", player=info.owner, game=info.run.game, env=info.run.env, algo=info.run.algo,
                    metrics={"score": mean - std, "mean": mean, "std": std}, n=len(scores), created_at=ev.created_at,
                    step=ev.step, run_id=ev.run_id, checkpoint=ev.checkpoint, checkpoint_sha256=ev.checkpoint_sha256,
                    evaluation_id=ev.id, checkpoint_time=written_at, wall_time_s=info.wall_time_until(written_at),
                    problems=problems, extra={"seed": ev.seed, "run_seed": info.run.seed,
                                              "settings": dict(info.run.config.get("hyperparameters") or {})},
                )
            )
        _ablations(out)
        return out

    def _gan_attempts(self) -> list[Attempt]:
        out = []
        for ev in self.evaluations:
            if ev.played:
                continue
            p = ev.quality()
            info = self.infos.get(ev.run_id)
            if info is None or info.run.kind != "gan":
                continue
            problems: list[Words] = []
            if info.imported:
                problems.append(Words("game.why_imported"))
            model = p.get("model") if isinstance(p.get("model"), str) else info.run.algo
            if model != info.run.algo:
                problems.append(Words("game.why_other_model", model=model, run=info.run.id, trained=info.run.algo))
            metrics = {k: v for k in GAN_NUMBERS if (v := _number(p.get(k))) is not None}
            step = _number(p.get("step"))
            n = _number(p.get("n"))
            if step is None or n is None:
                problems.append(Words("game.why_incomplete"))
            hash_problems, written_at = self._hash_problems(
                info, ev.checkpoint, ev.checkpoint_sha256, ev.created_at
            )
            problems += hash_problems
            dataset = p.get("dataset") if isinstance(p.get("dataset"), str) else info.run.env
            image_size = _number(p.get("image_size"))
            out.append(
                Attempt(
                    kind="gan", player=info.owner, game=dataset, env=dataset, algo=model, metrics=metrics,
                    n=int(n or 0), created_at=ev.created_at, step=int(step) if step is not None else None,
                    run_id=info.run.id, checkpoint=ev.checkpoint, checkpoint_sha256=ev.checkpoint_sha256,
                    evaluation_id=ev.id, metric_name=ev.measure,
                    image_size=int(image_size) if image_size is not None else None, checkpoint_time=written_at,
                    wall_time_s=info.wall_time_until(written_at), problems=problems,
                    extra={"run_seed": info.run.seed, "settings": dict(info.run.config.get("hyperparameters") or {})},
                )
            )
        _constraint_pairs(out)
        return out

    def _human_attempts(self) -> list[Attempt]:
        out = []
        for event in self.events:
            p = event["payload"]
            if event["kind"] == HUMAN_GAME:
                player = _valid_player(p.get("player"))
                score = _number(p.get("score"))
                if player is None or not isinstance(p.get("env"), str):
                    continue
                problems = [] if score is not None else [Words("game.why_score_not_number")]
                frames = _number(p.get("frames")) or 0
                if frames <= 0:
                    problems.append(Words("game.why_no_frames"))
                game = p.get("game") if isinstance(p.get("game"), str) else reference.game_of(p["env"])
                out.append(
                    Attempt(
                        kind="human", player=player, game=game, env=p["env"], algo="human",
                        metrics={"best_game": score if score is not None else float("nan"), "games": 1.0}, n=1,
                        created_at=event["created_at"], event_id=event["id"], problems=problems,
                        extra={"seed": p.get("seed"), "frames": int(frames)},
                    )
                )
            elif event["kind"] == DUEL:
                player = _valid_player(p.get("player"))
                human, agent = _number(p.get("human_score")), _number(p.get("agent_score"))
                if player is None:
                    continue
                problems = []
                if human is None or agent is None:
                    problems.append(Words("game.why_duel_scores_not_numbers"))
                won = human is not None and agent is not None and human > agent
                if won != (p.get("winner") == "human"):
                    problems.append(Words("game.why_wrong_winner"))
                run_id = p.get("run_id")
                if self.owner(run_id or "") is None:
                    problems.append(Words("game.why_duel_run_gone", run=run_id))
                env = p.get("env") if isinstance(p.get("env"), str) else None
                out.append(
                    Attempt(
                        kind="duel", player=player, game=p.get("game") or (reference.game_of(env) if env else "?"),
                        env=env, algo="human", metrics={"duels_won": 1.0 if won else 0.0}, n=1,
                        created_at=event["created_at"], run_id=run_id, checkpoint=p.get("checkpoint"),
                        event_id=event["id"], problems=problems,
                        extra={"human_score": human, "agent_score": agent, "winner": p.get("winner"), "seed": p.get("seed")},
                    )
                )
        return out

    # views --------------------------------------------------------------------------------------
    def players(self) -> list[str]:
        from playground.game.profiles import players_in

        names = players_in(self.events)
        for info in self.infos.values():
            if info.owner not in names:
                names.append(info.owner)
        return names

    def of_player(self, player: str) -> list[Attempt]:
        return [a for a in self.attempts if a.player == player]


def _ablations(attempts: list[Attempt]) -> None:
    """Give every verified RL evaluation of ``MIN_GAMES`` or more games its ``compared`` metric: 1 when the same
    player has a run of the same algorithm, env and seed that differs from its run in one DQN improvement (and that
    improvement's own settings) with such an evaluation at the same step, else 0. The twin, the improvement and both
    results go into ``extra["ablation"]``: what the two runs show side by side."""
    groups: dict[tuple[Any, ...], list[Attempt]] = defaultdict(list)
    for a in attempts:
        a.metrics["compared"] = 0.0
        if a.verified and a.n >= MIN_GAMES:
            groups[(a.player, algorithm_of(a.algo), a.env, a.extra.get("run_seed"), a.step)].append(a)
    for group in groups.values():
        for a in group:
            for b in group:
                if a.run_id == b.run_id or a.metrics["compared"]:
                    continue
                improvement = one_improvement_apart(a.extra["settings"], b.extra["settings"])
                if improvement is not None:
                    a.metrics["compared"] = 1.0
                    a.extra["ablation"] = {
                        "improvement": improvement, "with": b.run_id,
                        "values": [setting_of(a.extra["settings"], improvement),
                                   setting_of(b.extra["settings"], improvement)],
                        "scores": [a.metrics["score"], b.metrics["score"]],
                    }


def _constraint_pairs(attempts: list[Attempt]) -> None:
    """Give every verified WGAN evaluation its ``constraints_compared`` metric: 1 when the same player has a WGAN
    run on the same data, image size and seed with the other way of keeping the critic Lipschitz (weight clipping
    against the gradient penalty) evaluated on the same network at the same step, else 0. The twin and both
    distances go into ``extra["pair"]``."""
    groups: dict[tuple[Any, ...], list[Attempt]] = defaultdict(list)
    for a in attempts:
        if a.algo != "wgan":
            continue
        a.metrics["constraints_compared"] = 0.0
        if a.verified:
            groups[(a.player, a.env, a.image_size, a.extra.get("run_seed"), a.step, a.metric_name)].append(a)

    def constraint(a: Attempt) -> str:
        return str(a.extra["settings"].get("constraint", "clip"))  # gans/wgan.py's default: the paper's clipping

    for group in groups.values():
        for a in group:
            twin = next((b for b in group if b.run_id != a.run_id and constraint(b) != constraint(a)), None)
            if twin is not None:
                a.metrics["constraints_compared"] = 1.0
                a.extra["pair"] = {"with": twin.run_id, "constraints": [constraint(a), constraint(twin)],
                                   "fd": [a.metrics.get("fd"), twin.metrics.get("fd")]}


# -- one player's attempts against one challenge -----------------------------------------------------
def relevant(challenge: Challenge, attempt: Attempt) -> bool:
    """Whether the attempt is on the challenge's game (so it shows up there, counted or not)."""
    if challenge.kind == "rl":
        return attempt.kind == "rl" and attempt.game in challenge.games
    if challenge.kind == "gan":
        return attempt.kind == "gan" and attempt.env in challenge.datasets
    if challenge.metric == "duels_won":
        return attempt.kind == "duel" and (not challenge.envs or attempt.env in challenge.envs)
    return attempt.kind == "human" and (attempt.env in challenge.envs or attempt.game in challenge.games)


def tries(challenge: Challenge, attempt: Attempt) -> bool:
    """Whether a relevant attempt was a try at this very challenge: its algorithm or model and its
    environment. A PPO run on CartPole shows on the DQN card (why it does not count), but it is no try
    at it, so that card stays "not tried yet" instead of "attempted, not met"."""
    c = challenge.constraints
    if not allows(c.algos, attempt.algo):
        return False
    return not (challenge.kind == "rl" and attempt.env not in challenge.envs)


class _Either:
    """Names joined with "or" in the language of the sentence around them (``CartPole-v1 or Acrobot-v1``)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = [str(n) for n in names]

    def render(self, lang: str | None = None) -> str:
        return translate("game.goal_or", lang).join(self.names)

    def __str__(self) -> str:
        return self.render()


def reasons(challenge: Challenge, attempt: Attempt, evidence: Evidence | None = None) -> list[Words]:
    """Why a relevant attempt does not count for this challenge (threshold aside); empty: it counts."""
    out = list(attempt.problems)
    c = challenge.constraints
    if challenge.kind == "rl":
        if attempt.env not in challenge.envs:
            out.append(Words("game.why_other_env", env=attempt.env, envs=_Either(challenge.envs)))
        if not allows(c.algos, attempt.algo):
            out.append(Words("game.why_other_algo", algo=attempt.algo, algos=_Either(c.algos)))
        if attempt.n < c.min_games:
            out.append(Words("game.why_fewer_games", games=attempt.n, min_games=c.min_games))
        settings = attempt.extra.get("settings") or {}
        for key, wanted in c.settings:
            if setting_of(settings, key) != wanted:
                out.append(Words("game.why_other_setting", key=key, value=shown_setting(setting_of(settings, key)),
                                 wanted=shown_setting(wanted)))
    elif challenge.kind == "gan":
        if c.algos and attempt.algo not in c.algos:
            out.append(Words("game.why_other_gan", model=attempt.algo, models=_Either(c.algos)))
        if challenge.gan_metrics and attempt.metric_name not in challenge.gan_metrics:
            out.append(Words("game.why_other_network", network=attempt.metric_name,
                             networks=_Either(challenge.gan_metrics)))
        for condition in challenge.conditions:
            if condition.metric not in attempt.metrics:
                out.append(Words("game.why_no_measurement", metric=condition.metric))
        if attempt.n < c.min_samples:
            out.append(Words("game.why_fewer_samples", n=attempt.n, min_samples=c.min_samples))
        if c.image_size is not None and attempt.image_size != c.image_size:
            out.append(Words("game.why_image_size", size=attempt.image_size, wanted=c.image_size))
    elif attempt.kind == "duel" and evidence is not None:
        owner = evidence.owner(attempt.run_id or "")
        if owner is not None and owner != attempt.player:
            out.append(Words("game.why_not_your_agent", run=attempt.run_id, owner=owner, player=attempt.player))
    if c.max_steps is not None and attempt.step is not None and attempt.kind in ("rl", "gan") and attempt.step > c.max_steps:
        out.append(Words("game.why_over_steps", step=attempt.step, max_steps=c.max_steps))
    if c.max_wall_time_s is not None and attempt.wall_time_s is not None and attempt.wall_time_s > c.max_wall_time_s:
        out.append(Words("game.why_over_time", hours=attempt.wall_time_s / 3600, max_hours=c.max_wall_time_s / 3600))
    return out


def meets(challenge: Challenge, attempt: Attempt) -> bool:
    """The thresholds alone (primary and ``also``), on one attempt."""
    return all(cond.met(attempt.metrics.get(cond.metric)) for cond in challenge.conditions)


def better(challenge: Challenge, a: Attempt, b: Attempt | None) -> bool:
    """Whether ``a`` ranks above ``b``: the better value first, then fewer steps, then earlier."""
    if b is None:
        return True
    va, vb = a.metrics.get(challenge.metric, math.nan), b.metrics.get(challenge.metric, math.nan)
    if va != vb:
        if math.isnan(vb):
            return not math.isnan(va)
        if math.isnan(va):
            return False
        return va > vb if challenge.direction == HIGHER else va < vb
    sa, sb = a.step if a.step is not None else math.inf, b.step if b.step is not None else math.inf
    if sa != sb:
        return sa < sb
    return a.created_at < b.created_at


@dataclass
class Outcome:
    """One player on one challenge: met or not, by what, and what stood in the way."""

    challenge: Challenge
    value: float | None  # the best counted value (a count for games and duels_won)
    best: Attempt | None  # the attempt with that value
    met_by: Attempt | None  # the first attempt that met it (the award's evidence)
    counted: list[Attempt]  # verified and within the constraints, threshold aside
    rejected: list[tuple[Attempt, list[Words]]]

    @property
    def met(self) -> bool:
        return self.met_by is not None


def outcome(challenge: Challenge, attempts: Iterable[Attempt], evidence: Evidence | None = None) -> Outcome:
    counted: list[Attempt] = []
    rejected: list[tuple[Attempt, list[Words]]] = []
    for attempt in sorted((a for a in attempts if relevant(challenge, a)), key=lambda a: a.created_at):
        why = reasons(challenge, attempt, evidence)
        if why:
            rejected.append((attempt, why))
        else:
            counted.append(attempt)
    if challenge.metric in COUNT_METRICS:
        tally = 0.0
        met_by = last = None
        for attempt in counted:
            if attempt.metrics.get(challenge.metric, 0.0) <= 0:
                continue
            tally += 1
            last = attempt
            if met_by is None and passes(tally, challenge.op, challenge.threshold):
                met_by = attempt
        return Outcome(challenge, tally if counted else None, last, met_by, counted, rejected)
    best: Attempt | None = None
    for attempt in counted:
        if better(challenge, attempt, best):
            best = attempt
    met_by = next((a for a in counted if meets(challenge, a)), None)
    value = best.metrics.get(challenge.metric) if best is not None else None
    return Outcome(challenge, value, best, met_by, counted, rejected)
