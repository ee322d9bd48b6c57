"""The Wasserstein GAN (gans/wgan.py): weight clipping that acts, the critic's Wasserstein estimate, the
generator's step every n_critic iterations, the gradient-penalty preset on the same networks, the paper's
warning about Adam, and short real runs through the CLI that resume loss for loss."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gans import presets
from gans.wgan import WGAN
from playground import gan_training
from playground.store import get_store

TINY = ["--set", "ngf=8", "--set", "ndf=8"]
BATCH = 8


def _model(seed: int = 0, **hp: object) -> WGAN:
    torch.manual_seed(seed)
    return WGAN(WGAN.check_hyperparameters({"ngf": 8, "ndf": 8, "nz": 16, **hp}), image_size=32, channels=1)


def _batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(BATCH, 1, 32, 32, generator=g) * 2 - 1, torch.zeros(BATCH, dtype=torch.long)


def _params(net: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def test_every_critic_weight_is_clamped_after_a_step() -> None:
    model = _model(lr_d=0.05)  # clip 0.01, the paper's
    weights = torch.cat([p.flatten() for p in _params(model.D)])
    assert (weights.abs() > 0.01).float().mean() > 0.5, "N(0, 0.02) conv and N(1, 0.02) norm weights start outside"
    out = model.train_step(_batch())
    after = torch.cat([p.detach().flatten() for p in model.D.parameters()])
    assert after.abs().max().item() <= 0.01
    norm_scales = [m.weight for m in model.D.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norm_scales and all(torch.all(w == 0.01) for w in norm_scales), "scales near 1 are clamped to +clip"
    assert out["critic/clipped_fraction"] == pytest.approx((after.abs() >= 0.01).float().mean().item())

    # A tiny clip: RMSProp's first step moves each weight by about lr, far more than 1e-4, so nearly all sit at ±clip.
    tiny = _model(clip=1e-4)
    out = tiny.train_step(_batch())
    after = torch.cat([p.detach().flatten() for p in tiny.D.parameters()])
    assert after.abs().max().item() <= 1e-4
    assert out["critic/clipped_fraction"] > 0.95
    assert tiny.G.main[0].weight.abs().max().item() > 1e-3, "the generator is never clipped"


def test_the_wasserstein_estimate_is_mean_critic_real_minus_fake() -> None:
    model = _model()
    before = copy.deepcopy(model)
    real, labels = _batch()
    torch.manual_seed(7)
    out = model.train_step((real, labels))
    # The same z the step drew, through the networks as they were before the step (train mode, batch statistics).
    torch.manual_seed(7)
    z = torch.randn(BATCH, 16)
    with torch.no_grad():
        d_real = before.D(real).mean().item()
        d_fake = before.D(before.G(z)).mean().item()
    assert abs(d_real - d_fake) > 1e-3, "the untrained critic already tells these apart"
    assert out["critic/real"] == pytest.approx(d_real, rel=1e-4, abs=1e-6)
    assert out["critic/fake"] == pytest.approx(d_fake, rel=1e-4, abs=1e-6)
    assert out["critic/wasserstein"] == pytest.approx(d_real - d_fake, rel=1e-4, abs=1e-6)
    assert out["loss/d"] == pytest.approx(-(d_real - d_fake), rel=1e-4, abs=1e-6), "with clipping: -estimate"


def test_the_generator_steps_once_every_n_critic_iterations() -> None:
    model = _model(n_critic=3)
    start_g = _params(model.G)
    outs = []
    for i in range(1, 7):
        prev_g, prev_d = _params(model.G), _params(model.D)
        outs.append(model.train_step(_batch(i)))
        g_moved = any(not torch.equal(a, b) for a, b in zip(prev_g, model.G.parameters()))
        d_moved = any(not torch.equal(a, b) for a, b in zip(prev_d, model.D.parameters()))
        assert d_moved, f"the critic steps every iteration (iteration {i})"
        assert g_moved == (i % 3 == 0), f"G moved at iteration {i}"
        assert ("loss/g" in outs[-1]) == (i % 3 == 0)
    assert model.extra_state() == {"iteration": 6}
    assert not all(torch.equal(a, b) for a, b in zip(start_g, model.G.parameters()))


def test_the_gp_preset_penalises_instead_of_clipping() -> None:
    gp = presets.pick("wgan", "gp")
    default = presets.pick("wgan")
    assert (gp.image_size, gp.batch_size) == (default.image_size, default.batch_size) == (32, 64)
    model = _model(**gp.hyperparameters)
    assert model.hp.constraint == "gp" and model.hp.gp_lambda == 10 and model.hp.n_critic == 5
    opt = model.optimizers["D"]
    assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]["lr"] == 1e-4
    assert opt.param_groups[0]["betas"] == (0.0, 0.9)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.D.modules()), "no BatchNorm in a penalised critic"
    assert isinstance(_model().optimizers["D"], torch.optim.RMSprop)
    assert any(isinstance(m, nn.BatchNorm2d) for m in _model().D.modules()), "the clipped critic keeps DCGAN's"

    out = model.train_step(_batch())
    after = torch.cat([p.detach().flatten() for p in model.D.parameters()])
    assert (after.abs() > 0.01).sum().item() > 100, "no clamp: weights stay outside ±0.01"
    assert "critic/clipped_fraction" not in out
    assert out["critic/penalty"] > 0
    assert out["loss/d"] == pytest.approx(-out["critic/wasserstein"] + 10 * out["critic/penalty"], rel=1e-4)


def test_a_clip_that_is_not_positive_is_refused_in_one_sentence(cli) -> None:  # type: ignore[no-untyped-def]
    for value in ("0", "-0.01"):
        result = cli("gan", "train", "wgan", "digits", "--set", f"clip={value}")
        assert result.code == 2, result.err
        assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
        assert "'clip'" in result.err and "greater than 0" in result.err and "Traceback" not in result.err
    assert get_store().find_runs() == [], "a refused command creates no run"


def test_adam_with_clipping_gets_the_papers_warning_in_both_languages() -> None:
    hp = WGAN.check_hyperparameters({"optimizer": "adam", "beta1": 0.5})
    (warning,) = WGAN.warnings(hp)
    en, zh = warning.render("en"), warning.render("zh")
    assert "adam" in en and "unstable" in en and "optimizer=rmsprop" in en and "0.5" in en
    assert "不稳定" in zh and "optimizer=rmsprop" in zh and "0.5" in zh
    assert WGAN.warnings(WGAN.check_hyperparameters({})) == []
    assert WGAN.warnings(WGAN.check_hyperparameters(presets.pick("wgan", "gp").hyperparameters)) == []


def _train(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("gan", "train", *args, "--json")
    assert result.code == 0, result.err
    return json.loads("\n".join(result.out.splitlines()[1:]))


def test_short_runs_train_and_resume_loss_for_loss(cli) -> None:  # type: ignore[no-untyped-def]
    """24 iterations in one go, and 12 then a resume to 24: the same curves, and the generator's
    steps (every 5th iteration) land on the same iterations because the counter is restored."""
    common = ["digits", "--batch-size", "16", "--seed", "3", *TINY]
    straight = _train(cli, "wgan", *common, "--iters", "24")
    assert straight["status"] == "finished" and straight["step"] == 24, straight["error"]
    keys = {"loss/d", "loss/g", "critic/real", "critic/fake", "critic/wasserstein", "critic/clipped_fraction"}
    assert keys <= set(straight["metric_keys"])
    state = gan_training.read_checkpoint(Path(straight["checkpoints"][-1]["path"]))
    assert state["model"]["extra"] == {"iteration": 24}
    critic = {name: w for name, w in state["model"]["nets"]["D"].items()
              if "running" not in name and "batches" not in name}  # parameters, not BatchNorm's statistics
    assert len(critic) >= 5 and max(w.abs().max().item() for w in critic.values()) == pytest.approx(0.01), \
        "every saved critic weight within ±clip, some at it"

    halves = _train(cli, "wgan", *common, "--iters", "12")
    result = cli("gan", "resume", halves["id"], "--iters", "24", "--json")
    assert result.code == 0, result.err
    store = get_store()
    for key in ("loss/d", "critic/wasserstein", "loss/g"):
        a, b = store.metrics(straight["id"], key), store.metrics(halves["id"], key)
        assert [r[0] for r in a] == [r[0] for r in b], key
        np.testing.assert_allclose([r[3] for r in a], [r[3] for r in b], rtol=1e-4, err_msg=key)
    assert [r[0] for r in store.metrics(straight["id"], "loss/g")] == [5, 10, 15, 20]

    gp = _train(cli, "wgan", *common, "--iters", "3", "--preset", "gp")
    assert gp["status"] == "finished" and gp["config"]["hyperparameters"]["constraint"] == "gp"
    assert {"critic/penalty", "critic/wasserstein"} <= set(gp["metric_keys"])
    assert "critic/clipped_fraction" not in gp["metric_keys"]


def test_the_cli_warns_about_adam_with_clipping_and_trains_all_the_same(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("gan", "train", "wgan", "digits", "--batch-size", "4", *TINY, "--iters", "1", "--set", "optimizer=adam",
                 "--json")
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "unstable" in warnings[0] and "optimizer=rmsprop" in warnings[0], result.err
    assert json.loads("\n".join(result.out.splitlines()[1:]))["status"] == "finished"
    quiet = cli("gan", "train", "wgan", "digits", "--batch-size", "4", *TINY, "--iters", "1", "--json")
    assert quiet.code == 0 and "warning:" not in quiet.err, quiet.err
