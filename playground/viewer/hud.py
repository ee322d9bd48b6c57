"""Drawing: the game in colour, the side panel (HUD), what the agent thinks, curves, help and insets.

``HudState`` is plain data that sessions fill in; the functions here only draw it. ``draw_watch``
returns what it drew (bar lengths, panel lines) so tests can check that the picture shows the
model's numbers without reading pixels.

Everything drawn in the window stays English: it is drawn with pygame's default font, which has no
CJK glyphs. A ``Message`` (a line shown in the panel and told to the terminal at once) is English as a
string and carries the same sentence in the process's language for the terminal (``said``).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pygame

from playground.i18n import Words
from playground.viewer.display import even, frame_surface

PANEL_WIDTH = 300
PAD = 10
LINE = 18
BAR_ROW = 16

BACKGROUND = (16, 16, 22)
PANEL = (27, 28, 38)
TEXT = (228, 228, 234)
DIM = (140, 142, 158)
ACCENT = (92, 170, 255)
CHOSEN = (255, 196, 70)
GOOD = (110, 210, 125)
BAD = (240, 110, 100)
GRID = (55, 57, 72)

_fonts: dict[int, pygame.font.Font] = {}


def _forget_fonts() -> None:
    _fonts.clear()


def font(size: int = LINE) -> pygame.font.Font:
    # Fonts die with pygame.quit(), which classic environments call when they close (and pygame.init()
    # may have started the module again since): using a dead one crashes, so forget them on quit.
    if not pygame.font.get_init():
        pygame.font.init()
        _fonts.clear()
    if not _fonts:
        pygame.register_quit(_forget_fonts)
    if size not in _fonts:
        _fonts[size] = pygame.font.Font(None, size + 4)  # pygame's default font runs small
    return _fonts[size]


def text(surface: pygame.Surface, s: str, pos: tuple[int, int], color: tuple[int, int, int] = TEXT,
         size: int = LINE, max_width: int | None = None) -> int:
    """Draw one line; returns the y below it. Too long a line is cut with an ellipsis."""
    f = font(size)
    if max_width is not None and f.size(s)[0] > max_width:
        while s and f.size(s + "...")[0] > max_width:
            s = s[:-1]
        s += "..."
    surface.blit(f.render(s, True, color), pos)
    return pos[1] + size


class Message(str):
    """A sentence the viewer tells a person while it runs: the string is its English, for the window
    (pygame's default font draws no Chinese); ``said`` is the same sentence in the process's language
    (``--lang``, ``PLAYGROUND_LANG``), for the terminal."""

    words: Words

    def __new__(cls, key: str, /, **values: Any) -> Message:
        words = Words(key, **values)
        message = super().__new__(cls, words.render("en"))
        message.words = words
        return message

    @property
    def said(self) -> str:
        return self.words.render()

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles are rebuilt from the key and its values
        return _message, (self.words.key, self.words.values)


def _message(key: str, values: dict[str, Any]) -> Message:
    return Message(key, **values)


def said(message: str) -> str:
    """What the terminal shows for ``message``: a ``Message`` in the process's language, any other string as it is."""
    return message.said if isinstance(message, Message) else message


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if float(value).is_integer() and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


@dataclass
class HudState:
    """What the side panel shows; the watch session keeps it current."""

    run_id: str = ""
    algo: str = ""
    env_id: str = ""
    checkpoint_step: int | None = None
    game: int = 1
    score: float = 0.0
    best: float | None = None
    last_scores: list[float] = field(default_factory=list)
    lives: int | None = None
    frame: int = 0  # frames shown in this game
    action: Any = None
    action_name: str = ""
    action_names: list[str] = field(default_factory=list)
    probabilities: list[float] | None = None
    q_values: list[float] | None = None
    distribution: list[float] | None = None  # C51: the chosen action's return probabilities, atom by atom
    support: tuple[float, float] | None = None  # C51: the returns the first and the last atom stand for
    value: float | None = None
    values: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=150))
    eval_curve: list[tuple[int, float]] = field(default_factory=list)
    run_status: str | None = None  # follow mode: the run's status
    following: bool = False
    message: str = ""


@dataclass
class ViewState:
    """How the viewer is showing things (the controls change it)."""

    paused: bool = False
    speed: float = 1.0
    show_help: bool = False
    show_inset: bool = False
    fps: float = 0.0


WATCH_KEYS = (
    ("space", "pause / resume"),
    ("Right", "one agent step (while paused)"),
    ("+ / -", "faster / slower"),
    ("r", "restart the game"),
    ("s", "save a screenshot"),
    ("v", "agent's view on / off"),
    ("h", "this help"),
    ("q / Esc", "quit"),
)


# -- layout ----------------------------------------------------------------------------------------
DISTRIBUTION_HEIGHT = 48  # the C51 histogram


def panel_height(n_actions: int, distribution: bool = False) -> int:
    """Room the panel needs: the header lines, a bar per action, (C51) the return distribution, the value
    sparkline, the curve."""
    extra = 2 * LINE + DISTRIBUTION_HEIGHT + 6 if distribution else 0
    return 11 * LINE + 2 * PAD + min(n_actions, 18) * BAR_ROW + 3 * LINE + 50 + 2 * LINE + 70 + 2 * LINE + extra


def watch_size(frame_shape: Sequence[int], zoom: int, n_actions: int, distribution: bool = False) -> tuple[int, int]:
    height, width = int(frame_shape[0]), int(frame_shape[1])
    return even(width * zoom + PANEL_WIDTH), even(max(height * zoom, panel_height(n_actions, distribution)))


# -- pieces ------------------------------------------------------------------------------------------
def draw_bars(surface: pygame.Surface, x: int, y: int, width: int, names: Sequence[str], values: Sequence[float],
              chosen: int | None, *, probabilities: bool) -> tuple[int, list[int]]:
    """A bar per action: probabilities from 0 to 1, Q-values from the lowest to the highest.

    Returns the y below and each bar's length in pixels.
    """
    label_w = 112
    number_w = 56
    bar_w = width - label_w - number_w
    if probabilities:
        lengths = [round(max(0.0, min(1.0, v)) * bar_w) for v in values]
    else:
        lo, hi = min(values), max(values)
        span = hi - lo
        lengths = [round((v - lo) / span * (bar_w - 4)) + 4 if span > 0 else bar_w for v in values]
    for i, (name, value, length) in enumerate(zip(names, values, lengths, strict=False)):
        if i >= 18:
            text(surface, f"... {len(values) - 18} more", (x, y), DIM, size=14)
            y += BAR_ROW
            break
        color = CHOSEN if i == chosen else ACCENT
        text(surface, name, (x, y), TEXT if i == chosen else DIM, size=14, max_width=label_w - 6)
        pygame.draw.rect(surface, GRID, (x + label_w, y + 2, bar_w, BAR_ROW - 5))
        pygame.draw.rect(surface, color, (x + label_w, y + 2, length, BAR_ROW - 5))
        shown = f"{value:.2f}" if probabilities else f"{value:+.2f}"
        text(surface, shown, (x + label_w + bar_w + 6, y), TEXT if i == chosen else DIM, size=14)
        y += BAR_ROW
    return y, lengths


def draw_distribution(surface: pygame.Surface, rect: pygame.Rect, probabilities: Sequence[float]) -> list[int]:
    """C51's return distribution: one column per atom, heights in proportion to the largest probability.

    Returns each column's height in pixels."""
    pygame.draw.rect(surface, GRID, rect, 1)
    n = len(probabilities)
    top = max(probabilities) if n else 0.0
    if n == 0 or not top > 0:
        return [0] * n
    inner = rect.inflate(-4, -4)
    heights = [round(p / top * inner.height) for p in probabilities]
    for i, h in enumerate(heights):
        left = inner.x + i * inner.width // n
        right = inner.x + (i + 1) * inner.width // n
        if h > 0:
            pygame.draw.rect(surface, ACCENT, (left, inner.bottom - h, max(1, right - left - 1), h))
    return heights


def draw_sparkline(surface: pygame.Surface, rect: pygame.Rect, values: Sequence[float],
                   color: tuple[int, int, int] = GOOD) -> None:
    pygame.draw.rect(surface, GRID, rect, 1)
    if len(values) < 2:
        return
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    n = len(values)
    points = [
        (rect.x + 2 + i * (rect.width - 4) / (n - 1), rect.bottom - 3 - (v - lo) / span * (rect.height - 6))
        for i, v in enumerate(values)
    ]
    pygame.draw.lines(surface, color, False, points, 2)


def draw_curve(surface: pygame.Surface, rect: pygame.Rect, points: Sequence[tuple[int, float]],
               marked_step: int | None) -> None:
    """Evaluation means against steps, with the checkpoint being played marked."""
    pygame.draw.rect(surface, GRID, rect, 1)
    if not points:
        text(surface, "no evaluation yet", (rect.x + 6, rect.y + rect.height // 2 - 7), DIM, size=14)
        return
    steps = [p[0] for p in points]
    means = [p[1] for p in points]
    s0, s1 = min(steps), max(steps)
    m0, m1 = min(means), max(means)

    def at(step: int, mean: float) -> tuple[float, float]:
        x = rect.x + 4 + ((step - s0) / (s1 - s0) if s1 > s0 else 0.5) * (rect.width - 8)
        y = rect.bottom - 4 - ((mean - m0) / (m1 - m0) if m1 > m0 else 0.5) * (rect.height - 8)
        return x, y

    xy = [at(s, m) for s, m in points]
    if len(xy) > 1:
        pygame.draw.lines(surface, ACCENT, False, xy, 2)
    for (s, _m), p in zip(points, xy, strict=True):
        pygame.draw.circle(surface, CHOSEN if s == marked_step else ACCENT, (round(p[0]), round(p[1])),
                           4 if s == marked_step else 2)


def draw_help(surface: pygame.Surface, rect: pygame.Rect, keys: Sequence[tuple[str, str]], title: str = "keys") -> None:
    box = pygame.Surface((rect.width, rect.height), pygame.SRCALPHA)
    box.fill((0, 0, 0, 200))
    surface.blit(box, rect.topleft)
    y = rect.y + PAD
    y = text(surface, title, (rect.x + PAD, y), CHOSEN) + 4
    for key, what in keys:
        text(surface, key, (rect.x + PAD, y), ACCENT, max_width=90)
        y = text(surface, what, (rect.x + PAD + 92, y), TEXT, max_width=rect.width - 2 * PAD - 92) + 2


def draw_inset(surface: pygame.Surface, game_rect: pygame.Rect, obs: np.ndarray | None) -> str:
    """The agent's view in the game's top-right corner: four stacked 84x84 frames, or the observation vector."""
    if obs is None:
        return "none"
    obs = np.asarray(obs)
    if obs.ndim == 3 and obs.dtype == np.uint8:  # channels first, as the agent sees it
        n, h, w = obs.shape
        cols = 2 if n > 1 else 1
        rows = math.ceil(n / cols)
        box = pygame.Rect(0, 0, cols * w + (cols + 1) * 2, rows * h + (rows + 1) * 2 + LINE)
        box.topright = (game_rect.right - 4, game_rect.y + 4)
        pygame.draw.rect(surface, (0, 0, 0), box)
        pygame.draw.rect(surface, CHOSEN, box, 1)
        text(surface, "agent's view", (box.x + 4, box.y + 2), CHOSEN, size=14)
        for i in range(n):
            gray = np.repeat(obs[i][:, :, None], 3, axis=2)
            r, c = divmod(i, cols)
            surface.blit(frame_surface(gray), (box.x + 2 + c * (w + 2), box.y + LINE + 2 + r * (h + 2)))
        return f"{n}x{h}x{w} frames"
    flat = obs.reshape(-1)[:12]
    box = pygame.Rect(0, 0, 150, LINE * (len(flat) + 1) + 6)
    box.topright = (game_rect.right - 4, game_rect.y + 4)
    pygame.draw.rect(surface, (0, 0, 0), box)
    pygame.draw.rect(surface, CHOSEN, box, 1)
    y = text(surface, "agent's view", (box.x + 6, box.y + 3), CHOSEN, size=14)
    for i, v in enumerate(flat):
        y = text(surface, f"obs[{i}] {float(v):+.3f}", (box.x + 6, y), TEXT, size=14)
    return f"{obs.size} numbers"


# -- the side panel ---------------------------------------------------------------------------------------
class Panel:
    """The side panel from ``x0`` to the right edge: lines of text drawn top down from ``y``, each noted
    in ``drawn["lines"]``. ``x`` and ``w`` are where its contents go; ``y`` moves down as they are drawn."""

    def __init__(self, surface: pygame.Surface, x0: int, drawn: dict[str, Any]) -> None:
        self.surface = surface
        self.drawn = drawn
        self.rect = pygame.Rect(x0, 0, surface.get_width() - x0, surface.get_height())
        pygame.draw.rect(surface, PANEL, self.rect)
        self.x = x0 + PAD
        self.w = self.rect.width - 2 * PAD
        self.y = PAD

    def line(self, s: str, color: tuple[int, int, int] = TEXT, size: int = LINE) -> None:
        self.drawn["lines"].append(s)
        self.y = text(self.surface, s, (self.x, self.y), color, size, max_width=self.w) + 2

    def heading(self, run_id: str, subtitle: str, checkpoint: str) -> None:
        """The run, what it is, and the checkpoint shown: the panel's first lines."""
        self.line(run_id, CHOSEN, 22)
        self.line(subtitle, DIM)
        self.line(checkpoint)

    def following(self, following: bool, run_status: str | None) -> None:
        """Follow mode: the run's status (green while it trains)."""
        if following:
            self.line(f"following: run {run_status or '?'}", GOOD if run_status == "running" else DIM)


def step_text(step: int | None) -> str:
    """A checkpoint's (or sample grid's) step for the panel: with thousands separators, "-" when none."""
    return "-" if step is None else f"{step:,}"


# -- the watch screen ------------------------------------------------------------------------------------
def draw_watch(surface: pygame.Surface, frame: np.ndarray, hud: HudState, view: ViewState, zoom: int,
               obs: np.ndarray | None = None) -> dict[str, Any]:
    """The game on the left (colour, scaled by ``zoom``), the panel on the right; returns what was drawn."""
    surface.fill(BACKGROUND)
    game = frame_surface(frame, zoom)
    game_rect = game.get_rect()
    surface.blit(game, (0, 0))
    drawn: dict[str, Any] = {"game_size": game_rect.size, "lines": []}

    panel = Panel(surface, game_rect.width, drawn)
    line, x, w = panel.line, panel.x, panel.w
    panel.heading(hud.run_id, f"{hud.algo.upper()} on {hud.env_id}",
                  f"checkpoint step {step_text(hud.checkpoint_step)}")
    panel.following(hud.following, hud.run_status)
    line(f"game {hud.game}   score {fmt(hud.score)}", TEXT, 20)
    line(f"best {fmt(hud.best)}   last {fmt(hud.last_scores[-1] if hud.last_scores else None)}", DIM)
    lives = f"   lives {hud.lives}" if hud.lives else ""
    line(f"frame {hud.frame:,}{lives}", DIM)
    state = "PAUSED" if view.paused else f"speed x{view.speed:g}"
    line(f"{state}   {view.fps:.0f} fps", CHOSEN if view.paused else DIM)
    line(f"action: {hud.action_name}", TEXT, 20)

    panel.y += 4
    names = hud.action_names
    chosen = hud.action if isinstance(hud.action, (int, np.integer)) else None
    if hud.probabilities is not None:
        line("what it thinks: action probabilities", DIM, 14)
        panel.y, drawn["bars"] = draw_bars(surface, x, panel.y, w, names, hud.probabilities, chosen, probabilities=True)
        drawn["bar_kind"] = "probabilities"
    elif hud.q_values is not None:
        line("what it thinks: Q-values", DIM, 14)
        panel.y, drawn["bars"] = draw_bars(surface, x, panel.y, w, names, hud.q_values, chosen, probabilities=False)
        drawn["bar_kind"] = "q_values"
    if hud.distribution is not None and hud.support is not None:
        panel.y += 4
        line(f"return distribution of {hud.action_name}", DIM, 14)
        rect = pygame.Rect(x, panel.y, w, DISTRIBUTION_HEIGHT)
        drawn["distribution"] = draw_distribution(surface, rect, hud.distribution)
        panel.y += DISTRIBUTION_HEIGHT + 2
        low, high = f"{hud.support[0]:+g}", f"{hud.support[1]:+g}"
        text(surface, low, (x, panel.y), DIM, size=14)
        text(surface, high, (x + w - font(14).size(high)[0], panel.y), DIM, size=14)
        panel.y += LINE
    panel.y += 6
    line(f"value estimate V(s) {fmt(hud.value, 3)}", DIM, 14)
    draw_sparkline(surface, pygame.Rect(x, panel.y, w, 44), list(hud.values))
    panel.y += 52
    if hud.eval_curve:
        best = max(hud.eval_curve, key=lambda p: p[1])
        line(f"evaluations: best {fmt(best[1])} at step {best[0]:,}", DIM, 14)
    else:
        line("evaluations", DIM, 14)
    draw_curve(surface, pygame.Rect(x, panel.y, w, 64), hud.eval_curve, hud.checkpoint_step)
    panel.y += 72
    if hud.message:
        line(hud.message, GOOD, 14)
    text(surface, "h: keys", (x, panel.rect.bottom - LINE - 4), DIM, 14)

    if view.show_inset:
        drawn["inset"] = draw_inset(surface, game_rect, obs)
    if view.show_help:
        help_rect = pygame.Rect(0, 0, min(game_rect.width, 330), min(game_rect.height, 12 * (LINE + 2) + 30))
        draw_help(surface, help_rect, WATCH_KEYS)
        drawn["help"] = True
    return drawn


def draw_message(surface: pygame.Surface, lines: Sequence[str]) -> None:
    """A screen with nothing but a few lines of text (waiting for a checkpoint, a result)."""
    surface.fill(BACKGROUND)
    y = surface.get_height() // 2 - len(lines) * (LINE + 4) // 2
    for i, s in enumerate(lines):
        f = font(22 if i == 0 else LINE)
        width = min(f.size(s)[0], surface.get_width() - 2 * PAD)
        y = text(surface, s, ((surface.get_width() - width) // 2, y), CHOSEN if i == 0 else TEXT,
                 22 if i == 0 else LINE, max_width=surface.get_width() - 2 * PAD) + 6


def draw_legend(surface: pygame.Surface, x: int, y: int, width: int, rows: Sequence[tuple[str, str]],
                columns: int = 1, title: str = "keys") -> int:
    """The game's key mapping (keys → action name), in ``columns``; returns the y below."""
    y = text(surface, title, (x, y), DIM, 14) + 2
    col_w = width // columns
    per_col = math.ceil(len(rows) / columns) if rows else 0
    for i, (keys, name) in enumerate(rows):
        c, r = divmod(i, per_col) if per_col else (0, 0)
        cx, cy = x + c * col_w, y + r * (LINE - 2)
        text(surface, keys, (cx, cy), ACCENT, 14, max_width=col_w // 2 - 4)
        text(surface, name, (cx + col_w // 2, cy), TEXT, 14, max_width=col_w // 2 - 4)
    return y + per_col * (LINE - 2)


def legend_height(n_rows: int, columns: int = 1) -> int:
    return LINE + math.ceil(n_rows / columns) * (LINE - 2)


def draw_banner(surface: pygame.Surface, lines: Sequence[str], center: tuple[int, int] | None = None) -> None:
    """A boxed message over the picture (game over, duel results); the first line is the headline."""
    width = min(surface.get_width() - 2 * PAD, max(font(22).size(lines[0])[0], *(font().size(s)[0] for s in lines)) + 4 * PAD)
    height = 2 * PAD + 26 + (len(lines) - 1) * (LINE + 4)
    box = pygame.Rect(0, 0, width, height)
    box.center = center or surface.get_rect().center
    shade = pygame.Surface(box.size, pygame.SRCALPHA)
    shade.fill((0, 0, 0, 215))
    surface.blit(shade, box.topleft)
    pygame.draw.rect(surface, CHOSEN, box, 2)
    y = box.y + PAD
    for i, s in enumerate(lines):
        size = 22 if i == 0 else LINE
        w = min(font(size).size(s)[0], width - 2 * PAD)
        y = text(surface, s, (box.centerx - w // 2, y), CHOSEN if i == 0 else TEXT, size, max_width=width - 2 * PAD) + 4
