"""Dask input: lazy, any chunking gives exactly the in-memory numbers, small graphs.

Truths: the in-memory result (itself checked against numpy.gradient in
test_parity.py, and here again directly for accuracy=2), the chunk structure
of the input, and the size of the stencil weights.
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import assert_matches_numpy, coordinate, no_compute
from dask.callbacks import Callback
from hypothesis import given, settings
from hypothesis import strategies as st

import xgradient
from xgradient import core
from xgradient.stencil import build_stencil


@st.composite
def partitions(draw, n):
    """A random chunking of n points: sizes >= 1 summing to n."""
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else set()
    edges = [0, *sorted(cuts), n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@st.composite
def dask_cases(draw):
    ndim = draw(st.integers(1, 3))
    axis = draw(st.integers(0, ndim - 1))
    accuracy = draw(st.sampled_from([2, 4, 6]))
    edge_order = draw(st.sampled_from([1, 2]))
    periodic = draw(st.sampled_from([None, None, True, 1000.0]))
    need = edge_order + 1 if (accuracy == 2 and periodic is None) else accuracy + 1
    n = draw(st.integers(need, 16))
    shape = [draw(st.integers(1, 4)) for _ in range(ndim)]
    shape[axis] = n
    chunks = tuple(draw(partitions(s)) for s in shape)
    dtype = draw(st.sampled_from(["float64", "float32"]))
    kind = draw(st.sampled_from(["random", "wild", "uniform"]))
    decreasing = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return tuple(shape), axis, chunks, accuracy, edge_order, periodic, dtype, kind, decreasing, seed


def check_chunks(result, source, axis):
    """Chunks kept, except merges of neighbouring chunks along `axis`."""
    assert result.shape == source.shape
    for d, (out, src) in enumerate(zip(result.chunks, source.chunks)):
        if d != axis:
            assert out == src, (d, out, src)
    out_edges = set(np.cumsum(result.chunks[axis]))
    src_edges = set(np.cumsum(source.chunks[axis]))
    assert out_edges <= src_edges  # only merges, never new cuts


@settings(max_examples=70, deadline=None)
@given(dask_cases())
def test_any_chunking_equals_numpy(case):
    shape, axis, chunks, accuracy, edge_order, periodic, dtype, kind, decreasing, seed = case
    rng = np.random.default_rng(seed)
    x = coordinate(kind, shape[axis], rng, decreasing)
    if periodic is not None:
        x = x / (abs(x[-1] - x[0]) * 1.05) * (360.0 if periodic is True else periodic)
    f = rng.standard_normal(shape).astype(dtype)
    d = da.from_array(f, chunks=chunks)
    kw = {"axis": axis, "edge_order": edge_order, "accuracy": accuracy, "periodic": periodic}
    with no_compute():
        lazy = xgradient.gradient(d, x, **kw)
    assert isinstance(lazy, da.Array)
    assert lazy.dtype == f.dtype
    check_chunks(lazy, d, axis)
    if min(chunks[axis]) >= accuracy + 1:
        assert lazy.chunks == d.chunks  # nothing had to be merged
    out = lazy.compute(scheduler="sync")
    assert out.dtype == f.dtype
    np.testing.assert_array_equal(out, xgradient.gradient(f, x, **kw))
    if accuracy == 2 and periodic is None:
        assert_matches_numpy(out, f, x, axis, edge_order)


CHUNKINGS = [
    (1,) * 12,
    (5, 1, 1, 1, 4),
    (1, 1, 10),
    (10, 1, 1),
    (2, 3, 2, 3, 2),
    (12,),
    (7, 5),
]


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("periodic", [None, True])
def test_fixed_chunkings(chunks, accuracy, periodic):
    rng = np.random.default_rng(sum(chunks) + accuracy)
    x = np.sort(rng.uniform(0, 350, 12))
    f = rng.standard_normal((3, 12, 2))
    d = da.from_array(f, chunks=((1, 2), chunks, (1, 1)))
    with no_compute():
        lazy = xgradient.gradient(d, x, axis=1, accuracy=accuracy, periodic=periodic)
    check_chunks(lazy, d, 1)
    np.testing.assert_array_equal(
        lazy.compute(), xgradient.gradient(f, x, axis=1, accuracy=accuracy, periodic=periodic)
    )


@pytest.mark.parametrize("chunks", [(1,) * 9, (4, 1, 1, 3), (1, 8), (2, 2, 2, 2, 1)])
def test_periodic_small_and_uneven_chunks_against_wrapped_numpy(chunks):
    """Periodic accuracy=2 on chunks of size 1: numpy.gradient on a hand-padded array."""
    rng = np.random.default_rng(len(chunks))
    x = np.sort(rng.uniform(0, 360, 9))
    f = rng.standard_normal((2, 9))
    xp = np.concatenate([[x[-1] - 360], x, [x[0] + 360]])
    fp = np.concatenate([f[:, -1:], f, f[:, :1]], axis=1)
    expected = np.gradient(fp, xp, axis=1)[:, 1:-1]
    d = da.from_array(f, chunks=(1, chunks))
    with no_compute():
        lazy = xgradient.gradient(d, x, periodic=True, axis=-1)
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=1e-12)


def test_laziness_counted_with_callback():
    rng = np.random.default_rng(1)
    x = coordinate("random", 30, rng)
    d = da.from_array(rng.standard_normal((4, 30)), chunks=(2, 7))
    started = []

    class Count(Callback):
        def _start(self, dsk):
            started.append(len(dsk))

    with Count():
        lazy = xgradient.gradient(d, x, axis=1, accuracy=4)
    assert started == []
    with Count():
        lazy.compute()
    assert len(started) == 1  # the callback does see computations


def test_accessor_on_dask_is_lazy_and_exact(rng):
    x = coordinate("wild", 20, rng)
    lat = coordinate("random", 6, rng)
    arr = xr.DataArray(
        rng.standard_normal((20, 6, 3)).astype(np.float32),
        dims=("depth", "lat", "t"),
        coords={"depth": x, "lat": lat},
        name="theta",
        attrs={"units": "K"},
    )
    ds = xr.Dataset({"theta": arr, "other": arr.isel(t=0) * 2})
    chunked = ds.chunk({"depth": 3, "lat": 1, "t": 2})
    for coord in ("depth", "lat"):
        with no_compute():
            lazy_da = chunked.theta.grad(coord, edge_order=2)
            lazy_ds = chunked.grad(coord, accuracy=4)
        assert isinstance(lazy_da.data, da.Array)
        check_chunks(lazy_da.data, chunked.theta.data, lazy_da.get_axis_num(coord))
        assert lazy_da.dtype == np.float32
        xr.testing.assert_identical(lazy_da.compute(), ds.theta.grad(coord, edge_order=2))
        xr.testing.assert_identical(lazy_ds.compute(), ds.grad(coord, accuracy=4))


@pytest.mark.parametrize("option", ["geo", "skipna", "periodic-accuracy6"])
def test_accessor_options_on_dask_equal_memory(option):
    """.grad on dask data, every chunking of the test, both dask backends: the
    in-memory bits (checked against numpy and analytic truths in test_geo,
    test_skipna, test_parity)."""
    rng = np.random.default_rng(7)
    lat = np.sort(rng.uniform(-80.0, 80.0, 13))
    lon = np.arange(0.0, 360.0, 20.0)  # global: wraps
    values = rng.standard_normal((4, 13, 18))
    if option == "skipna":
        values[:, 5:8, 3:6] = np.nan
    arr = xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
        name="t",
    )
    kw = {
        "geo": {"geo": True},
        "skipna": {"skipna": True},
        "periodic-accuracy6": {"accuracy": 6},
    }[option]
    for coord in ("lat", "lon"):
        expected = arr.grad(coord, **kw)
        for chunks in ({"lat": 1, "lon": 1}, {"time": 3, "lat": 4, "lon": 7}, {"lon": 5}):
            with no_compute():
                lazy = arr.chunk(chunks).grad(coord, **kw)
            xr.testing.assert_identical(lazy.compute(), expected)


def test_accessor_dask_list_of_names_is_lazy(rng):
    arr = xr.DataArray(
        rng.standard_normal((8, 9)), dims=("a", "b"), coords={"a": coordinate("random", 8, rng)}
    ).chunk({"a": 1, "b": 4})
    with no_compute():
        out = arr.grad(["a", "b"])
    assert all(isinstance(v.data, da.Array) for v in out.data_vars.values())
    xr.testing.assert_identical(out.compute(), arr.compute().grad(["a", "b"]))


def graph_bytes(arr):
    return len(pickle.dumps(dict(arr.__dask_graph__()), protocol=pickle.HIGHEST_PROTOCOL))


@pytest.mark.parametrize("accuracy", [2, 6])
def test_graph_holds_weights_once_not_coordinate_per_task(accuracy):
    """Graph size grows with the coordinate or the number of chunks, not their product."""
    n = 100_000
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    weights_bytes = n * (accuracy + 1) * 8
    sizes = {}
    for nchunks in (10, 1000):
        d = da.ones(n, chunks=n // nchunks)  # tiny graph of its own
        lazy = xgradient.gradient(d, x, accuracy=accuracy)
        assert lazy.numblocks == (nchunks,)
        sizes[nchunks] = graph_bytes(lazy)
    # If every task carried the whole coordinate (or all weights), 1000 chunks
    # would need > 1000 x weights_bytes. Allow the weights a few times over
    # plus a per-chunk overhead.
    per_chunk = 4_000
    assert sizes[1000] < 3 * weights_bytes + 1000 * per_chunk, sizes
    assert sizes[1000] - sizes[10] < 990 * per_chunk, sizes


def test_many_chunks_compute_the_right_numbers():
    n = 10_000
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    f = np.sin(x / 50.0)
    d = da.from_array(f, chunks=n // 200)
    np.testing.assert_array_equal(xgradient.gradient(d, x).compute(), xgradient.gradient(f, x))
    assert_matches_numpy(xgradient.gradient(d, x).compute(), f, x, 0, 1)


def test_int_dask_input_gives_float64():
    rng = np.random.default_rng(4)
    x = coordinate("random", 10, rng)
    f = rng.integers(-100, 100, (3, 10))
    with no_compute():
        lazy = xgradient.gradient(da.from_array(f, chunks=(2, 3)), x, axis=-1)
    assert lazy.dtype == np.float64
    out = lazy.compute()
    assert out.dtype == np.float64
    assert_matches_numpy(out, f, x, 1, 1)


def test_distributed_scheduler(rng):
    distributed = pytest.importorskip("distributed")
    x = coordinate("wild", 25, rng)
    f = rng.standard_normal((25, 4))
    d = da.from_array(f, chunks=(3, 2))
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as client:
        lazy = xgradient.gradient(d, x, axis=0, accuracy=4, periodic=720.0)
        out = client.compute(lazy).result()
    np.testing.assert_array_equal(out, xgradient.gradient(f, x, axis=0, accuracy=4, periodic=720.0))
    with dask.config.set(scheduler="sync"):
        assert_matches_numpy(xgradient.gradient(d, x, axis=0).compute(), f, x, 0, 1)


# ---------------------------------------------------------------------------
# Every option of the block path, bit for bit against the in-memory path


@pytest.mark.parametrize(
    "chunks",
    [(1,) * 14, (5, 5, 4), (6, 7, 1), (13, 1), (14,), (2, 3, 4, 5)],
    ids=["size-1", "even", "uneven-last-1", "last-1", "one", "growing"],
)
@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("periodic", [None, 360.0])
@pytest.mark.parametrize("option", ["plain", "skipna", "scale"])
def test_block_path_equals_memory_path(chunks, accuracy, periodic, option):
    """Truth: the in-memory path (checked against numpy.gradient and analytic
    derivatives in test_parity/test_convergence/test_skipna); the dask path
    must give the same bits for any chunking, and compute nothing when called."""
    rng = np.random.default_rng(len(chunks) * 31 + accuracy)
    n = sum(chunks)
    x = np.sort(rng.uniform(0.0, 350.0, n))
    stencil = build_stencil(x, accuracy=accuracy, period=periodic)
    f = rng.standard_normal((3, n, 4)).astype(np.float32)
    skipna = option == "skipna"
    scale = None
    if skipna:
        f[1, n // 2 - 1 : n // 2 + 1, :2] = np.nan  # a gap across a block edge
        f[0, 0, 3] = np.nan
    if option == "scale":  # varies along the first and last dimensions, as a geo metric
        scale = rng.uniform(0.5, 2.0, (3, 1, 4))
    d = da.from_array(f, chunks=((1, 2), chunks, (3, 1)))
    with no_compute():
        lazy = core.differentiate(d, stencil, 1, skipna=skipna, scale=scale)
    assert lazy.dtype == np.float32
    check_chunks(lazy, d, 1)
    expected = core.differentiate(f, stencil, 1, skipna=skipna, scale=scale)
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), expected)
    if skipna:  # the gap was filled, not just passed through as NaN
        plain = core.differentiate(f, stencil, 1)
        assert np.isnan(plain).sum() > np.isnan(expected).sum()


def test_scale_varying_on_one_dimension_only(rng):
    """A geo metric varies along latitude only: 1 along the others."""
    x = np.sort(rng.uniform(0.0, 300.0, 11))
    stencil = build_stencil(x, accuracy=4)
    f = rng.standard_normal((11, 5, 3))
    scale = rng.uniform(1.0, 3.0, (5, 1))  # broadcasts against (1, 5, 3)
    d = da.from_array(f, chunks=(3, 2, 3))
    with no_compute():
        lazy = core.differentiate(d, stencil, 0, scale=scale)
    np.testing.assert_array_equal(lazy.compute(), core.differentiate(f, stencil, 0, scale=scale))


# ---------------------------------------------------------------------------
# Other chunked arrays, and the other backend's limits


class ForeignChunked:
    """Stands for a chunked array type dask does not run (e.g. cubed's):
    dask-style chunks, readable by numpy, but not a dask collection."""

    def __init__(self, values, size):
        self.values = values
        self.shape, self.dtype, self.ndim = values.shape, values.dtype, values.ndim
        self.chunks = tuple((size,) * (n // size) + ((n % size,) if n % size else ()) for n in values.shape)
        self.loaded = False

    def __array__(self, dtype=None, copy=None):
        self.loaded = True
        return np.asarray(self.values, dtype=dtype)


class ForeignDuck(ForeignChunked):
    """The same as a duck array, which xarray wraps as it is (as it wraps cubed's)."""

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return NotImplemented


def test_other_chunked_array_types_are_refused_not_loaded(rng):
    x = coordinate("random", 8, rng)
    foreign = ForeignChunked(rng.standard_normal((3, 8)), 4)
    with pytest.raises(TypeError, match=r"cannot differentiate a chunked .*ForeignChunked: .*dask"):
        xgradient.gradient(foreign, x, axis=1)
    assert not foreign.loaded
    # Through the accessor: xarray keeps the duck array, .data hands it on.
    duck = ForeignDuck(rng.standard_normal((3, 8)), 4)
    arr = xr.DataArray(duck, dims=("t", "x"), coords={"x": x})
    assert arr.data is duck
    with pytest.raises(TypeError, match=r"cannot differentiate a chunked .*ForeignDuck"):
        arr.grad("x")
    assert not duck.loaded
    # In-memory arrays with a storage layout (h5py, zarr: a flat tuple) are read as before.
    foreign.chunks = (3, 4)
    np.testing.assert_array_equal(xgradient.gradient(foreign, x, axis=1), xgradient.gradient(foreign.values, x, axis=1))


def test_array_functions_keep_an_xarray_objects_dask_array_lazy(rng):
    """xgradient.gradient on a dask-backed DataArray: the array inside, still lazy."""
    x = coordinate("random", 9, rng)
    f = rng.standard_normal((4, 9))
    arr = xr.DataArray(f, dims=("t", "x")).chunk({"x": 4})
    with no_compute():
        lazy = xgradient.gradient(arr, x, axis=1, accuracy=4)
        lazy_var = xgradient.gradient(arr.variable, x, axis=1, accuracy=4)
    assert isinstance(lazy, da.Array) and isinstance(lazy_var, da.Array)
    expected = xgradient.gradient(f, x, axis=1, accuracy=4)
    np.testing.assert_array_equal(lazy.compute(), expected)
    np.testing.assert_array_equal(lazy_var.compute(), expected)


def test_command_under_the_expression_backend_says_it_cannot_store(tmp_path):
    """dask's expression backend has no dask.array.store: one line, exit 1, no file.

    Its own process: the backend is chosen once, when dask.array is first imported.
    """
    src = tmp_path / "in.nc"
    xr.Dataset(
        {"t": (("y", "x"), np.arange(30.0).reshape(5, 6))}, coords={"y": np.arange(5.0), "x": np.arange(6.0) ** 2}
    ).to_netcdf(src)
    dst = tmp_path / "out.nc"
    env = dict(os.environ, DASK_ARRAY__QUERY_PLANNING="True")
    run = subprocess.run(
        [sys.executable, "-m", "xgradient", str(src), "-o", str(dst), "--coord", "x", "--quiet"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("xgradient: error: cannot write the output: dask.array.store is not implemented")
    assert "DASK_ARRAY__QUERY_PLANNING" in lines[0]
    assert not dst.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.nc"]
