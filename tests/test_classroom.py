"""The class at a glance and the class's own challenge catalogue (playground/game/classroom.py), and
`playground class`: real accounts, runs and games in a real store; the rows, the CSV a spreadsheet opens, and
which catalogue the game plays (the environment's, the class's, the built-in)."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from playground import accounts, runs
from playground.access import Actor
from playground.errors import NotAllowed, PlaygroundError
from playground.game import Game, classroom
from playground.game.catalogue import CATALOGUE, CatalogueError
from playground.game.core import BUILTIN, CATALOGUE_SETTING, CLASS, ENVIRONMENT, catalogue_source
from playground.game.results import record_human_game
from playground.store import get_store


@pytest.fixture(autouse=True)
def _player(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_CHALLENGES", raising=False)
    monkeypatch.delenv("PLAYGROUND_SERVED", raising=False)
    monkeypatch.setenv("PLAYGROUND_PLAYER", "ada")


def _texts(en: str, zh: str = "测试") -> dict[str, str]:
    return {"en": en, "zh": zh}


def class_catalogue(first_tier_en: str = "Warm-up") -> dict[str, Any]:
    """A class's own catalogue: one human game is a challenge met (60 XP) and the second tier."""
    return {
        "tiers": [
            {"id": "warm-up", "name": _texts(first_tier_en, "热身"), "description": _texts("first"), "xp": 0},
            {"id": "going", "name": _texts("Going", "进行"), "description": _texts("second"), "xp": 50,
             "requires": ["pong-once"]},
        ],
        "challenges": [
            {"id": "pong-once", "tier": "warm-up", "kind": "human", "title": _texts("Play Pong"),
             "description": _texts("Play one game"), "envs": ["ALE/Pong-v5"], "metric": "games", "op": ">=",
             "threshold": 1, "xp": 60, "commands": ["playground play ALE/Pong-v5"]},
            {"id": "cp-easy", "tier": "warm-up", "kind": "rl", "title": _texts("CartPole"),
             "description": _texts("Balance"), "envs": ["CartPole-v1"], "metric": "score", "op": ">=",
             "threshold": 50, "xp": 40, "commands": ["playground rl train ppo CartPole-v1"]},
            {"id": "cp-400", "tier": "going", "kind": "rl", "title": _texts("CartPole 400"),
             "description": _texts("Balance longer"), "envs": ["CartPole-v1"], "metric": "score", "op": ">=",
             "threshold": 400, "xp": 100, "commands": ["playground rl train ppo CartPole-v1"]},
        ],
    }


def catalogue_yaml(**kw: Any) -> str:
    return yaml.safe_dump(class_catalogue(**kw), allow_unicode=True, sort_keys=False)


def broken_yaml() -> str:
    data = class_catalogue()
    data["challenges"][1]["metric"] = "reward"
    return yaml.safe_dump(data, allow_unicode=True)


def make_run(player: str | None, status: str, env: str = "CartPole-v1") -> Any:
    """A run as a door makes it; ``running``: claimed by this (live) process, as a job claims it."""
    run = get_store().create_run(kind="rl", algo="ppo", env=env, game=env.split("-")[0], config={},
                                 folder_for=runs.folder_for, player=player)
    if status != "created":
        runs.mark_running(run.id)
    if status not in ("created", "running"):
        runs.end(run.id, status, 0)
    return runs.get(run.id)


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["player"]: r for r in rows}


def class_ids() -> set[str]:
    return {c.id for c in Game(get_store()).catalogue.challenges}


@pytest.fixture
def builtin_ids(home: Path) -> set[str]:
    return {c["id"] for c in yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["challenges"]}


# -- the rows ---------------------------------------------------------------------------------------------------------
def test_every_account_and_every_player_seen_has_a_row_with_their_jobs(home: Path) -> None:
    accounts.add("mr-li", "teacher")
    accounts.add("张伟", "student")
    accounts.add("cy", "student")
    make_run("张伟", "running")
    make_run("张伟", "created")
    make_run("张伟", "finished")
    make_run("bo", "running")  # a player with runs and no account
    make_run("bo", "failed")
    record_human_game(player="eve", env="ALE/Pong-v5", game="Pong", score=-21, seed=0, frames=900)  # a game only

    rows = classroom.rows()
    assert [r["player"] for r in rows] == ["bo", "cy", "eve", "mr-li", "张伟"]  # by name
    found = by_name(rows)
    assert found["mr-li"]["role"] == "teacher" and found["张伟"]["role"] == "student"
    assert found["bo"]["role"] is None and found["eve"]["role"] is None
    assert (found["张伟"]["running_jobs"], found["张伟"]["runs"]) == (2, 3)  # created and running count, finished not
    assert (found["bo"]["running_jobs"], found["bo"]["runs"]) == (1, 2)
    assert (found["cy"]["running_jobs"], found["cy"]["runs"]) == (0, 0)
    assert found["cy"]["last_activity"] is None  # an account that did nothing yet
    assert found["张伟"]["last_activity"] is not None and found["eve"]["last_activity"] is not None
    assert set(rows[0]) == set(classroom.COLUMNS)
    json.dumps(rows)  # JSON-ready as it is


def test_a_job_that_died_is_not_counted_as_running(home: Path) -> None:
    alive, dead = make_run("bo", "running"), make_run("bo", "running")
    get_store().update_run(dead.id, host="another-machine", heartbeat_at=time.time() - 3600)  # silent for an hour
    [row] = classroom.rows()
    assert (row["running_jobs"], row["runs"]) == (1, 2)
    assert runs.get(dead.id).status == "failed" and runs.get(alive.id).status == "running"


def test_xp_tier_challenges_and_badges_follow_the_class_catalogue(home: Path) -> None:
    classroom.set_catalogue(catalogue_yaml(), "class.yaml")
    accounts.add("张伟", "student")
    before = by_name(classroom.rows())["张伟"]
    assert (before["xp"], before["tier"], before["challenges_met"], before["challenges_total"]) == (0, "warm-up", 0, 3)

    record_human_game(player="张伟", env="ALE/Pong-v5", game="Pong", score=-20, seed=0, frames=900)
    after = by_name(classroom.rows())["张伟"]
    assert (after["xp"], after["tier"], after["challenges_met"]) == (60, "going", 1)
    assert after["tier_name"] == {"en": "Going", "zh": "进行"}
    assert after["badges"] >= 1  # the first game played is a badge
    assert after["last_activity"] is not None


def test_what_this_read_newly_earned_counts_as_activity_at_once(home: Path) -> None:
    """The first look at the class records the award a game earned; its row says so then, not a look later."""
    from sqlalchemy import update

    from playground.store import events_table

    classroom.set_catalogue(catalogue_yaml(), "class.yaml")
    record_human_game(player="张伟", env="ALE/Pong-v5", game="Pong", score=-20, seed=0, frames=900)
    an_hour_ago = time.time() - 3600
    with get_store().engine.begin() as conn:
        conn.execute(update(events_table).values(created_at=an_hour_ago))
    first = by_name(classroom.rows())["张伟"]
    assert first["xp"] == 60
    assert time.time() - datetime.fromisoformat(first["last_activity"]).timestamp() < 60  # the award, just now
    assert classroom.rows() == [first]


def test_the_csv_opens_in_a_spreadsheet_with_chinese_names_and_stable_columns(home: Path) -> None:
    classroom.set_catalogue(catalogue_yaml(first_tier_en="=HYPERLINK(\"x\")"), "class.yaml")
    accounts.add("张伟", "student")
    make_run("张伟", "running")
    table = classroom.rows()
    data = classroom.to_csv(table, "zh")
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(parsed[0]) == list(classroom.COLUMNS)
    [row] = parsed
    assert row["player"] == "张伟" and row["role"] == "student" and row["tier_name"] == "热身"
    assert (row["running_jobs"], row["runs"], row["xp"], row["challenges_total"]) == ("1", "1", "0", "3")
    assert row["last_activity"][:2] == "20" and len(row["last_activity"]) == len("2026-12-02 15:36")
    english = list(csv.DictReader(io.StringIO(classroom.to_csv(table, "en").decode("utf-8-sig"))))
    assert english[0]["tier_name"] == "'=HYPERLINK(\"x\")"  # text a spreadsheet would run as a formula is quoted

    path = classroom.write_csv(home / "out" / "class.csv", table, "zh")
    assert path.read_bytes() == data
    with pytest.raises(PlaygroundError) as caught:
        classroom.write_csv(path / "inside-a-file.csv", table)
    assert caught.value.key == "classroom.csv_unwritable"


def test_only_a_teacher_may_see_the_class_or_choose_its_catalogue(home: Path) -> None:
    student, teacher = Actor("bo", "student"), Actor("mr-li", "teacher")
    for act in (lambda a: classroom.rows(actor=a),
                lambda a: classroom.set_catalogue(catalogue_yaml(), "c.yaml", actor=a),
                lambda a: classroom.use_builtin(actor=a)):
        with pytest.raises(NotAllowed):
            act(student)
    assert get_store().class_setting(CATALOGUE_SETTING) is None
    classroom.set_catalogue(catalogue_yaml(), "c.yaml", actor=teacher)
    assert get_store().class_setting(CATALOGUE_SETTING)["set_by"] == "mr-li"
    assert classroom.rows(actor=teacher) == classroom.rows(actor=None) == []


# -- the class's catalogue --------------------------------------------------------------------------------------------
def test_the_environment_wins_over_the_class_which_wins_over_the_builtin(home: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         builtin_ids: set[str]) -> None:
    assert catalogue_source(get_store()).origin == BUILTIN and class_ids() == builtin_ids

    catalogue, kept = classroom.set_catalogue(catalogue_yaml().encode("utf-8"), "/somewhere/Our class.yaml")
    assert [c.id for c in catalogue.challenges] == ["pong-once", "cp-easy", "cp-400"]
    assert class_ids() == {"pong-once", "cp-easy", "cp-400"}
    source = catalogue_source(get_store())
    assert (source.origin, source.name) == (CLASS, "Our class.yaml")
    assert kept.parent == home / "catalogues" and yaml.safe_load(kept.read_text(encoding="utf-8")) == class_catalogue()

    other = class_catalogue()
    other["challenges"] = other["challenges"][:1]
    other["tiers"] = other["tiers"][:1]
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(yaml.safe_dump(other, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("PLAYGROUND_CHALLENGES", str(pinned))
    source = catalogue_source(get_store())
    assert (source.origin, source.name, source.overridden) == (ENVIRONMENT, str(pinned), True)
    assert class_ids() == {"pong-once"}
    monkeypatch.delenv("PLAYGROUND_CHALLENGES")

    assert classroom.use_builtin() is True
    assert catalogue_source(get_store()).origin == BUILTIN and class_ids() == builtin_ids
    assert classroom.use_builtin() is False


@pytest.mark.parametrize("content, key", [
    (broken_yaml(), "game.catalogue_invalid"),
    ("tiers: [unclosed", "game.catalogue_unreadable"),
    ("", "game.catalogue_invalid"),
    (b"\xff\xfe tiers", "classroom.catalogue_not_text"),
    (b"#" * (classroom.MAX_CATALOGUE_BYTES + 1), "classroom.catalogue_too_big"),
], ids=["bad-metric", "bad-yaml", "empty", "not-utf8", "too-big"])
def test_a_bad_catalogue_is_one_sentence_and_changes_nothing(home: Path, content: Any, key: str) -> None:
    classroom.set_catalogue(catalogue_yaml(), "good.yaml")
    before = get_store().class_setting(CATALOGUE_SETTING)
    kept_before = sorted((home / "catalogues").iterdir())
    with pytest.raises(CatalogueError) as caught:
        classroom.set_catalogue(content, "bad.yaml")
    assert caught.value.key == key
    sentence = caught.value.sentence("en")
    assert "\n" not in sentence and sentence.endswith(".")
    if key == "game.catalogue_invalid" and content:
        assert "reward" in sentence
    assert get_store().class_setting(CATALOGUE_SETTING) == before
    assert sorted((home / "catalogues").iterdir()) == kept_before
    assert class_ids() == {"pong-once", "cp-easy", "cp-400"}


def test_machines_that_share_a_store_and_not_a_home_play_the_class_catalogue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The class setting holds the file's text: a second machine (its own home, the same database) plays it."""
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("PLAYGROUND_DB", database)
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "teacher-machine"))
    classroom.set_catalogue(catalogue_yaml(), "class.yaml")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "student-machine"))
    assert not (tmp_path / "student-machine" / "catalogues").exists()
    assert class_ids() == {"pong-once", "cp-easy", "cp-400"}
    assert catalogue_source().origin == CLASS


# -- playground class ----------------------------------------------------------------------------------------------
def one_sentence(result: Any) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    text = result.err.strip()
    assert text.startswith("error:") and "\n" not in text and "Traceback" not in result.err, result.err
    return text


def test_class_show_prints_the_same_rows_as_json_text_and_csv(cli: Any, home: Path) -> None:
    assert cli("class", "show").out.startswith("nobody in the class yet")
    accounts.add("张伟", "student")
    make_run("张伟", "running")
    make_run("bo", "finished")
    result = cli("class", "show", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == classroom.rows()

    text = cli("class", "show")
    assert text.code == 0 and "张伟" in text.out and "bo" in text.out and "student" in text.out

    target = home / "export.csv"
    result = cli("class", "show", "--csv", str(target), "--lang", "zh")
    assert result.code == 0, result.err
    assert str(target) in result.out and "2" in result.out
    parsed = list(csv.DictReader(io.StringIO(target.read_bytes().decode("utf-8-sig"))))
    assert [r["player"] for r in parsed] == ["bo", "张伟"] and parsed[1]["running_jobs"] == "1"
    assert parsed[1]["tier_name"] == "入门"  # in the language asked for

    both = cli("class", "show", "--csv", str(home / "two.csv"), "--json")  # the JSON stays clean on stdout
    assert json.loads(both.out) == classroom.rows() and "two.csv" in both.err


def test_class_catalogue_sets_checks_prints_and_goes_back(cli: Any, home: Path, tmp_path: Path,
                                                          builtin_ids: set[str]) -> None:
    shown = cli("class", "catalogue")
    assert shown.code == 0 and "built-in" in shown.out and "Getting started" in shown.out

    good = tmp_path / "our class.yaml"
    good.write_text(catalogue_yaml(), encoding="utf-8")
    result = cli("class", "catalogue", str(good))
    assert result.code == 0, result.err
    assert "our class.yaml" in result.out and "3 challenges" in result.out and str(home / "catalogues") in result.out
    assert "Warm-up: 2 challenges paying 100 XP" in result.out
    assert class_ids() == {"pong-once", "cp-easy", "cp-400"}
    assert "its own catalogue our class.yaml" in cli("class", "catalogue").out

    bad = tmp_path / "bad.yaml"
    bad.write_text(broken_yaml(), encoding="utf-8")
    assert "reward" in one_sentence(cli("class", "catalogue", str(bad)))
    assert "cannot be read" in one_sentence(cli("class", "catalogue", str(tmp_path / "missing.yaml")))
    one_sentence(cli("class", "catalogue", str(good), "--builtin"))
    assert class_ids() == {"pong-once", "cp-easy", "cp-400"}  # nothing changed

    back = cli("class", "catalogue", "--builtin")
    assert back.code == 0 and "built-in" in back.out
    assert class_ids() == builtin_ids
    assert "had no catalogue of its own" in cli("class", "catalogue", "--builtin").out


def test_class_catalogue_says_when_this_machines_environment_wins(cli: Any, home: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(catalogue_yaml(), encoding="utf-8")
    monkeypatch.setenv("PLAYGROUND_CHALLENGES", str(pinned))
    result = cli("class", "catalogue")
    assert result.code == 0 and "PLAYGROUND_CHALLENGES" in result.out and str(pinned) in result.out
    pinned.write_text(broken_yaml(), encoding="utf-8")
    assert "reward" in one_sentence(cli("class", "catalogue"))
