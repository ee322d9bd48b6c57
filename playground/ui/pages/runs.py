"""Runs and compare: every run in the store in one filterable table; pick several to overlay their curves,
see the hyperparameters that differ and their evaluations side by side; stop or delete a run.

The page only reads the store (two queries for the whole table, however many runs) and calls
``playground.runs`` for the two actions; curves are drawn by ``playground.ui.charts``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import quote

import streamlit as st

from playground import access, compare, runs, stats
from playground.errors import PlaygroundError
from playground.store import Run, Store, get_store
from playground.ui import auth, charts
from playground.ui.common import error_text, page, shown_errors, t
from playground.ui.live import eta_text

NOTICE = "runs_notice"
SELECTED = "compare_runs"
RECORDED = "compare_recorded"
STATS = "compare_stats"


def status_text(status: str) -> str:
    """A run's status in the session's language (the store keeps the English word)."""
    return t(f"runs.status.{status}")


def _mean_std(ev: dict[str, Any] | None) -> str:
    return "" if ev is None else f"{ev['mean']:.2f} ± {ev['std']:.2f}"


def _row(r: dict[str, Any], run: Run) -> dict[str, Any]:
    return {
        "id": r["id"],
        "name": r["name"] or "",
        "owner": access.owner(run),
        "kind": r["kind"],
        "algo": r["algo"],
        "env": r["env"],
        "status": status_text(r["status"]),
        "seeds": "" if r["seed"] is None else str(r["seed"]),
        "step": r["step"],
        "total": r["total_steps"],
        "last_eval": r["last_eval"]["mean"] if r["last_eval"] else None,
        "best_eval": r["best_eval"]["mean"] if r["best_eval"] else None,
        "best_spread": None,
        "fd": (r.get("last_quality") or {}).get("fd"),
        "speed": run.steps_per_s,
        "eta": eta_text(run) if r["status"] == "running" else None,
        "created": r["created_at"],
    }


def _group_row(members: list[dict[str, Any]], by_id: dict[str, Run]) -> dict[str, Any]:
    """A seeds group as one row: its id, ``n seeds`` and which, its runs' statuses, their steps added up, and the
    mean ± std over its runs of each one's best evaluation."""
    first = members[0]
    summary = runs.group_summary(members)
    statuses = [m["status"] for m in members]
    seeds = t("ray.group_line", count=len(members))
    status = (status_text(statuses[0]) if len(set(statuses)) == 1
              else ", ".join(f"{statuses.count(s)} {status_text(s)}" for s in dict.fromkeys(statuses)))
    return {
        **_row(first, by_id[first["id"]]),
        "id": first["group_id"],
        "name": f"{first['name']} · {seeds}" if first["name"] else seeds,
        "status": status,
        "seeds": ", ".join(str(s) for s in summary["seeds"]),
        "step": sum(m["step"] for m in members),
        "total": sum(m["total_steps"] or 0 for m in members),
        "last_eval": None,
        "best_eval": summary["mean"],
        "best_spread": summary["std"],
        "speed": None,
        "eta": None,
    }


def _rows(records: list[dict[str, Any]], by_id: dict[str, Run], expand: bool) -> list[dict[str, Any]]:
    """One row per run, and one per seeds group where its first run stands (its runs below it when ``expand``)."""
    members: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("group_id"):
            members.setdefault(r["group_id"], []).append(r)
    rows = []
    for r in records:
        group = r.get("group_id")
        if not group:
            rows.append(_row(r, by_id[r["id"]]))
        elif members[group][0] is r:
            rows.append(_group_row(members[group], by_id))
            if expand:
                rows.extend({**_row(m, by_id[m["id"]]), "id": f"└ {m['id']}"} for m in members[group])
    return rows


def _table(records: list[dict[str, Any]], by_id: dict[str, Run]) -> None:
    """The runs, one row each and a seeds group in one (its runs on a toggle); speed and time left are the
    trainer's own (stored with its heartbeat)."""
    expand = False
    if any(r.get("group_id") for r in records):
        expand = st.toggle(t("ray.ui_expand"), key="runs.expand_groups", help=t("ray.ui_expand_help"))
    rows = _rows(records, by_id, expand)
    labels = {key: t(f"runs.col.{key}") for key in rows[0]}
    config = {key: st.column_config.Column(label) for key, label in labels.items()}
    config["last_eval"] = st.column_config.NumberColumn(labels["last_eval"], format="%.2f")
    config["best_eval"] = st.column_config.NumberColumn(labels["best_eval"], format="%.2f")
    config["best_spread"] = st.column_config.NumberColumn(labels["best_spread"], format="± %.2f",
                                                          help=t("ray.ui_spread_help"))
    config["fd"] = st.column_config.NumberColumn(labels["fd"], format="%.2f")
    config["speed"] = st.column_config.NumberColumn(labels["speed"], format="%.1f", help=t("live.speed_help"))
    st.dataframe(rows, hide_index=True, width="stretch", column_config=config)


def _filtered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The filters above the table; an empty choice means every value."""
    search, status, kind, algo, env = st.columns([3, 2, 1, 2, 2])
    text = search.text_input(t("runs.search"), placeholder=t("runs.search_hint")).strip().lower()
    chosen = {
        "status": status.multiselect(t("runs.col.status"), sorted({r["status"] for r in records}),
                                     placeholder=t("runs.all"), format_func=status_text),
        "kind": kind.multiselect(t("runs.col.kind"), sorted({r["kind"] for r in records}), placeholder=t("runs.all")),
        "algo": algo.multiselect(t("runs.col.algo"), sorted({r["algo"] for r in records}), placeholder=t("runs.all")),
        "env": env.multiselect(t("runs.col.env"), sorted({r["env"] for r in records}), placeholder=t("runs.all")),
    }
    out = []
    for r in records:
        if any(values and r[field] not in values for field, values in chosen.items()):
            continue
        haystack = " ".join(str(r[f] or "") for f in ("id", "name", "algo", "env", "game", "status")).lower()
        if text and text not in haystack:
            continue
        out.append(r)
    return out


def _default_metric(chosen: list[Run], keys: list[str], store: Store) -> str:
    try:
        return compare.pick_metric(chosen, store)
    except PlaygroundError:
        return next((k for k in compare.DEFAULT_METRICS if k in keys), keys[0])


def _curves(chosen: list[Run], store: Store) -> None:
    keys = sorted(set().union(*(store.metric_keys(r.id) for r in chosen)))
    if not keys:
        st.info(t("compare.no_curves"))
        return
    default = _default_metric(chosen, keys, store)
    metric_col, smooth_col, group_col, band_col = st.columns([3, 2, 2, 2])
    metric = metric_col.selectbox(t("compare.metric"), keys, index=keys.index(default))
    smoothing = smooth_col.slider(t("compare.smoothing"), 0, 100, 0, help=t("compare.smoothing_help"))
    group = group_col.checkbox(t("compare.group_seeds"), value=True, help=t("compare.group_seeds_help"))
    band = band_col.radio(t("compare.band"), charts.BANDS, format_func=lambda b: t(f"compare.band_{b}"),
                          horizontal=True, disabled=not group)
    rows = charts.curve_rows(chosen, metric, store=store, smoothing=smoothing, group_seeds=group, band=band,
                             seeds_word=t("compare.seeds"))
    if not rows:
        st.info(t("compare.no_metric", metric=metric))
        return
    x_title = t("compare.x_iterations") if all(r.kind == "gan" for r in chosen) else t("compare.x_steps")
    st.altair_chart(charts.overlay(rows, metric, x_title), width="stretch")
    if group:
        for members in charts.group_by_setup(chosen):
            if len(members) > 1:
                st.caption(t("compare.grouped", runs=", ".join(r.id for r in members)))
    if len(chosen) >= 2:  # the game counts comparisons: once per set of runs and metric in this session
        done = st.session_state.setdefault(RECORDED, set())
        key = (tuple(sorted(r.id for r in chosen)), metric)
        if key not in done:
            compare.record_comparison(chosen, metric, store, player=auth.player())
            done.add(key)


def _hyperparameters(chosen: list[Run]) -> None:
    st.subheader(t("compare.params"))
    diff = charts.differing(chosen)
    if not diff:
        st.caption(t("compare.params_same"))
        return
    rows = [{t("compare.param"): key, **values} for key, values in diff.items()]
    st.dataframe(rows, hide_index=True, width="stretch")


def _evaluations(chosen: list[Run], records: dict[str, dict[str, Any]], store: Store) -> None:
    st.subheader(t("compare.evals"))
    rows = []
    for run in chosen:
        r = records[run.id]
        last, best = r["last_eval"], r["best_eval"]
        row: dict[str, Any] = {
            t("compare.col.run"): run.id,
            t("runs.col.status"): status_text(run.status),
            t("runs.col.step"): run.step,
            t("compare.col.latest"): _mean_std(last),
            t("compare.col.best"): _mean_std(best),
            t("compare.col.games"): last["n_episodes"] if last else None,
            t("compare.col.checkpoint"): best["step"] if best else None,
        }
        if run.kind == "gan":
            for key in store.metric_keys(run.id):
                if key.startswith("eval/"):
                    row[key] = store.metrics(run.id, key)[-1][3]
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")


def _compare(filtered: list[dict[str, Any]], by_id: dict[str, Run], records: dict[str, dict[str, Any]],
             store: Store) -> None:
    st.header(t("compare.title"))
    kept = [i for i in st.session_state.get(SELECTED, []) if i in by_id]
    options = kept + [r["id"] for r in filtered if r["id"] not in kept]
    ids = st.multiselect(t("compare.pick"), options, key=SELECTED, placeholder=t("compare.pick_hint"),
                         format_func=lambda i: charts.label(by_id[i]))
    if not ids:
        st.caption(t("compare.pick_help"))
        return
    chosen = [by_id[i] for i in ids]
    _curves(chosen, store)
    if len(chosen) >= 2 and any(r.kind != "gan" for r in chosen):
        _statistics(chosen, store)
    if len(chosen) >= 2:
        _hyperparameters(chosen)
    _evaluations(chosen, records, store)


@st.cache_data(show_spinner=False, max_entries=32)
def _analysed(variants: str, left_out: tuple[str, ...]) -> dict[str, Any]:
    """``stats.analyse`` of the variants (as JSON, to key the cache): a rerun of the page bootstraps nothing."""
    return stats.analyse([stats.Variant(**v) for v in json.loads(variants)], left_out)


def _statistics(chosen: list[Run], store: Store) -> None:
    """IQM intervals, P(X > Y) and performance profiles of the chosen runs' final scores, when asked for: rliable
    takes a second or two to import, and the bootstrap a few more."""
    st.caption(t("stats.band_link"))
    if not st.toggle(t("stats.show"), key=STATS, help=t("stats.show_help")):
        return
    found, left_out = stats.variants(chosen, store)
    with st.spinner(t("stats.computing", reps=f"{stats.REPS:,}")):
        result = _analysed(json.dumps([dataclasses.asdict(v) for v in found]), tuple(left_out))
    st.subheader(t("stats.title"))
    for words in stats.notes(result):
        st.warning(t(words.key, **words.values))
    if not result["variants"]:
        return
    confidence = round(100 * result["confidence"])
    scale = t(stats.scale_key(result))
    no_ci = t("stats.no_ci")
    iqm_col, profile_col = st.columns(2)
    iqm_col.markdown(f"**{t('stats.fig_iqm', confidence=confidence)}**")
    iqm_col.altair_chart(charts.iqm_chart(charts.iqm_rows(result), scale), width="stretch")
    iqm_title = t("stats.col_iqm", confidence=confidence)
    iqm_col.dataframe([{t("stats.col_variant"): v["name"], t("stats.col_runs"): len(v["runs"]),
                        t("stats.col_score"): t(f"stats.score_{v['normalisation']}"),
                        iqm_title: stats.interval_text(v["iqm"], v["ci"], no_ci)}
                       for v in result["variants"]], hide_index=True, width="stretch",
                      column_config={iqm_title: st.column_config.TextColumn(iqm_title, width="large")})
    profile_col.markdown(f"**{t('stats.fig_profile')}**")
    profile_col.altair_chart(charts.profile_chart(charts.profile_rows(result), f"{t('stats.fig_tau')}: {scale}",
                                                  t("stats.fig_fraction")), width="stretch")
    if result["pairs"]:
        st.markdown(f"**{t('stats.pairs')}**")
        st.dataframe([{"X": p["x"], "Y": p["y"], t("stats.col_probability", confidence=confidence):
                       stats.interval_text(p["probability"], p["ci"], no_ci)} for p in result["pairs"]],
                     hide_index=True, width="stretch")
    st.caption(t("stats.what", confidence=confidence))


# -- actions ---------------------------------------------------------------------------------------
def _stop(run_id: str) -> None:
    try:
        runs.request_stop(run_id, actor=auth.actor())
        st.session_state[NOTICE] = ("success", t("runs.stop_sent", run=run_id))
    except PlaygroundError as exc:
        st.session_state[NOTICE] = ("error", error_text(exc))


def _delete(run_id: str) -> None:
    try:
        runs.delete(run_id, actor=auth.actor())
        st.session_state[NOTICE] = ("success", t("runs.deleted", run=run_id))
        st.session_state[SELECTED] = [i for i in st.session_state.get(SELECTED, []) if i != run_id]
    except PlaygroundError as exc:
        st.session_state[NOTICE] = ("error", error_text(exc))


def _privacy(run_id: str) -> None:
    try:
        runs.set_private(run_id, bool(st.session_state[f"private_{run_id}"]), actor=auth.actor())
    except PlaygroundError as exc:
        st.session_state[NOTICE] = ("error", error_text(exc))


def _actions(by_id: dict[str, Run]) -> None:
    with st.expander(t("runs.manage")):
        run_id = st.selectbox(t("runs.manage_pick"), list(by_id), key="manage_run",
                              format_func=lambda i: charts.label(by_id[i]))
        if run_id is None:
            return
        run = by_id[run_id]
        if auth.served():  # where the server keeps its files is not the class's business
            st.caption(status_text(run.status))
        else:
            st.caption(t("runs.manage_status", status=status_text(run.status), folder=run.folder))
        st.markdown(f"[{t('runs.watch_link')}](watch?run={quote(run_id)})")
        if not access.may_manage(auth.actor(), run):  # someone else's: to look at and learn from, not to change
            st.caption(t("runs.someone_elses", owner=access.owner(run)))
            return
        if auth.served():
            st.toggle(t("runs.private"), value=run.private, key=f"private_{run_id}", on_change=_privacy,
                      args=(run_id,), help=t("runs.private_help"))
        if run.status == "running":
            st.button(t("runs.stop"), on_click=_stop, args=(run_id,), help=t("runs.stop_help"))
            return
        sure = st.checkbox(t("runs.delete_confirm", run=run_id), key=f"delete_sure_{run_id}")
        st.button(t("runs.delete"), on_click=_delete, args=(run_id,), disabled=not sure, type="primary")


def render() -> None:
    page("nav.runs")
    notice = st.session_state.pop(NOTICE, None)
    if notice is not None:
        getattr(st, notice[0])(notice[1])
    with shown_errors():
        store = get_store()
        # Newest first; on a served app another person's private runs are not there at all.
        run_list = access.visible(auth.actor(), list(reversed(runs.list_runs(store))))
        if not run_list:
            st.info(t("runs.empty"))
            return
        records = runs.records(run_list, store)
        by_id = {r.id: r for r in run_list}
        by_record = {r["id"]: r for r in records}
        filtered = _filtered(records)
        if filtered:
            _table(filtered, by_id)
        else:
            st.info(t("runs.none_match"))
        st.caption(t("runs.count", shown=len(filtered), total=len(records)))
        _compare(filtered, by_id, by_record, store)
        _actions(by_id)


render()
