"""Watch: an agent's games recorded headless by the viewer and played in the page, or a GAN's sample grids.

Recording is the viewer's own (``playground watch RUN --headless --json``) in a child process with an
argument list, so torch never loads into the Streamlit thread and a slow game cannot hang the page:
it has a frame cap and a timeout. Videos stay in the run's ``videos/`` folder, where the viewer
registers them with the run, so earlier recordings are listed with their scores. Follow mode
re-reads the run every few seconds: an agent gets a short clip of each newer checkpoint, a GAN its
newest sample grid (already on disk; nothing is computed). The pygame window opens only where
there is a display.

A tabular run (value iteration, Q-learning…) opens on its table, drawn on the grid world in the page: each
cell's value as a colour, the greedy action as an arrow, the agent on a state of your choice with its
Q-values as bars. Its checkpoints are plain arrays, so this is numpy and pygame in this process, never torch;
following such a run redraws the newest table instead of recording clips.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from playground import access, jobs, runs
from playground.errors import PlaygroundError
from playground.jobs import ChildFailed
from playground.store import Run, Store, get_store
from playground.ui.charts import label
from playground.ui.common import error_text, lang, page, shown_errors, t
from playground.ui import auth, engine, live, steering, tables
from playground.ui.live import best_checkpoint

RECORD_TIMEOUT_S = 300  # a recording that takes longer is stopped and reported
GAME_FPS = 60  # frames per second of game time, for the frame cap (Atari runs at 60; CartPole at 50)
FOLLOW_EVERY_S = 10  # follow mode: how often the run is read again
FOLLOW_FRAMES = 200  # follow mode: frames in each clip of the newest checkpoint
FOLLOW_CLIP = "follow.mp4"  # follow mode's clip in videos/, replaced by each newer one
LAST = "watch_last"  # session state: the last recording or grid made in this session, per run


def _status(status: str) -> str:
    return t(f"runs.status.{status}")


_NO_WINDOW = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}  # recordings and grids draw off screen


def has_display() -> bool:
    """Whether a pygame window could open on the machine that runs the app, for the person at it: a served app's
    people sit at other machines, where a window on the server would not reach them."""
    if auth.served():
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _playground(args: list[str], timeout: float) -> str | ChildFailed:
    """``playground ARGS`` in a child process with no window, speaking this session's language: what it
    printed, or its refusal (one sentence)."""
    try:
        return jobs.run_cli(args, timeout=timeout, lang=lang(), env={**_NO_WINDOW, **auth.child_env()})
    except jobs.ChildTimedOut:
        return ChildFailed("watch.timeout", seconds=int(timeout))
    except ChildFailed as refusal:
        return refusal


def record(run_id: str, which: str, *, episodes: int, max_frames: int, out: Path | None = None,
           timeout: float = RECORD_TIMEOUT_S) -> dict[str, Any] | str:
    """Record games headless through the viewer: its JSON summary (path, games), or why it failed."""
    args = ["watch", run_id, "--headless", "--checkpoint", which, "--episodes", str(episodes),
            "--max-frames", str(max_frames), "--json"]
    if out is not None:
        args += ["--record", str(out)]
    printed = _playground(args, timeout)
    if isinstance(printed, ChildFailed):
        return error_text(printed)
    try:
        return json.loads(printed)
    except json.JSONDecodeError:
        return t("watch.failed", code=0, tail=printed[-200:])


def open_window(args: list[str]) -> int:
    """``playground ARGS`` (the pygame viewer) in a window that outlives this page; collected when it closes."""
    return jobs.open_window(args, lang=lang())


def _window_button(args: list[str], key: str) -> None:
    shown = has_display()
    if st.button(t("watch.window"), key=key, disabled=not shown, help=t("watch.window_help")):
        open_window(args)
        st.toast(t("watch.window_opened"))
    if not shown:
        st.caption(t("watch.served_no_window", command=" ".join(["playground", *args]))
                   if auth.served() else t("watch.no_display"))


def _show_media(path: Path) -> None:
    if path.suffix.lower() == ".gif":
        st.image(str(path))
    else:
        st.video(str(path))


def _show_games(games: list[dict[str, Any]]) -> None:
    if not games:
        st.caption(t("watch.no_game"))
        return
    scores = [g["score"] for g in games]
    cols = st.columns(min(4, len(games) + 1))
    cols[0].metric(t("watch.mean_score") if len(games) > 1 else t("watch.score"), f"{sum(scores) / len(scores):g}")
    if len(games) > 1:
        rows = [{t("watch.col.game"): i, t("watch.score"): g["score"], t("watch.col.steps"): g["steps"],
                 t("watch.col.checkpoint"): g.get("checkpoint_step"), t("watch.col.seed"): g.get("seed")}
                for i, g in enumerate(games, 1)]
        st.dataframe(rows, hide_index=True)
    else:
        g = games[0]
        st.caption(t("watch.game_line", steps=g["steps"], checkpoint=g.get("checkpoint_step"), seed=g.get("seed")))


def _videos(run: Run, store: Store) -> list[tuple[Path, dict[str, Any], int | None]]:
    """Earlier recordings still on disk, newest first (follow mode's clip left out)."""
    seen: dict[str, tuple[Path, dict[str, Any], int | None]] = {}
    for art in store.artifacts(run.id, "video"):
        path = Path(art.path)
        if path.name != FOLLOW_CLIP and path.is_file():
            seen[str(path)] = (path, art.meta, art.step)
    return sorted(seen.values(), key=lambda v: v[0].stat().st_mtime, reverse=True)


# -- agents ----------------------------------------------------------------------------------------
def _which_label(which: str, run: Run, store: Store) -> str:
    if which == "best" and (best := best_checkpoint(run, store)) is not None:
        return t("watch.checkpoint_best_eval", step=f"{best[0]:,}", mean=f"{best[1].mean:g}")
    if which in ("best", "latest"):  # best with no evaluation yet: the newest checkpoint
        step, _ = runs.pick_checkpoint(run, "latest", store)
        return t(f"watch.checkpoint_{which}", step=f"{step:,}")
    return t("watch.checkpoint_step", step=f"{int(which):,}")


def _resolved(which: str, run: Run, store: Store) -> str:
    """The step the viewer is asked for: "best" as this page names it (``best_checkpoint``), so the label,
    the recording and the evaluation line in the video all speak of the same checkpoint."""
    if which == "best" and (best := best_checkpoint(run, store)) is not None:
        return str(best[0])
    return which


def _record_tab(run: Run, which: str) -> None:
    left, right = st.columns(2)
    episodes = left.number_input(t("watch.episodes"), min_value=1, max_value=10, value=1, step=1)
    seconds = right.slider(t("watch.max_seconds"), 5, 300, 60, step=5, help=t("watch.max_seconds_help"))
    if st.button(t("watch.record"), type="primary"):
        with st.spinner(t("watch.recording")):
            result = record(run.id, which, episodes=int(episodes), max_frames=int(seconds) * GAME_FPS)
        if isinstance(result, str):
            st.error(result)
        else:
            st.session_state.setdefault(LAST, {})[run.id] = result
    last = st.session_state.get(LAST, {}).get(run.id)
    if last and last.get("path") and Path(last["path"]).is_file():
        st.success(t("watch.recorded", path=last["path"]))
        _show_media(Path(last["path"]))
        _show_games(last.get("games", []))


def _earlier_tab(run: Run, store: Store) -> None:
    videos = _videos(run, store)
    if not videos:
        st.caption(t("watch.no_videos"))
        return

    def name(i: int) -> str:
        path, meta, step = videos[i]
        scores = ", ".join(f"{s:g}" for s in meta.get("scores", []))
        return t("watch.video_line", name=path.name, step=step if step is not None else "?", scores=scores or "–")

    chosen = st.selectbox(t("watch.earlier_pick"), range(len(videos)), format_func=name)
    path, meta, _ = videos[chosen]
    _show_media(path)
    scores = meta.get("scores", [])
    if scores:
        st.caption(t("watch.scores", scores=", ".join(f"{s:g}" for s in scores)))


def _alive(run_id: str) -> bool:
    try:
        return runs.get(run_id).status in ("created", "running")
    except PlaygroundError:
        return False


def _follow(run_id: str, show: Callable[[str], None]) -> None:
    """``show`` the run again every few seconds while it trains; once it has ended, the page draws it one
    last time and stops polling."""
    alive = _alive(run_id)

    @st.fragment(run_every=FOLLOW_EVERY_S if alive else None)
    def panel() -> None:
        show(run_id)
        if alive and not _alive(run_id):
            st.rerun()

    panel()


def _followed(run_id: str, store: Store) -> Run:
    """The followed run, read again, with a line on where it stands."""
    run = runs.get(run_id, store)
    st.caption(t("watch.follow_status", status=_status(run.status), step=f"{run.step:,}",
                 total=f"{run.total_steps or 0:,}"))
    return run


def _follow_agent(run_id: str) -> None:
    """A short clip of the newest checkpoint, recorded again whenever a newer one appears."""
    store = get_store()
    with shown_errors():
        run = _followed(run_id, store)
        available = runs.checkpoints(run, store)
        if not available:
            st.info(t("watch.follow_waiting"))
            return
        step, _ = available[-1]
        clips = st.session_state.setdefault("watch_follow", {})
        clip = clips.get(run_id)
        if clip is None or clip["step"] != step:
            out = Path(run.folder) / "videos" / FOLLOW_CLIP
            store.remove_artifact(run.id, str(out))  # one row for the one clip, which each newer one replaces
            with st.spinner(t("watch.follow_recording", step=f"{step:,}")):
                result = record(run.id, str(step), episodes=1, max_frames=FOLLOW_FRAMES, out=out)
            if isinstance(result, str):
                st.error(result)
                return
            clip = clips[run_id] = {"step": step, "path": result["path"], "games": result.get("games", [])}
        st.video(clip["path"], autoplay=True, loop=True, muted=True)
        st.caption(t("watch.follow_clip", step=f"{clip['step']:,}"))
        if run.status != "running":
            st.caption(t("watch.follow_ended", status=_status(run.status)))


def _follow_table(run_id: str) -> None:
    """A tabular run's newest table, read again from its newest checkpoint (plain arrays: nothing to record)."""
    with shown_errors():
        run = _followed(run_id, get_store())
        tables.render_table(run)
        if run.status != "running":
            st.caption(t("watch.follow_ended", status=_status(run.status)))


def _table_tab(run: Run, which: str, store: Store) -> None:
    """The chosen checkpoint's table on its grid world, the agent on the state picked here."""
    with shown_errors():
        step, path = runs.pick_checkpoint(run, which, store)
        grid = tables.grid_of(run.env)
        narrow, _ = st.columns([1, 2])
        state = narrow.number_input(t("watch.table_state"), min_value=0, max_value=grid["states"] - 1,
                                    value=grid["start"], step=1, help=t("watch.table_state_help"),
                                    key=f"watch.table_state.{run.id}")
        tables.show_table(run, step, path, int(state))


def _agent(run: Run, store: Store) -> None:
    tabular = tables.tabular(run.algo)
    follow = _follow_table if tabular else _follow_agent
    follow_help = t("watch.follow_help_table") if tabular else t("watch.follow_help")
    available = runs.checkpoints(run, store)
    if not available:
        st.info(t("watch.no_checkpoint"))
        if run.status == "running" and st.toggle(t("watch.follow"), help=follow_help):
            _follow(run.id, follow)
        return
    choices = ["best", "latest", *(str(s) for s, _ in reversed(available))]
    which = _resolved(st.selectbox(t("watch.checkpoint"), choices, format_func=lambda w: _which_label(w, run, store)),
                      run, store)
    names = [t("watch.tab_record"), t("watch.tab_earlier"), t("watch.tab_follow"), t("watch.tab_window")]
    tabs = st.tabs([t("watch.tab_table"), *names] if tabular else names)
    if tabular:
        with tabs[0]:
            _table_tab(run, which, store)
        tabs = tabs[1:]
    record_tab, earlier_tab, follow_tab, window_tab = tabs
    with record_tab:
        _record_tab(run, which)
    with earlier_tab:
        _earlier_tab(run, store)
    with follow_tab:
        if st.toggle(t("watch.follow"), help=follow_help):
            _follow(run.id, follow)
    with window_tab:
        _window_button(["watch", run.id, "--checkpoint", which], key="window_agent")
        if tabular:  # the same world planned in front of you, one sweep at a time
            gamma = (run.config or {}).get("hyperparameters", {}).get("gamma", 0.9)
            st.caption(t("watch.sweep_window", command=f"playground bellman {run.env} --gamma {gamma:g}"))
            if st.button(t("watch.sweep_button"), key="window_sweep", disabled=not has_display(),
                         help=t("watch.sweep_help")):
                open_window(["bellman", run.env, "--gamma", f"{gamma:g}"])
                st.toast(t("watch.window_opened"))


# -- GANs ------------------------------------------------------------------------------------------
def _grids(run: Run, store: Store) -> list[tuple[int, Path]]:
    """The sample grids training wrote (fixed noise), by iteration, still on disk."""
    out = {}
    for art in store.artifacts(run.id, "samples"):
        path = Path(art.path)
        if art.step is not None and path.is_file():
            out[art.step] = path
    return sorted(out.items())


def _grid_at(grids: list[tuple[int, Path]], step: int) -> tuple[int, Path] | None:
    """The grid of ``step``, or the newest one before it."""
    before = [g for g in grids if g[0] <= step]
    return before[-1] if before else None


def _timelapse(run: Run, store: Store) -> Path | None:
    for art in reversed(store.artifacts(run.id, "timelapse")):
        if Path(art.path).is_file():
            return Path(art.path)
    default = Path(run.folder) / "samples" / "timelapse.gif"
    return default if default.is_file() else None


def _new_grid(run: Run, step: int, seed: int) -> Path | str:
    out = Path(run.folder) / "samples" / f"sample-step{step}-seed{seed}.png"
    printed = _playground(["gan", "sample", run.id, "--checkpoint", str(step), "--seed", str(seed), "--out", str(out),
                           "--device", "cpu"], RECORD_TIMEOUT_S)
    return error_text(printed) if isinstance(printed, ChildFailed) else out


def _follow_gan(run_id: str) -> None:
    """The newest sample grid, read from disk each time (training writes them)."""
    store = get_store()
    with shown_errors():
        run = _followed(run_id, store)
        grids = _grids(run, store)
        if not grids:
            st.info(t("watch.follow_waiting_gan"))
            return
        step, path = grids[-1]
        st.image(str(path), caption=t("watch.grid_caption", step=f"{step:,}"), output_format="PNG")


def _gan(run: Run, store: Store) -> None:
    available = runs.checkpoints(run, store)
    grids = _grids(run, store)
    if not available and not grids:
        st.info(t("watch.no_checkpoint"))
        if run.status == "running" and st.toggle(t("watch.follow"), help=t("watch.follow_help_gan")):
            _follow(run.id, _follow_gan)
        return
    steps = sorted({s for s, _ in available} | {s for s, _ in grids}, reverse=True)
    step = st.selectbox(t("watch.checkpoint"), steps, format_func=lambda s: t("watch.iteration", step=f"{s:,}"))
    checkpoints = {s for s, _ in available}
    # Generators of new images (not translators): their latent space can be steered.
    steerable = bool(checkpoints) and engine.gan_models().get(run.algo, {}).get("data_kind") == "images"
    names = ["watch.tab_grid", *(["watch.tab_steer"] if steerable else []), "watch.tab_timelapse",
             "watch.tab_follow", "watch.tab_window"]
    tabs = dict(zip(names, st.tabs([t(n) for n in names]), strict=True))
    grid_tab, timelapse_tab, follow_tab, window_tab = (tabs[n] for n in (
        "watch.tab_grid", "watch.tab_timelapse", "watch.tab_follow", "watch.tab_window"))
    if steerable:
        with tabs["watch.tab_steer"]:
            steering.steer_tab(run, str(step) if step in checkpoints else "latest")
    with grid_tab:
        shown = _grid_at(grids, step)
        if shown is not None:
            st.image(str(shown[1]), caption=t("watch.grid_caption", step=f"{shown[0]:,}"), output_format="PNG")
        else:
            st.caption(t("watch.no_grid"))
        if step in {s for s, _ in available}:
            seed = st.number_input(t("watch.seed"), min_value=0, value=1, step=1, help=t("watch.seed_help"))
            if st.button(t("watch.new_grid")):
                with st.spinner(t("watch.drawing")):
                    result = _new_grid(run, step, int(seed))
                if isinstance(result, str):
                    st.error(result)
                else:
                    st.session_state.setdefault(LAST, {})[run.id] = {"grid": str(result)}
            last = st.session_state.get(LAST, {}).get(run.id, {}).get("grid")
            if last and Path(last).is_file():
                st.image(last, caption=Path(last).name, output_format="PNG")
    with timelapse_tab:
        gif = _timelapse(run, store)
        if gif is not None:
            st.image(str(gif), caption=t("watch.timelapse_caption"))
        else:
            st.caption(t("watch.no_timelapse"))
    with follow_tab:
        if st.toggle(t("watch.follow"), help=t("watch.follow_help_gan")):
            _follow(run.id, _follow_gan)
    with window_tab:
        which = str(step) if step in {s for s, _ in available} else "latest"
        _window_button(["gan", "watch", run.id, "--checkpoint", which], key="window_gan")


def render() -> None:
    page("nav.watch")
    with shown_errors():
        store = get_store()
        run_list = access.visible(auth.actor(), list(reversed(runs.list_runs(store))))  # newest first
        if not run_list:
            st.info(t("watch.empty"))
            return
        by_id = {r.id: r for r in run_list}
        asked = st.query_params.get("run")
        ids = list(by_id)
        run_id = st.selectbox(t("watch.run"), ids, index=ids.index(asked) if asked in by_id else 0,
                              format_func=lambda i: t("watch.run_line", run=label(by_id[i]),
                                                      status=_status(by_id[i].status)))
        run = by_id[run_id]
        st.caption(t("watch.run_caption", algo=run.algo, env=run.env, status=_status(run.status), step=f"{run.step:,}"))
        runs.folder_here(run)  # trained on another machine of a shared store: one sentence says where
        if run.kind == "gan":
            _gan(run, store)
        else:
            _agent(run, store)


render()
