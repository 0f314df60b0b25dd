"""Real netCDF files from the iris-sample-data package (no downloads).

Truths: numpy.gradient on the same numbers (the coordinate taken as float64,
the precision xgradient promises to work in), xarray's differentiate, a time
axis converted to seconds by hand in the 360-day calendar, and the three-point
central difference across the date line written out by hand.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import no_compute

import xgradient  # noqa: F401  (registers .grad)


def open_loaded(path):
    with xr.open_dataset(path) as ds:
        return ds.load()


@pytest.fixture(scope="module")
def atlantic(sample_path):
    return open_loaded(sample_path / "atlantic_profiles.nc")


@pytest.fixture(scope="module")
def hybrid(sample_path):
    return open_loaded(sample_path / "hybrid_height.nc")


@pytest.fixture(scope="module")
def a1b(sample_path):
    return open_loaded(sample_path / "A1B_north_america.nc")


@pytest.fixture(scope="module")
def ostia(sample_path):
    return open_loaded(sample_path / "ostia_monthly.nc")


def values_of(coord):
    """A coordinate as numpy.gradient (and xarray's differentiate) gets it: in
    its own dtype, float32 included (numpy computes its weights in float32)."""
    return np.asarray(coord.values)


def assert_float32_result_matches(result, expected, interior_axis=None):
    """float32 result vs numpy's float32 result: equal NaN pattern, interior bit for bit."""
    result = np.asarray(result)
    expected = np.asarray(expected)
    assert result.dtype == np.float32 and expected.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
    np.testing.assert_allclose(result, expected, rtol=2e-6, atol=0, equal_nan=True)
    if interior_axis is not None:
        idx = [slice(None)] * result.ndim
        idx[interior_axis] = slice(1, -1)
        np.testing.assert_array_equal(result[tuple(idx)], expected[tuple(idx)])


# ---------------------------------------------------------------------------
# atlantic_profiles.nc: 40 nonuniform depth levels


def test_atlantic_theta_along_depth_vs_numpy(atlantic):
    theta = atlantic.theta
    depth = values_of(atlantic.depth)
    assert np.ptp(np.diff(depth)) > 0  # really nonuniform
    assert np.isnan(theta.values).any()  # and with missing values
    for edge_order in (1, 2):
        got = theta.grad("depth", edge_order=edge_order)
        expected = np.gradient(theta.values, depth, axis=0, edge_order=edge_order)
        assert_float32_result_matches(got, expected, interior_axis=0)
        if edge_order == 2:
            np.testing.assert_array_equal(got.values, expected)
    assert got.attrs["units"] == "K/m"
    assert got.attrs["long_name"] == "derivative of sea_water_potential_temperature with respect to depth"
    assert "standard_name" not in got.attrs


def test_atlantic_vs_differentiate(atlantic):
    ds = atlantic.assign_coords(depth=atlantic.depth.astype(np.float64))
    got = ds.grad("depth", edge_order=2)
    ref = ds.differentiate("depth", edge_order=2)
    assert set(got.data_vars) == {"theta", "salinity"}
    for name in got.data_vars:
        assert_float32_result_matches(got[name], ref[name], interior_axis=0)


def test_atlantic_dask_chunks_equal_in_memory(atlantic):
    chunked = atlantic.chunk({"depth": 5, "lat": 2})
    for kw in ({}, {"edge_order": 2}, {"accuracy": 6}):
        with no_compute():
            lazy = chunked.theta.grad("depth", **kw)
        xr.testing.assert_identical(lazy.compute(), atlantic.theta.grad("depth", **kw))


def test_atlantic_longitude_jump_warns_and_is_not_wrapped(atlantic):
    with pytest.warns(UserWarning, match="'lon'"):
        got = atlantic.theta.grad("lon")
    expected = np.gradient(atlantic.theta.values, values_of(atlantic.lon), axis=2)
    assert_float32_result_matches(got, expected, interior_axis=2)


# ---------------------------------------------------------------------------
# hybrid_height.nc: non-dimension coordinate level_height


def test_hybrid_height_along_level_height(hybrid):
    theta = hybrid.air_potential_temperature
    assert "level_height" not in theta.dims
    height = values_of(hybrid.level_height)
    got = theta.grad("level_height", edge_order=2)
    expected = np.gradient(theta.values, height, axis=0, edge_order=2)
    np.testing.assert_array_equal(got.values, expected)
    assert got.dims == theta.dims
    assert got.attrs["units"] == "K/m"
    assert got.attrs["source"] == theta.attrs["source"]
    xr.testing.assert_identical(got.coords.to_dataset(), theta.coords.to_dataset())
    ref = hybrid.air_potential_temperature.differentiate("level_height", edge_order=2)
    xr.testing.assert_equal(got, ref)


def test_hybrid_height_dataset_drops_bounds(hybrid):
    out = hybrid.grad("level_height")
    # level_height_bnds and sigma_bnds have the dimension but are cell bounds;
    # rotated_latitude_longitude has no such dimension.
    assert set(out.data_vars) == {"air_potential_temperature"}
    expected = np.gradient(hybrid.air_potential_temperature.values, values_of(hybrid.level_height), axis=0)
    assert_float32_result_matches(out.air_potential_temperature, expected, interior_axis=0)


def test_hybrid_rotated_grid_longitude_is_not_wrapped(hybrid):
    theta = hybrid.air_potential_temperature
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = theta.grad("grid_longitude")
    expected = np.gradient(theta.values, values_of(hybrid.grid_longitude), axis=2)
    assert_float32_result_matches(got, expected, interior_axis=2)


# ---------------------------------------------------------------------------
# A1B_north_america.nc: cftime, 360-day calendar


def seconds_360_day(times):
    """Seconds since the first date, counting 30-day months and 360-day years."""
    def days(t):
        return t.year * 360 + (t.month - 1) * 30 + (t.day - 1) + (t.hour * 3600 + t.minute * 60 + t.second) / 86400

    first = days(times[0])
    return np.array([(days(t) - first) * 86400.0 for t in times])


def test_a1b_cftime_360_day_time(a1b):
    tas = a1b.air_temperature
    times = a1b.time.values
    assert times[0].calendar == "360_day"
    t = seconds_360_day(times)
    expected = np.gradient(tas.values, t, axis=0)
    got = tas.grad("time")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.values, expected, rtol=2e-6, atol=1e-12)
    assert got.attrs["units"] == "K/s"
    in_days = tas.grad("time", datetime_unit="D")
    np.testing.assert_allclose(
        in_days.values, np.gradient(tas.values, t / 86400.0, axis=0), rtol=2e-6, atol=1e-9
    )
    assert in_days.attrs["units"] == "K/day"
    # A proleptic-Gregorian reading (365/366-day years) would be off by ~1.4 %.
    gregorian_year = 365.2425 * 86400
    assert not np.allclose(got.values, expected * (360 * 86400) / gregorian_year, rtol=1e-3, atol=0)


def test_a1b_dataset_drops_cftime_bounds(a1b):
    out = a1b.grad("time", edge_order=2)
    assert set(out.data_vars) == {"air_temperature"}  # time_bnds (cftime objects) dropped
    t = seconds_360_day(a1b.time.values)
    np.testing.assert_allclose(
        out.air_temperature.values,
        np.gradient(a1b.air_temperature.values, t, axis=0, edge_order=2),
        rtol=2e-6,
        atol=1e-12,
    )


def test_a1b_regional_longitude_not_wrapped(a1b):
    tas = a1b.air_temperature
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = tas.grad("longitude")
    expected = np.gradient(tas.values, values_of(a1b.longitude), axis=2)
    np.testing.assert_allclose(got.values, expected, rtol=2e-6, atol=1e-6)
    assert got.attrs["units"] == "K/degrees_east"


# ---------------------------------------------------------------------------
# ostia_monthly.nc: global longitude, NaN land


def across_date_line(sst, lon):
    """numpy.gradient on the field padded with the other end of the circle
    (in the data's and the longitude's own dtypes): its first and last columns."""
    xp = np.concatenate([lon[-1:] - 360.0, lon, lon[:1] + 360.0])
    fp = np.concatenate([sst[..., -1:], sst, sst[..., :1]], axis=-1)
    g = np.gradient(fp, xp, axis=-1)
    return g[..., 1], g[..., -2]


def test_ostia_longitude_detected_as_periodic(ostia):
    sst = ostia.surface_temperature
    lon = values_of(ostia.longitude)
    assert sst.dtype == np.float32
    got = sst.grad("longitude")
    assert got.dtype == np.float32
    first, last = across_date_line(sst.values, lon)
    np.testing.assert_array_equal(got.values[..., 0], first.astype(np.float32))
    np.testing.assert_array_equal(got.values[..., -1], last.astype(np.float32))
    # The open (non-periodic) derivative differs at the wrapped columns...
    open_ = sst.grad("longitude", periodic=False)
    ok = np.isfinite(got.values[..., 0]) & np.isfinite(open_.values[..., 0])
    assert ok.sum() > 100
    assert np.all(got.values[..., 0][ok] != open_.values[..., 0][ok])
    # ...and agrees everywhere else, with numpy's NaN propagation.
    expected_open = np.gradient(sst.values, lon, axis=-1)
    assert_float32_result_matches(open_, expected_open, interior_axis=2)
    np.testing.assert_array_equal(got.values[..., 1:-1], expected_open[..., 1:-1])
    # periodic=True (period 360) is the same as the detected wrap.
    np.testing.assert_array_equal(sst.grad("longitude", periodic=True).values, got.values)


def test_ostia_nan_land_propagates_like_numpy(ostia):
    sst = ostia.surface_temperature.values
    land = np.isnan(sst)
    assert 0.1 < land.mean() < 0.5
    lat = values_of(ostia.latitude)
    assert np.ptp(np.diff(lat)) > 0  # nonuniform in float64: numpy's nonuniform branch
    got = ostia.surface_temperature.grad("latitude", edge_order=2)
    expected = np.gradient(sst, lat, axis=1, edge_order=2)
    np.testing.assert_array_equal(got.values, expected)
    # A NaN reaches exactly the points whose stencil uses it.
    near = land.copy()
    near[:, 1:] |= land[:, :-1]
    near[:, :-1] |= land[:, 1:]
    near[:, 0] |= land[:, 2]
    near[:, -1] |= land[:, -3]
    np.testing.assert_array_equal(np.isnan(got.values), near)


def test_ostia_dask_periodic_chunks_equal_in_memory(ostia):
    chunked = ostia.chunk({"time": 20, "longitude": 50})
    with no_compute():
        lazy = chunked.grad("longitude")
    assert lazy.surface_temperature.chunks[2] == chunked.surface_temperature.chunks[2]
    xr.testing.assert_identical(lazy.compute(), ostia.grad("longitude"))


def test_ostia_monthly_datetime64_time(ostia):
    sst = ostia.surface_temperature
    got = sst.grad("time", datetime_unit="D")
    ref = sst.differentiate("time", datetime_unit="D")
    t = (ostia.time.values - ostia.time.values[0]) / np.timedelta64(1, "D")
    assert np.ptp(np.diff(t)) > 0  # months of different lengths
    assert_float32_result_matches(got, ref, interior_axis=0)
    assert_float32_result_matches(got, np.gradient(sst.values, t, axis=0), interior_axis=0)
    assert got.attrs["units"] == "K/day"
