"""What a newcomer hit (issue 14): a finished run says what to do next, a long first `gan eval` shows
progress, help shows no Python types, `watch` raises no warning, and jobs that end leave no zombies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from playground import runs

ROOT = Path(__file__).resolve().parents[1]
TINY_GAN = ["--set", "ngf=8", "--set", "ndf=8", "--batch-size", "8"]


def _next_challenge() -> tuple[str, str]:
    """The title and first command of the challenge `playground profile` suggests now."""
    from playground.game.core import Game
    from playground.game.profiles import active_player

    challenge = Game(sync=False).next_challenge(active_player())
    assert challenge is not None and challenge.commands
    return challenge.title["en"], challenge.commands[0]


# -- next steps at the end of a run -----------------------------------------------------------------
def test_rl_train_and_resume_end_with_the_next_steps(cli) -> None:  # type: ignore[no-untyped-def]
    trained = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "256", "--eval-episodes", "1")
    assert trained.code == 0, trained.err
    run_id = trained.out.splitlines()[0]
    resumed = cli("rl", "resume", run_id, "--steps", "1024")
    assert resumed.code == 0, resumed.err
    title, command = _next_challenge()
    for out in (trained.out, resumed.out):
        assert f"playground watch {run_id}\n" in out and f"playground rl eval {run_id}\n" in out, out
        assert title in out and command in out, out
    as_json = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "256", "--eval-episodes", "1", "--json")
    assert "next:" not in as_json.out and json.loads("\n".join(as_json.out.splitlines()[1:]))["status"] == "finished"


def test_gan_train_ends_with_the_next_steps(cli) -> None:  # type: ignore[no-untyped-def]
    trained = cli("gan", "train", "dcgan", "digits", "--iters", "2", *TINY_GAN)
    assert trained.code == 0, trained.err
    run_id = trained.out.splitlines()[0]
    for command in (f"playground gan watch {run_id}", f"playground gan eval {run_id}", f"playground gan sample {run_id}"):
        assert command in trained.out, trained.out
    assert _next_challenge()[1] in trained.out


# -- a long first `gan eval` shows progress ---------------------------------------------------------
def test_the_feature_network_reports_progress_and_prints_nothing(
    home: Path, quick_mnist_recipe: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from gans import metrics

    reports: list[metrics.NetworkProgress] = []
    metrics.feature_network(1, progress=reports.append)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # the library leaves showing to the door
    assert reports[0].step == 0 and reports[0].total == 0  # preparing the labelled images
    steps = [r.step for r in reports if r.total]
    assert steps == list(range(len(steps))) and steps[-1] == reports[-1].total > 1
    assert {r.network for r in reports} == {"mnist"} and reports[-1].epoch == reports[-1].epochs
    reports.clear()
    metrics.feature_network(1, progress=reports.append)
    assert reports == []  # cached: nothing to wait for


def test_first_gan_eval_shows_what_it_waits_for(cli, quick_mnist_recipe: None) -> None:  # type: ignore[no-untyped-def]
    trained = cli("gan", "train", "dcgan", "digits", "--iters", "2", *TINY_GAN, "--json")
    run_id = trained.out.splitlines()[0]
    first = cli("gan", "eval", run_id, "--n", "20", "--json")
    assert first.code == 0, first.err
    assert json.loads(first.out)["metric"] == "FD-mnist"  # stdout is the JSON and nothing else
    assert "training the mnist feature network" in first.err and "once" in first.err
    for path in (Path(os.environ["PLAYGROUND_HOME"]) / "feature-nets").iterdir():  # as if it were the first time
        path.unlink()
    shown = cli("gan", "eval", run_id, "--n", "20")
    assert shown.code == 0, shown.err
    assert "training the mnist feature network" in shown.err and re.search(r"(\d+)/\1 steps", shown.err), shown.err
    again = cli("gan", "eval", run_id, "--n", "20")
    assert "feature network" not in again.err  # trained once, then reused


# -- help ----------------------------------------------------------------------------------------------
def _commands() -> list[tuple[list[str], object]]:
    import typer.main

    from playground.cli import app

    found: list[tuple[list[str], object]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_help_reads_plainly_in_80_columns(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "80")
    commands = _commands()
    assert len(commands) > 30
    for path, command in commands:
        result = cli(*path, "--help")
        text = result.out
        assert result.code == 0 and "Usage:" in text, (path, result.err)
        assert not re.search(r"<\w+(\[[^\]]*\])?>", text), (path, text)  # `--json <bool>`, `--set <list[str]>`
        usage = text[text.index("Usage:"):].split("\n\n")[0]
        assert not re.search(r"\{\w+\}", usage), (path, usage)  # `{run}` reads like a set of choices
        assert all(len(line) <= 80 for line in text.splitlines()), path
        flat = " ".join(re.sub(r"[│╭╮╰╯─*]", " ", text).split())
        for param in command.params:  # type: ignore[attr-defined]
            if getattr(param, "hidden", False):
                continue
            names = [param.metavar] if param.param_type_name == "argument" else param.opts
            for word in [*names, *(param.help or "").split()]:
                assert word in flat, (path, word)  # nothing cut


# -- watch -----------------------------------------------------------------------------------------
def test_watch_raises_no_warning(cli) -> None:  # type: ignore[no-untyped-def]
    trained = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "256", "--eval-episodes", "1", "--json")
    run_id = trained.out.splitlines()[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watched = cli("watch", run_id, "--headless", "--episodes", "1", "--max-frames", "30")
    assert watched.code == 0, watched.err
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    assert "Warning" not in watched.err, watched.err


# -- jobs that end are collected -------------------------------------------------------------------
def _state(pid: int) -> str | None:
    """The process's state letter ('Z' for a zombie), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2]


def _zombie_children() -> list[int]:
    zombies = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(stat_path.parent.name))
    return zombies


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_job_started_by_this_process_is_collected_when_it_ends(home: Path) -> None:
    from playground import jobs
    from playground.config import build_rl_config

    run = jobs.create(build_rl_config("ppo", "CartPole-v1", steps=256, eval_episodes=1))
    pid = jobs.start(run)  # as a server would: this process lives on after the job
    deadline = time.monotonic() + 240
    while _state(pid) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runs.get(run.id).status == "finished", Path(run.folder, "logs", "job.log").read_text()[-2000:]
    deadline = time.monotonic() + 20
    while _state(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _state(pid) is None, "the ended job is left a zombie"
    assert pid not in _zombie_children()


# A server that is init in its container (or a subreaper) adopts every orphan, so also the jobs that
# `launch_detached` starts through a child `playground` process, the way the web app starts them.
SERVER = """
import ctypes, json, os, sys, time
from pathlib import Path
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
from playground import jobs, runs

def state(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2]

run_id, pid = jobs.launch_detached("rl", "ppo", "CartPole-v1", ["--steps=256", "--eval-episodes=1"])
parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
deadline = time.monotonic() + 240
while state(pid) not in (None, "Z") and time.monotonic() < deadline:
    time.sleep(0.2)
deadline = time.monotonic() + 20
while state(pid) is not None and time.monotonic() < deadline:
    time.sleep(0.1)
print(json.dumps({"status": runs.get(run_id).status, "state": state(pid), "adopted": int(parent) == os.getpid()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is a Linux notion")
def test_a_job_the_web_app_starts_is_collected_under_a_server_that_adopts_it(home: Path) -> None:
    env = {**os.environ, "PLAYGROUND_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", SERVER], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["adopted"], "the job should have become the server's own child"
    assert seen["status"] == "finished" and seen["state"] is None, seen
