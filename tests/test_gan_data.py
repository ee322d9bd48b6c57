"""GAN data: the three folder layouts, the built-ins, the Atari frame cache, and one sentence per bad-data case.

Folders are made here with PIL, in each layout, from flat colours whose values after loading are
known exactly, so the checks are on numbers (channels, ranges, which image came back) and not only
on shapes. Atari sets are played for real but short (``PLAYGROUND_ATARI_FRAMES``).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gans import data
from playground.errors import DataError, PlaygroundError

FRAMES = 100  # Atari frames per game in these tests: a fraction of a second to play


@pytest.fixture
def atari(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home folder with short Atari collections."""
    monkeypatch.setenv(data.ATARI_FRAMES_ENV, str(FRAMES))
    return home


# -- helpers -------------------------------------------------------------------------------------
def solid(path: Path, size: tuple[int, int], color: int | tuple[int, int, int], mode: str = "RGB") -> Path:
    """A one-colour image file (any format PIL writes, by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def side_by_side(path: Path, a: Image.Image, b: Image.Image) -> Path:
    """An ``aligned`` file: A on the left, B on the right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    both = Image.new(a.mode, (a.width + b.width, a.height))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    both.save(path)
    return path


def arrow(size: int = 24) -> Image.Image:
    """An RGB picture that is not its own mirror image: a left-to-right ramp with a red bar on the left."""
    array = np.tile(np.linspace(0, 255, size, dtype=np.uint8)[None, :, None], (size, 1, 3))
    array[:, :4] = (255, 0, 0)
    return Image.fromarray(array)


def error_of(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """The sentence a DataError carries; it must be one line and a PlaygroundError (the CLI's exit 2)."""
    with pytest.raises(DataError) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, PlaygroundError)
    message = str(caught.value)
    assert "\n" not in message and len(message) > 20, message
    return message


# -- plain image folders ---------------------------------------------------------------------------
def test_plain_folder_is_unlabelled_rgb_in_range(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    solid(folder / "white.png", (40, 30), (255, 255, 255))
    solid(folder / "black.jpg", (30, 50), (0, 0, 0))
    solid(folder / "red.bmp", (20, 20), (255, 0, 0))
    (folder / "notes.txt").write_text("not an image, and not an image file name either")
    solid(folder / ".hidden.png", (8, 8), 0, "L")  # hidden files are never data

    info = data.describe(str(folder), "images")
    assert (info.name, info.kind, info.size, info.channels, info.classes) == (str(folder), "images", 3, 3, None)
    assert "3" in info.description

    ds = data.open_dataset(str(folder), "images", 16)
    assert len(ds) == 3 and ds.info == info and ds.image_size == 16
    assert not ds.labelled and ds.n_classes == 0
    items = [ds[i] for i in range(len(ds))]
    for x, label in items:
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and label == -1
        assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    by_name = dict(zip([p.stem for p in data.list_images(folder)], (x for x, _ in items)))
    assert torch.allclose(by_name["white"], torch.ones(3, 16, 16))
    assert torch.allclose(by_name["black"], -torch.ones(3, 16, 16), atol=0.02)  # jpeg
    assert torch.allclose(by_name["red"][0], torch.ones(16, 16)) and torch.allclose(
        by_name["red"][1:], -torch.ones(2, 16, 16)
    )


def test_class_subfolders_give_sorted_labels_and_grayscale_one_channel(tmp_path: Path) -> None:
    folder = tmp_path / "pets"
    for i in range(3):
        solid(folder / "dogs" / f"d{i}.png", (12, 12), 200, "L")
    for i in range(2):
        solid(folder / "cats" / "indoor" / f"c{i}.png", (12, 12), 50, "L")  # nested: still the class "cats"

    info = data.describe(str(folder), "images")
    assert info.classes == ("cats", "dogs") and info.channels == 1 and info.size == 5

    ds = data.open_dataset(str(folder), "images", 8)
    assert ds.labelled and ds.n_classes == 2
    seen = sorted((label, round(float(x.mean()) * 127.5 + 127.5)) for x, label in (ds[i] for i in range(5)))
    assert seen == [(0, 50)] * 2 + [(1, 200)] * 3
    assert ds[0][0].shape == (1, 8, 8)


def test_resize_takes_the_centre_square_without_stretching(tmp_path: Path) -> None:
    """A 40×20 image: red quarter, green half, blue quarter; its centre square is all green."""
    array = np.zeros((20, 40, 3), np.uint8)
    array[:, :10] = (255, 0, 0)
    array[:, 10:30] = (0, 255, 0)
    array[:, 30:] = (0, 0, 255)
    Image.fromarray(array).save(tmp_path / "wide.png")

    x = data.load_image(tmp_path / "wide.png", 3, 32)
    assert x.shape == (3, 32, 32)
    assert torch.allclose(x[1], torch.ones(32, 32), atol=0.05)
    assert float(x[0].max()) < -0.9 and float(x[2].max()) < -0.9


def test_save_and_load_image_round_trip_and_list_images(tmp_path: Path) -> None:
    image = torch.linspace(-1, 1, 3 * 16 * 16).reshape(3, 16, 16)
    data.save_image(image, tmp_path / "out" / "grid.png")
    back = data.load_image(tmp_path / "out" / "grid.png", 3, 16)
    assert torch.allclose(back, image, atol=1 / 127.5 + 1e-6)
    data.save_image(torch.zeros(1, 8, 8), tmp_path / "out" / "gray.png")
    assert Image.open(tmp_path / "out" / "gray.png").mode == "L"
    assert not list((tmp_path / "out").glob(".*.tmp"))  # the atomic write left nothing behind

    solid(tmp_path / "out" / "sub" / "b.JPEG", (8, 8), (1, 2, 3))
    solid(tmp_path / "out" / "a.webp", (8, 8), (1, 2, 3))
    (tmp_path / "out" / "sub" / "labels.csv").write_text("x")
    names = [p.relative_to(tmp_path / "out").as_posix() for p in data.list_images(tmp_path / "out")]
    assert names == ["a.webp", "gray.png", "grid.png", "sub/b.JPEG"]


# -- aligned (paired) folders ----------------------------------------------------------------------
def test_aligned_folder_splits_a_left_b_right_and_prefers_train(tmp_path: Path) -> None:
    folder = tmp_path / "facades"
    for i in range(3):
        side_by_side(
            folder / "train" / f"{i}.jpg",
            Image.new("RGB", (20, 20), (255, 0, 0)),
            Image.new("RGB", (20, 20), (0, 0, 255)),
        )
    side_by_side(folder / "val" / "v.png", Image.new("RGB", (5, 5)), Image.new("RGB", (5, 5)))  # not used

    info = data.describe(str(folder), "paired")
    assert (info.kind, info.size, info.channels, info.channels_b) == ("paired", 3, 3, 3)
    ds = data.open_dataset(str(folder), "paired", 16)
    assert len(ds) == 3
    a, b = ds[1]
    assert a.shape == b.shape == (3, 16, 16) and a.dtype == b.dtype == torch.float32
    assert float(a[0].mean()) > 0.9 and float(a[2].mean()) < -0.9  # A is the red left half
    assert float(b[2].mean()) > 0.9 and float(b[0].mean()) < -0.9  # B is the blue right half


def test_grayscale_aligned_files_give_one_channel(tmp_path: Path) -> None:
    side_by_side(tmp_path / "p" / "0.png", Image.new("L", (16, 16), 0), Image.new("L", (16, 16), 255))
    ds = data.open_dataset(str(tmp_path / "p"), "paired", 8)
    a, b = ds[0]
    assert ds.info.channels == ds.info.channels_b == 1
    assert a.shape == b.shape == (1, 8, 8) and float(a.max()) == -1.0 and float(b.min()) == 1.0


def test_paired_flip_mirrors_a_and_b_together(tmp_path: Path) -> None:
    side_by_side(tmp_path / "same" / "0.png", arrow(), arrow())
    plain = data.open_dataset(str(tmp_path / "same"), "paired", 24)
    original, _ = plain[0]
    flipping = data.open_dataset(str(tmp_path / "same"), "paired", 24, flip=True)
    torch.manual_seed(0)
    flipped = 0
    for _ in range(40):
        a, b = flipping[0]
        assert torch.equal(a, b)
        if torch.equal(a, original.flip(-1)):
            flipped += 1
        else:
            assert torch.equal(a, original)
    assert 5 < flipped < 35  # flips do happen, about half the time


# -- unaligned (unpaired) folders ------------------------------------------------------------------
def make_unaligned(root: Path, n_a: int = 3, n_b: int = 5) -> Path:
    """trainA: red images; trainB: grey images whose level names them (10, 20, …)."""
    for i in range(n_a):
        solid(root / "trainA" / f"a{i}.png", (10, 14), (255, 0, 0))
    for j in range(n_b):
        solid(root / "trainB" / f"b{j}.png", (10, 10), 10 * (j + 1), "L")
    return root


def b_index(b: torch.Tensor) -> int:
    return round((float(b.mean()) + 1) * 127.5 / 10) - 1


def test_unaligned_folder_shapes_length_and_a_order(tmp_path: Path) -> None:
    root = make_unaligned(tmp_path / "horse2zebra")
    info = data.describe(str(root), "unpaired")
    assert (info.size, info.channels, info.size_b, info.channels_b) == (3, 3, 5, 1)
    ds = data.open_dataset(str(root), "unpaired", 8)
    assert len(ds) == 5  # max(nA, nB)
    for i in range(len(ds)):
        a, b = ds[i]
        assert a.shape == (3, 8, 8) and b.shape == (1, 8, 8)
        assert float(a[0].mean()) == 1.0
        assert 0 <= b_index(b) < 5
    assert len(list(ds)) == 5  # plain iteration stops


def draw(ds: data.GanDataset) -> list[int]:
    """Which B image each item of an unpaired set drew."""
    return [b_index(ds[i][1]) for i in range(len(ds))]


def test_unpaired_sampling_is_deterministic_per_seed(tmp_path: Path) -> None:
    root = make_unaligned(tmp_path / "u", n_a=2, n_b=6)
    first = draw(data.open_dataset(str(root), "unpaired", 8, seed=3))
    assert first == draw(data.open_dataset(str(root), "unpaired", 8, seed=3))
    assert first != draw(data.open_dataset(str(root), "unpaired", 8, seed=4))
    later = data.open_dataset(str(root), "unpaired", 8, seed=3)
    later.set_epoch(1)
    assert draw(later) != first  # a new epoch, new pairings
    assert len(set(first + draw(later))) > 2  # B is sampled, not walked in order


def test_folder_datasets_survive_pickling_for_loader_workers(tmp_path: Path) -> None:
    """DataLoader workers started with spawn get a pickled copy of the dataset."""
    root = make_unaligned(tmp_path / "u")
    ds = data.open_dataset(str(root), "unpaired", 8, seed=2)
    copy = pickle.loads(pickle.dumps(ds))
    assert draw(copy) == draw(ds) and copy.info == ds.info


# -- built-ins -------------------------------------------------------------------------------------
def test_builtin_listing_names_every_family_with_sizes(atari: Path) -> None:
    infos = {info.name: info for info in data.builtin_datasets()}
    assert set(infos) == {"digits", "mnist-5k", "atari:Pong", "edges2atari:Pong", "gray2color:Pong",
                          "games:Pong:Breakout", "textures"}  # fmt: skip
    assert infos["digits"].size == 1797 and infos["mnist-5k"].size == 5000 and infos["textures"].size_b == 400
    assert infos["atari:Pong"].size == FRAMES  # nominal: the listing plays nothing
    assert not (atari / "datasets").exists()
    for info in infos.values():
        assert info.description.endswith(".") and str(f"{info.size:,}") in info.description


def test_digits_and_mnist(home: Path) -> None:
    digits = data.open_dataset("digits", "images", 16)
    assert len(digits) == 1797 and digits.labelled and digits.n_classes == 10
    x, label = digits[0]
    assert x.shape == (1, 16, 16) and label == 0 and float(x.min()) == -1.0 and float(x.max()) > 0.5

    mnist = data.open_dataset("MNIST-5k", "images", 32)
    assert len(mnist) == 5000 and mnist.info.classes == tuple("0123456789")
    labels = {mnist[i][1] for i in range(0, 5000, 50)}
    assert labels == set(range(10)) and mnist[7][0].shape == (1, 32, 32)

    images, labels_array, classes = data.labelled_arrays("mnist")
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8 and images.max() == 255
    assert labels_array.dtype == np.int64 and set(labels_array.tolist()) == set(range(10)) and len(classes) == 10


def test_digits_are_scikit_learns_read_without_importing_it() -> None:
    from gans.data.builtin_sets import _digits
    from sklearn.datasets import load_digits

    images, labels = _digits()
    theirs = load_digits()
    assert np.array_equal(images, np.round(theirs.images * (255.0 / 16.0)).astype(np.uint8))
    assert np.array_equal(labels, theirs.target) and labels.dtype == np.int64
    code = ("import sys; from gans import data; ds = data.open_dataset('digits', 'images', 8); ds[0]; "
            "print(len(ds), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1797", "False"]


def test_atari_frames_are_played_once_then_cached(atari: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = data.open_dataset("atari:pong", "images", 32)  # any case finds the game
    assert ds.info.name == "atari:Pong" and len(ds) == FRAMES and not ds.labelled and ds.n_classes == 0
    x, label = ds[0]
    assert x.shape == (3, 32, 32) and label == -1 and -1 <= float(x.min()) < float(x.max()) <= 1
    frames = torch.stack([ds[i][0] for i in range(len(ds))])
    assert len({frame.numpy().tobytes() for frame in frames}) > FRAMES // 2  # the game was played
    (cache,) = (atari / "datasets" / "atari").glob("Pong-*.npz")
    stamp = cache.stat().st_mtime_ns

    def no_playing(game: str, count: int) -> np.ndarray:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(data.atari_frames, "_collect_atari_frames", no_playing)
    again = data.open_dataset("atari:Pong", "images", 32)
    assert torch.equal(torch.stack([again[i][0] for i in range(len(again))]), frames)
    assert cache.stat().st_mtime_ns == stamp


def test_atari_cache_that_is_corrupt_is_played_again(atari: Path) -> None:
    cache = atari / "datasets" / "atari" / f"Pong-{FRAMES}-v{data.ATARI_CACHE_VERSION}.npz"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"half a file")
    assert len(data.open_dataset("atari:Pong", "images", 16)) == FRAMES
    with np.load(cache) as archive:
        assert archive["frames"].shape == (FRAMES, 210, 160, 3)


def test_paired_builtins_from_atari(atari: Path) -> None:
    edges = data.open_dataset("edges2atari:Breakout", "paired", 32, flip=True)
    assert len(edges) == FRAMES and (edges.info.channels, edges.info.channels_b) == (1, 3)
    a, b = edges[10]
    assert a.shape == (1, 32, 32) and b.shape == (3, 32, 32)
    assert set(a.unique().tolist()) == {-1.0, 1.0}  # edge lines on a white page

    gray = data.open_dataset("gray2color:Breakout", "paired", 32)
    a, b = gray[10]
    assert a.shape == (1, 32, 32) and b.shape == (3, 32, 32)
    luma = (0.299 * b[0] + 0.587 * b[1] + 0.114 * b[2]).unsqueeze(0)
    assert torch.allclose(a, luma, atol=0.02)


def test_unpaired_builtins(atari: Path) -> None:
    games = data.open_dataset("games:Pong:Breakout", "unpaired", 16)
    assert len(games) == FRAMES and (games.info.size, games.info.size_b) == (FRAMES, FRAMES)
    a, b = games[0]
    assert a.shape == b.shape == (3, 16, 16) and not torch.allclose(a, b)

    textures = data.open_dataset("textures", "unpaired", 32, seed=1)
    assert len(textures) == 400 and textures.info.channels == textures.info.channels_b == 1
    a, b = textures[5]
    assert a.shape == b.shape == (1, 32, 32) and float(a.std()) > 0.05
    assert torch.equal(a, data.open_dataset("textures", "unpaired", 32)[5][0])  # the same crops every time


def test_labelled_atari_frames(atari: Path) -> None:
    images, labels, classes = data.labelled_arrays("atari")
    assert classes == data.ATARI_LABEL_GAMES and len(classes) >= 5
    assert images.shape == (FRAMES * len(classes), 64, 64, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [FRAMES] * len(classes)
    means = [images[labels == k].mean() for k in range(len(classes))]
    assert len({round(float(m), 1) for m in means}) == len(classes)  # different games look different
    assert len(list((atari / "datasets" / "atari").glob("*.npz"))) == len(classes)  # the atari:GAME cache


# -- bad data: one sentence each -------------------------------------------------------------------
def test_missing_path_file_and_empty_folder(tmp_path: Path) -> None:
    message = error_of(data.describe, str(tmp_path / "nowhere"), "images")
    assert "does not exist" in message and "nowhere" in message
    message = error_of(data.open_dataset, str(tmp_path / "nowhere"), "paired", 64)
    assert "does not exist" in message

    file = solid(tmp_path / "one.png", (8, 8), 0, "L")
    assert "is a file, not a folder" in error_of(data.describe, str(file), "images")

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    for kind in ("images", "paired"):
        message = error_of(data.describe, str(tmp_path / "empty"), kind)
        assert "holds no images" in message and "empty" in message


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    solid(tmp_path / "pics" / "x.png", (8, 8), 0, "L")
    assert data.describe("~/pics", "images").size == 1


@pytest.mark.parametrize("missing", ["trainA", "trainB"])
def test_unaligned_without_one_side(tmp_path: Path, missing: str) -> None:
    root = make_unaligned(tmp_path / "u")
    for file in (root / missing).iterdir():
        file.unlink()
    (root / missing).rmdir()
    message = error_of(data.open_dataset, str(root), "unpaired", 32)
    assert f"no {missing}/" in message and "trainA/ and trainB/" in message


def test_unaligned_with_an_empty_side(tmp_path: Path) -> None:
    root = make_unaligned(tmp_path / "u")
    for file in (root / "trainB").iterdir():
        file.unlink()
    message = error_of(data.describe, str(root), "unpaired")
    assert "holds no images" in message and "trainB" in message


@pytest.mark.parametrize("kind", ["images", "paired", "unpaired"])
def test_unreadable_image_is_named(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "set"
    if kind == "unpaired":
        make_unaligned(root)
        bad = root / "trainB" / "broken.png"
    else:
        side_by_side(root / "cls" / "ok.png", arrow(), arrow())
        bad = root / "cls" / "broken.png"
    bad.write_text("this is text, not a PNG")
    message = error_of(data.describe, str(root), kind)
    assert str(bad) in message and "not a readable image" in message


def test_truncated_image_is_named(tmp_path: Path) -> None:
    good = solid(tmp_path / "set" / "a.png", (64, 64), (10, 20, 30))
    bad = tmp_path / "set" / "b.png"
    bad.write_bytes(good.read_bytes()[:60])
    assert str(bad) in error_of(data.open_dataset, str(tmp_path / "set"), "images", 32)


def test_image_broken_after_opening_is_named_when_read(tmp_path: Path) -> None:
    path = solid(tmp_path / "set" / "a.png", (16, 16), (10, 20, 30))
    ds = data.open_dataset(str(tmp_path / "set"), "images", 8)
    path.write_text("replaced by text")
    assert str(path) in error_of(ds.__getitem__, 0)
    assert str(path) in error_of(data.load_image, path, 3, 8)


@pytest.mark.parametrize("size", [(41, 20), (60, 20), (40, 40)])
def test_aligned_image_that_does_not_split(tmp_path: Path, size: tuple[int, int]) -> None:
    side_by_side(tmp_path / "p" / "good.png", arrow(10), arrow(10))
    bad = solid(tmp_path / "p" / "bad.png", size, (0, 0, 0))
    message = error_of(data.open_dataset, str(tmp_path / "p"), "paired", 16)
    assert str(bad) in message and f"{size[0]}×{size[1]}" in message and "twice its height" in message


def test_unknown_builtin_lists_the_builtins(home: Path) -> None:
    message = error_of(data.describe, "cifar10", "images")
    assert "'cifar10'" in message and "built-in" in message
    for name in (
        "digits",
        "mnist-5k",
        "atari:GAME",
        "edges2atari:GAME",
        "gray2color:GAME",
        "games:GAME1:GAME2",
        "textures",
    ):
        assert name in message


def test_unknown_atari_game_names_close_matches(home: Path) -> None:
    message = error_of(data.describe, "atari:Pongg", "images")
    assert "unknown Atari game 'Pongg'" in message and "Pong" in message.split(";")[1]
    assert "Breakout" in error_of(data.describe, "games:Pong:Breakuot", "unpaired")
    assert "such as Pong" in error_of(data.describe, "atari:Zzzzzzzz", "images")
    assert "atari:Pong" in error_of(data.describe, "atari", "images")  # the GAME part is missing
    assert "two games" in error_of(data.describe, "games:Pong:pong", "unpaired")


@pytest.mark.parametrize(
    ("spec", "kind", "is_word", "fitting"),
    [
        ("digits", "paired", "an image set", "edges2atari:GAME"),
        ("textures", "images", "an unpaired set", "mnist-5k"),
        ("atari:Pong", "unpaired", "an image set", "games:GAME1:GAME2"),
        ("edges2atari:Pong", "images", "a paired set", "digits"),
    ],
)
def test_builtin_of_the_wrong_kind(home: Path, spec: str, kind: str, is_word: str, fitting: str) -> None:
    message = error_of(data.open_dataset, spec, kind, 64)
    wanted = {"images": "an image", "paired": "a paired", "unpaired": "an unpaired"}[kind]
    assert message.startswith(f"{spec} is {is_word}, not {wanted} set;"), message
    assert fitting in message and "folder" in message


@pytest.mark.parametrize("size", [7, 1025, 0, -64, 64.5, "64", True, None, float("nan")])
def test_image_size_must_be_whole_between_8_and_1024(home: Path, size: object) -> None:
    message = error_of(data.open_dataset, "digits", "images", size)
    assert "image size" in message and "between 8 and 1024" in message
    assert data.open_dataset("digits", "images", 8.0).image_size == 8  # a whole float is fine


def test_unknown_kind_and_labelled_name_and_bad_frame_count(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "not one of images, paired, unpaired" in error_of(data.describe, "digits", "pairs")
    assert "mnist" in error_of(data.labelled_arrays, "cifar")
    monkeypatch.setenv(data.ATARI_FRAMES_ENV, "lots")
    assert data.ATARI_FRAMES_ENV in error_of(data.describe, "atari:Pong", "images")


def test_a_system_folder_or_a_whole_disk_is_refused_in_one_sentence(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="system folder"):
        data.list_images(Path("/proc/self"))
    for i in range(5):
        (tmp_path / f"class{i}").mkdir()
    monkeypatch.setattr(data.image_files, "MAX_FOLDERS", 3)
    with pytest.raises(DataError, match="more than 3 folders"):
        data.list_images(tmp_path)
