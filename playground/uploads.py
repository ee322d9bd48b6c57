"""Data sets people uploaded to a served app, as the store records them: whose, where, how big.

Each upload is a folder under ``$PLAYGROUND_HOME/datasets`` and a row of the store's ``uploads`` table; its bytes
count against its owner's quota (``settings.upload_quota_bytes``), and it goes when its owner deletes it or their
account is removed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from playground import settings
from playground.store import Store, get_store

log = logging.getLogger(__name__)


def datasets_dir() -> Path:
    """Where uploads are unpacked, one folder each."""
    path = settings.home() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def used_bytes(owner: str, store: Store | None = None) -> int:
    """The disk ``owner``'s uploads take (those still unpacking count what they have written so far)."""
    return sum(int(row["bytes"] or 0) for row in (store or get_store()).uploads(owner))


def _remove_folder(folder: str) -> None:
    path = Path(folder)
    try:
        path.resolve().relative_to(datasets_dir().resolve())
    except ValueError:  # never remove anything outside the uploads' own folder
        log.warning("not removing %s: it is not under %s", path, datasets_dir())
        return
    shutil.rmtree(path, ignore_errors=True)


def remove(upload_id: int, store: Store | None = None) -> None:
    """One upload, its folder and its row."""
    store = store or get_store()
    row = store.upload(upload_id)
    if row is None:
        return
    _remove_folder(row["folder"])
    store.delete_upload(upload_id)


def remove_all(owner: str, store: Store | None = None) -> int:
    """Every upload of ``owner``; how many there were."""
    store = store or get_store()
    rows = store.uploads(owner)
    for row in rows:
        remove(int(row["id"]), store)
    return len(rows)
