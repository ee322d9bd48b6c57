"""scripts/gpu_check.sh, the script that proves the CUDA paths the first day a GPU is at hand (issue 20).

On this CPU-only machine: it says in one sentence that the CUDA checks are skipped and exits 0; ``--list`` names a
check for every algorithm and GAN model the registries hold (a model added without one fails here); the CPU mode
runs one RL and one GAN check end to end, tiny; and, with a stand-in ``playground``, a failed step neither stops
the others nor lets the script exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
SKIP_SENTENCE = ("No CUDA device is available (torch.cuda.is_available() is False), "
                 "so the CUDA checks are skipped.")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the script's own variables; its temporary folders under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPU_CHECK_")}
    env.pop("PLAYGROUND_DB", None)
    env["TMPDIR"] = str(tmp_path)
    env.update(extra)
    return env


def _script(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=timeout)


def _listed(out: str) -> dict[str, dict[str, str]]:
    """``--list`` as {check: {step: command}}; a skipped check has no steps."""
    checks: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in out.splitlines():
        header = re.match(r"^(\S+)  -- ", line)
        step = re.match(r"^ {4}(\S+) +(.+)$", line)
        if header:
            current = checks.setdefault(header.group(1), {})
        elif step:
            current[step.group(1)] = step.group(2)
    return checks


def _table(out: str, device: str) -> dict[tuple[str, str], str]:
    """The final table as {(check, step): result}."""
    marker = f"gpu_check results on {device}:"
    assert marker in out, out
    rows: dict[tuple[str, str], str] = {}
    for line in out.split(marker, 1)[1].splitlines():
        cells = line.split()
        if len(cells) >= 4 and cells[2] in ("ok", "failed", "not-run", "skipped"):
            rows[(cells[0], cells[1])] = cells[2]
    return rows


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here: the script would run every check")
@pytest.mark.timeout(60)
def test_without_cuda_it_says_so_in_one_sentence_and_exits_0(tmp_path: Path) -> None:
    for args in ((), ("--device", "cuda"), ("--only", "ppo")):
        started = time.monotonic()
        result = _script(*args, env=_env(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == SKIP_SENTENCE
        assert result.stderr == ""
        assert time.monotonic() - started < 20, "one question to PyTorch, nothing heavy"
    assert list(tmp_path.iterdir()) == [], "no work folder, no home: nothing ran"


@pytest.mark.timeout(60)
def test_list_names_every_algorithm_and_gan_model_of_the_registries(tmp_path: Path) -> None:
    import agents
    import gans
    from agents.tabular import TABULAR_AGENTS

    result = _script("--list", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    checks = _listed(result.stdout)
    tabular = {cls.name for cls in TABULAR_AGENTS}
    trained_algos = {re.match(r"playground rl train (\S+)", steps["train"]).group(1)  # type: ignore[union-attr]
                     for steps in checks.values() if steps.get("train", "").startswith("playground rl train")}
    trained_models = {re.match(r"playground gan train (\S+)", steps["train"]).group(1)  # type: ignore[union-attr]
                      for steps in checks.values() if steps.get("train", "").startswith("playground gan train")}
    for algo in agents.names():
        if algo in tabular:  # CPU-only: a line that says so
            assert re.search(rf"^{re.escape(algo)}  -- skipped, tabular", result.stdout, re.MULTILINE), algo
        else:
            assert algo in trained_algos, f"no check trains {algo}"
    assert set(gans.names()) <= trained_models, f"no check trains {set(gans.names()) - trained_models}"
    assert trained_algos <= set(agents.names()) and trained_models <= set(gans.names())

    for name, steps in checks.items():
        if "train" not in steps:
            continue
        train = steps["train"]
        assert "--device cuda" in train and steps["eval"].endswith("--device cuda"), name
        if train.startswith("playground rl train"):
            assert list(steps) == ["train", "resume", "eval", "watch"], name
            assert " ALE/Pong-v5 " in train, "the RL image path is the one that matters on a GPU"
            assert steps["resume"].startswith(f"playground rl resume gpu-check-{name} --steps ")
            assert steps["eval"].startswith(f"playground rl eval gpu-check-{name} ")
            assert steps["watch"].startswith(f"playground watch gpu-check-{name} --headless ")
        else:
            assert list(steps) == ["train", "resume", "eval", "sample", "watch"], name
            assert steps["resume"].startswith(f"playground gan resume gpu-check-{name} --iters ")
            assert steps["watch"].startswith(f"playground gan watch gpu-check-{name} --headless ")
    rainbow = "playground rl train dqn ALE/Pong-v5 --device cuda --preset rainbow "
    assert checks["dqn-rainbow"]["train"].startswith(rainbow)
    assert checks["bench"]["bench"].startswith("playground bench all --quick --device cuda")

    cpu = _listed(_script("--list", "--device", "cpu", "--only", "ppo,dcgan", env=_env(tmp_path)).stdout)
    assert list(cpu) == ["ppo", "dcgan"]
    assert cpu["ppo"]["train"].startswith("playground rl train ppo CartPole-v1 --device cpu ")
    assert "--device cpu" in cpu["dcgan"]["train"]
    assert list(tmp_path.iterdir()) == [], "--list runs nothing"

    unknown = _script("--only", "ppo,stylegan", env=_env(tmp_path))
    assert unknown.returncode == 2 and "unknown check 'stylegan'" in unknown.stderr


@pytest.mark.timeout(300)
def test_cpu_mode_runs_an_rl_and_a_gan_check_end_to_end(home: Path, tmp_path: Path, quick_mnist_recipe: None) -> None:
    """PPO on CartPole and DCGAN on digits, each trained, resumed, evaluated and watched headless (about 45 s
    on 2 idle cores: every step is a fresh `playground` process). The mnist feature network that `gan eval`
    measures with is made ahead, quickly (``quick_mnist_recipe``), in the home the script is given; on a GPU the
    script trains it in full."""
    from gans import metrics

    metrics.feature_network(1)

    result = _script("--device", "cpu", "--only", "coverage,ppo,dcgan,qlearning", "--home", str(home),
                     env=_env(tmp_path), timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _table(result.stdout, "cpu")
    assert rows == {
        ("coverage", "registries"): "ok",
        **{("ppo", step): "ok" for step in ("train", "resume", "eval", "watch")},
        **{("dcgan", step): "ok" for step in ("train", "resume", "eval", "sample", "watch")},
        ("qlearning", "-"): "skipped",
    }, result.stdout
    assert re.search(r"^total +\d+\.\d", result.stdout.split("gpu_check results on cpu:")[1], re.MULTILINE)

    [work] = tmp_path.glob("gpu-check.*")
    for made in ("videos/gpu-check-ppo.mp4", "videos/gpu-check-dcgan.mp4", "samples/gpu-check-dcgan.png"):
        assert (work / made).stat().st_size > 0, made
    from playground import runs

    ppo, dcgan = runs.get("gpu-check-ppo"), runs.get("gpu-check-dcgan")  # in the home it was given
    assert (ppo.status, ppo.step, ppo.config["device"], ppo.config["env"]) == ("finished", 128, "cpu", "CartPole-v1")
    assert (dcgan.status, dcgan.step, dcgan.config["device"]) == ("finished", 4, "cpu")


STUB = """#!/usr/bin/env bash
echo "$PLAYGROUND_HOME | $*" >> "$STUB_CALLS"
if [ "$1 $2" = "rl train" ] && [ -n "${STUB_FAIL_TRAIN:-}" ]; then echo "error: it broke" >&2; exit 2; fi
echo '  "status": "finished",'
"""


@pytest.mark.timeout(60)
def test_a_failure_does_not_stop_the_other_checks_and_fails_the_script(tmp_path: Path) -> None:
    stub = tmp_path / "bin" / "playground"
    stub.parent.mkdir()
    stub.write_text(STUB)
    stub.chmod(0o755)
    calls = tmp_path / "calls.txt"
    work_root = tmp_path / "tmp"
    work_root.mkdir()
    env = _env(work_root, GPU_CHECK_PLAYGROUND=str(stub), STUB_CALLS=str(calls), STUB_FAIL_TRAIN="1")

    failed = _script("--device", "cpu", "--only", "ppo,dcgan,qlearning", env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert _table(failed.stdout, "cpu") == {
        ("ppo", "train"): "failed",
        **{("ppo", step): "not-run" for step in ("resume", "eval", "watch")},
        **{("dcgan", step): "ok" for step in ("train", "resume", "eval", "sample", "watch")},
        ("qlearning", "-"): "skipped",
    }, failed.stdout
    assert "error: it broke" in failed.stdout  # the failed step's log, shown where it failed
    lines = calls.read_text().splitlines()
    assert [line.split(" | ")[1].split()[:2] for line in lines] == [["rl", "train"]] + [["gan", verb] for verb in (
        "train", "resume", "eval", "sample", "watch")]
    [work] = work_root.glob("gpu-check.*")
    assert {line.split(" | ")[0] for line in lines} == {str(work / "home")}, "a throwaway home, never the user's"
    assert (work / "home").is_dir() and (work / "logs" / "ppo-train.log").is_file(), "kept: something failed"

    calls.unlink()
    env.pop("STUB_FAIL_TRAIN")
    passed = _script("--device", "cpu", "--only", "ppo", env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert set(_table(passed.stdout, "cpu").values()) == {"ok"}
    [second] = set(work_root.glob("gpu-check.*")) - {work}
    assert not (second / "home").exists(), "the throwaway home goes once every check passed"
    assert (second / "logs" / "ppo-watch.log").is_file()
