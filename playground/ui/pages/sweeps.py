"""Sweeps: start a hyperparameter sweep from a form, follow its trials live, see which settings mattered, and train
the best settings with more seeds.

The page never loads Ray, Optuna or the engine: it reads sweeps and their trials from the store (``playground.sweeps``
reads without them) and starts, resumes and exports through short ``playground sweep …`` children (the sweep itself
is driven by a background process, ``--detach``). Optuna's importances are the driver's, stored when a sweep ends, or
a child's (``playground _ui sweep-importances``) while it runs. A sweep's trials are redrawn every ``REFRESH_S``
seconds while it runs, as the live panel of a run is.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from playground import sweeps
from playground.errors import PlaygroundError
from playground.store import get_store
from playground.ui import auth
from playground.ui.common import error_text, lang, page, shown_errors, t

REFRESH_S = 5.0
SELECTED = "sweeps.selected"
NOTICE = "sweeps.notice"
IMPORTANCES = "sweeps.importances"  # session state: sweep id -> the importances a child computed
ALGOS = ("ppo", "a2c", "sb3-dqn", "dqn")
MORE_SEEDS = 3


def _child(args: list[str]) -> str:
    """``playground ARGS`` in a short child, speaking this session's language, acting for its person."""
    from playground import jobs

    return jobs.run_cli(args, lang=lang(), env=auth.child_env())


def _started(output: str) -> str:
    """The id a ``… --detach --json`` child printed on its first line; the driver it started (the JSON after it
    names its pid) is collected when it ends, should it become this process's child (a server that is init)."""
    from playground import jobs

    first, _, rest = output.strip().partition("\n")
    try:
        pid = int(json.loads(rest)["pid"])
    except (ValueError, KeyError, TypeError):
        pid = None
    if not first.startswith("sweep-") or pid is None:
        raise PlaygroundError("sweeps.unreadable_start", said=output.strip()[:200] or "—")
    jobs._reap_if_ours(pid)
    return first


def _may_manage(row: dict[str, Any]) -> bool:
    """On this computer everything is the person's own; on a served app a sweep is its starter's (and teachers')."""
    actor = auth.actor()
    return actor is None or actor.teacher or row.get("player") == actor.name


def _status(status: str) -> str:
    return t(f"sweeps_page.status.{status}")


# -- the form -----------------------------------------------------------------------------------------------------
def _default_lines(algo: str, env: str) -> str:
    try:
        found = sweeps.default_space(algo, env.strip(), env.strip().startswith("ALE/"))
    except PlaygroundError:
        found = None
    return "\n".join(found.lines()) if found is not None else ""


def _form() -> None:
    st.subheader(t("sweeps_page.new"))
    left, right = st.columns(2)
    algo = left.selectbox(t("sweeps_page.algo"), ALGOS, key="sweeps.algo")
    env = right.text_input(t("sweeps_page.env"), "CartPole-v1", key="sweeps.env")
    prefill = _default_lines(algo, env)
    # The space box follows the algorithm and environment until the person types in it.
    if st.session_state.get("sweeps.space_for") != (algo, env):
        st.session_state["sweeps.space_for"] = (algo, env)
        st.session_state["sweeps.space"] = prefill
    with st.form("sweeps.form"):
        a, b, c, d = st.columns(4)
        trials = a.number_input(t("sweeps_page.trials"), min_value=1, max_value=sweeps.MAX_TRIALS, value=8, step=1)
        seeds = b.number_input(t("sweeps_page.seeds"), min_value=1, max_value=sweeps.MAX_SEEDS, value=1, step=1,
                               help=t("sweeps_page.seeds_help"))
        budget = c.text_input(t("sweeps_page.budget"), "", help=t("sweeps_page.budget_help"))
        metric = d.selectbox(t("sweeps_page.metric"), sweeps.METRICS,
                             format_func=lambda m: t(f"sweeps_page.metric.{m}"))
        space = st.text_area(t("sweeps_page.space"), key="sweeps.space", height=140, help=t("sweeps_page.space_help"))
        on = st.text_input(t("sweeps_page.on"), "", help=t("sweeps_page.on_help"))
        submitted = st.form_submit_button(t("sweeps_page.start"), type="primary")
    if not submitted:
        return
    options = [f"--trials={int(trials)}", f"--seeds={int(seeds)}", f"--metric={metric}"]
    options += [f"--budget-steps={budget.strip()}"] if budget.strip() else []
    options += [f"--space={line.strip()}" for line in space.splitlines() if line.strip()]
    options += [f"--on={on.strip()}"] if on.strip() else []
    with shown_errors(), st.spinner(t("sweeps_page.starting")):
        sweep_id = _started(_child(["sweep", "start", "--detach", "--json", *options, "--", algo, env.strip()]))
        st.session_state[SELECTED] = sweep_id
        st.session_state[NOTICE] = t("sweeps_page.started", sweep=sweep_id)
        st.rerun()


# -- the list and one sweep ---------------------------------------------------------------------------------------
def _list(rows: list[dict[str, Any]]) -> str | None:
    records = [sweeps.record(row) for row in rows]
    st.dataframe(pd.DataFrame([{
        t("sweeps_page.col.sweep"): r["id"], t("sweeps_page.col.status"): _status(r["status"]),
        t("sweeps_page.col.what"): f"{r['algo']} · {r['env']}",
        t("sweeps_page.col.trials"): f"{r['trials_done']}/{r['trials_started']}/{r['trials']}",
        t("sweeps_page.col.best"): r["best_value"], t("sweeps_page.col.best_run"): r["best_run"] or "",
    } for r in reversed(records)]), hide_index=True, width="stretch")
    ids = [r["id"] for r in reversed(records)]
    current = st.session_state.get(SELECTED)
    if current not in ids:
        running = [r["id"] for r in reversed(records) if r["status"] == "running"]
        current = (running or ids)[0]
    chosen = st.selectbox(t("sweeps_page.pick"), ids, index=ids.index(current), key="sweeps.pick")
    st.session_state[SELECTED] = chosen
    return chosen


def _trials_frame(views: list[sweeps.TrialView], budget: int, metric: str) -> pd.DataFrame:
    return pd.DataFrame([{
        t("sweeps_page.col.trial"): v.trial, t("sweeps_page.col.status"): _status(v.status),
        t("sweeps_page.col.steps"): min(1.0, v.steps / budget) if budget else 0.0,
        t("sweeps_page.col.step"): v.steps, metric: v.value, t("sweeps_page.col.best"): v.best,
        t("sweeps_page.col.node"): v.node, t("sweeps_page.col.runs"): ", ".join(v.runs),
        **{key: value for key, value in v.settings.items()},
        t("sweeps_page.col.error"): v.error or "",
    } for v in views])


def parallel_coordinates(views: list[sweeps.TrialView], ranges: dict[str, sweeps.Range],
                         metric: str) -> alt.LayerChart | None:
    """One line per trial with a result across one axis per searched setting (its place in its range, log scale
    for loguniform) and the metric last, coloured by the metric: which settings the good trials share."""
    done = [v for v in views if v.value is not None]
    if not done:
        return None
    low = min(float(v.value) for v in done)  # type: ignore[arg-type]
    high = max(float(v.value) for v in done)  # type: ignore[arg-type]
    rows = []
    for v in done:
        for order, (key, found) in enumerate(ranges.items()):
            position = found.position(v.settings.get(key))
            if position is not None:
                rows.append({"trial": v.trial, "axis": key, "order": order, "position": position,
                             "value": v.settings.get(key), metric: v.value})
        rows.append({"trial": v.trial, "axis": metric, "order": len(ranges),
                     "position": (float(v.value) - low) / (high - low) if high > low else 0.5,  # type: ignore[arg-type]
                     "value": round(float(v.value), 2), metric: v.value})  # type: ignore[arg-type]
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype(str)
    axes = [*ranges, metric]
    x = alt.X("axis:N", sort=axes, title=None, axis=alt.Axis(labelAngle=0))
    lines = alt.Chart(frame).mark_line(opacity=0.8).encode(
        x=x, y=alt.Y("position:Q", axis=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(f"{metric}:Q", scale=alt.Scale(scheme="viridis")), detail="trial:N",
        tooltip=["trial:N", "axis:N", "value:N", f"{metric}:Q"])
    rules = alt.Chart(pd.DataFrame({"axis": axes})).mark_rule(color="#999").encode(x=x)
    return (rules + lines).properties(height=320)


def _importances(sweep_id: str, stored: dict[str, float] | None) -> None:
    """Optuna's importances: the driver's, stored when the sweep ended; before that, a child's on request."""
    st.markdown("**" + t("sweeps_page.importances") + "**")
    found = stored if stored is not None else st.session_state.get(IMPORTANCES, {}).get(sweep_id)
    if stored is None and st.button(t("sweeps_page.importances_compute"), key=f"sweeps.importances.{sweep_id}",
                                    help=t("sweeps_page.importances_help")):
        with shown_errors(), st.spinner(t("sweeps_page.importances_computing")):
            found = json.loads(_child(["_ui", "sweep-importances", sweep_id]))
            st.session_state.setdefault(IMPORTANCES, {})[sweep_id] = found
    if found is None:
        st.caption(t("sweeps_page.importances_none_yet"))
    elif not found:
        st.caption(t("sweeps_page.importances_too_few"))
    else:
        frame = pd.DataFrame({"setting": list(found), "importance": list(found.values())})
        st.altair_chart(alt.Chart(frame).mark_bar().encode(
            x=alt.X("importance:Q", title=t("sweeps_page.importance")), y=alt.Y("setting:N", sort="-x", title=None)),
            width="stretch")


def _buttons(row: dict[str, Any], views: list[sweeps.TrialView]) -> None:
    if not _may_manage(row):
        st.caption(t("sweeps_page.someone_elses", owner=row.get("player") or "?"))
        return
    if row["status"] == "running":
        if row["stop_requested"]:
            st.info(t("sweeps_page.stop_asked"))
        elif st.button(t("sweeps_page.stop"), key=f"sweeps.stop.{row['id']}", help=t("sweeps_page.stop_help")):
            with shown_errors():
                sweeps.request_stop(row["id"])
                st.session_state[NOTICE] = t("sweeps_page.stop_asked")
                st.rerun()
    elif row["status"] in ("stopped", "failed"):
        if st.button(t("sweeps_page.resume"), key=f"sweeps.resume.{row['id']}"):
            with shown_errors(), st.spinner(t("sweeps_page.starting")):
                _started(_child(["sweep", "resume", "--detach", "--json", "--", row["id"]]))
                st.session_state[NOTICE] = t("sweeps_page.resumed", sweep=row["id"])
                st.rerun()
    if any(v.value is not None for v in views):
        _train_best(row)


def _train_best(row: dict[str, Any]) -> None:
    """Export the best trial's settings as a preset of one's own, and train them with more seeds (a seeds group)."""
    st.markdown("**" + t("sweeps_page.best_title") + "**")
    name = st.text_input(t("sweeps_page.preset_name"), f"{row['id'].removeprefix('sweep-')}-best",
                         key=f"sweeps.preset.{row['id']}", help=t("sweeps_page.preset_help"))
    if st.button(t("sweeps_page.train_best", seeds=MORE_SEEDS), key=f"sweeps.train_best.{row['id']}", type="primary"):
        with shown_errors(), st.spinner(t("sweeps_page.starting")):
            _child(["sweep", "export", "--force", "--preset", name.strip(), "--", row["id"]])
            said = _child(["rl", "train", "--detach", "--json", "--preset", name.strip(), "--seeds", str(MORE_SEEDS),
                           "--", row["algo"], row["env"]])
            started = [line.strip() for line in said.splitlines() if line.strip().startswith(f"{row['algo']}-")]
            st.success(t("sweeps_page.best_started", preset=name.strip(), runs=", ".join(started[:MORE_SEEDS]) or "?"))


def _sweep(sweep_id: str) -> None:
    """One sweep, redrawn while it runs: its head, its trials, the plot, the importances and its buttons."""
    try:
        row = sweeps.get(sweep_id)
    except PlaygroundError as exc:
        st.error(error_text(exc))
        return
    running = row["status"] == "running"

    @st.fragment(run_every=REFRESH_S if running else None)
    def live() -> None:
        current = sweeps.get(sweep_id)
        if current["status"] != row["status"]:
            st.rerun()  # the page: the list above and the buttons below follow the new status
        config = sweeps.SweepConfig.model_validate(current["config"])
        views = sweeps.trials(sweep_id)
        record = sweeps.record(current)
        cols = st.columns(4)
        cols[0].metric(t("sweeps_page.col.status"), _status(current["status"]))
        cols[1].metric(t("sweeps_page.col.trials"), f"{record['trials_done']}/{config.trials}",
                       help=t("sweeps_page.trials_help", started=record["trials_started"]))
        cols[2].metric(t("sweeps_page.best_metric", metric=config.metric),
                       f"{current['best_value']:.1f}" if current["best_value"] is not None else "—")
        cols[3].metric(t("sweeps_page.budget_each"), f"{config.budget_steps:,}")
        st.caption(t("sweeps_page.space_line", space="; ".join(config.space), source=config.space_from))
        if current["error"]:
            st.error(current["error"])
        if not views:
            st.info(t("sweeps_page.no_trials_yet"))
        else:
            st.dataframe(_trials_frame(views, config.budget_steps, config.metric), hide_index=True, width="stretch",
                         column_config={t("sweeps_page.col.steps"): st.column_config.ProgressColumn(
                             t("sweeps_page.col.steps"), min_value=0.0, max_value=1.0)})
        chart = parallel_coordinates(views, config.ranges(), config.metric)
        if chart is not None:
            st.markdown("**" + t("sweeps_page.parallel") + "**")
            st.altair_chart(chart, width="stretch")
        _importances(sweep_id, sweeps.stored_importances(sweep_id))
        _buttons(current, views)

    live()


def render() -> None:
    page("nav.sweeps")
    st.caption(t("sweeps_page.intro"))
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(notice)
    _form()
    st.divider()
    with shown_errors():
        rows = [sweeps.refresh(row) for row in get_store().sweeps()]
        if not rows:
            st.info(t("sweeps_page.none"))
            return
        chosen = _list(rows)
        if chosen is not None:
            _sweep(chosen)


render()
