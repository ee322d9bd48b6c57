"""``playground bellman ENV``: value iteration one sweep at a time, with one cell's Bellman update written out.

Every V(s) starts at 0. Each press of SPACE runs one synchronous sweep (every state's new value from the
old ones, ``agents.tabular.value_iteration_sweep``), so the values spread one step further from the
rewards each time. A click on a cell (or the arrow keys) chooses the state whose update the panel writes
out with its numbers: for each action a, Q(s, a) = Σ p·(r + γ·V(s')) term by term, then the max. The
panel also shows the sweep, its largest change, and when the values have converged (a change below 1e-8).

``Sweeper`` is the session (no pygame): the model, the values, the chosen state. ``draw_sweep`` draws it;
``sweep`` runs it in a window, or headless (N sweeps, then a PNG and/or a video), for the CLI and tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pygame

from agents.tabular import TransitionModel, bellman_backup, model_of, needs_discrete, value_iteration_sweep
from playground import envs
from playground.envs.grids import IN_TAXI, GridWorld, current_state, grid_world, taxi_decode, taxi_encode
from playground.envs.specs import make_gym
from playground.errors import PlaygroundError
from playground.i18n import Words, say
from playground.viewer.common import recorded_line, save_screenshot
from playground.viewer.display import Screen, go_headless, require_display
from playground.viewer.grid import TableView, board_size, draw_board, draw_q_table, table_size, words
from playground.viewer.hud import (
    ACCENT,
    BACKGROUND,
    CHOSEN,
    DIM,
    GOOD,
    LINE,
    PAD,
    PANEL,
    TEXT,
    draw_help,
    draw_sparkline,
    font,
    text,
)
from playground.viewer.record import Recorder, check_record_path

CONVERGED = 1e-8  # a sweep that changes no value by more than this has converged
MAX_SWEEPS = 10_000
HEADLESS_SWEEPS = 1000  # headless without --sweeps: until converged, at most this many
PANEL_WIDTH = 600
TERM_SIZE = 16
FPS = 30
AUTO_S = 0.25  # "a": one sweep this often
MESSAGE_S = 3.0  # how long a message stays in the panel


# -- one cell's update, written out ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """One outcome of an action: with probability ``prob`` the reward ``reward`` and the next state."""

    prob: float
    next_state: int
    reward: float
    ends: bool  # the game ends there: V(s') counts as 0
    next_value: float  # V(s') now

    def worth(self, gamma: float) -> float:
        return self.prob * (self.reward + (0.0 if self.ends else gamma * self.next_value))

    def written(self, gamma: float) -> str:
        """``0.333·(0 + 0.9·0.410)``: the term with its numbers (V(s') shown as 0 where the game ends)."""
        later = f"{0.0 if self.ends else self.next_value:.3f}"
        if later.startswith("-"):
            later = f"({later})"
        return f"{self.prob:.3g}·({self.reward:g} + {gamma:g}·{later})"


@dataclass(frozen=True)
class ActionUpdate:
    action: int
    name: str
    terms: tuple[Term, ...]
    q: float  # bellman_backup's Q(s, a): the sum of the terms


@dataclass(frozen=True)
class BellmanUpdate:
    """What the next sweep does to V(state): each action's Q from the current V, and the max."""

    state: int
    gamma: float
    old: float  # V(state) now
    actions: tuple[ActionUpdate, ...]

    @property
    def best(self) -> int:
        return int(np.argmax([a.q for a in self.actions]))

    @property
    def new(self) -> float:
        return max(a.q for a in self.actions)

    @property
    def tied(self) -> tuple[int, ...]:
        """Every action whose Q equals the best one's (all of them share the max)."""
        top = self.new
        return tuple(a.action for a in self.actions if a.q >= top - 1e-12 * max(1.0, abs(top)))

    def best_words(self) -> Words:
        tied = self.tied
        if len(tied) > 1:
            names = ", ".join(self.actions[a].name for a in tied)
            return Words("grid.bellman_best_tied", actions=names, state=self.state, value=self.new)
        return Words("grid.bellman_best", action=self.actions[self.best].name, state=self.state, value=self.new)

    def action_line(self, a: ActionUpdate, lang: str | None = None) -> str:
        terms = " + ".join(t.written(self.gamma) for t in a.terms) or "0"
        nexts = ", ".join(str(t.next_state) for t in a.terms)
        return Words("grid.bellman_text_action", action=a.name, terms=terms, q=a.q, next_states=nexts).render(lang)

    def lines(self, lang: str | None = None) -> list[str]:
        """The update as text (the CLI prints these, in the process's language by default)."""
        out = [Words("grid.bellman_rule", state=self.state).render(lang),
               Words("grid.bellman_now", state=self.state, old=self.old, new=self.new).render(lang)]
        out += [self.action_line(a, lang) for a in self.actions]
        out.append(self.best_words().render(lang))
        return out


def bellman_update(model: TransitionModel, V: np.ndarray, state: int, gamma: float,
                   names: Sequence[str]) -> BellmanUpdate:
    """V(state)'s next value, term by term from the model's ``P``, the totals from ``bellman_backup``."""
    q = bellman_backup(model, V, state, gamma)
    actions = []
    for a in range(model.n_actions):
        terms = tuple(Term(float(p), int(s2), float(r), bool(done), float(V[int(s2)]))
                      for p, s2, r, done in model.P[state][a] if p > 0)
        name = names[a] if a < len(names) else str(a)
        actions.append(ActionUpdate(a, name, terms, float(q[a])))
    return BellmanUpdate(int(state), float(gamma), float(V[state]), tuple(actions))


# -- the session -----------------------------------------------------------------------------------------------
class Sweeper:
    """Value iteration from V = 0, one sweep at a time, and the state whose update is written out."""

    def __init__(self, model: TransitionModel, world: GridWorld | None, gamma: float, names: Sequence[str],
                 state: int = 0, env_id: str = "") -> None:
        self.model = model
        self.world = world
        self.gamma = float(gamma)
        self.names = list(names)
        self.env_id = env_id
        self.chosen = int(state)
        self.restart()

    def restart(self) -> None:
        self.V = np.zeros(self.model.n_states)
        self.sweeps = 0
        self.delta: float | None = None
        self.deltas: list[float] = []

    @property
    def converged(self) -> bool:
        return self.delta is not None and self.delta < CONVERGED

    def sweep(self) -> float:
        self.V, delta = value_iteration_sweep(self.model, self.V, self.gamma)
        self.sweeps += 1
        self.delta = delta
        self.deltas.append(delta)
        return delta

    def run(self, sweeps: int | None) -> None:
        """``sweeps`` more sweeps, or (None) until converged, at most ``HEADLESS_SWEEPS``."""
        for _ in range(HEADLESS_SWEEPS if sweeps is None else sweeps):
            if sweeps is None and self.converged:
                break
            self.sweep()

    def update(self) -> BellmanUpdate:
        return bellman_update(self.model, self.V, self.chosen, self.gamma, self.names)

    def view(self) -> TableView:
        """The values now, each state's greedy action looking one step ahead (no agent: nobody plays)."""
        q = self.model.q_from_v(self.V, self.gamma)
        return TableView(self.V, q.argmax(axis=1), q, None)

    # -- choosing a state ----------------------------------------------------------------------------------
    def choose(self, state: int) -> None:
        self.chosen = int(state) % self.model.n_states

    def move(self, rows: int, cols: int) -> None:
        """Arrow keys: the next cell that way (no grid: the next state up or down the table)."""
        if self.world is None:
            self.choose(self.chosen + rows + cols)
            return
        r, c = self.world.cell_of(self.chosen)
        r = min(max(0, r + rows), self.world.rows - 1)
        c = min(max(0, c + cols), self.world.cols - 1)
        self.chosen = self.world.state_at(r, c, self.chosen)

    def cycle_taxi(self, passenger: int = 0, destination: int = 0) -> None:
        """Taxi: the same cell with the passenger (p) or the destination (d) moved on to the next place."""
        if self.world is None or not self.world.is_taxi:
            return
        taxi = taxi_decode(self.chosen)
        self.chosen = taxi_encode(taxi.row, taxi.col, (taxi.passenger + passenger) % (IN_TAXI + 1),
                                  (taxi.destination + destination) % 4)


# -- drawing ---------------------------------------------------------------------------------------------------
SWEEP_KEYS = (("space", "grid.key_sweep"), ("arrows", "grid.key_choose"), ("a", "grid.key_run"),
              ("r", "grid.key_restart"), ("p / d", "grid.key_taxi"), ("s", "grid.key_screenshot"),
              ("h", "grid.key_help"), ("q / Esc", "grid.key_quit"))


def sweep_size(sweeper: Sweeper) -> tuple[int, int]:
    left = board_size(sweeper.world) if sweeper.world is not None else table_size(sweeper.model.n_actions)
    most_terms = int((sweeper.model.prob > 0).sum(axis=2).max())
    rows_per_action = 1 + 2 * math.ceil(most_terms / 3)
    needed = 9 * LINE + 2 * PAD + sweeper.model.n_actions * rows_per_action * (TERM_SIZE + 2) + 110
    return left[0] + PANEL_WIDTH, max(left[1], needed)


def draw_terms(surface: pygame.Surface, x: int, y: int, width: int, update: BellmanUpdate,
               action: ActionUpdate) -> int:
    """The terms of one action, each with its next state under it, wrapped at ``width``; returns the y below."""
    f = font(TERM_SIZE)
    cx = x
    pieces = [(t.written(update.gamma), f"s'={t.next_state}" + (" (end)" if t.ends else "")) for t in action.terms]
    for i, (term, below) in enumerate(pieces):
        shown = term + (" +" if i < len(pieces) - 1 else "")
        w = max(f.size(shown + " ")[0], font(13).size(below + " ")[0])
        if cx > x and cx + w > x + width:
            cx, y = x, y + 2 * TERM_SIZE + 2
        text(surface, shown, (cx, y), TEXT, TERM_SIZE)
        text(surface, below, (cx, y + TERM_SIZE), DIM, 13)
        cx += w
    return y + 2 * TERM_SIZE + 4


def draw_sweep(surface: pygame.Surface, sweeper: Sweeper, show_help: bool = False, message: str = "") -> dict[str, Any]:
    """The board (the chosen cell framed) on the left, the sweep and the chosen cell's update on the right."""
    surface.fill(BACKGROUND)
    view = sweeper.view()
    if sweeper.world is not None:
        drawn = draw_board(surface, (0, 0), sweeper.world, view, chosen=sweeper.chosen)
        left = board_size(sweeper.world)[0]
    else:
        view.state = sweeper.chosen
        drawn = draw_q_table(surface, (0, 0), view, sweeper.names)
        left = table_size(sweeper.model.n_actions)[0]
    panel = pygame.Rect(left, 0, surface.get_width() - left, surface.get_height())
    pygame.draw.rect(surface, PANEL, panel)
    x, y, w = panel.x + PAD, PAD, panel.width - 2 * PAD
    lines: list[str] = []

    def line(s: str, color: tuple[int, int, int] = TEXT, size: int = LINE) -> None:
        nonlocal y
        lines.append(s)
        y = text(surface, s, (x, y), color, size, max_width=w) + 3

    line(words("grid.sweep_title", env=sweeper.env_id), CHOSEN, 22)
    line(words("grid.sweep_gamma", gamma=sweeper.gamma), DIM)
    if sweeper.delta is None:
        line(words("grid.sweep_start"), TEXT)
    elif sweeper.converged:
        line(words("grid.sweep_converged", sweeps=sweeper.sweeps, delta=sweeper.delta), GOOD)
    else:
        line(words("grid.sweep_status", sweeps=sweeper.sweeps, delta=sweeper.delta), TEXT)
    line(words("grid.sweep_hint"), DIM, 14)
    y += 6
    update = sweeper.update()
    line(words("grid.bellman_rule", state=update.state), ACCENT)
    line(words("grid.bellman_now", state=update.state, old=update.old, new=update.new), TEXT, 16)
    line(words("grid.bellman_ends"), DIM, 14)
    y += 4
    tied = update.tied
    for a in update.actions:
        color = CHOSEN if a.action in tied else TEXT
        line(words("grid.bellman_action", action=a.name, q=a.q), color, 16)
        y = draw_terms(surface, x + 14, y, w - 14, update, a)
    line(update.best_words().render("en"), CHOSEN, 16)
    if sweeper.deltas:
        y += 6
        line(words("grid.delta_history"), DIM, 14)
        logs = [math.log10(max(d, 1e-16)) for d in sweeper.deltas]
        draw_sparkline(surface, pygame.Rect(x, y, w, 44), logs)
        y += 50
    if message:
        line(message, GOOD, 14)
    drawn["panel_lines"] = lines
    drawn["update"] = update
    if show_help:
        keys = [(key, words(what)) for key, what in SWEEP_KEYS]
        draw_help(surface, pygame.Rect(PAD, PAD, min(surface.get_width() - 2 * PAD, 470),
                                       (len(keys) + 2) * (LINE + 2) + 2 * PAD),
                  keys, title=words("grid.keys_title"))
    return drawn


# -- keys and the loop -----------------------------------------------------------------------------------------
@dataclass
class SweepControls:
    """Keys and clicks in, what the person asked for out."""

    quit: bool = False
    sweeps: int = 0
    restart: bool = False
    auto: bool = False
    screenshot: bool = False
    show_help: bool = False
    moves: list[tuple[int, int]] = field(default_factory=list)
    clicks: list[tuple[int, int]] = field(default_factory=list)
    taxi: list[tuple[int, int]] = field(default_factory=list)

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.quit = True
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.clicks.append(event.pos)
        elif event.type == pygame.KEYDOWN:
            self.key(event.key)

    def key(self, key: int) -> None:
        arrows = {pygame.K_UP: (-1, 0), pygame.K_DOWN: (1, 0), pygame.K_LEFT: (0, -1), pygame.K_RIGHT: (0, 1)}
        if key in (pygame.K_q, pygame.K_ESCAPE):
            self.quit = True
        elif key in (pygame.K_SPACE, pygame.K_RETURN, pygame.K_n):
            self.sweeps += 1
        elif key in arrows:
            self.moves.append(arrows[key])
        elif key == pygame.K_a:
            self.auto = not self.auto
        elif key == pygame.K_r:
            self.restart = True
        elif key == pygame.K_p:
            self.taxi.append((1, 0))
        elif key == pygame.K_d:
            self.taxi.append((0, 1))
        elif key == pygame.K_s:
            self.screenshot = True
        elif key == pygame.K_h:
            self.show_help = not self.show_help


def cell_at(sweeper: Sweeper, drawn: dict[str, Any], pos: tuple[int, int]) -> int | None:
    """The state of the cell (or table row) under a click, if any."""
    if sweeper.world is not None:
        for (r, c), rect in drawn.get("rects", {}).items():
            if rect.collidepoint(pos):
                return sweeper.world.state_at(r, c, sweeper.chosen)
        return None
    from playground.viewer.grid import TABLE_ROW

    rows = drawn.get("rows", [])
    index = (pos[1] - PAD) // TABLE_ROW - 1
    if pos[0] < table_size(sweeper.model.n_actions)[0] and 0 <= index < len(rows):
        return rows[index]
    return None


@dataclass
class SweepSummary:
    env: str
    gamma: float
    sweeps: int
    delta: float | None
    converged: bool
    update: BellmanUpdate
    screenshot: Path | None = None
    video: Path | None = None
    frames: int = 0
    size: tuple[int, int] = (0, 0)
    fps: float = 0.0
    elapsed_s: float = 0.0

    def lines(self) -> list[str]:
        """What the CLI prints, in the process's language."""
        key = "grid.sweep_summary_converged" if self.converged else "grid.sweep_summary"
        out = [say(key, env=self.env, gamma=self.gamma, sweeps=self.sweeps,
                   delta=self.delta if self.delta is not None else float("nan"))]
        out += self.update.lines()
        if self.screenshot is not None:
            out.append(say("grid.picture_saved", path=self.screenshot))
        if self.video is not None:
            out.append(recorded_line(self.video, self.frames, self.size, self.fps, self.elapsed_s))
        return out

    def record(self) -> dict[str, Any]:
        u = self.update
        return {
            "env": self.env, "gamma": self.gamma, "sweeps": self.sweeps, "delta": self.delta,
            "converged": self.converged, "state": u.state, "value": u.old, "next_value": u.new,
            "q": {a.name: a.q for a in u.actions}, "best": u.actions[u.best].name,
            "screenshot": str(self.screenshot) if self.screenshot else None,
            "video": str(self.video) if self.video else None, "frames": self.frames,
        }


def check_sweep_options(*, gamma: float, sweeps: int | None, screenshot: str | Path | None) -> Path | None:
    """One sentence per bad option, before anything opens; the screenshot's absolute path."""
    if not (isinstance(gamma, (int, float)) and 0.0 <= gamma <= 1.0):
        raise PlaygroundError("grid.bad_gamma", gamma=gamma)
    if sweeps is not None and not 0 <= sweeps <= MAX_SWEEPS:
        raise PlaygroundError("grid.bad_sweeps", sweeps=sweeps, most=MAX_SWEEPS)
    if screenshot is None:
        return None
    path = Path(screenshot).expanduser().absolute()
    if path.suffix.lower() != ".png" or path.is_dir():
        raise PlaygroundError("grid.bad_screenshot", name=path.name or str(path))
    return path


def open_sweeper(env_id: str, gamma: float, state: int | None = None) -> Sweeper:
    """The env's model and grid, values at 0, the chosen state (default: where a game starts, seed 0)."""
    spec = envs.resolve(env_id)
    needs_discrete(spec, "value-iteration")
    env = make_gym(spec)
    try:
        model = model_of(env)
        world = grid_world(env)
        env.reset(seed=0)
        start = current_state(env)
    finally:
        env.close()
    if state is not None and not 0 <= state < model.n_states:
        raise PlaygroundError("grid.bad_state", state=state, env=spec.env_id, last=model.n_states - 1)
    names = list(world.action_names) if world is not None else envs.action_names(spec)
    chosen = state if state is not None else (start or 0)
    return Sweeper(model, world, gamma, names, chosen, spec.env_id)


def sweep(env_id: str, *, gamma: float = 0.9, sweeps: int | None = None, state: int | None = None,
          headless: bool = False, screenshot: str | Path | None = None, record: str | Path | None = None,
          fps: int | None = None, max_frames: int | None = None) -> SweepSummary:
    """Value iteration, one sweep at a time; see the module docstring.

    In a window it starts after ``sweeps`` sweeps (default 0) and runs until quit. Headless it runs
    ``sweeps`` sweeps (default: until converged), recording each one as a frame when ``record`` is given,
    then saves the picture to ``screenshot``.
    """
    shot_path = check_sweep_options(gamma=gamma, sweeps=sweeps, screenshot=screenshot)
    record_path = check_record_path(record) if record is not None else None
    if fps is not None and not 1 <= fps <= 240:
        raise PlaygroundError("viewer.bad_fps", fps=fps)
    if headless:
        go_headless()
    else:
        require_display(Words("grid.no_display_hint"))
    sweeper = open_sweeper(env_id, gamma, state)
    size = sweep_size(sweeper)
    fps = fps or (2 if headless else FPS)
    started = time.monotonic()
    screen = Screen(size, title=f"{sweeper.env_id} · playground bellman", headless=headless, fps=fps,
                    no_display=Words("grid.no_display_hint"))
    recorder = Recorder(record_path, fps) if record_path is not None else None
    screen.recorder = recorder
    try:
        if headless:
            draw_sweep(screen.canvas, sweeper)
            screen.present()
            target = HEADLESS_SWEEPS if sweeps is None else sweeps
            while sweeper.sweeps < target and not (sweeps is None and sweeper.converged):
                sweeper.sweep()
                if recorder is not None:  # a frame per sweep; without a video only the last picture is drawn
                    draw_sweep(screen.canvas, sweeper)
                    screen.present()
                if max_frames is not None and screen.presented >= max_frames:
                    break
            draw_sweep(screen.canvas, sweeper)
        else:
            sweeper.run(sweeps or 0)
            _window_loop(screen, sweeper, max_frames)
        summary = SweepSummary(sweeper.env_id, sweeper.gamma, sweeper.sweeps, sweeper.delta, sweeper.converged,
                               sweeper.update(), frames=screen.presented, size=size, fps=float(fps))
        if shot_path is not None:
            try:
                summary.screenshot = save_screenshot(screen.canvas, shot_path)
            except OSError as exc:
                raise PlaygroundError("grid.screenshot_failed", path=shot_path,
                                      reason=exc.strerror or str(exc)) from None
        if recorder is not None:
            summary.video = recorder.close()
            recorder = None
        summary.elapsed_s = time.monotonic() - started
        return summary
    finally:
        if recorder is not None:
            recorder.abort()
        screen.close()


def _window_loop(screen: Screen, sweeper: Sweeper, max_frames: int | None) -> None:
    """Keys, clicks and the picture until the person quits."""
    from playground import settings

    controls = SweepControls()
    drawn: dict[str, Any] = {}
    last_auto = time.monotonic()
    shots = 0
    message, message_until = "", 0.0
    while not controls.quit:
        for event in screen.events():
            controls.handle(event)
        if controls.restart:
            controls.restart = False
            sweeper.restart()
        for _ in range(controls.sweeps):
            sweeper.sweep()
        controls.sweeps = 0
        if controls.auto and time.monotonic() - last_auto > AUTO_S:
            last_auto = time.monotonic()
            if sweeper.converged:
                controls.auto = False
            else:
                sweeper.sweep()
        for rows, cols in controls.moves:
            sweeper.move(rows, cols)
        controls.moves.clear()
        for pos in controls.clicks:
            clicked = cell_at(sweeper, drawn, pos)
            if clicked is not None:
                sweeper.choose(clicked)
        controls.clicks.clear()
        for passenger, destination in controls.taxi:
            sweeper.cycle_taxi(passenger, destination)
        controls.taxi.clear()
        if time.monotonic() > message_until:
            message = ""
        drawn = draw_sweep(screen.canvas, sweeper, controls.show_help, message)
        screen.present()
        if controls.screenshot:
            controls.screenshot = False
            shots += 1
            name = f"sweep-{sweeper.env_id.split(',')[0].replace('/', '-')}-{sweeper.sweeps}-{shots}.png"
            try:
                path = save_screenshot(screen.canvas, settings.home() / "screenshots" / name)
                message = words("grid.picture_saved", path=path.name)
            except OSError as exc:
                message = words("grid.screenshot_failed", path=name, reason=exc.strerror or str(exc))
            message_until = time.monotonic() + MESSAGE_S
        if max_frames is not None and screen.presented >= max_frames:
            break
        screen.wait()
