"""A dataset that a user uploads as a zip: checked before anything is written, then unpacked atomically.

Why this module exists: a zip from a browser is untrusted. Before a single byte is extracted,
every member is checked for paths that escape the target folder (absolute paths, ``..``,
symlinks), for zip bombs (too many members, too many uncompressed bytes) and for files that are
not images. Only then is it unpacked into a temporary folder beside the target and renamed into
place, so ``<home>/datasets/<name>`` is either complete or absent. Finally ``gans.data.describe``
checks the layout (plain images or class subfolders, aligned A|B, unaligned trainA/trainB), so a
wrong layout is one sentence too; it reads the images with the engine (torch), so it runs in a
short child process (``playground _ui dataset``). Pure functions: no Streamlit here. The refusals
are sentences of the translation table (``upload.*`` in ``playground/strings/ui.yaml``), so the page
says them in the language the session chose.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from playground import settings
from playground.errors import DataError, PlaygroundError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})
MAX_MEMBERS = 50_000
MAX_TOTAL_BYTES = 2 * 2**30  # uncompressed
_CHUNK = 1 << 20


class UploadError(DataError):
    """An uploaded archive that we refuse to unpack (one sentence: what is wrong with it)."""


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


def describe(data: str, kind: str, lang: str | None = None) -> DatasetSummary:
    """Check a dataset's layout as a GAN of ``kind`` reads it, in a child process (speaking ``lang``);
    ``DataError`` with the one sentence when it does not fit."""
    from playground import jobs

    try:
        raw = json.loads(jobs.run_cli(["_ui", "dataset", "--", data, kind], lang=lang))
    except PlaygroundError as exc:
        raise DataError(exc.key, **exc.values) from None
    fields = {name: raw.get(name) for name in DatasetSummary.__dataclass_fields__}
    if fields["classes"] is not None:
        fields["classes"] = tuple(fields["classes"])
    return DatasetSummary(**fields)


@dataclass(frozen=True)
class Member:
    """One file of the archive that will be extracted, and where (relative to the dataset folder)."""

    info: zipfile.ZipInfo
    target: PurePosixPath


def safe_name(name: str) -> str:
    """A folder name from an upload's file name: letters, digits, ``-`` and ``_`` only, never empty."""
    stem = Path(str(name).replace("\\", "/")).name
    if stem.lower().endswith(".zip"):
        stem = stem[:-4]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:60]
    return cleaned or "dataset"


def _human(n: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}".replace(".0 ", " ")
    return f"{n:,} bytes"


def _ignored(parts: tuple[str, ...]) -> bool:
    """macOS resource forks and hidden files (``.DS_Store``) are never part of a dataset."""
    return parts[0] == "__MACOSX" or any(p.startswith(".") and p not in (".", "..") for p in parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _escapes(raw: str) -> bool:
    """Absolute paths, drive letters and ``..`` would write outside the dataset folder."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return True
    return ".." in PurePosixPath(name).parts


def check_zip(
    archive: zipfile.ZipFile, *, max_members: int = MAX_MEMBERS, max_bytes: int = MAX_TOTAL_BYTES
) -> list[Member]:
    """Every member that will be extracted, after refusing anything unsafe; nothing is written.

    A single folder that holds everything (``facades/train/...``) is unwrapped, so the dataset
    folder starts at the layout the GAN readers expect.
    """
    infos = archive.infolist()
    if len(infos) > max_members:
        raise UploadError("upload.too_many", n=f"{len(infos):,}", limit=f"{max_members:,}")
    total = 0
    kept: list[zipfile.ZipInfo] = []
    for info in infos:
        if _escapes(info.filename):
            raise UploadError("upload.escapes", name=info.filename)
        if _is_symlink(info):
            raise UploadError("upload.symlink", name=info.filename)
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.is_dir() or not parts or _ignored(parts):
            continue
        if info.flag_bits & 0x1:
            raise UploadError("upload.encrypted", name=info.filename)
        if PurePosixPath(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            allowed = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
            raise UploadError("upload.not_image", name=info.filename, allowed=allowed)
        total += info.file_size
        if total > max_bytes:
            raise UploadError("upload.too_big", limit=_human(max_bytes))
        kept.append(info)
    if not kept:
        raise UploadError("upload.no_images")
    paths = [PurePosixPath(*PurePosixPath(i.filename.replace("\\", "/")).parts) for i in kept]
    files = set(paths)
    for path in paths:
        clash = next((parent for parent in path.parents if parent in files), None)
        if clash is not None:
            raise UploadError("upload.clash", clash=str(clash), path=str(path))
    tops = {p.parts[0] for p in paths}
    strip = 1 if len(tops) == 1 and all(len(p.parts) > 1 for p in paths) else 0
    return [Member(info, PurePosixPath(*path.parts[strip:])) for info, path in zip(kept, paths)]


def _extract(archive: zipfile.ZipFile, members: list[Member], folder: Path, max_bytes: int) -> None:
    """Copy each checked member, counting bytes as they come (a header may lie about its size)."""
    written = 0
    root = folder.resolve()
    for member in members:
        dest = folder.joinpath(*member.target.parts)
        if root not in dest.resolve().parents:  # belt and braces after check_zip
            raise UploadError("upload.outside", name=member.info.filename)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member.info) as src, dest.open("wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise UploadError("upload.too_big", limit=_human(max_bytes))
                out.write(chunk)


def datasets_dir() -> Path:
    return settings.home() / "datasets"


def extract_zip(
    data: bytes | IO[bytes] | Path,
    name: str,
    kind: str,
    *,
    root: Path | None = None,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_TOTAL_BYTES,
    lang: str | None = None,
) -> tuple[Path, DatasetSummary]:
    """Check, unpack into ``<home>/datasets/<safe name>-<kind>-<hash>`` and describe an uploaded zip.

    Returns the folder and what ``describe`` says of it. The same bytes uploaded twice land in
    the same folder (it is reused, not unpacked again). Raises ``UploadError``/``DataError`` (the layout's
    sentence in ``lang``).
    """
    raw = data.read_bytes() if isinstance(data, Path) else data if isinstance(data, bytes) else data.read()
    digest = hashlib.sha256(raw).hexdigest()[:10]
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise UploadError("upload.not_zip", name=name) from None
    root = root or datasets_dir()
    # The data kind is part of the name: the same zip checked as another kind never touches a folder in use.
    target = root / f"{safe_name(name)}-{kind}-{digest}"
    with archive:
        members = check_zip(archive, max_members=max_members, max_bytes=max_bytes)
        if not target.is_dir():
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
            try:
                _extract(archive, members, tmp, max_bytes)
                try:
                    os.rename(tmp, target)
                except OSError:
                    if not target.is_dir():  # another upload of the same bytes won the race otherwise
                        raise
            except (zipfile.BadZipFile, zlib.error, EOFError):
                raise UploadError("upload.damaged", name=name) from None
            except NotImplementedError:  # e.g. Deflate64 or another method Python cannot unpack
                raise UploadError("upload.method", name=name) from None
            except OSError as exc:  # a full disk, or a name this file system cannot hold
                raise UploadError("upload.unpack_failed", name=name, root=str(root), reason=str(exc.strerror or exc)) from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    try:
        info = describe(str(target), kind, lang)
    except DataError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target, info
