"""Train an agent: pick an algorithm, a game and a preset, adjust the key knobs, start a background job
and follow it live. Start runs ``playground rl train … --detach`` in a child process: the CLI's own
checks and sentence, and no torch in this process.

A one-click start elsewhere (Home's first steps, a challenge's button) lands here on its run: the
run's live panel on top, the form below it folded away and set to the settings the run started with."""

from __future__ import annotations

import streamlit as st

from agents import presets
from playground import envs
from playground.store import Run
from playground.ui import engine, live, thumbnails
from playground.ui.common import Prefill, lang, page, t
from playground.i18n import table
from playground.ui.live import learn_more

# The small tasks we offer beside every ALE game (those not installed are left out).
CLASSIC = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3", "Pendulum-v1", "MountainCarContinuous-v0")
# The knobs shown per algorithm, each with a one-line explanation (train_agent.hp.<name>).
KEY_HYPERPARAMETERS = {
    "dqn": ("learning_rate", "gamma", "batch_size", "buffer_size", "learning_starts", "train_freq",
            "target_update_interval", "exploration_fraction", "exploration_final_eps", "double", "dueling",
            "prioritized", "n_step", "noisy", "distributional"),
    "sb3-dqn": ("learning_rate", "gamma", "batch_size", "buffer_size", "learning_starts", "train_freq",
                "target_update_interval", "exploration_fraction", "exploration_final_eps"),
    "ppo": ("learning_rate", "gamma", "n_steps", "batch_size", "n_epochs", "gae_lambda", "clip_range", "ent_coef"),
    "a2c": ("learning_rate", "gamma", "n_steps", "gae_lambda", "ent_coef", "vf_coef"),
    "a3c": ("learning_rate", "gamma", "n_steps", "ent_coef", "max_grad_norm", "optimizer"),
}
DEVICES = ("auto", "cpu", "cuda")
PREFILL = Prefill("train_agent")  # the form set to the run a one-click start landed on
_start = PREFILL.start


@st.cache_data(show_spinner=False)
def environment_ids() -> list[str]:
    """The classic tasks first (quick to learn), then every ALE game by its v5 id."""
    known = set(envs.list_ids())
    return [e for e in CLASSIC if e in known] + envs.list_ids(atari_only=True)


def _preset(algo: str, name: str | None, env_id: str) -> presets.Preset | None:
    """The preset called ``name`` as it applies to ``env_id``, if it fits it."""
    found = presets.presets_for(algo).get(str(name))
    atari = env_id.startswith("ALE/")
    return found.for_env(env_id, atari) if found is not None and found.fits_id(env_id, atari) else None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def prefill_from(run: Run) -> None:
    """Set the form to the settings ``run`` started with: all of them when the page has just landed on it,
    later only those the form has lost (Streamlit forgets a widget's value while its page is not shown)."""
    config = run.config or {}
    algo, env_id, preset_name = run.algo, run.env, config.get("preset")
    if algo not in engine.algorithms() or env_id not in environment_ids():
        return
    values: dict[str, object] = {"train_agent.algo": algo, "train_agent.env": env_id,
                                 "train_agent.seed": int(config.get("seed") or 0), "train_agent.label": run.label or ""}
    if config.get("device") in DEVICES:
        values["train_agent.device"] = config["device"]
    preset = _preset(algo, preset_name, env_id)
    if preset is not None:
        values[f"train_agent.preset.{algo}.{env_id}"] = preset.name
        values[f"train_agent.steps.{algo}.{preset.name}"] = int(run.total_steps or preset.steps)
        defaults = engine.hyperparameter_defaults(algo)
        for name, value in (config.get("hyperparameters") or {}).items():
            tuned = preset.hyperparameters.get(name, defaults.get(name))
            if name in KEY_HYPERPARAMETERS.get(algo, ()) and value != tuned:
                values[f"train_agent.hp.{algo}.{preset.name}.{name}"] = _text(value)
    PREFILL.apply(run.id, values)


def preset_caption(chosen: presets.Preset) -> None:
    """The preset's one line in the session's language; where its numbers come from, folded."""
    st.caption(chosen.text(lang()))
    if chosen.source:
        with st.expander(t("train_agent.preset_source")):
            st.caption(chosen.source)


def agent_form(landed: Run | None) -> None:
    """The form: algorithm, game, preset, knobs and run settings; Start launches the job."""
    left, right = st.columns([3, 2])
    with left:
        algo = st.selectbox(
            t("train_agent.algo"), engine.algorithms(), format_func=str.upper, key="train_agent.algo"
        )
        learn_more(algo)
        ids = environment_ids()
        env_id = st.selectbox(
            t("train_agent.env"), ids,
            index=_start("train_agent.env", ids.index("CartPole-v1") if "CartPole-v1" in ids else 0),
            help=t("train_agent.env_help"), key="train_agent.env",
        )
        atari = env_id.startswith("ALE/")
        preset_names = [p.name for p in presets.fitting(algo, env_id, atari)]
        # The preset `build_rl_config` would pick on its own: made for this env, then its family, then any.
        default = presets.default_for(algo, env_id, atari)
        preset_name = st.selectbox(
            t("train_agent.preset"), preset_names,
            index=_start(f"train_agent.preset.{algo}.{env_id}", preset_names.index(default.name) if default else 0),
            key=f"train_agent.preset.{algo}.{env_id}",
        ) if preset_names else None
        chosen = _preset(algo, preset_name, env_id) if preset_name else None
        if chosen is not None:
            preset_caption(chosen)
    with right:
        picture = thumbnails.thumbnail(env_id)
        if picture is not None:
            st.image(str(picture), caption=env_id, width=220)

    if chosen is None:
        st.warning(t("train_agent.no_preset", algo=algo.upper(), env=env_id))
    else:
        defaults = engine.hyperparameter_defaults(algo)
        with st.form(f"train_agent.form.{algo}.{env_id}.{chosen.name}"):
            st.subheader(t("train_agent.knobs"))
            prefill: dict[str, str] = {}
            entered: dict[str, str] = {}
            cols = st.columns(2)
            for i, name in enumerate(KEY_HYPERPARAMETERS.get(algo, ())):
                value = chosen.hyperparameters.get(name, defaults.get(name))
                prefill[name] = _text(value)
                hp_help, hp_key = f"train_agent.hp.{name}", f"train_agent.hp.{algo}.{chosen.name}.{name}"
                entered[name] = cols[i % 2].text_input(
                    name, value=_start(hp_key, prefill[name]), help=t(hp_help) if hp_help in table() else None,
                    key=hp_key,
                ) or ""
            st.subheader(t("train_agent.run_settings"))
            c1, c2, c3 = st.columns(3)
            steps_key = f"train_agent.steps.{algo}.{chosen.name}"
            steps = c1.number_input(t("train_agent.steps"), min_value=1, value=_start(steps_key, int(chosen.steps)),
                                    step=1000, help=t("train_agent.steps_help"), key=steps_key)
            seed = c2.number_input(t("train_agent.seed"), min_value=0, value=_start("train_agent.seed", 0), step=1,
                                   help=t("train_agent.seed_help"), key="train_agent.seed")
            device = c3.selectbox(t("train_agent.device"), DEVICES, help=t("train_agent.device_help"),
                                  key="train_agent.device")
            label = st.text_input(t("train_agent.label"), help=t("train_agent.label_help"),
                                  key="train_agent.label")
            submitted = st.form_submit_button(t("train_agent.start"), type="primary")
        if submitted:
            options = [f"--steps={int(steps)}", f"--seed={int(seed)}", f"--device={device}",
                       f"--preset={chosen.name}"]
            options += [f"--set={k}={v.strip()}" for k, v in entered.items() if v.strip() != prefill[k]]
            if label.strip():
                options.append(f"--name={label.strip()}")
            live.start_from_form("rl", "train_agent", landed, (algo, env_id), options)


page("nav.train_agent")
live.training_page("rl", "train_agent", agent_form, prefill_from)
