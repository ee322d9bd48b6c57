"""The game as every door sees it: read the store once, record what was newly earned, answer in plain data.

``Game(store)`` collects the evidence, records new awards and badges (``sync``: idempotent, cheap
enough for a page refresh), and answers what the CLI and the web UI ask: a player's profile with
the one suggested next challenge, challenge cards, one challenge in detail, leaderboards, badges.
Everything returned is JSON-ready (the shapes are in docs/cli-json.md); titles and descriptions
come in both languages (``{"en": …, "zh": …}``) so a page can switch.

Awards are ``award`` events keyed by challenge and player, with their evidence (run, checkpoint,
hash, evaluation or event id). They are stored without a run id, so deleting a run does not take
back XP it earned; leaderboards read live evidence, so a deleted run leaves them.

Which catalogue is played, first found wins:

1. ``$PLAYGROUND_CHALLENGES``: a YAML file named by the environment of the process (the operator's choice on this
   machine; it overrides the class's, so a machine can be pinned whatever the teacher page says);
2. the class's catalogue: a YAML file a teacher chose (the teacher page or ``playground class catalogue FILE``), kept
   as its text in the store's class settings, so every machine on a shared store (PostgreSQL) plays it without a
   shared home folder;
3. the built-in ``challenges.yaml``.

All three are checked by the same parser (``catalogue.parse``), whole, before anything is played.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import logging
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from playground import events
from playground.errors import PlaygroundError
from playground.game import achievements as badges
from playground.game import catalogue as catalogue_mod
from playground.game import reference
from playground.game.catalogue import HIGHER, Catalogue, Challenge, Tier, UnknownChallenge
from playground.game.evidence import COUNT_METRICS, Attempt, Evidence, Outcome, better, outcome, tries
from playground.game.profiles import active_player
from playground.game.results import check_player
from playground.i18n import Words
from playground.store import Store, get_store

log = logging.getLogger(__name__)

AWARD = events.ChallengeMet.KIND
ACHIEVEMENT = events.BadgeEarned.KIND
CATALOGUE_ENV = "PLAYGROUND_CHALLENGES"  # this machine's own catalogue (a YAML file in the same format)
# The class's catalogue in the store's class settings: {"name": the file's name, "yaml": its text, "sha256": of the
# text, "set_at": when, "set_by": who}. The text itself, not a path: machines that share a database need not share a
# folder.
CATALOGUE_SETTING = "catalogue"
ENVIRONMENT, CLASS, BUILTIN = "environment", "class", "builtin"


class UnknownGame(PlaygroundError):
    pass


@dataclass(frozen=True)
class CatalogueSource:
    """Where the catalogue being played comes from (``origin``: environment, class or builtin)."""

    origin: str
    name: str  # the file's name (as the teacher uploaded it) or path
    yaml: str | None = None  # the class's text
    sha256: str | None = None
    set_at: float | None = None
    set_by: str | None = None
    overridden: bool = False  # a class catalogue is set, but $PLAYGROUND_CHALLENGES wins on this machine


def _class_choice(store: Store) -> dict[str, Any] | None:
    chosen = store.class_setting(CATALOGUE_SETTING)
    if chosen is None:
        return None
    if not isinstance(chosen, dict) or not isinstance(chosen.get("yaml"), str):
        log.warning("ignoring the class setting %r: it holds no catalogue text", CATALOGUE_SETTING)
        return None
    return chosen


def catalogue_source(store: Store | None = None) -> CatalogueSource:
    """Which catalogue this process plays: ``$PLAYGROUND_CHALLENGES``, else the class's, else the built-in."""
    path = os.environ.get(CATALOGUE_ENV)
    chosen = _class_choice(store or get_store()) if not path or store is not None else None
    if path:
        return CatalogueSource(ENVIRONMENT, path, overridden=chosen is not None)
    if chosen is not None:
        return CatalogueSource(CLASS, str(chosen.get("name") or "catalogue.yaml"), chosen["yaml"],
                               chosen.get("sha256"), chosen.get("set_at"), chosen.get("set_by"))
    return CatalogueSource(BUILTIN, catalogue_mod.CATALOGUE.name)


def catalogue_from_text(text: str, name: str) -> Catalogue:
    """A catalogue from a YAML file's text (a class's, or one being checked), named ``name`` in its sentences:
    read as ``catalogue.load`` reads a file and checked by the same ``catalogue.parse``."""
    return _from_text(text, name)


@functools.lru_cache(maxsize=4)
def _from_text(text: str, name: str) -> Catalogue:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise catalogue_mod.CatalogueError("game.catalogue_unreadable", path=name, reason=first) from None
    return catalogue_mod.parse(data, source=name)


def load_catalogue(store: Store | None = None) -> Catalogue:
    """The catalogue to play (``catalogue_source``'s order); ``store`` holds the class's choice (default: this
    process's store, read only when the environment names no file)."""
    source = catalogue_source(store)
    if source.origin == ENVIRONMENT:
        return catalogue_mod.load(source.name)
    if source.origin == CLASS:
        assert source.yaml is not None
        return catalogue_from_text(source.yaml, source.name)
    return catalogue_mod.load(None)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


_clean = events.json_safe  # what the game prints as JSON: NaN and infinities become null


@dataclass
class TierStatus:
    tier: Tier
    next: Tier | None
    xp: int
    xp_missing: int
    missing: list[str]  # challenge ids the next tier asks for that are not met yet


@dataclass
class SyncReport:
    """What one ``sync`` newly recorded: the lines a door announces."""

    awards: list[dict[str, Any]] = field(default_factory=list)
    achievements: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.awards or self.achievements or self.promotions)

    def as_dict(self) -> dict[str, Any]:
        return {"awards": self.awards, "achievements": self.achievements, "promotions": self.promotions}


class Game:
    """The game read from one store; ``sync=True`` (the default) records new awards and badges first."""

    def __init__(self, store: Store | None = None, catalogue: Catalogue | None = None, *, sync: bool = True) -> None:
        self.store = store or get_store()
        self.catalogue = catalogue or load_catalogue(self.store)
        self.evidence = Evidence(self.store)
        self._by_player: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in self.evidence.attempts:
            self._by_player[attempt.player].append(attempt)
        self._outcomes: dict[tuple[str, str], Outcome] = {}
        self.award_events: dict[tuple[str, str], dict[str, Any]] = {}
        self.badge_events: dict[tuple[str, str], dict[str, Any]] = {}
        for event in self.evidence.events:
            p = event["payload"]
            if event["kind"] == AWARD and isinstance(p.get("challenge"), str) and isinstance(p.get("player"), str):
                self.award_events.setdefault((p["challenge"], p["player"]), event)
            elif event["kind"] == ACHIEVEMENT and isinstance(p.get("achievement"), str):
                self.badge_events.setdefault((p["achievement"], str(p.get("player"))), event)
        self.report = self.sync() if sync else SyncReport()

    # -- recording ---------------------------------------------------------------------------------
    def sync(self) -> SyncReport:
        """Record every award and badge the evidence earns and the store does not have yet (once each)."""
        report = SyncReport()
        tiers_before = {p: self.tier_status(p).tier for p in self.players()}
        for player in list(self._by_player):
            for challenge in self.catalogue.challenges:
                if (challenge.id, player) in self.award_events:
                    continue
                result = self.outcome(challenge, player)
                if result.met_by is None:
                    continue
                count = challenge.metric in COUNT_METRICS
                award = events.ChallengeMet(
                    challenge=challenge.id, player=player, xp=challenge.xp, tier=challenge.tier,
                    title=challenge.title["en"],
                    value=result.value if count else result.met_by.metrics.get(challenge.metric),
                    evidence=result.met_by.evidence(),
                )
                self._record(award, ("challenge", "player"), self.award_events, report.awards)
        earned = badges.earned(self.evidence, self.award_events.values())
        for (badge_id, player), (_when, evidence) in sorted(earned.items(), key=lambda kv: kv[1][0]):
            if (badge_id, player) in self.badge_events:
                continue
            badge = badges.BY_ID[badge_id]
            earned_now = events.BadgeEarned(achievement=badge_id, player=player, icon=badge.icon,
                                            name=badge.name["en"], evidence=evidence)
            self._record(earned_now, ("achievement", "player"), self.badge_events, report.achievements)
        for player in self.players():
            now = self.tier_status(player).tier
            before = tiers_before.get(player, self.catalogue.tiers[0])
            if now.index > before.index:
                report.promotions.append({"player": player, "tier": now.id, "name": dict(now.name)})
        return report

    def _record(self, event: events.Event, key: tuple[str, str], into: dict, new: list) -> None:
        kind, payload = event.kind, events.stored_payload(event)
        event_id = events.record_once(self.store, event, key=key)
        k = (payload[key[0]], payload[key[1]])
        if event_id is None:  # another process recorded it a moment ago
            for event in self.store.events(kind):
                if (event["payload"].get(key[0]), event["payload"].get(key[1])) == k:
                    into.setdefault(k, event)
                    break
            return
        event = {"id": event_id, "run_id": None, "kind": kind, "payload": payload, "created_at": time.time()}
        into[k] = event
        new.append({**payload, "event_id": event_id})

    # -- players, XP and tiers -----------------------------------------------------------------------
    def players(self) -> list[str]:
        names = self.evidence.players()
        for _, player in [*self.award_events, *self.badge_events]:
            if player not in names:
                names.append(player)
        return names

    def met(self, player: str) -> set[str]:
        return {cid for (cid, p) in self.award_events if p == player}

    def xp(self, player: str) -> int:
        return sum(int(e["payload"].get("xp") or 0) for (_, p), e in self.award_events.items() if p == player)

    def tier_status(self, player: str) -> TierStatus:
        done, xp = self.met(player), self.xp(player)
        tiers = self.catalogue.tiers
        current = tiers[0]
        for tier in tiers[1:]:
            if xp >= tier.xp and all(r in done for r in tier.requires):
                current = tier
            else:
                break
        nxt = tiers[current.index + 1] if current.index + 1 < len(tiers) else None
        if nxt is None:
            return TierStatus(current, None, xp, 0, [])
        return TierStatus(current, nxt, xp, max(0, nxt.xp - xp), [r for r in nxt.requires if r not in done])

    def outcome(self, challenge: Challenge, player: str) -> Outcome:
        key = (challenge.id, player)
        if key not in self._outcomes:
            self._outcomes[key] = outcome(challenge, self._by_player.get(player, []), self.evidence)
        return self._outcomes[key]

    def next_challenge(self, player: str) -> Challenge | None:
        """The one next step: this tier's first rung, what the next tier asks for, then the rest of this tier, then
        the next one."""
        done = self.met(player)
        status = self.tier_status(player)
        order: list[Challenge] = [self.catalogue.get(r) for r in (*status.tier.first_rung, *status.missing)]
        order += self.catalogue.in_tier(status.tier.id)
        if status.next is not None:
            order += self.catalogue.in_tier(status.next.id)
        order += list(self.catalogue.challenges)
        return next((c for c in order if c.id not in done), None)

    # -- views: plain data -------------------------------------------------------------------------
    def profile(self, player: str | None = None) -> dict[str, Any]:
        player = check_player(player) if player else active_player()
        status = self.tier_status(player)
        nxt = self.next_challenge(player)
        recent = sorted((e for (_, p), e in self.award_events.items() if p == player), key=lambda e: e["created_at"])
        next_tier = None
        if status.next is not None:
            span = status.next.xp - status.tier.xp
            next_tier = {
                "id": status.next.id,
                "name": dict(status.next.name),
                "xp": status.next.xp,
                "xp_missing": status.xp_missing,
                "xp_progress": round(min(1.0, max(0.0, (status.xp - status.tier.xp) / span)), 4) if span > 0 else 1.0,
                "requires": [self._brief(self.catalogue.get(r), player) for r in status.next.requires],
                "missing": status.missing,
            }
        return _clean({
            "player": player,
            "active": player == active_player(),
            "xp": status.xp,
            "tier": {"id": status.tier.id, "index": status.tier.index, "name": dict(status.tier.name)},
            "next_tier": next_tier,
            "next_challenge": self.card(nxt, player) if nxt is not None else None,
            "challenges_met": len(self.met(player) & {c.id for c in self.catalogue.challenges}),
            "challenges_total": len(self.catalogue.challenges),
            "achievements_earned": sum(1 for (b, p) in self.badge_events if p == player and b in badges.BY_ID),
            "achievements_total": len(badges.ACHIEVEMENTS),
            "recent_awards": [self._award(e) for e in recent[-5:]],
        })

    def players_summary(self, active: str | None = None) -> list[dict[str, Any]]:
        """Every player with their XP and tier, best first; ``active`` (default: this machine's profile) is marked,
        and listed even before they have done anything (a served app passes the signed-in person)."""
        active = active or active_player()
        names = self.players()
        if active not in names:
            names.append(active)
        rows = []
        for name in names:
            status = self.tier_status(name)
            rows.append({"player": name, "active": name == active, "xp": status.xp,
                         "tier": {"id": status.tier.id, "name": dict(status.tier.name)},
                         "challenges_met": len(self.met(name))})
        return sorted(rows, key=lambda r: (-r["xp"], r["player"]))

    def _brief(self, challenge: Challenge, player: str) -> dict[str, Any]:
        return {"id": challenge.id, "title": dict(challenge.title), "met": (challenge.id, player) in self.award_events}

    def _award(self, event: dict[str, Any]) -> dict[str, Any]:
        p = event["payload"]
        return {"challenge": p.get("challenge"), "player": p.get("player"), "xp": p.get("xp"), "value": p.get("value"),
                "evidence": p.get("evidence"), "event_id": event["id"], "created_at": iso(event["created_at"])}

    def _progress(self, challenge: Challenge, value: float | None, met: bool) -> float | None:
        if met:
            return 1.0
        if value is None or not math.isfinite(value):
            return 0.0
        if challenge.metric in COUNT_METRICS:
            return min(1.0, value / challenge.threshold) if challenge.threshold > 0 else 0.0
        if challenge.direction == HIGHER:
            if challenge.kind == "gan":
                return None  # no honest zero point for PSNR
            base = reference.random_score(challenge.envs[0], challenge.games[0]) if challenge.envs else None
            if base is None or challenge.threshold <= base:
                return None
            return round(min(1.0, max(0.0, (value - base) / (challenge.threshold - base))), 4)
        if value <= 0:
            return 1.0
        return round(min(1.0, max(0.0, challenge.threshold / value)), 4)

    def _attempt(self, attempt: Attempt, challenge: Challenge | None = None) -> dict[str, Any]:
        out = attempt.evidence()
        out.update({"player": attempt.player, "created_at": iso(attempt.created_at)})
        if challenge is not None:
            out["value"] = attempt.metrics.get(challenge.metric)
        return out

    def card(self, challenge: Challenge, player: str) -> dict[str, Any]:
        """A challenge as a card: what it asks, its status for ``player``, progress and the best try."""
        result = self.outcome(challenge, player)
        award = self.award_events.get((challenge.id, player))
        met = award is not None
        tried = bool(result.counted) or any(tries(challenge, a) for a, _ in result.rejected)
        status = "met" if met else "attempted" if tried else "open"
        tier = self.catalogue.tier(challenge.tier)
        required = self.catalogue.required_for(challenge.id)
        return _clean({
            "id": challenge.id,
            "tier": challenge.tier,
            "tier_name": dict(tier.name),
            "kind": challenge.kind,
            "title": dict(challenge.title),
            "description": dict(challenge.description),
            "goal": challenge.goal(),
            "games": list(challenge.games),
            "envs": list(challenge.envs),
            "datasets": list(challenge.datasets),
            "metric": challenge.metric,
            "gan_metric": list(challenge.gan_metrics),
            "op": challenge.op,
            "threshold": challenge.threshold,
            "also": [{"metric": c.metric, "op": c.op, "threshold": c.threshold} for c in challenge.also],
            "threshold_source": dict(challenge.threshold_source) if challenge.threshold_source else None,
            "provisional": challenge.provisional,
            "constraints": challenge.constraints.as_dict(),
            "xp": challenge.xp,
            "commands": list(challenge.commands),
            "required_for": required.id if required else None,
            "status": status,
            "progress": self._progress(challenge, result.value, met),
            "best": {"value": result.value, **self._attempt(result.best)} if result.best is not None else None,
            "award": self._award(award) if award is not None else None,
        })

    def cards(self, player: str, tier: str | None = None) -> list[dict[str, Any]]:
        chosen = self.catalogue.tier(tier).id if tier else None
        return [self.card(c, player) for c in self.catalogue.challenges if chosen is None or c.tier == chosen]

    def challenge(self, challenge_id: str, player: str, lang: str = "en") -> dict[str, Any]:
        """One challenge in detail: the card, every counted try, and why the others do not count (the
        reasons in ``lang``: English in the JSON, the process's language in the CLI's text)."""
        challenge = self.catalogue.get(challenge_id)
        result = self.outcome(challenge, player)
        card = self.card(challenge, player)
        counted = sorted(result.counted, key=lambda a: a.created_at, reverse=True)
        card["attempts"] = _clean([{**self._attempt(a, challenge), "counts": True, "meets": self._meets(challenge, a)}
                                   for a in counted[:10]])
        card["not_counted"] = _clean([
            {**self._attempt(a, challenge), "counts": False, "why": [w.render(lang) for w in why]}
            for a, why in sorted(result.rejected, key=lambda r: r[0].created_at, reverse=True)[:10]
        ])
        card["leaderboard"] = self._challenge_entries(challenge)[:5]
        return card

    @staticmethod
    def _meets(challenge: Challenge, attempt: Attempt) -> bool:
        return all(c.met(attempt.metrics.get(c.metric)) for c in challenge.conditions)

    # -- leaderboards ------------------------------------------------------------------------------
    def known_games(self) -> dict[str, str]:
        """lowercase name → game, for every game or dataset with results, challenges or reference scores."""
        names: list[str] = [a.game for a in self.evidence.attempts]
        for challenge in self.catalogue.challenges:
            names += challenge.games
        names += list(reference.table("atari"))
        names += [reference.game_of(env) for env in reference.table("classic_control")]
        return {n.lower(): n for n in names if isinstance(n, str)}

    def resolve(self, target: str) -> Challenge | str:
        """A challenge id, a game (``Pong``, ``pong``), an environment id (``ALE/Pong-v5``) or a dataset."""
        try:
            return self.catalogue.get(target)
        except UnknownChallenge:
            pass
        games = self.known_games()
        for candidate in (target, reference.game_of(target)):
            if candidate.lower() in games:
                return games[candidate.lower()]
        close = difflib.get_close_matches(target.lower(), [*games, *(c.id for c in self.catalogue.challenges)], n=1)
        hint = Words("game.did_you_mean", name=games.get(close[0], close[0])) if close else ""
        raise UnknownGame("game.unknown_game", target=target, hint=hint)

    def leaderboard(self, target: str, limit: int = 20) -> dict[str, Any]:
        resolved = self.resolve(target)
        if isinstance(resolved, Challenge):
            c = resolved
            return _clean({"type": "challenge", "challenge": c.id, "title": dict(c.title), "goal": c.goal(),
                           "metric": c.metric, "op": c.op, "threshold": c.threshold,
                           "entries": self._challenge_entries(c)[:limit]})
        game = resolved
        agents = [a for a in self.evidence.attempts if a.kind in ("rl", "gan") and a.game == game and a.verified]
        is_gan = any(a.kind == "gan" for a in agents)
        out: dict[str, Any] = {"type": "game", "game": game, "kind": "gan" if is_gan else "rl"}
        if is_gan:
            out["agents"] = self._gan_entries(agents)[:limit]
        else:
            best: dict[str, Attempt] = {}
            for a in agents:
                if a.n >= catalogue_mod.MIN_GAMES and _rank_rl(a, best.get(a.run_id or "")):
                    best[a.run_id or ""] = a
            ranked = sorted(best.values(), key=_rl_key)
            out["agents"] = [self._rl_entry(i + 1, a) for i, a in enumerate(ranked[:limit])]
        humans: dict[str, tuple[Attempt, int]] = {}
        for a in self.evidence.attempts:
            if a.kind == "human" and a.game == game and a.verified:
                prev = humans.get(a.player)
                games = (prev[1] if prev else 0) + 1
                keep = a if prev is None or _human_better(a, prev[0]) else prev[0]
                humans[a.player] = (keep, games)
        ranked_h = sorted(humans.values(), key=lambda t: (-t[0].metrics["best_game"], t[0].created_at))
        out["humans"] = [self._human_entry(i + 1, a, n) for i, (a, n) in enumerate(ranked_h[:limit])]
        row = reference.atari_row(game)
        if row is not None:
            out["reference"] = {k: float(row[k]) for k in ("random", "human", "nature_dqn")}
        return _clean(out)

    def _rl_entry(self, rank: int, a: Attempt) -> dict[str, Any]:
        return {"rank": rank, "player": a.player, "algo": a.algo, "run_id": a.run_id, "env": a.env, "step": a.step,
                "result": a.metrics["score"], "mean": a.metrics["mean"], "std": a.metrics["std"], "games": a.n,
                "human_normalised": a.human_normalised, "evaluation_id": a.evaluation_id,
                "checkpoint": a.checkpoint, "checkpoint_sha256": a.checkpoint_sha256, "created_at": iso(a.created_at)}

    def _human_entry(self, rank: int, a: Attempt, games: int) -> dict[str, Any]:
        score = a.metrics.get("best_game")
        return {"rank": rank, "player": a.player, "score": score, "games": games, "env": a.env,
                "human_normalised": reference.human_normalised(a.game, score) if score is not None else None,
                "event_id": a.event_id, "seed": a.extra.get("seed"), "frames": a.extra.get("frames"),
                "created_at": iso(a.created_at)}

    def _gan_entries(self, attempts: list[Attempt]) -> list[dict[str, Any]]:
        """Each run's best result per feature network (FD-mnist and FID do not compare); ranks per network."""
        best: dict[tuple[str, str], Attempt] = {}
        for a in attempts:
            if a.n < catalogue_mod.MIN_SAMPLES:
                continue
            key = (a.run_id or "", a.metric_name or "")
            if key not in best or _gan_key(a) < _gan_key(best[key]):
                best[key] = a
        out, rank, previous = [], 0, None
        for a in sorted(best.values(), key=_gan_key):
            rank = rank + 1 if a.metric_name == previous else 1
            previous = a.metric_name
            out.append({"rank": rank, "player": a.player, "model": a.algo, "run_id": a.run_id, "dataset": a.env,
                        "step": a.step, "metric": a.metric_name,
                        **{k: a.metrics.get(k) for k in ("fd", "kid", "psnr", "l1", "cycle_l1")}, "samples": a.n,
                        "evaluation_id": a.evaluation_id, "checkpoint": a.checkpoint,
                        "checkpoint_sha256": a.checkpoint_sha256,
                        "created_at": iso(a.created_at)})
        return out

    def _challenge_entries(self, challenge: Challenge) -> list[dict[str, Any]]:
        """Everyone's best counted try at a challenge: one entry per run (agents) or per player (people)."""
        entries: list[tuple[Attempt, float | None, bool]] = []
        per_run = challenge.kind in ("rl", "gan")
        for player in self.players():
            result = self.outcome(challenge, player)
            if not result.counted:
                continue
            if challenge.metric in COUNT_METRICS:
                entries.append((result.best or result.counted[-1], result.value, result.met))
                continue
            best: dict[str, Attempt] = {}
            for a in result.counted:
                key = (a.run_id or "") if per_run else player
                if better(challenge, a, best.get(key)):
                    best[key] = a
            for a in best.values():
                entries.append((a, a.metrics.get(challenge.metric), self._meets(challenge, a)))
        if challenge.metric in COUNT_METRICS:
            entries.sort(key=lambda e: (-(e[1] or 0), e[0].created_at))
        else:
            ordered: list[tuple[Attempt, float | None, bool]] = []
            for entry in entries:  # insertion sort with the challenge's own order (value, steps, time)
                i = 0
                while i < len(ordered) and not better(challenge, entry[0], ordered[i][0]):
                    i += 1
                ordered.insert(i, entry)
            entries = ordered
        return _clean([{"rank": i + 1, "player": a.player, "algo": a.algo, "value": value, "meets": met,
                        **{k: v for k, v in self._attempt(a).items() if k not in ("player", "algo")}}
                       for i, (a, value, met) in enumerate(entries)])

    # -- badges ---------------------------------------------------------------------------------------
    def achievements(self, player: str) -> list[dict[str, Any]]:
        out = []
        for badge in badges.ACHIEVEMENTS:
            event = self.badge_events.get((badge.id, player))
            out.append({"id": badge.id, "icon": badge.icon, "name": dict(badge.name), "text": dict(badge.text),
                        "earned": event is not None, "earned_at": iso(event["created_at"]) if event else None,
                        "evidence": event["payload"].get("evidence") if event else None,
                        "event_id": event["id"] if event else None})
        return _clean(out)


def _rl_key(a: Attempt) -> tuple[float, float, float]:
    score = a.metrics.get("score", math.nan)
    return (-score if math.isfinite(score) else math.inf, a.step if a.step is not None else math.inf, a.created_at)


def _rank_rl(a: Attempt, b: Attempt | None) -> bool:
    return b is None or _rl_key(a) < _rl_key(b)


def _gan_key(a: Attempt) -> tuple[str, float, float, float]:
    if "fd" in a.metrics:
        value = a.metrics["fd"]
    elif "psnr" in a.metrics:
        value = -a.metrics["psnr"]
    else:
        value = math.inf
    return (a.metric_name or "", value, a.step if a.step is not None else math.inf, a.created_at)


def _human_better(a: Attempt, b: Attempt) -> bool:
    return (a.metrics["best_game"], -a.created_at) > (b.metrics["best_game"], -b.created_at)


def sync(store: Store | None = None, catalogue: Catalogue | None = None) -> SyncReport:
    """Record every award and badge the store's evidence earns and does not have yet; what was new."""
    return Game(store, catalogue).report
