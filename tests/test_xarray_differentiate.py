"""``.grad`` equals ``xarray.DataArray.differentiate`` exactly.

xarray's own tests of ``differentiate`` (``test_differentiate``,
``test_differentiate_datetime``, ``test_differentiate_cftime`` in
xarray/tests/test_dataset.py) rewritten for ``.grad``: the same data and
coordinates, numpy- and dask-backed, with differentiate itself and
numpy.gradient as the truths, compared with ``xr.testing.assert_equal``
(values bit for bit, dims and coordinates; attributes are ours to add).

``.grad``'s ``datetime_unit`` defaults to seconds, differentiate's to the
coordinate's own resolution, so the time tests pass the unit to both.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)
from conftest import classic_dask_only

# differentiate on dask data is dask.array.gradient: the truth is missing
# under dask's expression backend (the dask path of .grad is tested there
# against numpy in test_dask.py).
BACKENDS = pytest.mark.parametrize(
    "use_dask",
    [False, pytest.param(True, marks=classic_dask_only("dask.array.gradient (DataArray.differentiate on dask)"))],
    ids=["numpy", "dask"],
)

# The coordinate of xarray's test: irregular steps from 0.01 to 0.2.
IRREGULAR = [0.2, 0.35, 0.4, 0.6, 0.7, 0.75, 0.76, 0.8]


def sample(coord, use_dask, dim="x"):
    rng = np.random.default_rng(42)
    arr = xr.DataArray(
        rng.random((8, 6)),
        dims=[dim, "y"],
        coords={dim: coord, "z": 3, f"{dim}2d": ((dim, "y"), rng.random((8, 6)))},
    )
    return arr.chunk({dim: 4}) if use_dask else arr


def check(actual, reference, expected_values):
    """Lazy when the input was; then equal to differentiate and to numpy.gradient."""
    assert type(actual.data) is type(reference.data)
    xr.testing.assert_equal(actual, reference)
    xr.testing.assert_equal(actual, reference.copy(data=expected_values))


@BACKENDS
@pytest.mark.parametrize("edge_order", [1, 2])
def test_grad_equals_differentiate(use_dask, edge_order):
    arr = sample(IRREGULAR, use_dask)
    ds = xr.Dataset({"var": arr})
    values = np.asarray(arr)

    along_x = arr.grad("x", edge_order=edge_order)
    check(
        along_x,
        arr.differentiate("x", edge_order),
        np.gradient(values, np.asarray(arr["x"]), axis=0, edge_order=edge_order),
    )
    xr.testing.assert_equal(ds.grad("x", edge_order=edge_order)["var"], along_x)
    xr.testing.assert_equal(along_x["x"], arr["x"])  # the coordinate is untouched

    # y has no coordinate: both use index positions, numpy's uniform branch.
    along_y = arr.grad("y", edge_order=edge_order)
    check(
        along_y,
        arr.differentiate("y", edge_order),
        np.gradient(values, np.arange(6), axis=1, edge_order=edge_order),
    )
    xr.testing.assert_equal(ds.grad("y", edge_order=edge_order)["var"], along_y)

    with pytest.raises(ValueError):
        arr.grad("x2d")


@BACKENDS
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize(
    "coord",
    [
        np.arange(8) * 0.25,  # exactly uniform: numpy's (f[i+1] - f[i-1]) / 2h
        np.arange(8, dtype=np.int32) * 3,
        (np.array(IRREGULAR) * 7).astype(np.float32),  # weights in float32, as numpy
        np.array(IRREGULAR)[::-1].copy(),
    ],
    ids=["uniform", "int", "float32", "decreasing"],
)
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "complex64"])
def test_grad_equals_differentiate_more_coordinates_and_dtypes(use_dask, edge_order, coord, dtype):
    """Beyond xarray's test: spacings and dtypes where numpy's arithmetic branches."""
    arr = sample(coord, use_dask)
    arr = arr.astype(dtype) if dtype != "complex64" else (arr + 1j * arr[::-1].values).astype(dtype)
    actual = arr.grad("x", edge_order=edge_order)
    assert actual.dtype == np.dtype(dtype)
    # differentiate on dask data goes through dask.array.gradient, which
    # returns float64 for float16 (numpy keeps float16): the truth is the
    # numpy-backed differentiate.
    reference = arr.compute().differentiate("x", edge_order)
    xr.testing.assert_equal(actual.compute(), reference)
    xr.testing.assert_equal(
        actual.compute(), reference.copy(data=np.gradient(np.asarray(arr), coord, axis=0, edge_order=edge_order))
    )
    if use_dask:
        assert actual.chunks is not None  # still lazy
        if dtype != "float16":
            xr.testing.assert_equal(actual, arr.differentiate("x", edge_order))


DATES = np.array(
    [
        "2004-07-13",
        "2006-01-13",
        "2010-08-13",
        "2010-09-13",
        "2010-10-11",
        "2010-12-13",
        "2011-02-13",
        "2012-08-13",
    ],
    dtype="datetime64[ns]",
)


@BACKENDS
def test_grad_datetime_equals_differentiate(use_dask):
    arr = sample(DATES, use_dask)
    days = (DATES - DATES.min()) / np.timedelta64(1, "D")
    actual = arr.grad("x", datetime_unit="D")
    check(
        actual,
        arr.differentiate("x", edge_order=1, datetime_unit="D"),
        np.gradient(np.asarray(arr), days, axis=0, edge_order=1),
    )
    # Hours: the same derivative, 24 times smaller.
    hours = arr.grad("x", datetime_unit="h")
    xr.testing.assert_equal(hours, arr.differentiate("x", datetime_unit="h"))
    np.testing.assert_allclose(actual, hours * 24, rtol=1e-14)
    # Another resolution of the same dates, at differentiate's default unit
    # (the coordinate's own): the times themselves, one millisecond per millisecond.
    ms = DATES.astype("datetime64[ms]")
    clock = xr.DataArray((ms - ms[0]).astype(np.float64), dims="x", coords={"x": ms})
    if use_dask:
        clock = clock.chunk({"x": 3})
    xr.testing.assert_equal(clock.grad("x", datetime_unit="ms"), clock.differentiate("x"))
    np.testing.assert_allclose(clock.grad("x", datetime_unit="ms"), 1.0, rtol=1e-13)


@BACKENDS
def test_grad_cftime_equals_differentiate(use_dask):
    pytest.importorskip("cftime")
    coord = xr.date_range("2000", periods=8, freq="2ME", use_cftime=True)
    arr = sample(coord, use_dask, dim="time")
    actual = arr.grad("time", datetime_unit="D")
    days = np.array([(t - coord[0]).total_seconds() for t in coord]) / 86400.0
    xr.testing.assert_equal(actual, arr.differentiate("time", edge_order=1, datetime_unit="D"))
    np.testing.assert_allclose(actual, np.gradient(np.asarray(arr), days, axis=0), rtol=1e-12)
    hours = arr.grad("time", datetime_unit="h")
    xr.testing.assert_equal(hours, arr.differentiate("time", datetime_unit="h"))
    np.testing.assert_allclose(actual, hours * 24, rtol=1e-14)
    # The default unit agrees too: seconds for cftime in both.
    xr.testing.assert_equal(arr.grad("time"), arr.differentiate("time"))
