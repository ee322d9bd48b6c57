"""The translation table: every key the UI's source names exists in English and Simplified Chinese,
and the families of keys that pages build from data (statuses, metrics, columns, cards) are complete."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from playground.i18n import LANGUAGES, table

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "playground" / "ui").rglob("*.py")) + [ROOT / "streamlit_app.py"]
# t("key"), t('key', x=1), page("key"): a whole literal key as the first argument; f-strings and
# "prefix." + name are built keys, checked by family below
LITERAL_KEY = re.compile(r"""\b(?:t|page)\(\s*(["'])([A-Za-z0-9_.\-]+)\1\s*[,)]""")
CJK = re.compile(r"[\u3400-\u9fff]")


def _learn_cards() -> dict[str, tuple[str, ...]]:
    """The Learn page's card lists, read from its source (importing a page runs it)."""
    tree = ast.parse((ROOT / "playground" / "ui" / "pages" / "learn.py").read_text(encoding="utf-8"))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.endswith(("_CARDS", "EQUATIONS"))}


DQN_CARDS = _learn_cards()["DQN_CARDS"]
CARDS = tuple(name for key, names in _learn_cards().items() if key.endswith("_CARDS") for name in names)


def test_each_dqn_improvement_card_has_its_equation() -> None:
    assert sorted(_learn_cards()["EQUATIONS"]) == sorted(DQN_CARDS)


def fields(text: str) -> list[str]:
    """The ``{name}`` fields a text fills in (``{step:,}`` is the field ``step``)."""
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def used_keys() -> dict[str, list[str]]:
    """key → the files that name it."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for match in LITERAL_KEY.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(2), []).append(str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_keys_it_should() -> None:
    keys = used_keys()
    assert "nav.home" in keys and "home.train_ppo" in keys and "learn.intro" in keys
    assert not [k for k in keys if "{" in k]
    assert LITERAL_KEY.findall('t(f"learn.{name}.what")') == []  # built keys are checked by family below
    assert LITERAL_KEY.findall('t("home.run_status." + status)') == []
    assert [m[2] for m in LITERAL_KEY.finditer('t(\n    "a.b", x=1) t("c.d")')] == ["a.b", "c.d"]


def test_every_key_the_source_names_exists_in_both_languages() -> None:
    strings = table()
    missing = {key: files for key, files in used_keys().items() if key not in strings}
    assert not missing, f"keys used but not in the translation table: {missing}"
    for key in used_keys():
        for lang in LANGUAGES:
            assert strings[key][lang].strip(), (key, lang)


def test_every_entry_has_both_languages_and_the_chinese_is_chinese() -> None:
    strings = table()
    assert strings
    for key, entry in strings.items():
        assert set(entry) == set(LANGUAGES), key
        assert entry["en"].strip() and entry["zh"].strip(), key
        # the {fields} a page fills in are the same in both languages
        assert fields(entry["en"]) == fields(entry["zh"]), key
    ours = [k for k in strings if k.split(".")[0] in ("home", "learn")]
    # Chinese text must be Chinese (names such as "KID" or "Nature DQN" may stay as they are elsewhere)
    assert [k for k in ours if not CJK.search(strings[k]["zh"])] == []


@pytest.mark.parametrize("family, members", [
    ("learn.{}.title", [*CARDS]),
    ("learn.{}.what", [*CARDS]),
    ("learn.{}.idea", [*CARDS]),
    ("learn.{}.knobs", [*CARDS]),
    ("challenges.status.{}", ["met", "attempted", "open"]),
    ("home.run_status.{}", ["created", "running", "stopped", "finished", "failed"]),
    ("challenges.ref.{}", ["random", "human", "nature_dqn"]),
    ("challenges.col.{}", ["rank", "player", "algo", "model", "run", "run_id", "env", "dataset", "step", "value",
                           "result", "meets", "mean", "std", "games", "score", "human_normalised", "metric", "fd",
                           "kid", "psnr", "l1", "cycle_l1", "samples", "created_at", "status", "progress",
                           "last_eval", "active", "tier", "xp", "challenges_met"]),
])
def test_key_families_built_from_data_are_complete(family: str, members: list[str]) -> None:
    strings = table()
    assert [m for m in members if family.format(m) not in strings] == []


def test_every_metric_of_the_catalogue_has_a_name() -> None:
    from playground.game.catalogue import METRICS

    strings = table()
    assert [m for m in METRICS if f"challenges.metric.{m}" not in strings] == []


def test_the_idea_of_each_card_is_one_sentence() -> None:
    """The training forms show `learn.<name>.idea` next to the algorithm picker: one sentence."""
    strings = table()
    for name in CARDS:
        en, zh = strings[f"learn.{name}.idea"]["en"], strings[f"learn.{name}.idea"]["zh"]
        assert en.endswith(".") and en.count(". ") == 0 and "\n" not in en, name
        assert zh.endswith("。") and zh.count("。") == 1, name
        knobs = strings[f"learn.{name}.knobs"]
        assert all(line.startswith("- ") for lang in LANGUAGES for line in knobs[lang].splitlines()), name


@pytest.mark.parametrize("files", [
    {"one.yaml": "a.b:\n  en: x\n  zh: 甲\na.b:\n  en: y\n  zh: 乙\n"},  # twice in one file
    {"one.yaml": "a.b:\n  en: x\n  zh: 甲\n", "two.yaml": "a.b:\n  en: y\n  zh: 乙\n"},  # in two files
])
def test_a_key_written_twice_in_the_table_is_refused(tmp_path, monkeypatch, files) -> None:  # type: ignore[no-untyped-def]
    from playground import i18n

    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(i18n, "STRINGS", tmp_path)
    i18n.table.cache_clear()
    try:
        with pytest.raises(ValueError, match="a.b"):
            i18n.table()
    finally:
        monkeypatch.undo()
        i18n.table.cache_clear()
