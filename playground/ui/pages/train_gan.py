"""Train a GAN: pick a model and its data (a built-in set, a folder, or an uploaded zip), the image size
and how long to train; start a background job and watch its sample grids and losses live.
Start runs ``playground gan train … --detach`` in a child process: the CLI's own checks and sentence,
and no torch in this process.

A one-click start elsewhere (Home's first steps, a challenge's button) lands here on its run: the
run's live panel on top, the form below it folded away and set to the settings the run started with."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import streamlit as st

from playground import settings
from playground import uploads as upload_store
from playground.errors import PlaygroundError
from playground.i18n import Words
from playground.store import Run, get_store
from playground.ui import auth, engine, live, uploads
from playground.ui.common import Prefill, error_text, lang, page, t
from playground.ui.live import learn_more

UPLOADED_KEY = "train_gan.uploaded"  # (file id, kind) -> its upload's id (or refusal): reruns do not take it again
JUST_UPLOADED = "train_gan.just_uploaded"  # the upload to pick once it is ready
POLL_S = 2.0  # how often the list of uploads looks at one still unpacking
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


def sources() -> tuple[str, ...]:
    """Where data may come from: on a served app a folder of the server only when the operator listed some."""
    if auth.served() and not settings.data_roots():
        return tuple(s for s in SOURCES if s != "folder")
    return SOURCES


def dataset_picker(kind: str, needs_labels: bool) -> str | None:
    """The dataset spec the form will send: a built-in name, a folder path or a ready upload's folder."""
    offered = sources()
    if st.session_state.get("train_gan.source") not in (None, *offered):  # a folder no longer offered
        st.session_state.pop("train_gan.source")
    source = st.radio(
        t("train_gan.source"), offered, format_func=lambda s: t("train_gan.source." + s), horizontal=True,
        key="train_gan.source",
    )
    if "folder" not in offered:
        st.caption(t("upload.no_roots", env=settings.DATA_ROOTS_ENV, sep=os.pathsep))
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
        if auth.served():
            return served_folder()
        folder = st.text_input(t("train_gan.folder"), placeholder="/path/to/images", key="train_gan.folder")
        return folder.strip() or None
    return upload_picker(kind)


@st.cache_data(ttl=60, show_spinner=False)
def _offered(roots: tuple[str, ...], private: str) -> list[str]:
    """The roots and their subfolders (looked at once a minute, not on every rerun)."""
    return upload_store.offered_folders(upload_store.DataAccess(tuple(map(Path, roots)), (), Path(private)))


def _offer_args() -> tuple[tuple[str, ...], str]:
    return tuple(map(str, settings.data_roots())), str(settings.home().resolve())


def served_folder() -> str | None:
    """A served app's folder: one of the operator's roots or their subfolders, picked from a list; whatever comes
    back is checked by the access rule before anything looks at it (the child checks again)."""
    access = upload_store.data_access(auth.player())
    choices = _offered(*_offer_args())
    if not choices:
        st.warning(t("upload.roots_empty", env=settings.DATA_ROOTS_ENV))
        return None
    picked = st.selectbox(t("upload.folder_choice"), choices, key="train_gan.folder_choice")
    try:
        access.folder(str(picked))
    except PlaygroundError as exc:
        st.error(error_text(exc))
        return None
    return str(picked)


def _status(row: dict[str, Any]) -> str:
    return t("upload.status." + row["status"]) if row["status"] in upload_store.STATUSES else str(row["status"])


def _limits_line(player: str) -> str:
    limit = upload_store.limits(auth.served())
    values = dict(max_bytes=upload_store.human_bytes(limit.max_bytes), side=f"{math.isqrt(limit.max_image_pixels):,}")
    if not auth.served():
        return t("upload.limits_local", **values)
    return t("upload.limits", quota=upload_store.human_bytes(settings.upload_quota_bytes()),
             used=upload_store.human_bytes(upload_store.used_bytes(player)), **values)


def take_upload(kind: str, player: str) -> None:
    """A zip just dropped on the uploader: its directory checked here (size, quota), then the job unpacks it."""
    upload = st.file_uploader(t("train_gan.upload"), type=["zip"], key="train_gan.upload")
    st.caption(_limits_line(player))
    if upload is None:
        return
    cache = st.session_state.setdefault(UPLOADED_KEY, {})
    marker = (upload.file_id, kind)
    if marker not in cache:  # take it once per file and data kind, and remember a refusal too
        try:
            upload_id = upload_store.submit(upload.getvalue(), upload.name, kind, player, served=auth.served())
            uploads.start(upload_id, env=auth.child_env())
            cache[marker] = upload_id
            st.session_state[JUST_UPLOADED] = upload_id
        except PlaygroundError as exc:
            cache[marker] = exc  # the exception: its sentence follows the language switch
    taken = cache[marker]
    if isinstance(taken, PlaygroundError):
        st.error(error_text(taken))
    else:
        row = get_store().upload(taken)
        if row is not None and row["status"] == "unpacking":
            st.info(t("upload.queued", name=row["name"]))


def your_uploads(player: str) -> None:
    """The person's uploads (name, kind, size, status; why one was refused) with a delete button each; while one
    is unpacking the list looks again every ``POLL_S`` seconds, and draws the page anew when it is done."""
    store = get_store()
    pending = any(r["status"] == "unpacking" for r in store.uploads(player))

    @st.fragment(run_every=POLL_S if pending else None)
    def listing() -> None:
        st.markdown("**" + t("upload.yours") + "**")
        rows = store.uploads(player)
        if not rows:
            st.caption(t("upload.none_yet"))
        for row in reversed(rows):  # newest first
            left, right = st.columns([5, 1])
            left.markdown(t("upload.row", name=_plain(str(row["name"])), kind=upload_store.upload_kind(row),
                            size=upload_store.human_bytes(int(row["bytes"] or 0)), status=_status(row)))
            if row["status"] == "failed":
                left.error(refusal_text(row))
            if right.button(t("upload.delete"), key=f"train_gan.delete_upload.{row['id']}"):
                try:
                    upload_store.remove(int(row["id"]), store, owner=player)
                except PlaygroundError as exc:
                    st.error(error_text(exc))
                else:
                    st.session_state["train_gan.notice_upload"] = t("upload.deleted", name=row["name"])
                    st.rerun()
        if pending and not any(r["status"] == "unpacking" for r in rows):
            st.rerun()  # done: the picker above offers it now

    listing()


def _plain(text: str) -> str:
    """A name people chose, shown as itself inside markdown (no links, images or emphasis of its own)."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#!|~" else c for c in text)


def refusal_text(row: dict[str, Any]) -> str:
    """Why an upload was refused, in the session's language (the row keeps the sentence's key and values)."""
    key, values = upload_store.error_words(row) or ("upload.job_failed", {"said": "?"})
    try:
        return Words(key, **values).render(lang())
    except (KeyError, IndexError, ValueError):  # a sentence this version does not know
        return key


def upload_picker(kind: str) -> str | None:
    """Upload a zip, or train on one of the person's ready uploads of this data kind (the newest by default)."""
    player = auth.player()
    take_upload(kind, player)
    notice = st.session_state.pop("train_gan.notice_upload", None)
    if notice:
        st.success(notice)
    ready = [r for r in reversed(get_store().uploads(player))
             if r["status"] == "ready" and upload_store.upload_kind(r) == kind]
    chosen: str | None = None
    if ready:
        names = {int(r["id"]): r["name"] for r in ready}
        key = f"train_gan.upload_pick.{kind}"
        just = st.session_state.get(JUST_UPLOADED)
        if just in names:  # the zip just uploaded is ready: train on it
            st.session_state[key] = just
            st.session_state.pop(JUST_UPLOADED, None)
        if st.session_state.get(key) not in names:
            st.session_state.pop(key, None)
        picked = st.selectbox(t("upload.pick"), list(names), format_func=lambda i: names[i], key=key)
        row = get_store().upload(int(picked))
        if row is not None and row["owner"] == player and row["status"] == "ready":
            chosen = str(row["folder"])
    else:
        st.caption(t("upload.none_ready"))
    your_uploads(player)
    return chosen


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
    elif not auth.served():
        values["train_gan.source"] = "folder"
        values["train_gan.folder"] = data
    else:  # a served app: the folder is one of the offered ones, or one of the person's uploads
        mine = [r for r in get_store().uploads(auth.player()) if r["status"] == "ready" and r["folder"] == data]
        if mine:
            values["train_gan.source"] = "upload"
            values[f"train_gan.upload_pick.{model['data_kind']}"] = int(mine[0]["id"])
        elif "folder" in sources() and data in _offered(*_offer_args()):
            values["train_gan.source"] = "folder"
            values["train_gan.folder_choice"] = data
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
        count, on_ray = live.seeds_and_place("train_gan")
        submitted = st.form_submit_button(t("train_gan.start"), type="primary")

    if submitted:
        if not data_spec:
            st.error(t("train_gan.no_data"))
        else:
            length = f"--iters={int(iters)}" if iters else f"--epochs={int(epochs)}"
            options = [length, f"--batch-size={int(batch_size)}", f"--image-size={int(image_size)}",
                       *live.placement_options(int(seed), count, on_ray), f"--device={device}", f"--preset={preset_name}"]
            if label.strip():
                options.append(f"--name={label.strip()}")
            live.start_from_form("gan", "train_gan", landed, (model_name, data_spec), options)


page("nav.train_gan")
live.training_page("gan", "train_gan", gan_form, prefill_from)
