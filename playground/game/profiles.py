"""Players: several profiles on one machine, one of them active.

The active profile is kept in the home folder (``profile.json``), not in the store: a class that
shares one database (``PLAYGROUND_DB``) shares its leaderboards, while each machine plays as its
own person. ``PLAYGROUND_PLAYER`` overrides it for one shell or script. Profiles themselves are
store events (``profile``), so every door sees the same players.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from playground import events, settings
from playground.atomic import atomic_write_text
from playground.errors import PlaygroundError
from playground.game.results import check_player, default_player
from playground.store import Store, get_store

log = logging.getLogger(__name__)

PROFILE_EVENT = events.ProfileCreated.KIND
PROFILE_FILE = "profile.json"
# Events whose payload names a player: everyone who ever did something is a profile.
_PLAYER_EVENTS = ("profile", "run_started", "human_game", "duel", "award", "achievement", "runs_compared")


def _file() -> Path:
    return settings.home() / PROFILE_FILE


def chosen_player() -> str | None:
    """The profile picked with ``playground profile NAME --use`` on this machine, if any."""
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
        return check_player(str(data["active"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, PlaygroundError) as exc:
        log.warning("ignoring %s: %s", _file(), exc)
        return None


def active_player() -> str:
    """Who plays now: ``PLAYGROUND_PLAYER``, else the chosen profile, else the login name."""
    import os

    if os.environ.get("PLAYGROUND_PLAYER"):
        return default_player()
    return chosen_player() or default_player()


def default_owner() -> str:
    """The owner of runs that recorded no player (started before profiles existed); never fails."""
    try:
        return default_player()
    except PlaygroundError:
        return "player"


def use(name: str, store: Store | None = None) -> str:
    """Make ``name`` the active profile on this machine (creating it); returns the checked name."""
    name = check_player(name)
    store = store or get_store()
    atomic_write_text(_file(), json.dumps({"active": name}) + "\n")
    events.record_once(store, events.ProfileCreated(player=name), key=("player",))
    return name


def players_in(events: Iterable[dict[str, Any]]) -> list[str]:
    """Every valid player name the events mention, in order of first appearance."""
    seen: dict[str, None] = {}
    for event in events:
        if event["kind"] not in _PLAYER_EVENTS:
            continue
        name = event["payload"].get("player")
        if isinstance(name, str):
            try:
                seen.setdefault(check_player(name), None)
            except PlaygroundError:
                continue
    return list(seen)
