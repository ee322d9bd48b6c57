"""The web door: a thin entry point that navigates over the pages in playground/ui/pages."""

from pathlib import Path

import streamlit as st

from playground.ui.common import t

PAGES = Path(__file__).resolve().parent / "playground" / "ui" / "pages"

st.set_page_config(page_title="Playground", page_icon="🎮", layout="wide")
page = st.navigation(
    [
        st.Page(PAGES / "runs.py", title=t("nav.runs"), icon="📋", url_path="runs", default=True),
    ]
)
page.run()
