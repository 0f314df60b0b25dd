"""geo=True: derivatives per metre on the sphere (``.grad(coord, geo=True)``).

Truths: the exact derivative of T = sin(lat) cos(lon) in metres, with its
observed order of convergence on a Gaussian latitude grid; MetPy's
``geospatial_gradient`` on the same sphere; the same result whatever way the
latitude and longitude are labelled; exact errors for what cannot be done.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import no_compute, observed_order

import xgradient  # noqa: F401  (registers .grad)

R = 6_371_008.8


def gaussian_lat(n):
    """Gaussian latitudes (degrees, south to north): nonuniform, no pole points."""
    x, _ = np.polynomial.legendre.leggauss(n)
    return np.rad2deg(np.arcsin(x))


def field(
    lat,
    lon,
    lat_name="lat",
    lon_name="lon",
    lat_attrs=None,
    lon_attrs=None,
    dtype=np.float64,
):
    """T = sin(lat) cos(lon) in K on a (lat, lon) grid, coordinates labelled as asked."""
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    lat_attrs = {"units": "degrees_north"} if lat_attrs is None else lat_attrs
    lon_attrs = {"units": "degrees_east"} if lon_attrs is None else lon_attrs
    return xr.DataArray(
        (np.sin(phi) * np.cos(lam)).astype(dtype),
        dims=(lat_name, lon_name),
        coords={
            lat_name: (lat_name, lat, lat_attrs),
            lon_name: (lon_name, lon, lon_attrs),
        },
        name="T",
        attrs={"units": "K", "long_name": "temperature"},
    )


def grid(n):
    return gaussian_lat(n), np.arange(2 * n) * (360.0 / (2 * n))


def exact(lat, lon):
    """dT/dy and dT/dx in K m-1 for T = sin(lat) cos(lon)."""
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return np.cos(phi) * np.cos(lam) / R, -np.sin(phi) * np.sin(lam) / (R * np.cos(phi))


# ---------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize("accuracy,edge_order", [(2, 2), (4, 1), (6, 1)])
def test_converges_to_the_derivative_in_metres(accuracy, edge_order):
    ns = (16, 32, 64, 128) if accuracy < 6 else (12, 16, 24, 32)
    errors = []
    for n in ns:
        lat, lon = grid(n)
        T = field(lat, lon)
        dy, dx = exact(lat, lon)
        got_y = T.grad("lat", geo=True, accuracy=accuracy, edge_order=edge_order)
        got_x = T.grad("lon", geo=True, accuracy=accuracy, edge_order=edge_order)
        errors.append(
            [
                np.abs(got_y - dy).max() / np.abs(dy).max(),
                np.abs(got_x - dx).max() / np.abs(dx).max(),
            ]
        )
        assert got_y.attrs["units"] == got_x.attrs["units"] == "K m-1"
    errors = np.array(errors)
    assert errors[-1].max() < 1e-3
    hs = [1.0 / n for n in ns]
    for column in errors.T:  # every point, the one-sided end rows included
        assert accuracy - 0.3 < observed_order(hs, column) < accuracy + 0.8


def test_radius_scales_the_result():
    lat, lon = grid(8)
    T = field(lat, lon)
    for coord in ("lat", "lon"):
        half = T.grad(coord, geo=True, radius=R / 2)
        np.testing.assert_allclose(half, 2 * T.grad(coord, geo=True), rtol=1e-14)
    with pytest.raises(ValueError, match="radius must be a positive number"):
        T.grad("lat", geo=True, radius=0)


def test_matches_metpy_geospatial_gradient():
    """MetPy's first_derivative is numpy.gradient's stencil with second-order ends
    (edge_order=2) and never wraps; on a spherical CRS of radius R its dx is
    R dlon and its parallel scale 1 / cos(lat). So the two compute the same
    formula, and agree to rounding (1e-10 of the field's largest derivative:
    PROJ's scale factors and pyproj's distances are not bit-exact)."""
    mpcalc = pytest.importorskip("metpy.calc")
    lat, lon = grid(24)
    T = field(lat[::-1], lon)  # north to south, as many files are
    Tm = T.metpy.assign_crs(grid_mapping_name="latitude_longitude", earth_radius=R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dfdx, dfdy = mpcalc.geospatial_gradient(Tm)
    assert str(dfdx.units) == "kelvin / meter"
    ours_x = T.grad("lon", geo=True, periodic=False, edge_order=2)
    ours_y = T.grad("lat", geo=True, edge_order=2)
    np.testing.assert_allclose(
        ours_x, dfdx.m_as("K/m"), rtol=0, atol=1e-10 * np.abs(ours_x).max().item()
    )
    np.testing.assert_allclose(
        ours_y, dfdy.m_as("K/m"), rtol=0, atol=1e-10 * np.abs(ours_y).max().item()
    )


# ---------------------------------------------------------------------------
# Recognising latitude and longitude


LABELS = [
    # (lat name, lat attrs, lon name, lon attrs)
    ("latitude", {}, "longitude", {}),
    ("nav_lat", {}, "nav_lon", {}),
    ("a", {"units": "degree_north"}, "b", {"units": "degree_east"}),
    ("a", {"units": "degree_N"}, "b", {"units": "degree_E"}),
    ("a", {"units": "degrees_N"}, "b", {"units": "degrees_E"}),
    ("a", {"units": "degreeN"}, "b", {"units": "degreeE"}),
    ("a", {"units": "degreesN"}, "b", {"units": "degreesE"}),
    ("a", {"standard_name": "latitude"}, "b", {"standard_name": "longitude"}),
    ("a", {"standard_name": "grid_latitude"}, "b", {"standard_name": "grid_longitude"}),
    ("a", {"axis": "Y", "units": "degrees"}, "b", {"axis": "X", "units": "degrees"}),
]


@pytest.mark.parametrize("lat_name,lat_attrs,lon_name,lon_attrs", LABELS)
def test_latitude_and_longitude_are_recognised(
    lat_name, lat_attrs, lon_name, lon_attrs
):
    lat, lon = grid(6)
    ref = field(lat, lon)
    T = field(lat, lon, lat_name, lon_name, lat_attrs, lon_attrs)
    np.testing.assert_array_equal(T.grad(lat_name, geo=True), ref.grad("lat", geo=True))
    # periodic=False: the global-longitude detection is not what is tested here.
    np.testing.assert_array_equal(
        T.grad(lon_name, geo=True, periodic=False),
        ref.grad("lon", geo=True, periodic=False),
    )


def test_latitude_as_a_non_dimension_coordinate():
    lat, lon = grid(6)
    ref = field(lat, lon)
    T = ref.rename(lat="y").assign_coords(
        y=np.arange(lat.size), lat=("y", lat, {"units": "degrees_north"})
    )
    np.testing.assert_array_equal(T.grad("lon", geo=True), ref.grad("lon", geo=True))
    np.testing.assert_array_equal(T.grad("lat", geo=True), ref.grad("lat", geo=True))


# ---------------------------------------------------------------------------
# What cannot be done


def test_longitude_without_latitude():
    lat, lon = grid(6)
    T = field(lat, lon, "y", "lon", lat_attrs={"units": "m"})
    with pytest.raises(
        ValueError, match=r"along longitude 'lon' needs the latitude.*no latitude"
    ):
        T.grad("lon", geo=True)
    two = field(lat, lon).assign_coords(latitude=("lat", lat))
    with pytest.raises(
        ValueError, match=r"several latitude coordinates \['lat', 'latitude'\]"
    ):
        two.grad("lon", geo=True)


def test_neither_latitude_nor_longitude():
    lat, lon = grid(6)
    T = (
        field(lat, lon)
        .expand_dims(depth=[0.0, 10.0, 30.0])
        .assign_coords(depth=("depth", [0.0, 10.0, 30.0], {"units": "m"}))
    )
    with pytest.raises(
        ValueError,
        match=r"geo=True needs a latitude or longitude, but 'depth' is neither.*per m",
    ):
        T.grad("depth", geo=True)
    # An X axis in metres is a projected coordinate, not a longitude.
    P = field(
        lat, lon, "y", "x", {"axis": "Y", "units": "m"}, {"axis": "X", "units": "m"}
    )
    with pytest.raises(ValueError, match="'x' is neither"):
        P.grad("x", geo=True)


def test_curvilinear_latitude_is_refused():
    lat, lon = grid(6)
    T = field(lat, lon, "j", "i", {}, {})
    lat2d, lon2d = np.meshgrid(lat, lon, indexing="ij")
    T = T.assign_coords(
        lat=(("j", "i"), lat2d + 0.01 * lon2d),
        lon=("i", lon, {"units": "degrees_east"}),
    )
    with pytest.raises(ValueError, match="latitude 'lat' varies along 'lon'"):
        T.grad("lon", geo=True)


# ---------------------------------------------------------------------------
# Poles, dtype, dask


@pytest.mark.parametrize("direction", [1, -1])
def test_poles_give_nan_not_inf(direction):
    lat = np.linspace(-90.0, 90.0, 19)[::direction]
    lon = np.arange(0.0, 360.0, 10.0)
    T = field(lat, lon)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero RuntimeWarning either
        dx = T.grad("lon", geo=True)
        dy = T.grad("lat", geo=True)
    assert np.isnan(dx.values[[0, -1]]).all()
    assert np.isfinite(dx.values[1:-1]).all()
    assert np.isfinite(dy.values).all()  # a latitude derivative is fine at a pole
    _, dx_exact = exact(lat, lon)
    np.testing.assert_allclose(
        dx[1:-1], dx_exact[1:-1], rtol=0, atol=0.01 * np.abs(dx_exact[1:-1]).max()
    )


def test_float32_stays_float32():
    lat, lon = grid(16)
    T32 = field(lat, lon, dtype=np.float32)
    T64 = field(lat, lon)
    for coord in ("lat", "lon"):
        got = T32.grad(coord, geo=True)
        assert got.dtype == np.float32
        ref = T64.grad(coord, geo=True)
        np.testing.assert_allclose(
            got, ref, rtol=0, atol=1e-5 * np.abs(ref).max().item()
        )


@pytest.mark.parametrize("chunks", [{"lat": 1}, {"lon": 1}, {"lat": 5, "lon": 7}])
def test_dask_is_lazy_and_equal(chunks):
    lat, lon = grid(12)
    T = field(lat, lon)
    for coord in ("lat", "lon"):
        with no_compute():
            lazy = T.chunk(chunks).grad(coord, geo=True, accuracy=4)
        assert lazy.chunks is not None
        expected = T.grad(coord, geo=True, accuracy=4)
        xr.testing.assert_allclose(lazy.compute(), expected, rtol=1e-14, atol=0)
        assert (
            lazy.attrs
            == expected.attrs
            == {
                "units": "K m-1",
                "long_name": f"derivative of temperature with respect to {coord}",
            }
        )


# ---------------------------------------------------------------------------
# The longitude metric, applied by the kernel as results are written


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dims", [("time", "lat", "lon"), ("lon", "time", "lat")])
@pytest.mark.parametrize("skipna", [False, True])
def test_longitude_metric_numpy_dask_and_truth(dtype, dims, skipna):
    """d/dx = d/dlon / (R cos(lat) pi/180): numpy.gradient along lon times the
    metric in float64, rounded once; every chunking gives the same bits."""
    rng = np.random.default_rng(23)
    lat = np.sort(rng.uniform(-80.0, 80.0, 9))
    lon = np.sort(rng.uniform(0.0, 300.0, 11))  # not global: no wrap
    sizes = {"time": 3, "lat": lat.size, "lon": lon.size}
    values = rng.standard_normal([sizes[d] for d in dims]).astype(dtype)
    T = xr.DataArray(
        values,
        dims=dims,
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
        attrs={"units": "K"},
    )
    got = T.grad("lon", geo=True, skipna=skipna)
    assert got.dtype == dtype
    radius = 6371008.8  # the documented default
    axis = dims.index("lon")
    metric = 1.0 / (radius * np.pi / 180.0 * np.cos(np.deg2rad(lat)))
    shape = [1] * 3
    shape[dims.index("lat")] = -1
    truth = np.gradient(values.astype(np.float64), lon, axis=axis) * metric.reshape(shape)
    # To a few float64 ulps (the metric's own rounding), or one float32 ulp
    # (with skipna the metric is applied after the rounding to float32).
    ulps = 4e-15 if dtype == np.float64 else (2.5e-7 if skipna else 1.2e-7)
    np.testing.assert_allclose(got.values, truth.astype(dtype), rtol=ulps)
    for chunks in ({"lat": 1}, {"lon": 3}, {"time": 2, "lat": 4, "lon": 5}):
        lazy = T.chunk(chunks).grad("lon", geo=True, skipna=skipna)
        np.testing.assert_array_equal(lazy.compute().values, got.values)


@pytest.mark.parametrize("periodic", [None, True])
def test_global_longitude_in_radians_wraps_as_in_degrees(periodic):
    """A turn is 2 pi in radians: a global longitude in radians wraps (it was
    left open, one-sided at the ends, 14 % off there), and ``periodic=True``
    wraps with 2 pi, not 360."""
    lat = np.linspace(-60.0, 60.0, 13)
    lon = np.arange(0.0, 360.0, 5.0)
    f = np.cos(np.deg2rad(lat))[:, None] * np.cos(np.deg2rad(lon) + 0.3)[None, :]

    def field(lon_values, units):
        coords = {"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon_values, {"units": units})}
        return xr.DataArray(f, dims=("lat", "lon"), coords=coords)

    degrees = field(lon, "degrees_east").grad("lon", geo=True, periodic=periodic)
    radians = field(np.deg2rad(lon), "radians").grad("lon", geo=True, periodic=periodic)
    np.testing.assert_allclose(radians.values, degrees.values, rtol=1e-12, atol=0)
    exact = -np.sin(0.3) / 6_371_008.8  # at lon 0, lat 0
    assert abs(radians.sel(lat=0.0).values[0] / exact - 1) < 2e-3
    # A jump of more than half a turn is a jump in radians too.
    jumpy = np.deg2rad(np.concatenate([np.arange(0.0, 50.0, 5.0), 250.0 + np.arange(62.0)]))  # 45 -> 250
    with pytest.warns(UserWarning, match="jumps from 0.785398 to 4.36332"):
        field(jumpy, "radians").grad("lon")
