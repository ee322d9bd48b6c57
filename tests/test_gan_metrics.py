"""GAN quality metrics: the distances' math, the playground's own feature network on real MNIST, its
cache, and the FID Inception loading path (with weights made here: the real file is never downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import linalg

from feature_nets import ATARI_FRAMES
from gans import metrics
from gans.metrics import FIDInceptionV3, frechet_distance, kernel_inception_distance, measure
from gans.metrics.own_networks import _cache_paths
from playground.errors import CheckpointError, PlaygroundError

# ---------------------------------------------------------------------------------------------------
# Fixtures (``mnist_net_home``, ``atari_net_home``: tests/feature_nets.py copies the run's trained network
# into each test's fresh home)
# ---------------------------------------------------------------------------------------------------


Digits = tuple[torch.Tensor, np.ndarray]


@pytest.fixture(scope="module")
def mnist() -> Digits:
    """Real MNIST digits as N×1×28×28 in [-1, 1], shuffled (the set is stored sorted by digit)."""
    from gans.data import labelled_arrays

    images, labels, _ = labelled_arrays("mnist")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], np.asarray(labels)[order]


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict with the FID Inception's keys and shapes, from our own randomly initialised network."""
    path = tmp_path_factory.mktemp("inception") / "pt_inception-selfmade.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(FIDInceptionV3().state_dict(), path)
    return path


def gaussian_with_exact_moments(rng: np.random.Generator, n: int, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """n samples whose sample mean and covariance (ddof=1) are exactly ``mean`` and ``cov``."""
    z = rng.standard_normal((n, mean.size))
    z -= z.mean(axis=0)
    whiten = np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)))
    return mean + z @ whiten.T @ np.linalg.cholesky(cov).T


# ---------------------------------------------------------------------------------------------------
# Fréchet distance and KID: the math
# ---------------------------------------------------------------------------------------------------


def test_frechet_distance_of_identical_sets_is_zero_and_a_shift_adds_its_square() -> None:
    a = np.random.default_rng(0).standard_normal((300, 16))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, a + 0.5) == pytest.approx(16 * 0.25, rel=1e-9)


def test_frechet_distance_equals_the_closed_form_for_gaussians_and_is_symmetric() -> None:
    rng = np.random.default_rng(1)
    d = 6
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    m1, m2 = rng.standard_normal((d, d)), rng.standard_normal((d, d))
    s1, s2 = m1 @ m1.T + 0.5 * np.eye(d), m2 @ m2.T + 0.1 * np.eye(d)  # covariances that do not commute
    a = gaussian_with_exact_moments(rng, 2000, mu1, s1)
    b = gaussian_with_exact_moments(rng, 500, mu2, s2)
    closed = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    assert frechet_distance(a, b) == pytest.approx(closed, rel=1e-7)
    assert frechet_distance(b, a) == pytest.approx(closed, rel=1e-7)

    # Diagonal covariances: the textbook form sum((sqrt(v1) - sqrt(v2))^2) + |mu1 - mu2|^2.
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    a = gaussian_with_exact_moments(rng, 1000, np.zeros(3), np.diag(v1))
    b = gaussian_with_exact_moments(rng, 1000, np.ones(3), np.diag(v2))
    assert frechet_distance(a, b) == pytest.approx(3.0 + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2), rel=1e-7)


def test_frechet_distance_survives_singular_covariances() -> None:
    """Fewer images than dimensions (rank-deficient covariances), and dead feature dimensions."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((10, 64)), rng.standard_normal((12, 64))
    a[:, :5] = 0.0
    fd = frechet_distance(a, b)
    assert np.isfinite(fd) and fd > 0
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-7)
    assert frechet_distance(a, a + 1.0) == pytest.approx(64.0, rel=1e-6)


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((9, 4)) + 0.3

    def k(u: np.ndarray, v: np.ndarray) -> float:
        return (u @ v / 4 + 1) ** 3

    expected = (
        sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
        + sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
        - 2 * sum(k(u, v) for u in x for v in y) / (7 * 9)
    )
    assert metrics._mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-10)

    same = kernel_inception_distance(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)), subset_size=200)
    apart = kernel_inception_distance(
        rng.standard_normal((400, 8)), rng.standard_normal((400, 8)) + 1.0, subset_size=200
    )
    assert abs(same[0]) < 3 * same[1] + 1e-3  # one distribution: zero within its spread
    assert apart[0] > 20 * abs(same[0]) and apart[1] > 0
    small = kernel_inception_distance(rng.standard_normal((40, 8)), rng.standard_normal((60, 8)))
    assert small[1] > 0  # fewer images than subset_size: subsets of half still give a spread
    a, b = rng.standard_normal((100, 8)), rng.standard_normal((100, 8))
    assert kernel_inception_distance(a, b, subset_size=50, seed=5) == kernel_inception_distance(
        a, b, subset_size=50, seed=5
    )


def test_bad_inputs_get_one_sentence(mnist_net_home: Path) -> None:
    with pytest.raises(PlaygroundError, match="at least 2"):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(PlaygroundError, match="at least 2"):
        measure(torch.zeros(1, 1, 28, 28), torch.zeros(4, 1, 28, 28))
    with pytest.raises(PlaygroundError, match="same kind"):
        measure(torch.zeros(4, 1, 28, 28), torch.zeros(4, 3, 28, 28))
    with pytest.raises(PlaygroundError, match="4 channels"):
        measure(torch.zeros(4, 4, 28, 28), torch.zeros(4, 4, 28, 28))
    with pytest.raises(PlaygroundError, match="NaN"):
        measure(torch.zeros(4, 1, 28, 28), torch.full((4, 1, 28, 28), float("nan")))
    with pytest.raises(PlaygroundError, match=r"\[-1, 1\]"):
        measure(torch.zeros(4, 1, 28, 28), torch.full((4, 1, 28, 28), 255.0))


# ---------------------------------------------------------------------------------------------------
# The playground's own network, on real data
# ---------------------------------------------------------------------------------------------------


def test_real_halves_are_far_closer_than_noise_blur_or_shift(mnist_net_home: Path, mnist: Digits) -> None:
    x, _ = mnist
    real_a, real_b = x[:500], x[500:1000]
    noise = torch.rand(real_b.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    blurred = F.avg_pool2d(real_b, 5, stride=1, padding=2, count_include_pad=False)
    shifted = torch.roll(real_b, shifts=(4, 4), dims=(2, 3))

    halves = measure(real_a, real_b)
    assert halves.metric == "FD-mnist" and halves.kid_metric == "KID-mnist" and "FID" not in halves.network
    assert (halves.n_real, halves.n_fake) == (500, 500)
    assert "mnist CNN trained here (held-out accuracy 0." in halves.network

    net = metrics.feature_network(1)
    a, b = net.features(real_a), net.features(real_b)
    assert frechet_distance(a, b) == pytest.approx(halves.fd, rel=1e-6)
    fd, kid = {}, {}
    for name, images in [("noise", noise), ("blurred", blurred), ("shifted", shifted)]:
        features = net.features(images)
        fd[name], kid[name] = frechet_distance(a, features), kernel_inception_distance(a, features)[0]
        assert halves.fd < fd[name] / 5, (name, halves.fd, fd[name])
        assert halves.kid < kid[name] / 5, (name, halves.kid, kid[name])
    assert fd["noise"] > fd["blurred"]  # noise is the worst of all


def test_one_digit_class_is_far_from_all_digits(mnist_net_home: Path, mnist: Digits) -> None:
    """Mode collapse shows: real digits against only the 1s of the other half."""
    x, labels = mnist
    ones = x[500:][labels[500:] == 1][:100]
    assert measure(x[:500], ones).fd > 10 * measure(x[:500], x[500:600]).fd


def test_any_image_set_can_be_measured_gray_and_rgb_alike(mnist_net_home: Path, mnist: Digits) -> None:
    x, _ = mnist
    net = metrics.feature_network(1)
    gray = x[:64]
    as_rgb = gray.repeat(1, 3, 1, 1)
    bigger = F.interpolate(gray, size=(64, 64), mode="bilinear", align_corners=False)
    assert net.features(gray).shape == (64, 128) and net.features(gray[:1]).shape == (1, 128)
    np.testing.assert_allclose(net.features(as_rgb), net.features(gray), rtol=1e-4, atol=1e-4)
    assert net.features(bigger).shape == (64, 128)
    as_uint8 = ((gray + 1) * 127.5).round().to(torch.uint8)
    np.testing.assert_allclose(net.features(as_uint8), net.features(gray), rtol=1e-3, atol=1e-3)


def test_the_network_is_cached_and_a_damaged_cache_is_rebuilt(
    mnist_net_home: Path,
    mnist: Digits,
    quick_mnist_recipe: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, _ = mnist
    record = json.loads((mnist_net_home / "feature-nets" / "mnist.json").read_text())  # the real recipe's network
    assert record["held_out_accuracy"] >= 0.95 and record["held_out_images"] >= 500
    # The cache itself, with the network trained in a few steps (the same code path, far sooner).
    weights, record_path = _cache_paths("mnist")
    weights.unlink()
    record_path.unlink()
    real_train = metrics._train
    calls: list[str] = []

    def counting_train(recipe: metrics._Recipe, device: str, **kwargs: object) -> tuple[metrics.SmallCNN, dict]:
        calls.append(recipe.name)
        return real_train(recipe, device, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(metrics, "_train", counting_train)
    before = metrics.feature_network(1).features(x[:32])
    assert calls == ["mnist"] and weights.is_file()
    metrics.feature_network(1)
    assert calls == ["mnist"]  # cached: not trained again

    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a torn file
    net = metrics.feature_network(1)
    assert calls == ["mnist", "mnist"]
    assert torch.load(weights, weights_only=True)  # rebuilt and whole again
    # Training is deterministic: the rebuilt network measures exactly like the first one.
    np.testing.assert_allclose(net.features(x[:32]), before, rtol=1e-5, atol=1e-5)
    metrics.feature_network(1)
    assert calls == ["mnist", "mnist"]


# ---------------------------------------------------------------------------------------------------
# Real FID: the Inception path, with a state dict of the right layout made here
# ---------------------------------------------------------------------------------------------------


def test_fid_inception_has_the_standard_layout() -> None:
    net = FIDInceptionV3()
    # torchvision's inception_v3 without the auxiliary head, with 1008 classes: the FID weights' layout.
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    keys = net.state_dict()
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in keys and keys["fc.weight"].shape == (1008, 2048)


def test_inception_weights_load_and_give_fid(inception_file: Path, home: Path, mnist: Digits) -> None:
    net = metrics.feature_network(3, inception_weights=inception_file)
    assert (net.name, net.metric) == ("inception", "FID")
    reference = FIDInceptionV3()
    reference.load_state_dict(torch.load(inception_file, weights_only=True))
    reference.eval()
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    feats = net.features(images)
    assert feats.shape == (3, 2048)
    with torch.no_grad():
        expected = reference.features(F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False))
    np.testing.assert_allclose(feats, expected.numpy(), rtol=1e-4, atol=1e-5)

    x, _ = mnist  # grayscale digits are measured too (repeated to RGB)
    q = measure(x[:2], x[2:5], inception_weights=inception_file)
    assert q.metric == "FID" and q.kid_metric == "KID" and str(inception_file) in q.network
    assert (q.n_real, q.n_fake) == (2, 3) and np.isfinite(q.fd)
    assert not (home / "feature-nets").exists()  # no playground network was trained for this


def test_inception_weights_from_older_pytorch_without_batchnorm_counters_load(
    inception_file: Path, tmp_path: Path
) -> None:
    state = torch.load(inception_file, weights_only=True)
    old = tmp_path / "old.pth"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, old)
    assert metrics.feature_network(3, inception_weights=old).metric == "FID"


def test_a_wrong_inception_file_gets_one_sentence(inception_file: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights")
    small = tmp_path / "small.pth"
    torch.save(metrics.SmallCNN(1, 32, 10).state_dict(), small)
    state = torch.load(inception_file, weights_only=True)
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head, not the FID one
    imagenet = tmp_path / "imagenet.pth"
    torch.save(state, imagenet)

    cases = [
        (tmp_path / "missing.pth", "does not exist"),
        (text, "cannot be read as PyTorch weights"),
        (small, "does not match the FID Inception v3 network"),
        (imagenet, r"fc\.weight has shape \(1000, 2048\)"),
    ]
    for path, pattern in cases:
        with pytest.raises(CheckpointError, match=pattern) as err:
            metrics.feature_network(3, inception_weights=path)
        sentence = str(err.value)
        assert "\n" not in sentence and sentence.endswith(".") and str(path) in sentence
        assert "pt_inception-2015-12-05" in sentence  # says what to pass instead


def test_rgb_images_get_the_atari_network(atari_net_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3-channel images are measured with a network trained here on Atari frames (labelled by game)."""
    from gans.data import labelled_arrays

    monkeypatch.setenv("PLAYGROUND_ATARI_FRAMES", ATARI_FRAMES)  # the frames the run's network was trained on
    net = metrics.feature_network(3)
    assert (net.name, net.metric, net.kid_metric) == ("atari", "FD-atari", "KID-atari")
    assert net.record["classes"] >= 2 and (atari_net_home / "feature-nets" / "atari.pt").is_file()
    frames, labels, _ = labelled_arrays("atari")
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    real_a, real_b = x[order[:150]], x[order[150:300]]
    noise = torch.rand(real_b.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    halves = measure(real_a, real_b)
    assert halves.metric == "FD-atari" and "atari CNN trained here" in halves.network
    assert halves.fd < measure(real_a, noise).fd / 5
    one_game = x[torch.from_numpy(labels == 0)][:100]  # a generator stuck on one game
    assert halves.fd < measure(real_a, one_game).fd / 5
