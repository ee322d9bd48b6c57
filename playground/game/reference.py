"""Published reference scores (random, human, Nature DQN, RL Zoo, Gymnasium's and the Hugging Face course's marks)
and random play, from the CSV files here.

The files are copies of the project's reference data, or (toy_text.csv, random_play.csv) written for this project,
with their sources in the header comments; challenge thresholds name a cell of them and the catalogue checks the
number.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = {"atari": "atari_scores.csv", "classic_control": "classic_control.csv", "toy_text": "toy_text.csv",
          "random_play": "random_play.csv"}
_KEY_COLUMN = {"atari": "game", "classic_control": "env", "toy_text": "env", "random_play": "env"}


@functools.cache
def table(name: str) -> dict[str, dict[str, str]]:
    """Rows of a reference table by their key (game name for Atari, environment id otherwise)."""
    path = HERE / TABLES[name]
    with path.open(encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip() and not line.lstrip().startswith("#")]
    return {row[_KEY_COLUMN[name]]: row for row in csv.DictReader(lines)}


def value(table_name: str, row: str, column: str) -> float:
    """One number; KeyError names what is missing (the catalogue turns it into a sentence)."""
    if table_name not in TABLES:
        raise KeyError(f"table '{table_name}' (known: {', '.join(TABLES)})")
    rows = table(table_name)
    if row not in rows:
        raise KeyError(f"row '{row}' of table {table_name} (known: {', '.join(rows)})")
    if column not in rows[row] or column == _KEY_COLUMN[table_name]:
        raise KeyError(f"column '{column}' of table {table_name}")
    if not (rows[row][column] or "").strip():
        raise KeyError(f"a number in column '{column}' of row '{row}' of table {table_name} (the cell is empty)")
    return float(rows[row][column])


_ALE_V5 = re.compile(r"^ALE/(?P<game>[A-Za-z0-9]+)-v\d+$")
_ALE_V4 = re.compile(r"^(?P<game>[A-Za-z0-9]+?)(NoFrameskip|Deterministic)?-v[0-4]$")


def game_of(env_id: str) -> str:
    """``ALE/Pong-v5`` and ``PongNoFrameskip-v4`` → ``Pong``; ``CartPole-v1`` → ``CartPole`` (as run ids name them);
    ``FrozenLake-v1,is_slippery=False`` → ``FrozenLake``: keyword arguments change the task, not the game."""
    env_id = env_id.partition(",")[0]
    for pattern in (_ALE_V5, _ALE_V4):
        match = pattern.match(env_id)
        if match:
            return match.group("game")
    return env_id.split("/")[-1].rsplit("-v", 1)[0]


def atari_row(game: str) -> dict[str, str] | None:
    return table("atari").get(game)


def random_score(env_id: str, game: str | None = None) -> float | None:
    """The score of random play: the Nature table for Atari games, our own measurement for the small tasks."""
    row = atari_row(game or game_of(env_id))
    if row is not None:
        return float(row["random"])
    measured = table("random_play").get(env_id)
    return float(measured["random"]) if measured is not None else None


def human_score(game: str) -> float | None:
    row = atari_row(game)
    return float(row["human"]) if row is not None else None


def human_normalised(game: str, score: float) -> float | None:
    """(score − random) / (human − random) for Atari games (Mnih et al. 2015); None elsewhere."""
    row = atari_row(game)
    if row is None:
        return None
    random, human = float(row["random"]), float(row["human"])
    return (score - random) / (human - random)
