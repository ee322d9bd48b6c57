"""The live panel of a training run, shared by the agent and GAN pages.

It reads only the store and the run folder: status, progress, speed and ETA, the curve (episode
returns for agents, D/G losses for GANs), the latest evaluation or sample grid, and Stop / Resume.
A job is a separate process, so the panel finds it again after a browser refresh: with no run in
this session it shows the newest running run of its kind (else the newest one).

The panel is a fragment that reruns every ``REFRESH_S`` seconds while its run is alive; once the
run has ended it reruns the page once and then stops polling.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from playground import runs
from playground.errors import PlaygroundError
from playground.store import Run, get_store
from playground.ui.common import shown_errors, t
from playground.ui.i18n import table

REFRESH_S = 2.0
LOG_TAIL_LINES = 30
SPEED_WINDOW_S = 30.0
ALIVE = ("created", "running")
RESUME_GRACE_S = 60.0  # a resumed run stays "stopped" until its new job claims it; keep polling that long
# What each kind draws as its curve: metric key -> translation key of its legend.
CURVES = {
    "rl": {"episode/score": "live.curve.return"},
    "gan": {"loss/d": "live.curve.loss_d", "loss/g": "live.curve.loss_g"},
}


def learn_more(name: str) -> None:
    """A model's idea in one line (``learn.<name>.idea``) and a link to its card on the Learn page.

    The card opens in a new tab (the Learn page reads ``?card=``), so the form keeps what was typed."""
    idea = f"learn.{name}.idea"
    if idea in table():
        st.caption(t(idea))
    st.link_button(t("train_agent.learn_more"), f"learn?card={name}", help=t("train_agent.learn_more_help"))


def pick_run(kind: str, session_key: str) -> Run | None:
    """The run to show: this session's, else the newest running one of ``kind``, else the newest."""
    found = list(reversed(runs.list_runs(kind=kind)))  # newest first
    if not found:
        return None
    by_id = {r.id: r for r in found}
    current = st.session_state.get(session_key)
    if current not in by_id:
        running = [r for r in found if r.status == "running"]
        current = (running or found)[0].id
    ids = list(by_id)
    chosen = st.selectbox(
        t("live.pick"),
        ids,
        index=ids.index(current),
        format_func=lambda rid: f"{rid} · {t('live.status.' + by_id[rid].status)}"
        + (f" · {by_id[rid].label}" if by_id[rid].label else ""),
    )
    if chosen != st.session_state.get(session_key):
        st.session_state[session_key] = chosen
    return by_id[chosen]


def _resumed_key(run_id: str) -> str:
    return f"live.resumed.{run_id}"


def resuming(run: Run) -> bool:
    """Whether this session resumed ``run`` moments ago and its job has not claimed it yet."""
    since = st.session_state.get(_resumed_key(run.id))
    if since is None or run.status in ALIVE:
        return False
    if run.ended_at is not None and run.ended_at > since:  # the resumed job has come and gone
        return False
    return time.time() - since < RESUME_GRACE_S


def _alive(run: Run) -> bool:
    return run.status in ALIVE or resuming(run)


def _speed(run: Run, rows: list[tuple[int, float, str, float]]) -> float | None:
    """Steps per second: from what this browser session saw move, else from the store's last metrics."""
    samples = st.session_state.setdefault(f"live.samples.{run.id}", [])
    now = time.time()
    if run.status == "running":
        if not samples or samples[-1][1] != run.step:
            samples.append((now, run.step))
        samples[:] = [s for s in samples if now - s[0] <= SPEED_WINDOW_S and s[1] <= run.step]
        if len(samples) >= 2 and samples[-1][0] - samples[0][0] >= 1.0 and samples[-1][1] > samples[0][1]:
            return (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
    recent = [(step, wall) for step, wall, _, _ in rows if wall >= (rows[-1][1] - SPEED_WINDOW_S)] if rows else []
    if len(recent) >= 2 and recent[-1][1] > recent[0][1] and recent[-1][0] > recent[0][0]:
        return (recent[-1][0] - recent[0][0]) / (recent[-1][1] - recent[0][1])
    return None


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return str(timedelta(seconds=int(round(seconds))))


def _log_tail(run: Run) -> str:
    path = Path(run.folder) / "logs" / "job.log"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _curve(kind: str, run: Run) -> tuple[pd.DataFrame | None, list[tuple[int, float, str, float]]]:
    store = get_store()
    keys = CURVES[kind]
    rows: list[tuple[int, float, str, float]] = []
    frames = []
    for key, label_key in keys.items():
        found = store.metrics(run.id, key)
        rows.extend(found)
        if found:
            series = pd.Series([v for _, _, _, v in found], index=[s for s, _, _, _ in found], name=t(label_key))
            frames.append(series.groupby(level=0).mean())
    rows.sort(key=lambda r: r[1])
    if not frames:
        return None, rows
    chart = pd.concat(frames, axis=1).sort_index()
    if kind == "rl" and len(chart) >= 5:
        column = chart.columns[0]
        chart[t("live.curve.mean")] = chart[column].rolling(min(20, len(chart)), min_periods=1).mean()
    chart.index.name = t("live.step")
    return chart, rows


def newest_sample(run: Run) -> Path | None:
    """The newest sample grid of a GAN run: the store's ``samples`` artifacts, else the samples/ folder."""
    for art in reversed(get_store().artifacts(run.id, "samples")):
        if Path(art.path).is_file():
            return Path(art.path)
    found = sorted((Path(run.folder) / "samples").glob("iter-*.png"))
    return found[-1] if found else None


def _evaluation(run: Run) -> None:
    if run.kind == "gan":
        path = newest_sample(run)
        if path is None:
            st.caption(t("live.no_samples"))
        else:
            st.image(str(path), caption=t("live.samples_caption", name=path.stem), width=360)
        return
    evals = get_store().evaluations(run.id)
    if not evals:
        st.caption(t("live.no_eval"))
        return
    last = evals[-1]
    st.metric(
        t("live.last_eval"),
        f"{last.mean:.1f} ± {last.std:.1f}",
        help=t("live.last_eval_help", step=f"{last.step:,}", n=last.n_episodes),
    )


def _buttons(run: Run, session_key: str) -> None:
    if run.status == "running":
        if st.button(t("live.stop"), key=f"live.stop.{run.id}", disabled=bool(run.stop_requested)):
            with shown_errors():
                runs.request_stop(run.id)
                st.info(t("live.stop_asked"))
        elif run.stop_requested:
            st.info(t("live.stop_asked"))
    elif resuming(run):
        st.info(t("live.resuming"))
    elif run.status in ("stopped", "failed"):
        if st.button(t("live.resume"), key=f"live.resume.{run.id}"):
            resumed = None
            with shown_errors():
                from playground import jobs

                resumed, _pid = jobs.resume(run.id)
            if resumed is not None:
                st.session_state[session_key] = resumed.id
                st.session_state[_resumed_key(resumed.id)] = time.time()
                st.rerun()


def render_run(run: Run, session_key: str) -> None:
    """Everything the panel says about one run (called inside the fragment)."""
    try:
        run = runs.get(run.id)
    except PlaygroundError:  # deleted meanwhile: show the runs that are left
        st.session_state.pop(session_key, None)
        st.rerun()
    unit = t("live.unit." + run.kind)
    st.subheader(run.id + (f" · {run.label}" if run.label else ""))
    st.caption(f"{run.algo} · {run.env}")
    chart, rows = _curve(run.kind, run)
    speed = _speed(run, rows)
    total = run.total_steps or 0
    cols = st.columns(3)
    cols[0].metric(t("live.status"), t("live.status." + run.status))
    cols[1].metric(t("live.speed", unit=unit), f"{speed:,.1f}" if speed else "—")
    remaining = (total - run.step) / speed if speed and total and run.status == "running" else None
    cols[2].metric(t("live.eta"), _eta(remaining) if run.status == "running" else "—")
    fraction = min(max(run.step / total, 0.0), 1.0) if total else 0.0
    shown_total = f"{total:,}" if total else "?"
    st.progress(fraction, text=t("live.progress", step=f"{run.step:,}", total=shown_total, unit=unit))
    if run.status == "failed":
        st.error(t("live.failed", error=run.error or t("live.no_error")))
        tail = _log_tail(run)
        if tail:
            st.code(tail, language=None)
    _buttons(run, session_key)
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**" + t("live.curve." + run.kind) + "**")
        if chart is None:
            st.caption(t("live.no_curve"))
        else:
            st.line_chart(chart)
    with right:
        _evaluation(run)
    seen_key = f"live.status_seen.{run.id}"
    before = st.session_state.get(seen_key)
    st.session_state[seen_key] = _alive(run)
    if before and not _alive(run):
        st.rerun()  # the whole page: the panel stops polling a run that has ended


def live_panel(kind: str, session_key: str) -> None:
    """The panel: pick a run of ``kind`` and follow it (reruns every few seconds while it is alive)."""
    st.header(t("live.title"))
    run = pick_run(kind, session_key)
    if run is None:
        st.info(t("live.none_" + kind))
        return
    every = REFRESH_S if _alive(run) else None

    @st.fragment(run_every=every)
    def panel() -> None:
        render_run(run, session_key)

    panel()
