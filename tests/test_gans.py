"""GANs trained for real but tiny: every model on built-in data and on folders in the three
formats, then stop, resume, sample, translate, evaluate and every way a user can get it wrong.

All tests here share one home folder (module scope), so the cached Atari frames are built once; the
feature networks of the quality metrics come trained (once per run) from tests/feature_nets.py.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground import gan_training, runs
from playground.store import get_store

TINY = ["--set", "ngf=8", "--set", "ndf=8"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One home for the module (overrides the per-test one), with few Atari frames per game."""
    path = tmp_path_factory.mktemp("gan-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(path))
        mp.delenv("PLAYGROUND_DB", raising=False)
        mp.setenv("PLAYGROUND_ATARI_FRAMES", "60")
        yield path


def _image(path: Path, size: tuple[int, int], colour: tuple[int, int, int], mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    pixels = np.clip(np.array(colour)[None, None, :] + rng.integers(-40, 40, (size[1], size[0], 3)), 0, 255)
    Image.fromarray(pixels.astype(np.uint8)).convert(mode).save(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small sets in the three formats people have on disk."""
    root = tmp_path_factory.mktemp("gan-data")
    for i in range(6):  # a plain folder with one subfolder per class
        _image(root / "classes" / "red" / f"r{i}.png", (40, 40), (200, 30, 30))
        _image(root / "classes" / "blue" / f"b{i}.jpg", (48, 40), (30, 30, 200))
    for i in range(6):  # aligned: A | B side by side
        pair = Image.new("RGB", (64, 32))
        _image(root / "tmp" / f"a{i}.png", (32, 32), (20, 20, 20), "L")
        _image(root / "tmp" / f"b{i}.png", (32, 32), (200, 120, 40))
        pair.paste(Image.open(root / "tmp" / f"a{i}.png").convert("RGB"), (0, 0))
        pair.paste(Image.open(root / "tmp" / f"b{i}.png"), (32, 0))
        (root / "aligned" / "train").mkdir(parents=True, exist_ok=True)
        pair.save(root / "aligned" / "train" / f"p{i}.png")
    for i in range(5):  # unaligned: trainA/ and trainB/
        _image(root / "unaligned" / "trainA" / f"a{i}.png", (36, 36), (240, 240, 240))
        _image(root / "unaligned" / "trainB" / f"b{i}.png", (36, 36), (10, 90, 10))
    for i in range(3):  # inputs to translate, with a nested folder
        _image(root / "inputs" / f"x{i}.png", (50, 40), (100, 100, 100))
    _image(root / "inputs" / "deeper" / "y.png", (32, 32), (100, 100, 100))
    return root


def _train(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("gan", "train", *args, "--json")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    record = json.loads("\n".join(lines[1:]))
    assert lines[0] == record["id"], "the run id is printed first"
    return record


def _assert_trained(record: dict, iters: int, metric_keys: set[str]) -> None:
    assert record["kind"] == "gan" and record["status"] == "finished", record["error"]
    assert record["step"] == iters
    assert metric_keys <= set(record["metric_keys"]), record["metric_keys"]
    store = get_store()
    samples = store.artifacts(record["id"], "samples")
    assert [a.step for a in samples][0] == 0 and samples[-1].step == iters  # from noise to the end
    for art in samples:
        with Image.open(art.path) as im:
            assert im.format == "PNG" and im.size[0] > 32
    (timelapse,) = store.artifacts(record["id"], "timelapse")
    with Image.open(timelapse.path) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(samples)
    # The newest checkpoint holds everything resume needs, and loads strictly into a fresh model.
    path = Path(record["checkpoints"][-1]["path"])
    state = gan_training.read_checkpoint(path)
    assert state["step"] == iters and set(state["rng"]) == {"torch", "cuda"} and state["fixed"]
    assert set(state["model"]) >= {"nets", "optimizers", "schedulers"}
    from playground.config import GanConfig

    model = gan_training.build_model(GanConfig.model_validate(record["config"]), state["data"], "cpu")
    gan_training.load_into(model, state, path, for_training=True)


@pytest.mark.parametrize(
    "model,data,extra,keys",
    [
        ("dcgan", "digits", ["--batch-size", "16"], {"loss/d", "loss/g", "d/real", "d/fake", "lr/G", "lr/D"}),
        ("dcgan", "atari:Pong", ["--batch-size", "8", "--set", "loss=wgan-gp", "--set", "n_critic=2"],
         {"loss/d", "loss/g", "critic/real", "critic/fake"}),
        ("cdcgan", "mnist-5k", ["--batch-size", "16"], {"loss/d", "loss/g", "d/real", "d/fake"}),
        ("cdcgan", "FOLDER/classes", ["--batch-size", "4"], {"loss/d", "d/real"}),
        ("pix2pix", "edges2atari:Pong", ["--image-size", "32", "--batch-size", "2"],
         {"loss/d", "loss/g_gan", "loss/g_l1", "d/real", "d/fake", "lr/G"}),
        ("pix2pix", "FOLDER/aligned", ["--image-size", "32", "--batch-size", "2"], {"loss/g_l1"}),
        ("cyclegan", "textures", ["--image-size", "32", "--set", "n_blocks=1"],
         {"loss/g", "loss/cycle", "loss/idt", "loss/d_a", "loss/d_b", "lr/G", "lr/D"}),
        ("cyclegan", "FOLDER/unaligned", ["--image-size", "32", "--set", "n_blocks=1", "--set", "pool_size=2"],
         {"loss/cycle", "loss/idt"}),
    ],
)
def test_each_model_trains_on_builtin_and_folder_data(cli, folders, model, data, extra, keys) -> None:  # type: ignore[no-untyped-def]
    data = data.replace("FOLDER", str(folders))
    record = _train(cli, model, data, "--iters", "4", *TINY, *extra)
    _assert_trained(record, 4, keys)
    if model == "cdcgan" and "classes" in data:
        state = gan_training.read_checkpoint(Path(record["checkpoints"][-1]["path"]))
        assert state["data"]["classes"] == ["blue", "red"]


def test_resume_continues_the_same_curves(cli) -> None:  # type: ignore[no-untyped-def]
    """4 iterations, stop, 4 more: the same losses as 8 in one go (data order and RNG are restored)."""
    straight = _train(cli, "dcgan", "digits", "--iters", "8", "--batch-size", "16", "--seed", "3", *TINY)
    halves = _train(cli, "dcgan", "digits", "--iters", "4", "--batch-size", "16", "--seed", "3", *TINY)
    result = cli("gan", "resume", halves["id"], "--iters", "8", "--json")
    assert result.code == 0, result.err
    resumed = json.loads("\n".join(result.out.splitlines()[1:]))
    assert resumed["status"] == "finished" and resumed["step"] == 8
    store = get_store()
    a = store.metrics(straight["id"], "loss/d")
    b = store.metrics(resumed["id"], "loss/d")
    assert [r[0] for r in b] == list(range(1, 9)), "one point per iteration, none twice"
    np.testing.assert_allclose([r[3] for r in a], [r[3] for r in b], rtol=1e-4)
    assert [a.step for a in store.artifacts(resumed["id"], "samples")][-1] == 8


def test_stop_from_another_door_then_resume(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import playground_process

    proc = playground_process("gan", "train", "dcgan", "digits", "--iters", "100000", "--batch-size", "8", *TINY,
                              home=home)
    run_id = proc.stdout.readline().strip()
    deadline = time.monotonic() + 120
    while runs.get(run_id).step < 3:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.3)
    runs.request_stop(run_id)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    stopped = runs.get(run_id)
    assert stopped.status == "stopped"
    assert runs.checkpoints(stopped)[-1][0] == stopped.step
    result = cli("gan", "resume", run_id, "--iters", str(stopped.step + 3), "--json")
    assert result.code == 0, result.err
    assert runs.get(run_id).status == "finished" and runs.get(run_id).step == stopped.step + 3


def test_background_job_trains_a_gan(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("gan", "train", "dcgan", "digits", "--iters", "3", "--batch-size", "8", *TINY, "--detach")
    assert result.code == 0, result.err
    run_id = result.out.strip()
    deadline = time.monotonic() + 120
    while runs.get(run_id).status not in ("finished", "failed"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.3)
    assert runs.get(run_id).status == "finished", runs.get(run_id).error


def test_sample_grids(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _train(cli, "cdcgan", "digits", "--iters", "2", "--batch-size", "8", *TINY)
    out = tmp_path / "grid.png"
    result = cli("gan", "sample", run["id"], "--n", "20", "--out", str(out))
    assert result.code == 0, result.err
    with Image.open(out) as im:  # 10 columns (one per class) of 32px tiles with 2px borders
        assert im.size == (10 * 34 + 2, 2 * 34 + 2)
    result = cli("gan", "sample", run["id"], "--n", "4", "--label", "7", "--out", str(tmp_path / "sevens.png"))
    assert result.code == 0 and (tmp_path / "sevens.png").is_file()
    result = cli("gan", "sample", run["id"], "--label", "cat")
    assert result.code == 2 and "unknown label 'cat'" in result.err


def test_translate_writes_one_output_per_input(cli, folders: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inputs = sorted(p.relative_to(folders / "inputs") for p in (folders / "inputs").rglob("*.png"))
    p2p = _train(cli, "pix2pix", str(folders / "aligned"), "--iters", "2", "--image-size", "32", *TINY)
    cyc = _train(cli, "cyclegan", str(folders / "unaligned"), "--iters", "2", "--image-size", "32", "--set",
                 "n_blocks=1", *TINY)
    for run_id, direction in ((p2p["id"], "AtoB"), (cyc["id"], "AtoB"), (cyc["id"], "BtoA")):
        out = tmp_path / f"{run_id}-{direction}"
        result = cli("gan", "translate", run_id, str(folders / "inputs"), str(out), "--direction", direction)
        assert result.code == 0, result.err
        written = sorted(p.relative_to(out) for p in out.rglob("*.png"))
        assert written == inputs
        with Image.open(out / "x0.png") as im:
            assert im.size == (32, 32) and im.mode == "RGB"
    refused = cli("gan", "translate", p2p["id"], str(folders / "inputs"), str(tmp_path / "x"), "--direction", "BtoA")
    assert refused.code == 2 and "trained AtoB" in refused.err
    # Trained the other way (colour → edges): by default it translates the way it learned, B's channels in.
    back = _train(cli, "pix2pix", "edges2atari:Pong", "--iters", "2", "--image-size", "32", "--set",
                  "direction=BtoA", *TINY)
    result = cli("gan", "translate", back["id"], str(folders / "inputs"), str(tmp_path / "edges"))
    assert result.code == 0, result.err
    with Image.open(tmp_path / "edges" / "x0.png") as im:
        assert im.size == (32, 32) and im.mode == "L", "edges have one channel"
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = cli("gan", "translate", cyc["id"], str(empty), str(tmp_path / "y"))
    assert refused.code == 2 and "holds no images" in refused.err


def _dcgan_measured_twice(cli, iters: int) -> tuple[str, dict, dict]:  # type: ignore[no-untyped-def]
    """A small DCGAN on MNIST measured at iteration 2, then resumed to ``iters`` and measured again."""
    run = _train(cli, "dcgan", "mnist-5k", "--iters", "2", "--batch-size", "64", "--set", "ngf=16", "--set", "ndf=16")
    first = cli("gan", "eval", run["id"], "--n", "300", "--json")
    assert first.code == 0, first.err
    assert cli("gan", "resume", run["id"], "--iters", str(iters), "--json").code == 0
    later = cli("gan", "eval", run["id"], "--n", "300", "--json")
    assert later.code == 0, later.err
    return run["id"], json.loads(first.out), json.loads(later.out)


def test_each_measure_of_a_gan_is_stored_kept_and_shown(cli, mnist_net_home: Path) -> None:  # type: ignore[no-untyped-def]
    run_id, early, later = _dcgan_measured_twice(cli, 6)
    assert early["metric"] == "FD-mnist" and early["step"] == 2 and len(early["checkpoint_sha256"]) == 64
    assert later["step"] == 6 and later["fd"] > 0 and math.isfinite(later["kid"])
    stored = get_store().evaluations(run_id, played=False)  # one evaluations table for games and images
    assert [(e.step, e.measure, e.n_episodes) for e in stored] == [(2, "FD-mnist", 300), (6, "FD-mnist", 300)]
    assert get_store().evaluations(run_id, played=True) == []
    # A measured checkpoint is kept (it is evidence), though newer ones came after it.
    assert Path(early["checkpoint"]).is_file()
    shown = json.loads(cli("runs", "show", run_id, "--json").out)
    assert shown["last_quality"]["fd"] == later["fd"] and len(shown["quality"]) == 2


@pytest.mark.slow
def test_quality_falls_as_a_dcgan_trains(cli, mnist_net_home: Path) -> None:  # type: ignore[no-untyped-def]
    _, early, later = _dcgan_measured_twice(cli, 250)
    # Measured here: FD-mnist 1,685 at iteration 2, 1,318 at 200, 1,182 at 300 (ngf 16, batch 64).
    assert later["fd"] < 0.85 * early["fd"], (early["fd"], later["fd"])
    assert later["kid"] < early["kid"], (early["kid"], later["kid"])


def test_translation_models_report_their_own_measures(  # type: ignore[no-untyped-def]
    cli, mnist_net_home: Path, atari_net_home: Path
) -> None:
    p2p = _train(cli, "pix2pix", "gray2color:Pong", "--iters", "2", "--image-size", "32", *TINY)
    result = json.loads(cli("gan", "eval", p2p["id"], "--n", "20", "--json").out)
    assert result["metric"] == "FD-atari" and result["psnr"] > 0 and 0 <= result["l1"] <= 2
    cyc = _train(cli, "cyclegan", "textures", "--iters", "2", "--image-size", "32", "--set", "n_blocks=1", *TINY)
    result = json.loads(cli("gan", "eval", cyc["id"], "--n", "20", "--json").out)
    assert result["metric"] == "FD-mnist" and 0 <= result["cycle_l1"] <= 2


def test_runs_commands_list_gan_runs_beside_rl_runs(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    for seed in ("1", "2"):
        _train(cli, "dcgan", "digits", "--iters", "2", "--batch-size", "8", "--seed", seed, *TINY)
    listed = json.loads(cli("runs", "list", "--kind", "gan", "--json").out)
    assert len(listed) >= 2 and all(r["kind"] == "gan" for r in listed)
    shown = cli("runs", "show", listed[0]["id"])
    assert shown.code == 0 and "px, batch" in shown.out
    out = Path(str(home)) / "gans.png"
    compared = cli("runs", "compare", listed[0]["id"], listed[1]["id"], "--out", str(out))
    assert compared.code == 0 and out.stat().st_size > 1000, compared.err
    assert cli("gan", "datasets").code == 0
    presets = cli("gan", "presets")
    assert presets.code == 0 and "pix2pix" in presets.out and "cyclegan" in presets.out


@pytest.mark.parametrize(
    "args,words",
    [
        (["gan", "train", "stylegan", "digits"], "unknown GAN model 'stylegan'"),
        (["gan", "train", "cdcgan", "atari:Pong"], "has no labels"),
        (["gan", "train", "dcgan", "digits", "--image-size", "48"], "32x32 or 64x64"),
        (["gan", "train", "pix2pix", "edges2atari:Pong", "--image-size", "48"], "power of two"),
        (["gan", "train", "cyclegan", "textures", "--image-size", "30"], "multiple of 4"),
        (["gan", "train", "cyclegan", "digits"], "digits"),
        (["gan", "train", "dcgan", "digits", "--epochs", "1", "--iters", "5"], "not both"),
        (["gan", "train", "dcgan", "digits", "--set", "ngf=-1"], "'ngf'"),
        (["gan", "train", "dcgan", "digits", "--set", "colour=1"], "unknown hyperparameter 'colour'"),
        (["gan", "train", "dcgan", "/no/such/folder"], "/no/such/folder"),
        (["gan", "train", "dcgan", "digits", "--preset", "huge"], "unknown preset 'huge'"),
        (["gan", "sample", "no-such-run"], "no-such-run"),
    ],
)
def test_bad_input_is_one_sentence(cli, args: list[str], words: str) -> None:  # type: ignore[no-untyped-def]
    before = len(get_store().find_runs())
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and words in result.err, result.err
    assert "Traceback" not in result.err
    assert len(get_store().find_runs()) == before, "a refused command creates no run"


def test_damaged_checkpoint_and_wrong_kind_of_run(cli) -> None:  # type: ignore[no-untyped-def]
    run = _train(cli, "dcgan", "digits", "--iters", "2", "--batch-size", "8", *TINY)
    path = Path(run["checkpoints"][-1]["path"])
    path.write_bytes(path.read_bytes()[:500])
    result = cli("gan", "resume", run["id"], "--iters", "4")
    assert result.code == 2 and "cannot be read" in result.err
    assert runs.get(run["id"]).status == "finished", "a refused resume changes nothing"
    result = cli("gan", "sample", run["id"])
    assert result.code == 2 and "cannot be read" in result.err
    rl = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "64", "--set", "n_steps=32", "--set", "batch_size=32",
             "--envs", "2", "--json")
    rl_id = rl.out.splitlines()[0]
    for args in (["gan", "resume", rl_id], ["gan", "eval", rl_id], ["gan", "sample", rl_id]):
        result = cli(*args)
        assert result.code == 2 and "rl run" in result.err.lower(), result.err
    result = cli("rl", "resume", run["id"])
    assert result.code == 2 and "gan run" in result.err.lower()


def test_checkpoints_hold_plain_tensors_only(cli) -> None:  # type: ignore[no-untyped-def]
    """No pickled objects: the file loads with weights_only=True (read_checkpoint insists)."""
    run = _train(cli, "cyclegan", "textures", "--iters", "2", "--image-size", "32", "--set", "n_blocks=1", *TINY)
    state = torch.load(run["checkpoints"][-1]["path"], weights_only=True)
    assert state["format"] == "playground-gan" and state["model"]["extra"]["pool_a"].shape[0] == 2
