"""The GAN lessons in the game: InfoGAN's code-accuracy challenge, the WGAN clipping-against-penalty comparison,
and the latent-walk badge, from the store records `gan eval` and steering write (no training needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playground import events, runs
from playground.store import file_sha256, get_store
from tests.test_game import game


def _evaluated_run(model: str, *, seed: int = 1, hyperparameters: dict[str, Any] | None = None, step: int = 1000,
                   **payload: Any) -> str:
    """A finished GAN run with a real checkpoint file and one `gan eval` of it, as the store holds them."""
    store = get_store()
    run = runs.create(kind="gan", algo=model, env="mnist-5k", game="mnist-5k", seed=seed, player="ada",
                      config={"seed": seed, "hyperparameters": hyperparameters or {}})
    runs.mark_running(run.id, store, device="cpu")
    path = runs.checkpoint_path(run, step)
    path.write_bytes(f"{run.id} weights".encode())
    store.add_artifact(run.id, "checkpoint", str(path), step=step, meta={"sha256": file_sha256(path)})
    runs.end(run.id, "finished", step, store=store)
    store.add_quality(run.id, {"metric": "FD-mnist", "fd": 40.0, "kid": 0.01, "kid_std": 0.001, "n": 1000,
                               "step": step, "checkpoint": str(path), "checkpoint_sha256": file_sha256(path),
                               "dataset": "mnist-5k", "model": model, "image_size": 32, **payload})
    return run.id


def _awarded() -> set[str]:
    return {a["challenge"] for a in game().report.awards}


def test_an_infogan_whose_code_finds_the_digits_meets_its_challenge(home: Path) -> None:
    _evaluated_run("dcgan", code_accuracy=0.9)  # another model's evaluation cannot stand in, whatever it carries
    _evaluated_run("infogan", code_accuracy=0.31)
    assert "infogan-digits" not in _awarded()
    assert game().challenge("infogan-digits", "ada")["status"] != "met"
    _evaluated_run("infogan", code_accuracy=0.74)
    assert "infogan-digits" in _awarded()
    assert game().challenge("infogan-digits", "ada")["status"] == "met"


def test_a_wgan_pair_one_constraint_apart_meets_the_comparison(home: Path) -> None:
    clipped = _evaluated_run("wgan", seed=1)
    _evaluated_run("wgan", seed=2, hyperparameters={"constraint": "gp"})  # another seed: no twin
    _evaluated_run("wgan", seed=1, hyperparameters={"constraint": "clip", "n_critic": 4})  # the same constraint
    assert "wgan-clip-vs-gp" not in _awarded()
    penalised = _evaluated_run("wgan", seed=1, hyperparameters={"constraint": "gp"}, step=1000)
    assert "wgan-clip-vs-gp" in _awarded()
    attempts = {a.run_id: a for a in game(sync=False).evidence.attempts if a.kind == "gan"}
    assert attempts[penalised].metrics["constraints_compared"] == 1.0
    assert attempts[penalised].extra["pair"]["constraints"] == ["gp", "clip"]
    assert attempts[clipped].metrics["constraints_compared"] == 1.0


def test_walking_a_latent_space_earns_the_badge_and_a_slider_alone_does_not(home: Path) -> None:
    run_id = _evaluated_run("dcgan")
    store = get_store()
    events.record(store, events.LatentSteered(run=run_id, how="codes", player="ada"))
    events.record(store, events.LatentSteered(run=run_id, how="class", player="ada"))
    assert "latent-walk" not in {a["achievement"] for a in game().report.achievements}
    events.record(store, events.LatentSteered(run=run_id, how="interpolate", player="ada"))
    earned = [a for a in game().report.achievements if a["achievement"] == "latent-walk"]
    assert [a["player"] for a in earned] == ["ada"]
