"""Order of accuracy on nonuniform grids: polynomial exactness and observed convergence.

Truths: exact derivatives of polynomials and smooth functions, and the
least-squares slope of log(error) against log(h) over several refinements of
a smoothly stretched grid (a fixed smooth map of a uniform grid, so every
local step shrinks like 1/N).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import observed_order, stretched, stretched_periodic
from hypothesis import given, settings
from hypothesis import strategies as st

import xgradient


def f(x, k):
    return np.sin(k * x + 0.5) + np.exp(-x)


def df(x, k):
    return k * np.cos(k * x + 0.5) - np.exp(-x)


def grid_sine_map(n):
    """Second stretched grid on [0, 2]: x = s + 0.3 sin(s), s uniform (steps vary by 1.3/0.7)."""
    s = np.linspace(0.0, 2.0, n)
    return s + 0.3 * np.sin(s)


# grid -> (map from n to points, wavenumber of the test function). The
# wavenumber keeps k*h in the asymptotic range over 40..320 points and the
# errors above round-off; the one-sided 7-point ends have large constants.
GRIDS = {
    "tanh": (lambda n: stretched(n, 0.0, 2.0, strength=1.0), 10.0),
    "sine": (grid_sine_map, 3.0),
}
NS = (40, 80, 160, 320)

# (accuracy, edge_order) -> (interior order, boundary order)
EXPECTED = {
    (2, 1): (2, 1),
    (2, 2): (2, 2),
    (4, 1): (4, 4),
    (6, 1): (6, 6),
}

def errors(grid, accuracy, edge_order, decreasing=False):
    hs, interior, boundary = [], [], []
    h = accuracy // 2
    grid, k = grid
    for n in NS:
        x = grid(n)
        if decreasing:
            x = x[::-1].copy()
        out = xgradient.gradient(f(x, k), x, edge_order=edge_order, accuracy=accuracy)
        err = np.abs(out - df(x, k))
        hs.append(np.abs(np.diff(x)).max())
        interior.append(err[h:-h].max())
        boundary.append(max(err[:h].max(), err[-h:].max()))
    return hs, interior, boundary


@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("accuracy,edge_order", sorted(EXPECTED))
def test_observed_order_interior_and_boundary(grid, accuracy, edge_order):
    p_interior, p_boundary = EXPECTED[accuracy, edge_order]
    hs, interior, boundary = errors(GRIDS[grid], accuracy, edge_order)
    assert abs(observed_order(hs, interior) - p_interior) < 0.3, interior
    assert abs(observed_order(hs, boundary) - p_boundary) < 0.3, boundary


@pytest.mark.parametrize("accuracy", [4, 6])
def test_observed_order_decreasing_grid(accuracy):
    hs, interior, boundary = errors(GRIDS["tanh"], accuracy, 1, decreasing=True)
    assert abs(observed_order(hs, interior) - accuracy) < 0.3
    assert abs(observed_order(hs, boundary) - accuracy) < 0.3


@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("decreasing", [False, True])
def test_periodic_converges_at_interior_order_everywhere(accuracy, decreasing):
    hs, errs = [], []
    for n in (20, 40, 80, 160):
        x = stretched_periodic(n, period=2 * np.pi, wiggle=0.3)
        if decreasing:
            x = x[::-1].copy()
        g = np.sin(x) + 0.5 * np.cos(2 * x)
        exact = np.cos(x) - np.sin(2 * x)
        out = xgradient.gradient(g, x, accuracy=accuracy, periodic=2 * np.pi)
        hs.append(np.abs(np.diff(x)).max())
        errs.append(np.abs(out - exact).max())  # ends included
    assert abs(observed_order(hs, errs) - accuracy) < 0.3, errs


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_periodic_degrees_with_period_360(accuracy):
    hs, errs = [], []
    for n in (24, 48, 96, 192):
        lon = stretched_periodic(n, period=360.0, wiggle=0.3) - 180.0
        g = np.cos(np.deg2rad(lon)) ** 2
        exact = -np.sin(2 * np.deg2rad(lon)) * np.deg2rad(1.0)
        out = xgradient.gradient(g, lon, accuracy=accuracy, periodic=True)
        hs.append(np.diff(lon).max())
        errs.append(np.abs(out - exact).max())
    assert abs(observed_order(hs, errs) - accuracy) < 0.3, errs


# ---------------------------------------------------------------------------
# Polynomial exactness on random nonuniform nodes


@settings(max_examples=60, deadline=None)
@given(
    accuracy=st.sampled_from([2, 4, 6]),
    edge_order=st.sampled_from([1, 2]),
    n=st.integers(7, 30),
    seed=st.integers(0, 2**32 - 1),
    decreasing=st.booleans(),
)
def test_exact_for_polynomials_up_to_accuracy(accuracy, edge_order, n, seed, decreasing):
    rng = np.random.default_rng(seed)
    # Distinct nodes on [-1, 1], no gap smaller than a tenth of the mean gap.
    gaps = rng.uniform(0.1, 1.0, n - 1)
    x = np.concatenate([[0.0], np.cumsum(gaps)])
    x = 2 * x / x[-1] - 1
    if decreasing:
        x = x[::-1].copy()
    coeffs = rng.standard_normal(accuracy + 1)
    values = np.polyval(coeffs, x)
    exact = np.polyval(np.polyder(coeffs), x)
    out = xgradient.gradient(values, x, edge_order=edge_order, accuracy=accuracy)
    tol = 1e-9 * (np.abs(coeffs).sum() * accuracy + 1)
    if accuracy == 2:
        # Interior three-point rows: exact for degree 2; the ends for degree edge_order.
        np.testing.assert_allclose(out[1:-1], exact[1:-1], rtol=0, atol=tol)
        low = np.polyval(coeffs[-(edge_order + 1) :], x)
        low_exact = np.polyval(np.polyder(coeffs[-(edge_order + 1) :]), x)
        out_low = xgradient.gradient(low, x, edge_order=edge_order)
        np.testing.assert_allclose(out_low, low_exact, rtol=0, atol=tol)
    else:
        np.testing.assert_allclose(out, exact, rtol=0, atol=tol)


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_not_exact_one_degree_higher(accuracy):
    """The stencils are no wider than promised: degree accuracy+1 is not reproduced."""
    rng = np.random.default_rng(accuracy)
    x = np.sort(rng.uniform(-1, 1, 20))
    values = x ** (accuracy + 1)
    out = xgradient.gradient(values, x, accuracy=accuracy, edge_order=2)
    exact = (accuracy + 1) * x**accuracy
    assert np.abs(out - exact)[accuracy:-accuracy].max() > 1e-6


@pytest.mark.parametrize("accuracy", [4, 6])
def test_edge_order_ignored_for_higher_accuracy(accuracy):
    rng = np.random.default_rng(accuracy)
    x = np.sort(rng.uniform(0, 10, 15))
    values = rng.standard_normal((3, 15))
    np.testing.assert_array_equal(
        xgradient.gradient(values, x, accuracy=accuracy, edge_order=1, axis=-1),
        xgradient.gradient(values, x, accuracy=accuracy, edge_order=2, axis=-1),
    )


@pytest.mark.parametrize("accuracy", [4, 6])
def test_minimum_points_for_higher_accuracy(accuracy):
    """accuracy+1 points: one stencil covers all, exact for degree accuracy."""
    x = np.array([0.0, 0.3, 1.0, 1.2, 2.5, 2.6, 4.0])[: accuracy + 1]
    coeffs = np.arange(1.0, accuracy + 2)
    out = xgradient.gradient(np.polyval(coeffs, x), x, accuracy=accuracy)
    np.testing.assert_allclose(out, np.polyval(np.polyder(coeffs), x), rtol=1e-9, atol=1e-9)
