"""Hessian, Laplacian, divergence and vorticity (xgradient.operators, .grad accessors).

Truths: analytic fields on nonuniform grids (tanh-stretched, Gaussian latitudes)
with the observed order of convergence; spherical harmonics, whose surface
Laplacian is -l(l+1)/R^2 times themselves; solid-body rotation; MetPy's
divergence and vorticity on the same sphere; the numpy-backed result for dask
input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import no_compute, observed_order, stretched

import xgradient  # noqa: F401  (registers .grad)
from xgradient import operators as op

R = 6_371_008.8


# ---------------------------------------------------------------------------
# Grids and fields


def gaussian_lat(n):
    """Gaussian latitudes (degrees, south to north): nonuniform, no pole points."""
    x, _ = np.polynomial.legendre.leggauss(n)
    return np.rad2deg(np.arcsin(x))


def sphere(n, funcs, units="m s-1", lat=None):
    """A Dataset on an n x 2n Gaussian grid with variables funcs[name](phi, lam)."""
    lat = gaussian_lat(n) if lat is None else lat
    lon = np.arange(2 * n) * (360.0 / (2 * n))
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return xr.Dataset(
        {k: (("lat", "lon"), f(phi, lam), {"units": units}) for k, f in funcs.items()},
        coords={
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )


def band(ds, limit=60.0):
    """Rows within `limit` degrees of the equator: away from the pole, where
    tan(lat) and 1/cos(lat) amplify the truncation error and the pointwise
    order is lower."""
    return np.abs(ds.lat.values) <= limit


def cartesian(n, funcs, units="m s-1"):
    """Variables funcs[name](X, Y) on tanh-stretched x (n points) and y (n + 3)."""
    x = stretched(n, 0.0, 2.0, 1.0)
    y = stretched(n + 3, -1.0, 1.0, 1.5)
    X, Y = np.meshgrid(x, y, indexing="ij")
    return xr.Dataset(
        {k: (("x", "y"), f(X, Y), {"units": units}) for k, f in funcs.items()},
        coords={
            "x": ("x", x, {"units": "m", "axis": "X"}),
            "y": ("y", y, {"units": "m", "axis": "Y"}),
        },
    )


def slope(ns, errors):
    return observed_order([1.0 / n for n in ns], errors)


def max_err(got, exact, rows=slice(None)):
    return float(np.max(np.abs(np.asarray(got) - np.asarray(exact))[rows]))


# ---------------------------------------------------------------------------
# Names, units, long names


def test_hessian_names_follow_the_order_given():
    ds = sphere(4, {"T": lambda p, l: np.cos(p) * np.cos(l)}, units="K")
    assert list(op.hessian(ds.T, ["lat", "lon"])) == [
        "d2T_dlatdlat",
        "d2T_dlatdlon",
        "d2T_dlondlon",
    ]
    assert list(ds.T.grad.hessian(["lon", "lat"])) == [
        "d2T_dlondlon",
        "d2T_dlondlat",
        "d2T_dlatdlat",
    ]
    unnamed = ds.T.rename(None)
    assert list(unnamed.grad.hessian(["lat"])) == ["d2f_dlatdlat"]
    h = ds.T.grad.hessian(["lat", "lon"])
    for var in h.values():
        assert var.dims == ds.T.dims
        assert var.coords.to_dataset().identical(ds.T.coords.to_dataset())


def test_units_and_long_names():
    ds = cartesian(8, {"T": lambda X, Y: X * Y}, units="K")
    ds.y.attrs["units"] = "s"
    h = ds.T.grad.hessian(["x", "y"])
    assert h.d2T_dxdx.attrs["units"] == "K/m^2"
    assert h.d2T_dydy.attrs["units"] == "K/s^2"
    assert h.d2T_dxdy.attrs["units"] == "(K/m)/s"
    assert h.d2T_dxdx.attrs["long_name"] == "second derivative of T with respect to x"
    assert (
        h.d2T_dxdy.attrs["long_name"]
        == "second derivative of T with respect to x and y"
    )

    g = sphere(6, {"T": lambda p, l: np.cos(p) * np.cos(l)}, units="K")
    g.T.attrs.update(long_name="air temperature", source="model")
    hg = g.T.grad.hessian(["lat", "lon"], geo=True)
    assert {v.attrs["units"] for v in hg.values()} == {"K m-2"}
    assert all(v.attrs["source"] == "model" for v in hg.values())
    assert g.T.grad.laplacian(["lat", "lon"], geo=True).attrs == {
        "source": "model",
        "units": "K m-2",
        "long_name": "Laplacian of air temperature on the sphere",
    }
    # Degrees north and east are one unit in a sum.
    assert g.T.grad.laplacian(["lat", "lon"]).attrs["units"] == "K/degree^2"
    assert ds.T.grad.laplacian(["x"]).attrs["units"] == "K/m^2"

    w = sphere(6, {"u": lambda p, l: np.cos(p), "v": lambda p, l: np.sin(l)})
    assert w.grad.divergence(geo=True).attrs["units"] == "s-1"
    assert w.grad.vorticity(geo=True).attrs["units"] == "s-1"
    assert w.grad.vorticity(geo=True).name == "vorticity"
    assert (
        w.grad.divergence(geo=True).attrs["long_name"]
        == "divergence of (u, v) on the sphere"
    )
    c = cartesian(6, {"u": lambda X, Y: X, "v": lambda X, Y: Y})
    assert c.grad.divergence().attrs["units"] == "(m s-1)/m"
    assert c.grad.divergence().attrs["long_name"] == "divergence of (u, v) along (x, y)"


def test_units_that_do_not_add_up_warn_and_are_left_out():
    c = cartesian(6, {"u": lambda X, Y: X, "v": lambda X, Y: Y})
    c.y.attrs["units"] = "hPa"
    with pytest.warns(UserWarning, match="different units"):
        assert "units" not in c.u.grad.laplacian(["x", "y"]).attrs
    c = cartesian(6, {"u": lambda X, Y: X, "v": lambda X, Y: Y})
    c["v"].attrs["units"] = "knot"
    with pytest.warns(UserWarning, match=r"different units \['m s-1', 'knot'\]"):
        div = c.grad.divergence()
    assert "units" not in div.attrs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c["v"].attrs.pop("units")
        c["u"].attrs.pop("units")
        assert (
            "units" not in c.grad.vorticity().attrs
        )  # no units in, none out, no warning


# ---------------------------------------------------------------------------
# Convergence on stretched Cartesian grids


@pytest.mark.parametrize("accuracy", [2, 4])
def test_hessian_pure_terms_converge_at_accuracy_and_one_less_at_the_ends(accuracy):
    # f = exp(1.3 x) cos(2 y): every derivative is nonzero at both ends.
    ns = (20, 40, 80, 160)
    inner, ends = [], []
    for n in ns:
        ds = cartesian(n, {"f": lambda X, Y: np.exp(1.3 * X) * np.cos(2 * Y)})
        h = ds.f.grad.hessian(["x", "y"], accuracy=accuracy)
        f = ds.f.values
        for key, exact, axis in (("d2f_dxdx", 1.69 * f, 0), ("d2f_dydy", -4 * f, 1)):
            err = np.moveaxis(np.abs(h[key].values - exact), axis, 0)
            k = accuracy // 2
            inner.append(err[k:-k].max())
            ends.append(err[[0, -1]].max())
    for errors, expected in ((inner, accuracy), (ends, accuracy - 1)):
        for axis in (0, 1):
            p = slope(ns, errors[axis::2])
            assert expected - 0.3 < p < expected + 0.8, (axis, p, expected)


@pytest.mark.parametrize(
    "accuracy,edge_order,end_order", [(2, 1, 1), (2, 2, 2), (4, 1, 4)]
)
def test_hessian_mixed_term_converges(accuracy, edge_order, end_order):
    ns = (20, 40, 80, 160)
    inner, ends = [], []
    for n in ns:
        ds = cartesian(n, {"f": lambda X, Y: np.sin(2 * X + 0.3) * np.cos(3 * Y - 0.2)})
        X, Y = xr.broadcast(ds.x, ds.y)
        exact = -6 * np.cos(2 * X + 0.3) * np.sin(3 * Y - 0.2)
        err = np.abs(
            ds.f.grad.hessian(
                ["x", "y"], accuracy=accuracy, edge_order=edge_order
            ).d2f_dxdy
            - exact
        ).values
        k = accuracy // 2
        inner.append(err[k:-k, k:-k].max())
        ends.append(max(err[[0, -1]].max(), err[:, [0, -1]].max()))
    assert accuracy - 0.3 < slope(ns, inner) < accuracy + 0.5
    assert end_order - 0.3 < slope(ns, ends) < end_order + 0.5


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_cartesian_operators_converge(accuracy):
    # u = sin(x) cos(y) + x^2 y, v = exp(x/2) sin(2y): all four derivatives vary.
    funcs = {
        "u": lambda X, Y: np.sin(X) * np.cos(Y) + X**2 * Y,
        "v": lambda X, Y: np.exp(X / 2) * np.sin(2 * Y),
    }
    # accuracy 6: past the pre-asymptotic range, short of rounding (eps / h^2)
    ns = (32, 40, 48, 56) if accuracy == 6 else (20, 40, 80, 160)
    errors = {"div": [], "vort": [], "lap": []}
    for n in ns:
        ds = cartesian(n, funcs)
        X, Y = xr.broadcast(ds.x, ds.y)
        dudx = np.cos(X) * np.cos(Y) + 2 * X * Y
        dudy = -np.sin(X) * np.sin(Y) + X**2
        dvdx = 0.5 * np.exp(X / 2) * np.sin(2 * Y)
        dvdy = 2 * np.exp(X / 2) * np.cos(2 * Y)
        lap_u = -2 * np.sin(X) * np.cos(Y) + 2 * Y
        opts = {"accuracy": accuracy, "edge_order": 2}
        k = accuracy // 2
        inner = (slice(k, -k), slice(k, -k))
        errors["div"].append(max_err(ds.grad.divergence(**opts), dudx + dvdy, inner))
        errors["vort"].append(max_err(ds.grad.vorticity(**opts), dvdx - dudy, inner))
        errors["lap"].append(
            max_err(ds.u.grad.laplacian(["x", "y"], **opts), lap_u, inner)
        )
    for key, errs in errors.items():
        assert (
            accuracy - (0.6 if accuracy == 6 else 0.3)
            < slope(ns, errs)
            < accuracy + 0.8
        ), (key, errs)


def test_cartesian_detection_and_explicit_coordinates():
    funcs = {"u": lambda X, Y: X**2 * Y, "v": lambda X, Y: X * Y**3}
    ds = cartesian(12, funcs)
    explicit = op.divergence(ds, "u", "v", x="x", y="y")
    xr.testing.assert_identical(ds.grad.divergence(), explicit)
    # Swapping the roles: d v/d y + d u/d x is the same sum, d u/dx - d v/dy is not.
    swapped = ds.rename(u="a", v="b").grad.vorticity(u="b", v="a", x="y", y="x")
    np.testing.assert_allclose(swapped, -ds.grad.vorticity(), rtol=1e-13, atol=1e-12)


# ---------------------------------------------------------------------------
# The sphere: spherical harmonics and solid-body rotation


def chi(p, l):
    """A degree-2 spherical harmonic (x z on the unit sphere): Laplacian -6 chi / R^2."""
    return np.sin(p) * np.cos(p) * np.cos(l)


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_laplacian_on_the_sphere_converges(accuracy):
    ns = (16, 32, 64, 128)
    errs2, errs1 = [], []
    for n in ns:
        ds = sphere(n, {"T": chi, "S": lambda p, l: np.cos(p) * np.cos(l)}, units="K")
        rows = band(ds)
        lap = ds.T.grad.laplacian(["lat", "lon"], geo=True, accuracy=accuracy)
        errs2.append(max_err(lap, -6 * ds.T / R**2, rows) * R**2)
        lap1 = ds.S.grad.laplacian(["lon", "lat"], geo=True, accuracy=accuracy)
        errs1.append(max_err(lap1, -2 * ds.S / R**2, rows) * R**2)
    assert errs2[-1] < 1e-3 and errs1[-1] < 1e-3
    for errs in (errs2, errs1):
        assert accuracy - 0.3 < slope(ns, errs) < accuracy + 0.8


@pytest.mark.parametrize("accuracy", [2, 4])
def test_divergence_and_vorticity_on_the_sphere_converge(accuracy):
    # Potential flow grad(chi) has divergence lap(chi) and no vorticity; the
    # stream flow k x grad(chi) has vorticity lap(chi) and no divergence.
    U = 10.0  # chi scaled by U R: winds of order U, derivatives of order U / R
    dchi_dx = lambda p, l: -U * np.sin(p) * np.sin(l)  # (1/(R cos) dchi/dlam)
    dchi_dy = lambda p, l: U * np.cos(2 * p) * np.cos(l)  # (1/R dchi/dphi)
    ns = (16, 32, 64, 128)
    errors = []
    for n in ns:
        pot = sphere(n, {"u": dchi_dx, "v": dchi_dy})
        rot = sphere(n, {"u": lambda p, l: -dchi_dy(p, l), "v": dchi_dx})
        lap = (
            -6
            * U
            * chi(*np.meshgrid(np.deg2rad(pot.lat), np.deg2rad(pot.lon), indexing="ij"))
            / R
        )
        rows = band(pot)
        opts = {"geo": True, "accuracy": accuracy}
        errors.append(
            [
                max_err(pot.grad.divergence(**opts), lap, rows),
                max_err(pot.grad.vorticity(**opts), 0.0, rows),
                max_err(rot.grad.divergence(**opts), 0.0, rows),
                max_err(rot.grad.vorticity(**opts), lap, rows),
            ]
        )
    errors = np.array(errors) * R / U
    assert errors[-1].max() < 1e-3
    for column in errors.T:
        assert accuracy - 0.3 < slope(ns, column) < accuracy + 0.8


def test_solid_body_rotation():
    # About the polar axis: u = U cos(lat), v = 0. Divergence 0, vorticity 2 U sin(lat) / R.
    U = 20.0
    ns = (16, 32, 64)
    errs = []
    for n in ns:
        ds = sphere(n, {"u": lambda p, l: U * np.cos(p), "v": lambda p, l: 0 * p})
        div = ds.grad.divergence(geo=True)
        assert np.abs(div).max() < 1e-20  # du/dlon vanishes exactly; so does v
        exact = 2 * U * np.sin(np.deg2rad(ds.lat)) / R
        errs.append(
            max_err(ds.grad.vorticity(geo=True), exact.broadcast_like(div), band(ds))
        )
    assert 1.7 < slope(ns, errs) < 2.8
    # About an axis tilted by alpha (Williamson et al. 1992, test case 1):
    # vorticity 2 U / R (sin(lat) cos(a) - cos(lat) cos(lon) sin(a)), divergence 0.
    a = 0.7
    errs = []
    for n in ns:
        ds = sphere(
            n,
            {
                "u": lambda p, l: (
                    U * (np.cos(p) * np.cos(a) + np.sin(p) * np.cos(l) * np.sin(a))
                ),
                "v": lambda p, l: -U * np.sin(l) * np.sin(a),
            },
        )
        p, l = np.meshgrid(np.deg2rad(ds.lat), np.deg2rad(ds.lon), indexing="ij")
        exact = 2 * U / R * (np.sin(p) * np.cos(a) - np.cos(p) * np.cos(l) * np.sin(a))
        rows = band(ds)
        errs.append(
            [
                max_err(ds.grad.vorticity(geo=True, accuracy=4), exact, rows),
                max_err(ds.grad.divergence(geo=True, accuracy=4), 0.0, rows),
            ]
        )
    errs = np.array(errs) * R / U
    assert errs[-1].max() < 1e-5
    for column in errs.T:
        assert 3.7 < slope(ns, column) < 4.8


@pytest.mark.parametrize("unit, per_degree", [("radians", np.pi / 180), ("degrees_north", 1.0)])
def test_latitude_in_radians_gives_the_same_metric_terms(unit, per_degree):
    """tan(lat)/R of the divergence and vorticity reads the latitude's units:
    with the latitude in radians it was taken as degrees (47 % off, silently)."""
    U = 20.0
    ds = sphere(32, {"u": lambda p, l: U * np.cos(p), "v": lambda p, l: U * np.sin(2 * p) * np.cos(l)})
    ref = {"vorticity": ds.grad.vorticity(geo=True), "divergence": ds.grad.divergence(geo=True)}
    other = ds.assign_coords(lat=("lat", ds.lat.values * per_degree, {"units": unit}))
    for name, expected in ref.items():
        got = getattr(other.grad, name)(geo=True)
        np.testing.assert_allclose(got.values, expected.values, rtol=1e-12, atol=1e-12 * float(np.abs(expected).max()))
    # Solid-body rotation, vorticity 2 U sin(lat) / R: the metric term is half of it.
    solid = sphere(32, {"u": lambda p, l: U * np.cos(p), "v": lambda p, l: 0 * p})
    exact = (2 * U * np.sin(np.deg2rad(solid.lat)) / R).broadcast_like(solid.u)
    rows = band(solid)
    solid = solid.assign_coords(lat=("lat", solid.lat.values * per_degree, {"units": unit}))
    assert max_err(solid.grad.vorticity(geo=True), exact.values, rows) < 1e-2 * U / R  # 47 % off before


def test_hessian_on_the_sphere_is_the_coordinate_partials_in_metres():
    """The documented choice: d2f_dlatdlon = 1/(R^2 cos(lat)) d2f/dlat dlon (radians)."""
    ns = (16, 32, 64, 128)
    errs = []
    for n in ns:
        ds = sphere(n, {"T": chi}, units="K")
        p, l = np.meshgrid(np.deg2rad(ds.lat), np.deg2rad(ds.lon), indexing="ij")
        exact = {
            "d2T_dlatdlat": -4 * chi(p, l) / R**2,
            "d2T_dlatdlon": -np.cos(2 * p) * np.sin(l) / (R**2 * np.cos(p)),
            "d2T_dlondlon": -chi(p, l) / (R * np.cos(p)) ** 2,
        }
        h = ds.T.grad.hessian(["lat", "lon"], geo=True, edge_order=2)
        errs.append([max_err(h[k], v, band(ds)) * R**2 for k, v in exact.items()])
        # The covariant Hessian's trace (hessian's Notes) is the Laplacian.
        trace = (
            h.d2T_dlatdlat
            + h.d2T_dlondlon
            - np.tan(np.deg2rad(ds.lat)) / R * ds.T.grad("lat", geo=True)
        )
        np.testing.assert_allclose(
            trace, ds.T.grad.laplacian(["lat", "lon"], geo=True), rtol=1e-12, atol=1e-25
        )
    errs = np.array(errs)
    assert errs[-1].max() < 1e-3
    for column in errs.T:
        assert 1.7 < slope(ns, column) < 2.8
    # Either order of the names gives the same mixed term.
    mixed = ds.T.grad.hessian(["lon", "lat"], geo=True, edge_order=2).d2T_dlondlat
    np.testing.assert_array_equal(mixed, h.d2T_dlatdlon)


def test_poles_are_nan_not_inf():
    lat = np.linspace(-90.0, 90.0, 13)
    ds = sphere(6, {"u": chi, "v": lambda p, l: np.cos(p) * np.sin(l)}, lat=lat)
    results = [
        ds.grad.divergence(geo=True),
        ds.grad.vorticity(geo=True),
        ds.u.grad.laplacian(["lat", "lon"], geo=True),
        ds.u.grad.laplacian(["lat"], geo=True),
        ds.u.grad.hessian(["lat", "lon"], geo=True).d2u_dlondlon,
        ds.u.grad.hessian(["lat", "lon"], geo=True).d2u_dlatdlon,
    ]
    for r in results:
        assert np.isnan(r.values[[0, -1]]).all()
        assert np.isfinite(r.values[1:-1]).all()
    assert np.isfinite(ds.u.grad.hessian(["lat"], geo=True).d2u_dlatdlat).all()


def test_float32_stays_float32():
    ds = sphere(8, {"u": chi, "v": lambda p, l: np.cos(p) * np.sin(l)}).astype(
        np.float32
    )
    assert ds.grad.divergence(geo=True).dtype == np.float32
    assert ds.grad.vorticity(geo=True).dtype == np.float32
    assert ds.u.grad.laplacian(["lat", "lon"], geo=True).dtype == np.float32
    assert {v.dtype for v in ds.u.grad.hessian(["lat", "lon"], geo=True).values()} == {
        np.dtype(np.float32)
    }
    ref = ds.astype(np.float64).grad.divergence(geo=True)
    np.testing.assert_allclose(
        ds.grad.divergence(geo=True),
        ref,
        rtol=1e-4,
        atol=1e-5 * float(np.abs(ref).max()),
    )


# ---------------------------------------------------------------------------
# MetPy


@pytest.fixture(scope="module")
def metpy_results():
    """MetPy's divergence and vorticity on a sphere of radius R, Gaussian grids n = 24, 48."""
    mpcalc = pytest.importorskip("metpy.calc")
    out = {}
    for n in (24, 48):
        ds = sphere(
            n,
            {
                "u": lambda p, l: (
                    10 * np.cos(p) * np.sin(2 * l)
                    + 5 * np.cos(p) ** 2
                    + 3 * np.sin(p) * np.cos(l)
                ),
                "v": lambda p, l: (
                    4 * np.sin(p) * np.cos(p) * np.cos(l)
                    + 2 * np.cos(p) ** 2 * np.sin(l)
                ),
            },
        )
        # MetPy's default CRS is the WGS84 ellipsoid; a spherical CRS of the same
        # radius makes both compute on the same sphere.
        dsm = ds.metpy.assign_crs(
            grid_mapping_name="latitude_longitude", earth_radius=R
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            div = mpcalc.divergence(dsm.u, dsm.v).metpy.dequantify()
            vort = mpcalc.vorticity(dsm.u, dsm.v).metpy.dequantify()
        assert div.attrs["units"] in ("1 / second", "1/s", "s-1")
        out[n] = ds, div.values, vort.values
    return out


def test_divergence_and_vorticity_match_metpy(metpy_results):
    """Same sphere, same three-point differences (MetPy's first_derivative is
    numpy.gradient's stencil with second-order ends, i.e. edge_order=2, and it
    does not wrap longitude): the two differ only in the metric term. MetPy
    differentiates the map factor 1/cos(lat) numerically, d(sec)/dy * cos, where
    xgradient uses tan(lat)/R exactly. So (1) after swapping that term the results
    agree to rounding (1e-9 of the field's size), and (2) the whole difference,
    away from the pole where 1/cos(lat) is hard to difference, is a
    second-order discretisation difference: below 2 % of max|result| on the
    7.5-degree grid and 4x smaller or more on the 3.75-degree grid.
    """
    band_diff = {"div": [], "vort": []}
    for n, (ds, mdiv, mvort) in sorted(metpy_results.items()):
        div = ds.grad.divergence(geo=True, periodic=False, edge_order=2).values
        vort = ds.grad.vorticity(geo=True, periodic=False, edge_order=2).values
        lat = np.deg2rad(ds.lat.values)
        metpy_metric = np.cos(lat) * np.gradient(1 / np.cos(lat), R * lat, edge_order=2)
        swap = (metpy_metric - np.tan(lat) / R)[:, None]
        u, v = ds.u.values, ds.v.values
        np.testing.assert_allclose(
            div, mdiv + v * swap, rtol=0, atol=1e-9 * np.abs(mdiv).max()
        )
        np.testing.assert_allclose(
            vort, mvort - u * swap, rtol=0, atol=1e-9 * np.abs(mvort).max()
        )
        rows = band(ds)
        band_diff["div"].append(np.abs(div - mdiv)[rows].max() / np.abs(mdiv).max())
        band_diff["vort"].append(np.abs(vort - mvort)[rows].max() / np.abs(mvort).max())
    for coarse, fine in band_diff.values():
        assert coarse < 0.02 and fine < coarse / 4


# ---------------------------------------------------------------------------
# Dask


CHUNKINGS = [{"lat": 1}, {"lat": 5, "lon": 7}, {"lon": 1}, {"lat": 3, "lon": 24}]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_dask_is_lazy_and_equals_numpy(chunks):
    ds = sphere(12, {"u": chi, "v": lambda p, l: np.cos(p) ** 2 * np.sin(l)})
    lazy = ds.chunk(chunks)
    calls = {
        "hessian": lambda d: d.u.grad.hessian(["lat", "lon"], geo=True, accuracy=4),
        "laplacian": lambda d: d.u.grad.laplacian(["lat", "lon"], geo=True),
        "laplacian_plain": lambda d: d.u.grad.laplacian(["lon", "lat"], edge_order=2),
        "divergence": lambda d: d.grad.divergence(geo=True, periodic={"lon": False}),
        "vorticity": lambda d: d.grad.vorticity(geo=True, accuracy=6),
    }
    for name, call in calls.items():
        with no_compute():
            got = call(lazy)
            for var in got.data_vars.values() if isinstance(got, xr.Dataset) else [got]:
                assert var.chunks is not None, name
        expected = call(ds)
        xr.testing.assert_allclose(got.compute(), expected, rtol=1e-13, atol=1e-24)
        assert got.compute().attrs == expected.attrs


# ---------------------------------------------------------------------------
# Options and errors


def test_periodic_per_coordinate():
    ds = sphere(8, {"u": chi, "v": lambda p, l: np.cos(p) * np.sin(l)})
    auto = ds.grad.divergence(geo=True)  # the global longitude wraps by itself
    xr.testing.assert_identical(
        ds.grad.divergence(geo=True, periodic={"lon": True}), auto
    )
    open_lon = ds.grad.divergence(geo=True, periodic={"lon": False})
    np.testing.assert_array_equal(open_lon[:, 1:-1], auto[:, 1:-1])
    assert not np.allclose(open_lon[:, 0], auto[:, 0])
    with pytest.raises(ValueError, match=r"periodic names \['time'\]"):
        ds.grad.divergence(geo=True, periodic={"time": True})


def test_x_y_detection_errors():
    ds = xr.Dataset(
        {"u": (("a", "b"), np.ones((4, 5))), "v": (("a", "b"), np.ones((4, 5)))},
        coords={"a": np.arange(4.0), "b": ("b", np.arange(5.0), {"axis": "X"})},
    )
    with pytest.raises(
        ValueError, match=r"cannot find the y coordinate of 'u'.*pass y="
    ):
        ds.grad.divergence()
    assert ds.grad.divergence(y="a").dims == ("a", "b")
    with pytest.raises(
        ValueError, match=r"cannot find the x coordinate of 'u'.*a longitude"
    ):
        ds.grad.vorticity(y="a", geo=True)  # axis X alone is not a longitude
    both = ds.assign_coords(lon=("b", np.arange(5.0)))
    with pytest.raises(
        ValueError, match=r"several candidates for the x coordinate.*\['b', 'lon'\]"
    ):
        both.grad.divergence(y="a")
    with pytest.raises(KeyError, match=r"v='w' is not a data variable.*\['u', 'v'\]"):
        ds.grad.divergence(v="w", x="b", y="a")


def test_bad_coordinates_raise_clearly():
    ds = sphere(6, {"u": chi, "v": chi})
    with pytest.raises(
        ValueError, match="geo=True needs x to be a longitude, but 'lat'"
    ):
        ds.grad.divergence(x="lat", y="lon", geo=True)
    with pytest.raises(ValueError, match="'lat' is given twice"):
        ds.u.grad.hessian(["lat", "lat"])
    two = ds.assign_coords(lat2=("lat", ds.lat.values * 2))
    with pytest.raises(ValueError, match="'lat2' and 'lat' both run along 'lat'"):
        two.u.grad.laplacian(["lat", "lat2"])
    with pytest.raises(KeyError, match="'depth' is neither a dimension"):
        ds.u.grad.laplacian(["lat", "depth"])
    with pytest.raises(ValueError, match="no coordinate given"):
        ds.u.grad.hessian([])
    with pytest.raises(TypeError, match="takes a DataArray"):
        op.laplacian(ds, ["lat"])
    flat = ds.assign_coords(z=("lat", np.arange(6.0)))
    with pytest.raises(ValueError, match="'z' is neither"):
        flat.u.grad.laplacian(["z", "lon"], geo=True)


# ---------------------------------------------------------------------------
# skipna: NaN cells (land) act as boundaries


def valid_run(mask, axis):
    """Length of the run of valid cells each cell belongs to, along `axis` (0 where invalid)."""
    m = np.moveaxis(mask, axis, -1)
    out = np.zeros(m.shape, dtype=int)
    for idx in np.ndindex(m.shape[:-1]):
        row, i = m[idx], 0
        while i < row.size:
            j = i
            while j < row.size and row[j] == row[i]:
                j += 1
            out[idx][i:j] = (j - i) if row[i] else 0
            i = j
    return np.moveaxis(out, -1, axis)


def land(ds):
    mask = np.ones((ds.sizes["x"], ds.sizes["y"]), dtype=bool)
    mask[5:8, 4:7] = False  # an island
    mask[0, :2] = False  # a coast at the edge
    mask[12, 9] = False  # a single cell
    return mask


def test_skipna_operators_are_exact_for_quadratics_beside_land():
    # With edge_order=2, the one-sided 3-point differences used beside a gap are
    # exact for quadratics, as are the second-derivative stencils: every finite
    # result equals the exact value, and a valid cell is finite exactly when the
    # runs of valid cells through it, along each coordinate, hold the 3 points
    # a second derivative needs (2 for the first derivatives of divergence and
    # vorticity, which fall back to two-point differences there).
    funcs = {
        "f": lambda X, Y: X**2 + X * Y + 2 * Y**2,
        "u": lambda X, Y: X * Y + Y**2,
        "v": lambda X, Y: X**2 - 3 * X * Y,
    }
    ds = cartesian(16, funcs)
    mask = land(ds)
    ds = ds.where(xr.DataArray(mask, dims=("x", "y")))
    run_x, run_y = valid_run(mask, 0), valid_run(mask, 1)
    X, Y = xr.broadcast(ds.x, ds.y)
    cases = [
        (ds.f.grad.laplacian(["x", "y"], skipna=True, edge_order=2), 6.0, 3),
        (ds.f.grad.hessian(["x", "y"], skipna=True, edge_order=2).d2f_dxdy, 1.0, 2),
        (ds.grad.divergence(skipna=True, edge_order=2), Y - 3 * X, 2),
        (ds.grad.vorticity(skipna=True, edge_order=2), 2 * X - 3 * Y - X - 2 * Y, 2),
    ]
    for got, exact, need in cases:
        finite = np.isfinite(got.values)
        np.testing.assert_array_equal(finite, mask & (run_x >= need) & (run_y >= need))
        expected = np.broadcast_to(np.asarray(exact), got.shape)
        np.testing.assert_allclose(
            got.values[finite], expected[finite], rtol=1e-9, atol=1e-9
        )
    # Without skipna the NaN spreads to the neighbours.
    assert np.isnan(ds.f.grad.laplacian(["x", "y"])).sum() > np.isnan(cases[0][0]).sum()


def test_skipna_on_the_sphere_and_with_dask():
    ds = sphere(12, {"u": chi, "v": lambda p, l: np.cos(p) ** 2 * np.sin(l)})
    wet = np.ones((ds.sizes["lat"], ds.sizes["lon"]), dtype=bool)
    wet[8:11, 5:9] = False
    wet[3, 17] = False
    sea = ds.where(xr.DataArray(wet, dims=("lat", "lon")))
    far = xr.DataArray(np.zeros_like(wet), dims=("lat", "lon"))
    far[:, 11:14] = True  # columns whose stencils reach no land
    run_lat, run_lon = valid_run(wet, 0), valid_run(wet, 1)
    for call, need in (
        (lambda d: d.grad.divergence(geo=True, skipna=True), 2),
        (lambda d: d.grad.vorticity(geo=True, skipna=True, accuracy=4), 2),
        (lambda d: d.u.grad.laplacian(["lat", "lon"], geo=True, skipna=True), 3),
    ):
        got = call(sea)
        np.testing.assert_array_equal(
            np.isfinite(got.values), wet & (run_lat >= need) & (run_lon >= need)
        )
        np.testing.assert_array_equal(got.where(far), call(ds).where(far))
        with no_compute():
            lazy = call(sea.chunk({"lat": 5, "lon": 4}))
        xr.testing.assert_allclose(lazy.compute(), got, rtol=1e-13, atol=1e-24)
