"""The web app's side of uploaded datasets: take a zip, start the job that unpacks it, and ask a child to describe
a dataset. The checks themselves, the store's rows and the served app's data access rule are
``playground.uploads``; nothing here imports Streamlit or the engine.

Unpacking runs in a background ``playground _ui unpack ID`` child (its own session, collected when it ends), never in
the page: the page only reads the zip's directory (so a refusal by size or quota is immediate), writes the zip and
polls the upload's row. ``describe`` and ``extract_zip`` ask a short child (``playground _ui dataset``) because the
layout check reads the images with the engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from playground.errors import DataError, PlaygroundError
from playground.store import get_store
from playground.uploads import (  # noqa: F401 - the names pages and tests use
    IMAGE_SUFFIXES,
    LOCAL_MAX_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_MEMBERS,
    Limits,
    Member,
    UploadError,
    check_pixels,
    check_zip,
    content_name,
    datasets_dir,
    limits,
    open_zip,
    safe_name,
    submit,
    unpack_zip,
)

MAX_TOTAL_BYTES = LOCAL_MAX_BYTES  # unpacked, on this computer (a served app: playground.uploads.SERVED_MAX_BYTES)


@dataclass(frozen=True)
class DatasetSummary:
    """What ``gans.data.describe`` said of a dataset (its ``DatasetInfo``), as read back from the child."""

    name: str
    kind: str
    description: str
    size: int
    channels: int
    size_b: int | None = None
    channels_b: int | None = None
    classes: tuple[str, ...] | None = None


def describe(data: str, kind: str, lang: str | None = None, env: dict[str, str] | None = None) -> DatasetSummary:
    """Check a dataset's layout as a GAN of ``kind`` reads it, in a child process (speaking ``lang``; ``env``: the
    served app's variables, so its data access rule applies); ``DataError`` with the one sentence when it does not
    fit."""
    from playground import jobs

    try:
        raw = json.loads(jobs.run_cli(["_ui", "dataset", "--", data, kind], lang=lang, env=env))
    except PlaygroundError as exc:
        raise DataError(exc.key, **exc.values) from None
    fields = {name: raw.get(name) for name in DatasetSummary.__dataclass_fields__}
    if fields["classes"] is not None:
        fields["classes"] = tuple(fields["classes"])
    return DatasetSummary(**fields)


def extract_zip(
    data: bytes | IO[bytes] | Path,
    name: str,
    kind: str,
    *,
    root: Path | None = None,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_TOTAL_BYTES,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    lang: str | None = None,
) -> tuple[Path, DatasetSummary]:
    """Check, unpack into ``<home>/datasets/<safe name>-<kind>-<hash>`` and describe a zip now, in this process (for
    scripts and tests; the web page starts the unpack job instead). The same bytes land in the same folder. Raises
    ``UploadError``/``DataError`` (the layout's sentence in ``lang``); a refusal leaves nothing behind."""
    raw = data.read_bytes() if isinstance(data, Path) else data if isinstance(data, bytes) else data.read()
    limit = Limits(max_bytes=max_bytes, max_members=max_members, max_image_pixels=max_image_pixels)
    # The data kind is part of the name: the same zip checked as another kind never touches a folder in use.
    target = (root or datasets_dir()) / content_name(raw, name, kind)
    existed = target.is_dir()
    with open_zip(raw, name) as archive:
        unpack_zip(archive, name, target, limit)
    try:
        info = describe(str(target), kind, lang)
    except DataError:
        if not existed:
            import shutil

            shutil.rmtree(target, ignore_errors=True)
        raise
    return target, info


def start(upload_id: int, *, env: dict[str, str] | None = None) -> int:
    """Start the unpack job of an upload ``submit`` took (``env``: whom it acts for on a served app), as a process
    of its own session; a thread collects it, and marks the row failed if the job died without saying why. Its
    pid."""
    from playground import jobs

    proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
        [sys.executable, "-m", "playground", "_ui", "unpack", str(int(upload_id))], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=jobs.child_env(None, **(env or {})),
    )
    threading.Thread(target=_collect, args=(proc, upload_id), name=f"reap-unpack-{proc.pid}", daemon=True).start()
    return proc.pid


def _collect(proc: subprocess.Popen[str], upload_id: int) -> None:
    _, said = proc.communicate()
    if proc.returncode == 0:
        return
    store = get_store()
    row = store.upload(upload_id)
    if row is not None and row["status"] == "unpacking":  # the job ended without marking its row: a crash
        lines = [line.strip() for line in (said or "").splitlines() if line.strip()]
        said = (lines[-1] if lines else f"exit status {proc.returncode}")[:200]
        error = {"key": "upload.job_failed", "values": {"said": said}}
        store.update_upload(upload_id, status="failed", bytes=0, error=json.dumps(error))
