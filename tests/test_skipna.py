"""skipna=True: NaN cells (land) act as boundaries.

Truths: numpy.gradient applied by hand to each run of valid cells (the rule
of the issue: edge_order 1 -> two points at a run's end, 2 -> three when the
run has them, else two; isolated cells stay NaN), polynomial exactness for
accuracy 4/6, and the same numbers from every dask chunking.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import xgradient


def by_runs(f, x, edge_order):
    """numpy.gradient on each maximal run of valid cells of a 1-D array."""
    out = np.full(f.shape, np.nan)
    valid = ~np.isnan(f)
    i, n = 0, f.size
    while i < n:
        if not valid[i]:
            i += 1
            continue
        j = i
        while j < n and valid[j]:
            j += 1
        if j - i >= 2:
            order = edge_order if j - i >= 3 else 1
            out[i:j] = np.gradient(f[i:j], x[i:j], edge_order=order)
        i = j
    return out


def holes(rng, shape, fraction):
    f = rng.standard_normal(shape)
    f[rng.random(shape) < fraction] = np.nan
    return f


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 40),
    seed=st.integers(0, 2**32 - 1),
    edge_order=st.sampled_from([1, 2]),
    fraction=st.sampled_from([0.0, 0.1, 0.3, 0.6]),
)
def test_equals_numpy_gradient_on_each_valid_run(n, seed, edge_order, fraction):
    rng = np.random.default_rng(seed)
    if edge_order == 2 and n < 3:
        n = 3
    x = np.cumsum(rng.uniform(0.1, 3.0, n))
    f = holes(rng, n, fraction)
    got = xgradient.gradient(f, x, edge_order=edge_order, skipna=True)
    np.testing.assert_allclose(got, by_runs(f, x, edge_order), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_every_axis_of_a_3d_field(axis):
    rng = np.random.default_rng(axis)
    f = holes(rng, (9, 11, 13), 0.25)
    x = np.cumsum(rng.uniform(0.5, 2.0, f.shape[axis]))
    got = xgradient.gradient(f, x, axis=axis, edge_order=2, skipna=True)
    want = np.apply_along_axis(by_runs, axis, f, x, 2)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_isolated_valid_cell_stays_nan_and_land_stays_nan():
    x = np.array([0.0, 1.0, 2.5, 4.0, 5.0, 7.0])
    f = np.array([1.0, np.nan, 3.0, np.nan, 2.0, 4.0])
    got = xgradient.gradient(f, x, skipna=True)
    assert np.isnan(got[[0, 1, 2, 3]]).all()  # 0 and 2 are isolated, 1 and 3 land
    np.testing.assert_allclose(got[4:], [(4.0 - 2.0) / 2.0] * 2)


def test_default_lets_nan_spread_like_numpy():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.uniform(0.5, 2.0, 30))
    f = holes(rng, 30, 0.2)
    np.testing.assert_array_equal(
        np.isnan(xgradient.gradient(f, x)), np.isnan(np.gradient(f, x))
    )


@pytest.mark.parametrize("accuracy", [4, 6])
def test_higher_accuracy_is_exact_for_polynomials_beside_gaps(accuracy):
    """A run long enough for the full stencil is differentiated exactly."""
    rng = np.random.default_rng(accuracy)
    x = np.cumsum(rng.uniform(0.5, 1.5, 40))
    x = (x - x.mean()) / x.std()
    f = x**accuracy
    gaps = [0, 12, 13, 27]  # runs of 11, 13 and 12 valid cells
    f[gaps] = np.nan
    got = xgradient.gradient(f, x, accuracy=accuracy, skipna=True)
    want = accuracy * x ** (accuracy - 1)
    valid = ~np.isnan(f)
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-8, atol=1e-8)
    assert np.isnan(got[~valid]).all()


def test_short_runs_use_what_they_have():
    """accuracy=4 in a run of 3 cells: the 3-point stencil, exact for quadratics."""
    x = np.array([0.0, 1.0, 2.5, 3.0, 4.2, 5.0, 6.1, 7.0])
    f = x**2
    f[[0, 4]] = np.nan  # runs [1:4] (3 cells) and [5:8] (3 cells)
    got = xgradient.gradient(f, x, accuracy=4, skipna=True)
    valid = ~np.isnan(f)
    np.testing.assert_allclose(got[valid], 2 * x[valid], rtol=1e-12)


def test_periodic_gap_across_the_seam():
    """A wrapped coordinate: cells each side of the seam see each other."""
    lon = np.arange(0.0, 360.0, 10.0)
    f = np.sin(np.deg2rad(lon))
    f[[5, 6, 20]] = np.nan
    got = xgradient.gradient(f, lon, periodic=True, skipna=True)
    # Points 0 and 35 are neighbours across the seam: central differences.
    assert np.isclose(got[0], (f[1] - f[35]) / 20.0)
    assert np.isclose(got[35], (f[0] - f[34]) / 20.0)
    # Beside the gap at 5-6: one-sided from the valid side.
    assert np.isclose(got[4], (f[4] - f[3]) / 10.0)
    assert np.isclose(got[7], (f[8] - f[7]) / 10.0)
    # An isolated gap cell's neighbours are one-sided too.
    assert np.isclose(got[19], (f[19] - f[18]) / 10.0)
    assert np.isclose(got[21], (f[22] - f[21]) / 10.0)


@pytest.mark.parametrize("periodic", [None, 360.0])
@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("chunks", [1, 2, 5, (3, 1, 1, 35), 40])
def test_dask_equals_numpy_for_every_chunking(periodic, accuracy, chunks):
    rng = np.random.default_rng(accuracy)
    f = holes(rng, (4, 40, 3), 0.2).astype(np.float32)
    x = np.sort(rng.uniform(0.0, 359.0, 40))
    want = xgradient.gradient(f, x, axis=1, accuracy=accuracy, periodic=periodic, skipna=True)
    lazy = xgradient.gradient(
        da.from_array(f, chunks=(2, chunks, 2)), x, axis=1, accuracy=accuracy,
        periodic=periodic, skipna=True,
    )
    got = lazy.compute()
    assert got.dtype == np.float32 == want.dtype
    np.testing.assert_array_equal(got, want)


def test_second_derivative_beside_gaps():
    """order=2 through the accessor's Laplacian along one axis: exact for quadratics."""
    x = np.array([0.0, 0.7, 1.5, 2.0, 3.1, 4.0, 4.6, 5.5, 6.0])
    f = 3 * x**2
    f[4] = np.nan
    da_ = xr.DataArray(f, dims="x", coords={"x": x}, name="f")
    got = da_.grad.laplacian(["x"], skipna=True)
    valid = ~np.isnan(f)
    np.testing.assert_allclose(got.values[valid], 6.0, rtol=1e-10)


def test_ostia_coasts(sample_path):
    """Real SST with 26% land: coastal cells come back, by the hand formula."""
    sst = xr.open_dataset(sample_path / "ostia_monthly.nc").surface_temperature.isel(time=0)
    plain = sst.grad("longitude")
    kept = sst.grad("longitude", skipna=True)
    valid = sst.notnull()
    lost = valid & plain.isnull()
    recovered = lost & kept.notnull()
    assert int(lost.sum()) > 100  # coasts cut many ocean cells out of numpy's result
    # Everything that has a valid neighbour along longitude comes back.
    east = valid.roll(longitude=-1, roll_coords=False)
    west = valid.roll(longitude=1, roll_coords=False)
    np.testing.assert_array_equal(recovered.values, (lost & (east | west)).values)
    # Where numpy's result existed, skipna leaves it unchanged.
    np.testing.assert_array_equal(kept.where(plain.notnull()), plain)
    # A sample of recovered cells against the one-sided formula by hand.
    lon = sst.longitude.values.astype(np.float64)
    values = sst.values.astype(np.float64)
    rows, cols = np.nonzero(recovered.values)
    n = lon.size
    for r, c in list(zip(rows, cols))[:: max(1, rows.size // 50)]:
        e, w = (c + 1) % n, (c - 1) % n
        de = (lon[e] - lon[c]) % 360.0
        dw = (lon[c] - lon[w]) % 360.0
        if np.isfinite(values[r, e]):
            hand = (values[r, e] - values[r, c]) / de
        else:
            hand = (values[r, c] - values[r, w]) / dw
        assert np.isclose(kept.values[r, c], hand, rtol=1e-5), (r, c)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 9),
    st.integers(1, 200),
    st.integers(0, 2),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_nan_result_scan_compiled_equals_numpy(outer, rows, inner, left, fraction, seed):
    """The compiled scan for NaN results on valid cells finds exactly numpy's cells
    (runs of 64 with and without hits, partial last runs, a halo of `left` rows)."""
    from xgradient import gaps

    rng = np.random.default_rng(seed)
    f = rng.standard_normal((outer, rows + left + 1, inner))
    f[rng.random(f.shape) < fraction / 2] = np.nan
    out = rng.standard_normal((outer, rows, inner))
    out[rng.random(out.shape) < fraction] = np.nan
    expected = gaps._nan_results_numpy(f, out, left)
    found = gaps._nan_results(f, out, left)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, expected)


def test_dask_from_a_file_opened_with_chunks_equals_numpy(sample_path):
    """A file opened lazily (xarray's own lazy arrays inside dask) with skipna,
    periodic: the same bits as the file read into memory. Under dask's
    expression backend such arrays carry a 0-d meta that its overlap trips on."""
    path = sample_path / "ostia_monthly.nc"
    with xr.open_dataset(path, chunks={"time": 20, "longitude": 100}) as lazy_ds, xr.open_dataset(path) as ds:
        sst = ds.surface_temperature.load()
        lazy = lazy_ds.surface_temperature.grad("longitude", skipna=True, periodic=True)
        assert lazy.chunks[2] == (100, 100, 100, 100, 32)
        expected = sst.grad("longitude", skipna=True, periodic=True)
        assert np.isnan(expected.values).any() and np.isfinite(expected.values).any()
        np.testing.assert_array_equal(lazy.compute().values, expected.values)
