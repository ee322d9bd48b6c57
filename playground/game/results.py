"""Human results: games a person played in the viewer (``play``) and duels against an agent.

They are store events (their payloads typed in ``playground.events``), written only by the viewer's own
game loop, so a leaderboard entry can always point at the game that earned it.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from typing import Any

from playground import events
from playground.checks import shown
from playground.errors import PlaygroundError
from playground.store import Store, get_store

HUMAN_GAME = events.HumanGamePlayed.KIND
DUEL = events.DuelPlayed.KIND
_NAME = re.compile(r"^[\w][\w .\-]{0,39}$")


def default_player() -> str:
    """``PLAYGROUND_PLAYER``, else the login name: friends on one machine pass ``--name``.

    A login name that is not a valid player name (``first.last@corp``) is tidied, not refused:
    nobody chose it. The game's active profile (``playground.game.profiles.active_player``) comes first.
    """
    name = os.environ.get("PLAYGROUND_PLAYER")
    if name:
        return check_player(name)
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = ""
    tidy = re.sub(r"[^\w .\-]", "_", login.strip())[:40].strip()
    return tidy if _NAME.match(tidy) else "player"


def check_player(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise PlaygroundError("game.bad_player_name", name=shown(name))
    return name


@dataclass
class HumanGame:
    player: str
    env: str
    game: str
    score: float
    seed: int | None
    frames: int
    created_at: float


def record_human_game(
    *, player: str, env: str, game: str, score: float, seed: int | None, frames: int, store: Store | None = None
) -> None:
    """One finished game played by a person with the keyboard."""
    events.record(store or get_store(), events.HumanGamePlayed(
        player=check_player(player), env=env, game=game, score=float(score), seed=seed, frames=int(frames)))


def record_duel(
    *,
    player: str,
    run_id: str,
    checkpoint: str,
    env: str,
    game: str,
    seed: int,
    human_score: float,
    agent_score: float,
    store: Store | None = None,
) -> str:
    """A duel: the person and a run's agent played the same game with the same seed; returns the winner."""
    if human_score > agent_score:
        winner = "human"
    elif agent_score > human_score:
        winner = "agent"
    else:
        winner = "draw"
    played = events.DuelPlayed(player=check_player(player), run_id=run_id, checkpoint=checkpoint, env=env, game=game,
                               seed=int(seed), human_score=float(human_score), agent_score=float(agent_score),
                               winner=winner)
    events.record(store or get_store(), played, run_id=run_id)
    return winner


def human_games(store: Store | None = None, *, player: str | None = None, game: str | None = None) -> list[HumanGame]:
    out = []
    for event in (store or get_store()).events(HUMAN_GAME):
        p: dict[str, Any] = event["payload"]
        if (player is None or p["player"] == player) and (game is None or p["game"] == game):
            out.append(HumanGame(p["player"], p["env"], p["game"], p["score"], p.get("seed"), p.get("frames", 0),
                                 event["created_at"]))
    return out


def duels(store: Store | None = None, *, player: str | None = None) -> list[dict[str, Any]]:
    found = []
    for event in (store or get_store()).events(DUEL):
        if player is None or event["payload"]["player"] == player:
            found.append({**event["payload"], "created_at": event["created_at"]})
    return found
