"""How a discrete environment's states sit on a grid, so a table of values can be drawn as a map.

Gymnasium's toy-text worlds number their states: FrozenLake and CliffWalking one per cell (row by row),
Taxi one per (taxi row, taxi column, passenger, destination), 500 in all on 25 cells. A ``GridWorld``
says which tile each cell is, which state a cell stands for, and which way each action moves, so that
the viewer and the web UI can colour cells by V(s) and draw the greedy action as an arrow. For Taxi a
cell stands for the state with the taxi there and the passenger and destination of the state being
shown (``layer``): 25 of its 500 states at a time.

No pygame, no torch: the web UI reads these facts too. ``grid_world(env)`` answers None for discrete
environments that are not grids; those are drawn as a plain table of Q-values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from playground.i18n import Words

# What a cell is.
START = "start"
FLOOR = "floor"  # FrozenLake's frozen ice, CliffWalking's path, Taxi's road
HOLE = "hole"
GOAL = "goal"
CLIFF = "cliff"
PAD = "pad"  # Taxi: a pick-up and drop-off spot (R, G, Y, B)

# Which way an action moves: (rows down, columns right). Taxi's pickup and dropoff move nothing.
MOVES: dict[str, tuple[int, int]] = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
PICKUP = "pickup"
DROPOFF = "dropoff"

# Per action, in the env's own numbering (gymnasium/envs/toy_text/*.py), and the name the HUD shows.
FROZEN_LAKE_ACTIONS = ("left", "down", "right", "up")
CLIFF_WALKING_ACTIONS = ("up", "right", "down", "left")
TAXI_ACTIONS = ("down", "up", "right", "left", PICKUP, DROPOFF)
TAXI_ACTION_NAMES = ("SOUTH", "NORTH", "EAST", "WEST", "PICKUP", "DROPOFF")

TAXI_PADS = ("R", "G", "Y", "B")  # the env's passenger and destination indices 0-3; 4: in the taxi
IN_TAXI = 4


class TaxiState(NamedTuple):
    """One Taxi state, decoded: where the taxi is, where the passenger waits (4: in the taxi), where to."""

    row: int
    col: int
    passenger: int
    destination: int


def taxi_decode(state: int) -> TaxiState:
    """Gymnasium's ``((row * 5 + col) * 5 + passenger) * 4 + destination``, undone."""
    state = int(state)
    destination = state % 4
    state //= 4
    passenger = state % 5
    state //= 5
    return TaxiState(state // 5, state % 5, passenger, destination)


def taxi_encode(row: int, col: int, passenger: int, destination: int) -> int:
    return ((int(row) * 5 + int(col)) * 5 + int(passenger)) * 4 + int(destination)


def pad_words(index: int) -> Words:
    """A passenger's place or a destination in words: one of the four coloured spots, or the taxi."""
    return [Words("grid.pad_red"), Words("grid.pad_green"), Words("grid.pad_yellow"), Words("grid.pad_blue"),
            Words("grid.pad_taxi")][index]


def taxi_words(state: int) -> Words:
    """Taxi's state as a person reads it: the taxi's cell, the passenger, the destination."""
    taxi = taxi_decode(state)
    if taxi.passenger == IN_TAXI:
        return Words("grid.taxi_state_riding", row=taxi.row, col=taxi.col, destination=pad_words(taxi.destination))
    return Words("grid.taxi_state", row=taxi.row, col=taxi.col, passenger=pad_words(taxi.passenger),
                 destination=pad_words(taxi.destination))


@dataclass(frozen=True)
class GridWorld:
    """A grid of tiles and how a discrete env's states and actions sit on it.

    ``tiles[row][col]`` is one of START, FLOOR, HOLE, GOAL, CLIFF, PAD. ``actions[a]`` is the way action
    ``a`` moves (a key of ``MOVES``) or PICKUP / DROPOFF. ``walls`` holds the cells with a wall on their
    right-hand side (Taxi's fences). ``ends`` holds the states where a game is over on arrival (holes,
    the goal): they have no action to show.
    """

    kind: str  # "frozenlake", "cliffwalking" or "taxi"
    tiles: tuple[tuple[str, ...], ...]
    actions: tuple[str, ...]
    action_names: tuple[str, ...]
    n_states: int
    walls: frozenset[tuple[int, int]] = frozenset()
    ends: frozenset[int] = frozenset()
    pads: tuple[tuple[int, int], ...] = ()  # Taxi: the cells of R, G, Y, B, in the env's order
    start: tuple[int, int] | None = None
    _layers: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def rows(self) -> int:
        return len(self.tiles)

    @property
    def cols(self) -> int:
        return len(self.tiles[0])

    @property
    def is_taxi(self) -> bool:
        return self.kind == "taxi"

    def cell_of(self, state: int) -> tuple[int, int]:
        """The (row, col) where ``state`` puts the agent (Taxi: the taxi)."""
        if self.is_taxi:
            taxi = taxi_decode(state)
            return taxi.row, taxi.col
        return divmod(int(state), self.cols)

    def context(self, state: int | None) -> int:
        """What a cell's state shares with ``state`` besides the cell: Taxi's passenger and destination
        (as ``passenger * 4 + destination``); 0 for one-state-per-cell worlds."""
        if not self.is_taxi or state is None:
            return 0
        taxi = taxi_decode(state)
        return taxi.passenger * 4 + taxi.destination

    def layer(self, state: int | None = None) -> np.ndarray:
        """(rows, cols) int array: the state each cell stands for when ``state`` is the one shown."""
        key = self.context(state)
        cached = self._layers.get(key)
        if cached is None:
            rows, cols = np.indices((self.rows, self.cols))
            if self.is_taxi:
                passenger, destination = divmod(key, 4)
                cached = ((rows * 5 + cols) * 5 + passenger) * 4 + destination
            else:
                cached = rows * self.cols + cols
            self._layers[key] = cached
        return cached

    def state_at(self, row: int, col: int, state: int | None = None) -> int:
        """The state of cell (row, col) when ``state`` is the one shown (Taxi: same passenger and destination)."""
        return int(self.layer(state)[row, col])

    def project(self, per_state: np.ndarray, state: int | None = None) -> np.ndarray:
        """A number (or action) per state as a (rows, cols) array of what each cell stands for."""
        return np.asarray(per_state)[self.layer(state)]

    def direction(self, action: int) -> tuple[int, int] | None:
        """(rows down, columns right) that ``action`` moves, None for pickup and dropoff."""
        return MOVES.get(self.actions[int(action)])

    def drawn(self, row: int, col: int) -> bool:
        """Whether a cell gets a value colour and an arrow: not a cliff (never stood on)."""
        return self.tiles[row][col] != CLIFF

    def pad_at(self, row: int, col: int) -> int | None:
        """Taxi: which spot (0 R, 1 G, 2 Y, 3 B) is at (row, col), if any."""
        return self.pads.index((row, col)) if (row, col) in self.pads else None

    def describe(self, state: int) -> Words | None:
        """A line about ``state`` beyond the agent's cell: Taxi's passenger and destination."""
        return taxi_words(state) if self.is_taxi else None


# --------------------------------------------------------------------------------------------
# the worlds Gymnasium ships


def _frozen_lake(env: Any) -> GridWorld:
    kinds = {b"S": START, b"F": FLOOR, b"H": HOLE, b"G": GOAL}
    desc = np.asarray(env.desc)
    tiles = tuple(tuple(kinds.get(bytes(c), FLOOR) for c in row) for row in desc)
    cols = desc.shape[1]
    ends = frozenset(r * cols + c for r, row in enumerate(tiles) for c, t in enumerate(row) if t in (HOLE, GOAL))
    start = next(((r, c) for r, row in enumerate(tiles) for c, t in enumerate(row) if t == START), None)
    return GridWorld("frozenlake", tiles, FROZEN_LAKE_ACTIONS, ("LEFT", "DOWN", "RIGHT", "UP"),
                     int(desc.size), ends=ends, start=start)


def _cliff_walking(env: Any) -> GridWorld:
    rows, cols = (int(n) for n in env.shape)
    cliff = np.asarray(env._cliff, dtype=bool)
    start = tuple(int(i) for i in np.unravel_index(int(env.start_state_index), (rows, cols)))
    goal = (rows - 1, cols - 1)  # CliffWalkingEnv ends the game there
    tiles = tuple(
        tuple(CLIFF if cliff[r, c] else START if (r, c) == start else GOAL if (r, c) == goal else FLOOR
              for c in range(cols))
        for r in range(rows)
    )
    return GridWorld("cliffwalking", tiles, CLIFF_WALKING_ACTIONS, ("UP", "RIGHT", "DOWN", "LEFT"),
                     rows * cols, ends=frozenset({goal[0] * cols + goal[1]}), start=start)


def _taxi(env: Any) -> GridWorld:
    desc = np.asarray(env.desc)  # the map with its frame: row r is desc[1 + r], column c is desc[:, 1 + 2c]
    rows, cols = desc.shape[0] - 2, (desc.shape[1] - 1) // 2
    pads = tuple((int(r), int(c)) for r, c in env.locs)
    tiles = tuple(tuple(PAD if (r, c) in pads else FLOOR for c in range(cols)) for r in range(rows))
    walls = frozenset((r, c) for r in range(rows) for c in range(cols - 1) if desc[1 + r, 2 * c + 2] == b"|")
    return GridWorld("taxi", tiles, TAXI_ACTIONS, TAXI_ACTION_NAMES, rows * cols * 5 * 4, walls=walls, pads=pads)


def grid_world(env: gym.Env | Any) -> GridWorld | None:
    """The grid of a FrozenLake, CliffWalking or Taxi env (any wrapper around one); None for others."""
    from gymnasium.envs.toy_text import CliffWalkingEnv, FrozenLakeEnv, TaxiEnv

    inner = getattr(env, "unwrapped", env)
    if isinstance(inner, FrozenLakeEnv):
        return _frozen_lake(inner)
    if isinstance(inner, CliffWalkingEnv):
        return _cliff_walking(inner)
    if isinstance(inner, TaxiEnv):
        return _taxi(inner)
    return None


def current_state(env: gym.Env | Any) -> int | None:
    """The state a toy-text env is in now (its ``s``), None when it does not say."""
    state = getattr(getattr(env, "unwrapped", env), "s", None)
    return None if state is None else int(state)
