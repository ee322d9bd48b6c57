"""Curves of several runs in one chart, for the runs page: seeds of one setup drawn as a mean with a band.

The math (which metric, the moving average, which runs are seeds of one setup) is ``playground.compare``'s,
the statistics ``playground.stats``'s; this module only arranges the store's rows into long tables (step,
value, band) and Altair charts. Runs whose configs are equal except for the seed are one *group*: its line is
the mean of their smoothed curves, read at the steps of its first run and only up to where every run of the
group has got, and its band is min–max or ±std.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from playground.compare import group_by_setup, smooth, window_for  # one grouping of seeds, shared with stats
from playground.store import Run, Store, get_store

BANDS = ("minmax", "std")


def label(run: Run) -> str:
    return f"{run.id} ({run.label})" if run.label else run.id


def group_label(group: Sequence[Run], seeds_word: str = "seeds") -> str:
    """``ppo-CartPole-1 + 2 (3 seeds)``: the first run and how many runs the line averages."""
    if len(group) == 1:
        return label(group[0])
    return f"{group[0].id} +{len(group) - 1} ({len(group)} {seeds_word})"


def series(run: Run, metric: str, store: Store, smoothing: int) -> tuple[np.ndarray, np.ndarray]:
    rows = store.metrics(run.id, metric)
    steps = np.array([r[0] for r in rows], dtype=float)
    values = np.array([r[3] for r in rows], dtype=float)
    return steps, smooth(values, window_for(metric, len(values), smoothing))


def curve_rows(
    runs: Sequence[Run],
    metric: str,
    *,
    store: Store | None = None,
    smoothing: int = 0,
    group_seeds: bool = True,
    band: str = "minmax",
    seeds_word: str = "seeds",
) -> list[dict[str, Any]]:
    """One row per point: ``series``, ``step``, ``value`` and, for a group of seeds, ``low`` and ``high``."""
    store = store or get_store()
    groups = group_by_setup(runs) if group_seeds else [[r] for r in runs]
    rows: list[dict[str, Any]] = []
    for group in groups:
        curves = [c for c in (series(r, metric, store, smoothing) for r in group) if len(c[0])]
        if not curves:
            continue
        name = group_label(group, seeds_word) if len(curves) > 1 else label(group[0])
        if len(curves) == 1:
            steps, values = curves[0]
            rows += [{"series": name, "step": float(s), "value": float(v)} for s, v in zip(steps, values)]
            continue
        end = min(c[0][-1] for c in curves)
        grid = curves[0][0][curves[0][0] <= end]
        stack = np.stack([np.interp(grid, s, v) for s, v in curves])
        mean = stack.mean(axis=0)
        if band == "std":
            spread = stack.std(axis=0)
            low, high = mean - spread, mean + spread
        else:
            low, high = stack.min(axis=0), stack.max(axis=0)
        rows += [
            {"series": name, "step": float(s), "value": float(m), "low": float(lo), "high": float(hi)}
            for s, m, lo, hi in zip(grid, mean, low, high)
        ]
    return rows


def overlay(rows: list[dict[str, Any]], metric: str, x_title: str):  # type: ignore[no-untyped-def]
    """The lines, with their bands under them, as an Altair chart (drawn by ``st.altair_chart``)."""
    import altair as alt
    import pandas as pd

    data = pd.DataFrame(rows)
    color = alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400))
    x = alt.X("step:Q", title=x_title)
    lines = alt.Chart(data).mark_line().encode(
        x=x, y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)), color=color,
        tooltip=["series:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
    )
    if "low" not in data:
        return lines.interactive()
    bands = alt.Chart(data.dropna(subset=["low"])).mark_area(opacity=0.2).encode(
        x=x, y="low:Q", y2="high:Q", color=color)
    return alt.layer(bands, lines).interactive()


# -- statistics over seeds (playground.stats) -------------------------------------------------------
def iqm_rows(statistics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant: its IQM and interval (``low`` and ``high`` None without one)."""
    return [{"variant": v["name"], "label": f"{v['name']} (n={len(v['runs'])})", "iqm": v["iqm"],
             "low": v["ci"][0] if v["ci"] else None, "high": v["ci"][1] if v["ci"] else None,
             "interval": v["ci"] is not None}
            for v in statistics["variants"]]


def iqm_chart(rows: list[dict[str, Any]], x_title: str):  # type: ignore[no-untyped-def]
    """Each variant's IQM as a dot on its interval; a hollow dot where too few runs give no interval."""
    import altair as alt
    import pandas as pd

    data = pd.DataFrame(rows)
    # Both layers share the variants' order (the bars' layer lacks those without an interval) and the profile's
    # colours, by name.
    y = alt.Y("label:N", title=None, scale=alt.Scale(domain=[r["label"] for r in rows]),
              axis=alt.Axis(labelLimit=300, labelOverlap=False))
    color = alt.Color("variant:N", legend=None, scale=alt.Scale(domain=_names(rows)))
    bars = alt.Chart(data.dropna(subset=["low"])).mark_rule(size=8, opacity=0.45).encode(
        x=alt.X("low:Q", title=x_title, scale=alt.Scale(zero=False)), x2="high:Q", y=y, color=color)
    dots = alt.Chart(data).mark_point(size=90).encode(
        x=alt.X("iqm:Q", title=x_title, scale=alt.Scale(zero=False)), y=y, color=color,
        fill=alt.condition("datum.interval", alt.Fill("variant:N", legend=None, scale=alt.Scale(domain=_names(rows))),
                           alt.value("white")),
        tooltip=["label:N", alt.Tooltip("iqm:Q", format=".3g"), alt.Tooltip("low:Q", format=".3g"),
                 alt.Tooltip("high:Q", format=".3g")])
    return alt.layer(bars, dots).properties(height=max(160, 50 * len(rows)))


def _names(rows: list[dict[str, Any]]) -> list[str]:
    """The variants in the order of the statistics: one colour scale for the intervals and the profile."""
    return list(dict.fromkeys(r["variant"] for r in rows))


def profile_rows(statistics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant and threshold: the share of its runs above it, and the band where it has one."""
    profile = statistics["profile"]
    rows = []
    for curve in profile["curves"]:
        for i, tau in enumerate(profile["taus"]):
            rows.append({"variant": curve["name"], "tau": tau, "fraction": curve["fraction"][i],
                         "low": curve["low"][i] if curve["low"] else None,
                         "high": curve["high"][i] if curve["high"] else None})
    return rows


def profile_chart(rows: list[dict[str, Any]], x_title: str, y_title: str):  # type: ignore[no-untyped-def]
    """The performance profiles as lines over their bands."""
    import altair as alt
    import pandas as pd

    data = pd.DataFrame(rows)
    color = alt.Color("variant:N", title=None, scale=alt.Scale(domain=_names(rows)),
                      legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=300))
    x = alt.X("tau:Q", title=x_title)
    lines = alt.Chart(data).mark_line().encode(
        x=x, y=alt.Y("fraction:Q", title=y_title, scale=alt.Scale(domain=[0, 1])), color=color,
        tooltip=["variant:N", alt.Tooltip("tau:Q", format=".3g"), alt.Tooltip("fraction:Q", format=".2f")])
    banded = data.dropna(subset=["low"])
    if banded.empty:
        return lines
    bands = alt.Chart(banded).mark_area(opacity=0.2).encode(
        x=x, y="low:Q", y2="high:Q", color=color)
    return alt.layer(bands, lines)


# -- the hyperparameters that differ ---------------------------------------------------------------
def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"hyperparameters": {"lr": 1}}`` → ``{"hyperparameters.lr": 1}``."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def differing(runs: Sequence[Run]) -> dict[str, dict[str, str]]:
    """parameter → {run id → value as text} for every flattened config key whose values are not all equal.

    A key one run lacks counts as different and shows as an empty cell.
    """
    flat = {r.id: flatten(r.config) for r in runs}
    keys: list[str] = []
    for values in flat.values():
        keys += [k for k in values if k not in keys]
    out: dict[str, dict[str, str]] = {}
    for key in keys:
        seen = [flat[r.id].get(key, _MISSING) for r in runs]
        if len({json.dumps(v, sort_keys=True, default=str) if v is not _MISSING else None for v in seen}) > 1:
            out[key] = {r.id: "" if v is _MISSING else _text(v) for r, v in zip(runs, seen)}
    return out


_MISSING = object()


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
