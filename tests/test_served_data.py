"""Data on a served app (issue 18): the folders a person may train on are the operator's roots and their own
uploads, and every other path gets one and the same sentence, in the page and in the child that checks a GAN
config; uploads count against a per-person quota, belong to their owner and are unpacked by a background job."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground import uploads
from playground.errors import NotAllowed, QuotaExceeded
from playground.store import get_store
from playground.ui import uploads as ui_uploads
from playground.ui.auth import PERSON_KEY, Person

from test_ui_uploads import blank_png, make_zip, png

ROOT = Path(__file__).resolve().parents[1]
GAN_PAGE = str(ROOT / "playground/ui/pages/train_gan.py")
JOB_TIMEOUT_S = 120.0
REFUSED = re.compile(r"^(?P<path>.+) is not a folder you can train on here; "
                     r"pick one of the offered folders or upload a zip\.$")


@pytest.fixture
def served(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A served app whose operator offers one root holding a class set; beside it, a folder nobody offered."""
    root = tmp_path / "class-data"
    (root / "faces" / "set1").mkdir(parents=True)
    for i in range(4):
        (root / "faces" / f"{i}.png").write_bytes(png(colour=(i * 40, 0, 0)))
    secret = tmp_path / "secret"
    secret.mkdir()
    for i in range(4):
        (secret / f"{i}.png").write_bytes(png(colour=(0, i * 40, 0)))
    (root / "escape").symlink_to(secret, target_is_directory=True)  # a link in the root that leaves it
    monkeypatch.setenv("PLAYGROUND_SERVED", "1")
    monkeypatch.setenv("PLAYGROUND_DATA_ROOTS", str(root))
    monkeypatch.setenv("PLAYGROUND_PLAYER", "ada")
    return {"root": root, "faces": root / "faces", "secret": secret, "escape": root / "escape"}


def ready_upload(owner: str, name: str, kind: str = "images", n: int = 3) -> dict:
    """An upload unpacked as the job leaves it (a folder of ``n`` images and a ready row)."""
    store = get_store()
    upload_id = store.add_upload(owner, f"{name}.zip", "")
    folder = uploads.datasets_dir() / f"{upload_id}-{name}-{kind}"
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"{i}.png").write_bytes(png(colour=(0, 0, i * 40)))
    store.update_upload(upload_id, folder=str(folder), status="ready", bytes=uploads.folder_bytes(folder))
    return store.upload(upload_id)


def refused_path(sentence: str) -> str:
    """The path a refusal names, after proving the rest of the sentence is the one for every refused path."""
    found = REFUSED.match(sentence)
    assert found, sentence
    return found["path"]


# -- the access rule, and the child that checks a GAN config ------------------------------------------------------
def test_outside_missing_a_file_and_a_link_out_of_a_root_get_the_same_sentence(served: dict[str, Path],
                                                                                tmp_path: Path) -> None:
    bob = ready_upload("bob", "bobs-photos")
    access = uploads.data_access("ada")
    cases = [served["secret"], tmp_path / "nowhere", served["faces"] / "0.png", served["escape"],
             served["root"] / "missing", Path(bob["folder"]), uploads.datasets_dir(), Path("relative/faces")]
    for path in cases:
        with pytest.raises(NotAllowed) as caught:
            access.folder(str(path))
        assert refused_path(str(caught.value)) == str(path)
    assert access.folder(str(served["faces"])) == served["faces"].resolve()
    assert access.folder(str(served["root"])) == served["root"].resolve()
    mine = ready_upload("ada", "my-photos")
    assert uploads.data_access("ada").folder(mine["folder"]) == Path(mine["folder"]).resolve()


def test_a_root_that_holds_the_playgrounds_home_still_hides_other_peoples_uploads_and_runs(
        served: dict[str, Path], tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_ROOTS", str(tmp_path))  # the operator offered a folder above the home
    bob, mine = ready_upload("bob", "bobs-photos"), ready_upload("ada", "mine")
    (home / "runs" / "dcgan-bob-1" / "samples").mkdir(parents=True)
    access = uploads.data_access("ada")
    for path in (Path(bob["folder"]), home / "runs" / "dcgan-bob-1" / "samples", home):
        with pytest.raises(NotAllowed) as caught:
            access.folder(str(path))
        assert refused_path(str(caught.value)) == str(path)
    assert access.folder(mine["folder"]) == Path(mine["folder"]).resolve()
    assert str(home.resolve()) not in uploads.offered_folders(access)


def test_the_offered_folders_are_the_roots_and_their_subfolders_and_nothing_else(served: dict[str, Path],
                                                                                  home: Path) -> None:
    (served["root"] / ".hidden").mkdir()
    offered = uploads.offered_folders(uploads.data_access("ada"))
    assert offered == [str(served["root"].resolve()), str(served["faces"].resolve()),
                       str(served["faces"].resolve() / "set1")]


def test_gan_train_in_the_served_child_refuses_every_such_path_alike(
        served: dict[str, Path], cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    said = {}
    for name, path in (("outside", served["secret"]), ("missing", tmp_path / "nowhere"),
                       ("link", served["escape"])):
        result = cli("gan", "train", "dcgan", str(path), "--iters", "1", "--detach")
        assert result.code == 2, result
        said[name] = result.err.strip().removeprefix("error: ")
        assert refused_path(said[name]) == str(path)
    assert get_store().find_runs() == []
    # a folder of the root with a link inside it to a file outside is refused the same way
    (served["faces"] / "stolen.png").symlink_to(served["secret"] / "0.png")
    result = cli("_ui", "dataset", "--", str(served["faces"]), "images")
    assert result.code == 2 and refused_path(result.err.strip().removeprefix("error: ")) == str(served["faces"])
    (served["faces"] / "stolen.png").unlink()
    result = cli("_ui", "dataset", "--", str(served["faces"]), "images")
    assert result.code == 0 and '"size": 4' in result.out
    # a built-in set is no path: it still trains, and an unknown name is not looked for on the disk
    assert cli("_ui", "dataset", "--", "digits", "images").code == 0
    result = cli("_ui", "dataset", "--", "no-such-set-here", "images")
    assert result.code == 2 and "neither a folder nor a built-in" in result.err


def test_on_this_computer_nothing_changes(home: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("_ui", "dataset", "--", str(tmp_path / "nowhere"), "images")
    assert result.code == 2 and "does not exist" in result.err
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(png())
    assert cli("_ui", "dataset", "--", str(folder), "images").code == 0


def test_a_real_child_started_as_the_app_starts_it_refuses_the_same_way(served: dict[str, Path]) -> None:
    from playground import jobs

    env = {"PLAYGROUND_SERVED": "1", "PLAYGROUND_PLAYER": "ada"}
    with pytest.raises(jobs.ChildFailed) as caught:
        jobs.run_cli(["_ui", "dataset", "--", str(served["escape"]), "images"], env=env)
    assert refused_path(caught.value.values["sentence"]) == str(served["escape"])


# -- uploads: quota, ownership, the job -----------------------------------------------------------------------------
def test_the_quota_refuses_an_upload_that_would_pass_it_before_anything_is_written(
        served: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ready_upload("ada", "old-set", n=3)
    used = uploads.used_bytes("ada")
    big = make_zip({f"img{i}.png": png(64, 64, (i, 0, 0)) for i in range(6)})
    with zipfile.ZipFile(io.BytesIO(big)) as archive:
        needed = sum(i.file_size for i in archive.infolist())
    monkeypatch.setenv("PLAYGROUND_UPLOAD_QUOTA_MB", str((used + needed - 1) / 2**20))  # one byte short
    before = sorted(p.name for p in uploads.datasets_dir().iterdir())
    with pytest.raises(QuotaExceeded) as caught:
        uploads.submit(big, "big.zip", "images", "ada", served=True)
    sentence = str(caught.value)
    assert uploads.human_bytes(needed) in sentence and uploads.human_bytes(used) in sentence
    assert "delete uploads you no longer need" in sentence
    assert len(get_store().uploads("ada")) == 1
    assert sorted(p.name for p in uploads.datasets_dir().iterdir()) == before
    # another person's uploads do not count against ada, and with room it is taken
    assert uploads.submit(big, "big.zip", "images", "bob", served=True) > 0
    monkeypatch.setenv("PLAYGROUND_UPLOAD_QUOTA_MB", str((used + needed) / 2**20))
    upload_id = uploads.submit(big, "big.zip", "images", "ada", served=True)
    row = get_store().upload(upload_id)
    assert row["owner"] == "ada" and row["status"] == "unpacking"
    assert row["bytes"] == len(big) + needed  # the zip and what it unpacks to count while it waits
    assert uploads.zip_path(row).is_file()


def test_on_this_computer_no_quota_applies(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_UPLOAD_QUOTA_MB", "0.0001")
    assert uploads.submit(make_zip({"a.png": png(), "b.png": png()}), "a.zip", "images", "me", served=False) > 0


def wait_ready(upload_id: int) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    row = get_store().upload(upload_id)
    while row is not None and row["status"] == "unpacking" and time.monotonic() < deadline:
        time.sleep(0.3)
        row = get_store().upload(upload_id)
    return row


def test_an_upload_is_unpacked_by_a_background_child_that_marks_its_row_ready(served: dict[str, Path]) -> None:
    data = make_zip({"set/0/a.png": png(), "set/0/b.png": png(), "set/1/c.png": png(colour=(9, 9, 9))})
    upload_id = uploads.submit(data, "my set.zip", "images", "ada", served=True)
    row = get_store().upload(upload_id)
    pid = ui_uploads.start(upload_id, env={"PLAYGROUND_SERVED": "1", "PLAYGROUND_PLAYER": "ada"})
    assert pid != os.getpid()
    row = wait_ready(upload_id)
    assert row["status"] == "ready", row
    folder = Path(row["folder"])
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png")) == ["0/a.png", "0/b.png", "1/c.png"]
    assert row["bytes"] == uploads.folder_bytes(folder) > 0
    assert not uploads.zip_path(row).exists()  # the zip is gone once unpacked
    assert not [p for p in uploads.datasets_dir().iterdir() if p.name.startswith(".upload-")]
    assert uploads.data_access("ada").folder(row["folder"]) == folder.resolve()  # hers to train on
    with pytest.raises(NotAllowed):
        uploads.data_access("bob").folder(row["folder"])  # not bob's


def test_a_refused_unpack_leaves_only_its_row_saying_why(
        served: dict[str, Path], cli) -> None:  # type: ignore[no-untyped-def]
    data = make_zip({"trainA/a.png": png(), "testA/b.png": png()})  # no trainB: half of an unaligned set
    upload_id = uploads.submit(data, "half.zip", "unpaired", "ada", served=True)
    result = cli("_ui", "unpack", str(upload_id))
    assert result.code == 2 and "trainB" in result.err
    row = get_store().upload(upload_id)
    assert row["status"] == "failed" and row["bytes"] == 0
    key, values = uploads.error_words(row)
    assert key == "gans.unaligned_missing_side" and values["side"] == "trainB"
    assert list(uploads.datasets_dir().iterdir()) == []  # no folder, no zip, no temporary folder
    uploads.remove(upload_id, owner="ada")
    assert get_store().upload(upload_id) is None


def test_the_job_refuses_a_pixel_bomb_that_passed_the_pages_byte_checks(
        served: dict[str, Path], cli) -> None:  # type: ignore[no-untyped-def]
    bomb = blank_png(20_000, 20_000)
    data = make_zip({"ok.png": png(), "blank0.png": bomb, "blank1.png": bomb})
    upload_id = uploads.submit(data, "blank.zip", "images", "ada", served=True)  # its directory is fine
    assert get_store().upload(upload_id)["bytes"] < 1_000_000
    result = cli("_ui", "unpack", str(upload_id))
    assert result.code == 2 and "20,000×20,000 pixels" in result.err
    row = get_store().upload(upload_id)
    assert row["status"] == "failed" and uploads.error_words(row)[0] == "upload.too_many_pixels"
    assert list(uploads.datasets_dir().iterdir()) == []


def test_an_upload_is_deleted_only_by_its_owner_with_its_folder(served: dict[str, Path]) -> None:
    mine, theirs = ready_upload("ada", "mine"), ready_upload("bob", "theirs")
    with pytest.raises(NotAllowed):
        uploads.remove(theirs["id"], owner="ada")
    assert Path(theirs["folder"]).is_dir()
    uploads.remove(mine["id"], owner="ada")
    assert not Path(mine["folder"]).exists() and get_store().upload(mine["id"]) is None
    assert uploads.remove_all("bob") == 1 and not Path(theirs["folder"]).exists()


# -- the page ------------------------------------------------------------------------------------------------------
def served_page(name: str = "ada", **state: object) -> AppTest:
    app = AppTest.from_file(GAN_PAGE, default_timeout=90)
    app.session_state[PERSON_KEY] = Person(name, "student", time.time())
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error")
             for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts)


def test_the_served_page_offers_the_roots_and_refuses_a_folder_that_left_them(served: dict[str, Path]) -> None:
    app = served_page()
    app.radio(key="train_gan.source").set_value("folder").run()
    picker = app.selectbox(key="train_gan.folder_choice")
    assert picker.options == [str(served["root"].resolve()), str(served["faces"].resolve()),
                              str(served["faces"].resolve() / "set1")]
    assert not [w for w in app.text_input if w.key == "train_gan.folder"]  # no free path on a served app
    picker.set_value(str(served["faces"].resolve() / "set1")).run()
    assert not app.error
    # the offered folder is swapped for a link out of the root while the list is cached: refused, alike
    set1 = served["faces"].resolve() / "set1"
    set1.rmdir()
    set1.symlink_to(served["secret"], target_is_directory=True)
    app.run()
    [error] = app.error
    assert refused_path(error.value) == str(set1)
    next(b for b in app.button if b.label == "Start training").click().run()
    assert get_store().find_runs() == []


def test_with_no_roots_the_served_page_offers_no_folder_and_says_why(served: dict[str, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_DATA_ROOTS")
    app = served_page()
    assert app.radio(key="train_gan.source").options == ["Built-in set", "Upload a zip"]
    assert "PLAYGROUND_DATA_ROOTS" in texts(app)


def test_the_served_page_lists_your_uploads_only_and_deletes_one(served: dict[str, Path]) -> None:
    mine, theirs = ready_upload("ada", "my-faces"), ready_upload("bob", "bobs-faces")
    failed_id = get_store().add_upload("ada", "broken.zip", str(uploads.datasets_dir() / "99-broken-images"),
                                       status="failed")
    get_store().update_upload(failed_id, error='{"key": "upload.too_many_pixels", "values": {"name": "big.png", '
                                               '"width": "20,000", "height": "20,000", "limit": "16,777,216", '
                                               '"side": "4,096"}}')
    app = served_page(**{"train_gan.source": "upload"})
    shown = texts(app)
    assert "my-faces.zip" in shown and "bobs" not in shown
    assert "'big.png' is 20,000×20,000 pixels" in shown
    assert "your uploads may take 2 GB in all" in shown
    assert app.selectbox(key="train_gan.upload_pick.images").value == mine["id"]
    next(b for b in app.button if b.key == f"train_gan.delete_upload.{mine['id']}").click().run()
    assert not app.exception
    assert get_store().upload(mine["id"]) is None and not Path(mine["folder"]).exists()
    assert get_store().upload(theirs["id"]) is not None and Path(theirs["folder"]).is_dir()
    assert "Deleted 'my-faces.zip'" in texts(app)


def test_the_local_page_keeps_its_free_folder_path(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_SERVED", raising=False)
    app = AppTest.from_file(GAN_PAGE, default_timeout=90).run()
    assert app.radio(key="train_gan.source").options == ["Built-in set", "Folder on this computer", "Upload a zip"]
    app.radio(key="train_gan.source").set_value("folder").run()
    assert app.text_input(key="train_gan.folder") is not None
    assert "PLAYGROUND_DATA_ROOTS" not in texts(app)
