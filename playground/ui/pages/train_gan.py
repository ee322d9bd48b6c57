"""Train a GAN: pick a model and its data (a built-in set, a folder, or an uploaded zip), the image size
and how long to train; start a background job and watch its sample grids and losses live.
The form's values go through ``build_gan_config``, the same checks as the CLI."""

from __future__ import annotations

import streamlit as st

import gans
from gans import data as gan_data
from gans import presets as gan_presets
from playground import config, jobs
from playground.errors import PlaygroundError
from playground.ui import uploads
from playground.ui.common import page, shown_errors, t
from playground.ui.live import learn_more, live_panel

RUN_KEY = "train_gan.run"
UPLOADED_KEY = "train_gan.uploaded"  # (upload id, kind) -> extracted folder, so reruns do not unpack again
DEVICES = ("auto", "cpu", "cuda")
SOURCES = ("builtin", "folder", "upload")


def builtin_families(kind: str, needs_labels: bool) -> dict[str, int]:
    """Built-in families that fit the model's data kind → how many game names each needs."""
    out: dict[str, int] = {}
    for info in gan_data.builtin_datasets():
        if info.kind != kind or (needs_labels and not info.classes):
            continue
        family, *games = info.name.split(":")
        out[family] = len(games)
    return out


@st.cache_data(show_spinner=False)
def game_names() -> list[str]:
    return list(gan_data.ale_games())


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
            picked.append(st.selectbox(t("train_gan.game", n=i + 1), games, index=default,
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
                folder_path, info = uploads.extract_zip(upload.getvalue(), upload.name, kind)
            cache[marker] = (str(folder_path), None, info.size)
        except PlaygroundError as exc:
            cache[marker] = (None, str(exc), 0)
    folder_spec, refusal, count = cache[marker]
    if refusal:
        st.error(refusal)
    else:
        st.success(t("train_gan.unpacked", folder=folder_spec, n=f"{count:,}"))
    return folder_spec


page("nav.train_gan")
st.caption(t("train_gan.intro"))

model_name = st.selectbox(
    t("train_gan.model"), gans.names(), format_func=lambda n: gans.get(n).title, key="train_gan.model"
)
model_cls = gans.get(model_name)
learn_more(model_name)
data_spec = dataset_picker(model_cls.data_kind, model_cls.needs_labels)

preset_list = list(gan_presets.presets_for(model_name).values())
preset_names = [p.name for p in preset_list]
preset_name = st.selectbox(
    t("train_gan.preset"), preset_names,
    index=preset_names.index("default") if "default" in preset_names else 0, key=f"train_gan.preset.{model_name}",
)
chosen = gan_presets.presets_for(model_name)[preset_name]
st.caption(t("train_gan.preset_from", description=chosen.description, source=chosen.source))

with st.form(f"train_gan.form.{model_name}.{preset_name}"):
    c1, c2, c3 = st.columns(3)
    image_size = c1.number_input(t("train_gan.image_size"), min_value=1, value=int(chosen.image_size), step=1,
                                 help=t("train_gan.image_size_help"), key=f"train_gan.size.{model_name}.{preset_name}")
    batch_size = c2.number_input(t("train_gan.batch_size"), min_value=1, value=int(chosen.batch_size), step=1,
                                 help=t("train_gan.batch_size_help"), key=f"train_gan.batch.{model_name}.{preset_name}")
    epochs = c3.number_input(t("train_gan.epochs"), min_value=1, value=int(chosen.epochs), step=1,
                             help=t("train_gan.epochs_help"), key=f"train_gan.epochs.{model_name}.{preset_name}")
    c4, c5, c6 = st.columns(3)
    iters = c4.number_input(t("train_gan.iters"), min_value=0, value=0, step=100, help=t("train_gan.iters_help"),
                            key="train_gan.iters")
    seed = c5.number_input(t("train_gan.seed"), min_value=0, value=0, step=1, key="train_gan.seed")
    device = c6.selectbox(t("train_gan.device"), DEVICES, help=t("train_agent.device_help"), key="train_gan.device")
    label = st.text_input(t("train_agent.label"), help=t("train_agent.label_help"), key="train_gan.label")
    submitted = st.form_submit_button(t("train_gan.start"), type="primary")

if submitted:
    if not data_spec:
        st.error(t("train_gan.no_data"))
    else:
        with shown_errors():
            cfg = config.build_gan_config(
                model_name, data_spec,
                epochs=None if iters else int(epochs), iters=int(iters) or None,
                batch_size=int(batch_size), image_size=int(image_size), seed=int(seed), device=device,
                preset=preset_name,
            )
            run, pid = jobs.launch(cfg, label=label.strip() or None)
            st.session_state[RUN_KEY] = run.id
            st.success(t("train_gan.started", run=run.id, pid=pid))

st.divider()
live_panel("gan", RUN_KEY)
