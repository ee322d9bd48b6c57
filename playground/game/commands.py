"""The game's CLI commands, written for a learner who wants one next step.

``playground/cli.py`` registers them and hands over its consoles; each command checks its input
first (so bad input changes nothing), then syncs awards, then prints text or ``--json`` (the data
of ``Game``'s views, documented in docs/cli-json.md).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from playground.errors import PlaygroundError
from playground.game import profiles
from playground.game.core import Game, load_catalogue
from playground.game.results import check_player

log = logging.getLogger(__name__)

LANGS = ("en", "zh")
_STATUS = {"met": "✅", "attempted": "◐", "open": "·"}


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise PlaygroundError(f"--lang must be en or zh, not '{lang}'.")
    return lang


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _bar(fraction: float | None, width: int = 10) -> str:
    if fraction is None:
        return ""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled) + f" {fraction:.0%}"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(*columns: str, title: str | None = None) -> Table:
    """Columns fold rather than cut: a run id or a hash must stay whole on a narrow terminal."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _tier(name: dict[str, str], lang: str) -> str:
    return name["zh"] if lang == "zh" else f"{name['zh']} {name['en']}"


def _where(attempt: dict[str, Any]) -> str:
    """``ppo-CartPole-1 at step 100,000, evaluation #12`` — what a result points at."""
    parts = []
    if attempt.get("run_id"):
        parts.append(attempt["run_id"])
    if attempt.get("step") is not None and attempt.get("kind") in ("rl", "gan"):
        parts.append(f"step {attempt['step']:,}")
    if attempt.get("evaluation_id") is not None:
        parts.append(f"evaluation #{attempt['evaluation_id']}")
    elif attempt.get("event_id") is not None:
        parts.append(f"event #{attempt['event_id']}")
    return ", ".join(parts)


def _player(name: str | None) -> str:
    return check_player(name) if name else profiles.active_player()


def _synced(game: Game) -> Game:
    """Record what is newly earned, once the command's input has been checked."""
    game.report = game.sync()
    return game


# -- profile --------------------------------------------------------------------------------------------
def profile(out: Console, name: str | None, *, use: bool, list_all: bool, as_json: bool, lang: str) -> None:
    lang = _lang(lang)
    if name is not None:
        name = check_player(name)
    if use and name is None:
        raise PlaygroundError("--use needs a player name: playground profile NAME --use.")
    if use:
        profiles.use(name)  # type: ignore[arg-type]
        if not as_json:
            out.print(f"playing as {name} from now on on this machine.")
            env_player = os.environ.get("PLAYGROUND_PLAYER")
            if env_player and env_player.strip() != name:
                out.print(f"note: PLAYGROUND_PLAYER={env_player} is set in this shell and wins over it; unset it.")
    game = Game()  # input checked above
    if list_all:
        rows = game.players_summary()
        if as_json:
            _json(rows)
            return
        table = _table("", "player", "tier", "XP", "challenges met")
        for r in rows:
            table.add_row("▶" if r["active"] else "", r["player"], _tier(r["tier"]["name"], lang), str(r["xp"]),
                          str(r["challenges_met"]))
        out.print(table)
        out.print("switch with: playground profile NAME --use")
        return
    data = game.profile(name)
    if as_json:
        _json(data)
        return
    active = " (active)" if data["active"] else ""
    out.print(f"{data['player']}{active} · {_tier(data['tier']['name'], lang)} · {data['xp']} XP")
    nt = data["next_tier"]
    if nt is None:
        out.print("You are in the top tier.")
    else:
        needs = ", ".join(("✓ " if r["met"] else "✗ ") + r["title"][lang] for r in nt["requires"])
        out.print(f"Next tier {_tier(nt['name'], lang)}: {data['xp']}/{nt['xp']} XP {_bar(nt['xp_progress'])}"
                  + (f" · needs {needs}" if needs else ""))
    card = data["next_challenge"]
    if card is None:
        out.print("You have met every challenge. Try the leaderboards: playground leaderboard Pong")
    else:
        out.print("")
        out.print(f"Next challenge: {card['title'][lang]} (+{card['xp']} XP, {_tier(card['tier_name'], lang)})")
        out.print(f"  {card['description'][lang]}")
        if card["best"] is not None:
            out.print(f"  your best so far: {_num(card['best']['value'])} ({_where(card['best'])})"
                      + (f" {_bar(card['progress'])}" if card["progress"] is not None else ""))
        out.print("  try:")
        for command in card["commands"]:
            out.print(f"    {command}")
        out.print(f"  details: playground challenge {card['id']}")
    out.print("")
    out.print(f"Challenges met {data['challenges_met']}/{data['challenges_total']} · badges "
              f"{data['achievements_earned']}/{data['achievements_total']} · see `playground challenges`, "
              "`playground achievements`")


# -- challenges ----------------------------------------------------------------------------------------
def challenges(out: Console, *, tier: str | None, player: str | None, as_json: bool, lang: str) -> None:
    lang = _lang(lang)
    who = _player(player)
    catalogue = load_catalogue()
    if tier is not None:
        catalogue.tier(tier)
    game = Game(catalogue=catalogue)
    cards = game.cards(who, tier)
    if as_json:
        _json(cards)
        return
    status = game.tier_status(who)
    for t in game.catalogue.tiers:
        mine = [c for c in cards if c["tier"] == t.id]
        if not mine:
            continue
        here = "  ← you are here" if t.id == status.tier.id else ""
        needs = f" (from {t.xp} XP)" if t.xp else ""
        out.print(f"{_tier(dict(t.name), lang)}{needs}{here}")
        for c in mine:
            flag = " *" if c["required_for"] else ""
            progress = f"  {_bar(c['progress'], 6)}" if c["progress"] is not None and c["status"] != "open" else ""
            out.print(f"  {_STATUS[c['status']]} {c['title'][lang]}{flag}  [{c['id']}]  {c['xp']} XP{progress}")
            out.print(f"      {c['goal']}")
        out.print("")
    out.print("* needed for the next tier · ✅ met · ◐ tried · details and the command to try: playground challenge ID")


def challenge(out: Console, challenge_id: str, *, player: str | None, as_json: bool, lang: str) -> None:
    lang = _lang(lang)
    who = _player(player)
    catalogue = load_catalogue()
    catalogue.get(challenge_id)
    game = Game(catalogue=catalogue)
    data = game.challenge(challenge_id, who)
    if as_json:
        _json(data)
        return
    required = f" · needed for {data['required_for']}" if data["required_for"] else ""
    provisional = " · provisional threshold" if data["provisional"] else ""
    out.print(f"{data['title'][lang]} [{data['id']}] · {_tier(data['tier_name'], lang)} · {data['xp']} XP"
              f"{required}{provisional}")
    out.print(data["description"][lang])
    out.print(f"goal: {data['goal']}")
    if data["award"] is not None:
        award = data["award"]
        out.print(f"{_STATUS['met']} met by {who} on {award['created_at'][:10]}: {_num(award['value'])} "
                  f"({_where(award['evidence'] or {})})")
    elif data["best"] is not None:
        out.print(f"your best: {_num(data['best']['value'])} ({_where(data['best'])}) {_bar(data['progress'])}")
    elif data["not_counted"]:
        out.print(f"none of {who}'s tries counts yet; why, below.")
    else:
        out.print(f"{who} has no try at it yet.")
    if data["attempts"]:
        table = _table("when", "run / game", "value", "n", "meets", title="tries that count")
        for a in data["attempts"]:
            table.add_row((a["created_at"] or "")[:16].replace("T", " "), _where(a) or a.get("env") or "", _num(a["value"]),
                          str(a["n"]),
                          "yes" if a["meets"] else "no")
        out.print(table)
    for a in data["not_counted"]:
        out.print(f"not counted: {_where(a) or a.get('env')}: {'; '.join(a['why'])}.")
    out.print("how to attempt it:")
    for command in data["commands"]:
        out.print(f"  {command}")


# -- leaderboards ------------------------------------------------------------------------------------
def leaderboard(out: Console, target: str, *, limit: int, as_json: bool) -> None:
    if limit <= 0:
        raise PlaygroundError(f"--limit must be a positive whole number, not {limit}.")
    game = Game(sync=False)
    game.resolve(target)
    board = _synced(game).leaderboard(target, limit)
    if as_json:
        _json(board)
        return
    if board["type"] == "challenge":
        out.print(f"{board['title']['en']} [{board['challenge']}]: {board['goal']}")
        if not board["entries"]:
            out.print(f"no counted tries yet; see how: playground challenge {board['challenge']}")
            return
        table = _table("#", "player", "by", "value", "meets", "evidence")
        for e in board["entries"]:
            table.add_row(str(e["rank"]), e["player"], e["algo"], _num(e["value"]), "yes" if e["meets"] else "no",
                          _where(e))
        out.print(table)
        return
    name = board["game"]
    agents, humans = board["agents"], board["humans"]
    if board["kind"] == "gan":
        extra = [(k, label) for k, label in (("psnr", "PSNR"), ("cycle_l1", "cycle L1")) if any(e[k] is not None
                                                                                              for e in agents)]
        table = _table("#", "player", "model", "run", "iter.", "network", "FD", *(label for _, label in extra), "eval",
                       title=f"{name}: generators (per feature network)")
        for e in agents:
            table.add_row(str(e["rank"]), e["player"], e["model"], e["run_id"], _num(e["step"]), e["metric"] or "",
                          _num(e["fd"]), *(_num(e[k]) for k, _ in extra), f"#{e['event_id']}")
        out.print(table)
    elif agents:
        atari = any(e["human_normalised"] is not None for e in agents)
        columns = ["#", "player", "algo", "run", "steps", "mean − std", *(["× human"] if atari else []), "eval"]
        table = _table(*columns, title=f"{name}: agents (mean − std of ≥10 whole games)")
        for e in agents:
            hn = [f"{e['human_normalised']:.2f}" if e["human_normalised"] is not None else ""] if atari else []
            table.add_row(str(e["rank"]), e["player"], e["algo"], e["run_id"], _num(e["step"]), _num(e["result"]), *hn,
                          f"#{e['evaluation_id']}")
        out.print(table)
    if humans:
        table = _table("#", "player", "best game", "games", "game event", title=f"{name}: people")
        for e in humans:
            table.add_row(str(e["rank"]), e["player"], _num(e["score"]), str(e["games"]), f"#{e['event_id']}")
        out.print(table)
    if not agents and not humans:
        on_game = [c for c in game.catalogue.challenges if name in c.games]
        first = next((c for c in on_game if c.kind != "human"), None) or next(iter(on_game), None)
        hint = f"; be the first: {first.commands[0]}" if first is not None else ""
        out.print(f"no verified results on {name} yet{hint}")
    ref = board.get("reference")
    if ref:
        out.print(f"reference scores: random {ref['random']:g}, human {ref['human']:g}, Nature DQN {ref['nature_dqn']:g}")


# -- badges ------------------------------------------------------------------------------------------
def achievements(out: Console, *, player: str | None, as_json: bool, lang: str) -> None:
    lang = _lang(lang)
    who = _player(player)
    items = Game().achievements(who)
    if as_json:
        _json(items)
        return
    earned = [a for a in items if a["earned"]]
    out.print(f"{who}: {len(earned)} of {len(items)} badges")
    for a in items:
        when = f"  (earned {a['earned_at'][:10]})" if a["earned"] else ""
        mark = a["icon"] if a["earned"] else "· "
        out.print(f"{mark} {a['name'][lang]}: {a['text'][lang]}{when}")


# -- after a run, an evaluation or a game -------------------------------------------------------------
def announce(err: Console) -> None:
    """One line saying what the active player just earned, if anything; never fails the command it follows."""
    try:
        game = Game()
        player = profiles.active_player()
    except PlaygroundError as exc:
        log.warning("could not update challenges: %s", exc)
        return
    except Exception:  # a bug here must not turn a finished training into a failure
        log.exception("could not update challenges")
        return
    report = game.report
    parts = [f"{a['title']} (+{a['xp']} XP)" for a in report.awards if a["player"] == player]
    parts += [f"badge {a['icon']} {a['name']}" for a in report.achievements if a["player"] == player]
    parts += [f"now {p['name']['zh']} {p['name']['en']}" for p in report.promotions if p["player"] == player]
    if parts:
        err.print(f"🏆 {player} earned: " + ", ".join(parts) + " — see `playground profile`", soft_wrap=True)
