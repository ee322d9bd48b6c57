"""InfoGAN: the information loss and the code-accuracy matching against numbers worked out by hand,
the codes a UI sets, the settings a user can get wrong, a short real run whose categorical code
learns the digit, and resume on the same curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gans.infogan import InfoGAN, mutual_information_loss
from gans.metrics.code_accuracy import best_matching, count_matrix
from playground import gan_training
from playground.store import get_store

SMALL = ["--set", "width=8"]


def _train(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("gan", "train", *args, "--json")
    assert result.code == 0, result.err
    return json.loads("\n".join(result.out.splitlines()[1:]))


# -- the information loss ----------------------------------------------------------------------------------
def test_mutual_information_loss_is_the_cross_entropy_plus_the_gaussian_nll_weighted() -> None:
    # A 3-way code: logits (0, 0, 0) for value 0 → log 3; (2, 0, 0) for value 1 → log(e² + 2).
    # A 2-way code: (1, -1) for value 0 → log(1 + e⁻²); (0, 0) for value 1 → log 2. Each averaged over the batch.
    logits = [torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), torch.tensor([[1.0, -1.0], [0.0, 0.0]])]
    categorical = torch.tensor([[0, 0], [1, 1]])
    cat = (math.log(3) + math.log(math.e**2 + 2)) / 2 + (math.log(1 + math.e**-2) + math.log(2)) / 2
    # Two continuous codes, sigma 1: each image has one miss of 0.5 and one exact guess, so per image
    # 0.5 · 0.5² + 2 · 0.5 log 2π.
    mean = torch.tensor([[0.5, 0.0], [0.0, -1.0]])
    continuous = torch.tensor([[1.0, 0.0], [0.5, -1.0]])
    cont = 0.5 * 0.25 + math.log(2 * math.pi)
    assert cat == pytest.approx(2.079116, abs=1e-6) and cont == pytest.approx(1.962877, abs=1e-6)

    loss = mutual_information_loss(logits, categorical, mean, continuous, lambda_cat=1.0, lambda_cont=0.1)
    assert loss.categorical.item() == pytest.approx(cat, rel=1e-6)
    assert loss.continuous.item() == pytest.approx(cont, rel=1e-6)
    assert loss.total.item() == pytest.approx(cat + 0.1 * cont, rel=1e-6)  # 2.275404
    # A learned sigma of 2 (log-std log 2): the miss counts a quarter as much, and each code pays log 2.
    wide = mutual_information_loss(logits, categorical, mean, continuous, lambda_cat=0.5, lambda_cont=2.0,
                                   log_std=torch.full((2, 2), math.log(2)))
    wide_cont = 0.5 * 0.25 / 4 + 2 * math.log(2) + math.log(2 * math.pi)
    assert wide.continuous.item() == pytest.approx(wide_cont, rel=1e-6)
    assert wide.total.item() == pytest.approx(0.5 * cat + 2.0 * wide_cont, rel=1e-6)
    # Only one kind of code: the other term is 0.
    only_cont = mutual_information_loss([], None, mean, continuous, lambda_cat=1.0, lambda_cont=1.0)
    assert only_cont.categorical.item() == 0 and only_cont.total.item() == pytest.approx(cont, rel=1e-6)


# -- code accuracy: the best one-to-one matching -------------------------------------------------------------
def test_count_matrix_counts_each_code_value_against_each_prediction() -> None:
    counts = count_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([3, 3, 0, 1, 1, 2]), 3, 4)
    assert counts.tolist() == [[0, 0, 0, 2], [1, 0, 0, 0], [0, 2, 1, 0]]


def test_a_code_that_is_a_relabelled_digit_scores_one() -> None:
    digit_of = [(3 * v + 7) % 10 for v in range(10)]  # value 0 draws sevens, 1 draws zeros, …
    counts = np.zeros((10, 10), dtype=np.int64)
    counts[np.arange(10), digit_of] = 50
    matching = best_matching(counts)
    assert matching.accuracy == 1.0 and list(matching.pairs) == digit_of


def test_the_matching_is_one_to_one_and_finds_the_best_total() -> None:
    # Each row's own best (5, 4, 6 = 15 of 21) uses digit 0 twice. One to one, the best is
    # value 0 → 1, value 1 → 0, value 2 → 2: 3 + 4 + 6 = 13 (then 11 for 0 → 0, 1 → 1, 2 → 2).
    matching = best_matching(np.array([[5, 3, 0], [4, 0, 1], [0, 2, 6]]))
    assert matching.pairs == (1, 0, 2) and matching.accuracy == pytest.approx(13 / 21)
    # Fewer values than digits: each value still gets its own digit.
    assert best_matching(np.array([[1, 7, 2], [0, 6, 4]])).accuracy == pytest.approx(11 / 20)
    # More values than digits: one value is left without a digit, and its images count as wrong.
    more = best_matching(np.array([[3, 1], [2, 2], [0, 4]]))
    assert more.pairs == (0, -1, 1) and more.accuracy == pytest.approx(7 / 12)
    # A code that ignores the digit: every value sees the same mix, and any matching gets a tenth.
    assert best_matching(np.tile(np.arange(1, 11), (10, 1))).accuracy == pytest.approx(0.1)


# -- the codes a UI sets, and the sample grid ----------------------------------------------------------------
def test_the_grid_has_one_column_per_code_value_and_codes_can_be_set_by_hand() -> None:
    torch.manual_seed(0)
    model = InfoGAN(InfoGAN.check_hyperparameters({"width": 8}), image_size=32, channels=1, total_iters=1)
    fixed = model.fixed_inputs(None, 25, torch.Generator().manual_seed(0))
    images, columns = model.render(fixed)
    assert images.shape == (25, 1, 32, 32) and columns == 10
    assert fixed["codes"][:, 0].tolist() == [v % 10 for v in range(25)]  # the digit code runs along each row
    assert torch.equal(fixed["z"][0], fixed["z"][9]) and not torch.equal(fixed["z"][9], fixed["z"][10])
    z = torch.randn(3, 62)
    by_hand = model.generate_with(z, [4], [0.5, -1.0])
    assert torch.equal(by_hand, model.generate(z, torch.tensor([[4.0, 0.5, -1.0]] * 3)))
    assert not torch.allclose(by_hand, model.generate_with(z, [5], [0.5, -1.0]))  # the code reaches the image
    assert model.generate_with(torch.randn(62), [4], [0.0, 0.0]).shape == (1, 1, 32, 32)
    with pytest.raises(ValueError, match="0 to 9"):
        model.generate_with(z, [10], [0.0, 0.0])
    with pytest.raises(ValueError, match="1 categorical and 2 continuous"):
        model.generate_with(z, [4], [0.0])


# -- settings a user can get wrong ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sets,words",
    [
        (["--set", "categorical=[]", "--set", "continuous=0"], "needs at least one latent code"),
        (["--set", "categorical=[1]"], "categorical code 0 of infogan has 1 value(s)"),
        (["--set", "categorical=[10, 1]"], "categorical code 1 of infogan has 1 value(s)"),
        (["--image-size", "64"], "28x28 (the paper's) or 32x32"),
        (["--set", "continuous=-1"], "'continuous'"),
    ],
)
def test_bad_settings_are_one_sentence(cli, sets: list[str], words: str) -> None:  # type: ignore[no-untyped-def]
    before = len(get_store().find_runs())
    result = cli("gan", "train", "infogan", "digits", *sets)
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and words in result.err, result.err
    assert "Traceback" not in result.err and result.err.count(". ") == 0, "one sentence"
    assert len(get_store().find_runs()) == before


# -- training ----------------------------------------------------------------------------------------------------
def test_resume_continues_the_same_curves(cli) -> None:  # type: ignore[no-untyped-def]
    """4 iterations, stop, 4 more: the same losses as 8 in one go (data order, RNG and the codes' draws)."""
    args = ("infogan", "digits", "--batch-size", "16", "--seed", "3", *SMALL)
    straight = _train(cli, *args, "--iters", "8")
    halves = _train(cli, *args, "--iters", "4")
    result = cli("gan", "resume", halves["id"], "--iters", "8", "--json")
    assert result.code == 0, result.err
    resumed = json.loads("\n".join(result.out.splitlines()[1:]))
    assert resumed["status"] == "finished" and resumed["step"] == 8
    store = get_store()
    for key in ("loss/d", "loss/g", "loss/info", "info/categorical_ce", "info/continuous_nll"):
        a, b = store.metrics(straight["id"], key), store.metrics(resumed["id"], key)
        assert [r[0] for r in b] == list(range(1, 9)), key
        np.testing.assert_allclose([r[3] for r in a], [r[3] for r in b], rtol=1e-5, err_msg=key)
    state = gan_training.read_checkpoint(Path(resumed["checkpoints"][-1]["path"]))
    assert state["model"]["extra"]["iteration"] == 8 and set(state["fixed"]) == {"z", "codes"}


@pytest.mark.slow
def test_the_categorical_code_learns_the_digit(cli, mnist_net_home: Path) -> None:  # type: ignore[no-untyped-def]
    """600 iterations at half width on MNIST, then ``gan eval``: the 10-way code is read as the digit well
    above chance (1/10), with no label ever shown to the model."""
    run = _train(cli, "infogan", "mnist-5k", "--iters", "600", "--batch-size", "64", "--seed", "0",
                 "--set", "width=32", "--sample-every", "600", "--checkpoint-every", "600")
    assert run["status"] == "finished" and {"loss/info", "info/mi_categorical"} <= set(run["metric_keys"])
    result = cli("gan", "eval", run["id"], "--n", "500", "--json")
    assert result.code == 0, result.err
    quality = json.loads(result.out)
    assert quality["metric"] == "FD-mnist" and quality["code_per_value"] == 50
    assert sorted(quality["code_matching"]) == list(range(10)), "one digit per code value"
    assert quality["code_chance"] == pytest.approx(0.1) and quality["code_classifier_accuracy"] > 0.9
    # Measured here (seed 0, CPU; two runs gave the same numbers to the last digit): code accuracy 0.10 at
    # 300 and 400 iterations (FD-mnist 989 and 937: blobs that all read as one digit), then 0.636 at 500,
    # 0.614 at 600, 0.644 at 700 (FD-mnist 469, 203, 89). Other trajectories (other thread counts) took
    # off between 250 and 450 iterations; 600 leaves room for that, and the bar for the accuracy. With the fused
    # Adam (gans/networks.py::adam, other float rounding): 0.634 at 600 (FD-mnist 63).
    assert quality["code_accuracy"] > 0.35, quality
    stored = get_store().metrics(run["id"], "eval/code_accuracy")
    assert [(r[0], r[3]) for r in stored] == [(600, quality["code_accuracy"])]
