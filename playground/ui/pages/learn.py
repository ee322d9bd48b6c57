"""Learn: one short card per algorithm and GAN, for newcomers: what it is, the key idea, and the
hyperparameters (named as in our presets) that matter most.

The card named by ``st.session_state["learn.card"]`` (set by the training forms) or by the query
parameter ``card`` (``/learn?card=ppo``) comes first, open; without one, every card is shown.
The texts live in the translation table: ``learn.<name>.title|what|idea|knobs``.
"""

from __future__ import annotations

import streamlit as st

from playground.ui.common import page, t

RL_CARDS = ("dqn", "ppo", "a2c", "a3c")
GAN_CARDS = ("dcgan", "cdcgan", "pix2pix", "cyclegan")
CARDS = RL_CARDS + GAN_CARDS
STATE_KEY = "learn.card"


def chosen_card() -> str | None:
    """The card asked for, by the session (a training form's link) or the address (``?card=ppo``)."""
    asked = st.session_state.pop(STATE_KEY, None) or st.query_params.get("card")  # a choice is shown once
    if not asked:
        return None
    name = str(asked).strip().lower()
    if name not in CARDS:
        st.warning(t("learn.unknown", card=str(asked), known=", ".join(CARDS)))
        return None
    return name


def card_body(name: str) -> None:
    st.markdown(t(f"learn.{name}.what"))
    st.markdown(f"**{t('learn.key_idea')}** {t(f'learn.{name}.idea')}")
    st.markdown(f"**{t('learn.knobs')}**")
    st.markdown(t(f"learn.{name}.knobs"))


def render() -> None:
    page("nav.learn")
    st.caption(t("learn.intro"))
    chosen = chosen_card()
    if chosen is not None:
        with st.container(border=True):
            st.subheader(t(f"learn.{chosen}.title"))
            card_body(chosen)
        st.markdown(f"**{t('learn.others')}**")
        for name in CARDS:
            if name != chosen:
                with st.expander(t(f"learn.{name}.title")):
                    card_body(name)
        return
    for heading, names in ((t("learn.rl_heading"), RL_CARDS), (t("learn.gan_heading"), GAN_CARDS)):
        st.header(heading)
        for name in names:
            with st.container(border=True):
                st.subheader(t(f"learn.{name}.title"))
                card_body(name)


render()
