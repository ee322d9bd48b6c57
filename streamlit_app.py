"""The web door: a thin entry point that navigates over the pages in playground/ui."""

import streamlit as st

from playground.ui import runs_page

st.set_page_config(page_title="Playground", page_icon="🎮", layout="wide")
page = st.navigation([st.Page(runs_page.render, title="Runs", icon="📋", url_path="runs", default=True)])
page.run()
