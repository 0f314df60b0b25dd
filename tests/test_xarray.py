"""The .grad accessor: parity with xarray's differentiate, labels, metadata, periodic.

Truths: xarray.DataArray/Dataset.differentiate (numeric and time coordinates,
edge_order 1/2, accuracy 2), numpy.gradient on a hand-padded periodic array,
analytic derivatives, and the metadata rules of the public contract.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import coordinate, scaled_atol

import xgradient  # noqa: F401  (registers .grad)


def field(rng, decreasing=False, name="theta"):
    """A 3-D DataArray on nonuniform depth/lat coordinates, with CF-ish attributes."""
    depth = coordinate("wild", 11, rng, decreasing)
    lat = coordinate("random", 7, rng)
    x = np.arange(5)
    data = rng.standard_normal((11, 7, 5)) * 3 + 280
    return xr.DataArray(
        data,
        dims=("depth", "lat", "x"),
        coords={
            "depth": ("depth", depth, {"units": "m", "positive": "down"}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "x": x,
            "label": ("x", list("abcde")),
        },
        name=name,
        attrs={
            "units": "K",
            "standard_name": "sea_water_potential_temperature",
            "long_name": "potential temperature",
            "valid_range": [250.0, 320.0],
            "source": "test",
            "cell_methods": "time: mean",
        },
    )


def assert_close(result, expected, x):
    np.testing.assert_allclose(
        np.asarray(result), np.asarray(expected), rtol=1e-12, atol=scaled_atol(expected, x)
    )


# ---------------------------------------------------------------------------
# Parity with xarray.differentiate


@pytest.mark.parametrize("coord", ["depth", "lat", "x"])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("decreasing", [False, True])
def test_dataarray_matches_differentiate(rng, coord, edge_order, decreasing):
    da = field(rng, decreasing)
    got = da.grad(coord, edge_order=edge_order)
    ref = da.differentiate(coord, edge_order=edge_order)
    assert got.dims == da.dims and got.name == da.name
    assert_close(got, ref, da[coord].values)


def test_dataset_matches_differentiate(rng):
    da = field(rng)
    ds = xr.Dataset(
        {
            "theta": da,
            "salt": (("lat", "depth"), rng.standard_normal((7, 11)), {"units": "1e-3"}),
            "count": (("depth",), rng.integers(0, 50, 11)),
            "surface": (("lat", "x"), rng.standard_normal((7, 5))),
        }
    )
    for edge_order in (1, 2):
        got = ds.grad("depth", edge_order=edge_order)
        ref = ds.differentiate("depth", edge_order=edge_order)
        assert set(got.data_vars) == {"theta", "salt", "count"}
        for name in got.data_vars:
            assert got[name].dims == ds[name].dims
            assert_close(got[name], ref[name], ds.depth.values)
        assert got["count"].dtype == np.float64


def test_non_dimension_coordinate(rng):
    """A 1-D coordinate over another dimension, like level_height over model_level_number."""
    n = 9
    height = np.cumsum(rng.uniform(5, 200, n))
    da = xr.DataArray(
        rng.standard_normal((n, 4)),
        dims=("model_level_number", "y"),
        coords={
            "model_level_number": np.arange(1, n + 1),
            "level_height": ("model_level_number", height, {"units": "m"}),
        },
        name="t",
        attrs={"units": "K"},
    )
    got = da.grad("level_height", edge_order=2)
    ref = da.differentiate("level_height", edge_order=2)
    assert_close(got, ref, height)
    np.testing.assert_array_equal(got.values[1:-1], np.gradient(da.values, height, axis=0)[1:-1])
    assert got.attrs["units"] == "K/m"
    assert got.attrs["long_name"] == "derivative of t with respect to level_height"
    # Along the dimension itself: steps of one level.
    by_level = da.grad("model_level_number")
    assert_close(by_level, da.differentiate("model_level_number"), np.arange(n))


def test_dimension_without_coordinate_uses_unit_spacing(rng):
    da = xr.DataArray(rng.standard_normal((6, 8)), dims=("a", "b"))
    for axis, dim in enumerate(da.dims):
        for edge_order in (1, 2):
            got = da.grad(dim, edge_order=edge_order)
            ref = np.gradient(da.values, axis=axis, edge_order=edge_order)
            assert_close(got, ref, np.arange(da.sizes[dim]))
            assert_close(got, da.differentiate(dim, edge_order=edge_order), np.arange(da.sizes[dim]))
    assert "a" not in got.coords


@pytest.mark.parametrize(
    "unit,label,seconds",
    [
        ("W", "week", 7 * 86400),
        ("D", "day", 86400),
        ("h", "h", 3600),
        ("m", "min", 60),
        ("s", "s", 1),
        ("ms", "ms", 1e-3),
        ("us", "us", 1e-6),
        ("ns", "ns", 1e-9),
    ],
)
def test_datetime64_coordinate(rng, unit, label, seconds):
    # Irregular times: daily with gaps, plus an hour offset.
    days = np.cumsum(rng.integers(1, 5, 12))
    time = np.datetime64("2001-03-01T00") + days.astype("timedelta64[D]") + np.timedelta64(1, "h")
    da = xr.DataArray(
        rng.standard_normal((12, 3)) + 280.0,
        dims=("time", "x"),
        coords={"time": time},
        attrs={"units": "K"},
        name="tas",
    )
    got = da.grad("time", datetime_unit=unit)
    ref = da.differentiate("time", datetime_unit=unit)
    t = (time - time[0]) / np.timedelta64(1, "s") / seconds
    assert_close(got, ref, t)
    assert_close(got, np.gradient(da.values, t, axis=0), t)
    assert got.attrs["units"] == f"K/{label}"
    xr.testing.assert_identical(got.time, da.time)  # coordinate untouched


def test_datetime_default_unit_is_seconds(rng):
    time = np.array(["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-05"], dtype="datetime64[ns]")
    da = xr.DataArray([1.0, 2.0, 0.0, 5.0], dims="time", coords={"time": time}, attrs={"units": "m"})
    got = da.grad("time")
    t = np.array([0.0, 1.0, 3.0, 4.0]) * 86400.0
    assert_close(got, np.gradient(da.values, t), t)
    assert got.attrs["units"] == "m/s"


@pytest.mark.parametrize("years", [np.arange(1000, 2001, 100), np.array([1000, 1700])], ids=["11", "2"])
def test_datetime64_seconds_resolution_spanning_centuries(rng, years):
    """xarray keeps datetime64[s]; a paleo/long-run axis spans far more than the
    +-292 years that int64 nanoseconds can hold."""
    time = years.astype("datetime64[Y]").astype("datetime64[s]")
    da = xr.DataArray(rng.standard_normal(time.size), dims="time", coords={"time": time})
    assert da.time.dtype == np.dtype("datetime64[s]")
    t = (time - time[0]) / np.timedelta64(1, "D")
    got = da.grad("time", datetime_unit="D")
    assert_close(got, np.gradient(da.values, t), t)
    assert_close(got, da.differentiate("time", datetime_unit="D"), t)


def test_timedelta_coordinate(rng):
    lead = np.array([0, 6, 12, 24, 48, 72], dtype="timedelta64[h]").astype("timedelta64[ns]")
    da = xr.DataArray(rng.standard_normal(6), dims="lead", coords={"lead": lead})
    got = da.grad("lead", datetime_unit="h")
    assert_close(got, da.differentiate("lead", datetime_unit="h"), [0, 6, 12, 24, 48, 72])


# ---------------------------------------------------------------------------
# Lists of names, datasets


def test_list_of_names_gives_dataset(rng):
    da = field(rng)
    out = da.grad(["depth", "lat"], edge_order=2)
    assert isinstance(out, xr.Dataset)
    assert set(out.data_vars) == {"dtheta_ddepth", "dtheta_dlat"}
    assert_close(out["dtheta_ddepth"], da.differentiate("depth", edge_order=2), da.depth.values)
    assert_close(out["dtheta_dlat"], da.differentiate("lat", edge_order=2), da.lat.values)
    assert out["dtheta_dlat"].attrs["units"] == "K/degrees_north"


def test_list_of_names_unnamed_dataarray(rng):
    da = field(rng, name=None)
    out = da.grad(["depth"])
    assert list(out.data_vars) == ["df_ddepth"]
    assert out["df_ddepth"].name == "df_ddepth"
    assert_close(out["df_ddepth"], da.differentiate("depth"), da.depth.values)


def test_dataset_list_of_names(rng):
    da = field(rng)
    ds = xr.Dataset({"theta": da, "s": (("lat",), rng.standard_normal(7))})
    out = ds.grad(["depth", "lat"])
    assert set(out.data_vars) == {"dtheta_ddepth", "dtheta_dlat", "ds_dlat"}
    assert_close(out["ds_dlat"], ds.s.differentiate("lat"), ds.lat.values)
    assert_close(out["dtheta_ddepth"], ds.theta.differentiate("depth"), ds.depth.values)


def test_dataset_drops_what_cannot_be_differentiated(rng):
    import cftime

    n = 6
    t = np.array([cftime.Datetime360Day(2000, m, 1) for m in range(1, n + 1)])
    bnds = np.array([[cftime.Datetime360Day(2000, m, 1), cftime.Datetime360Day(2000, m, 30)] for m in range(1, n + 1)])
    x = coordinate("random", 5, rng)
    ds = xr.Dataset(
        {
            "tas": (("time", "x"), rng.standard_normal((n, 5)), {"units": "K"}),
            "time_bnds": (("time", "nv"), bnds),
            "x_bnds": (("x", "nv"), np.stack([x - 0.05, x + 0.05], axis=1)),
            "flag": (("x",), np.array(list("abcde"))),
            "only_time": (("time",), rng.standard_normal(n)),
            "scalar": ((), 3.0),
        },
        coords={"time": ("time", t, {"bounds": "time_bnds"}), "x": ("x", x, {"bounds": "x_bnds"})},
        attrs={"title": "t"},
    )
    out = ds.grad("x")
    assert set(out.data_vars) == {"tas"}
    assert_close(out.tas, ds.tas.differentiate("x"), x)
    assert out.attrs == {"title": "t"}
    by_time = ds.grad("time")
    assert set(by_time.data_vars) == {"tas", "only_time"}


# ---------------------------------------------------------------------------
# Metadata


def test_metadata(rng):
    da = field(rng)
    before = da.copy(deep=True)
    got = da.grad("depth")
    assert got.name == "theta"
    assert got.dims == da.dims
    xr.testing.assert_identical(got.coords.to_dataset(), da.coords.to_dataset())
    assert got.attrs["units"] == "K/m"
    assert got.attrs["long_name"] == "derivative of potential temperature with respect to depth"
    assert "standard_name" not in got.attrs
    assert "valid_range" not in got.attrs
    assert got.attrs["source"] == "test"
    assert got.attrs["cell_methods"] == "time: mean"
    xr.testing.assert_identical(da, before)  # input untouched


@pytest.mark.parametrize(
    "data_units,coord_units,expected",
    [
        ("K", "m", "K/m"),
        ("kg m-2", "m", "(kg m-2)/m"),
        ("K", "m s-1", "K/(m s-1)"),
        ("m/s", "km", "(m/s)/km"),
        ("kg m-2 s-1", "degrees_north", "(kg m-2 s-1)/degrees_north"),
    ],
)
def test_units(rng, data_units, coord_units, expected):
    x = coordinate("random", 5, rng)
    da = xr.DataArray(
        rng.standard_normal(5), dims="x", coords={"x": ("x", x, {"units": coord_units})},
        attrs={"units": data_units},
    )
    assert da.grad("x").attrs["units"] == expected


def test_long_name_falls_back_to_standard_name_then_name(rng):
    x = coordinate("random", 4, rng)
    base = xr.DataArray(rng.standard_normal(4), dims="x", coords={"x": x}, name="sst")
    std = base.assign_attrs(standard_name="sea_surface_temperature")
    assert std.grad("x").attrs["long_name"] == "derivative of sea_surface_temperature with respect to x"
    assert base.grad("x").attrs["long_name"] == "derivative of sst with respect to x"


def test_dataset_keeps_coords_and_attrs(rng):
    da = field(rng)
    ds = xr.Dataset({"theta": da}, attrs={"Conventions": "CF-1.8"})
    out = ds.grad("lat")
    xr.testing.assert_identical(out.coords.to_dataset(), ds.coords.to_dataset())
    assert out.attrs == ds.attrs
    assert out.theta.attrs["units"] == "K/degrees_north"


# ---------------------------------------------------------------------------
# accuracy > 2 through the accessor: exact for polynomials


@pytest.mark.parametrize("accuracy", [4, 6])
def test_accessor_higher_accuracy_exact_for_polynomials(rng, accuracy):
    x = np.sort(rng.uniform(-1, 1, 15))
    p = rng.standard_normal(accuracy + 1)
    da = xr.DataArray(np.polyval(p, x), dims="x", coords={"x": x})
    got = da.grad("x", accuracy=accuracy)
    exact = np.polyval(np.polyder(p), x)
    np.testing.assert_allclose(got.values, exact, rtol=1e-8, atol=1e-8 * np.abs(exact).max())


# ---------------------------------------------------------------------------
# Periodic longitudes


def wrapped_numpy(f, x, period, axis=-1):
    """numpy.gradient on an array padded with one wrapped point at each end."""
    f = np.moveaxis(np.asarray(f, dtype=np.float64), axis, -1)
    sign = 1.0 if x[-1] > x[0] else -1.0
    xp = np.concatenate([[x[-1] - sign * period], x, [x[0] + sign * period]])
    fp = np.concatenate([f[..., -1:], f, f[..., :1]], axis=-1)
    return np.moveaxis(np.gradient(fp, xp, axis=-1)[..., 1:-1], -1, axis)


def global_lon(rng, start=0.0, n=48, decreasing=False):
    step = 360.0 / n
    x = start + step * np.arange(n) + rng.uniform(-0.2, 0.2, n) * step
    return x[::-1].copy() if decreasing else x


LON_VARIANTS = [
    ("lon", {}),
    ("longitude", {}),
    ("x", {"units": "degrees_east"}),
    ("x", {"units": "degree_east"}),
    ("x", {"units": "degree_E"}),
    ("x", {"units": "degrees_E"}),
    ("x", {"units": "degreeE"}),
    ("x", {"units": "degreesE"}),
    ("x", {"standard_name": "longitude"}),
]


@pytest.mark.parametrize("name,attrs", LON_VARIANTS)
def test_global_longitude_detected_and_wrapped(rng, name, attrs):
    x = global_lon(rng)
    f = rng.standard_normal((3, x.size))
    da = xr.DataArray(f, dims=("y", name), coords={name: (name, x, attrs)})
    got = da.grad(name)
    expected = wrapped_numpy(f, x, 360.0)
    assert_close(got, expected, x)
    # The wrap changes the end columns (and only them).
    plain = np.gradient(f, x, axis=-1)
    assert not np.allclose(got.values[:, [0, -1]], plain[:, [0, -1]])
    np.testing.assert_array_equal(got.values[:, 1:-1], plain[:, 1:-1])


@pytest.mark.parametrize("start,decreasing", [(-180.0, False), (0.0, True), (-179.0, True)])
def test_global_longitude_other_ranges_and_direction(rng, start, decreasing):
    x = global_lon(rng, start=start, n=36, decreasing=decreasing)
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims="lon", coords={"lon": ("lon", x, {"units": "degrees_east"})})
    assert_close(da.grad("lon"), wrapped_numpy(f, x, 360.0), x)


@pytest.mark.parametrize("name,attrs", [("x", {}), ("lat", {"units": "degrees_north"}), ("rlon", {"units": "degrees"})])
def test_not_a_longitude_is_not_wrapped(rng, name, attrs):
    x = global_lon(rng)
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims=name, coords={name: (name, x, attrs)})
    assert_close(da.grad(name), np.gradient(f, x), x)


def test_regional_longitude_is_not_wrapped_and_does_not_warn(rng):
    x = np.linspace(225.0, 315.0, 49)  # North America box
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims="longitude", coords={"longitude": ("longitude", x, {"units": "degrees_east"})})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = da.grad("longitude")
    assert_close(got, np.gradient(f, x), x)


def test_longitude_with_a_gap_is_not_wrapped(rng):
    x = np.delete(np.arange(0.0, 360.0, 5.0), [30, 31, 32])  # a 20-degree hole: step > 2x median
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims="lon", coords={"lon": x})
    assert_close(da.grad("lon"), np.gradient(f, x), x)


@pytest.mark.parametrize("drop,wrapped", [([], True), ([35], True), ([34, 35], False), ([10], True), ([10, 11], False)])
def test_global_means_every_step_at_most_twice_the_median(rng, drop, wrapped):
    # 10-degree grid; dropping one point makes a 20-degree step (= 2x median:
    # still global), dropping two a 30-degree one (not global). Index 35 is
    # the last point, so there the wrap step is the long one.
    x = np.delete(np.arange(0.0, 360.0, 10.0), drop)
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims="lon", coords={"lon": ("lon", x, {"units": "degrees_east"})})
    expected = wrapped_numpy(f, x, 360.0) if wrapped else np.gradient(f, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(da.grad("lon"), expected, x)


def test_longitude_jump_warns_and_is_not_wrapped(rng):
    x = np.array([0.5, 325.5, 330.5, 335.5, 340.5, 345.5, 350.5, 355.5])
    f = rng.standard_normal((2, x.size))
    da = xr.DataArray(f, dims=("y", "lon"), coords={"lon": ("lon", x, {"units": "degrees"})})
    with pytest.warns(UserWarning, match="'lon'"):
        got = da.grad("lon")
    assert_close(got, np.gradient(f, x, axis=-1), x)


def test_periodic_false_disables_wrap(rng):
    x = global_lon(rng)
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims="lon", coords={"lon": x})
    assert_close(da.grad("lon", periodic=False), np.gradient(f, x), x)


def test_periodic_true_forces_wrap_on_any_coordinate(rng):
    x = global_lon(rng)
    f = rng.standard_normal(x.size)
    da = xr.DataArray(f, dims="phase", coords={"phase": x})
    assert_close(da.grad("phase", periodic=True), wrapped_numpy(f, x, 360.0), x)


def test_periodic_number_is_the_period(rng):
    n = 40
    s = np.arange(n) * 2 * np.pi / n
    theta = s + 0.2 * np.sin(s)
    f = np.exp(np.sin(theta))
    da = xr.DataArray(f, dims="theta", coords={"theta": theta})
    got = da.grad("theta", periodic=2 * np.pi)
    assert_close(got, wrapped_numpy(f, theta, 2 * np.pi), theta)
    # And it is a derivative: close to the analytic one everywhere, ends included.
    exact = np.cos(theta) * f
    err = np.abs(got.values - exact)
    assert err[[0, -1]].max() < 3 * err[1:-1].max()


def test_periodic_higher_accuracy_on_global_longitude(rng):
    x = global_lon(rng, n=72)
    f = np.sin(np.deg2rad(x)) + 0.5 * np.cos(2 * np.deg2rad(x))
    exact = np.deg2rad(1.0) * (np.cos(np.deg2rad(x)) - np.sin(2 * np.deg2rad(x)))
    da = xr.DataArray(f, dims="lon", coords={"lon": x})
    for accuracy in (4, 6):
        err = np.abs(da.grad("lon", accuracy=accuracy).values - exact)
        open_err = np.abs(da.grad("lon", accuracy=accuracy, periodic=False).values - exact)
        # Wrapped: the ends are as good as the interior; open: one-sided ends are worse.
        assert err.max() < 1e-3 * np.abs(exact).max()
        assert err[[0, -1]].max() < 3 * err[5:-5].max() + 1e-15
        assert open_err[[0, -1]].max() > err[[0, -1]].max()
