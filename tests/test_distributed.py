"""On a real dask.distributed cluster: same numbers, small graphs, lost workers.

The cluster is a ``LocalCluster`` of two worker *processes* (one thread each),
so every task, stencil weight and compiled kernel crosses a process boundary
as it would on a remote cluster. Truths: ``numpy.gradient`` (through
``assert_matches_numpy``), ``numpy.gradient`` on a wrapped copy for periodic
coordinates, the in-memory result for ``skipna`` (itself checked against
its own truths in test_gaps/test_dask), and for the graph, the byte count of
what distributed actually pickles per task.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import assert_matches_numpy, coordinate

import xgradient

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from distributed.protocol import dumps as _dumps
from distributed.protocol.serialize import ToPickle

ROOT = Path(__file__).resolve().parents[1]
#: dask's expression backend (``array.query-planning``) is on in this process.
EXPR = getattr(da, "array_expr_enabled", lambda: False)()


@pytest.fixture(scope="module")
def client():
    # The workers are new processes: make sure they import this checkout of
    # xgradient (also when it is not installed), and that the helpers of this
    # module (not importable there) travel by value.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"PYTHONPATH": path},
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert cluster.status.name == "closed"


def gaussian_latitudes(n):
    """The latitudes of a Gaussian grid: arcsin of the Gauss-Legendre nodes."""
    return np.rad2deg(np.arcsin(np.polynomial.legendre.leggauss(n)[0]))


def field(rng, dtype=np.float32, shape=(5, 48, 40)):
    nt, ny, nx = shape
    lat = gaussian_latitudes(ny)
    lon = np.arange(nx) * (360.0 / nx)
    values = rng.standard_normal(shape).astype(dtype)
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={
            "time": np.arange(nt, dtype=float),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        name="t",
        attrs={"units": "K"},
    )


# ---------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(
    "chunks, dtype",
    [
        ({"lat": 16}, np.float32),
        ({"lat": 1, "lon": 13}, np.float64),  # size-1 chunks along the differentiated dim
        ({"time": 2, "lat": (5, 11, 2, 30), "lon": 20}, np.float32),  # uneven
    ],
    ids=["lat16-f4", "lat1-f8", "uneven-f4"],
)
def test_dataarray_on_cluster_equals_numpy(client, chunks, dtype):
    rng = np.random.default_rng(11)
    t = field(rng, dtype)
    lazy = t.chunk(chunks).grad("lat")
    assert lazy.chunks is not None  # still lazy
    out = client.compute(lazy).result()
    assert out.dtype == dtype
    assert_matches_numpy(out.values, t.values, t.lat.values, 1, 1)
    assert out.attrs["units"] == "K/degrees_north"


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_plain_dask_arrays_on_cluster_equal_numpy(client, axis, edge_order):
    rng = np.random.default_rng(12 + axis)
    shape = (23, 17, 19)
    f = rng.standard_normal(shape)
    x = coordinate("wild", shape[axis], rng)
    d = da.from_array(f, chunks=((7, 7, 9), (3, 14), (1, 5, 13)))
    lazy = xgradient.gradient(d, x, axis=axis, edge_order=edge_order)
    out = client.compute(lazy).result()
    assert_matches_numpy(out, f, x, axis, edge_order)


def test_accuracy4_on_cluster_equals_in_memory(client):
    # Compiles the 5-point kernel in both workers; the truth is the in-memory
    # result (checked against Fornberg/convergence in test_parity and friends).
    rng = np.random.default_rng(13)
    x = coordinate("random", 41, rng)
    f = rng.standard_normal((6, 41))
    lazy = xgradient.gradient(da.from_array(f, chunks=(3, 6)), x, axis=1, accuracy=4)
    out = client.compute(lazy).result()
    np.testing.assert_array_equal(out, xgradient.gradient(f, x, axis=1, accuracy=4))


@pytest.mark.parametrize("lon_chunk", [40, 7, 1])
def test_global_longitude_wraps_on_cluster(client, lon_chunk):
    rng = np.random.default_rng(14)
    t = field(rng, np.float64)
    out = client.compute(t.chunk({"lon": lon_chunk}).grad("lon")).result()
    # numpy on a copy padded with one point from the other end, then cut.
    f = t.values
    lon = t.lon.values
    padded = np.concatenate([f[..., -1:], f, f[..., :1]], axis=-1)
    xp = np.concatenate([[lon[-1] - 360.0], lon, [lon[0] + 360.0]])
    expected = np.gradient(padded, xp, axis=-1)[..., 1:-1]
    np.testing.assert_allclose(out.values, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunks", [{"lat": 9, "lon": 9}, {"lat": 3, "lon": 40}])
def test_skipna_on_cluster_equals_in_memory(client, chunks):
    rng = np.random.default_rng(15)
    t = field(rng, np.float32)
    # Land: a blob and a strip, crossing chunk boundaries.
    yy, xx = np.meshgrid(np.arange(t.lat.size), np.arange(t.lon.size), indexing="ij")
    land = ((yy - 20) ** 2 + (xx - 12) ** 2 < 40) | (xx == 30)
    t = t.where(~land)
    expected = t.grad("lat", skipna=True).values
    out = client.compute(t.chunk(chunks).grad("lat", skipna=True)).result().values
    np.testing.assert_array_equal(out, expected)
    # skipna did something: valid cells beside land are numbers, not NaN.
    plain = t.grad("lat").values
    assert np.isnan(plain).sum() > np.isnan(out).sum() >= land.sum() * t.time.size


def test_horizontal_on_a_curvilinear_grid_on_cluster_equals_in_memory(client):
    """horizontal()'s one-pass blocks (halos along both grid dims) on worker
    processes: the in-memory numbers, bit for bit."""
    iris_sample_data = pytest.importorskip("iris_sample_data")
    with xr.open_dataset(f"{iris_sample_data.path}/toa_brightness_stereographic.nc") as ds:
        bt = ds.data.load()
    expected = bt.grad.horizontal(accuracy=4)
    lazy = bt.copy(data=bt.chunk({"y": 45, "x": 70}).data).grad.horizontal(accuracy=4)
    got = client.compute(lazy).result()
    xr.testing.assert_identical(got, expected)


# ---------------------------------------------------------------------------
# What is shipped


def message_bytes(task):
    """Bytes distributed writes to send one task to a worker.

    The scheduler sends each task on its own, as ``ToPickle(run_spec)`` in a
    ``compute-task`` message (distributed/scheduler.py, ``_task_to_msg``), so
    anything a task refers to is pickled again for every task; pickling the
    whole graph at once would hide that (pickle's memo writes a shared object
    once).
    """
    return sum(len(frame) for frame in _dumps({"op": "compute-task", "run_spec": ToPickle(task)}))


def added_tasks(result, source):
    """The tasks of `result`'s graph that are not the tasks of its input `source`."""
    return {
        k: v
        for k, v in dict(result.__dask_graph__()).items()
        if (k[0] if isinstance(k, tuple) else k) != source.name
    }


@pytest.mark.parametrize(
    "n, chunk",
    [
        (1_000_000, 100),  # 10^4 chunks of a long coordinate (8 MB)
        (100_000, 100),  # 10^3 chunks of a coordinate under 1 MB
    ],
)
def test_graph_ships_per_block_weights_not_the_coordinate(n, chunk):
    nchunks = n // chunk
    rng = np.random.default_rng(16)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    d = da.ones(n, chunks=chunk)
    ours = added_tasks(xgradient.gradient(d, x), d)
    ours_bytes = [message_bytes(t) for t in ours.values()]
    K = 3
    # A few tasks per block (halo slabs, kernel, weights, starts), each with a
    # message overhead of ~100-500 bytes: 4 KiB per block is generous.
    per_block = 4096
    bound = 2 * (n * K * 8 + per_block * nchunks)
    assert sum(ours_bytes) < bound, (sum(ours_bytes), bound)
    # No task carries more than its own block's rows (K weights, a start and
    # a divisor for numpy's quotient rows each).
    assert max(ours_bytes) < chunk * (K + 2) * 8 + 1024

    if EXPR:
        return  # no dask.array.gradient in dask's expression backend to compare with
    # The anchor: dask.array.gradient given the coordinate (what
    # xarray.DataArray.differentiate calls on dask data). Its kernel tasks are
    # all alike; measure a few of them.
    theirs = added_tasks(da.gradient(d, x, axis=0), d)
    kernels = [k for k in theirs if "gradient_kernel" in str(k[0] if isinstance(k, tuple) else k)]
    assert len(kernels) == nchunks
    sample = [message_bytes(theirs[k]) for k in kernels[:: nchunks // 8]]
    if x.nbytes <= 1e6:
        # dask's map_blocks copies an argument of up to 1 MB into every task
        # (dask.array.core.normalize_arg): the whole coordinate, per task.
        assert min(sample) > x.nbytes
    else:
        # A larger coordinate becomes one graph node, but every task still
        # holds the start/stop positions of *every* block (2 x 8 bytes per
        # chunk): what the scheduler sends grows like chunks^2.
        assert min(sample) > 2 * 8 * nchunks
    theirs_total = np.mean(sample) * nchunks
    assert sum(ours_bytes) * 10 < theirs_total, (sum(ours_bytes), theirs_total)


def test_nd_field_ships_each_blocks_weights_once():
    """Many blocks along the other dimension: the rows of an axis block are
    sent once (one key that the tasks of that axis block share), not once per
    task. Truth: the weights' own size (n x K x 8 bytes)."""
    n, chunk, rows, row_chunk = 100_000, 10_000, 40, 2  # 20 x 10 blocks
    rng = np.random.default_rng(20)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    K = 7
    weights = n * K * 8
    d = da.ones((rows, n), chunks=(row_chunk, chunk))
    lazy = xgradient.gradient(d, x, axis=1, accuracy=6)
    assert lazy.numblocks == (rows // row_chunk, n // chunk)
    shipped = sum(message_bytes(t) for t in added_tasks(lazy, d).values())
    # Rows carried by every task would be 20 x the weights.
    assert shipped < 2 * weights, (shipped, weights)
    with dask_config_sync():
        np.testing.assert_array_equal(
            lazy[:3].compute(), xgradient.gradient(np.ones((3, n)), x, axis=1, accuracy=6)
        )


def dask_config_sync():
    import dask

    return dask.config.set(scheduler="sync")


def test_many_chunks_compute_on_cluster(client):
    n, chunk = 4_000, 40
    rng = np.random.default_rng(17)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    f = np.sin(x / 30.0)
    out = client.compute(xgradient.gradient(da.from_array(f, chunks=chunk), x)).result()
    assert_matches_numpy(out, f, x, 0, 1)


# ---------------------------------------------------------------------------
# Writing netCDF


@pytest.mark.skipif(EXPR, reason="dask.array.store is not implemented in dask's expression backend")
def test_to_netcdf_compresses_and_writes_from_the_workers(client, tmp_path, monkeypatch):
    # Each worker process encodes its blocks and writes them itself, reopening
    # the file under xarray's distributed lock; the truth is the result in memory.
    pytest.importorskip("h5netcdf")
    from xgradient import ncwrite

    layouts = []
    init = ncwrite._ChunkTarget.__init__

    def recording_init(self, wrapped):
        init(self, wrapped)
        layouts.append(self.layout)

    monkeypatch.setattr(ncwrite._ChunkTarget, "__init__", recording_init)
    rng = np.random.default_rng(19)
    lazy = field(rng, np.float32).chunk({"time": 1}).grad("lat")
    path = tmp_path / "grad.nc"
    encoding = {"t": {"zlib": True, "complevel": 1, "shuffle": True, "chunksizes": (1, 48, 40)}}
    xgradient.to_netcdf(lazy, path, encoding)
    with xr.open_dataarray(path, engine="netcdf4") as back:
        xr.testing.assert_identical(back.load(), client.compute(lazy).result())
        assert back.encoding["zlib"] and back.encoding["chunksizes"] == (1, 48, 40)
    assert len(layouts) == 1 and layouts[0].level == 1  # the direct write was set up


# ---------------------------------------------------------------------------
# Losing a worker


def _slow_copy(block):
    time.sleep(0.05)
    return block.copy()


def test_worker_killed_mid_computation_does_not_change_the_result(client):
    rng = np.random.default_rng(18)
    shape = (24, 60, 30)
    f = rng.standard_normal(shape)
    x = coordinate("random", shape[1], rng)
    # 48 input blocks that take a while each, so that the kill lands mid-run.
    slow = da.from_array(f, chunks=(3, 15, 15)).map_blocks(_slow_copy, dtype=f.dtype)
    lazy = xgradient.gradient(slow, x, axis=1, accuracy=4)

    pids = client.run(os.getpid)
    victim = min(pids)
    future = client.compute(lazy)
    deadline = time.monotonic() + 60
    while True:  # until the victim is running a task and some results exist
        busy = client.processing().get(victim, ())
        done = sum(len(keys) for keys in client.has_what().values())
        if busy and done >= 4:
            break
        assert not future.done(), "finished before the victim could be killed"
        assert time.monotonic() < deadline, "the computation never got going"
        time.sleep(0.01)
    os.kill(pids[victim], signal.SIGKILL)
    assert not future.done()

    out = future.result(timeout=120)
    np.testing.assert_array_equal(out, xgradient.gradient(f, x, axis=1, accuracy=4))
    # The scheduler really lost that worker (its nanny starts a new process).
    assert victim not in client.scheduler_info()["workers"]
