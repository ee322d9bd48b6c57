"""Learn: one short card per algorithm and GAN, for newcomers: what it is, the key idea, and the
hyperparameters (named as in our presets) that matter most. Tabular RL comes first, as in the game: three
cards on the ideas (what a value is, the Bellman equation, on-policy against off-policy), then one per method.

After the DQN improvements, one card on comparing runs honestly (why a band over two seeds proves nothing; the
Runs page's compare section links to it as ``/learn?card=seeds``).

The card named by ``st.session_state["learn.card"]`` (set by the training forms) or by the query
parameter ``card`` (``/learn?card=ppo``) comes first, open; without one, every card is shown.
The texts live in the translation table: ``learn.<name>.title|what|idea|knobs``. Equations are LaTeX, the same
in every language, drawn with ``st.latex``: one per DQN improvement in ``EQUATIONS``, and the tabular cards' in
``TABULAR_EQUATIONS``, the GAN lessons' in ``GAN_EQUATIONS``. A tabular card, and a GAN lesson's, ends with the
commands of its next step (``NEXT_STEPS``).
"""

from __future__ import annotations

import streamlit as st

from playground.game.catalogue import algorithm_of
from playground.ui.common import page, t

# The ideas first, then the methods (the card of a method is named as its algorithm, for the training forms' links).
TABULAR_CARDS = ("values", "bellman", "on-off-policy", "value-iteration", "policy-iteration", "qlearning", "sarsa",
                 "expected-sarsa")
RL_CARDS = ("dqn", "ppo", "a2c", "a3c")
DQN_CARDS = ("double", "dueling", "per", "nstep", "noisy", "c51", "rainbow")  # one per improvement, then all six
COMPARE_CARDS = ("seeds",)  # after the improvements, whose ablations are the first comparisons a learner makes
GAN_CARDS = ("latent-space", "dcgan", "cdcgan", "infogan", "wgan", "pix2pix", "cyclegan")
CARDS = TABULAR_CARDS + RL_CARDS + DQN_CARDS + COMPARE_CARDS + GAN_CARDS
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
# The equations of each tabular card, in Sutton & Barto's notation (2nd ed., 2018): capitals for what was played
# (S, A, R), p(s', r | s, a) for the environment's model.
TABULAR_EQUATIONS = {
    "values": (
        r"G_t = R_{t+1} + \gamma R_{t+2} + \gamma^{2} R_{t+3} + \dots = \sum_{k=0}^{\infty} \gamma^{k} R_{t+k+1}",
        r"V_\pi(s) = \mathbb{E}_\pi\left[G_t \mid S_t = s\right], \qquad "
        r"Q_\pi(s, a) = \mathbb{E}_\pi\left[G_t \mid S_t = s, A_t = a\right]",
    ),
    "bellman": (
        r"V_\pi(s) = \sum_{a} \pi(a \mid s) \sum_{s', r} p(s', r \mid s, a) \big[r + \gamma V_\pi(s')\big]",
        r"V_*(s) = \max_{a} \sum_{s', r} p(s', r \mid s, a) \big[r + \gamma V_*(s')\big]",
        r"Q_*(s, a) = \sum_{s', r} p(s', r \mid s, a) \big[r + \gamma \max_{a'} Q_*(s', a')\big]",
    ),
    "on-off-policy": (
        r"\text{SARSA:} \quad Q(S, A) \leftarrow Q(S, A) + \alpha \big[R + \gamma Q(S', A') - Q(S, A)\big], "
        r"\quad A' \sim \varepsilon\text{-greedy}(S')",
        r"\text{Q-learning:} \quad Q(S, A) \leftarrow Q(S, A) + \alpha "
        r"\big[R + \gamma \max_{a} Q(S', a) - Q(S, A)\big]",
    ),
    "value-iteration": (
        r"V_{k+1}(s) = \max_{a} \sum_{s', r} p(s', r \mid s, a) \big[r + \gamma V_k(s')\big], \qquad "
        r"\pi(s) = \arg\max_{a} \sum_{s', r} p(s', r \mid s, a) \big[r + \gamma V(s')\big]",
    ),
    "policy-iteration": (
        r"V_{k+1}(s) = \sum_{s', r} p(s', r \mid s, \pi(s)) \big[r + \gamma V_k(s')\big]",
        r"\pi'(s) = \arg\max_{a} \sum_{s', r} p(s', r \mid s, a) \big[r + \gamma V_\pi(s')\big]",
    ),
    "qlearning": (
        r"Q(S, A) \leftarrow Q(S, A) + \alpha \big[R + \gamma \max_{a} Q(S', a) - Q(S, A)\big]",
    ),
    "sarsa": (
        r"Q(S, A) \leftarrow Q(S, A) + \alpha \big[R + \gamma Q(S', A') - Q(S, A)\big]",
    ),
    "expected-sarsa": (
        r"Q(S, A) \leftarrow Q(S, A) + \alpha "
        r"\big[R + \gamma \textstyle\sum_{a} \pi(a \mid S') Q(S', a) - Q(S, A)\big]",
    ),
}
# The equations of the GAN lessons' cards (the papers' notation).
GAN_EQUATIONS = {
    "latent-space": (
        r"\operatorname{slerp}(z_a, z_b; t) = \frac{\sin((1 - t)\,\Omega)}{\sin \Omega} z_a + "
        r"\frac{\sin(t\,\Omega)}{\sin \Omega} z_b, \quad \cos \Omega = \frac{z_a \cdot z_b}{\lVert z_a \rVert\, \lVert z_b \rVert}",
        r"G(z_a - z_b + z_c)",
    ),
    "infogan": (
        r"\min_{G, Q} \max_{D} \; V(D, G) - \lambda\, L_I(G, Q)",
        r"L_I(G, Q) = \mathbb{E}_{c \sim P(c),\, x \sim G(z, c)}\big[\log Q(c \mid x)\big] + H(c) \;\le\; I\big(c; G(z, c)\big)",
    ),
    "wgan": (
        r"W(P_r, P_g) = \sup_{\lVert f \rVert_L \le 1} \mathbb{E}_{x \sim P_r}[f(x)] - \mathbb{E}_{z}[f(G(z))]",
        r"w \leftarrow \operatorname{clip}(w, -c, c) \quad \text{or} \quad "
        r"+\, \lambda\, \mathbb{E}_{\hat{x}}\big[(\lVert \nabla_{\hat{x}} f(\hat{x}) \rVert_2 - 1)^2\big]",
    ),
}
# The next step of each tabular card: commands that train (and evaluate) what the card explains, in seconds.
NEXT_STEPS = {
    "values": ("playground rl train value-iteration FrozenLake-v1,is_slippery=False",),
    "bellman": ("playground rl train value-iteration FrozenLake-v1", "playground rl eval latest --episodes 1000",
                "playground bellman FrozenLake-v1"),  # the update itself, one sweep per key press, one cell written out
    "on-off-policy": ("playground rl train sarsa CliffWalking-v1", "playground rl train qlearning CliffWalking-v1"),
    "value-iteration": ("playground rl train value-iteration FrozenLake8x8-v1",
                        "playground rl eval latest --episodes 1000", "playground bellman FrozenLake8x8-v1 --gamma 0.999"),
    "policy-iteration": ("playground rl train policy-iteration FrozenLake-v1",
                         "playground rl eval latest --episodes 1000"),
    "qlearning": ("playground rl train qlearning Taxi-v4", "playground rl eval latest --episodes 100"),
    "sarsa": ("playground rl train sarsa CliffWalking-v1", "playground rl eval latest --episodes 10"),
    "expected-sarsa": ("playground rl train expected-sarsa CliffWalking-v1",
                       "playground rl eval latest --episodes 10"),
    "latent-space": ("playground gan train dcgan mnist-5k", "playground gan watch latest"),
    "infogan": ("playground gan train infogan mnist-5k", "playground gan eval latest", "playground gan watch latest"),
    "wgan": ("playground gan train wgan mnist-5k --seed 1", "playground gan train wgan mnist-5k --preset gp --seed 1",
             "playground gan eval wgan-mnist-5k-1", "playground gan eval wgan-mnist-5k-2",
             "playground runs compare wgan-mnist-5k-1 wgan-mnist-5k-2 --metric critic/wasserstein"),
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
    elif name in TABULAR_EQUATIONS or name in GAN_EQUATIONS:
        st.markdown(f"**{t('learn.equations')}**")
        for equation in TABULAR_EQUATIONS.get(name) or GAN_EQUATIONS[name]:
            st.latex(equation)
    st.markdown(f"**{t('learn.knobs')}**")
    st.markdown(t(f"learn.{name}.knobs"))
    if name in NEXT_STEPS:
        st.markdown(f"**{t('learn.next_step')}**")
        st.code("\n".join(NEXT_STEPS[name]), language="bash")


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
    for heading, names in ((t("learn.tabular_heading"), TABULAR_CARDS), (t("learn.rl_heading"), RL_CARDS),
                           (t("learn.dqn_heading"), DQN_CARDS), (t("learn.compare_heading"), COMPARE_CARDS),
                           (t("learn.gan_heading"), GAN_CARDS)):
        st.header(heading)
        if names == TABULAR_CARDS:
            st.caption(t("learn.tabular_intro"))
        if names == DQN_CARDS:
            st.caption(t("learn.dqn_intro"))
        for name in names:
            with st.container(border=True):
                st.subheader(t(f"learn.{name}.title"))
                card_body(name)


render()
