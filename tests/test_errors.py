"""Bad input raises at call time, before any dask compute, with a precise message.

Each case is run on numpy and on dask input; the accessor's messages must
also name the coordinate the user typed.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import no_compute

import xgradient
from xgradient import UnknownCoordinateError


def as_numpy(a):
    return np.asarray(a)


def as_dask(a):
    a = np.asarray(a)
    return da.from_array(a, chunks=tuple(max(1, s // 2) for s in a.shape))


BACKENDS = pytest.mark.parametrize("wrap", [as_numpy, as_dask], ids=["numpy", "dask"])

F = np.arange(12.0).reshape(2, 6) ** 2
X = np.array([0.0, 1.0, 2.5, 3.0, 7.0, 8.0])


def call(wrap, values=F, coord=X, **kw):
    kw.setdefault("axis", -1)
    with no_compute():
        return xgradient.gradient(wrap(values), coord, **kw)


# ---------------------------------------------------------------------------
# Array level: xgradient.gradient


@BACKENDS
def test_repeated_value(wrap):
    x = X.copy()
    x[3] = x[2]
    with pytest.raises(ValueError, match=r"repeated value 2\.5 at index 3"):
        call(wrap, coord=x)


@BACKENDS
def test_repeated_value_decreasing(wrap):
    x = X[::-1].copy()
    x[5] = x[4]
    with pytest.raises(ValueError, match="at index 5"):
        call(wrap, coord=x)


@BACKENDS
def test_non_monotonic(wrap):
    x = np.array([0.0, 1.0, 2.5, 2.0, 7.0, 8.0])
    with pytest.raises(ValueError, match=r"not monotonic.*index 3"):
        call(wrap, coord=x)
    with pytest.raises(ValueError, match=r"not monotonic.*index 2"):
        call(wrap, coord=np.array([5.0, 4.0, 4.5, 3.0, 2.0, 1.0]))


@BACKENDS
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinate(wrap, bad):
    x = X.copy()
    x[4] = bad
    with pytest.raises(ValueError, match="index 4"):
        call(wrap, coord=x)


@BACKENDS
@pytest.mark.parametrize(
    "n,kw,need",
    [
        (1, {}, 2),
        (2, {"edge_order": 2}, 3),
        (4, {"accuracy": 4}, 5),
        (6, {"accuracy": 6}, 7),
        (2, {"periodic": True}, 3),
        (4, {"periodic": 360.0, "accuracy": 4}, 5),
    ],
)
def test_too_few_points(wrap, n, kw, need):
    x = X[:n]
    with pytest.raises(ValueError, match=f"needs at least {need}"):
        call(wrap, values=F[:, :n], coord=x, **kw)


@BACKENDS
@pytest.mark.parametrize("edge_order", [0, 3, 1.5, True, "1"])
def test_edge_order_out_of_range(wrap, edge_order):
    with pytest.raises(ValueError, match="edge_order"):
        call(wrap, edge_order=edge_order)


@BACKENDS
@pytest.mark.parametrize("accuracy", [1, 3, 8, 0, True])
def test_accuracy_out_of_range(wrap, accuracy):
    with pytest.raises(ValueError, match="accuracy"):
        call(wrap, accuracy=accuracy)


@BACKENDS
@pytest.mark.parametrize("periodic", [0, -360.0, "yes", 5.0, 8.0])
def test_bad_period(wrap, periodic):
    # 5.0 and 8.0 are not longer than the span of X (8): the coordinate cannot wrap.
    with pytest.raises(ValueError, match="period"):
        call(wrap, periodic=periodic)


@BACKENDS
def test_string_coordinate(wrap):
    with pytest.raises(TypeError, match="dtype"):
        call(wrap, coord=np.array(list("abcdef")))


@BACKENDS
def test_datetime_coordinate_needs_accessor(wrap):
    t = np.arange(6).astype("datetime64[D]")
    with pytest.raises(TypeError, match="datetime64"):
        call(wrap, coord=t)


@BACKENDS
@pytest.mark.parametrize(
    "values",
    [
        np.array([list("abcdef")] * 2),
        np.array([[object()] * 6] * 2, dtype=object),
    ],
    ids=["str", "object"],
)
def test_non_numeric_data(wrap, values):
    with pytest.raises(TypeError, match="dtype"):
        call(wrap, values=values)


@BACKENDS
def test_two_dimensional_coordinate(wrap):
    with pytest.raises(ValueError, match="1-D"):
        call(wrap, coord=np.tile(X, (2, 1)))


@BACKENDS
def test_length_mismatch(wrap):
    with pytest.raises(ValueError, match="6 values but axis 0 of the data has length 2"):
        call(wrap, axis=0)


@BACKENDS
def test_axis_out_of_range(wrap):
    with pytest.raises(np.exceptions.AxisError):
        call(wrap, axis=2)


# ---------------------------------------------------------------------------
# The accessor: the message names the coordinate the user typed


def make_da(wrap, x=X, name="x", attrs=None):
    arr = xr.DataArray(F, dims=("y", name), coords={name: (name, x, attrs or {})}, name="f")
    return arr.chunk({"y": 1, name: 3}) if wrap is as_dask else arr


def grad(arr, *args, **kw):
    with no_compute():
        return arr.grad(*args, **kw)


@BACKENDS
def test_unknown_name(wrap):
    arr = make_da(wrap)
    for exc in (UnknownCoordinateError, KeyError, ValueError):
        with pytest.raises(exc, match="'depth'"):
            grad(arr, "depth")
    with pytest.raises(UnknownCoordinateError, match="'depth'"):
        grad(arr, ["x", "depth"])
    with pytest.raises(UnknownCoordinateError, match="'depth'"):
        grad(arr.to_dataset(), "depth")


def test_unknown_coordinate_error_is_both():
    assert issubclass(UnknownCoordinateError, KeyError)
    assert issubclass(UnknownCoordinateError, ValueError)


@BACKENDS
def test_accessor_repeated_and_non_monotonic(wrap):
    x = X.copy()
    x[3] = x[2]
    with pytest.raises(ValueError, match=r"'x'.*index 3"):
        grad(make_da(wrap, x), "x")
    x = np.array([0.0, 1.0, 2.5, 2.0, 7.0, 8.0])
    with pytest.raises(ValueError, match=r"'x'.*index 3"):
        grad(make_da(wrap, x), "x")
    with pytest.raises(ValueError, match=r"'x'.*index 3"):
        grad(make_da(wrap, x).to_dataset(), "x")


@BACKENDS
def test_accessor_nan_in_coordinate(wrap):
    x = X.copy()
    x[1] = np.nan
    with pytest.raises(ValueError, match=r"'x'.*index 1"):
        grad(make_da(wrap, x), "x")


@BACKENDS
def test_accessor_too_few_points(wrap):
    arr = make_da(wrap).isel(x=slice(0, 4))
    with pytest.raises(ValueError, match=r"'x'.*needs at least 5"):
        grad(arr, "x", accuracy=4)
    with pytest.raises(ValueError, match=r"'x'.*needs at least 2"):
        grad(arr.isel(x=slice(0, 1)), "x")


@BACKENDS
def test_accessor_options_out_of_range_name_the_coordinate(wrap):
    arr = make_da(wrap)
    with pytest.raises(ValueError, match=r"edge_order.*'x'"):
        grad(arr, "x", edge_order=3)
    with pytest.raises(ValueError, match=r"accuracy.*'x'"):
        grad(arr, "x", accuracy=5)
    with pytest.raises(ValueError, match="periodic"):
        grad(arr, "x", periodic="global")


@BACKENDS
def test_accessor_string_coordinate(wrap):
    arr = make_da(wrap).assign_coords(label=("x", list("abcdef")))
    with pytest.raises(TypeError, match="'label'"):
        grad(arr, "label")


@BACKENDS
def test_accessor_non_numeric_data(wrap):
    arr = xr.DataArray(np.array(list("abcdef")), dims="x", coords={"x": X}, name="s")
    if wrap is as_dask:
        arr = arr.chunk({"x": 2})
    with pytest.raises(TypeError, match="dtype"):
        grad(arr, "x")


@BACKENDS
def test_accessor_two_dimensional_coordinate(wrap):
    arr = make_da(wrap).assign_coords(lon2d=(("y", "x"), np.tile(X, (2, 1))))
    with pytest.raises(ValueError, match="'lon2d'.*1-D"):
        grad(arr, "lon2d")


@BACKENDS
def test_accessor_coordinate_without_the_dimension(wrap):
    # A scalar coordinate: the DataArray has no dimension to differentiate along.
    arr = make_da(wrap).assign_coords(level=5.0)
    with pytest.raises(ValueError, match="'level'"):
        grad(arr, "level")
    # A dimension the DataArray lacks altogether.
    with pytest.raises(ValueError, match="'z'"):
        grad(arr, "z")


@BACKENDS
def test_accessor_bad_time(wrap):
    t = np.array(["2000-01-01", "NaT", "2000-01-03", "2000-01-04", "2000-01-05", "2000-01-06"], dtype="datetime64[ns]")
    arr = make_da(wrap, t, name="time")
    with pytest.raises(ValueError, match=r"'time'.*index 1"):
        grad(arr, "time")
    ok = make_da(wrap, np.arange(6).astype("datetime64[D]").astype("datetime64[ns]"), name="time")
    with pytest.raises(ValueError, match="datetime_unit"):
        grad(ok, "time", datetime_unit="fortnight")


def test_accessor_empty_list():
    with pytest.raises(ValueError, match="no coordinate"):
        make_da(as_numpy).grad([])

