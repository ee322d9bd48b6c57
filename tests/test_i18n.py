"""Every door speaks the learner's language: the CLI's output and error sentences follow ``--lang`` (anywhere
on the line) and ``PLAYGROUND_LANG``, from the same table as the web UI; every error a user can cause is a
key of that table, checked in the source; the web UI gets a child process's sentence in its own language."""

from __future__ import annotations

import ast
import os
import pickle
import re
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground import i18n
from playground.errors import BadConfig, PlaygroundError
from playground.i18n import LANGUAGES, Words, language, set_language, table, translate

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for package in ("playground", "agents", "gans") for p in (ROOT / package).rglob("*.py"))
CJK = re.compile(r"[\u3400-\u9fff]")


def fields(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def user_error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Every class in our code that is a PlaygroundError, by name (from the class statements' bases)."""
    bases: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                         if isinstance(b, ast.Name | ast.Attribute)}
                bases.setdefault(node.name, set()).update(names)
    found = {"PlaygroundError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def test_every_user_error_in_the_source_is_a_key_of_the_table_with_its_values() -> None:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES}
    classes = user_error_classes(trees)
    assert {"BadConfig", "RunNotFound", "DataError", "NoDisplay", "UploadError", "ChildFailed"} <= classes
    strings, problems, checked = table(), [], 0
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in classes:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            first = node.args[0] if node.args else None
            forwarded = any(k.arg is None for k in node.keywords)  # DataError(exc.key, **exc.values)
            if forwarded and isinstance(first, ast.Attribute) and first.attr == "key":
                continue
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)) or len(node.args) != 1:
                problems.append(f"{where}: {name}(...) must name a translation key (a literal) and pass values by name")
                continue
            key, given = first.value, {k.arg for k in node.keywords}
            checked += 1
            if key not in strings:
                problems.append(f"{where}: no translation key {key!r}")
                continue
            for lang in LANGUAGES:
                if fields(strings[key][lang]) != given:
                    problems.append(f"{where}: {key} ({lang}) fills {sorted(fields(strings[key][lang]))}, "
                                    f"the call gives {sorted(given)}")
    assert checked > 150, checked  # the scan sees the raise sites
    assert not problems, "\n".join(problems)


def test_every_chinese_sentence_is_chinese_and_fills_the_same_fields() -> None:
    strings = table()
    # a text of three English words or more is a sentence, which must be Chinese ("KID", "L1 {l1:.4f}" may stay)
    not_chinese = [k for k, v in strings.items()
                   if len(re.findall(r"[A-Za-z]{3,}", re.sub(r"{[^}]*}|`[^`]*`", "", v["zh"]))) >= 3
                   and not CJK.search(v["zh"])]
    assert not_chinese == []
    assert [k for k, v in strings.items() if fields(v["en"]) != fields(v["zh"])] == []


def test_the_language_comes_from_lang_then_the_environment_then_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    assert language() == "en"
    monkeypatch.setenv(i18n.ENV_VAR, "zh")
    assert language() == "zh"
    set_language("en")
    try:
        assert language() == "en"
        with pytest.raises(PlaygroundError, match="must be one of en, zh, not 'fr'"):
            set_language("fr")
        assert language() == "en"
    finally:
        set_language(None)
    assert language() == "zh"


def test_a_user_error_is_put_into_words_when_shown_and_keeps_its_values_across_processes() -> None:
    error = BadConfig("jobs.child_timeout", command="rl train", seconds=3.4)
    assert str(error) == "`playground rl train` gave no answer within 3 s; try again, or run it from the command line to see why."
    assert error.sentence("zh") == "`playground rl train` 在 3 秒内没有回应；请重试，或在命令行中运行它以查看原因。"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is BadConfig and copy.values == error.values and copy.sentence("zh") == error.sentence("zh")
    # a value that is itself words is said in the same language as the sentence around it
    outer = PlaygroundError("jobs.child_said", sentence=Words("common.bad_language", lang="fr", choices="en, zh"))
    assert outer.sentence("zh") == translate("common.bad_language", "zh", lang="fr", choices="en, zh")
    with pytest.raises(KeyError, match="no translation key"):
        PlaygroundError("no.such_key")


def test_lang_works_before_and_after_the_command_and_from_the_environment(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for args in (["--lang", "zh", "runs", "show", "nope"], ["runs", "show", "nope", "--lang=zh"]):
        result = cli(*args)
        assert result.code == 2 and result.err.startswith("error: "), result
        assert CJK.search(result.err) and "nope" in result.err, result.err
        set_language(None)
        monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    monkeypatch.setenv(i18n.ENV_VAR, "zh")
    result = cli("runs", "list")
    assert result.code == 0 and CJK.search(result.out + result.err), result
    monkeypatch.setenv(i18n.ENV_VAR, "en")
    english = cli("runs", "show", "nope")
    assert english.code == 2 and not CJK.search(english.err)
    monkeypatch.setenv(i18n.ENV_VAR, "klingon")
    refused = cli("runs", "list")
    assert refused.code == 2 and "klingon" in refused.err and "Traceback" not in refused.err


def test_a_bad_value_is_refused_in_chinese_by_a_real_cli_process(home: Path) -> None:
    env = {**os.environ, "PLAYGROUND_HOME": str(home), i18n.ENV_VAR: "zh"}
    proc = subprocess.run([sys.executable, "-m", "playground", "rl", "train", "ppo", "CartPole-v1", "--set",
                           "ent_coef=inf"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    sentence = proc.stderr.strip()
    assert sentence.startswith("error: ") and CJK.search(sentence) and "ent_coef" in sentence, sentence
    assert "Traceback" not in proc.stderr


def test_a_window_the_web_app_opens_is_collected_when_it_closes() -> None:
    """The Watch page's "open a window" starts a viewer that outlives the page; when it closes, the server
    collects it (a page that opened windows all afternoon must not leave a zombie per window)."""
    from playground import jobs

    pid = jobs.open_window(["--help"])  # a short-lived child stands in for a window someone closed
    stat = Path(f"/proc/{pid}/stat")
    deadline, state = time.monotonic() + 30, "?"
    while stat.exists() and time.monotonic() < deadline:  # a zombie stays in /proc until it is collected
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.2)
    assert not stat.exists(), f"the closed window's process is still there (state {state}: Z is a zombie)"
