"""The doors that must not load the engine: every web page (as Streamlit's AppTest renders it, each in
a fresh interpreter) and the CLI's quick commands leave torch, stable-baselines3 and ale-py unloaded,
even when the agent form refuses a bad value and when it starts a real job (the job, a process of
its own, may load them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground import runs
from playground.store import get_store

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "playground" / "ui" / "pages").glob("*.py"))
ENGINE = ("torch", "stable_baselines3", "ale_py")
CHILD_TIMEOUT_S = 600

# Runs in a fresh interpreter: renders one page (then does what ACTIONS names) and prints, as its last
# line, what the page showed and which engine modules the interpreter had loaded by then.
PAGE_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest

page, action = sys.argv[1], sys.argv[2]
app = AppTest.from_file(page, default_timeout=300).run()
shown = []

def look(step):
    shown.append({"step": step, "exceptions": [e.value for e in app.exception], "errors": [e.value for e in app.error],
                  "run": app.session_state["train_agent.run"] if "train_agent.run" in app.session_state else None})

look("open")
if action == "agent-form":
    app.selectbox(key="train_agent.algo").set_value("ppo").run()
    knob = app.text_input(key="train_agent.hp.ppo.cartpole.batch_size")
    tuned = knob.value
    knob.set_value("lots")
    app.number_input(key="train_agent.steps.ppo.cartpole").set_value(1000)
    next(b for b in app.button if b.label == "Start training").click().run()
    look("bad value")
    app.text_input(key="train_agent.hp.ppo.cartpole.batch_size").set_value(tuned)
    next(b for b in app.button if b.label == "Start training").click().run()
    look("good value")
elif action == "gan-form":
    app.number_input(key="train_gan.size.dcgan.default").set_value(48)
    next(b for b in app.button if b.label == "Start training").click().run()
    look("bad value")
print(json.dumps({"shown": shown, "loaded": [m for m in ENGINE if m in sys.modules]}))
""".replace("ENGINE", repr(ENGINE))

# Runs ``playground ARGS`` as the console script does and says which engine modules it loaded.
CLI_SCRIPT = """
import atexit, json, runpy, sys
atexit.register(lambda: sys.stderr.write("LOADED " + json.dumps([m for m in ENGINE if m in sys.modules]) + "\\n"))
sys.argv = ["playground", *sys.argv[1:]]
runpy.run_module("playground", run_name="__main__")
""".replace("ENGINE", repr(ENGINE))


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PLAYGROUND_HOME": str(home), "PLAYGROUND_PLAYER": "ada", "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy", "MPLBACKEND": "Agg"}


def render(page: Path, home: Path, action: str = "open") -> dict:
    proc = subprocess.run([sys.executable, "-c", PAGE_SCRIPT, str(page), action], cwd=ROOT, env=_env(home),
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("page", [ROOT / "streamlit_app.py", *PAGES], ids=lambda p: p.stem)
def test_every_page_renders_without_the_engine(home: Path, page: Path) -> None:
    result = render(page, home)
    [opened] = result["shown"]
    assert opened["exceptions"] == [] and opened["errors"] == []
    assert result["loaded"] == []


def test_the_agent_form_refuses_and_starts_without_the_engine(home: Path) -> None:
    result = render(ROOT / "playground/ui/pages/train_agent.py", home, "agent-form")
    assert result["loaded"] == []
    opened, bad, good = result["shown"]
    assert opened["exceptions"] == bad["exceptions"] == good["exceptions"] == []
    [sentence] = bad["errors"]
    assert "batch_size" in sentence and "\n" not in sentence
    assert bad["run"] is None
    assert good["errors"] == [] and good["run"] == "ppo-CartPole-1"
    [run] = get_store().find_runs()  # the refused value created nothing
    assert run.id == good["run"] and run.total_steps == 1000
    deadline = time.monotonic() + 180
    while runs.get(run.id).status not in ("finished", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert runs.get(run.id).status == "finished"  # the job (its own process) trained


def test_the_gan_form_refuses_without_the_engine(home: Path) -> None:
    result = render(ROOT / "playground/ui/pages/train_gan.py", home, "gan-form")
    assert result["loaded"] == []
    [_opened, bad] = result["shown"]
    assert bad["exceptions"] == [] and len(bad["errors"]) == 1
    assert get_store().find_runs() == []


@pytest.mark.parametrize("args", [["--help"], ["runs", "list"], ["profile"]], ids=" ".join)
def test_the_quick_commands_start_without_the_engine(home: Path, args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", CLI_SCRIPT, *args], cwd=ROOT, env=_env(home), capture_output=True,
                          text=True, timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert json.loads(line.removeprefix("LOADED ")) == []


def test_atari_ids_resolve_and_list_without_ale_py(home: Path) -> None:
    """The Atari ids and specs come from the files ale-py ships, and say what ale-py's own registration says."""
    script = ("import json, sys\nfrom playground import envs\n"
              "pong, legacy = envs.resolve('ALE/Pong-v5'), envs.resolve('PongNoFrameskip-v4')\n"
              "print(json.dumps({'specs': [[s.rom, s.game, s.repeat_action_probability] for s in (pong, legacy)],\n"
              "                  'atari': envs.list_ids(atari_only=True), 'all': envs.list_ids(),\n"
              f"                  'loaded': [m for m in {ENGINE!r} if m in sys.modules]}}))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(home), capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    light = json.loads(proc.stdout)
    assert light["loaded"] == []
    assert light["specs"] == [["pong", "Pong", 0.25], ["pong", "Pong", 0.0]]

    import ale_py
    import gymnasium as gym

    from playground.envs import specs

    gym.register_envs(ale_py)
    assert light["all"] == sorted(gym.registry)  # the same ids as with ale-py imported
    assert light["atari"] == sorted(i for i in gym.registry if i.startswith("ALE/") and i.endswith("-v5"))
    assert len(light["atari"]) > 100
    assert specs.ale_ids() == specs._ale_ids_from_registry()  # each id's ROM and sticky actions too
