"""The two distances between clouds of feature vectors: Fréchet distance and KID. Pure numpy math.

Neither knows where the features come from; ``gans.metrics`` names each number after its network.
Both shrink as more images are measured, so only compare numbers taken on equal counts.
"""

from __future__ import annotations

import numpy as np

from playground.errors import PlaygroundError

def _check_features(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    for x in (a, b):
        if x.ndim != 2:
            raise PlaygroundError("gans.features_not_2d", shape=x.shape)
        if x.shape[0] < 2:
            raise PlaygroundError("gans.features_too_few", count=x.shape[0])
        if not np.isfinite(x).all():
            raise PlaygroundError("gans.features_not_finite")
    if a.shape[1] != b.shape[1]:
        raise PlaygroundError("gans.features_differ", a=a.shape[1], b=b.shape[1])
    return a, b


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of N×D features: all that FD needs, so real-data stats can be kept."""
    x = np.asarray(features, dtype=np.float64)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix; rounding's tiny negative eigenvalues become 0."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½): the Fréchet (2-Wasserstein) distance of two Gaussians.

    Tr((S1 S2)^½) is computed as the sum of the square roots of the eigenvalues of the symmetric
    matrix S1^½ S2 S1^½, which has the same eigenvalues as S1 S2. Unlike ``scipy.linalg.sqrtm`` of the
    non-symmetric product, this never yields complex parts and stays exact for singular
    (rank-deficient) covariances, such as fewer images than feature dimensions; no eps offset is needed.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise PlaygroundError("gans.statistics_differ")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    fd = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)
    # The true value is >= 0; what is left below zero is rounding (identical sets give about -1e-12).
    return max(fd, 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between two sets of feature vectors (N×D and M×D)."""
    a, b = _check_features(a, b)
    return frechet_distance_from_stats(*statistics(a), *statistics(b))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's kernel k(u, v) = (u·v/d + 1)³ between every row of ``x`` (M×D) and of ``y`` (N×D): M×N.

    Dividing by the dimension d keeps the kernel's scale the same for 128-d and 2048-d features."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimate of the squared MMD between the sets ``x`` and ``y`` with ``polynomial_kernel``:
    the mean of k over pairs of distinct rows within each set, minus twice the mean over cross pairs.

    Leaving out each row's k with itself is what makes it unbiased (and lets it dip below zero)."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2.0 * k_xy.mean())


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, *, subsets: int = 20, subset_size: int = 500, seed: int = 0
) -> tuple[float, float]:
    """KID: the unbiased MMD² with the kernel k(x, y) = (x·y/d + 1)³, as mean and std over random subsets.

    Each subset draws ``subset_size`` vectors without replacement from each side; when a side has no
    more than that, subsets take half of the smaller side instead, so that the std still measures
    something (subsets of everything would all be equal). The estimate is unbiased at any subset
    size, so it can dip slightly below zero when both sets come from one distribution. The name is
    the literature's; the features need not come from Inception (see ``measure``).
    """
    a, b = _check_features(a, b)
    if subsets < 1 or subset_size < 2:
        raise PlaygroundError("gans.kid_subsets")
    smaller = min(a.shape[0], b.shape[0])
    m = subset_size if smaller > subset_size else max(2, smaller // 2)
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(a[rng.choice(a.shape[0], m, replace=False)], b[rng.choice(b.shape[0], m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


kid = kernel_inception_distance
