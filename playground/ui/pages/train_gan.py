"""Train a GAN: pick a model and its data (a built-in set, a folder, or an uploaded zip), the image size
and how long to train; start a background job and watch its sample grids and losses live.
Start runs ``playground gan train … --detach`` in a child process: the CLI's own checks and sentence,
and no torch in this process.

A one-click start elsewhere (Home's first steps, a challenge's button) lands here on its run: the
run's live panel on top, the form below it folded away and set to the settings the run started with."""

from __future__ import annotations

from typing import Any

import streamlit as st

from playground.errors import PlaygroundError
from playground.store import Run
from playground.ui import engine, live, uploads
from playground.ui.common import Prefill, error_text, lang, page, t
from playground.ui.live import learn_more

UPLOADED_KEY = "train_gan.uploaded"  # (upload id, kind) -> extracted folder, so reruns do not unpack again
DEVICES = ("auto", "cpu", "cuda")
PREFILL = Prefill("train_gan")  # the form set to the run a one-click start landed on
_start = PREFILL.start
SOURCES = ("builtin", "folder", "upload")


def builtin_families(kind: str, needs_labels: bool) -> dict[str, int]:
    """Built-in families that fit the model's data kind → how many game names each needs."""
    out: dict[str, int] = {}
    for info in engine.builtin_datasets():
        if info["kind"] != kind or (needs_labels and not info["labelled"]):
            continue
        family, *games = info["name"].split(":")
        out[family] = len(games)
    return out


def game_names() -> list[str]:
    return engine.ale_games()


def dataset_picker(kind: str, needs_labels: bool) -> str | None:
    """The dataset spec the form will send: a built-in name, a folder path or an unpacked upload."""
    source = st.radio(
        t("train_gan.source"), SOURCES, format_func=lambda s: t("train_gan.source." + s), horizontal=True,
        key="train_gan.source",
    )
    if source == "builtin":
        families = builtin_families(kind, needs_labels)
        if not families:
            st.warning(t("train_gan.no_builtin"))
            return None
        family = st.selectbox(
            t("train_gan.builtin"), list(families), format_func=lambda f: f"{f} — {t('train_gan.data.' + f)}",
            key=f"train_gan.family.{kind}.{needs_labels}",
        )
        games = game_names()
        picked = []
        defaults = ("Pong", "Breakout")
        for i in range(families[family]):
            default = games.index(defaults[i]) if defaults[i] in games else 0
            picked.append(st.selectbox(t("train_gan.game", n=i + 1), games,
                                       index=_start(f"train_gan.game.{family}.{i}", default),
                                       key=f"train_gan.game.{family}.{i}"))
        return ":".join([family, *picked])
    st.caption(t("train_gan.layout." + kind))
    if source == "folder":
        folder = st.text_input(t("train_gan.folder"), placeholder="/path/to/images", key="train_gan.folder")
        return folder.strip() or None
    upload = st.file_uploader(t("train_gan.upload"), type=["zip"], key="train_gan.upload")
    if upload is None:
        return None
    cache = st.session_state.setdefault(UPLOADED_KEY, {})
    marker = (upload.file_id, kind)
    if marker not in cache:  # unpack once per file and data kind, and remember a refusal too
        try:
            with st.spinner(t("train_gan.unpacking")):
                folder_path, info = uploads.extract_zip(upload.getvalue(), upload.name, kind, lang=lang())
            cache[marker] = (str(folder_path), None, info.size)
        except PlaygroundError as exc:
            cache[marker] = (None, exc, 0)  # the exception: its sentence follows the language switch
    folder_spec, refusal, count = cache[marker]
    if refusal:
        st.error(error_text(refusal))
    else:
        st.success(t("train_gan.unpacked", folder=folder_spec, n=f"{count:,}"))
    return folder_spec


def prefill_from(run: Run) -> None:
    """Set the form to the settings ``run`` started with: all of them when the page has just landed on it,
    later only those the form has lost (Streamlit forgets a widget's value while its page is not shown)."""
    config = run.config or {}
    models = engine.gan_models()
    model_name, preset_name, data = run.algo, str(config.get("preset")), str(config.get("data") or run.env)
    if model_name not in models:
        return
    model = models[model_name]
    values: dict[str, object] = {"train_gan.model": model_name, "train_gan.seed": int(config.get("seed") or 0),
                                 "train_gan.label": run.label or ""}
    if config.get("device") in DEVICES:
        values["train_gan.device"] = config["device"]
    family, *games = data.split(":")
    families = builtin_families(model["data_kind"], model["needs_labels"])
    if families.get(family) == len(games) and all(g in game_names() for g in games):
        values["train_gan.source"] = "builtin"
        values[f"train_gan.family.{model['data_kind']}.{model['needs_labels']}"] = family
        values.update({f"train_gan.game.{family}.{i}": game for i, game in enumerate(games)})
    else:
        values["train_gan.source"] = "folder"
        values["train_gan.folder"] = data
    if preset_name in model["presets"]:
        values[f"train_gan.preset.{model_name}"] = preset_name
        for key, field in (("size", "image_size"), ("batch", "batch_size")):
            if config.get(field):
                values[f"train_gan.{key}.{model_name}.{preset_name}"] = int(config[field])
    if config.get("iters"):
        values["train_gan.iters"] = int(config["iters"])
    PREFILL.apply(run.id, values)


def preset_caption(model_name: str, preset_name: str, chosen: dict[str, Any]) -> None:
    """The preset's one line in the session's language; where its numbers come from, folded."""
    st.caption(engine.gan_preset_text(model_name, preset_name, lang()) or chosen["description"])
    if chosen.get("source"):
        with st.expander(t("train_agent.preset_source")):
            st.caption(chosen["source"])


def gan_form(landed: Run | None) -> None:
    """The form: model, data, preset and run settings; Start launches the job."""
    models = engine.gan_models()
    model_name = st.selectbox(
        t("train_gan.model"), list(models), format_func=lambda n: models[n]["title"], key="train_gan.model"
    )
    model = models[model_name]
    learn_more(model_name)
    data_spec = dataset_picker(model["data_kind"], model["needs_labels"])

    preset_names = list(model["presets"])
    preset_key = f"train_gan.preset.{model_name}"
    preset_name = st.selectbox(
        t("train_gan.preset"), preset_names,
        index=_start(preset_key, preset_names.index("default") if "default" in preset_names else 0), key=preset_key,
    )
    chosen = model["presets"][preset_name]
    preset_caption(model_name, preset_name, chosen)

    with st.form(f"train_gan.form.{model_name}.{preset_name}"):
        c1, c2, c3 = st.columns(3)
        size_key = f"train_gan.size.{model_name}.{preset_name}"
        batch_key = f"train_gan.batch.{model_name}.{preset_name}"
        image_size = c1.number_input(t("train_gan.image_size"), min_value=1,
                                     value=_start(size_key, int(chosen["image_size"])), step=1,
                                     help=t("train_gan.image_size_help"), key=size_key)
        batch_size = c2.number_input(t("train_gan.batch_size"), min_value=1,
                                     value=_start(batch_key, int(chosen["batch_size"])), step=1,
                                     help=t("train_gan.batch_size_help"), key=batch_key)
        epochs = c3.number_input(t("train_gan.epochs"), min_value=1, value=int(chosen["epochs"]), step=1,
                                 help=t("train_gan.epochs_help"), key=f"train_gan.epochs.{model_name}.{preset_name}")
        c4, c5, c6 = st.columns(3)
        iters = c4.number_input(t("train_gan.iters"), min_value=0, value=_start("train_gan.iters", 0), step=100,
                                help=t("train_gan.iters_help"), key="train_gan.iters")
        seed = c5.number_input(t("train_gan.seed"), min_value=0, value=_start("train_gan.seed", 0), step=1,
                               key="train_gan.seed")
        device = c6.selectbox(t("train_gan.device"), DEVICES, help=t("train_agent.device_help"), key="train_gan.device")
        label = st.text_input(t("train_agent.label"), help=t("train_agent.label_help"), key="train_gan.label")
        submitted = st.form_submit_button(t("train_gan.start"), type="primary")

    if submitted:
        if not data_spec:
            st.error(t("train_gan.no_data"))
        else:
            length = f"--iters={int(iters)}" if iters else f"--epochs={int(epochs)}"
            options = [length, f"--batch-size={int(batch_size)}", f"--image-size={int(image_size)}",
                       f"--seed={int(seed)}", f"--device={device}", f"--preset={preset_name}"]
            if label.strip():
                options.append(f"--name={label.strip()}")
            live.start_from_form("gan", "train_gan", landed, (model_name, data_spec), options)


page("nav.train_gan")
live.training_page("gan", "train_gan", gan_form, prefill_from)
