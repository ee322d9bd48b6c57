"""FD and KID (gans/metrics/distances.py), against closed forms and sums worked out by hand.

FD between Gaussians N(mu1, S1) and N(mu2, S2) is ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2); when the
covariances commute (diagonal, or diagonal in one shared basis) the trace term is sum_i (sqrt(a_i) - sqrt(b_i))^2
over their eigenvalues a_i, b_i. KID is the unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gans.metrics.distances import (
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
    mmd2_unbiased,
    polynomial_kernel,
    statistics,
)

ROTATION = np.array([[0.6, -0.8], [0.8, 0.6]])  # an exact rotation: 0.36 + 0.64 = 1


def test_fd_between_gaussians_with_diagonal_covariances() -> None:
    # ||(1, 2)||^2 = 5;  (sqrt 1 - sqrt 4)^2 + (sqrt 4 - sqrt 9)^2 = 1 + 1;  FD = 7.
    fd = frechet_distance_from_stats(np.zeros(2), np.diag([1.0, 4.0]), np.array([1.0, 2.0]), np.diag([4.0, 9.0]))
    assert fd == pytest.approx(7.0, abs=1e-9)


def test_fd_does_not_depend_on_the_basis_the_covariances_are_written_in() -> None:
    # The same two Gaussians, both turned by one rotation R: the covariances are no longer diagonal, FD is still 7.
    s1 = ROTATION @ np.diag([1.0, 4.0]) @ ROTATION.T
    s2 = ROTATION @ np.diag([4.0, 9.0]) @ ROTATION.T
    assert abs(s1[0, 1]) > 1  # really off-diagonal (-1.44)
    fd = frechet_distance_from_stats(np.zeros(2), s1, ROTATION @ np.array([1.0, 2.0]), s2)
    assert fd == pytest.approx(7.0, abs=1e-9)


def test_fd_with_covariances_that_do_not_commute() -> None:
    # S1 = I, S2 = [[2, 1], [1, 2]] (eigenvalues 3 and 1): Tr (S1 S2)^1/2 = sqrt 3 + 1, so
    # FD = Tr S1 + Tr S2 - 2 (sqrt 3 + 1) = 2 + 4 - 2 sqrt 3 - 2 = 4 - 2 sqrt 3 = 0.5359.
    fd = frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(2), np.array([[2.0, 1.0], [1.0, 2.0]]))
    assert fd == pytest.approx(4 - 2 * math.sqrt(3), abs=1e-9)


def test_fd_is_exact_for_singular_covariances() -> None:
    # S1 = diag(1, 0), S2 = diag(0, 1): S1^1/2 S2 S1^1/2 = 0, so FD = Tr S1 + Tr S2 = 2 (fewer images than dimensions).
    fd = frechet_distance_from_stats(np.zeros(2), np.diag([1.0, 0.0]), np.zeros(2), np.diag([0.0, 1.0]))
    assert fd == pytest.approx(2.0, abs=1e-9)


def _cross(a: float, b: float) -> np.ndarray:
    """(+-a, 0) and (0, +-b): mean 0, sample covariance (N - 1 = 3) diag(2a^2/3, 2b^2/3)."""
    return np.array([[a, 0.0], [-a, 0.0], [0.0, b], [0.0, -b]])


def test_fd_of_feature_sets_uses_their_mean_and_sample_covariance() -> None:
    x = _cross(math.sqrt(1.5), math.sqrt(6.0))  # covariance diag(1, 4)
    y = x * np.array([2.0, 1.5]) + np.array([1.0, 2.0])  # covariance diag(4, 9), mean (1, 2)
    mean, cov = statistics(y)
    np.testing.assert_allclose(mean, [1.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(cov, np.diag([4.0, 9.0]), atol=1e-12)
    # As the closed form above: 7. (With the population covariance, N = 4, it would be 6.5.)
    assert frechet_distance(x, y) == pytest.approx(7.0, abs=1e-9)
    assert frechet_distance(y, x) == pytest.approx(7.0, abs=1e-9)


def test_fd_of_a_set_with_itself_is_zero_and_a_shift_costs_its_squared_length() -> None:
    features = np.random.default_rng(0).standard_normal((50, 6))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.0, 0.0, 0.5, 0.0])  # equal covariances: only ||shift||^2 = 5.25 is left
    assert frechet_distance(features, features + shift) == pytest.approx(5.25, abs=1e-8)


def test_the_polynomial_kernel_divides_the_dot_product_by_the_dimension() -> None:
    # d = 1: (xy + 1)^3 for x in {0, 1}, y in {2, 3}: [[1, 1], [27, 64]].
    np.testing.assert_allclose(polynomial_kernel(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])),
                               [[1.0, 1.0], [27.0, 64.0]])
    # d = 2: (1, 1).(2, 0) / 2 + 1 = 2, cubed 8 (27 without the division).
    assert polynomial_kernel(np.array([[1.0, 1.0]]), np.array([[2.0, 0.0]]))[0, 0] == pytest.approx(8.0)


def test_kid_unbiased_estimate_on_tiny_sets() -> None:
    # X = {0, 1}, Y = {2, 3}, d = 1:
    #   within X (distinct pairs only): k(0, 1) = 1                  -> 1
    #   within Y: k(2, 3) = 7^3 = 343                                 -> 343
    #   across: k(0,2) + k(0,3) + k(1,2) + k(1,3) = 1 + 1 + 27 + 64 = 93, mean 23.25
    #   MMD^2 = 1 + 343 - 2 * 23.25 = 297.5
    x, y = np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(297.5, abs=1e-9)
    # Two images a side: every KID subset is both whole sets, so the mean is that number and the spread 0.
    mean, std = kernel_inception_distance(x, y, subsets=5)
    assert mean == pytest.approx(297.5, abs=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_kid_leaves_out_each_vector_paired_with_itself() -> None:
    # X = {0, 1, 2}, Y = {1, -1}, d = 1:
    #   within X: 2 * (k(0,1) + k(0,2) + k(1,2)) / (3 * 2) = 2 * (1 + 1 + 27) / 6 = 29/3
    #   within Y: k(1, -1) = 0^3 = 0
    #   across: k(0,1) + k(0,-1) + k(1,1) + k(1,-1) + k(2,1) + k(2,-1) = 1 + 1 + 8 + 0 + 27 - 1 = 36, mean 6
    #   MMD^2 = 29/3 + 0 - 12 = -7/3  (unbiased, so it may be negative; keeping k(x, x) would give 64/3 + 4 - 12)
    x, y = np.array([[0.0], [1.0], [2.0]]), np.array([[1.0], [-1.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(-7 / 3, abs=1e-9)


def test_kid_in_two_dimensions() -> None:
    # X = {(1, 1), (0, 0)}, Y = {(2, 0), (0, 2)}, d = 2:
    #   within X: (0/2 + 1)^3 = 1;  within Y: (0/2 + 1)^3 = 1
    #   across: (1,1).(2,0) = 2 -> (2/2 + 1)^3 = 8, likewise 8 with (0, 2); (0,0) gives 1 and 1: mean 18/4 = 4.5
    #   MMD^2 = 1 + 1 - 2 * 4.5 = -7
    x, y = np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 2.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(-7.0, abs=1e-9)
