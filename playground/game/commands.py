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
from playground.game import achievements as badges
from playground.game import profiles
from playground.game.core import Game, load_catalogue
from playground.game.results import check_player
from playground.i18n import Words, language, say

log = logging.getLogger(__name__)

_STATUS = {"met": "✅", "attempted": "◐", "open": "·"}


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


def _yes(flag: bool) -> str:
    return say("game.yes") if flag else say("game.no")


def _where(attempt: dict[str, Any]) -> str:
    """``ppo-CartPole-1, step 100,000, evaluation #12`` — what a result points at."""
    parts = []
    if attempt.get("run_id"):
        parts.append(attempt["run_id"])
    if attempt.get("step") is not None and attempt.get("kind") in ("rl", "gan"):
        parts.append(say("game.where_step", step=attempt["step"]))
    if attempt.get("evaluation_id") is not None:
        parts.append(say("game.where_evaluation", id=attempt["evaluation_id"]))
    elif attempt.get("event_id") is not None:
        parts.append(say("game.where_event", id=attempt["event_id"]))
    return say("game.list_sep").join(parts)


def _player(name: str | None) -> str:
    return check_player(name) if name else profiles.active_player()


def _synced(game: Game) -> Game:
    """Record what is newly earned, once the command's input has been checked."""
    game.report = game.sync()
    return game


# -- profile --------------------------------------------------------------------------------------------
def profile(out: Console, name: str | None, *, use: bool, list_all: bool, as_json: bool) -> None:
    lang = language()
    if name is not None:
        name = check_player(name)
    if use and name is None:
        raise PlaygroundError("game.use_needs_name")
    if use:
        profiles.use(name)  # type: ignore[arg-type]
        if not as_json:
            out.print(say("game.playing_as", player=name))
            env_player = os.environ.get("PLAYGROUND_PLAYER")
            if env_player and env_player.strip() != name:
                out.print(say("game.env_player_wins", player=env_player))
    game = Game()  # input checked above
    if list_all:
        rows = game.players_summary()
        if as_json:
            _json(rows)
            return
        table = _table("", say("game.col_player"), say("game.col_tier"), say("game.col_xp"),
                       say("game.col_challenges_met"))
        for r in rows:
            table.add_row("▶" if r["active"] else "", r["player"], _tier(r["tier"]["name"], lang), str(r["xp"]),
                          str(r["challenges_met"]))
        out.print(table)
        out.print(say("game.switch_with"))
        return
    data = game.profile(name)
    if as_json:
        _json(data)
        return
    active = say("game.profile_active") if data["active"] else ""
    out.print(say("game.profile_head", player=data["player"], active=active, tier=_tier(data["tier"]["name"], lang),
                  xp=data["xp"]))
    nt = data["next_tier"]
    if nt is None:
        out.print(say("game.top_tier"))
    else:
        needs = say("game.list_sep").join(("✓ " if r["met"] else "✗ ") + r["title"][lang] for r in nt["requires"])
        out.print(say("game.next_tier", tier=_tier(nt["name"], lang), xp=data["xp"], need=nt["xp"],
                      bar=_bar(nt["xp_progress"]), needs=Words("game.next_tier_needs", needs=needs) if needs else ""))
    card = data["next_challenge"]
    if card is None:
        out.print(say("game.every_challenge_met"))
    else:
        out.print("")
        out.print(say("game.next_challenge", title=card["title"][lang], xp=card["xp"],
                      tier=_tier(card["tier_name"], lang)))
        out.print(f"  {card['description'][lang]}")
        if card["best"] is not None:
            bar = f" {_bar(card['progress'])}" if card["progress"] is not None else ""
            out.print("  " + say("game.best_so_far", value=_num(card["best"]["value"]), where=_where(card["best"]),
                                 bar=bar))
        out.print("  " + say("game.try_these"))
        for command in card["commands"]:
            out.print(f"    {command}")
        out.print("  " + say("game.details", challenge=card["id"]))
    out.print("")
    out.print(say("game.profile_totals", met=data["challenges_met"], total=data["challenges_total"],
                  badges=data["achievements_earned"], badges_total=data["achievements_total"]))


# -- challenges ----------------------------------------------------------------------------------------
def challenges(out: Console, *, tier: str | None, player: str | None, as_json: bool) -> None:
    lang = language()
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
        here = say("game.you_are_here") if t.id == status.tier.id else ""
        needs = say("game.tier_from_xp", xp=t.xp) if t.xp else ""
        out.print(f"{_tier(dict(t.name), lang)}{needs}{here}")
        for c in mine:
            flag = " *" if c["required_for"] else ""
            progress = f"  {_bar(c['progress'], 6)}" if c["progress"] is not None and c["status"] != "open" else ""
            out.print(f"  {_STATUS[c['status']]} {c['title'][lang]}{flag}  [{c['id']}]  {c['xp']} XP{progress}")
            out.print(f"      {game.catalogue.get(c['id']).goal(lang)}")
        out.print("")
    out.print(say("game.challenges_legend"))


def challenge(out: Console, challenge_id: str, *, player: str | None, as_json: bool) -> None:
    lang = language()
    who = _player(player)
    catalogue = load_catalogue()
    catalogue.get(challenge_id)
    game = Game(catalogue=catalogue)
    data = game.challenge(challenge_id, who, lang="en" if as_json else lang)
    if as_json:
        _json(data)
        return
    required = ""
    if data["required_for"]:  # English names the tier by its id, as before; Chinese by its name
        tier_name = game.catalogue.tier(data["required_for"]).name["zh"] if lang == "zh" else data["required_for"]
        required = say("game.needed_for", tier=tier_name)
    provisional = say("game.provisional") if data["provisional"] else ""
    out.print(f"{data['title'][lang]} [{data['id']}] · {_tier(data['tier_name'], lang)} · {data['xp']} XP"
              f"{required}{provisional}")
    out.print(data["description"][lang])
    out.print(say("game.goal", goal=game.catalogue.get(challenge_id).goal(lang)))
    if data["award"] is not None:
        award = data["award"]
        out.print(say("game.met_by", icon=_STATUS["met"], player=who, date=award["created_at"][:10],
                      value=_num(award["value"]), where=_where(award["evidence"] or {})))
    elif data["best"] is not None:
        out.print(say("game.your_best", value=_num(data["best"]["value"]), where=_where(data["best"]),
                      bar=_bar(data["progress"])))
    elif data["not_counted"]:
        out.print(say("game.none_counts_yet", player=who))
    else:
        out.print(say("game.no_try_yet", player=who))
    if data["attempts"]:
        table = _table(say("game.col_when"), say("game.col_run_or_game"), say("game.col_value"), say("game.col_n"),
                       say("game.col_meets"), title=say("game.tries_that_count"))
        for a in data["attempts"]:
            table.add_row((a["created_at"] or "")[:16].replace("T", " "), _where(a) or a.get("env") or "", _num(a["value"]),
                          str(a["n"]), _yes(a["meets"]))
        out.print(table)
    for a in data["not_counted"]:
        out.print(say("game.not_counted", where=_where(a) or a.get("env"), why=say("game.reasons_sep").join(a["why"])))
    out.print(say("game.how_to_attempt"))
    for command in data["commands"]:
        out.print(f"  {command}")


# -- leaderboards ------------------------------------------------------------------------------------
def leaderboard(out: Console, target: str, *, limit: int, as_json: bool) -> None:
    if limit <= 0:
        raise PlaygroundError("game.bad_limit", limit=limit)
    lang = language()
    game = Game(sync=False)
    game.resolve(target)
    board = _synced(game).leaderboard(target, limit)
    if as_json:
        _json(board)
        return
    if board["type"] == "challenge":
        goal = game.catalogue.get(board["challenge"]).goal(lang)
        out.print(say("game.board_challenge_head", title=board["title"][lang], challenge=board["challenge"], goal=goal))
        if not board["entries"]:
            out.print(say("game.board_no_tries", challenge=board["challenge"]))
            return
        table = _table("#", say("game.col_player"), say("game.col_by"), say("game.col_value"), say("game.col_meets"),
                       say("game.col_evidence"))
        for e in board["entries"]:
            table.add_row(str(e["rank"]), e["player"], e["algo"], _num(e["value"]), _yes(e["meets"]), _where(e))
        out.print(table)
        return
    name = board["game"]
    agents, humans = board["agents"], board["humans"]
    if board["kind"] == "gan":
        labels = {"psnr": say("game.col_psnr"), "cycle_l1": say("game.col_cycle_l1")}
        extra = [(k, labels[k]) for k in ("psnr", "cycle_l1") if any(e[k] is not None for e in agents)]
        table = _table("#", say("game.col_player"), say("game.col_model"), say("game.col_run"), say("game.col_iter"),
                       say("game.col_network"), say("game.col_fd"), *(label for _, label in extra),
                       say("game.col_eval"), title=say("game.board_generators", game=name))
        for e in agents:
            table.add_row(str(e["rank"]), e["player"], e["model"], e["run_id"], _num(e["step"]), e["metric"] or "",
                          _num(e["fd"]), *(_num(e[k]) for k, _ in extra), f"#{e['event_id']}")
        out.print(table)
    elif agents:
        atari = any(e["human_normalised"] is not None for e in agents)
        columns = ["#", say("game.col_player"), say("game.col_algo"), say("game.col_run"), say("game.col_steps"),
                   say("game.col_mean_minus_std"), *([say("game.col_times_human")] if atari else []),
                   say("game.col_eval")]
        table = _table(*columns, title=say("game.board_agents", game=name))
        for e in agents:
            hn = [f"{e['human_normalised']:.2f}" if e["human_normalised"] is not None else ""] if atari else []
            table.add_row(str(e["rank"]), e["player"], e["algo"], e["run_id"], _num(e["step"]), _num(e["result"]), *hn,
                          f"#{e['evaluation_id']}")
        out.print(table)
    if humans:
        table = _table("#", say("game.col_player"), say("game.col_best_game"), say("game.col_games"),
                       say("game.col_game_event"), title=say("game.board_people", game=name))
        for e in humans:
            table.add_row(str(e["rank"]), e["player"], _num(e["score"]), str(e["games"]), f"#{e['event_id']}")
        out.print(table)
    if not agents and not humans:
        on_game = [c for c in game.catalogue.challenges if name in c.games]
        first = next((c for c in on_game if c.kind != "human"), None) or next(iter(on_game), None)
        hint = Words("game.board_be_first", command=first.commands[0]) if first is not None else ""
        out.print(say("game.board_empty", game=name, hint=hint))
    ref = board.get("reference")
    if ref:
        out.print(say("game.board_reference", random=ref["random"], human=ref["human"], dqn=ref["nature_dqn"]))


# -- badges ------------------------------------------------------------------------------------------
def achievements(out: Console, *, player: str | None, as_json: bool) -> None:
    lang = language()
    who = _player(player)
    items = Game().achievements(who)
    if as_json:
        _json(items)
        return
    earned = [a for a in items if a["earned"]]
    out.print(say("game.badges_head", player=who, earned=len(earned), total=len(items)))
    for a in items:
        when = say("game.badge_earned_on", date=a["earned_at"][:10]) if a["earned"] else ""
        mark = a["icon"] if a["earned"] else "· "
        out.print(say("game.badge_line", mark=mark, name=a["name"][lang], text=a["text"][lang], when=when))


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
    lang = language()
    report = game.report
    titles = {c.id: c.text("title", lang) for c in game.catalogue.challenges}
    parts = [say("game.earned_award", title=titles.get(a["challenge"], a["title"]), xp=a["xp"])
             for a in report.awards if a["player"] == player]
    parts += [say("game.earned_badge", icon=a["icon"], name=_badge_name(a, lang))
              for a in report.achievements if a["player"] == player]
    parts += [say("game.earned_tier", tier=_tier(p["name"], lang)) for p in report.promotions if p["player"] == player]
    if parts:
        err.print(say("game.earned", player=player, parts=say("game.list_sep").join(parts)), soft_wrap=True)


def _badge_name(award: dict[str, Any], lang: str) -> str:
    badge = badges.BY_ID.get(award["achievement"])
    return badge.name[lang] if badge is not None else award["name"]
