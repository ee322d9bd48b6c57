"""The web door: a thin entry point that navigates over the pages in playground/ui/pages.

Served beyond this machine it signs people in first (playground/ui/auth.py); on localhost nobody signs in.
"""

import sys
from pathlib import Path

import streamlit as st

from playground.ui import auth, engine
from playground.ui.common import t

PAGES = Path(__file__).resolve().parent / "playground" / "ui" / "pages"

st.set_page_config(page_title=t("common.app_title"), page_icon="🎮", layout="wide")
auth.announce_first_teacher(sys.stderr)  # a served app's first start makes a teacher; the terminal shows its password
person = auth.gate()  # served: the sign-in form and nothing else until someone signs in
auth.sidebar(person)
page = st.navigation(
    [
        st.Page(PAGES / "home.py", title=t("nav.home"), icon="🏠", default=True),
        st.Page(PAGES / "train_agent.py", title=t("nav.train_agent"), icon="🕹️", url_path="train-agent"),
        st.Page(PAGES / "train_gan.py", title=t("nav.train_gan"), icon="🎨", url_path="train-gan"),
        st.Page(PAGES / "runs.py", title=t("nav.runs"), icon="📋", url_path="runs"),
        st.Page(PAGES / "sweeps.py", title=t("nav.sweeps"), icon="🔬", url_path="sweeps"),
        st.Page(PAGES / "watch.py", title=t("nav.watch"), icon="📺", url_path="watch"),
        st.Page(PAGES / "challenges.py", title=t("nav.challenges"), icon="🏆", url_path="challenges"),
        st.Page(PAGES / "learn.py", title=t("nav.learn"), icon="📖", url_path="learn"),
    ]
    # A served app: each person's account; the class page for its teachers (the page itself refuses anyone else).
    + ([st.Page(PAGES / "account.py", title=t("nav.account"), icon="👤", url_path="account")] if person else [])
    + ([st.Page(PAGES / "teacher.py", title=t("nav.teacher"), icon="🧑‍🏫", url_path="teacher")]
       if person is not None and person.teacher else [])
)
engine.prefetch()  # the training forms' choices, asked of a child while the learner reads the first page
page.run()
