"""Train an agent: pick an algorithm, a game and a preset, adjust the key knobs, start a background job
and follow it live. The form's values go through ``build_rl_config``, the same checks as the CLI."""

from __future__ import annotations

import streamlit as st

import agents
from agents import presets
from playground import config, jobs
from playground.ui import thumbnails
from playground.ui.common import page, shown_errors, t
from playground.ui.i18n import table
from playground.ui.live import learn_more, live_panel

RUN_KEY = "train_agent.run"
# The small tasks we offer beside every ALE game (those not installed are left out).
CLASSIC = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3", "Pendulum-v1", "MountainCarContinuous-v0")
# The knobs shown per algorithm, each with a one-line explanation (train_agent.hp.<name>).
KEY_HYPERPARAMETERS = {
    "dqn": ("learning_rate", "gamma", "batch_size", "buffer_size", "learning_starts", "train_freq",
            "target_update_interval", "exploration_fraction", "exploration_final_eps"),
    "ppo": ("learning_rate", "gamma", "n_steps", "batch_size", "n_epochs", "gae_lambda", "clip_range", "ent_coef"),
    "a2c": ("learning_rate", "gamma", "n_steps", "gae_lambda", "ent_coef", "vf_coef"),
    "a3c": ("learning_rate", "gamma", "n_steps", "ent_coef", "max_grad_norm", "optimizer"),
}
DEVICES = ("auto", "cpu", "cuda")


@st.cache_data(show_spinner=False)
def environment_ids() -> list[str]:
    """The classic tasks first (quick to learn), then every ALE game by its v5 id."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    classic = [e for e in CLASSIC if e in gym.registry]
    atari = sorted(i for i in gym.registry if i.startswith("ALE/") and i.endswith("-v5"))
    return classic + atari


def _fits(preset: presets.Preset, env_id: str) -> bool:
    if preset.envs == "atari":
        return env_id.startswith("ALE/")
    return preset.envs == "any" or env_id in preset.envs


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


page("nav.train_agent")
st.caption(t("train_agent.intro"))

left, right = st.columns([3, 2])
with left:
    algo = st.selectbox(
        t("train_agent.algo"), agents.names(), format_func=str.upper, key="train_agent.algo"
    )
    learn_more(algo)
    ids = environment_ids()
    env_id = st.selectbox(
        t("train_agent.env"), ids, index=ids.index("CartPole-v1") if "CartPole-v1" in ids else 0,
        help=t("train_agent.env_help"), key="train_agent.env",
    )
    fitting = [p for p in presets.presets_for(algo).values() if _fits(p, env_id)]
    preset_names = [p.name for p in fitting]
    # The preset `build_rl_config` would pick on its own: made for this env, then its family, then any.
    ranked = sorted(fitting, key=lambda p: (0 if isinstance(p.envs, list) else 1 if p.envs == "atari" else 2))
    preset_name = st.selectbox(
        t("train_agent.preset"), preset_names, index=preset_names.index(ranked[0].name) if ranked else 0,
        key=f"train_agent.preset.{algo}.{env_id}",
    ) if preset_names else None
    chosen = presets.presets_for(algo).get(preset_name) if preset_name else None
    if chosen is not None:
        st.caption(t("train_agent.preset_from", description=chosen.description, source=chosen.source))
with right:
    picture = thumbnails.thumbnail(env_id)
    if picture is not None:
        st.image(str(picture), caption=env_id, width=220)

if chosen is None:
    st.warning(t("train_agent.no_preset", algo=algo.upper(), env=env_id))
else:
    hyper_model = agents.get(algo).Hyperparameters
    with st.form(f"train_agent.form.{algo}.{env_id}.{chosen.name}"):
        st.subheader(t("train_agent.knobs"))
        prefill: dict[str, str] = {}
        entered: dict[str, str] = {}
        cols = st.columns(2)
        for i, name in enumerate(KEY_HYPERPARAMETERS.get(algo, ())):
            field = hyper_model.model_fields.get(name)
            value = chosen.hyperparameters.get(name, None if field is None or field.is_required() else field.default)
            prefill[name] = _text(value)
            hp_help = f"train_agent.hp.{name}"
            entered[name] = cols[i % 2].text_input(
                name, value=prefill[name], help=t(hp_help) if hp_help in table() else None,
                key=f"train_agent.hp.{algo}.{chosen.name}.{name}",
            )
        st.subheader(t("train_agent.run_settings"))
        c1, c2, c3 = st.columns(3)
        steps = c1.number_input(t("train_agent.steps"), min_value=1, value=int(chosen.steps), step=1000,
                                help=t("train_agent.steps_help"), key=f"train_agent.steps.{algo}.{chosen.name}")
        seed = c2.number_input(t("train_agent.seed"), min_value=0, value=0, step=1, help=t("train_agent.seed_help"),
                               key="train_agent.seed")
        device = c3.selectbox(t("train_agent.device"), DEVICES, help=t("train_agent.device_help"),
                              key="train_agent.device")
        label = st.text_input(t("train_agent.label"), help=t("train_agent.label_help"), key="train_agent.label")
        submitted = st.form_submit_button(t("train_agent.start"), type="primary")
    if submitted:
        sets = [f"{k}={v.strip()}" for k, v in entered.items() if v.strip() != prefill[k]]
        with shown_errors():
            cfg = config.build_rl_config(
                algo, env_id, steps=int(steps), seed=int(seed), device=device, preset=chosen.name, sets=sets,
            )
            run, pid = jobs.launch(cfg, label=label.strip() or None)
            st.session_state[RUN_KEY] = run.id
            st.success(t("train_agent.started", run=run.id, pid=pid))

st.divider()
live_panel("rl", RUN_KEY)
