"""Tabular RL you can watch think: grid layouts of the toy-text worlds (cells, tiles, which action points
where, Taxi's decoding), the picture drawn headless with its values, arrows and agent (checked in its
pixels), the value-iteration stepper (its written-out Bellman update against ``bellman_backup``, its
sweeps converging, its keys and the ``playground bellman`` command), and ``playground watch`` on a tabular
run: the grid instead of the game's picture, and in follow mode the newest table loaded mid-game.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pygame
import pytest
from PIL import Image

from agents.tabular import bellman_backup, model_of, value_iteration_sweep
from playground import envs, runs, training
from playground.atomic import atomic_output
from playground.config import RLConfig
from playground.envs.grids import (
    CLIFF,
    GOAL,
    HOLE,
    IN_TAXI,
    PAD,
    START,
    grid_world,
    taxi_decode,
    taxi_encode,
    taxi_words,
)
from playground.store import get_store
from playground.viewer.bellman import SweepControls, cell_at, draw_sweep, open_sweeper, sweep
from playground.viewer.display import Screen, canvas_array
from playground.viewer.follow import Follower
from playground.viewer.grid import AGENT, TableBoard, TableView, color_at, draw_picture, grid_picture, picture_size
from playground.viewer.hud import HudState
from playground.viewer.session import WatchSession
from playground.viewer.watch import WatchApp, watch

WHITE = np.array([250, 250, 250])


def _world(env_id: str, **kwargs: Any) -> Any:
    env = gym.make(env_id, **kwargs)
    try:
        return grid_world(env), env.unwrapped
    finally:
        env.close()


@functools.cache
def _converged(env_id: str, gamma: float = 0.9, **kwargs: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """The world, V and Q of value iteration run to convergence."""
    env = gym.make(env_id, **kwargs)
    try:
        model, world = model_of(env), grid_world(env)
    finally:
        env.close()
    V = np.zeros(model.n_states)
    for _ in range(1000):
        V, delta = value_iteration_sweep(model, V, gamma)
        if delta < 1e-10:
            break
    return world, V, model.q_from_v(V, gamma)


# -- layouts -------------------------------------------------------------------------------------------------
def _moves_follow_the_model(world: Any, P: dict, blocked: Any) -> int:
    """Every move action, in every state, lands where the world says it points (unless blocked there)."""
    checked = 0
    for s in range(world.n_states):
        if s in world.ends:
            continue
        r, c = world.cell_of(s)
        if not world.drawn(r, c):
            continue
        for a in range(len(world.actions)):
            direction = world.direction(a)
            if direction is None:
                continue
            target = (r + direction[0], c + direction[1])
            if not (0 <= target[0] < world.rows and 0 <= target[1] < world.cols) or blocked(r, c, target):
                continue
            outcomes = P[s][a]
            assert len(outcomes) == 1, "deterministic variants only"
            assert world.cell_of(outcomes[0][1]) == target, (s, a, world.actions[a])
            checked += 1
    return checked


def test_frozen_lake_4x4_and_8x8_layouts_and_arrows() -> None:
    world, env = _world("FrozenLake-v1", is_slippery=False)
    assert (world.rows, world.cols, world.n_states) == (4, 4, 16)
    assert world.tiles[0][0] == START and world.tiles[1][1] == HOLE and world.tiles[3][3] == GOAL
    assert world.ends == frozenset({5, 7, 11, 12, 15})
    assert world.cell_of(6) == (1, 2) and world.state_at(1, 2) == 6
    assert world.action_names == ("LEFT", "DOWN", "RIGHT", "UP")
    assert [world.direction(a) for a in range(4)] == [(0, -1), (1, 0), (0, 1), (-1, 0)]
    assert _moves_follow_the_model(world, env.P, lambda r, c, t: False) > 30

    for env_id, kwargs in (("FrozenLake-v1", {"map_name": "8x8"}), ("FrozenLake8x8-v1", {})):
        world, _env = _world(env_id, **kwargs)
        assert (world.rows, world.cols, world.n_states) == (8, 8, 64)
        assert sum(row.count(HOLE) for row in world.tiles) == 10
        assert world.tiles[7][7] == GOAL and world.cell_of(63) == (7, 7) and world.cell_of(10) == (1, 2)


def test_cliff_walking_layout() -> None:
    world, env = _world("CliffWalking-v1")
    assert (world.rows, world.cols, world.n_states) == (4, 12, 48)
    assert world.tiles[3][0] == START and world.tiles[3][11] == GOAL
    assert [world.tiles[3][c] for c in range(1, 11)] == [CLIFF] * 10
    assert world.ends == frozenset({47}) and world.cell_of(36) == (3, 0) and not world.drawn(3, 5)
    assert world.action_names == ("UP", "RIGHT", "DOWN", "LEFT")
    checked = _moves_follow_the_model(world, env.P, lambda r, c, t: world.tiles[t[0]][t[1]] == CLIFF)
    assert checked > 100


def test_taxi_decodes_like_gymnasium_and_projects_on_its_cells() -> None:
    world, env = _world("Taxi-v4")
    assert (world.rows, world.cols, world.n_states) == (5, 5, 500)
    for s in range(500):
        assert tuple(taxi_decode(s)) == tuple(env.decode(s))
        assert taxi_encode(*taxi_decode(s)) == s
    assert world.pads == ((0, 0), (0, 4), (4, 0), (4, 3)) and world.tiles[4][3] == PAD
    assert world.walls == frozenset({(0, 1), (1, 1), (3, 0), (3, 2), (4, 0), (4, 2)})
    assert world.action_names == ("SOUTH", "NORTH", "EAST", "WEST", "PICKUP", "DROPOFF")
    assert world.direction(0) == (1, 0) and world.direction(2) == (0, 1) and world.direction(4) is None

    state = taxi_encode(2, 3, 3, 0)  # the taxi at row 2, column 3; the passenger waits at Blue, bound for Red
    assert taxi_words(state).render("en") == "taxi at row 2, column 3; passenger waits at Blue; destination Red"
    riding = taxi_encode(1, 1, IN_TAXI, 2)
    assert "passenger aboard; destination Yellow" in taxi_words(riding).render("en")
    layer = world.layer(state)
    assert layer.shape == (5, 5) and layer[2, 3] == state
    assert {tuple(taxi_decode(s))[2:] for s in layer.reshape(-1)} == {(3, 0)}, "one passenger and destination"
    values = np.arange(500.0)
    assert world.project(values, state)[4, 0] == taxi_encode(4, 0, 3, 0)
    assert world.cell_of(state) == (2, 3)
    def fenced(r: int, c: int, target: tuple[int, int]) -> bool:
        return (target[1] > c and (r, c) in world.walls) or (target[1] < c and (r, target[1]) in world.walls)

    assert _moves_follow_the_model(world, env.P, fenced) > 1000


def test_envs_that_are_not_grids_have_no_grid() -> None:
    for env_id in ("Blackjack-v1", "CartPole-v1"):
        env = gym.make(env_id)
        try:
            assert grid_world(env) is None
        finally:
            env.close()


# -- the picture -------------------------------------------------------------------------------------------------
def _pixel(picture: np.ndarray, rect: pygame.Rect, dx: int, dy: int) -> np.ndarray:
    return picture[rect.y + dy, rect.x + dx].astype(int)


def _draw(world: Any, view: TableView, names: Any, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
    pygame.font.init()
    surface = pygame.Surface(picture_size(world, len(names)))
    drawn = draw_picture(surface, world, view, names, **kwargs)
    return canvas_array(surface), drawn


def test_the_picture_colours_cells_by_value_and_draws_arrows_and_the_agent() -> None:
    world, V, Q = _converged("FrozenLake-v1")  # slippery: V(14), beside the goal, is the highest
    view = TableView(V, Q.argmax(axis=1), Q, state=0)
    picture, drawn = _draw(world, view, world.action_names)
    lo, hi = drawn["scale"]
    assert hi == pytest.approx(V[14]) and lo == pytest.approx(min(V[s] for s in range(16) if s not in world.ends))

    rects = drawn["rects"]
    corner = (8, rects[(0, 0)].height - 8)  # away from the number, the arrow and the agent's marks
    near_goal, far = _pixel(picture, rects[(3, 2)], *corner), _pixel(picture, rects[(0, 3)], *corner)
    assert tuple(near_goal) == color_at(1.0), "the best cell gets the bright end of the map"
    assert np.abs(near_goal - far).sum() > 150, "a low value and a high one look different"
    assert tuple(_pixel(picture, rects[(1, 1)], *corner)) != tuple(far), "a hole is drawn as a hole"

    assert drawn["arrows"][(3, 2)] == (1,), "DOWN, into the goal's row, is best beside the goal"
    centre = rects[(3, 2)]
    middle = picture[centre.centery - 6:centre.centery + 14, centre.centerx - 3:centre.centerx + 3]
    assert (np.abs(middle.astype(int) - WHITE).sum(axis=2) < 10).any(), "the arrow's white is drawn"
    hole = rects[(1, 1)]
    assert not (np.abs(picture[hole.top:hole.bottom, hole.left:hole.right].astype(int) - WHITE).sum(axis=2) < 10).any()
    assert drawn["agent"] == (0, 0)
    ring = picture[rects[(0, 0)].y + 3, rects[(0, 0)].x + 20]
    assert tuple(ring) == AGENT

    side = drawn["side"]
    assert side["lines"][0] == "Q-values of state 0" and max(side["bars"]) == side["bars"][int(Q[0].argmax())]


def test_equal_values_get_no_arrow_and_one_colour() -> None:
    world, _env = _world("FrozenLake-v1")
    zeros = np.zeros((16, 4))
    picture, drawn = _draw(world, TableView.of_q(zeros), world.action_names, bars=False)
    assert drawn["arrows"] == {}
    colours = {drawn["colors"][cell] for cell in drawn["colors"]}
    assert colours == {color_at(0.0)}
    rect = drawn["rects"][(0, 1)]
    inside = picture[rect.centery - 10:rect.centery + 10, rect.centerx - 10:rect.centerx + 10]
    assert (inside == np.array(color_at(0.0))).all()


def test_grid_picture_of_every_world_and_the_q_table_of_the_rest(tmp_path: Path) -> None:
    for env_id, kwargs in (("FrozenLake-v1", {"map_name": "8x8"}), ("CliffWalking-v1", {}), ("Taxi-v4", {})):
        world, V, Q = _converged(env_id, **kwargs)
        state = 42 if world.is_taxi else 0
        picture = grid_picture(world, V, Q.argmax(axis=1), q=Q, state=state)
        assert picture.dtype == np.uint8 and picture.shape[2] == 3
        assert picture.shape[:2] == picture_size(world, len(world.action_names))[::-1]
        assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50, "a picture, not a blank"
        Image.fromarray(picture).save(tmp_path / "p.png")
    world, V, Q = _converged("Taxi-v4")
    _picture, drawn = _draw(world, TableView(V, Q.argmax(axis=1), Q, 42), world.action_names)
    assert drawn["lines"][1] == "taxi at row 0, column 2; passenger waits at Red; destination Yellow"

    q = np.arange(40 * 3, dtype=np.float64).reshape(40, 3)
    picture = grid_picture(None, q.max(axis=1), q.argmax(axis=1), q=q, state=20, action_names=["a", "b", "c"])
    _picture, drawn = _draw(None, TableView.of_q(q, 20), ["a", "b", "c"])
    assert 20 in drawn["rows"] and len(drawn["rows"]) == 16 and picture.shape[0] > 100


# -- the value-iteration stepper ---------------------------------------------------------------------------------
def test_the_written_bellman_update_is_bellman_backup_term_by_term() -> None:
    sweeper = open_sweeper("FrozenLake-v1", 0.9, state=14)
    for _ in range(3):
        sweeper.sweep()
    update = sweeper.update()
    expected = bellman_backup(sweeper.model, sweeper.V, 14, 0.9)
    assert [a.q for a in update.actions] == pytest.approx(list(expected))
    for a in update.actions:
        assert sum(t.worth(0.9) for t in a.terms) == pytest.approx(a.q)
        assert sum(t.prob for t in a.terms) == pytest.approx(1.0)
    down = update.actions[1]
    assert [t.next_state for t in down.terms] == [13, 14, 15] and down.terms[2].ends and down.terms[2].reward == 1
    lines = update.lines("en")
    assert lines[0] == "new V(14) = max over a of Σ p·(r + γ·V(s'))"
    v13, v14 = sweeper.V[13], sweeper.V[14]
    assert lines[3] == (f"DOWN: 0.333·(0 + 0.9·{v13:.3f}) + 0.333·(0 + 0.9·{v14:.3f}) + 0.333·(1 + 0.9·0.000) "
                        f"= {expected[1]:.4f}   (s' = 13, 14, 15)")
    assert lines[-1] == f"the best is DOWN, so V(14) becomes {expected.max():.4f}"
    assert update.new == pytest.approx(value_iteration_sweep(sweeper.model, sweeper.V, 0.9)[0][14])

    pygame.font.init()
    surface = pygame.Surface((1400, 700))
    drawn = draw_sweep(surface, sweeper)
    assert f"DOWN: Q = {expected[1]:.4f}" in drawn["panel_lines"]
    assert "sweep 3: the largest change was 0.06" in drawn["panel_lines"]
    assert drawn["chosen"] == (3, 2)


def test_values_spread_one_step_per_sweep_and_converge() -> None:
    sweeper = open_sweeper("FrozenLake-v1,is_slippery=False", 0.9)
    assert sweeper.chosen == 0 and sweeper.delta is None and not sweeper.V.any()
    sweeper.sweep()
    assert np.flatnonzero(sweeper.V).tolist() == [14], "one sweep: only the cell beside the goal knows"
    sweeper.sweep()
    assert sweeper.V[10] == pytest.approx(0.9) and sweeper.V[13] == pytest.approx(0.9) and sweeper.V[0] == 0
    sweeper.run(None)
    assert sweeper.converged and sweeper.delta < 1e-8 and sweeper.sweeps < 20
    assert sweeper.V[0] == pytest.approx(0.9 ** 5), "six steps from the goal, the first rewarded"
    assert all(b <= a + 1e-12 for a, b in zip(sweeper.deltas[1:], sweeper.deltas[2:], strict=False))

    slippery = open_sweeper("FrozenLake-v1", 0.9)
    slippery.run(None)
    assert slippery.converged
    q = slippery.model.q_from_v(slippery.V, 0.9)
    assert np.abs(q.max(axis=1) - slippery.V).max() < 1e-7, "a fixed point of the Bellman optimality equation"


def test_sweep_keys_and_clicks_choose_cells_and_sweep() -> None:
    pygame.font.init()
    sweeper = open_sweeper("FrozenLake-v1", 0.9, state=0)
    controls = SweepControls()
    for key in (pygame.K_SPACE, pygame.K_RETURN, pygame.K_DOWN, pygame.K_RIGHT, pygame.K_a, pygame.K_h):
        controls.handle(pygame.event.Event(pygame.KEYDOWN, key=key))
    assert controls.sweeps == 2 and controls.moves == [(1, 0), (0, 1)] and controls.auto and controls.show_help
    for rows, cols in controls.moves:
        sweeper.move(rows, cols)
    assert sweeper.chosen == 5
    sweeper.move(-5, -5)
    assert sweeper.chosen == 0, "the edge stops the choice"
    surface = pygame.Surface((1200, 600))
    drawn = draw_sweep(surface, sweeper)
    assert cell_at(sweeper, drawn, drawn["rects"][(2, 3)].center) == 11
    assert cell_at(sweeper, drawn, (1150, 10)) is None

    taxi = open_sweeper("Taxi-v4", 0.9, state=taxi_encode(2, 2, 0, 1))
    taxi.cycle_taxi(passenger=1)
    assert tuple(taxi_decode(taxi.chosen)) == (2, 2, 1, 1)
    taxi.move(1, 0)
    assert tuple(taxi_decode(taxi.chosen)) == (3, 2, 1, 1), "a move keeps the passenger and destination"


def test_sweep_headless_saves_a_picture_and_a_video_and_refuses_bad_input(cli: Any, tmp_path: Path) -> None:
    shot, video = tmp_path / "shots" / "sweep.png", tmp_path / "sweep.gif"
    result = cli("bellman", "FrozenLake-v1", "--headless", "--sweeps", "3", "--state", "14", "--screenshot", str(shot),
                 "--record", str(video))
    assert result.code == 0, result.err
    assert "3 sweeps" in result.out and "the best is DOWN, so V(14) becomes" in result.out
    with Image.open(shot) as image:
        assert image.size[0] > 900 and image.size[1] > 450
    with Image.open(video) as gif:
        assert gif.n_frames == 4, "sweep 0, then one frame per sweep"

    result = cli("bellman", "CliffWalking-v1", "--headless", "--json")
    assert result.code == 0, result.err
    assert '"converged": true' in result.out and '"best": "UP"' in result.out

    bad = ((["--gamma", "1.5"], "--gamma"), (["--sweeps", "-1"], "--sweeps"), (["--state", "16"], "--state"),
           (["--screenshot", str(tmp_path / "x.jpg")], "--screenshot"))
    for args, words in bad:
        result = cli("bellman", "FrozenLake-v1", "--headless", *args)
        assert result.code == 2 and result.err.startswith("error: ") and words in result.err, result
    result = cli("bellman", "CartPole-v1", "--headless")
    assert result.code == 2 and "Discrete" in result.err and "Traceback" not in result.err


def test_the_sweep_window_sweeps_on_space_and_writes_out_the_clicked_cell(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    def key(k: int) -> pygame.event.Event:
        return pygame.event.Event(pygame.KEYDOWN, key=k)

    script = [[key(pygame.K_SPACE), key(pygame.K_SPACE)], [key(pygame.K_DOWN)], [key(pygame.K_r), key(pygame.K_SPACE)]]
    monkeypatch.setattr(Screen, "events", lambda self: script.pop(0) if script else [])
    summary = sweep("FrozenLake-v1,is_slippery=False", headless=False, state=0, max_frames=4,
                    screenshot=tmp_path / "window.png")
    assert summary.sweeps == 1, "two sweeps, a restart, one sweep"
    assert summary.update.state == 4, "DOWN chose the cell below"
    assert summary.frames == 4 and (tmp_path / "window.png").exists()


# -- watching a tabular agent -------------------------------------------------------------------------------------
ENV = "FrozenLake-v1,is_slippery=False"


def _config() -> RLConfig:
    return RLConfig(algo="qlearning", env=ENV, steps=1000, n_envs=1, preset="custom", hyperparameters={},
                    eval_every=1000, eval_episodes=1, checkpoint_every=1000)


def _checkpoint(run_id: str, q: np.ndarray, step: int) -> Path:
    agent = training.make_agent(_config(), device="cpu")
    try:
        agent.q = q
        path = runs.checkpoint_path(runs.get(run_id), step)
        atomic_output(path, agent.save)
    finally:
        agent.close()
    get_store().add_artifact(run_id, "checkpoint", str(path), step=step)
    return path


def _stays_left() -> np.ndarray:
    """A table whose agent walks into the left wall for ever (the game goes on), LEFT worth 1 everywhere."""
    q = np.zeros((16, 4))
    q[:, 0] = 1.0
    return q


def test_watch_draws_the_grid_and_follow_loads_the_newest_table_mid_game(home: Path, tmp_path: Path) -> None:
    run = training.create_run(_config())
    first = _checkpoint(run.id, _stays_left(), 100)
    summary = watch(run.id, checkpoint="latest", headless=True, record=tmp_path / "w.gif", seed=0, max_frames=3)
    assert summary.frames == 3 and summary.size[0] > 600

    store = get_store()
    runs.mark_running(run.id, store)
    follower = Follower(run.id, store)
    assert follower.first(lambda message: True)[0] == 100
    agent = training.make_agent(_config(), device="cpu")
    agent.load(first)
    spec = envs.resolve(ENV)
    env = envs.make_watch_env(spec)
    board = TableBoard(grid_world(env.env), env.action_names)
    hud = HudState(run_id=run.id, following=True)
    session = WatchSession(env, agent, hud, seed=0, checkpoint_step=100)
    hud.action_names = board.action_names
    app = WatchApp(session, Screen((900, 600), title="t", headless=True, fps=50), zoom=1, fps=50,
                   follower=follower, board=board)
    try:
        session.step_decision()  # the first frame, then one agent step (at 50 fps the game's 4 a second take a while)
        session.step_decision()
        assert app.tick()
        drawn = app.drawn["board"]
        assert drawn["agent"] == (0, 0) and drawn["arrows"][(0, 0)] == (0,) and hud.action_name == "LEFT"
        assert hud.q_values == [1.0, 0.0, 0.0, 0.0] and app.drawn["bar_kind"] == "q_values"

        newer = np.zeros((16, 4))
        newer[:, 0], newer[14, 2] = 1.0, 5.0  # the new table has learnt the goal: V(14) stands out
        _checkpoint(run.id, newer, 200)
        app._last_refresh = 0.0  # the refresh is due
        assert app.tick()
        assert not session.game_over, "still the same game"
        assert hud.checkpoint_step == 200 and hud.message == "new checkpoint: step 200"
        drawn = app.drawn["board"]
        assert drawn["arrows"][(3, 2)] == (2,) and drawn["colors"][(3, 2)] == color_at(1.0)
        assert app.checkpoint_steps == [100, 200]
    finally:
        session.close()
