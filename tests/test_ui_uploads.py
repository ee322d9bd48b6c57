"""Uploaded dataset zips: every refusal happens before a byte is extracted, and each is one sentence;
good zips in the three layouts unpack and describe as the GAN readers expect."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from playground.errors import DataError
from playground.ui import uploads


def png(width: int = 16, height: int = 16, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A valid black-and-white PNG of any size, written without holding its pixels: a few kilobytes that decode to
    ``width * height`` bytes (Pillow's mode "1" keeps a byte per pixel)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the row's bits, all black
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def make_zip(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return out.getvalue()


def refused(data: bytes, kind: str = "images", **limits: int) -> str:
    with pytest.raises(uploads.UploadError) as caught:
        uploads.extract_zip(data, "my set.zip", kind, **limits)
    message = str(caught.value)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    return message


def nothing_extracted(home: Path) -> bool:
    folder = home / "datasets"
    return not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize("name", ["../evil.png", "a/../../evil.png", "/etc/evil.png", "C:/evil.png"])
def test_paths_that_escape_are_refused(home: Path, name: str) -> None:
    message = refused(make_zip({"ok.png": png(), name: png()}))
    assert name in message and "outside" in message
    assert nothing_extracted(home)
    assert not (home.parent / "evil.png").exists()


def test_symlinks_are_refused(home: Path) -> None:
    message = refused(make_zip({"ok.png": png()}, symlinks={"link.png": "/etc/passwd"}))
    assert "link.png" in message and "symbolic link" in message
    assert nothing_extracted(home)


def test_too_big_and_too_many_are_refused(home: Path) -> None:
    big = make_zip({f"img{i}.png": png(64, 64) for i in range(4)})
    assert "more than the 300 bytes allowed" in refused(big, max_bytes=300)
    many = make_zip({f"img{i}.png": png() for i in range(12)})
    assert "12 entries" in refused(many, max_members=10)
    assert nothing_extracted(home)


def test_a_member_that_lies_about_its_size_is_refused_while_extracting(home: Path) -> None:
    data = bytearray(make_zip({"a.png": png(64, 64), "b.png": png(8, 8)}))
    central = data.index(b"PK\x01\x02")  # first central-directory entry: a.png
    real = int.from_bytes(data[central + 24 : central + 28], "little")
    assert real > 100
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # claims 10 bytes
    message = refused(bytes(data), max_bytes=100)  # passes the header check, caught while unpacking
    assert "damaged" in message
    assert nothing_extracted(home)


def test_non_images_are_refused(home: Path) -> None:
    message = refused(make_zip({"a.png": png(), "notes/readme.txt": b"hello"}))
    assert "notes/readme.txt" in message and "not an image" in message
    assert nothing_extracted(home)


def test_not_a_zip_and_an_empty_zip_are_refused(home: Path) -> None:
    assert "not a zip" in refused(b"plain text, no zip")
    assert "no images" in refused(make_zip({"__MACOSX/._a.png": b"junk"}))


def test_plain_and_class_folder_images_are_accepted(home: Path) -> None:
    data = make_zip({
        "digits/0/a.png": png(colour=(0, 0, 0)),
        "digits/0/b.png": png(colour=(10, 0, 0)),
        "digits/1/c.jpg": png(colour=(255, 255, 255)),  # the suffix is what is checked; PIL reads the bytes
        "__MACOSX/digits/._a.png": b"resource fork",
        "digits/.DS_Store": b"finder",
        "digits/": b"",
    })
    folder, info = uploads.extract_zip(data, "My Digits!.zip", "images")
    assert folder.parent == home / "datasets"
    assert folder.name.startswith("My-Digits-")
    assert info.kind == "images" and info.size == 3 and info.classes == ("0", "1")
    assert not (folder / "__MACOSX").exists() and not (folder / ".DS_Store").exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".upload-")]  # no temp folder left
    again, _ = uploads.extract_zip(data, "My Digits!.zip", "images")  # the same bytes: the same folder
    assert again == folder


def test_aligned_pairs_are_accepted(home: Path) -> None:
    data = make_zip({"facades/train/1.png": png(32, 16), "facades/train/2.png": png(32, 16),
                     "facades/val/3.png": png(32, 16)})
    folder, info = uploads.extract_zip(data, "facades.zip", "paired")
    assert info.kind == "paired" and info.size == 2
    assert (folder / "train" / "1.png").is_file()


def test_unaligned_domains_are_accepted(home: Path) -> None:
    data = make_zip({"trainA/a1.png": png(), "trainA/a2.png": png(), "trainB/b1.webp": png(), "testA/x.png": png()})
    folder, info = uploads.extract_zip(data, "horse2zebra.zip", "unpaired")
    assert info.kind == "unpaired" and info.size == 2 and info.size_b == 1


def test_a_wrong_layout_is_one_sentence_and_leaves_nothing(home: Path) -> None:
    data = make_zip({"trainA/a1.png": png()})
    with pytest.raises(DataError, match="trainB"):
        uploads.extract_zip(data, "half.zip", "unpaired")
    assert nothing_extracted(home)
    with pytest.raises(DataError, match="twice its height"):
        uploads.extract_zip(make_zip({"square.png": png(16, 16)}), "square.zip", "paired")
    assert nothing_extracted(home)


def test_a_name_that_is_both_file_and_folder_is_refused(home: Path) -> None:
    message = refused(make_zip({"x.png": png(), "x.png/y.png": png()}))
    assert "x.png" in message and "folder" in message
    assert nothing_extracted(home)


def test_damaged_compressed_data_is_one_sentence(home: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.png", png() * 50)
    raw = bytearray(out.getvalue())
    start = raw.index(b"a.png") + len("a.png")  # the compressed bytes follow the local header's name
    raw[start + 10:start + 60] = bytes(range(50))
    message = refused(bytes(raw))
    assert "damaged" in message
    assert not any((home / "datasets").glob("my-set*"))


def test_the_same_zip_checked_as_another_kind_keeps_the_folder_in_use(home: Path) -> None:
    data = make_zip({f"img{i}.png": png() for i in range(4)})
    folder, _ = uploads.extract_zip(data, "my set.zip", "images")
    with pytest.raises(DataError):
        uploads.extract_zip(data, "my set.zip", "paired")  # plain images are no aligned A|B set
    assert folder.is_dir() and len(list(folder.glob("*.png"))) == 4


def test_a_pixel_bomb_within_the_byte_cap_is_refused_by_its_pixel_count(home: Path) -> None:
    with Image.open(io.BytesIO(blank_png(300, 200))) as img:  # the writer makes real images that decode
        img.load()
        assert img.size == (300, 200) and img.mode == "1" and img.getextrema() == (0, 0)
    bomb = blank_png(20_000, 20_000)
    with pytest.raises(Image.DecompressionBombError, match="400000000 pixels"):  # Pillow reads its header alike
        Image.open(io.BytesIO(bomb))
    data = make_zip({"ok.png": png(), **{f"blank{i}.png": bomb for i in range(3)}})
    assert len(data) < 500_000  # small on the wire and within every byte cap: it unpacks to well under 1 MB
    message = refused(data)
    assert message == ("the image 'blank0.png' is 20,000×20,000 pixels, more than the 16,777,216 pixels "
                       "(4,096×4,096) one image may have; make it smaller and zip the set again.")
    assert nothing_extracted(home)
    zh = uploads.UploadError("upload.too_many_pixels", name="blank0.png", width="20,000", height="20,000",
                             limit="16,777,216", side="4,096").sentence("zh")
    assert "20,000×20,000" in zh and "blank0.png" in zh


def test_many_images_each_within_the_pixel_cap_are_refused_by_their_total(home: Path) -> None:
    from playground import uploads as store_uploads

    data = make_zip({f"img{i}.png": png(32, 32) for i in range(5)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = store_uploads.check_zip(archive)
        assert store_uploads.check_pixels(archive, members) == 5 * 32 * 32
        with pytest.raises(uploads.UploadError, match="more than 4,000 pixels in all"):
            store_uploads.check_pixels(archive, members, max_total_pixels=4_000)


def test_a_served_upload_is_capped_at_its_own_size_and_a_local_one_as_before() -> None:
    from playground import uploads as store_uploads

    assert store_uploads.limits(served=True).max_bytes == 512 * 2**20
    assert store_uploads.limits(served=False).max_bytes == 2 * 2**30 == uploads.MAX_TOTAL_BYTES
    assert store_uploads.limits(served=True).max_image_pixels == store_uploads.limits(served=False).max_image_pixels
