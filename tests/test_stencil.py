"""Stencil weights: Fornberg's algorithm against textbook values and polynomials.

Truths used: the classical finite-difference tables (Fornberg 1988, Table 1;
any numerical-analysis textbook), exact derivatives of polynomials, and
numpy.gradient's closed three-point formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xgradient.stencil import build_stencil, fornberg_weights

# Textbook first-derivative weights on unit-spaced nodes.
CENTRAL = {
    2: ([-1, 0, 1], [-1 / 2, 0, 1 / 2]),
    4: ([-2, -1, 0, 1, 2], [1 / 12, -2 / 3, 0, 2 / 3, -1 / 12]),
    6: ([-3, -2, -1, 0, 1, 2, 3], [-1 / 60, 3 / 20, -3 / 4, 0, 3 / 4, -3 / 20, 1 / 60]),
    8: (
        [-4, -3, -2, -1, 0, 1, 2, 3, 4],
        [1 / 280, -4 / 105, 1 / 5, -4 / 5, 0, 4 / 5, -1 / 5, 4 / 105, -1 / 280],
    ),
}
FORWARD = {
    1: ([0, 1], [-1, 1]),
    2: ([0, 1, 2], [-3 / 2, 2, -1 / 2]),
    3: ([0, 1, 2, 3], [-11 / 6, 3, -3 / 2, 1 / 3]),
    4: ([0, 1, 2, 3, 4], [-25 / 12, 4, -3, 4 / 3, -1 / 4]),
    6: ([0, 1, 2, 3, 4, 5, 6], [-49 / 20, 6, -15 / 2, 20 / 3, -15 / 4, 6 / 5, -1 / 6]),
}
# Fourth-order stencil one point in from the end: nodes -1..3 (textbook).
SHIFTED_4 = ([-1, 0, 1, 2, 3], [-1 / 4, -5 / 6, 3 / 2, -1 / 2, 1 / 12])


@pytest.mark.parametrize("order", sorted(CENTRAL))
def test_fornberg_central_uniform(order):
    nodes, expected = CENTRAL[order]
    w = fornberg_weights(np.array([nodes], dtype=float))
    assert w.shape == (1, len(nodes))
    np.testing.assert_allclose(w[0], expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("order", sorted(FORWARD))
def test_fornberg_one_sided_uniform(order):
    nodes, expected = FORWARD[order]
    forward = fornberg_weights(np.array([nodes], dtype=float))[0]
    np.testing.assert_allclose(forward, expected, rtol=1e-13, atol=1e-14)
    # Backward stencil: nodes mirrored, weights mirrored and negated.
    backward = fornberg_weights(-np.array([nodes], dtype=float))[0]
    np.testing.assert_allclose(backward, -np.asarray(expected), rtol=1e-13, atol=1e-14)


def test_fornberg_off_centre_fourth_order():
    nodes, expected = SHIFTED_4
    w = fornberg_weights(np.array([nodes], dtype=float))[0]
    np.testing.assert_allclose(w, expected, rtol=1e-13, atol=1e-14)


def test_fornberg_second_derivative_and_interpolation():
    # Second derivative [1, -2, 1] and the fourth-order [-1/12, 4/3, -5/2, 4/3, -1/12].
    np.testing.assert_allclose(
        fornberg_weights(np.array([[-1.0, 0.0, 1.0]]), order=2)[0], [1, -2, 1], atol=1e-14
    )
    np.testing.assert_allclose(
        fornberg_weights(np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]]), order=2)[0],
        [-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12],
        rtol=1e-13,
        atol=1e-14,
    )
    # Order 0 is interpolation: the midpoint of two nodes takes half of each;
    # the cubic midpoint rule is [-1, 9, 9, -1] / 16.
    np.testing.assert_allclose(fornberg_weights(np.array([[-0.5, 0.5]]), order=0)[0], [0.5, 0.5])
    np.testing.assert_allclose(
        fornberg_weights(np.array([[-1.5, -0.5, 0.5, 1.5]]), order=0)[0],
        np.array([-1, 9, 9, -1]) / 16,
        rtol=1e-14,
    )


def test_fornberg_scales_with_spacing():
    nodes, expected = CENTRAL[4]
    h = 0.37
    w = fornberg_weights(h * np.array([nodes], dtype=float))[0]
    np.testing.assert_allclose(w, np.asarray(expected) / h, rtol=1e-13, atol=1e-13)


def test_fornberg_many_rows_at_once():
    # Rows are independent: a batch equals the rows one by one.
    rng = np.random.default_rng(3)
    offsets = np.sort(rng.uniform(-2, 2, (7, 5)), axis=1)
    batch = fornberg_weights(offsets)
    for row, off in zip(batch, offsets):
        np.testing.assert_array_equal(row, fornberg_weights(off[None, :])[0])


@settings(max_examples=80, deadline=None)
@given(
    K=st.integers(2, 7),
    seed=st.integers(0, 2**32 - 1),
    where=st.sampled_from(["node", "between", "outside"]),
)
def test_fornberg_polynomial_exactness_random_nodes(K, seed, where):
    """Weights on K arbitrary nodes differentiate every polynomial of degree < K exactly."""
    rng = np.random.default_rng(seed)
    # Distinct nodes, gaps at least 0.05 apart on a unit scale.
    gaps = rng.uniform(0.05, 1.0, K)
    nodes = np.cumsum(gaps)
    nodes = (nodes - nodes.mean()) / np.ptp(nodes) if K > 1 else nodes
    x0 = {
        "node": nodes[rng.integers(K)],
        "between": rng.uniform(nodes[0], nodes[-1]),
        "outside": nodes[-1] + 0.1,
    }[where]
    w = fornberg_weights((nodes - x0)[None, :])[0]
    scale = np.abs(w).sum()
    for p in range(K):
        got = w @ (nodes**p)
        exact = p * x0 ** (p - 1) if p > 0 else 0.0
        assert abs(got - exact) <= 1e-11 * max(scale, 1.0), (p, got, exact)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 40), seed=st.integers(0, 2**32 - 1), decreasing=st.booleans())
def test_three_point_closed_form_equals_fornberg(n, seed, decreasing):
    """accuracy=2 rows (numpy's closed forms) equal Fornberg on the same three nodes."""
    rng = np.random.default_rng(seed)
    # Neighbouring steps differ by factors up to ~20; much wilder grids make
    # both formulas lose digits to cancellation, each its own way.
    x = np.cumsum(np.exp(rng.normal(0.0, 0.5, n)))
    if decreasing:
        x = x[::-1].copy()
    s = build_stencil(x, edge_order=2, accuracy=2)
    assert s.weights.shape == (n, 3)
    nodes = s.start[:, None] + np.arange(3)
    assert nodes.min() == 0 and nodes.max() == n - 1
    ref = fornberg_weights(x[nodes] - x[:, None])
    scale = np.abs(ref).max(axis=1, keepdims=True)
    err = np.abs(s.weights - ref) / scale
    assert err.max() <= 1e-13, err.max()
    # The rows are the interior of each three nodes except at the two ends.
    np.testing.assert_array_equal(s.start[1:-1], np.arange(n - 2))
    assert s.start[0] == 0 and s.start[-1] == n - 3


@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_build_stencil_rows_are_exact_for_polynomials(accuracy, edge_order):
    """Each row differentiates x**p exactly up to the degree it promises."""
    rng = np.random.default_rng(accuracy * 10 + edge_order)
    n = 17
    x = np.sort(rng.uniform(-1, 1, n))
    s = build_stencil(x, edge_order=edge_order, accuracy=accuracy)
    h = accuracy // 2
    assert s.halo == h and s.period is None
    w = np.nan_to_num(s.weights)  # NaN marks unused slots
    nodes = np.clip(s.start[:, None] + np.arange(s.width), 0, n - 1)
    end_degree = edge_order if accuracy == 2 else accuracy
    for p in range(accuracy + 1):
        got = (w * x[nodes] ** p).sum(axis=1)
        exact = p * x ** (p - 1) if p else np.zeros(n)
        tol = 1e-9 * np.abs(w).sum(axis=1)
        rows = np.arange(n)
        # Rows with a one-sided end rule promise less only for accuracy=2.
        check = (rows >= h) & (rows < n - h) if p > end_degree else np.ones(n, bool)
        assert np.all(np.abs(got - exact)[check] <= tol[check]), (p, got - exact)


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_periodic_stencil_wraps_with_the_period(accuracy):
    rng = np.random.default_rng(accuracy)
    n = 12
    x = np.sort(rng.uniform(0, 360, n))
    s = build_stencil(x, accuracy=accuracy, period=360.0)
    h = accuracy // 2
    assert s.period == 360.0 and s.width == accuracy + 1
    # Extended coordinate: h points from the end shifted down by one period, etc.
    ext = np.concatenate([x[-h:] - 360.0, x, x[:h] + 360.0])
    for i in range(n):
        nodes = ext[i : i + accuracy + 1]
        expected = fornberg_weights((nodes - x[i])[None, :])[0]
        np.testing.assert_allclose(s.weights[i], expected, rtol=1e-12, atol=1e-15 * np.abs(expected).max())
        np.testing.assert_array_equal(s.start[i] + np.arange(accuracy + 1), np.arange(i - h, i + h + 1))


def test_periodic_decreasing_coordinate_matches_reversed():
    """A decreasing periodic coordinate gives the same derivative as the increasing one."""
    rng = np.random.default_rng(11)
    x = np.sort(rng.uniform(-180, 180, 15))
    f = np.sin(np.deg2rad(x)) + rng.normal(0, 0.01, x.size)
    from xgradient import gradient

    up = gradient(f, x, periodic=True, accuracy=4)
    down = gradient(f[::-1], x[::-1], periodic=True, accuracy=4)
    np.testing.assert_allclose(down[::-1], up, rtol=1e-12, atol=1e-14)


def test_factorial_sanity_of_central_sixth_order():
    # Independent derivation of the 6th-order central weights: solve the
    # Vandermonde system sum_j w_j j**p = delta_{p1} for p = 0..6.
    j = np.arange(-3, 4, dtype=float)
    V = np.vander(j, 7, increasing=True).T
    rhs = np.zeros(7)
    rhs[1] = math.factorial(1)
    solved = np.linalg.solve(V, rhs)
    np.testing.assert_allclose(fornberg_weights(j[None, :])[0], solved, rtol=1e-12, atol=1e-14)
