"""A class on one served app: accounts and signing in, who may act on whose run, and the quota of jobs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from playground import access, accounts, runs, uploads
from playground.access import Actor
from playground.errors import NotAllowed, PlaygroundError, QuotaExceeded, RunNotFound, SignInRefused
from playground.store import get_store


def _run(player: str | None, status: str = "running", private: bool = False) -> str:
    """A run as a door records it, in ``status`` (running: this test process is its live trainer)."""
    run = runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={}, player=player)
    fields = {"status": status, "private": private}
    if status == "running":
        fields.update(pid=os.getpid(), heartbeat_at=time.time(), started_at=time.time())
    get_store().update_run(run.id, **fields)
    return run.id


@pytest.fixture
def served(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAYGROUND_SERVED", "1")
    monkeypatch.setenv("PLAYGROUND_JOBS_PER_PERSON", "2")
    monkeypatch.setenv("PLAYGROUND_JOBS_PER_SERVER", "3")
    return home


# -- accounts --------------------------------------------------------------------------------------------------------
def test_a_password_is_kept_only_as_an_argon2_hash_and_signs_in(home: Path) -> None:
    password = accounts.add("alice", "student")
    row = get_store().user("alice")
    assert row is not None and row["password_hash"].startswith("$argon2")
    assert password not in row["password_hash"]
    assert accounts.sign_in("alice", password).name == "alice"
    assert accounts.sign_in(" alice ", password).role == "student"


def test_each_failed_sign_in_makes_the_next_wait_longer_and_a_wrong_name_reads_the_same(home: Path) -> None:
    password = accounts.add("alice", "student", "correct horse")
    now = 1_000_000.0
    waits = []
    for attempt in range(4):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in("alice", "wrong", now=now)
        assert refused.value.key == "accounts.wrong"
        waits.append(refused.value.values["seconds"])
        # Too soon: refused without even looking at the password, the right one included.
        with pytest.raises(SignInRefused) as early:
            accounts.sign_in("alice", password, now=now + 0.5 * accounts.wait_after(attempt + 1))
        assert early.value.key == "accounts.wait"
        now += accounts.wait_after(attempt + 1) + 0.01
    assert waits == [1, 2, 4, 8]
    assert accounts.sign_in("alice", password, now=now).name == "alice"
    assert get_store().user("alice")["failures"] == 0  # a success forgets the failures
    with pytest.raises(SignInRefused) as unknown:
        accounts.sign_in("mallory", "wrong", now=now)
    assert unknown.value.key == "accounts.wrong" and unknown.value.values["seconds"] == 1
    with pytest.raises(SignInRefused) as unknown_again:
        accounts.sign_in("mallory", "wrong", now=now + 0.1)
    assert unknown_again.value.key == "accounts.wait"


def test_bad_account_input_is_one_sentence_and_changes_nothing(home: Path) -> None:
    for call, key in ((lambda: accounts.add("bob", "boss"), "accounts.bad_role"),
                      (lambda: accounts.add("bob", "student", "short"), "accounts.short_password"),
                      (lambda: accounts.add("a/b"), "game.bad_player_name"),
                      (lambda: accounts.set_password("nobody"), "accounts.no_such")):
        with pytest.raises(PlaygroundError) as refused:
            call()
        assert refused.value.key == key
    assert get_store().users() == []
    accounts.add("bob")
    with pytest.raises(PlaygroundError, match="already an account"):
        accounts.add("bob", "teacher")
    assert accounts.get("bob").role == "student"


def test_the_first_served_start_makes_one_teacher_and_only_once(home: Path) -> None:
    made = accounts.ensure_first_teacher()
    assert made is not None
    name, password = made
    assert accounts.sign_in(name, password).teacher
    assert accounts.ensure_first_teacher() is None


def test_removing_a_person_removes_their_uploads_and_keeps_their_runs(home: Path) -> None:
    accounts.add("alice")
    store = get_store()
    folder = uploads.datasets_dir() / "alice-faces"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"x" * 10)
    store.add_upload("alice", "faces.zip", str(folder), status="ready")
    other = uploads.datasets_dir() / "bob-cats"
    other.mkdir()
    store.add_upload("bob", "cats.zip", str(other), status="ready")
    run_id = _run("alice", status="finished")
    assert accounts.remove("alice") == 1
    assert not folder.exists() and other.exists()
    assert [row["owner"] for row in store.uploads()] == ["bob"]
    assert store.user("alice") is None
    assert store.get_run(run_id).player == "alice"


def test_the_users_command_adds_lists_changes_and_removes(cli) -> None:  # type: ignore[no-untyped-def]
    added = cli("users", "add", "alice", "--role", "teacher")
    assert added.code == 0, added.err
    password = added.out.split("password:")[1].split()[0]
    assert accounts.sign_in("alice", password).teacher
    listed = cli("users", "list")
    assert "alice" in listed.out and "teacher" in listed.out
    changed = cli("users", "passwd", "alice")
    new = changed.out.split("password:")[1].split()[0]
    assert new != password and accounts.sign_in("alice", new).name == "alice"
    refused = cli("users", "add", "bob", "--role", "boss")
    assert refused.code == 2 and "not a role" in refused.err
    assert cli("users", "remove", "alice", "--yes").code == 0
    assert "alice" not in cli("users", "list").out


# -- whose run --------------------------------------------------------------------------------------------------------
def test_only_the_owner_or_a_teacher_stops_or_deletes_a_run(home: Path) -> None:
    alice, bob, teacher = Actor("alice"), Actor("bob"), Actor("ms-li", "teacher")
    run_id = _run("alice")
    with pytest.raises(NotAllowed, match="alice's"):
        runs.request_stop(run_id, actor=bob)
    assert not get_store().get_run(run_id).stop_requested
    assert runs.request_stop(run_id, actor=alice).stop_requested
    finished = _run("alice", status="finished")
    with pytest.raises(NotAllowed):
        runs.delete(finished, actor=bob)
    assert get_store().has_run(finished)
    assert runs.delete(finished, actor=teacher) == finished
    assert not get_store().has_run(finished)
    # On this computer (no actor) the person at the machine owns everything.
    assert runs.request_stop(_run("bob"), actor=None).stop_requested


def test_a_private_run_is_not_there_for_anyone_but_its_owner_and_the_teachers(home: Path) -> None:
    run_id = _run("alice", status="stopped")
    runs.set_private(run_id, True, actor=Actor("alice"))
    run = get_store().get_run(run_id)
    assert run.private
    assert access.visible(Actor("bob"), [run]) == []
    assert access.visible(Actor("alice"), [run]) == [run]
    assert access.visible(Actor("t", "teacher"), [run]) == [run]
    with pytest.raises(RunNotFound):
        runs.delete(run_id, actor=Actor("bob"))
    with pytest.raises(RunNotFound):
        runs.set_private(run_id, False, actor=Actor("bob"))


def test_a_served_child_acts_for_the_person_it_names(served: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    accounts.add("alice")
    accounts.add("bob")
    run_id = _run("alice")
    monkeypatch.setenv("PLAYGROUND_PLAYER", "bob")
    refused = cli("runs", "stop", run_id)
    assert refused.code == 2 and "alice's" in refused.err
    assert not get_store().get_run(run_id).stop_requested
    monkeypatch.setenv("PLAYGROUND_PLAYER", "nobody")
    assert "no account" in cli("runs", "stop", run_id).err
    monkeypatch.setenv("PLAYGROUND_PLAYER", "alice")
    assert cli("runs", "stop", run_id).code == 0
    assert get_store().get_run(run_id).stop_requested


# -- the quota of jobs ------------------------------------------------------------------------------------------------
def test_a_third_job_of_one_person_is_refused_and_nothing_is_created(served: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    accounts.add("alice")
    _run("alice")
    _run("alice", status="created")
    monkeypatch.setenv("PLAYGROUND_PLAYER", "alice")
    before = len(get_store().find_runs())
    refused = cli("rl", "train", "qlearning", "FrozenLake-v1", "--detach")
    assert refused.code == 2, refused.err
    assert "already have 2 runs going" in refused.err
    assert len(get_store().find_runs()) == before


def test_the_servers_limit_counts_everyones_jobs_and_a_dead_job_frees_its_place(served: Path) -> None:
    _run("alice")
    _run("bob")
    dead = _run("carol")
    with pytest.raises(QuotaExceeded) as refused:
        runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={}, player="dan")
    assert refused.value.key == "quota.jobs_server"
    get_store().update_run(dead, pid=2**22 + 12345)  # its trainer is gone
    made = runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={}, player="dan")
    assert get_store().get_run(dead).status == "failed"
    assert made.player == "dan"


def test_a_person_who_chose_private_runs_starts_private_ones(served: Path) -> None:
    accounts.add("alice")
    accounts.set_private_runs("alice", True)
    run = runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={}, player="alice")
    assert run.private
    accounts.add("bob")
    assert not runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={},
                           player="bob").private


def test_on_this_computer_there_is_no_quota(home: Path) -> None:
    for _ in range(5):
        _run("alice")
    assert runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={},
                       player="alice").status == "created"


def test_a_person_an_identity_provider_signs_in_gets_one_student_account(home: Path) -> None:
    accounts.add("alice", "teacher")
    first = accounts.from_provider("sub-123", "alice@school.example")
    assert first.name == "alice-2" and first.role == "student" and first.oidc  # "alice" was taken
    assert accounts.from_provider("sub-123", "Alice Other").name == "alice-2"  # the subject finds them again
    with pytest.raises(SignInRefused):  # no local password to sign in with
        accounts.sign_in("alice-2", "")


def test_a_sign_in_ticket_holds_until_it_expires_is_forged_or_the_password_changes(home: Path) -> None:
    accounts.add("alice", "student", "alice-password")
    token = accounts.ticket("alice")
    found = accounts.from_ticket(token, 3600)
    assert found is not None and found[0].name == "alice" and abs(found[1] - time.time()) < 5
    assert accounts.from_ticket(token, -1) is None  # expired
    assert accounts.from_ticket(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), 3600) is None  # forged
    assert accounts.from_ticket("alice", 3600) is None
    accounts.set_password("alice", "another-password")
    assert accounts.from_ticket(token, 3600) is None  # a new password ends the old tickets
    assert accounts.from_ticket(accounts.ticket("alice"), 3600) is not None
