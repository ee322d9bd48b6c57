"""The teacher page, headless: Streamlit's AppTest runs the real page against a real store, served (a teacher, a
student, nobody signed in) and on this computer; the class table, the CSV the download hands over, and the class's
catalogue chosen on the page (a good file changes what the game plays, a bad one changes nothing)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from playground import accounts
from playground.game import Game
from playground.game.core import CATALOGUE_SETTING
from playground.i18n import translate
from playground.store import get_store
from playground.ui.auth import PERSON_KEY, Person
from tests.test_classroom import broken_yaml, catalogue_yaml, make_run

PAGE = Path(__file__).resolve().parents[1] / "playground" / "ui" / "pages" / "teacher.py"
TIMEOUT = 60
CLASS_IDS = {"pong-once", "cp-easy", "cp-400"}


@pytest.fixture(autouse=True)
def _player(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_CHALLENGES", raising=False)
    monkeypatch.delenv("PLAYGROUND_SERVED", raising=False)
    monkeypatch.setenv("PLAYGROUND_PLAYER", "ada")


def open_page(person: Person | None = None, lang: str = "en") -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    app.session_state["ui_lang"] = lang
    if person is not None:
        app.session_state[PERSON_KEY] = person
    return app.run()


def served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_SERVED", "1")


def ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def class_table(app: AppTest) -> list[dict[str, Any]]:
    return app.dataframe[0].value.to_dict("records")


def game_ids() -> set[str]:
    return {c.id for c in Game(get_store()).catalogue.challenges}


def only_one_sentence(app: AppTest, sentence: str) -> None:
    """One error and nothing else of the page: no title, table, download, upload or button."""
    assert not app.exception, [e.value for e in app.exception]
    assert [e.value for e in app.error] == [sentence]
    assert len(app.main.children) == 1
    assert not (app.title or app.dataframe or app.download_button or app.file_uploader or app.button or app.markdown)


@pytest.fixture
def a_class(home: Path) -> None:
    accounts.add("mr-li", "teacher")
    accounts.add("张伟", "student")
    make_run("张伟", "finished")
    make_run("bo", "running")  # a player with a job going and no account


# -- who may see it ---------------------------------------------------------------------------------------------------
def test_a_teacher_sees_the_class_and_downloads_it(a_class: None, monkeypatch: pytest.MonkeyPatch) -> None:
    served(monkeypatch)
    handed: list[bytes] = []
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self: Any, data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if mimetype == "text/csv":
            handed.append(data)
        return real(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    app = ok(open_page(Person("mr-li", "teacher", time.time())))
    assert app.title[0].value == "Teacher"
    rows = {r["player"]: r for r in class_table(app)}
    assert list(rows) == ["bo", "mr-li", "张伟"]
    assert rows["bo"]["running jobs"] == 1 and rows["bo"]["role"] == "no account"
    assert rows["张伟"]["runs"] == 1 and rows["张伟"]["running jobs"] == 0 and rows["张伟"]["role"] == "student"
    assert rows["mr-li"]["challenges met"].startswith("0 / ")
    assert any("runs going now: 1" in c.value for c in app.caption)
    [download] = app.download_button
    assert download.label == "Download as CSV"
    [data] = handed
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["player"] for r in parsed] == ["bo", "mr-li", "张伟"] and parsed[0]["running_jobs"] == "1"


def test_the_page_speaks_chinese_and_so_does_the_csv(a_class: None, monkeypatch: pytest.MonkeyPatch) -> None:
    served(monkeypatch)
    app = ok(open_page(Person("mr-li", "teacher", time.time()), lang="zh"))
    assert app.title[0].value == "教师"
    rows = {r["玩家"]: r for r in class_table(app)}
    assert rows["张伟"]["角色"] == "学生" and rows["张伟"]["段位"] == "入门"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_student_who_reaches_the_page_gets_one_sentence_and_nothing_else(a_class: None, lang: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    served(monkeypatch)
    app = open_page(Person("张伟", "student", time.time()), lang=lang)
    only_one_sentence(app, translate("classroom.teachers_only", lang))


def test_nobody_signed_in_gets_one_sentence(a_class: None, monkeypatch: pytest.MonkeyPatch) -> None:
    served(monkeypatch)
    only_one_sentence(open_page(), translate("auth.sign_in_first", "en"))


def test_on_this_computer_the_page_works_without_signing_in(a_class: None) -> None:
    app = ok(open_page())
    assert {r["player"] for r in class_table(app)} == {"bo", "mr-li", "张伟"}
    assert app.download_button and app.file_uploader


def test_an_empty_class_says_how_people_join(home: Path) -> None:
    app = ok(open_page())
    assert any("playground users add" in i.value for i in app.info)
    assert app.download_button  # an empty CSV, with its columns, is still a file


# -- the class's catalogue ----------------------------------------------------------------------------------------
def test_a_catalogue_chosen_on_the_page_is_what_the_game_plays(a_class: None, monkeypatch: pytest.MonkeyPatch) -> None:
    served(monkeypatch)
    builtin = game_ids()
    app = ok(open_page(Person("mr-li", "teacher", time.time())))
    assert "built-in" in app.markdown[1].value and "teacher.use_builtin" not in {b.key for b in app.button}

    app.file_uploader(key="teacher.upload").set_value(("our class.yaml", catalogue_yaml().encode(), "text/yaml")).run()
    ok(app)
    assert any(m.value == "**our class.yaml** holds:" for m in app.markdown)
    preview = app.dataframe[-1].value.to_dict("records")
    assert [(r["tier"], r["challenges"]) for r in preview] == [("Warm-up", 2), ("Going", 1)]
    assert game_ids() == builtin  # a preview changes nothing yet

    app.button(key="teacher.use_upload").click().run()
    ok(app)
    assert game_ids() == CLASS_IDS
    assert get_store().class_setting(CATALOGUE_SETTING)["set_by"] == "mr-li"
    assert [s.value for s in app.success] == ["The class plays our class.yaml now: 3 challenges."]
    assert any("its own catalogue, **our class.yaml**" in m.value for m in app.markdown)
    assert {r["challenges met"] for r in class_table(app)} == {"0 / 3"}  # the table counts the class's challenges
    assert [i.value for i in app.info] == ["This is the catalogue the class plays now."]
    assert "teacher.use_upload" not in {b.key for b in app.button}

    app.button(key="teacher.use_builtin").click().run()
    ok(app)
    assert game_ids() == builtin
    assert get_store().class_setting(CATALOGUE_SETTING) is None
    assert [s.value for s in app.success] == ["The class plays the built-in catalogue again."]


@pytest.mark.parametrize("content, words", [
    (broken_yaml().encode(), "reward"),
    (b"tiers: [unclosed", "cannot be read"),
    (b"\xff\xfe\x00t", "not UTF-8"),
], ids=["bad-metric", "bad-yaml", "not-text"])
def test_a_bad_catalogue_file_gets_one_sentence_and_changes_nothing(a_class: None, content: bytes, words: str) -> None:
    from playground.game import classroom

    classroom.set_catalogue(catalogue_yaml(), "before.yaml")
    before = get_store().class_setting(CATALOGUE_SETTING)
    app = ok(open_page())
    app.file_uploader(key="teacher.upload").set_value(("bad.yaml", content, "text/yaml")).run()
    [error] = app.error
    assert words in error.value and "\n" not in error.value
    assert not app.exception
    assert "teacher.use_upload" not in {b.key for b in app.button}
    assert get_store().class_setting(CATALOGUE_SETTING) == before
    assert game_ids() == CLASS_IDS


def test_the_page_says_when_this_machines_environment_wins(a_class: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from playground.game import classroom

    classroom.set_catalogue(catalogue_yaml(), "class.yaml")
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(catalogue_yaml(first_tier_en="Pinned"), encoding="utf-8")
    monkeypatch.setenv("PLAYGROUND_CHALLENGES", str(pinned))
    app = ok(open_page())
    [warning] = app.warning
    assert "PLAYGROUND_CHALLENGES" in warning.value and str(pinned) in warning.value
    assert app.dataframe[1].value.to_dict("records")[0]["tier"] == "Pinned"  # the preview is what this machine plays
    app.button(key="teacher.use_builtin").click().run()  # the class's choice can still be undone from here
    assert get_store().class_setting(CATALOGUE_SETTING) is None


def test_a_class_catalogue_that_no_longer_loads_is_one_sentence_and_can_be_undone(a_class: None) -> None:
    get_store().set_class_setting(CATALOGUE_SETTING, {"name": "old.yaml", "yaml": broken_yaml()})
    app = open_page()
    assert not app.exception
    assert any("reward" in e.value for e in app.error)
    app.button(key="teacher.use_builtin").click().run()
    ok(app)
    assert get_store().class_setting(CATALOGUE_SETTING) is None


@pytest.mark.parametrize("name", ["home", "challenges"])
def test_home_and_the_challenges_page_show_the_class_catalogue(home: Path, name: str) -> None:
    from playground.game import classroom

    def shown(app: AppTest) -> str:
        kinds = ("markdown", "caption", "subheader", "info", "success")
        parts = [e.value for kind in kinds for e in getattr(app, kind)]
        return "\n".join(str(p) for p in [*parts, *(f"{m.label} {m.value}" for m in app.metric)])

    page = PAGE.parent / f"{name}.py"
    before = shown(ok(AppTest.from_file(str(page), default_timeout=TIMEOUT).run()))
    assert "Getting started" in before and "Warm-up" not in before
    classroom.set_catalogue(catalogue_yaml(), "class.yaml")
    after = shown(ok(AppTest.from_file(str(page), default_timeout=TIMEOUT).run()))
    assert "Warm-up" in after and "Getting started" not in after
