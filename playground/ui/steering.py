"""The Watch page's Steer tab: take hold of a generator's latent space and move it.

What a run offers comes from the warm sampler (``playground/ui/sampler.py``): an InfoGAN gets a picker
per categorical code and a slider per continuous code, a conditional DCGAN a class picker, and every
generator of images the path between two tiles of its grid and the arithmetic a − b + c of three.
Every change of a widget redraws through the sampler, which keeps the generator loaded; this process
never loads torch. The pictures go to ``<home>/steering/<browser session>/``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import streamlit as st

from playground import settings
from playground.errors import PlaygroundError
from playground.store import Run
from playground.ui.common import error_text, lang, shown_errors, t
from playground.ui import auth
from playground.ui.sampler import sampler

SESSION = "steer.session"  # session state: this browser session's folder name
SLIDER = (-2.0, 2.0, 0.1)  # continuous codes trained in [-1, 1]; the InfoGAN paper pushes them to ±2
SCALE = 3  # steered pictures are drawn 3 times larger, in crisp pixels (the numbered grid is already large)


def _folder() -> Path:
    if SESSION not in st.session_state:
        st.session_state[SESSION] = uuid.uuid4().hex[:12]
    return settings.home() / "steering" / st.session_state[SESSION]


def _show(run: Run, checkpoint: str, op: str, caption: str, scale: int = SCALE, **values: Any) -> None:
    with shown_errors(), st.spinner(t("watch.drawing")):
        path = sampler().draw(run.id, checkpoint, op, _folder() / f"{run.id}-{op}.png", lang(), scale=scale,
                              player=auth.player(), **values)
        st.image(str(path), caption=caption, output_format="PNG")


def _tiles(names: tuple[str, ...], key: str, controls: dict[str, Any], columns: list[Any]) -> list[int]:
    """A number input per picked tile, side by side; they start on the first tile of rows 1, 2, 3 (tiles of one
    row can share their noise: an InfoGAN's columns differ only in the code)."""
    tiles, row = int(controls["tiles"]), int(controls["columns"])
    return [int(column.number_input(t(f"watch.steer_{name}"), min_value=1, max_value=tiles,
                                    value=min(1 + i * row, tiles), step=1, key=f"{key}.{name}"))
            for i, (column, name) in enumerate(zip(columns, names, strict=False))]


def _controls(run: Run, checkpoint: str) -> dict[str, Any] | None:
    try:
        with st.spinner(t("watch.steer_loading")):
            return sampler().controls(run.id, checkpoint, lang())
    except PlaygroundError as exc:
        st.error(error_text(exc))
        return None


def steer_tab(run: Run, checkpoint: str) -> None:
    # A toggle, not at once: a tab's body runs whether or not it is looked at, and the sampler costs seconds.
    if not st.toggle(t("watch.steer_on"), help=t("watch.steer_intro"), key=f"steer.on.{run.id}"):
        return
    controls = _controls(run, checkpoint)
    if controls is None:
        return
    ops = [op for op in controls["ops"] if op != "grid"]
    op = st.radio(t("watch.steer_what"), ops, format_func=lambda o: t(f"watch.steer_op.{o}"), horizontal=True,
                  key=f"steer.op.{run.id}")
    st.caption(t(f"watch.steer_help.{op}"))
    key = f"steer.{run.id}.{op}"
    if op == "codes":
        categorical = [int(st.select_slider(t("watch.steer_categorical", code=i + 1), list(range(size)), value=0,
                                            key=f"{key}.cat{i}"))
                       for i, size in enumerate(controls["categorical"])]
        low, high, step = SLIDER
        columns = st.columns(controls["continuous"]) if controls["continuous"] else []
        continuous = [float(column.slider(t("watch.steer_continuous", code=i + 1), low, high, 0.0, step,
                                          key=f"{key}.cont{i}"))
                      for i, column in enumerate(columns)]
        _show(run, checkpoint, "codes", t("watch.steer_caption_codes", categorical=categorical,
                                          continuous=[round(v, 1) for v in continuous]),
              categorical=categorical, continuous=continuous)
        return
    if op == "class":
        label = st.selectbox(t("watch.steer_class"), controls["classes"], key=f"{key}.label")
        _show(run, checkpoint, "class", t("watch.steer_caption_class", label=label), label=label)
        return
    tiles = int(controls["tiles"])
    with st.expander(t("watch.steer_numbered"), expanded=True):
        _show(run, checkpoint, "grid", t("watch.steer_caption_grid", tiles=tiles), scale=1, numbered=True)
    columns = st.columns(3)
    if op == "interpolate":
        first, last = _tiles(("first", "last"), key, controls, columns)
        steps = int(columns[2].slider(t("watch.steer_steps"), 2, 16, 8, key=f"{key}.steps"))
        _show(run, checkpoint, "interpolate", t("watch.steer_caption_interpolate", first=first, last=last, steps=steps),
              first=first, last=last, steps=steps)
    else:
        a, b, c = _tiles(("a", "b", "c"), key, controls, columns)
        _show(run, checkpoint, "arithmetic", t("watch.steer_caption_arithmetic", a=a, b=b, c=c), a=a, b=b, c=c)
