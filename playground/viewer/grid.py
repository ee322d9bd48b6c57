"""Drawing a table of values on its grid world: each cell coloured by V(s), the greedy action as an arrow,
the agent on its cell, holes, goal, cliff and Taxi's spots marked, and the Q-values of the agent's state
as bars. Discrete envs that are not grids get a heat map of their Q-table instead.

Everything here draws on a plain ``pygame.Surface`` (no window, no display needed): the watch window, the
value-iteration stepper (``bellman.py``) and the web UI's pictures (``grid_picture``, a NumPy array) all
use it. Like the rest of the window, the picture's words are English (pygame's default font draws no
Chinese); they come from ``playground/strings/grid.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pygame

from playground.envs.grids import CLIFF, GOAL, HOLE, IN_TAXI, START, GridWorld, taxi_decode
from playground.i18n import translate
from playground.viewer.display import canvas_array
from playground.viewer.hud import BACKGROUND, DIM, LINE, PANEL, TEXT, draw_bars, font, text
from playground.viewer.hud import PAD as GAP

# viridis, five stops: dark purple (low) to yellow (high); people read it in order, in colour or grey
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
AGENT = (255, 70, 160)  # the agent's ring: a colour viridis never makes
CHOSEN_CELL = (0, 220, 255)  # the cell whose Bellman update is written out
HOLE_COLOR = (12, 16, 30)
HOLE_INSIDE = (34, 52, 92)
CLIFF_COLOR = (110, 58, 38)
CLIFF_LINES = (70, 36, 24)
WALL = (235, 235, 240)
PAD_COLORS = ((225, 60, 60), (60, 185, 80), (235, 200, 40), (70, 110, 235))
PAD_LETTERS = ("R", "G", "Y", "B")
TIE = 1e-12  # a state whose action values differ by less than this has no greedy action to show

SIDE_WIDTH = 290  # the Q-value bars beside the grid in ``grid_picture``
LEGEND_HEIGHT = 34  # the colour bar and its numbers under the grid


def words(key: str, /, **values: Any) -> str:
    """A sentence of the picture, in English (see the module docstring)."""
    return translate(key, "en", **values)


# -- what is shown --------------------------------------------------------------------------------------
@dataclass
class TableView:
    """The numbers a picture shows: V(s) and the greedy action per state, the Q-table when there is one,
    and the state the agent is in (None: no agent drawn)."""

    values: np.ndarray  # (n_states,)
    greedy: np.ndarray  # (n_states,) int
    q: np.ndarray | None = None  # (n_states, n_actions)
    state: int | None = None

    @classmethod
    def of(cls, agent: Any, state: int | None = None) -> TableView:
        """From a tabular agent (``q``, ``state_values()``, ``greedy()``), read now."""
        return cls(np.asarray(agent.state_values(), dtype=np.float64), np.asarray(agent.greedy(), dtype=np.int64),
                   np.asarray(agent.q, dtype=np.float64), state)

    @classmethod
    def of_q(cls, q: np.ndarray, state: int | None = None) -> TableView:
        q = np.asarray(q, dtype=np.float64)
        return cls(q.max(axis=1), q.argmax(axis=1), q, state)

    def decided(self) -> np.ndarray:
        """Per state: whether the actions differ in value (where they are all equal, no arrow is drawn)."""
        if self.q is None:
            return np.ones(len(self.values), dtype=bool)
        return np.ptp(self.q, axis=1) > TIE

    def best(self, state: int) -> tuple[int, ...]:
        """The actions that share the highest value in ``state``: none while all are equal, the greedy
        action alone when there is no Q-table."""
        if self.q is None:
            return (int(self.greedy[state]),)
        row = self.q[state]
        top = float(row.max())
        if top - float(row.min()) <= TIE:
            return ()
        return tuple(int(a) for a in np.flatnonzero(row >= top - TIE * max(1.0, abs(top))))


def is_tabular(agent: Any) -> bool:
    """Whether an agent (or its class) keeps a table: its values can be drawn on the grid."""
    return all(callable(getattr(agent, name, None)) for name in ("state_values", "greedy"))


# -- colours ----------------------------------------------------------------------------------------------
def color_at(t: float) -> tuple[int, int, int]:
    """The colour map at ``t`` in [0, 1]."""
    t = min(1.0, max(0.0, float(t))) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    a, b = VIRIDIS[i], VIRIDIS[i + 1]
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


@dataclass(frozen=True)
class Scale:
    """Values from ``lo`` (the map's dark end) to ``hi`` (its bright end)."""

    lo: float
    hi: float

    @classmethod
    def of(cls, values: np.ndarray) -> Scale:
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return cls(0.0, 0.0)
        return cls(float(finite.min()), float(finite.max()))

    def t(self, value: float) -> float:
        span = self.hi - self.lo
        return (float(value) - self.lo) / span if span > 0 else 0.0

    def color(self, value: float) -> tuple[int, int, int]:
        return color_at(self.t(value))


def ink_on(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """Text that reads on ``color``: dark on bright cells, light on dark ones."""
    return (20, 20, 28) if 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 140 else (240, 240, 245)


def short(value: float) -> str:
    """A value in the few characters a cell has room for."""
    if not math.isfinite(value):
        return "-"
    if abs(value) < 0.005:
        return "0.00" if value == 0 or abs(value) < 0.0005 else f"{value:.3f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# -- sizes -------------------------------------------------------------------------------------------------
def default_cell(world: GridWorld) -> int:
    """Cells large enough for a number and an arrow; the whole grid at most 672 pixels wide, 480 high."""
    return max(40, min(96, 672 // world.cols, 480 // world.rows))


def board_size(world: GridWorld, cell: int | None = None) -> tuple[int, int]:
    """(width, height) of ``draw_board``: the grid, its colour bar, and two lines about the state."""
    cell = cell or default_cell(world)
    return max(world.cols * cell, 360) + 2 * GAP, world.rows * cell + GAP + LEGEND_HEIGHT + 2 * LINE + 2 * GAP


# -- the grid ------------------------------------------------------------------------------------------------
def draw_arrow(surface: pygame.Surface, center: tuple[float, float], direction: tuple[int, int], length: float,
               color: tuple[int, int, int] = (250, 250, 250), outline: tuple[int, int, int] = (10, 10, 14)) -> None:
    """An arrow pointing ``direction`` (rows down, columns right), centred on ``center``."""
    ux, uy = direction[1], direction[0]
    vx, vy = -uy, ux
    half, shaft, head, head_len = length / 2, max(2.0, length * 0.11), max(5.0, length * 0.3), length * 0.42
    cx, cy = center

    def at(along: float, across: float) -> tuple[float, float]:
        return cx + ux * along + vx * across, cy + uy * along + vy * across

    points = [at(-half, -shaft), at(half - head_len, -shaft), at(half - head_len, -head), at(half, 0),
              at(half - head_len, head), at(half - head_len, shaft), at(-half, shaft)]
    pygame.draw.polygon(surface, color, points)
    pygame.draw.polygon(surface, outline, points, 2)


def _badge(surface: pygame.Surface, center: tuple[int, int], radius: int, color: tuple[int, int, int],
           letter: str) -> None:
    pygame.draw.circle(surface, color, center, radius)
    pygame.draw.circle(surface, (10, 10, 14), center, radius, 1)
    size = max(10, radius * 2 - 4)
    w, h = font(size).size(letter)
    text(surface, letter, (center[0] - w // 2, center[1] - h // 2 + 1), ink_on(color), size)


def _tile(surface: pygame.Surface, kind: str, rect: pygame.Rect, fill: tuple[int, int, int], cell: int,
          shown: bool) -> None:
    """A cell's ground: its value's colour, or, where it has no value to show, what the tile is."""
    if shown:
        pygame.draw.rect(surface, fill, rect)
    elif kind == HOLE:
        pygame.draw.rect(surface, HOLE_COLOR, rect)
        pygame.draw.ellipse(surface, HOLE_INSIDE, rect.inflate(-cell // 4, -cell // 2))
    elif kind == GOAL:
        _checkers(surface, rect)
    elif kind == CLIFF:
        pygame.draw.rect(surface, CLIFF_COLOR, rect)
        clip = surface.get_clip()
        surface.set_clip(rect)  # the hatching stays inside its cell
        for k in range(-cell, cell, max(6, cell // 5)):
            pygame.draw.line(surface, CLIFF_LINES, (rect.x + k, rect.bottom - 1), (rect.x + k + cell, rect.y), 2)
        surface.set_clip(clip)
    else:
        pygame.draw.rect(surface, PANEL, rect)


def _checkers(surface: pygame.Surface, rect: pygame.Rect, n: int = 4) -> None:
    """A finish flag: black and white squares."""
    for i in range(n):
        for j in range(n):
            x0, x1 = rect.x + j * rect.width // n, rect.x + (j + 1) * rect.width // n
            y0, y1 = rect.y + i * rect.height // n, rect.y + (i + 1) * rect.height // n
            pygame.draw.rect(surface, (245, 245, 245) if (i + j) % 2 else (25, 25, 25), (x0, y0, x1 - x0, y1 - y0))


def draw_board(surface: pygame.Surface, topleft: tuple[int, int], world: GridWorld, view: TableView,
               cell: int | None = None, chosen: int | None = None) -> dict[str, Any]:
    """The grid with values, arrows and the agent, its colour bar, and a line about the agent's state.

    ``chosen`` (a state) gets a cyan frame: the cell the value-iteration stepper writes out. Returns what
    was drawn: each cell's rectangle, colour and arrow, the scale, the lines.
    """
    cell = cell or default_cell(world)
    width, height = board_size(world, cell)
    x0, y0 = topleft
    pygame.draw.rect(surface, BACKGROUND, (x0, y0, width, height))
    gx = x0 + (width - world.cols * cell) // 2
    gy = y0 + GAP
    context = view.state if view.state is not None else chosen
    layer = world.layer(context)
    ends = np.zeros(world.n_states, dtype=bool)
    ends[list(world.ends)] = True
    shown = np.array([[world.drawn(r, c) and not ends[layer[r, c]] for c in range(world.cols)]
                      for r in range(world.rows)])
    scale = Scale.of(np.asarray(view.values)[layer[shown]] if world.is_taxi else
                     np.asarray(view.values)[[s for s in range(world.n_states) if not ends[s]]])
    drawn: dict[str, Any] = {"cell": cell, "rects": {}, "colors": {}, "arrows": {}, "scale": (scale.lo, scale.hi),
                             "origin": (gx, gy), "lines": []}
    value_size = max(12, min(18, cell // 4))
    for r in range(world.rows):
        for c in range(world.cols):
            s = int(layer[r, c])
            rect = pygame.Rect(gx + c * cell, gy + r * cell, cell, cell)
            value = float(view.values[s])
            fill = scale.color(value)
            _tile(surface, world.tiles[r][c], rect, fill, cell, bool(shown[r, c]))
            drawn["rects"][(r, c)] = rect
            if not shown[r, c]:
                continue
            drawn["colors"][(r, c)] = fill
            text(surface, short(value), (rect.x + 6, rect.y + 6), ink_on(fill), value_size)
            if world.tiles[r][c] == START:
                w = font(value_size).size("S")[0]
                text(surface, "S", (rect.right - w - 6, rect.y + 6), ink_on(fill), value_size)
            best = view.best(s)
            if best:
                drawn["arrows"][(r, c)] = best
                _actions(surface, world, best, (rect.centerx, rect.centery + cell * 0.08), cell)
    for r in range(world.rows + 1):
        pygame.draw.line(surface, BACKGROUND, (gx, gy + r * cell), (gx + world.cols * cell, gy + r * cell), 1)
    for c in range(world.cols + 1):
        pygame.draw.line(surface, BACKGROUND, (gx + c * cell, gy), (gx + c * cell, gy + world.rows * cell), 1)
    for r, c in world.walls:  # Taxi's fences, on a cell's right-hand side
        x = gx + (c + 1) * cell
        pygame.draw.line(surface, WALL, (x, gy + r * cell), (x, gy + (r + 1) * cell), 5)
    if world.is_taxi:
        _taxi_pieces(surface, world, (gx, gy), cell, context)
    if chosen is not None:
        r, c = world.cell_of(chosen)
        pygame.draw.rect(surface, CHOSEN_CELL, drawn["rects"][(r, c)].inflate(-2, -2), 4)
        drawn["chosen"] = (r, c)
    if view.state is not None:
        r, c = world.cell_of(view.state)
        rect = drawn["rects"][(r, c)]
        pygame.draw.rect(surface, AGENT, rect.inflate(-2, -2), 4, border_radius=max(4, cell // 8))
        dot, radius = (rect.right - cell // 6, rect.bottom - cell // 6), max(4, cell // 10)
        pygame.draw.circle(surface, AGENT, dot, radius)
        pygame.draw.circle(surface, (10, 10, 14), dot, radius, 1)
        drawn["agent"] = (r, c)

    y = gy + world.rows * cell + GAP
    draw_scale(surface, pygame.Rect(x0 + GAP, y, width - 2 * GAP, LEGEND_HEIGHT), scale)
    y += LEGEND_HEIGHT
    for line in state_lines(world, view.state if view.state is not None else chosen, agent=view.state is not None):
        drawn["lines"].append(line)
        y = text(surface, line, (x0 + GAP, y), TEXT, 16, max_width=width - 2 * GAP) + 2
    return drawn


def _actions(surface: pygame.Surface, world: GridWorld, best: Sequence[int], center: tuple[float, float],
             cell: int) -> None:
    """The best action as an arrow (Taxi's pickup and dropoff as a lettered badge); several equally good
    ones as smaller arrows, each set off from the centre its own way."""
    one = len(best) == 1
    if not one:  # arrows out of the middle: a compass of the ways that are as good
        center = (center[0], center[1] + cell * 0.06)
    for action in best:
        direction = world.direction(action)
        if direction is not None:
            length = cell * (0.52 if one else 0.28)
            out = 0.0 if one else length / 2 + 2
            at = (center[0] + direction[1] * out, center[1] + direction[0] * out)
            draw_arrow(surface, at, direction, length)
        else:  # Taxi's pickup and dropoff
            letter = "P" if world.actions[action] == "pickup" else "D"
            at = center if one else (center[0] + (-1 if letter == "P" else 1) * cell * 0.12, center[1])
            _badge(surface, (round(at[0]), round(at[1])), max(7, cell // (6 if one else 9)), (250, 250, 250), letter)


def _taxi_pieces(surface: pygame.Surface, world: GridWorld, origin: tuple[int, int], cell: int,
                 state: int | None) -> None:
    """Taxi's four spots (a lettered badge each), the destination framed in its colour, the waiting
    passenger as a dot at their spot (inside the taxi's ring when riding)."""
    gx, gy = origin
    taxi = taxi_decode(state) if state is not None else None
    for i, (r, c) in enumerate(world.pads):
        rect = pygame.Rect(gx + c * cell, gy + r * cell, cell, cell)
        if taxi is not None and taxi.destination == i:
            pygame.draw.rect(surface, PAD_COLORS[i], rect.inflate(-1, -1), 5)
        _badge(surface, (rect.right - cell // 6, rect.y + cell // 6), max(7, cell // 8), PAD_COLORS[i], PAD_LETTERS[i])
        if taxi is not None and taxi.passenger == i:
            _passenger(surface, (rect.x + cell // 6, rect.bottom - cell // 6), cell, PAD_COLORS[i])
    if taxi is not None and taxi.passenger == IN_TAXI:
        rect = pygame.Rect(gx + taxi.col * cell, gy + taxi.row * cell, cell, cell)
        _passenger(surface, (rect.x + cell // 6, rect.bottom - cell // 6), cell, (250, 250, 250))


def _passenger(surface: pygame.Surface, center: tuple[int, int], cell: int, color: tuple[int, int, int]) -> None:
    radius = max(4, cell // 10)
    pygame.draw.circle(surface, color, center, radius)
    pygame.draw.circle(surface, (10, 10, 14), center, radius, 2)


def state_lines(world: GridWorld, state: int | None, *, agent: bool) -> list[str]:
    """What the board says about the state shown: where it is, and (Taxi) what it holds."""
    if state is None:
        return []
    r, c = world.cell_of(state)
    key = "grid.agent_at" if agent else "grid.state_at"
    out = [words(key, state=state, row=r, col=c)]
    described = world.describe(state)
    if described is not None:
        out.append(described.render("en"))
    return out


def draw_scale(surface: pygame.Surface, rect: pygame.Rect, scale: Scale, caption: str | None = None) -> None:
    """The colour bar: the lowest value at its left, the highest at its right, ``caption`` (V(s)) between."""
    bar = pygame.Rect(rect.x, rect.y, rect.width, 12)
    for i in range(bar.width):
        pygame.draw.line(surface, color_at(i / max(1, bar.width - 1)), (bar.x + i, bar.y), (bar.x + i, bar.bottom - 1))
    pygame.draw.rect(surface, DIM, bar, 1)
    y = bar.bottom + 3
    low, high = f"{scale.lo:+.3g}", f"{scale.hi:+.3g}"
    caption = caption or words("grid.value_legend")
    text(surface, low, (rect.x, y), DIM, 14)
    text(surface, high, (rect.right - font(14).size(high)[0], y), DIM, 14)
    text(surface, caption, (rect.centerx - font(14).size(caption)[0] // 2, y), DIM, 14)


# -- discrete envs that are not grids: the Q-table as a heat map ---------------------------------------------
TABLE_ROW = 20
TABLE_LABEL = 64
TABLE_COLUMN = 64


def table_size(n_actions: int, rows: int = 16) -> tuple[int, int]:
    return TABLE_LABEL + n_actions * TABLE_COLUMN + 2 * GAP, (rows + 1) * TABLE_ROW + LEGEND_HEIGHT + 3 * GAP


def draw_q_table(surface: pygame.Surface, topleft: tuple[int, int], view: TableView, names: Sequence[str],
                 rows: int = 16) -> dict[str, Any]:
    """``rows`` states around the agent's (their Q-values coloured, the greedy one framed), the agent's row marked."""
    q = view.q if view.q is not None else np.asarray(view.values, dtype=np.float64)[:, None]
    n_states, n_actions = q.shape
    width, height = table_size(n_actions, rows)
    x0, y0 = topleft
    pygame.draw.rect(surface, BACKGROUND, (x0, y0, width, height))
    first = 0 if view.state is None else min(max(0, view.state - rows // 2), max(0, n_states - rows))
    shown = range(first, min(n_states, first + rows))
    scale = Scale.of(q)
    x, y = x0 + GAP, y0 + GAP
    for a in range(n_actions):
        label = names[a] if a < len(names) else str(a)
        text(surface, label, (x + TABLE_LABEL + a * TABLE_COLUMN + 3, y + 2), DIM, 14, max_width=TABLE_COLUMN - 4)
    drawn: dict[str, Any] = {"rows": list(shown), "scale": (scale.lo, scale.hi)}
    for i, s in enumerate(shown):
        ry = y + (i + 1) * TABLE_ROW
        color = AGENT if s == view.state else DIM
        text(surface, words("grid.table_state", state=s), (x, ry + 2), color, 14, max_width=TABLE_LABEL - 4)
        best = int(np.argmax(q[s]))
        for a in range(n_actions):
            rect = pygame.Rect(x + TABLE_LABEL + a * TABLE_COLUMN, ry, TABLE_COLUMN - 2, TABLE_ROW - 2)
            fill = scale.color(q[s, a])
            pygame.draw.rect(surface, fill, rect)
            text(surface, short(float(q[s, a])), (rect.x + 3, rect.y + 2), ink_on(fill), 14, max_width=TABLE_COLUMN - 6)
            if a == best and np.ptp(q[s]) > TIE:
                pygame.draw.rect(surface, (250, 250, 250), rect, 2)
        if s == view.state:
            pygame.draw.rect(surface, AGENT, (x - 4, ry, 3, TABLE_ROW - 2))
    draw_scale(surface, pygame.Rect(x, y + (rows + 1) * TABLE_ROW + GAP, width - 2 * GAP, LEGEND_HEIGHT), scale,
               words("grid.q_legend"))
    return drawn


# -- the whole picture ----------------------------------------------------------------------------------------
def picture_size(world: GridWorld | None, n_actions: int, *, cell: int | None = None,
                 bars: bool = True) -> tuple[int, int]:
    """(width, height) of ``draw_picture``."""
    width, height = board_size(world, cell) if world is not None else table_size(n_actions)
    if bars:
        width += SIDE_WIDTH
        height = max(height, side_height(n_actions))
    return width, height


def side_height(n_actions: int) -> int:
    return 2 * GAP + 4 * LINE + min(n_actions, 18) * 16 + 2 * LINE


def draw_side(surface: pygame.Surface, rect: pygame.Rect, view: TableView, names: Sequence[str]) -> dict[str, Any]:
    """The Q-values of the agent's state as bars (the greedy one highlighted), V(s) and the greedy action."""
    pygame.draw.rect(surface, PANEL, rect)
    x, y, w = rect.x + GAP, rect.y + GAP, rect.width - 2 * GAP
    drawn: dict[str, Any] = {"lines": []}
    if view.state is None or view.q is None:
        return drawn
    s = int(view.state)
    line = words("grid.q_title", state=s)
    drawn["lines"].append(line)
    y = text(surface, line, (x, y), TEXT, LINE, max_width=w) + 6
    q = [float(v) for v in view.q[s]]
    best = int(view.greedy[s]) if view.decided()[s] else None
    y, drawn["bars"] = draw_bars(surface, x, y, w, list(names), q, best, probabilities=False)
    y += 6
    line = words("grid.v_line", value=float(view.values[s]))
    drawn["lines"].append(line)
    y = text(surface, line, (x, y), TEXT, LINE, max_width=w) + 2
    greedy = names[best] if best is not None and best < len(names) else words("grid.no_preference")
    line = words("grid.greedy_line", action=greedy)
    drawn["lines"].append(line)
    text(surface, line, (x, y), DIM, LINE, max_width=w)
    return drawn


def draw_picture(surface: pygame.Surface, world: GridWorld | None, view: TableView, names: Sequence[str], *,
                 cell: int | None = None, bars: bool = True, chosen: int | None = None) -> dict[str, Any]:
    """The board (or the Q-table heat map) at the surface's top left, the bars of the agent's state beside it."""
    surface.fill(BACKGROUND)
    if world is not None:
        drawn = draw_board(surface, (0, 0), world, view, cell, chosen)
        width = board_size(world, cell)[0]
    else:
        drawn = draw_q_table(surface, (0, 0), view, names)
        width = table_size(len(names))[0]
    if bars:
        drawn["side"] = draw_side(surface, pygame.Rect(width, 0, surface.get_width() - width, surface.get_height()),
                                  view, names)
    return drawn


def grid_picture(world: GridWorld | None, values: np.ndarray, greedy: np.ndarray, *, q: np.ndarray | None = None,
                 state: int | None = None, action_names: Sequence[str] | None = None, cell: int | None = None,
                 bars: bool = True) -> np.ndarray:
    """The picture as an (H, W, 3) uint8 array, for the web UI's pages and for files: no window needed.

    ``world`` None draws the Q-table as a heat map (``q`` is needed then). ``bars`` adds the Q-values of
    ``state`` beside it.
    """
    pygame.font.init()
    view = TableView(np.asarray(values, dtype=np.float64), np.asarray(greedy, dtype=np.int64),
                     None if q is None else np.asarray(q, dtype=np.float64), None if state is None else int(state))
    n_actions = view.q.shape[1] if view.q is not None else int(np.max(view.greedy, initial=0)) + 1
    names = list(action_names) if action_names is not None else (
        list(world.action_names) if world is not None else [str(a) for a in range(n_actions)])
    bars = bars and view.q is not None and view.state is not None
    surface = pygame.Surface(picture_size(world, len(names), cell=cell, bars=bars))
    draw_picture(surface, world, view, names, cell=cell, bars=bars)
    return canvas_array(surface)


class TableBoard:
    """The watch window's picture of a tabular agent: its grid (or its Q-table) with the agent on its
    cell, redrawn from the agent's table every frame, so a table loaded from a newer checkpoint shows at once."""

    def __init__(self, world: GridWorld | None, names: Sequence[str]) -> None:
        self.world = world
        self.action_names = list(world.action_names) if world is not None else list(names)
        width, height = board_size(world) if world is not None else table_size(len(self.action_names))
        self.surface = pygame.Surface((width, height))
        self.drawn: dict[str, Any] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, 3), like a game's frame."""
        return self.surface.get_height(), self.surface.get_width(), 3

    def frame(self, agent: Any, state: int | None) -> np.ndarray:
        """The picture now, as an (H, W, 3) frame."""
        view = TableView.of(agent, state)
        if self.world is not None:
            self.drawn = draw_board(self.surface, (0, 0), self.world, view)
        else:
            self.drawn = draw_q_table(self.surface, (0, 0), view, self.action_names)
        return canvas_array(self.surface)
