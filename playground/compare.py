"""Curves of several runs in one picture: PNG, SVG, or a self-contained HTML page."""

from __future__ import annotations

import functools
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from playground import events
from playground.atomic import atomic_write_bytes
from playground.errors import PlaygroundError
from playground.i18n import say, translate
from playground.store import Run, Store, get_store

DEFAULT_METRICS = ("eval/mean", "episode/score", "rollout/ep_rew_mean", "eval/fd", "loss/g")  # GANs: the last two
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


@functools.cache
def _cjk_font() -> str | None:
    """The first installed font of ``CJK_FONTS``, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _axis_label(ax, key: str) -> None:  # type: ignore[no-untyped-def]
    """The x axis's title in this process's language, or in English where no installed font can draw it."""
    text = say(key)
    if text.isascii():
        ax.set_xlabel(text)
    elif (font := _cjk_font()) is not None:
        ax.set_xlabel(text, fontfamily=[font, "sans-serif"])
    else:
        ax.set_xlabel(translate(key, "en"))


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
        window = smoothing or (max(1, len(values) // 20) if metric == "episode/score" else 1)
        ax.plot(steps, smooth(values, window), label=f"{run.id}" + (f" ({run.label})" if run.label else ""))
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


def write(runs: Sequence[Run], out: Path, metric: str | None = None, store: Store | None = None) -> Path:
    """Write the comparison to ``out``; the suffix (.png, .svg, .html) picks the format."""
    import matplotlib.pyplot as plt

    store = store or get_store()
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg", ".html"):
        raise PlaygroundError("compare.bad_out", name=out.name)
    metric = metric or pick_metric(runs, store)
    fig = figure(runs, metric, store)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg" if suffix != ".png" else "png")
    plt.close(fig)
    data = buffer.getvalue()
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
            "</body></html>"
        )
        data = page.encode()
    atomic_write_bytes(out, data)
    record_comparison(runs, metric, store)
    return out
