"""xgradient.gradient as a drop-in for numpy.gradient.

Two independent truths: numpy's own ``TestGradient`` (shipped in the numpy
wheel, run here unmodified with its ``gradient`` and ``np.gradient`` pointed
at ours), and numpy.gradient's numbers, bit for bit, over every dtype,
spacing form, axis form and edge order, numpy- and dask-backed.
"""

from __future__ import annotations

import importlib.util
import pathlib
import types
import warnings

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xgradient

NUMPY_TESTS = pathlib.Path(np.__file__).parent / "lib" / "tests" / "test_function_base.py"


def _load_numpy_tests():
    """numpy's test module, its ``gradient`` and ``np.gradient`` ours.

    ``np`` in that module becomes a stand-in that is numpy except for
    ``gradient``: patching numpy itself would also redirect the calls that
    xgradient hands to numpy.gradient (masked arrays, datetimes).
    """
    if not NUMPY_TESTS.exists():  # pragma: no cover - a wheel without its tests
        return None
    spec = importlib.util.spec_from_file_location("numpy_test_function_base", NUMPY_TESTS)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        # numpy's own marks (thread_unsafe, ...) are registered by numpy's conftest, not ours.
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        spec.loader.exec_module(module)

    class NumpyButOurGradient(types.ModuleType):
        def __getattr__(self, name):
            return getattr(np, name)

    stand_in = NumpyButOurGradient("numpy")
    stand_in.gradient = xgradient.gradient
    module.np = stand_in
    module.gradient = xgradient.gradient
    return module


_numpy_tests = _load_numpy_tests()

if _numpy_tests is not None:

    class TestNumpyGradient(_numpy_tests.TestGradient):
        """numpy's TestGradient, inherited whole: its methods run against xgradient."""

else:  # pragma: no cover

    def test_numpy_gradient_tests_are_shipped():
        pytest.skip(f"this numpy wheel does not ship its tests ({NUMPY_TESTS} is missing)")


def test_numpy_tests_really_call_xgradient(monkeypatch):
    """The inherited tests reach xgradient.gradient (not numpy's), all of them."""
    if _numpy_tests is None:  # pragma: no cover
        pytest.skip("numpy's tests are not installed")
    assert _numpy_tests.gradient is xgradient.gradient
    assert _numpy_tests.np.gradient is xgradient.gradient
    assert _numpy_tests.np.array is np.array
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return xgradient.gradient(*args, **kwargs)

    monkeypatch.setattr(_numpy_tests, "gradient", spy)
    monkeypatch.setattr(_numpy_tests.np, "gradient", spy)
    TestNumpyGradient().test_spacing()
    TestNumpyGradient().test_second_order_accurate()  # calls np.gradient
    assert len(calls) >= 20
    names = [n for n in dir(_numpy_tests.TestGradient) if n.startswith("test_")]
    # The class in numpy 2.4: 16 methods, 28 tests with parametrization.
    assert len(names) >= 15
    assert all(getattr(TestNumpyGradient, n) is getattr(_numpy_tests.TestGradient, n) for n in names)


def test_numpy_tests_count(request):
    """pytest collected every test of numpy's class (parametrized ones expanded)."""
    if _numpy_tests is None:  # pragma: no cover
        pytest.skip("numpy's tests are not installed")
    expected = 0
    for name in dir(_numpy_tests.TestGradient):
        if not name.startswith("test_"):
            continue
        marks = getattr(getattr(_numpy_tests.TestGradient, name), "pytestmark", [])
        n = 1
        for mark in marks:
            if mark.name == "parametrize":
                n *= len(mark.args[1])
        expected += n
    collected = [
        item for item in request.session.items if "TestNumpyGradient" in item.nodeid
    ]
    if len(collected) == 0:
        pytest.skip("TestNumpyGradient was deselected in this run")
    assert len(collected) == expected >= 25


# ---------------------------------------------------------------------------
# Bit for bit, everything at once.

DTYPES = [
    "float64",
    "float32",
    "float16",
    "complex128",
    "complex64",
    "int64",
    "int32",
    "int8",
    "uint8",
    "uint64",
]
SPACINGS = [
    "none",
    "python-float",
    "python-int",
    "np.float64",
    "np.float32",
    "0-d array",
    "uniform-coord",
    "uniform-int-coord",
    "uniform-float32-coord",
    "random-coord",
    "random-float32-coord",
    "nearly-uniform-coord",
]


def make_data(rng, shape, dtype):
    def real():
        return rng.standard_normal(shape) * 10.0 ** rng.integers(-2, 3, shape)

    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (real() + 1j * real()).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -(2**40)), min(info.max, 2**40), shape, endpoint=True).astype(dtype)
    return real().astype(dtype)


def make_spacing(rng, kind, n, decreasing):
    sign = -1 if decreasing else 1
    h = float(rng.choice([0.1, 0.25, 3.0, 1e-3, 7.3]))
    if kind == "python-float":
        return sign * h
    if kind == "python-int":
        return sign * int(rng.integers(1, 5))
    if kind == "np.float64":
        return np.float64(sign * h)
    if kind == "np.float32":
        return np.float32(sign * h)
    if kind == "0-d array":
        return np.array(sign * h)
    if kind == "uniform-coord":
        x = 0.25 * np.arange(n) - 1.0
    elif kind == "uniform-int-coord":
        x = 3 * np.arange(n) + 5
    elif kind == "uniform-float32-coord":
        x = (0.5 * np.arange(n)).astype(np.float32)
    elif kind == "random-coord":
        x = np.cumsum(rng.uniform(0.1, 1.1, n))
    elif kind == "random-float32-coord":
        x = np.cumsum(rng.uniform(0.1, 1.1, n)).astype(np.float32)
    else:  # nearly uniform: numpy's nonuniform branch
        x = np.arange(n) + 1e-9 * rng.uniform(-1, 1, n)
    return x[::-1].copy() if decreasing else x


@st.composite
def gradient_cases(draw):
    ndim = draw(st.integers(1, 3))
    edge_order = draw(st.sampled_from([1, 2]))
    shape = tuple(draw(st.integers(edge_order + 1, 7)) for _ in range(ndim))
    axis_form = draw(st.sampled_from(["none", "int", "tuple"]))
    if axis_form == "none":
        axis, axes = None, tuple(range(ndim))
    elif axis_form == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
        axes = (axis % ndim,)
    else:
        axes = tuple(draw(st.permutations(range(ndim)))[: draw(st.integers(1, ndim))])
        axis = axes
    spacing = draw(st.sampled_from(SPACINGS))
    per_axis = draw(st.booleans())  # one spacing per axis rather than one for all
    dtype = draw(st.sampled_from(DTYPES))
    decreasing = draw(st.booleans())
    dask_chunks = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, s) for s in shape])))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, axis, axes, edge_order, spacing, per_axis, dtype, decreasing, dask_chunks, seed


def spacing_args(rng, kind, per_axis, shape, axes, decreasing):
    if kind == "none":
        return ()
    coordinate = kind.endswith("coord")
    if coordinate or per_axis:
        return tuple(make_spacing(rng, kind, shape[a], decreasing) for a in axes)
    return (make_spacing(rng, kind, 0, decreasing),)


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@settings(max_examples=300, deadline=None)
@given(gradient_cases())
def test_bit_for_bit_with_numpy_gradient(case):
    shape, axis, axes, edge_order, spacing, per_axis, dtype, decreasing, dask_chunks, seed = case
    rng = np.random.default_rng(seed)
    f = make_data(rng, shape, dtype)
    args = spacing_args(rng, spacing, per_axis, shape, axes, decreasing)
    with np.errstate(all="ignore"):  # float16 may overflow: numpy warns, we match its inf
        expected = np.gradient(f, *args, axis=axis, edge_order=edge_order)
    data = f if dask_chunks is None else da.from_array(f, chunks=dask_chunks)
    got = xgradient.gradient(data, *args, axis=axis, edge_order=edge_order)
    assert isinstance(got, tuple) == isinstance(expected, tuple)
    for g, e in zip(as_tuple(got), as_tuple(expected), strict=True):
        if dask_chunks is not None:
            assert isinstance(g, da.Array)
            assert g.dtype == e.dtype
            g = g.compute()
        assert g.dtype == e.dtype
        assert g.shape == e.shape
        assert np.array_equal(g, e, equal_nan=True), (g, e)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "complex64", "complex128", "int16"])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize(
    "spacing", ["none", "python-float", "np.float32", "uniform-coord", "random-coord", "random-float32-coord"]
)
def test_large_arrays_every_path(dtype, edge_order, spacing):
    """Beyond hypothesis's small shapes: the threaded compiled loops, column
    tiles, and dask blocks with halos along both axes."""
    rng = np.random.default_rng(3)
    f = make_data(rng, (300, 3500), dtype)
    args = spacing_args(rng, spacing, False, f.shape, (0, 1), False)
    with np.errstate(all="ignore"):
        expected = np.gradient(f, *args, edge_order=edge_order)
    got = xgradient.gradient(f, *args, edge_order=edge_order)
    lazy = xgradient.gradient(da.from_array(f, chunks=(70, 900)), *args, edge_order=edge_order)
    for g, lz, e in zip(got, lazy, expected, strict=True):
        assert g.dtype == lz.dtype == e.dtype
        assert np.array_equal(g, e, equal_nan=True)
        assert np.array_equal(lz.compute(), e, equal_nan=True)


def test_nan_and_inf_propagate_as_numpy():
    """numpy's uniform branch never reads f[i]; its nonuniform one multiplies it."""
    f = np.array([0.0, 1.0, np.nan, 9.0, np.inf, 25.0, 36.0])
    for args in ((), (0.5,), (np.array([0.0, 1.0, 2.0, 4.0, 5.0, 7.0, 8.0]),)):
        for edge_order in (1, 2):
            with np.errstate(all="ignore"):
                expected = np.gradient(f, *args, edge_order=edge_order)
            got = xgradient.gradient(f, *args, edge_order=edge_order)
            assert np.array_equal(got, expected, equal_nan=True)


def test_returns_and_dtypes_like_numpy():
    f = np.arange(12, dtype=np.float16).reshape(3, 4)
    both = xgradient.gradient(f)
    assert isinstance(both, tuple) and len(both) == 2
    assert all(g.dtype == np.float16 for g in both)
    assert xgradient.gradient(f, axis=1).dtype == np.float16
    assert xgradient.gradient(f.astype(np.int8), axis=0).dtype == np.float64
    assert xgradient.gradient(f.astype(np.complex64), axis=0).dtype == np.complex64
    lazy = xgradient.gradient(da.from_array(f, chunks=2))
    assert isinstance(lazy, tuple) and all(isinstance(g, da.Array) for g in lazy)


def test_masked_and_datetime_go_to_numpy():
    m = np.ma.array([1.0, 4.0, 9.0, 16.0], mask=[False, True, False, False])
    out = xgradient.gradient(m)
    assert isinstance(out, np.ma.MaskedArray)
    np.testing.assert_array_equal(out.mask, np.gradient(m).mask)
    t = np.array(["2000-01-01", "2000-01-03", "2000-01-07"], dtype="datetime64[D]")
    np.testing.assert_array_equal(xgradient.gradient(t), np.gradient(t))
    with pytest.raises(TypeError, match="masked arrays"):
        xgradient.gradient(m, accuracy=4)


@pytest.mark.parametrize(
    "args,kw,exc,match",
    [
        ((np.ones((5, 5)), np.arange(5.0)), {}, TypeError, "invalid number of arguments"),
        ((np.ones((5, 5)), 1, 1, 1), {}, TypeError, "invalid number of arguments"),
        ((np.ones((5, 5)), np.ones((5, 2)), 1), {}, ValueError, "scalars or 1d"),
        ((np.ones((5, 5)), np.arange(4.0), 1), {}, ValueError, "must match the length"),
        ((np.ones(2),), {"edge_order": 2}, ValueError, "too small"),
        ((np.ones(1),), {}, ValueError, "too small"),
        ((np.ones((2, 3)),), {"axis": 2}, np.exceptions.AxisError, "axis 2"),
        ((np.ones((2, 3)),), {"axis": (0, 0)}, ValueError, "repeated axis"),
        ((np.ones(4), 0.0), {}, ValueError, "non-zero"),
        ((np.ones(4), np.nan), {}, ValueError, "finite"),
        ((np.ones(4),), {"edge_order": 3}, ValueError, "edge_order"),
    ],
)
def test_errors_like_numpy(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        xgradient.gradient(*args, **kw)
    if "non-zero" not in match and "finite" not in match and "repeated" not in match:
        with pytest.raises(exc):  # numpy raises the same type
            with np.errstate(all="ignore"):
                np.gradient(*args, **kw)


def test_extras_with_numpy_spacing_forms():
    """accuracy/periodic/skipna work with every spacing form numpy accepts."""
    rng = np.random.default_rng(4)
    x = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    f = np.sin(x)[:, None] * np.cos(x)[None, :]
    h = float(x[1] - x[0])
    dy, dx = xgradient.gradient(f, h, x, accuracy=6, periodic=2 * np.pi)
    np.testing.assert_allclose(dy, np.cos(x)[:, None] * np.cos(x)[None, :], atol=1e-6)
    np.testing.assert_allclose(dx, -np.sin(x)[:, None] * np.sin(x)[None, :], atol=1e-6)
    g = f.copy()
    g[rng.integers(0, 40, 5), rng.integers(0, 40, 5)] = np.nan
    filled = xgradient.gradient(g, h, axis=1, skipna=True)
    plain = xgradient.gradient(g, h, axis=1)
    assert np.isnan(filled).sum() < np.isnan(plain).sum()
