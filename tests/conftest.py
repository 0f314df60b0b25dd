"""Shared helpers for the xgradient tests.

The helpers here build inputs (coordinates, grids) and state the tolerances of
the contract in one place; they never compute an expected derivative
themselves except through an independent truth (numpy.gradient, a formula).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI explores the same examples every run, so a failure there is reproducible
# and a landing never depends on the draw; locally each run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# ---------------------------------------------------------------------------
# Coordinates


def coordinate(kind, n, rng, decreasing=False):
    """A strictly monotonic coordinate of `n` points of a given spacing kind.

    kind:
      "uniform"  exactly equal steps (numpy.gradient takes its uniform branch)
      "nearly"   uniform up to relative wiggles of 1e-9 (numpy's nonuniform branch)
      "random"   steps uniformly random in [0.1, 1.1)
      "wild"     log-normal steps spanning several orders of magnitude
    """
    if kind == "uniform":
        x = 0.25 * np.arange(n, dtype=np.float64) - 3.0  # binary step: diffs exactly equal
    elif kind == "nearly":
        x = np.arange(n) + 1e-9 * rng.uniform(-1, 1, n)
    elif kind == "random":
        x = np.cumsum(rng.uniform(0.1, 1.1, n)) - 2.0
    elif kind == "wild":
        x = np.cumsum(np.exp(rng.normal(0.0, 2.5, n)))
    else:  # pragma: no cover
        raise ValueError(kind)
    x = np.asarray(x, dtype=np.float64)
    assert np.all(np.diff(x) > 0)
    return x[::-1].copy() if decreasing else x


COORD_KINDS = ("uniform", "nearly", "random", "wild")


def numpy_is_uniform(x):
    """Whether numpy.gradient takes its uniform-spacing branch for `x`."""
    d = np.diff(np.asarray(x, dtype=np.float64))
    return bool((d == d[0]).all())


def scaled_atol(values, x, factor=1e-12):
    """Absolute tolerance for a derivative: max|f| / min|dx| * factor."""
    values = np.asarray(values, dtype=np.float64)
    big = np.nanmax(np.abs(values)) if values.size else 0.0
    dx = np.min(np.abs(np.diff(np.asarray(x, dtype=np.float64))))
    return max(big, 1.0) / dx * factor


def edge_index(axis, ndim, which):
    """Index selecting position `which` (0 or -1) along `axis`."""
    idx = [slice(None)] * ndim
    idx[axis] = which
    return tuple(idx)


def interior_index(axis, ndim):
    idx = [slice(None)] * ndim
    idx[axis] = slice(1, -1)
    return tuple(idx)


def assert_matches_numpy(result, values, x, axis, edge_order):
    """Check an accuracy=2 result against numpy.gradient: bit for bit, ends
    and uniform spacing included, and numpy's dtype. Booleans, which
    numpy.gradient refuses to subtract, are compared as 0/1 float64.
    """
    values = np.asarray(values)
    ref_in = values.astype(np.float64) if values.dtype == bool else values
    expected = np.gradient(ref_in, x, axis=axis, edge_order=edge_order)
    assert result.dtype == expected.dtype
    assert result.shape == values.shape
    np.testing.assert_array_equal(result, expected)


# ---------------------------------------------------------------------------
# Grids for convergence tests


def stretched(n, a=0.0, b=1.0, strength=2.0):
    """Smoothly stretched grid on [a, b]: points cluster near both ends (tanh map)."""
    s = np.linspace(-1.0, 1.0, n)
    t = np.tanh(strength * s) / np.tanh(strength)
    return a + (b - a) * (t + 1.0) / 2.0


def stretched_periodic(n, period=2 * np.pi, wiggle=0.3):
    """n points on [0, period), smoothly stretched: x = s + wiggle sin(s) (scaled)."""
    s = np.arange(n) * (2 * np.pi / n)
    return (s + wiggle * np.sin(s)) * (period / (2 * np.pi))


def observed_order(hs, errors):
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


# ---------------------------------------------------------------------------
# Dask: prove that nothing is computed


@contextlib.contextmanager
def no_compute():
    """Any dask compute inside this block raises."""
    import dask

    def refuse(*args, **kwargs):
        raise AssertionError("a dask computation was triggered")

    with dask.config.set(scheduler=refuse):
        yield


def dask_expression_backend() -> bool:
    """Whether dask.array is dask's expression backend (array.query-planning).

    Asked of dask.array, not read from the setting: dask chose its backend
    when dask.array was first imported.
    """
    import dask.array as da

    enabled = getattr(da, "array_expr_enabled", None)
    return bool(enabled()) if enabled is not None else False


def classic_dask_only(missing):
    """Skip a test under dask's expression backend, which lacks `missing` (dask 2026.8).

    Only for what dask itself lacks there, named: the test runs as before on
    the classic backend (docs/dask.md lists these).
    """
    return pytest.mark.skipif(
        dask_expression_backend(), reason=f"dask's expression backend (2026.8) lacks {missing}"
    )


NEEDS_STORE = classic_dask_only("dask.array.store, which every netCDF write needs")


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


class ChunkWrites:
    """The variable written by each raw chunk write and each ordinary write."""

    def __init__(self):
        self.raw, self.h5py = [], []

    def counts(self):
        return {"raw": len(self.raw), "h5py": len(self.h5py)}


@pytest.fixture
def chunk_writes(monkeypatch):
    """Record, in this process, the netCDF chunks xgradient.to_netcdf writes raw
    (compressed in the worker threads) and its ordinary h5py writes."""
    from xgradient import ncwrite

    writes = ChunkWrites()
    raw, ordinary = ncwrite._ChunkTarget._write_raw, ncwrite._ChunkTarget._write_h5py

    def record_raw(self, corner, data):
        writes.raw.append(self.wrapped.variable_name)
        raw(self, corner, data)

    def record_h5py(self, key, value):
        writes.h5py.append(self.wrapped.variable_name)
        ordinary(self, key, value)

    monkeypatch.setattr(ncwrite._ChunkTarget, "_write_raw", record_raw)
    monkeypatch.setattr(ncwrite._ChunkTarget, "_write_h5py", record_h5py)
    return writes


# ---------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="session")
def sample_path() -> Path:
    iris_sample_data = pytest.importorskip("iris_sample_data")
    return Path(iris_sample_data.path)


def kill_mid_write(proc, folder, sig, pattern, settle=0.15):
    """Send `sig` once the temporary output exists and has been written to for `settle` s."""
    deadline = time.monotonic() + 120
    while not list(folder.glob(pattern)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(settle)
    if proc.poll() is not None:  # pragma: no cover - a machine far faster than this one
        pytest.skip("the run finished before the signal")
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # show where it is stuck
        proc.send_signal(signal.SIGABRT)
        pytest.fail("no exit 120 s after the signal:\n" + proc.communicate()[1][-8000:])
