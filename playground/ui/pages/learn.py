"""Learn: one short card per algorithm and GAN, for newcomers: what it is, the key idea, and the
hyperparameters (named as in our presets) that matter most.

The card named by ``st.session_state["learn.card"]`` (set by the training forms) or by the query
parameter ``card`` (``/learn?card=ppo``) comes first, open; without one, every card is shown.
The texts live in the translation table: ``learn.<name>.title|what|idea|knobs``, and for each DQN improvement
an equation in ``EQUATIONS`` below (LaTeX, drawn with ``st.latex``).
"""

from __future__ import annotations

import streamlit as st

from playground.game.catalogue import algorithm_of
from playground.ui.common import page, t

RL_CARDS = ("dqn", "ppo", "a2c", "a3c")
DQN_CARDS = ("double", "dueling", "per", "nstep", "noisy", "c51", "rainbow")  # one per improvement, then all six
GAN_CARDS = ("dcgan", "cdcgan", "pix2pix", "cyclegan")
CARDS = RL_CARDS + DQN_CARDS + GAN_CARDS
# The one equation of each DQN improvement, in LaTeX (the same in every language), drawn with st.latex.
EQUATIONS = {
    "double": r"y = r + \gamma\, Q_{\text{target}}\big(s', \arg\max_{a'} Q_{\text{online}}(s', a')\big)",
    "dueling": r"Q(s, a) = V(s) + A(s, a) - \frac{1}{|\mathcal{A}|} \sum_{a'} A(s, a')",
    "per": r"P(i) = \frac{p_i^{\alpha}}{\sum_k p_k^{\alpha}}, \quad p_i = |\delta_i| + \epsilon, \quad "
           r"w_i = \Big(\frac{1}{N \cdot P(i)}\Big)^{\beta} \Big/ \max_j w_j",
    "nstep": r"y = \sum_{k=0}^{n-1} \gamma^{k} r_{t+k} + \gamma^{n} \max_{a'} Q_{\text{target}}(s_{t+n}, a')",
    "noisy": r"y = \big(\mu^{w} + \sigma^{w} \odot f(\varepsilon_{out}) f(\varepsilon_{in})^{\top}\big)\, x + \mu^{b} + "
             r"\sigma^{b} \odot f(\varepsilon_{out}), \quad f(x) = \operatorname{sgn}(x)\sqrt{|x|}",
    "c51": r"z_i = v_{\min} + i\,\Delta z, \quad \mathcal{L} = -\sum_i \big[\Phi\, (r + \gamma Z(s', a^{*}))\big]_i "
           r"\log p_i(s, a)",
    "rainbow": r"\mathcal{L} = -\sum_i \Big[\Phi \big(\textstyle\sum_{k=0}^{2} \gamma^{k} r_{t+k} + \gamma^{3} "
               r"Z_{\text{target}}(s_{t+3}, \arg\max_{a} Q_{\text{online}}(s_{t+3}, a))\big)\Big]_i \log p_i(s_t, a_t)",
}
STATE_KEY = "learn.card"


def chosen_card() -> str | None:
    """The card asked for, by the session (a training form's link) or the address (``?card=ppo``)."""
    asked = st.session_state.pop(STATE_KEY, None) or st.query_params.get("card")  # a choice is shown once
    if not asked:
        return None
    name = str(asked).strip().lower()
    name = algorithm_of(name)  # stable-baselines3's DQN is explained by DQN's card
    if name not in CARDS:
        st.warning(t("learn.unknown", card=str(asked), known=", ".join(CARDS)))
        return None
    return name


def card_body(name: str) -> None:
    st.markdown(t(f"learn.{name}.what"))
    st.markdown(f"**{t('learn.key_idea')}** {t(f'learn.{name}.idea')}")
    if name in EQUATIONS:  # the DQN improvements: the one equation that is the idea
        st.markdown(f"**{t('learn.equation')}**")
        st.latex(EQUATIONS[name])
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
    for heading, names in ((t("learn.rl_heading"), RL_CARDS), (t("learn.dqn_heading"), DQN_CARDS),
                           (t("learn.gan_heading"), GAN_CARDS)):
        st.header(heading)
        if names == DQN_CARDS:
            st.caption(t("learn.dqn_intro"))
        for name in names:
            with st.container(border=True):
                st.subheader(t(f"learn.{name}.title"))
                card_body(name)


render()
