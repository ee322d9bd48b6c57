"""A tabular run's table as a picture: V(s) as colours on its grid world, the greedy action as arrows, the agent's
Q-values as bars (the pygame viewer's own drawing, off screen). Checkpoints are plain arrays, so this needs numpy and
pygame, never torch: the Train page's live panel and the Watch page both draw with it."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from playground import runs
from playground.store import Run
from playground.ui.common import lang, shown_errors, t

TABLE_WIDTH = 640  # pixels the picture takes in the page (it is drawn larger and scaled down)
_DRAWING = threading.Lock()  # pygame's font renderer is not made for several threads (sessions) at once


def tabular(algo: str) -> bool:
    """Whether ``algo`` keeps a table (value iteration, Q-learning…): its checkpoints are plain arrays to draw."""
    from agents.tabular import TABULAR_AGENTS  # numpy and pydantic only: no torch

    return algo in {cls.name for cls in TABULAR_AGENTS}


@st.cache_resource(show_spinner=False, max_entries=32)
def grid_of(env_id: str) -> dict[str, Any]:
    """What a picture of ``env_id``'s table needs, from one env opened and closed here (a toy-text env is a few
    arrays; no engine): its ``world`` (None when it is no grid), ``start`` (the state a game starts in, seed 0),
    ``states`` and the ``actions``' names."""
    from playground.envs import resolve
    from playground.envs.grids import grid_world
    from playground.envs.specs import make_gym

    spec = resolve(env_id)
    env = make_gym(spec)
    try:
        world = grid_world(env)
        start, _info = env.reset(seed=0)
        n_actions = int(getattr(env.action_space, "n", 0))
        names = list(world.action_names) if world is not None else [str(a) for a in range(n_actions)]
        return {"world": world, "start": int(start), "states": int(env.observation_space.n), "actions": names}
    finally:
        env.close()


@st.cache_data(show_spinner=False, max_entries=64)
def read_table(path: str, mtime: float) -> dict[str, Any]:
    """A tabular checkpoint as the picture reads it: ``step``, ``values`` V(s), ``greedy`` action per state and
    ``q``, as the agent itself would say them (planning: its V; policy iteration: its policy; whichever arrays the
    checkpoint holds). ``mtime`` keys the cache, so a checkpoint written again is read again."""
    from agents import tabular as tab

    meta, arrays = tab.read_table(Path(path))
    q = arrays[tab.Q_MEMBER].astype("float64")
    values = arrays[tab.V_MEMBER].astype("float64") if tab.V_MEMBER in arrays else q.max(axis=1)
    greedy = arrays[tab.POLICY_MEMBER].astype("int64") if tab.POLICY_MEMBER in arrays else tab.greedy(q)
    return {"step": int(meta["step"]), "env": meta.get("env"), "values": values, "greedy": greedy, "q": q}


@st.cache_data(show_spinner=False, max_entries=64)
def table_picture(path: str, mtime: float, env_id: str, state: int | None) -> Any:
    """The picture of one checkpoint's table as an (H, W, 3) array: V(s) as colours, the greedy action as
    arrows, the agent on ``state`` with its Q-values as bars (the viewer's own drawing, off screen)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from playground.viewer.grid import grid_picture

    found, grid = read_table(path, mtime), grid_of(env_id)
    with _DRAWING:
        return grid_picture(grid["world"], found["values"], found["greedy"], q=found["q"], state=state,
                            action_names=grid["actions"])


def state_line(env_id: str, state: int) -> str | None:
    """What ``state`` holds beyond a cell, in the session's language (Taxi: the passenger and the destination)."""
    world = grid_of(env_id)["world"]
    described = world.describe(state) if world is not None else None
    return described.render(lang()) if described is not None else None


def show_table(run: Run, step: int, path: Path, state: int | None = None) -> None:
    """One checkpoint's table as its picture, with what it shows in words; ``state`` None: where a game starts."""
    try:
        mtime = path.stat().st_mtime
    except OSError:  # pruned since it was listed: a newer one is there by the next redraw
        st.caption(t("live.table.waiting"))
        return
    with shown_errors():
        grid = grid_of(run.env)
        state = grid["start"] if state is None else state
        picture = table_picture(str(path), mtime, run.env, state)
        st.image(picture, caption=t("live.table.caption", step=f"{step:,}"), width=min(TABLE_WIDTH, picture.shape[1]),
                 output_format="PNG")
        line = state_line(run.env, state)
        if line:
            st.caption(t("live.table.state_line", state=state, line=line))


def render_table(run: Run) -> None:
    """A tabular run's newest table (inside its own fragment): the grid world as the table sees it now."""
    st.markdown("**" + t("live.table.title") + "**")
    available = runs.checkpoints(run)
    if not available:
        st.caption(t("live.table.waiting"))
        return
    step, path = available[-1]
    show_table(run, step, path)
