"""accuracy=2 against numpy.gradient: every dtype, shape, axis and spacing.

numpy.gradient is the independent truth. The contract promises bit-for-bit
equality everywhere at accuracy=2: the interior and both ends, numpy's
uniform branch ``(f[i+1] - f[i-1]) / (2 h)`` and its two-point ends
``(f[1] - f[0]) / h`` included, in numpy's output dtype.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import (
    COORD_KINDS,
    assert_matches_numpy,
    coordinate,
    numpy_is_uniform,
    scaled_atol,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import xgradient
from xgradient import kernel
from xgradient.core import result_dtype
from xgradient.stencil import build_stencil

DTYPES = ("float64", "float32", "float16", "complex128", "complex64", "int32", "int64", "uint8", "bool")


def make_values(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        return rng.integers(lo, hi, shape, endpoint=True).astype(dtype)
    # Mixed magnitudes and signs.
    def real():
        return rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)

    if np.dtype(dtype).kind == "c":
        return (real() + 1j * real()).astype(dtype)
    return real().astype(dtype)


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 4))
    axis = draw(st.integers(-ndim, ndim - 1))
    edge_order = draw(st.sampled_from([1, 2]))
    n = draw(st.integers(edge_order + 1, 12))
    shape = [draw(st.integers(1, 4)) for _ in range(ndim)]
    shape[axis] = n
    kind = draw(st.sampled_from(COORD_KINDS))
    decreasing = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    return tuple(shape), axis, edge_order, kind, decreasing, dtype, seed


@settings(max_examples=100, deadline=None)
@given(cases())
def test_parity_with_numpy_property(case):
    shape, axis, edge_order, kind, decreasing, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = coordinate(kind, shape[axis], rng, decreasing)
    f = make_values(rng, shape, dtype)
    out = xgradient.gradient(f, x, axis=axis, edge_order=edge_order)
    assert_matches_numpy(out, f, x, axis % f.ndim, edge_order)


@pytest.mark.parametrize("shape", [(9,), (7, 5), (4, 6, 5), (3, 5, 4, 6)])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("decreasing", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int16"])
def test_parity_fixed_every_axis(shape, edge_order, decreasing, dtype):
    rng = np.random.default_rng(sum(shape) * 7 + edge_order)
    f = make_values(rng, shape, dtype)
    for axis in range(len(shape)):
        for kind in ("uniform", "random", "wild"):
            x = coordinate(kind, shape[axis], rng, decreasing)
            out = xgradient.gradient(f, x, axis=axis, edge_order=edge_order)
            assert_matches_numpy(out, f, x, axis, edge_order)


def test_default_axis_is_every_axis_like_numpy():
    """axis=None (numpy's default): one derivative per axis, a tuple, with one
    spacing per axis; a single coordinate for a 2-D array is numpy's TypeError."""
    rng = np.random.default_rng(1)
    f = rng.standard_normal((4, 6))
    y, x = coordinate("random", 4, rng), coordinate("uniform", 6, rng)
    got = xgradient.gradient(f, y, x)
    assert isinstance(got, tuple) and len(got) == 2
    for g, e in zip(got, np.gradient(f, y, x), strict=True):
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(got[1], xgradient.gradient(f, x, axis=1))
    with pytest.raises(TypeError, match="invalid number of arguments"):
        xgradient.gradient(f, x)


def test_float32_in_float32_out_rounded_once():
    """Float32 data, nonuniform float64 coordinate: computed in float64 and rounded once.

    numpy.gradient multiplies the float32 values by float64 weights and
    stores into a float32 array: one rounding. So the result equals numpy's
    bit for bit, and the float64 computation rounded to float32.
    """
    rng = np.random.default_rng(5)
    x = coordinate("wild", 50, rng)
    f32 = rng.standard_normal((3, 50)).astype(np.float32)
    out = xgradient.gradient(f32, x, axis=1, edge_order=2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.gradient(f32, x, axis=1, edge_order=2))
    ref64 = np.gradient(f32.astype(np.float64), x, axis=1, edge_order=2)
    np.testing.assert_array_equal(out, ref64.astype(np.float32))


def test_big_endian_float32_stays_float32():
    """netCDF data can arrive big-endian; float32 is float32 whatever its byte order."""
    rng = np.random.default_rng(6)
    x = coordinate("random", 10, rng)
    f = rng.standard_normal(10).astype(">f4")
    out = xgradient.gradient(f, x, axis=-1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[1:-1], np.gradient(f.astype("<f4"), x)[1:-1])


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint16", "bool"])
def test_integer_and_bool_give_float64(dtype):
    rng = np.random.default_rng(7)
    x = coordinate("random", 8, rng)
    f = make_values(rng, (3, 8), dtype)
    out = xgradient.gradient(f, x, axis=1)
    assert out.dtype == np.float64
    assert_matches_numpy(out, f, x, 1, 1)


def test_integer_coordinate():
    rng = np.random.default_rng(8)
    x = np.array([0, 3, 4, 10, 11, 30], dtype=np.int32)
    f = rng.standard_normal(6)
    for edge_order in (1, 2):
        out = xgradient.gradient(f, x, edge_order=edge_order, axis=-1)
        assert_matches_numpy(out, f, x.astype(np.float64), 0, edge_order)


def test_decreasing_equals_reversed_increasing():
    rng = np.random.default_rng(9)
    x = coordinate("wild", 20, rng)
    f = rng.standard_normal((2, 20))
    for edge_order in (1, 2):
        up = xgradient.gradient(f, x, edge_order=edge_order, axis=-1)
        down = xgradient.gradient(f[:, ::-1], x[::-1], edge_order=edge_order, axis=-1)
        np.testing.assert_allclose(down[:, ::-1], up, rtol=1e-13, atol=scaled_atol(f, x))


def test_two_points_edge_order_one():
    x = np.array([1.0, 4.0])
    f = np.array([[2.0, 8.0], [1.0, -5.0]])
    out = xgradient.gradient(f, x, axis=-1)
    np.testing.assert_array_equal(out, np.gradient(f, x, axis=-1))
    np.testing.assert_array_equal(out, [[2.0, 2.0], [-2.0, -2.0]])


def test_nan_in_data_propagates_like_numpy_nonuniform():
    rng = np.random.default_rng(10)
    x = coordinate("random", 12, rng)
    f = rng.standard_normal(12)
    for i in (0, 1, 5, 10, 11):
        g = f.copy()
        g[i] = np.nan
        for edge_order in (1, 2):
            out = xgradient.gradient(g, x, edge_order=edge_order, axis=-1)
            ref = np.gradient(g, x, edge_order=edge_order)
            np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))


@settings(max_examples=60, deadline=None)
@given(cases(), st.sampled_from([True, 2 * np.pi, 1000.0]))
def test_periodic_parity_with_numpy_on_padded_array(case, periodic):
    """Wrapped accuracy=2 equals numpy.gradient on the array padded with the other end, bit for bit."""
    shape, axis, _, kind, decreasing, dtype, seed = case
    rng = np.random.default_rng(seed)
    period = 360.0 if periodic is True else periodic
    n = shape[axis]
    if n < 3:
        return
    x = coordinate(kind, n, rng, decreasing)
    x = x / (abs(x[-1] - x[0]) * rng.uniform(1.01, 1.5)) * period  # span < period
    f = make_values(rng, shape, dtype)
    axis %= f.ndim
    out = xgradient.gradient(f, x, axis=axis, periodic=periodic)
    sign = 1.0 if x[-1] > x[0] else -1.0
    xp = np.concatenate([[x[-1] - sign * period], x, [x[0] + sign * period]])
    fp = np.concatenate([np.take(f, [-1], axis=axis), f, np.take(f, [0], axis=axis)], axis=axis)
    if fp.dtype == bool:
        fp = fp.astype(np.float64)
    expected = np.take(np.gradient(fp, xp, axis=axis), np.arange(1, n + 1), axis=axis)
    assert out.dtype == result_dtype(f.dtype) == expected.dtype
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=60, deadline=None)
@given(
    accuracy=st.sampled_from([2, 4, 6]),
    extra=st.integers(0, 6),
    ndim=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    decreasing=st.booleans(),
)
def test_periodic_equals_open_problem_on_padded_array(accuracy, extra, ndim, seed, decreasing):
    """Any accuracy: wrapping equals the open stencil on an array padded by h points a side.

    The padded problem's central rows use the same nodes as the wrapped rows,
    so they must agree (to rounding of the unwrapped offsets); n goes down to
    accuracy + 1, where every row wraps.
    """
    rng = np.random.default_rng(seed)
    h = accuracy // 2
    n = accuracy + 1 + extra
    period = 2 * np.pi
    x = np.sort(rng.uniform(0, 1, n))
    x = (x - x[0]) / (x[-1] - x[0]) * period * rng.uniform(0.6, 0.95)
    if decreasing:
        x = x[::-1].copy()
    axis = int(rng.integers(ndim))
    shape = [int(rng.integers(1, 4)) for _ in range(ndim)]
    shape[axis] = n
    f = rng.standard_normal(shape)
    sign = 1.0 if x[-1] > x[0] else -1.0
    xp = np.concatenate([x[n - h :] - sign * period, x, x[:h] + sign * period])
    idx = np.concatenate([np.arange(n - h, n), np.arange(n), np.arange(h)])
    fp = np.take(f, idx, axis=axis)
    expected = np.take(xgradient.gradient(fp, xp, axis=axis, accuracy=accuracy), np.arange(h, n + h), axis=axis)
    out = xgradient.gradient(f, x, axis=axis, accuracy=accuracy, periodic=period)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=scaled_atol(f, x, 1e-10))


# ---------------------------------------------------------------------------
# The pure-numpy fallback kernel and the compiled one compute the same numbers.

KERNEL_CASES = list(
    itertools.product(
        [(13,), (4, 13), (13, 3), (2, 13, 3), (2, 3, 13, 2)],
        [2, 4, 6],
        [1, 2],
        [None, 360.0],
        ["float64", "float32"],
    )
)


@pytest.mark.parametrize("shape,accuracy,edge_order,period,dtype", KERNEL_CASES)
def test_numpy_fallback_equals_compiled(monkeypatch, shape, accuracy, edge_order, period, dtype):
    rng = np.random.default_rng(len(shape) * 100 + accuracy + edge_order)
    axis = shape.index(13)
    x = np.sort(rng.uniform(0, 300, 13))
    f = rng.standard_normal(shape).astype(dtype)
    kw = {"axis": axis, "edge_order": edge_order, "accuracy": accuracy, "periodic": period}
    compiled = xgradient.gradient(f, x, **kw)
    monkeypatch.setattr(kernel, "HAVE_NUMBA", False)
    fallback = xgradient.gradient(f, x, **kw)
    assert fallback.dtype == compiled.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(fallback, compiled)
    if accuracy == 2 and period is None:
        assert_matches_numpy(fallback, f, x, axis, edge_order)


def test_kernel_is_really_compiled_in_this_environment():
    # Otherwise the fallback-vs-compiled comparison above compares a thing with itself.
    pytest.importorskip("numba")
    assert kernel.HAVE_NUMBA


# ---------------------------------------------------------------------------
# Memory layout does not change the numbers.


def layouts(f):
    yield "fortran", np.asfortranarray(f)
    yield "transposed-back", np.ascontiguousarray(f.T).T
    big = np.zeros(tuple(2 * s + 1 for s in f.shape), dtype=f.dtype)
    strided = big[tuple(slice(1, None, 2) for _ in f.shape)]
    strided[...] = f
    yield "strided", strided
    reversed_ = np.flip(np.flip(f).copy())
    yield "negative-strides", reversed_


@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_non_contiguous_inputs(accuracy, axis):
    rng = np.random.default_rng(12 + axis)
    f = rng.standard_normal((5, 7, 6))
    x = coordinate("wild", f.shape[axis], rng)
    expected = xgradient.gradient(np.ascontiguousarray(f), x, axis=axis, accuracy=accuracy)
    for name, g in layouts(f):
        np.testing.assert_array_equal(g, f)
        assert not g.flags.c_contiguous, name
        out = xgradient.gradient(g, x, axis=axis, accuracy=accuracy)
        np.testing.assert_array_equal(out, expected, err_msg=name)
        if accuracy == 2:
            assert_matches_numpy(out, g, x, axis, 1)


def test_sliced_view_of_larger_array():
    rng = np.random.default_rng(13)
    base = rng.standard_normal((10, 40))
    x = coordinate("random", 40, rng)[5:35:2]
    view = base[2:8, 5:35:2]
    out = xgradient.gradient(view, x, axis=1, edge_order=2)
    assert_matches_numpy(out, view, x, 1, 2)


@pytest.mark.parametrize("axis", [0, 1])
def test_large_array_threaded_path(axis):
    """Arrays above the threading threshold (2**20 elements) split between threads."""
    rng = np.random.default_rng(14)
    shape = (1100, 1000) if axis == 0 else (1000, 1100)
    f = rng.standard_normal(shape)
    assert f.size > kernel.THREAD_MIN_SIZE
    x = coordinate("random", shape[axis], rng)
    out = xgradient.gradient(f, x, axis=axis, edge_order=2)
    assert_matches_numpy(out, f, x, axis, 2)


def test_large_array_threaded_path_few_outer_rows():
    # outer (1) < threads: the split goes over the rows of the stencil instead.
    rng = np.random.default_rng(15)
    f = rng.standard_normal((1, 2_100_000))
    x = coordinate("random", f.shape[1], rng)
    out = xgradient.gradient(f, x, axis=1)
    assert_matches_numpy(out, f, x, 1, 1)
    g = rng.standard_normal((1, 1100, 1000))
    y = coordinate("random", 1100, rng)
    assert_matches_numpy(xgradient.gradient(g, y, axis=1), g, y, 1, 1)


@pytest.mark.parametrize("axis,dtype", [(0, "float64"), (1, "float32"), (2, "float64")])
def test_large_array_threaded_periodic(axis, dtype):
    """The threaded path with a wrapped coordinate: numpy.gradient on the padded array."""
    rng = np.random.default_rng(17 + axis)
    shape = [110, 100, 100]
    shape[axis] = 120
    f = rng.standard_normal(shape).astype(dtype)
    assert f.size > kernel.THREAD_MIN_SIZE
    x = np.sort(rng.uniform(0, 360, shape[axis]))
    out = xgradient.gradient(f, x, axis=axis, periodic=True)
    xp = np.concatenate([[x[-1] - 360], x, [x[0] + 360]])
    fp = np.concatenate([np.take(f, [-1], axis), f, np.take(f, [0], axis)], axis=axis)
    expected = np.take(np.gradient(fp.astype(np.float64), xp, axis=axis), np.arange(1, x.size + 1), axis)
    assert out.dtype == f.dtype
    np.testing.assert_array_equal(out, expected.astype(dtype))


def test_uniform_detection_follows_numpy():
    """numpy takes its uniform branch only when every step is exactly equal; so do we."""
    rng = np.random.default_rng(16)
    x = 0.1 * np.arange(30)  # 0.1 steps are not exactly equal in binary
    assert not numpy_is_uniform(x)
    xu = 0.125 * np.arange(30)
    assert numpy_is_uniform(xu)
    f = rng.standard_normal(30)
    for coord in (x, xu):
        out = xgradient.gradient(f, coord, edge_order=2, axis=-1)
        assert_matches_numpy(out, f, coord, 0, 2)



@pytest.mark.parametrize("periodic", [False, True])
def test_axis_before_long_rows_goes_in_column_tiles(periodic):
    """A short axis before many columns (3-D fields along time): the columns are
    swept in tiles, the one-sided and wrapped edge rows too; a partial last tile."""
    rng = np.random.default_rng(21)
    f = rng.standard_normal((7, 2 * kernel.TILE + 37))
    if periodic:
        x = np.sort(rng.uniform(0, 360, 7))
        out = xgradient.gradient(f, x, axis=0, periodic=True)
        xp = np.concatenate([[x[-1] - 360], x, [x[0] + 360]])
        expected = np.gradient(np.concatenate([f[-1:], f, f[:1]]), xp, axis=0)[1:-1]
        np.testing.assert_array_equal(out, expected)
    else:
        x = coordinate("random", 7, rng)
        assert_matches_numpy(xgradient.gradient(f, x, axis=0, edge_order=2), f, x, 0, 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,axis", [((5, 6, 7), 0), ((5, 6, 7), 1), ((5, 6, 7), 2), ((700, 1600), 1), ((3, 1200, 400), 1)])
def test_scale_multiplies_in_float64_before_rounding(shape, axis, dtype, monkeypatch):
    """kernel.apply(scale=s) is numpy.gradient (float64) times s, rounded once;
    compiled and numpy loops alike, threaded for the large shapes, and with halos."""
    rng = np.random.default_rng(sum(shape) + axis)
    x = coordinate("random", shape[axis], rng)
    s = build_stencil(x, edge_order=2)
    f = rng.standard_normal(shape).astype(dtype)
    factor_shape = list(shape)
    factor_shape[axis] = 1
    factor = rng.uniform(0.5, 2.0, factor_shape)
    expected = (np.gradient(f.astype(np.float64), x, axis=axis, edge_order=2) * factor).astype(dtype)
    np.testing.assert_array_equal(kernel.apply(f, s.weights, s.start, axis=axis, scale=factor), expected)
    # The same rows as one interior block between halos (the dask path's form).
    lo = np.take(f, [0], axis)
    hi = np.take(f, [shape[axis] - 1], axis)
    inner = np.take(f, range(1, shape[axis] - 1), axis)
    got = kernel.apply(inner, s.weights[1:-1], s.start[1:-1], axis=axis, left=lo, right=hi, scale=factor)
    np.testing.assert_array_equal(got, np.take(expected, range(1, shape[axis] - 1), axis))
    if f.size < 1000:
        monkeypatch.setattr(kernel, "HAVE_NUMBA", False)
        np.testing.assert_array_equal(kernel.apply(f, s.weights, s.start, axis=axis, scale=factor), expected)
