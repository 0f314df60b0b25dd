"""xgradient.check: gradient and Hessian consistency checks."""

import pathlib
import re

import dask.array
import numpy as np
import pytest
import xarray as xr
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xgradient.check import (
    check_gradient,
    check_gradient_field,
    check_hessian,
    check_hessian_field,
)

# Powell's function (NAG's e04hd example); values worked by hand at X.
X = np.array([1.46, -0.82, 0.57, 1.21])
G_AT_X = np.array([-12.855, -164.918144, 53.836288, 5.775])
H_AT_X = np.array(
    [
        [9.5, 20.0, 0.0, -7.5],
        [20.0, 246.0992, -92.1984, 0.0],
        [0.0, -92.1984, 194.3968, -10.0],
        [-7.5, 0.0, -10.0, 17.5],
    ]
)
BIG = 246.0992
ENTRIES = [(i, j) for i in range(4) for j in range(i + 1)]
SCALE = np.array([1e-3, 1.0, 1e3, 1.0])


def powell_f(x):
    return (x[0] + 10 * x[1]) ** 2 + 5 * (x[2] - x[3]) ** 2 + (x[1] - 2 * x[2]) ** 4 + 10 * (x[0] - x[3]) ** 4


def powell_grad(x):
    a, b, c, d = x[0] + 10 * x[1], x[1] - 2 * x[2], x[0] - x[3], x[2] - x[3]
    return np.array([2 * a + 40 * c**3, 20 * a + 4 * b**3, 10 * d - 8 * b**3, -10 * d - 40 * c**3])


def powell_hess(x):
    b2, c2 = 12 * (x[1] - 2 * x[2]) ** 2, 120 * (x[0] - x[3]) ** 2
    return np.array(
        [[2 + c2, 20, 0, -c2], [20, 200 + b2, -2 * b2, 0], [0, -2 * b2, 10 + 4 * b2, -10], [-c2, 0, -10, 10 + c2]],
        dtype=float,
    )


def perturbed(hess, i, j, delta, symmetric=True):
    def wrong(x):
        H = np.array(hess(x), dtype=float)
        H[i, j] += delta
        if symmetric and i != j:
            H[j, i] += delta
        return H

    return wrong


def entry_scale(H, i, j, delta):
    """The scale of entry (i, j) with H[i, j] wrong by delta, from analytic H."""
    return max(np.sqrt(abs(H[i, i]) * abs(H[j, j])), abs(H[i, j] + delta), abs(H[i, j]))


def scaled(s):
    s = np.asarray(s, dtype=float)
    return (lambda z: s * powell_grad(z * s)), (lambda z: s[:, None] * powell_hess(z * s) * s[None, :])


# ---------------------------------------------------------------- vectors


def test_powell_hessian_agrees_with_hand_values():
    r = check_hessian(powell_grad, powell_hess, X)
    assert r.ok
    np.testing.assert_allclose(r.gradient, G_AT_X, rtol=1e-13)
    np.testing.assert_allclose(r.hessian, H_AT_X, rtol=1e-13)
    # The finite differences themselves reproduce the hand-worked Hessian.
    np.testing.assert_allclose(r.fd_hessian, H_AT_X, rtol=0, atol=1e-7)
    assert r.failures == []
    assert r.fd_error.max() < 1e-7
    np.testing.assert_allclose(r.step, np.cbrt(np.finfo(float).eps) * (1 + np.abs(X)))
    np.testing.assert_array_equal(r.directions, np.diag(r.step))
    assert "ok=True" in repr(r)


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("i,j", ENTRIES)
def test_each_wrong_hessian_entry_is_caught_and_named(i, j, sign):
    delta = sign * 1e-3 * (1 + BIG)
    r = check_hessian(powell_grad, perturbed(powell_hess, i, j, delta), X)
    assert not r.ok
    assert r.failures == [(j, i)]
    expected = abs(delta) / entry_scale(H_AT_X, i, j, delta)
    assert r.error[i, j] == pytest.approx(expected, rel=1e-6)
    assert r.error[j, i] == pytest.approx(expected, rel=1e-6)
    assert f"H[{i}, {j}]" in repr(r) or f"H[{j}, {i}]" in repr(r)


@pytest.mark.parametrize("i,j", [(1, 0), (3, 2), (2, 0)])
def test_asymmetric_error_in_one_triangle_is_caught(i, j):
    r = check_hessian(powell_grad, perturbed(powell_hess, i, j, 0.3, symmetric=False), X)
    assert r.failures == [(j, i)]
    assert r.error[j, i] == 0
    assert f"H[{i}, {j}]: analytic {H_AT_X[i, j] + 0.3:.8g}" in repr(r)
    assert r.error[i, j] == pytest.approx(0.3 / entry_scale(H_AT_X, i, j, 0.3), rel=1e-6)


def test_nan_entry_is_a_failure():
    r = check_hessian(powell_grad, perturbed(powell_hess, 2, 1, np.nan), X)
    assert not r.ok
    assert r.failures == [(1, 2)]


def test_non_finite_gradient_near_the_point_fails_without_warnings():
    # Gradient infinite just right of x0: every entry of column 0 is unknown
    # (and inf - inf in the differences must not warn).
    def grad(x):
        return powell_grad(x) if x[0] <= X[0] else np.full(4, np.inf)

    r = check_hessian(grad, powell_hess, X)  # RuntimeWarnings would be errors here
    assert not r.ok
    assert sorted(r.failures) == [(0, 0), (0, 1), (0, 2), (0, 3)]


def test_badly_scaled_variables_raise_no_false_alarm():
    g, H = scaled(SCALE)
    r = check_hessian(g, H, X / SCALE)
    assert r.ok, r
    np.testing.assert_allclose(r.fd_hessian, SCALE[:, None] * H_AT_X * SCALE[None, :], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("i,j", ENTRIES)
def test_relative_error_is_invariant_under_scaling(i, j):
    # A change of units x_i -> x_i / s_i multiplies H[i, j] and its error by
    # s_i s_j; the relative error, and so the verdict, must not change beyond
    # what the (step-dependent) finite-difference uncertainty allows.
    delta = 1e-3 * (1 + BIG)
    plain = check_hessian(powell_grad, perturbed(powell_hess, i, j, delta), X)
    g, H = scaled(SCALE)
    wrong = perturbed(H, i, j, delta * SCALE[i] * SCALE[j])
    r = check_hessian(g, wrong, X / SCALE)
    assert r.failures == [(j, i)]
    allowed = r.fd_error[i, j] + plain.fd_error[i, j] + 1e-12
    assert abs(r.error[i, j] - plain.error[i, j]) <= allowed
    assert allowed < 1e-4


@pytest.mark.parametrize("i,j", ENTRIES)
def test_badly_scaled_error_of_stated_size_is_caught(i, j):
    g, H = scaled(SCALE)
    delta = 1e-3 * (1 + np.abs(H(X / SCALE)).max())
    r = check_hessian(g, perturbed(H, i, j, delta), X / SCALE)
    assert r.failures == [(j, i)]


def test_float32_gradient_uses_float32_steps():
    eps32 = np.finfo(np.float32).eps
    grad32 = lambda x: powell_grad(x).astype(np.float32)
    r = check_hessian(grad32, powell_hess, X)
    assert r.ok, r
    np.testing.assert_allclose(r.step, np.cbrt(eps32) * (1 + np.abs(X)), rtol=1e-12)
    wrong = check_hessian(grad32, perturbed(powell_hess, 3, 1, 1e-3 * (1 + BIG)), X)
    assert wrong.failures == [(1, 3)]


def test_coarse_step_widens_the_uncertainty_instead_of_a_false_alarm():
    # F = exp(3 x0) / 3 + x0 x1 - cos(2 x1) / 2.  With step 0.3 the central
    # differences of exp(3 x0) are off by the factors sinh(0.9)/0.9 and
    # sinh(1.8)/1.8, and even their extrapolation by 2.4%; the check must see
    # that its estimate is that poor rather than blame the Hessian.
    grad = lambda x: np.array([np.exp(3 * x[0]) + x[1], x[0] + np.sin(2 * x[1])])
    hess = lambda x: np.array([[3 * np.exp(3 * x[0]), 1.0], [1.0, 2 * np.cos(2 * x[1])]])
    x = [0.2, 0.7]
    coarse = check_hessian(grad, hess, x, step=0.3)
    factor = (4 * np.sinh(0.9) / 0.9 - np.sinh(1.8) / 1.8) / 3
    assert coarse.fd_hessian[0, 0] / hess(x)[0, 0] == pytest.approx(factor, rel=1e-9)
    assert coarse.ok and coarse.fd_error[0, 0] > 1 - factor
    fine = check_hessian(grad, hess, x)
    assert fine.ok and fine.fd_error.max() < 1e-8
    assert check_hessian(grad, perturbed(hess, 0, 0, 1e-3 * hess(x)[0, 0]), x).failures == [(0, 0)]


def test_explicit_step_and_bad_step():
    r = check_hessian(powell_grad, powell_hess, X, step=1e-4)
    assert r.ok
    np.testing.assert_array_equal(r.step, np.full(4, 1e-4))
    with pytest.raises(ValueError, match="step"):
        check_hessian(powell_grad, powell_hess, X, step=[1e-4, 0, 1e-4, 1e-4])


def test_wrong_shapes_are_reported():
    with pytest.raises(ValueError, match="grad returned shape"):
        check_hessian(lambda x: powell_grad(x)[:3], powell_hess, X)
    with pytest.raises(ValueError, match="hess returned shape"):
        check_hessian(powell_grad, lambda x: powell_hess(x)[:3], X)
    with pytest.raises(ValueError, match="1-D"):
        check_hessian(powell_grad, powell_hess, [])
    with pytest.raises(ValueError, match="no coordinates"):
        check_hessian(powell_grad, powell_hess, {})


def test_powell_gradient_agrees_with_hand_values():
    r = check_gradient(powell_f, powell_grad, X)
    assert r.ok
    assert r.value == pytest.approx(
        (1.46 - 8.2) ** 2 + 5 * 0.64**2 + 1.96**4 + 10 * 0.25**4, rel=1e-14
    )
    np.testing.assert_allclose(r.fd_gradient, G_AT_X, rtol=0, atol=1e-7)
    assert r.failures == []


@pytest.mark.parametrize("j", range(4))
def test_each_wrong_gradient_component_is_caught(j):
    delta = 1e-3 * (1 + np.abs(G_AT_X).max())

    def wrong(x):
        g = powell_grad(x)
        g[j] += delta
        return g

    r = check_gradient(powell_f, wrong, X)
    assert r.failures == [j]
    expected = delta / max(abs(G_AT_X[j]), abs(G_AT_X[j] + delta))
    assert r.error[j] == pytest.approx(expected, rel=1e-6)
    assert f"g[{j}]" in repr(r)


# ---------------------------------------------------------------- properties


@st.composite
def quadratics(draw, integer_x=False):
    n = draw(st.integers(1, 5))
    entries = draw(st.lists(st.integers(-10, 10), min_size=n * n, max_size=n * n))
    A = np.array(entries, dtype=float).reshape(n, n)
    H = np.triu(A) + np.triu(A, 1).T
    if integer_x:
        x = np.array(draw(st.lists(st.integers(-10, 10), min_size=n, max_size=n)), dtype=float)
        b = np.array(draw(st.lists(st.integers(-10, 10), min_size=n, max_size=n)), dtype=float)
    else:
        x = draw(arrays(float, n, elements=st.floats(-10, 10)))
        b = draw(arrays(float, n, elements=st.floats(-100, 100)))
    return H, b, x


@settings(deadline=None)
@given(quadratics(), st.data())
def test_linear_gradient_any_symmetric_hessian(problem, data):
    # Central differences of a linear gradient are exact (up to rounding), so
    # the true H must pass and any entry wrong by 1e-3 (1 + max|H|) must fail.
    H, b, x = problem
    n = len(x)
    r = check_hessian(lambda z: H @ z + b, lambda z: H, x)
    assert r.ok, r
    np.testing.assert_allclose(r.fd_hessian, H, rtol=0, atol=1e-6)
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, n - 1))
    sign = data.draw(st.sampled_from([1, -1]))
    symmetric = data.draw(st.booleans())
    delta = sign * 1e-3 * (1 + np.abs(H).max())
    r = check_hessian(lambda z: H @ z + b, perturbed(lambda z: H, i, j, delta, symmetric), x)
    assert r.failures == [(min(i, j), max(i, j))]


@settings(deadline=None)
@given(quadratics(integer_x=True), st.data())
def test_quadratic_function_any_gradient(problem, data):
    H, b, x = problem
    g = H @ x + b
    # A zero component has no size to be relative to: rounding noise in F
    # decides it, and NAG warns against such points too.
    assume(np.all(g != 0))
    fun = lambda z: 0.5 * z @ H @ z + b @ z
    r = check_gradient(fun, lambda z: H @ z + b, x)
    assert r.ok, r
    j = data.draw(st.integers(0, len(x) - 1))
    delta = data.draw(st.sampled_from([1, -1])) * 1e-3 * (1 + np.abs(g).max())
    shift = np.zeros(len(x))
    shift[j] = delta
    r = check_gradient(fun, lambda z: H @ z + b + shift, x)
    assert r.failures == [j]


# ---------------------------------------------------------------- named coordinates
# T = cos(lat) sin(2 lon), lat and lon in radians.


def T(lat, lon):
    return np.cos(lat) * np.sin(2 * lon)


def grad_T(lat, lon):
    return {"lat": -np.sin(lat) * np.sin(2 * lon), "lon": 2 * np.cos(lat) * np.cos(2 * lon)}


def hess_T(lat, lon):
    return {
        ("lat", "lat"): -np.cos(lat) * np.sin(2 * lon),
        ("lat", "lon"): -2 * np.sin(lat) * np.cos(2 * lon),
        ("lon", "lon"): -4 * np.cos(lat) * np.sin(2 * lon),
    }


def hess_T_matrix(lat, lon):
    h = hess_T(lat, lon)
    return [[h["lat", "lat"], h["lat", "lon"]], [h["lat", "lon"], h["lon", "lon"]]]


def wrong_mixed(delta):
    def hess(lat, lon):
        h = hess_T(lat, lon)
        h["lat", "lon"] = h["lat", "lon"] + delta(lat, lon)
        return h

    return hess


POINT = {"lat": 0.4, "lon": 1.1}


def analytic_T_hessian(lat, lon):
    return np.array(hess_T_matrix(lat, lon), dtype=float)


@pytest.mark.parametrize("hess", [hess_T, hess_T_matrix])
def test_named_point_correct(hess):
    r = check_hessian(grad_T, hess, POINT)
    assert r.ok
    assert r.names == ("lat", "lon")
    np.testing.assert_allclose(r.fd_hessian, analytic_T_hessian(0.4, 1.1), atol=1e-9)
    np.testing.assert_array_equal(r.x, [0.4, 1.1])


def test_named_point_wrong_mixed_derivative_names_the_pair():
    r = check_hessian(grad_T, wrong_mixed(lambda lat, lon: 0.05), POINT)
    assert not r.ok
    assert r.failures == [("lat", "lon")]
    assert "H[lat, lon]" in repr(r)
    H = analytic_T_hessian(0.4, 1.1)
    assert r.error[0, 1] == pytest.approx(0.05 / entry_scale(H, 0, 1, 0.05), rel=1e-6)


def test_mapping_gives_one_triangle_other_order_and_missing_pairs():
    def lower_only(lat, lon):
        h = hess_T(lat, lon)
        return {("lon", "lat"): h["lat", "lon"], ("lat", "lat"): h["lat", "lat"], ("lon", "lon"): h["lon", "lon"]}

    assert check_hessian(grad_T, lower_only, POINT).ok

    def missing_mixed(lat, lon):
        h = hess_T(lat, lon)
        del h["lat", "lon"]
        return h

    assert check_hessian(grad_T, missing_mixed, POINT).failures == [("lat", "lon")]

    with pytest.raises(ValueError, match="'lat', 'height'"):
        check_hessian(grad_T, lambda lat, lon: {("lat", "height"): 0.0}, POINT)
    with pytest.raises(ValueError, match="no value for"):
        check_hessian(lambda lat, lon: {"lat": 0.0}, hess_T, POINT)


def test_zero_dimensional_xarray_selection():
    grid = xr.Dataset(coords={"lat": np.linspace(-1.2, 1.2, 7), "lon": np.linspace(0.1, 3.0, 9)})
    point = grid.isel(lat=4, lon=3)
    r = check_hessian(grad_T, wrong_mixed(lambda lat, lon: 0.05), point)
    assert r.names == ("lat", "lon")
    np.testing.assert_array_equal(r.x, [grid.lat[4], grid.lon[3]])
    assert r.failures == [("lat", "lon")]


def test_fixed_keywords_are_passed_through():
    def grad(lat, lon, amp):
        return {k: amp * v for k, v in grad_T(lat, lon).items()}

    def hess(lat, lon, amp):
        return {k: amp * v for k, v in hess_T(lat, lon).items()}

    r = check_hessian(grad, hess, {**POINT, "amp": 3.0}, names=["lat", "lon"])
    assert r.ok
    np.testing.assert_allclose(r.hessian, 3.0 * analytic_T_hessian(0.4, 1.1), rtol=1e-14)


def test_named_step_mapping():
    r = check_hessian(grad_T, hess_T, POINT, step={"lat": 1e-4, "lon": 2e-4})
    np.testing.assert_array_equal(r.step, [1e-4, 2e-4])
    assert r.ok


def test_named_gradient():
    assert check_gradient(T, grad_T, POINT).ok

    def wrong(lat, lon):
        g = grad_T(lat, lon)
        return [g["lat"], 1.01 * g["lon"]]  # a sequence in the point's order

    r = check_gradient(T, wrong, POINT)
    assert r.failures == ["lon"]
    assert "g[lon]" in repr(r)


# ---------------------------------------------------------------- grids

LAT = np.linspace(-1.2, 1.2, 23)
LON = np.linspace(0.1, 3.0, 31)  # never exactly pi/2, where sin(2 lon) = 0
GRID = xr.Dataset(coords={"lat": LAT, "lon": LON})
DELTA = 0.05


def region_error(lat, lon):
    return np.where(lon > 1.5, DELTA, 0.0)


def expected_field_error():
    lat, lon = np.meshgrid(LAT, LON, indexing="ij")
    H = np.array(hess_T_matrix(lat, lon))
    expected = np.zeros(lat.shape)
    for k in np.ndindex(lat.shape):
        if lon[k] > 1.5:
            expected[k] = DELTA / entry_scale(H[(slice(None), slice(None)) + k], 0, 1, DELTA)
    return expected


def test_grid_check_numpy():
    ok = check_hessian_field(grad_T, hess_T, GRID)
    assert ok.dims == ("lat", "lon")
    np.testing.assert_array_equal(ok.lat, LAT)
    assert isinstance(ok.data, np.ndarray)
    assert float(ok.max()) <= ok.attrs["rtol"]

    bad = check_hessian_field(grad_T, wrong_mixed(region_error), GRID)
    flagged = (bad > bad.attrs["rtol"]).values
    np.testing.assert_array_equal(flagged, np.broadcast_to(LON > 1.5, flagged.shape))
    np.testing.assert_allclose(bad.values, expected_field_error(), rtol=1e-5, atol=1e-7)


def test_grid_check_agrees_with_point_check():
    bad = check_hessian_field(grad_T, wrong_mixed(region_error), GRID)
    for i, j in [(0, 0), (5, 20), (22, 30), (11, 14)]:
        point = {"lat": LAT[i], "lon": LON[j]}
        r = check_hessian(grad_T, wrong_mixed(region_error), point)
        assert bad.values[i, j] == r.error.max()


class Counted:
    def __init__(self, fun):
        self.fun, self.calls = fun, 0

    def __call__(self, **kw):
        self.calls += 1
        return self.fun(**kw)


def test_grid_check_dask_is_lazy_and_equals_numpy():
    grad = Counted(grad_T)
    hess = Counted(wrong_mixed(region_error))
    lazy = check_hessian_field(grad, hess, GRID, chunks={"lat": 7, "lon": 11})
    assert isinstance(lazy.data, dask.array.Array)
    assert lazy.chunks == ((7, 7, 7, 2), (11, 11, 9))
    assert grad.calls == hess.calls == 0
    computed = lazy.compute()
    assert grad.calls > 0
    eager = check_hessian_field(grad_T, wrong_mixed(region_error), GRID)
    np.testing.assert_array_equal(computed.values, eager.values)
    xr.testing.assert_identical(computed, eager)


def test_grid_chunks_follow_a_dask_backed_dataset():
    data = dask.array.zeros((LAT.size, LON.size), chunks=(10, 16))
    grid = xr.Dataset({"T": (("lat", "lon"), data)}, coords={"lat": LAT, "lon": LON})
    lazy = check_hessian_field(grad_T, hess_T, grid)
    assert lazy.chunks == ((10, 10, 3), (16, 15))
    assert float(lazy.compute().max()) <= lazy.attrs["rtol"]


def test_grid_per_entry_names_the_pair():
    bad = check_hessian_field(grad_T, wrong_mixed(region_error), GRID, per_entry=True, chunks={"lat": 5})
    assert bad.dims == ("lat", "lon", "row", "column")
    assert list(bad.row.values) == ["lat", "lon"]
    worst = bad.compute().max(["lat", "lon"])
    rtol = bad.attrs["rtol"]
    assert float(worst.sel(row="lat", column="lon")) > rtol
    assert float(worst.sel(row="lon", column="lat")) > rtol
    assert float(worst.sel(row="lat", column="lat")) <= rtol
    assert float(worst.sel(row="lon", column="lon")) <= rtol


def test_grid_check_on_curvilinear_coordinates():
    lat2, lon2 = np.meshgrid(LAT, LON, indexing="ij")
    grid = xr.Dataset(coords={"lat": (("y", "x"), lat2), "lon": (("y", "x"), lon2)})
    curvi = check_hessian_field(grad_T, wrong_mixed(region_error), grid, names=["lat", "lon"])
    assert curvi.dims == ("y", "x")
    np.testing.assert_array_equal(curvi.lat, lat2)
    plain = check_hessian_field(grad_T, wrong_mixed(region_error), GRID)
    np.testing.assert_array_equal(curvi.values, plain.values)


def test_gradient_grid_check():
    def wrong(lat, lon):
        g = grad_T(lat, lon)
        return {"lat": g["lat"], "lon": g["lon"] + region_error(lat, lon)}

    err = check_gradient_field(T, wrong, GRID, chunks={"lon": 8}, per_component=True)
    assert isinstance(err.data, dask.array.Array)
    err = err.compute()
    rtol = err.attrs["rtol"]
    assert bool((err.sel(component="lat") <= rtol).all())
    flagged = (err.sel(component="lon") > rtol).values
    np.testing.assert_array_equal(flagged, np.broadcast_to(LON > 1.5, flagged.shape))


def test_grid_errors_name_the_coordinate():
    with pytest.raises(ValueError, match="'height'"):
        check_hessian_field(grad_T, hess_T, GRID, names=["lat", "height"])
    with pytest.raises(TypeError, match="xarray"):
        check_hessian_field(grad_T, hess_T, {"lat": LAT})


# ---------------------------------------------------------------- layout


def test_old_names_are_aliases_of_xgradient_checks():
    import xgradient
    import xgradient.check
    import xgradient.checks
    import xgradient.nag

    for name in ("check_gradient", "check_hessian", "check_gradient_field", "check_hessian_field",
                 "GradientCheck", "HessianCheck"):
        assert getattr(xgradient, name) is getattr(xgradient.checks, name), name
        assert getattr(xgradient.check, name) is getattr(xgradient.checks, name), name
    assert xgradient.nag.check_deriv2 is xgradient.checks.nag.check_deriv2
    assert isinstance(check_hessian(powell_grad, powell_hess, X), xgradient.HessianCheck)


def test_checks_import_nothing_of_the_rest_of_xgradient():
    # The checks are a tool beside the library: their own differences, none
    # of the stencils, so no import may reach outside the subpackage.
    import ast

    package = pathlib.Path(__file__).parent.parent / "xgradient" / "checks"
    modules = sorted(package.glob("*.py"))
    assert {m.stem for m in modules} >= {"__init__", "point", "field", "nag", "method"}
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), (module.name, node.module)
                assert node.level == 1 or not (node.module or "").startswith("xgradient"), module.name
                # no module imports another module's private names
                assert not any(a.name.startswith("_") for a in node.names), (module.name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("xgradient") for a in node.names), module.name


# ---------------------------------------------------------------- docs


def test_docs_examples_run():
    text = (pathlib.Path(__file__).parent.parent / "docs" / "check.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    namespace = {}
    for block in blocks:
        exec(compile(block, "docs/check.md", "exec"), namespace)  # noqa: S102
