"""The runs page: every run in the store, with its status and latest evaluation."""

from __future__ import annotations

import streamlit as st

from playground import runs
from playground.errors import PlaygroundError
from playground.ui.common import page


def render() -> None:
    page("runs.title")
    try:
        records = [runs.record(r) for r in runs.list_runs()]
    except PlaygroundError as exc:
        st.error(str(exc))
        return
    if not records:
        st.info("No runs yet. Start one from a terminal: `playground rl train ppo CartPole-v1`")
        return
    statuses = sorted({r["status"] for r in records})
    chosen = st.multiselect("Status", statuses, default=statuses)
    rows = [
        {
            "run": r["id"],
            "name": r["name"] or "",
            "algorithm": r["algo"],
            "environment": r["env"],
            "status": r["status"],
            "step": r["step"],
            "of": r["total_steps"],
            "last eval (mean)": r["last_eval"]["mean"] if r["last_eval"] else None,
            "best eval (mean)": r["best_eval"]["mean"] if r["best_eval"] else None,
            "created": r["created_at"],
            "error": r["error"] or "",
        }
        for r in reversed(records)
        if r["status"] in chosen
    ]
    st.dataframe(rows, hide_index=True, use_container_width=True)


render()
