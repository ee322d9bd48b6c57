"""Curves of several runs in one picture: PNG, SVG, or a self-contained HTML page; with the statistics of
``playground.stats``, a second picture (IQM intervals and the performance profile) beside it, or in the page."""

from __future__ import annotations

import functools
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from playground import events
from playground.atomic import atomic_write_bytes
from playground.errors import PlaygroundError
from playground.i18n import say, translate
from playground.runs import GAME_SCORE
from playground.store import Run, Store, get_store

DEFAULT_METRICS = ("eval/mean", GAME_SCORE, "rollout/ep_rew_mean", "eval/fd", "loss/g")  # GANs: the last two
# Fonts that draw Chinese, the first one installed labels a picture in Chinese (matplotlib's own cannot).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")


def pick_metric(runs: Sequence[Run], store: Store) -> str:
    """The first of the usual score curves that every run has."""
    keys = [set(store.metric_keys(r.id)) for r in runs]
    for key in DEFAULT_METRICS:
        if all(key in k for k in keys):
            return key
    raise PlaygroundError("compare.no_shared_curve")


def setup_key(run: Run) -> str:
    """What a run is apart from its seed: kind, algorithm, environment and config without ``seed``."""
    config = {k: v for k, v in run.config.items() if k != "seed"}
    return json.dumps([run.kind, run.algo, run.env, config], sort_keys=True, default=str)


def group_by_setup(runs: Sequence[Run]) -> list[list[Run]]:
    """Runs that differ only by seed, grouped (by ``setup_key``) in the order their first run appears: the
    runs page draws each group as one line with a band, and ``playground.stats`` treats each as one variant."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(setup_key(run), []).append(run)
    return list(groups.values())


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average; the first points average what exists so far."""
    if window <= 1 or len(values) == 0:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def window_for(metric: str, n: int, smoothing: int) -> int:
    """The user's window, or the default: training games' scores are noisy (a twentieth of the points), other curves
    are drawn as they are. The picture and the Runs page draw with the same one."""
    if smoothing:
        return smoothing
    return max(1, n // 20) if metric == GAME_SCORE else 1


@functools.cache
def _cjk_font() -> str | None:
    """The first installed font of ``CJK_FONTS``, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _words(key: str, **values: Any) -> tuple[str, dict[str, Any]]:
    """A picture's text in this process's language with a font that draws it, or in English where none can."""
    text = say(key, **values)
    if text.isascii():
        return text, {}
    if (font := _cjk_font()) is not None:
        return text, {"fontfamily": [font, "sans-serif"]}
    return translate(key, "en", **values), {}


def _axis_label(ax, key: str) -> None:  # type: ignore[no-untyped-def]
    """The x axis's title in this process's language, or in English where no installed font can draw it."""
    text, font = _words(key)
    ax.set_xlabel(text, **font)


def figure(runs: Sequence[Run], metric: str, store: Store | None = None, smoothing: int = 0):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    store = store or get_store()
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    plotted = 0
    for run in runs:
        rows = store.metrics(run.id, metric)
        if not rows:
            continue
        steps = np.array([r[0] for r in rows], dtype=float)
        values = np.array([r[3] for r in rows], dtype=float)
        label = f"{run.id}" + (f" ({run.label})" if run.label else "")
        ax.plot(steps, smooth(values, window_for(metric, len(values), smoothing)), label=label)
        plotted += 1
    if not plotted:
        plt.close(fig)
        raise PlaygroundError("compare.metric_missing", metric=metric)
    _axis_label(ax, "compare.axis_iterations" if all(r.kind == "gan" for r in runs) else "compare.axis_steps")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def record_comparison(runs: Sequence[Run], metric: str, store: Store | None = None, player: str | None = None) -> None:
    """A ``runs_compared`` event (which runs, by ``player``: default this machine's profile), for the game's
    "compared with five others" badge.

    The CLI records it when it writes a comparison; a UI page calls it once per comparison it shows, naming the
    session's person.
    """
    from playground.game.profiles import active_player

    if player is None:
        try:
            player = active_player()
        except PlaygroundError:
            player = None
    events.record(store or get_store(), events.RunsCompared(runs=[r.id for r in runs], metric=metric, player=player))


def check_out(out: Path) -> str:
    """The picture's format from ``out``'s suffix, before any work is done for it."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg", ".html"):
        raise PlaygroundError("compare.bad_out", name=out.name)
    return suffix


def statistics_path(out: Path) -> Path:
    """Where the statistics picture of a PNG or SVG comparison goes: ``compare.png`` → ``compare-stats.png``."""
    return out.with_name(f"{out.stem}-stats{out.suffix}")


def statistics_figure(statistics: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Two panels: each variant's IQM with its interval (a hollow dot where too few runs give none), and the
    performance profile, the share of runs above each score, with its band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from playground import stats

    found = statistics["variants"]
    confidence = round(100 * statistics["confidence"])
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(found))]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(4.0, 1.6 + 0.45 * len(found))), dpi=100)
    scale, scale_font = _words(stats.scale_key(statistics))
    no_ci, no_ci_font = _words("stats.fig_no_ci", min_runs=statistics["min_runs"])
    for i, (variant, colour) in enumerate(zip(found, colours)):
        y = len(found) - 1 - i  # the first variant on top
        if variant["ci"] is not None:
            left.hlines(y, *variant["ci"], colors=[colour], linewidth=8, alpha=0.45)
            left.plot(variant["iqm"], y, "o", color=colour)
        else:
            left.plot(variant["iqm"], y, "o", markerfacecolor="none", color=colour)
    low, high = left.get_xlim()
    for i, variant in enumerate(found):
        if variant["ci"] is None:  # the words on the side of the dot with more room, so they stay in the panel
            right_half = variant["iqm"] > (low + high) / 2
            left.annotate(no_ci, (variant["iqm"], len(found) - 1 - i), textcoords="offset points",
                          xytext=(-6 if right_half else 6, 8), ha="right" if right_half else "left", fontsize=8,
                          color="dimgray", **no_ci_font)
    left.set_yticks(range(len(found)), [f"{v['name']} (n={len(v['runs'])})" for v in reversed(found)])
    left.set_ylim(-0.7, len(found) - 0.3)
    left.set_xlabel(scale, **scale_font)
    title, font = _words("stats.fig_iqm", confidence=confidence)
    left.set_title(title, **font)
    left.grid(axis="x", alpha=0.3)
    profile = statistics["profile"]
    for curve, colour in zip(profile["curves"], colours):
        right.plot(profile["taus"], curve["fraction"], color=colour, label=curve["name"])
        if curve["low"] is not None:
            right.fill_between(profile["taus"], curve["low"], curve["high"], color=colour, alpha=0.2, linewidth=0)
    right.set_ylim(-0.02, 1.02)
    tau, font = _words("stats.fig_tau")
    right.set_xlabel(f"{tau}: {scale}", **(font or scale_font))
    fraction, font = _words("stats.fig_fraction")
    right.set_ylabel(fraction, **font)
    title, font = _words("stats.fig_profile")
    right.set_title(title, **font)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _svg_or_png(fig, fmt: str) -> bytes:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    plt.close(fig)
    return buffer.getvalue()


def _statistics_html(statistics: dict[str, Any]) -> str:
    """The statistics picture and tables for the HTML page, and the sentences that go with them."""
    from playground import stats

    confidence = round(100 * statistics["confidence"])
    notes = "".join(f"<p>{html.escape(str(words))}</p>" for words in stats.notes(statistics))
    if not statistics["variants"]:
        return notes
    no_ci = say("stats.no_ci")
    variants = "".join(
        f"<tr><td>{html.escape(v['name'])}</td><td>{len(v['runs'])}</td>"
        f"<td>{html.escape(say('stats.score_' + v['normalisation']))}</td>"
        f"<td>{html.escape(stats.interval_text(v['iqm'], v['ci'], no_ci))}</td></tr>"
        for v in statistics["variants"])
    pairs = "".join(
        f"<tr><td>{html.escape(p['x'])}</td><td>{html.escape(p['y'])}</td>"
        f"<td>{html.escape(stats.interval_text(p['probability'], p['ci'], no_ci))}</td></tr>"
        for p in statistics["pairs"])
    head = "".join(f"<th>{html.escape(text)}</th>" for text in (
        say("stats.col_variant"), say("stats.col_runs"), say("stats.col_score"),
        say("stats.col_iqm", confidence=confidence)))
    picture = _svg_or_png(statistics_figure(statistics), "svg").decode()
    out = (f"<h2>{html.escape(say('stats.heading', reps=statistics['reps'], confidence=confidence))}</h2>{picture}"
           f"<table border='1'><tr>{head}</tr>{variants}</table>")
    if pairs:
        out += (f"<table border='1'><tr><th>X</th><th>Y</th>"
                f"<th>{html.escape(say('stats.col_probability', confidence=confidence))}</th></tr>{pairs}</table>")
    return out + notes + f"<p>{html.escape(say('stats.what', confidence=confidence))}</p>"


def write(runs: Sequence[Run], out: Path, metric: str | None = None, store: Store | None = None,
          statistics: dict[str, Any] | None = None) -> Path:
    """Write the comparison to ``out``; the suffix (.png, .svg, .html) picks the format.

    With ``statistics`` (``playground.stats.compare_runs``) that have variants, a PNG or SVG gets a second picture at
    ``statistics_path(out)``, and an HTML page the picture and its tables below the curves.
    """
    store = store or get_store()
    suffix = check_out(out)
    metric = metric or pick_metric(runs, store)
    data = _svg_or_png(figure(runs, metric, store), "svg" if suffix != ".png" else "png")
    if suffix == ".html":
        rows = "".join(
            f"<tr><td>{html.escape(r.id)}</td><td>{html.escape(r.algo)}</td><td>{html.escape(r.env)}</td>"
            f"<td>{html.escape(r.status)}</td><td>{r.step}</td></tr>"
            for r in runs
        )
        header = "".join(f"<th>{html.escape(say(key))}</th>" for key in (
            "compare.page_run", "compare.page_algo", "compare.page_env", "compare.page_status", "compare.page_step"))
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(metric)}</title></head><body>"
            f"<h1>{html.escape(metric)}</h1>{data.decode()}"
            f"<table border='1'><tr>{header}</tr>{rows}</table>"
            f"{_statistics_html(statistics) if statistics is not None else ''}"
            "</body></html>"
        )
        data = page.encode()
    elif statistics is not None and statistics["variants"]:
        atomic_write_bytes(statistics_path(out), _svg_or_png(statistics_figure(statistics), suffix[1:]))
    atomic_write_bytes(out, data)
    record_comparison(runs, metric, store)
    return out
