"""Train an agent: pick a game, an algorithm that can learn it and a preset, adjust the key knobs, start a
background job and follow it live. Start runs ``playground rl train … --detach`` in a child process: the
CLI's own checks and sentence, and no torch in this process.

The grid worlds (FrozenLake, Taxi, CliffWalking) come first: they are the first lessons, and the only
environments the tabular methods (value iteration … Expected SARSA) are offered for, since a table keeps one
number per counted state. A tabular run's live panel draws its table on the grid as it learns.

A one-click start elsewhere (Home's first steps, a challenge's button) lands here on its run: the
run's live panel on top, the form below it folded away and set to the settings the run started with."""

from __future__ import annotations


import streamlit as st

from agents import presets
from playground import envs
from playground.envs.specs import KWARG_SEPARATOR
from playground.store import Run
from playground.ui import engine, live, tables, thumbnails
from playground.ui.common import Prefill, lang, page, t
from playground.i18n import table
from playground.ui.live import learn_more

# The grid worlds, first lessons of the syllabus: each id (keyword arguments and all, as ``envs.resolve`` spells
# it) and the name of its label (train_agent.task.<name>). Their states are counted (Discrete): tables fit them.
GRID_WORLDS = {
    "FrozenLake-v1,is_slippery=False": "frozenlake_4x4",
    "FrozenLake-v1": "frozenlake_4x4_slippery",
    "FrozenLake-v1,is_slippery=False,map_name=8x8": "frozenlake_8x8",
    "FrozenLake8x8-v1": "frozenlake_8x8_slippery",
    "Taxi-v4": "taxi",
    "CliffWalking-v1": "cliffwalking",
}
# Our own networks read an observation as numbers or a picture, not as the number of a state (their check_env
# lets a counted state through, then the first batch fails): not offered on the grid worlds. Stable-baselines3's
# DQN, PPO and A2C one-hot encode a counted state, so they can learn a grid world.
NO_COUNTED_STATES = ("dqn", "a3c")
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
    "value-iteration": ("gamma", "theta"),
    "policy-iteration": ("gamma", "theta"),
    **{name: ("gamma", "learning_rate", "learning_rate_final", "exploration_initial_eps", "exploration_final_eps",
              "exploration_fraction", "initial_q") for name in ("qlearning", "sarsa", "expected-sarsa")},
}
DEVICES = ("auto", "cpu", "cuda")
PREFILL = Prefill("train_agent")  # the form set to the run a one-click start landed on
_start = PREFILL.start


@st.cache_data(show_spinner=False)
def environment_ids() -> list[str]:
    """The grid worlds first (the first lessons), the classic tasks next (quick to learn), then every ALE game
    by its v5 id."""
    known = set(envs.list_ids())
    grids = [e for e in GRID_WORLDS if e.partition(KWARG_SEPARATOR)[0] in known]
    return grids + [e for e in CLASSIC if e in known] + envs.list_ids(atari_only=True)


def env_label(env_id: str) -> str:
    """A grid world by what it is (the id after it, as the CLI takes it); any other environment by its id."""
    name = GRID_WORLDS.get(env_id)
    return f"{t('train_agent.task.' + name)} · {env_id}" if name else env_id


def offered(env_id: str) -> list[str]:
    """The algorithms that can learn ``env_id``, in the order the form lists them: on a grid world the tabular
    methods first, then the networks that take a counted state; elsewhere the networks alone."""
    algos = engine.algorithms()
    tabular = [a for a in algos if tables.tabular(a)]
    if env_id in GRID_WORLDS:
        return tabular + [a for a in algos if a not in tabular and a not in NO_COUNTED_STATES]
    return [a for a in algos if a not in tabular]


def algo_label(algo: str) -> str:
    """``Q-learning``, ``Value iteration``…; the networks by their initials (DQN, PPO)."""
    key = f"train_agent.algo_name.{algo}"
    return t(key) if key in table() else algo.upper()


def plans(algo: str) -> bool:
    """Whether ``algo`` plans with the environment's model (value and policy iteration) instead of playing."""
    from agents.tabular import TABULAR_AGENTS

    return any(cls.name == algo and cls.planning for cls in TABULAR_AGENTS)


def hp_help(algo: str, name: str) -> str | None:
    """A knob's one line: the tabular methods' own where theirs differs (alpha is a plain number there)."""
    for key in ([f"train_agent.hp.tabular.{name}"] if tables.tabular(algo) else []) + [f"train_agent.hp.{name}"]:
        if key in table():
            return t(key)
    return None


def left_out(env_id: str) -> None:
    """Which algorithms the list leaves out for ``env_id``, and why, in one line."""
    if env_id in GRID_WORLDS:
        st.caption(t("train_agent.grid_left_out", algos=", ".join(a.upper() for a in NO_COUNTED_STATES)))
    else:
        st.caption(t("train_agent.tables_need_grid"))


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
    if env_id not in environment_ids() or algo not in offered(env_id):
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
        ids = environment_ids()
        env_id = st.selectbox(
            t("train_agent.env"), ids,
            index=_start("train_agent.env", ids.index("CartPole-v1") if "CartPole-v1" in ids else 0),
            format_func=env_label, help=t("train_agent.env_help"), key="train_agent.env",
        )
        algos = offered(env_id)
        if st.session_state.get("train_agent.algo", algos[0]) not in algos:  # chosen for another environment
            st.session_state["train_agent.algo"] = algos[0]
        algo = st.selectbox(t("train_agent.algo"), algos, format_func=algo_label, key="train_agent.algo")
        learn_more(algo)
        left_out(env_id)
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
                hp_key = f"train_agent.hp.{algo}.{chosen.name}.{name}"
                entered[name] = cols[i % 2].text_input(
                    name, value=_start(hp_key, prefill[name]), help=hp_help(algo, name), key=hp_key,
                ) or ""
            st.subheader(t("train_agent.run_settings"))
            c1, c2, c3 = st.columns(3)
            steps_key = f"train_agent.steps.{algo}.{chosen.name}"
            planning = plans(algo)  # a step is a sweep over every state, and the run stops once values settle
            steps = c1.number_input(t("train_agent.steps"), min_value=1, value=_start(steps_key, int(chosen.steps)),
                                    step=100 if planning else 1000, key=steps_key,
                                    help=t("train_agent.steps_help_planning" if planning else "train_agent.steps_help"))
            seed = c2.number_input(t("train_agent.seed"), min_value=0, value=_start("train_agent.seed", 0), step=1,
                                   help=t("train_agent.seed_help"), key="train_agent.seed")
            device = c3.selectbox(t("train_agent.device"), DEVICES, help=t("train_agent.device_help"),
                                  key="train_agent.device")
            label = st.text_input(t("train_agent.label"), help=t("train_agent.label_help"),
                                  key="train_agent.label")
            count, on_ray = live.seeds_and_place("train_agent")
            submitted = st.form_submit_button(t("train_agent.start"), type="primary")
        if submitted:
            options = [f"--steps={int(steps)}", *live.placement_options(int(seed), count, on_ray), f"--device={device}",
                       f"--preset={chosen.name}"]
            options += [f"--set={k}={v.strip()}" for k, v in entered.items() if v.strip() != prefill[k]]
            if label.strip():
                options.append(f"--name={label.strip()}")
            live.start_from_form("rl", "train_agent", landed, (algo, env_id), options)


page("nav.train_agent")
live.training_page("rl", "train_agent", agent_form, prefill_from)
