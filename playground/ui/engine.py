"""What the pages need from the engine (torch, stable-baselines3, ale-py), asked of a short child process.

The Streamlit process never imports the engine (DESIGN.md). The training forms' choices (algorithms
and their hyperparameters' defaults, GAN models, their presets, the built-in data and the games)
come from ``playground _ui form`` once per server process and are kept, asked for in the background as
soon as the server draws its first page (``prefetch``): the child costs a few CPU seconds, better spent
while the learner reads Home than beside the run a first-step button has just started. Runs start through
``playground … train --detach`` (``playground.jobs.launch_detached``), so a bad value gets the
CLI's own sentence and creates nothing.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import streamlit as st
import yaml

from playground import jobs
from playground.errors import PlaygroundError
from playground.ui.common import error_text, t

FORM_TIMEOUT_S = 180.0  # the child imports torch and both registries: a few seconds, more on a busy machine


_asking = ThreadPoolExecutor(max_workers=1, thread_name_prefix="form-choices")
_lock = threading.Lock()
_answer: Future[dict[str, Any]] | None = None


def _ask() -> dict[str, Any]:
    return json.loads(jobs.run_cli(["_ui", "form"], timeout=FORM_TIMEOUT_S))  # no user input: nothing to translate


def _asked() -> Future[dict[str, Any]]:
    """The one answer of this server process; asked again when the last asking failed."""
    global _answer
    with _lock:
        if _answer is None or (_answer.done() and _answer.exception() is not None):
            _answer = _asking.submit(_ask)
        return _answer


def prefetch() -> None:
    """Start asking for the form choices, if nobody has yet (returns at once)."""
    _asked()


def form_choices() -> dict[str, Any]:
    """``playground.config.form_choices()``, from a child process the first time, then kept for the life
    of the server. When the child cannot answer, the page says why in one sentence and stops there."""
    try:
        with st.spinner(t("train_agent.loading")):
            return copy.deepcopy(_asked().result())  # a page may change what it is given; the answer stays
    except PlaygroundError as exc:
        st.error(error_text(exc))
        st.stop()


def algorithms() -> list[str]:
    """The RL algorithms, in the registry's order."""
    return list(form_choices()["rl"])


def hyperparameter_defaults(algo: str) -> dict[str, Any]:
    """Each hyperparameter of ``algo`` with its default (None when it has none)."""
    return dict(form_choices()["rl"][algo]["hyperparameters"])


def gan_models() -> dict[str, dict[str, Any]]:
    """GAN model name → ``title``, ``data_kind``, ``needs_labels`` and ``presets`` (name → its numbers)."""
    return dict(form_choices()["gan"])


def builtin_datasets() -> list[dict[str, Any]]:
    """One example per built-in family: ``name``, ``kind`` and whether it is ``labelled``."""
    return list(form_choices()["datasets"])


def ale_games() -> list[str]:
    """Every ALE game by name (``Pong``, ``SpaceInvaders``), as the built-in Atari sets take them."""
    return list(form_choices()["ale_games"])


@st.cache_data(show_spinner=False)
def _gan_preset_file(model: str) -> dict[str, Any]:
    spec = importlib.util.find_spec("gans")  # finds the package without running gans/__init__ (torch)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "presets" / f"{model}.yaml"
        if path.is_file():
            return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {}


def gan_preset_text(model: str, preset: str, lang: str) -> str | None:
    """A GAN preset's one-line description in ``lang``, read from ``gans/presets/<model>.yaml`` (``description_zh``
    beside the English), since importing ``gans.presets`` would load the engine; None where it has none."""
    body = _gan_preset_file(model).get(preset) or {}
    text = body.get("description_zh") if lang == "zh" else None
    return str(text or body.get("description") or "") or None
