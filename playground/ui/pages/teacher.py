"""The teacher's page: the class at a glance (each person's tier, XP, challenges met, running jobs), its CSV, and the
class's own challenge catalogue, with a preview of what a file holds before the class plays it.

On a served app only a teacher sees it: anyone else who reaches its address gets one sentence. On this computer
(``auth.actor()`` None) the person at the machine may do everything, here as on the CLI (``playground class``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from playground.access import Actor
from playground.errors import PlaygroundError
from playground.game import classroom
from playground.game.catalogue import Catalogue
from playground.game.core import CLASS, ENVIRONMENT, iso
from playground.ui import auth
from playground.ui.common import error_text, lang, page, shown_errors, t
from playground.ui.game_views import text, when

NEWS = "teacher.news"  # a line to show once after the catalogue changed (the page reruns to show the new one)
COLUMNS = ("player", "role", "tier", "xp", "challenges", "badges", "running_jobs", "runs", "last_activity")


def teacher_or_stop() -> Actor | None:
    """Whom the page acts for; anyone but a teacher (on a served app) gets one sentence and nothing else."""
    try:
        actor = auth.actor()
        classroom.check_teacher(actor)
    except PlaygroundError as exc:
        st.error(error_text(exc))
        st.stop()
    return actor


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    values = {
        "player": row["player"],
        "role": t(f"auth.role_{row['role']}") if row["role"] else t("teacher.no_account"),
        "tier": text(row["tier_name"]),
        "xp": row["xp"],
        "challenges": f"{row['challenges_met']} / {row['challenges_total']}",
        "badges": row["badges"],
        "running_jobs": row["running_jobs"],
        "runs": row["runs"],
        "last_activity": when(row["last_activity"]),
    }
    return {t(f"teacher.col.{c}"): values[c] for c in COLUMNS}


def class_table(actor: Actor | None) -> None:
    table = classroom.rows(actor=actor)
    running = sum(r["running_jobs"] for r in table)
    st.caption(t("teacher.class_caption", people=len(table), running=running))
    if not table:
        st.info(t("teacher.nobody"))
    else:
        st.dataframe([_shown(r) for r in table], hide_index=True, width="stretch")
    st.download_button(t("teacher.download_csv"), data=classroom.to_csv(table, lang()), file_name=classroom.csv_name(),
                       mime="text/csv", key="teacher.csv", help=t("teacher.csv_help"))


def preview(catalogue: Catalogue) -> None:
    """How many challenges each tier holds, what they pay and what the tier needs."""
    tiers = classroom.tiers_of(catalogue)
    st.caption(t("teacher.catalogue_counts", challenges=len(catalogue.challenges), tiers=len(tiers)))
    st.dataframe([{t("teacher.col.tier"): text(row["name"]), t("teacher.col.challenges_in_tier"): row["challenges"],
                   t("teacher.col.xp_paid"): row["xp"], t("teacher.col.xp_needed"): row["needs"]} for row in tiers],
                 hide_index=True, width="stretch")


def catalogue_chooser(actor: Actor | None) -> None:
    st.subheader(t("teacher.catalogue_title"))
    news = st.session_state.pop(NEWS, None)
    if news:
        st.success(news)
    source, catalogue, problem = classroom.in_use()
    if source.origin == ENVIRONMENT:
        st.warning(t("teacher.catalogue_environment", path=source.name))
    elif source.origin == CLASS:
        st.markdown(t("teacher.catalogue_class", name=source.name, when=when(iso(source.set_at)),
                      by=source.set_by or "—"))
    else:
        st.markdown(t("teacher.catalogue_builtin"))
    if problem is not None:
        st.error(error_text(problem))
    if catalogue is not None:
        preview(catalogue)
    if source.origin == CLASS or source.overridden:
        if st.button(t("teacher.use_builtin"), key="teacher.use_builtin"):
            classroom.use_builtin(actor=actor)
            st.session_state[NEWS] = t("teacher.builtin_now")
            st.rerun()

    st.markdown(t("teacher.upload_intro"))
    uploaded = st.file_uploader(t("teacher.upload"), type=["yaml", "yml"], key="teacher.upload")
    if uploaded is None:
        return
    data = uploaded.getvalue()
    try:
        candidate = classroom.check_catalogue(data, uploaded.name)
    except PlaygroundError as exc:
        st.error(error_text(exc))
        return
    st.markdown(t("teacher.upload_holds", name=uploaded.name))
    preview(candidate)
    digest = hashlib.sha256(data.decode("utf-8-sig").encode("utf-8")).hexdigest()
    if source.origin == CLASS and source.sha256 == digest:
        st.info(t("teacher.upload_in_use"))
        return
    if st.button(t("teacher.use_upload"), type="primary", key="teacher.use_upload"):
        classroom.set_catalogue(data, uploaded.name, actor=actor, by=auth.player())
        st.session_state[NEWS] = t("teacher.class_now", name=uploaded.name, challenges=len(candidate.challenges))
        st.rerun()


def render() -> None:
    actor = teacher_or_stop()
    page("nav.teacher")
    st.markdown(t("teacher.intro"))
    with shown_errors():
        class_table(actor)
    st.divider()
    with shown_errors():
        catalogue_chooser(actor)


render()
