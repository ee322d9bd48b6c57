"""A dataset spec (``mnist-5k``, ``atari:Pong``, a folder path) → what it holds, or the dataset itself.

The entry points every door uses: ``describe`` checks a spec before a run exists, ``open_dataset``
builds what the training loop iterates; every user mistake becomes one ``DataError`` sentence.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gans.data.builtin_sets import _FAMILY_KIND, _FAMILY_USAGE, _build_builtin, _builtin_info, _parse_builtin
from gans.data.datasets import KINDS, DataKind, DatasetInfo, GanDataset
from gans.data.folders import _FOLDER_READERS, _build_folder, _existing_folder, _Folder
from gans.data.image_files import _check_image_size
from playground.errors import DataError
from playground.i18n import Words

logger = logging.getLogger(__name__)


def _kind_words(kind: str) -> tuple[Words, Words, Words]:
    """A dataset kind in words: one set of it ("an image set"), its sets ("image sets"), its folder layout."""
    if kind == "images":
        return (Words("gans.kind_an_image_set"), Words("gans.kind_image_sets"),
                Words("gans.layout_image_folder"))
    if kind == "paired":
        return (Words("gans.kind_a_paired_set"), Words("gans.kind_paired_sets"),
                Words("gans.layout_aligned_folder"))
    return (Words("gans.kind_an_unpaired_set"), Words("gans.kind_unpaired_sets"),
            Words("gans.layout_unaligned_folder"))


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.startswith(("~", "."))


def _resolve(spec: str, kind: str) -> tuple[str, tuple[str, ...]] | _Folder:
    """A spec → a built-in (family, games) or a checked folder; every user mistake becomes a DataError.

    Built-in names win over a folder of the same name in the working directory: write ``./digits``.
    """
    if kind not in KINDS:
        raise DataError("gans.bad_kind", kind=kind, choices=", ".join(KINDS))
    spec = str(spec).strip()
    parsed = None if _looks_like_path(spec) else _parse_builtin(spec)
    if parsed is not None:
        family = parsed[0]
        if _FAMILY_KIND[family] != kind:
            actual = _kind_words(_FAMILY_KIND[family])[0]
            wanted, wanted_sets, layout = _kind_words(kind)
            fitting = ", ".join(_FAMILY_USAGE[f] for f, k in _FAMILY_KIND.items() if k == kind)
            raise DataError("gans.wrong_kind", spec=spec, actual=actual, wanted=wanted, wanted_sets=wanted_sets,
                            fitting=fitting, layout=layout)
        return parsed
    if _served():
        return _served_folder(spec, kind)
    if not _looks_like_path(spec) and not Path(spec).exists():
        names = ", ".join(_FAMILY_USAGE.values())
        raise DataError("gans.not_a_dataset", spec=spec, names=names)
    return _FOLDER_READERS[kind](spec, _existing_folder(spec))


def _served() -> bool:
    from playground import settings

    return settings.served()


def _served_folder(spec: str, kind: str) -> _Folder:
    """On a served app a folder is checked against the data access rule before anything else looks at it (the
    operator's roots and the person's own uploads; ``playground.uploads.DataAccess``): outside them, missing, a
    file, or leaving a root through a link, it is one and the same sentence, so nobody learns which paths exist."""
    from playground import uploads

    if not _looks_like_path(spec):  # not a built-in: say so without looking for it on the disk
        raise DataError("gans.not_a_dataset", spec=spec, names=", ".join(_FAMILY_USAGE.values()))
    access = uploads.data_access()
    folder = access.folder(spec)
    access.check_tree(spec, folder)
    return _FOLDER_READERS[kind](spec, folder)


def describe(spec: str, kind: DataKind) -> DatasetInfo:
    """Check a spec and say what it holds: folders are fully checked (every file), built-ins are not loaded."""
    resolved = _resolve(spec, kind)
    return resolved.info if isinstance(resolved, _Folder) else _builtin_info(*resolved)


def describe_folder(folder: Path, kind: DataKind) -> DatasetInfo:
    """Check a folder the platform made itself (an upload it unpacked) as ``kind`` reads it, without the served
    app's access rule: the caller vouches for the folder, which is no one's to train on until this passes."""
    if kind not in KINDS:
        raise DataError("gans.bad_kind", kind=kind, choices=", ".join(KINDS))
    return _FOLDER_READERS[kind](str(folder), _existing_folder(str(folder))).info


def open_dataset(spec: str, kind: DataKind, image_size: int, *, flip: bool = False, seed: int = 0) -> GanDataset:
    """The dataset a GAN trains on: ``kind`` decides how a folder is read and which built-ins fit.

    ``flip`` mirrors images at random (the same mirror for both sides of a pair); ``seed`` fixes the
    unpaired B draws, so two runs with one seed see the same data.
    """
    size = _check_image_size(image_size)
    resolved = _resolve(spec, kind)
    if isinstance(resolved, _Folder):
        dataset = _build_folder(resolved, size, flip, seed)
    else:
        dataset = _build_builtin(_builtin_info(*resolved), *resolved, size, flip, seed)
    logger.info("opened %r", dataset)
    return dataset
