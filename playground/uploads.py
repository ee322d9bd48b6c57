"""Data sets people upload as zips, and which folders a served app lets them train on.

Why this module exists: a zip from a browser is untrusted, and on a served app so is every path typed into a form.

* **Uploads.** Each upload is a row of the store's ``uploads`` table (whose, where, how big, unpacking | ready |
  failed) and a folder ``$PLAYGROUND_HOME/datasets/<id>-<name>-<kind>``. The page only reads the zip's directory (its
  declared sizes: the per-upload cap and, served, the owner's quota refuse it there), writes the zip beside the
  folder-to-be and starts a background child (``playground _ui unpack ID``) that checks everything again, reads every
  image's size from its header (no pixel is decoded: a small zip of PNGs that decode to gigabytes is refused by its
  pixel count), unpacks into a temporary folder, checks the layout as the GAN will read it, and renames it into
  place; the row says how it went. A refusal leaves only the row saying why. An upload goes when its owner deletes
  it or their account is removed.
* **Data access** (served only): the folders a person may train on are the operator's ``PLAYGROUND_DATA_ROOTS`` and
  their own uploads, nothing else; every other path, whether it exists or not, gets one and the same sentence.

No Streamlit and no engine here (the layout check imports ``gans.data`` in the child only).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import stat
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from playground import settings
from playground.checks import folders_once
from playground.errors import DataError, NotAllowed, PlaygroundError, QuotaExceeded
from playground.store import Store, get_store

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})
MAX_MEMBERS = 50_000
LOCAL_MAX_BYTES = 2 * 2**30  # unpacked, on this computer: the learner's own disk
SERVED_MAX_BYTES = 512 * 2**20  # unpacked, per upload on a served app: a quarter of the default quota
MAX_IMAGE_PIXELS = 4096 * 4096  # per image, both modes: a 12-megapixel phone photo fits, a decompression bomb does not
LOCAL_MAX_TOTAL_PIXELS = 8 * 2**30  # all images of one upload: what one pass of the layout check decodes at most
SERVED_MAX_TOTAL_PIXELS = 2**30  # e.g. 16,000 images of 256×256 or 4,000 of 512×512
STATUSES = ("unpacking", "ready", "failed")
_CHUNK = 1 << 20


class UploadError(DataError):
    """An uploaded archive that we refuse to unpack (one sentence: what is wrong with it)."""


@dataclass(frozen=True)
class Limits:
    """What one upload may hold."""

    max_bytes: int = LOCAL_MAX_BYTES
    max_members: int = MAX_MEMBERS
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_total_pixels: int = LOCAL_MAX_TOTAL_PIXELS


def limits(served: bool | None = None) -> Limits:
    """The limits of this process's mode (``served``: the app's, as the page knows it)."""
    if settings.served() if served is None else served:
        return Limits(max_bytes=SERVED_MAX_BYTES, max_total_pixels=SERVED_MAX_TOTAL_PIXELS)
    return Limits()


def datasets_dir() -> Path:
    """Where uploads are unpacked, one folder each."""
    path = settings.home() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}".replace(".0 ", " ")
    return f"{n:,} bytes"


def safe_name(name: str) -> str:
    """A folder name from an upload's file name: letters, digits, ``-`` and ``_`` only, never empty."""
    stem = Path(str(name).replace("\\", "/")).name
    if stem.lower().endswith(".zip"):
        stem = stem[:-4]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:60]
    return cleaned or "dataset"


# -- checking a zip before anything is written ---------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """One file of the archive that will be extracted, and where (relative to the dataset folder)."""

    info: zipfile.ZipInfo
    target: PurePosixPath


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
    archive: zipfile.ZipFile, *, max_members: int = MAX_MEMBERS, max_bytes: int = LOCAL_MAX_BYTES
) -> list[Member]:
    """Every member that will be extracted, after refusing anything unsafe (from the zip's directory: its declared
    sizes); nothing is written.

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
            raise UploadError("upload.too_big", limit=human_bytes(max_bytes))
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


def declared_bytes(members: list[Member]) -> int:
    return sum(m.info.file_size for m in members)


@contextmanager
def _headers_only() -> Iterator[None]:
    """Let Pillow report any size from a header: its own bomb check refuses the largest images without saying how
    large they are, and our limit is far below it anyway. Only headers are read while this holds."""
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def check_pixels(
    archive: zipfile.ZipFile, members: list[Member], *, max_image_pixels: int = MAX_IMAGE_PIXELS,
    max_total_pixels: int = LOCAL_MAX_TOTAL_PIXELS,
) -> int:
    """The pixels of every image, read from its header without decoding; refuses an image larger than
    ``max_image_pixels`` (naming it and its size) and a set larger than ``max_total_pixels``. Returns the total."""
    from PIL import Image, UnidentifiedImageError

    side = math.isqrt(max_image_pixels)
    total = 0
    with _headers_only():
        for member in members:
            name = member.info.filename
            try:
                with archive.open(member.info) as raw, Image.open(raw) as img:
                    width, height = img.size
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
                raise UploadError("upload.unreadable", name=name) from None
            except (zipfile.BadZipFile, zlib.error, EOFError):
                raise UploadError("upload.damaged", name=name) from None
            if width * height > max_image_pixels:
                raise UploadError("upload.too_many_pixels", name=name, width=f"{width:,}", height=f"{height:,}",
                                  limit=f"{max_image_pixels:,}", side=f"{side:,}")
            total += width * height
            if total > max_total_pixels:
                raise UploadError("upload.too_many_pixels_total", limit=f"{max_total_pixels:,}")
    return total


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
                    raise UploadError("upload.too_big", limit=human_bytes(max_bytes))
                out.write(chunk)


def open_zip(data: bytes | IO[bytes] | Path, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UploadError("upload.not_zip", name=name) from None


def unpack_zip(archive: zipfile.ZipFile, name: str, target: Path, limit: Limits) -> None:
    """Check ``archive`` (directory, then every image's header) and unpack it into ``target`` atomically: a temporary
    folder beside it, renamed into place, so ``target`` is complete or absent. An existing ``target`` is kept as is
    (the same bytes unpacked before)."""
    members = check_zip(archive, max_members=limit.max_members, max_bytes=limit.max_bytes)
    check_pixels(archive, members, max_image_pixels=limit.max_image_pixels, max_total_pixels=limit.max_total_pixels)
    if target.is_dir():
        return
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
    try:
        _extract(archive, members, tmp, limit.max_bytes)
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


def content_name(data: bytes, name: str, kind: str) -> str:
    """A folder name for these bytes checked as ``kind`` (the same zip twice: the same folder)."""
    return f"{safe_name(name)}-{kind}-{hashlib.sha256(data).hexdigest()[:10]}"


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (what an upload's row counts against the quota)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


# -- the store's side: owners, quota, the unpack job ---------------------------------------------------------------
def used_bytes(owner: str, store: Store | None = None, *, besides: int | None = None) -> int:
    """The disk ``owner``'s uploads take (one waiting to be unpacked counts its zip and what it will unpack to);
    ``besides``: leave that upload out."""
    rows = (store or get_store()).uploads(owner)
    return sum(int(row["bytes"] or 0) for row in rows if row["id"] != besides)


def check_quota(owner: str, needed: int, store: Store | None = None, *, besides: int | None = None) -> None:
    """Refuse an upload that would take ``owner``'s uploads past the served app's quota."""
    quota = settings.upload_quota_bytes()
    used = used_bytes(owner, store, besides=besides)
    if used + needed > quota:
        raise QuotaExceeded("upload.quota", needed=human_bytes(needed), used=human_bytes(used),
                            quota=human_bytes(quota))


def upload_kind(row: dict[str, Any]) -> str:
    """The data kind an upload was checked as (the last word of its folder's name)."""
    return Path(str(row["folder"])).name.rsplit("-", 1)[-1]


def zip_path(row: dict[str, Any]) -> Path:
    """Where an upload's zip waits to be unpacked: beside its folder."""
    return Path(str(row["folder"]) + ".zip")


def error_words(row: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A failed upload's sentence: its key and values (the page puts them into the session's language)."""
    if not row.get("error"):
        return None
    try:
        found = json.loads(row["error"])
        return str(found["key"]), dict(found.get("values") or {})
    except (ValueError, KeyError, TypeError):
        return "upload.job_failed", {"said": str(row["error"])[:200]}


def _error_json(exc: PlaygroundError) -> str:
    return json.dumps({"key": exc.key, "values": exc.values}, default=str)


def submit(data: bytes, name: str, kind: str, owner: str, *, served: bool, store: Store | None = None) -> int:
    """Take an uploaded zip for ``owner``: check its directory (the per-upload cap, and served the quota), write it
    beside its folder-to-be and record the row (``unpacking``, counting the zip and what it declares). Returns the
    upload's id; ``start`` the job next. Refused: nothing is written."""
    store = store or get_store()
    limit = limits(served)
    with open_zip(data, name) as archive:
        needed = declared_bytes(check_zip(archive, max_members=limit.max_members, max_bytes=limit.max_bytes))
    if served:
        check_quota(owner, needed, store)
    upload_id = store.add_upload(owner, Path(str(name).replace("\\", "/")).name[:200] or "upload.zip", "")
    folder = datasets_dir() / f"{upload_id}-{safe_name(name)}-{kind}"
    store.update_upload(upload_id, folder=str(folder))
    try:
        from playground.atomic import atomic_write_bytes

        atomic_write_bytes(zip_path({"folder": str(folder)}), data)
    except OSError as exc:
        error = UploadError("upload.unpack_failed", name=name, root=str(folder.parent), reason=str(exc.strerror or exc))
        store.update_upload(upload_id, status="failed", error=_error_json(error))
        raise error from None
    store.update_upload(upload_id, bytes=len(data) + needed)
    return upload_id


def unpack(upload_id: int, store: Store | None = None) -> dict[str, Any] | None:
    """The unpack job (``playground _ui unpack ID``): check the waiting zip again (directory, quota, every image's
    pixels), unpack it, check its layout as the GAN reads it, and mark the row ready with the bytes it takes; a
    refusal marks it failed with its sentence, leaves no folder and is raised. The zip is removed either way."""
    from gans.data import describe_folder

    store = store or get_store()
    row = store.upload(upload_id)
    if row is None or row["status"] != "unpacking":
        return row
    source, target, name = zip_path(row), Path(row["folder"]), str(row["name"])
    served = settings.served()
    limit = limits(served)
    try:
        if not source.is_file():
            raise UploadError("upload.zip_gone", name=name)
        with open_zip(source, name) as archive:
            if served:
                needed = declared_bytes(check_zip(archive, max_members=limit.max_members, max_bytes=limit.max_bytes))
                check_quota(str(row["owner"]), needed, store, besides=upload_id)
            unpack_zip(archive, name, target, limit)
        try:
            describe_folder(target, upload_kind(row))
        except DataError:
            shutil.rmtree(target, ignore_errors=True)
            raise
    except PlaygroundError as exc:
        if store.upload(upload_id) is not None:
            store.update_upload(upload_id, status="failed", bytes=0, error=_error_json(exc))
        raise
    except Exception as exc:  # a bug: the row says so, and the traceback stays for the CLI
        shutil.rmtree(target, ignore_errors=True)
        if store.upload(upload_id) is not None:
            failed = UploadError("upload.job_failed", said=f"{type(exc).__name__}: {exc}"[:200])
            store.update_upload(upload_id, status="failed", bytes=0, error=_error_json(failed))
        raise
    finally:
        source.unlink(missing_ok=True)
    if store.upload(upload_id) is None:  # deleted while it was unpacking: take its folder too
        shutil.rmtree(target, ignore_errors=True)
        return None
    store.update_upload(upload_id, status="ready", bytes=folder_bytes(target), error=None)
    return store.upload(upload_id)


def _inside_datasets(path: Path) -> bool:
    try:
        path.resolve().relative_to(datasets_dir().resolve())
    except ValueError:  # never remove anything outside the uploads' own folder
        log.warning("not removing %s: it is not under %s", path, datasets_dir())
        return False
    return True


def _remove_folder(folder: str) -> None:
    if not folder:
        return
    path = Path(folder)
    if _inside_datasets(path):
        shutil.rmtree(path, ignore_errors=True)
    waiting = zip_path({"folder": folder})
    if _inside_datasets(waiting):
        waiting.unlink(missing_ok=True)


def remove(upload_id: int, store: Store | None = None, *, owner: str | None = None) -> None:
    """One upload, its folder (or its waiting zip) and its row; ``owner``: only if it is theirs."""
    store = store or get_store()
    row = store.upload(upload_id)
    if row is None:
        return
    if owner is not None and row["owner"] != owner:
        raise NotAllowed("upload.not_yours")
    _remove_folder(row["folder"])
    store.delete_upload(upload_id)


def remove_all(owner: str, store: Store | None = None) -> int:
    """Every upload of ``owner``; how many there were."""
    store = store or get_store()
    rows = store.uploads(owner)
    for row in rows:
        remove(int(row["id"]), store)
    return len(rows)


# -- data access on a served app -----------------------------------------------------------------------------------
def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


@dataclass(frozen=True)
class DataAccess:
    """The folders one person may train on when served: under the operator's roots or in their own uploads, never
    elsewhere in the playground's home (other people's uploads and runs)."""

    roots: tuple[Path, ...]
    own: tuple[Path, ...]
    private: Path

    def permits(self, real: Path) -> bool:
        """Whether a resolved path (links followed) is one this person may read."""
        if any(_within(real, folder) for folder in self.own):
            return True
        if _within(real, self.private):
            return False
        return any(_within(real, root) for root in self.roots)

    def refused(self, spec: str) -> NotAllowed:
        """The one sentence for every path that is not offered: outside the roots, missing, a file, or leaving a
        root through a link, alike."""
        return NotAllowed("upload.folder_refused", path=str(spec))

    def folder(self, spec: str) -> Path:
        """``spec`` as the real folder it names, if this person may train on it; else the one sentence."""
        raw = str(spec).strip()
        if not raw or "\x00" in raw or not Path(raw).is_absolute():
            raise self.refused(spec)
        try:
            real = Path(raw).resolve()
            if not self.permits(real) or not real.is_dir():
                raise self.refused(spec)
        except (OSError, RuntimeError):
            raise self.refused(spec) from None
        return real

    def check_tree(self, spec: str, folder: Path, max_folders: int = 10_000) -> None:
        """Every folder and file under ``folder``, links followed, stays where this person may read: a link inside
        a root that points out of it gets the same sentence as a path outside the roots."""
        for count, (root, dirs, files) in enumerate(folders_once(folder), 1):
            real = os.path.realpath(root)
            if count > max_folders:
                return  # the layout check refuses so many folders with its own sentence
            if not self.permits(Path(real)):
                raise self.refused(spec)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if not name.startswith(".") and not self.permits(Path(os.path.realpath(os.path.join(root, name)))):
                    raise self.refused(spec)


def data_access(player: str | None = None, store: Store | None = None) -> DataAccess:
    """The served-mode rule for ``player`` (default: ``PLAYGROUND_PLAYER``, which the app gives its children; none:
    no upload is theirs)."""
    player = player if player is not None else os.environ.get("PLAYGROUND_PLAYER") or None
    own: list[Path] = []
    if player:
        for row in (store or get_store()).uploads(player):
            if row["status"] == "ready" and row["folder"]:
                own.append(Path(row["folder"]).resolve())
    return DataAccess(tuple(settings.data_roots()), tuple(own), settings.home().resolve())


def offered_folders(access: DataAccess, depth: int = 2, limit: int = 500) -> list[str]:
    """The folders a served page offers: each root and its subfolders ``depth`` levels down (hidden ones, links out
    of the roots and the playground's home left out), at most ``limit``."""
    found: list[str] = []
    for root in access.roots:
        if not root.is_dir() or not access.permits(root):
            continue
        level = [root]
        found.append(str(root))
        for _ in range(depth):
            below: list[Path] = []
            for folder in level:
                try:
                    entries = sorted(os.scandir(folder), key=lambda e: e.name)
                except OSError:
                    continue
                for entry in entries:
                    try:
                        if entry.name.startswith(".") or not entry.is_dir():
                            continue
                    except OSError:
                        continue
                    path = Path(entry.path)
                    if access.permits(path.resolve()):
                        below.append(path)
                        found.append(str(path))
                        if len(found) >= limit:
                            return found
            level = below
    return found
