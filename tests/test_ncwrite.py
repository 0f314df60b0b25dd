"""``xgradient.to_netcdf``: chunks compressed in the worker threads, written raw.

Truths: the values in memory (read back with netCDF4 and with h5py, NaN and
fill values included, exactly); the file xarray writes itself with
``to_netcdf(engine="h5netcdf")`` from the same object and encoding (the same
dataset after decoding, the same filters and chunking, and stored chunks that
decompress to the same bytes as those HDF5's own filters made); and, so that
the speed cannot silently go, the number of chunks that took the direct path
(the ``chunk_writes`` fixture of conftest.py).
"""

from __future__ import annotations

import threading
import types
import zlib

import cftime
import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

import xgradient
from xgradient import ncwrite
from conftest import NEEDS_STORE

h5py = pytest.importorskip("h5py")
netCDF4 = pytest.importorskip("netCDF4")
pytest.importorskip("h5netcdf")

ZLIB1 = {"zlib": True, "complevel": 1, "shuffle": True}


def field(shape, dtype, seed=0):
    """Rough data (slow to compress, like a derivative) with NaN in it."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(dtype)
    values.flat[:: 7] = np.nan
    values.flat[-1] = np.nan
    return values


def read_netcdf4(path, name):
    with netCDF4.Dataset(path) as nc:
        var = nc[name]
        var.set_auto_maskandscale(False)
        return var[...], var.filters(), var.chunking(), nc.data_model


def read_h5py(path, name):
    with h5py.File(path, "r") as f:
        return f[name][...]


def assert_same_file(ours, theirs, names):
    """What xarray reads back, and how each variable is stored, are the same."""
    with xr.open_dataset(ours, engine="netcdf4") as a, xr.open_dataset(theirs, engine="netcdf4") as b:
        xr.testing.assert_identical(a.load(), b.load())
        for name in a.variables:
            assert a[name].encoding.get("dtype") == b[name].encoding.get("dtype"), name
    for name in names:
        _, filters_a, chunking_a, model_a = read_netcdf4(ours, name)
        _, filters_b, chunking_b, model_b = read_netcdf4(theirs, name)
        assert (filters_a, chunking_a, model_a) == (filters_b, chunking_b, model_b), name
        assert model_a == "NETCDF4"


def unfiltered_chunks(path, name):
    """Every stored chunk of `name`, decompressed and unshuffled with zlib and numpy."""
    chunks = {}
    with h5py.File(path, "r") as f:
        dset = f[name]
        itemsize = dset.dtype.itemsize
        for i in range(dset.id.get_num_chunks()):
            corner = dset.id.get_chunk_info(i).chunk_offset
            mask, data = dset.id.read_direct_chunk(corner)
            assert mask == 0  # every filter applied
            if dset.compression == "gzip":
                data = zlib.decompress(data)
            if dset.shuffle:
                data = np.frombuffer(data, np.uint8).reshape(itemsize, -1).T.tobytes()
            chunks[corner] = data
    return chunks


# ---------------------------------------------------------------------------
# The values and the file


# (shape, dask chunks, netCDF chunks, chunks written raw, ordinary writes)
LAYOUTS = [
    # blocks of whole netCDF chunks, as the command makes them
    ((6, 20, 30), (2, 20, 30), (1, 20, 30), 6, 0),
    # netCDF chunks that do not divide the shape: clipped chunks at the ends
    ((7, 23, 31), (3, 23, 31), (3, 10, 16), 18, 0),
    ((5, 23, 31), (5, 10, 16), (5, 5, 8), 20, 0),
    # dask blocks that cut a netCDF chunk: each block writes its piece through h5py
    ((6, 20, 30), (3, 20, 30), (2, 20, 30), 2, 2),
    # netCDF chunks larger than the dask blocks: all through h5py
    ((6, 20, 30), (1, 10, 30), (2, 20, 30), 0, 12),
    # one block, one chunk
    ((4, 5), (4, 5), (4, 5), 1, 0),
]


@pytest.mark.parametrize("fill", [-1e30, np.nan])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, blocks, chunks, raw, ordinary", LAYOUTS)
@NEEDS_STORE
def test_values_read_back_exactly(tmp_path, chunk_writes, fill, dtype, shape, blocks, chunks, raw, ordinary):
    values = field(shape, dtype)
    dims = ("time", "lat", "lon")[-len(shape) :]
    ds = xr.Dataset({"t": (dims, da.from_array(values, chunks=blocks), {"units": "K"})})
    encoding = {"t": dict(ZLIB1, chunksizes=chunks, _FillValue=dtype(fill))}
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", encoding)
    assert chunk_writes.counts() == {"raw": raw, "h5py": ordinary}

    # xarray's CF encoding stores NaN as the fill value; the rest bit for bit.
    expected = np.where(np.isnan(values), dtype(fill), values)
    stored, filters, chunking, _ = read_netcdf4(tmp_path / "ours.nc", "t")
    np.testing.assert_array_equal(stored, expected)
    assert stored.dtype == dtype
    np.testing.assert_array_equal(read_h5py(tmp_path / "ours.nc", "t"), expected)
    with xr.open_dataset(tmp_path / "ours.nc") as back:
        np.testing.assert_array_equal(back.t.values, values)
    assert filters["zlib"] and filters["shuffle"] and filters["complevel"] == 1
    assert chunking == list(chunks)

    ds.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf", encoding=encoding)
    assert_same_file(tmp_path / "ours.nc", tmp_path / "xarray.nc", ["t"])
    # The bytes HDF5 stored for each chunk are the ones its own filters store.
    assert unfiltered_chunks(tmp_path / "ours.nc", "t") == unfiltered_chunks(tmp_path / "xarray.nc", "t")


@pytest.mark.parametrize(
    "encoding",
    [
        {"zlib": True, "complevel": 6, "shuffle": False},
        {"zlib": False, "shuffle": True},
        {},
        {"compression": "gzip", "compression_opts": 9, "shuffle": True},
    ],
    ids=["zlib6", "shuffle-only", "no-filter", "h5py-keys"],
)
@NEEDS_STORE
def test_other_filter_settings(tmp_path, chunk_writes, encoding):
    values = field((4, 12, 10), np.float32)
    ds = xr.Dataset({"t": (("z", "y", "x"), da.from_array(values, chunks=(2, 12, 10)))})
    enc = {"t": dict(encoding, chunksizes=(1, 6, 10))}
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", enc)
    assert chunk_writes.counts() == {"raw": 8, "h5py": 0}
    np.testing.assert_array_equal(read_netcdf4(tmp_path / "ours.nc", "t")[0], values)
    ds.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf", encoding=enc)
    assert_same_file(tmp_path / "ours.nc", tmp_path / "xarray.nc", ["t"])
    assert unfiltered_chunks(tmp_path / "ours.nc", "t") == unfiltered_chunks(tmp_path / "xarray.nc", "t")


@NEEDS_STORE
def test_filters_it_does_not_apply_go_through_h5py(tmp_path, chunk_writes):
    """fletcher32 (a checksum after zlib), and a contiguous variable: ordinary writes."""
    values = field((4, 6, 8), np.float64)
    ds = xr.Dataset(
        {
            "checked": (("z", "y", "x"), da.from_array(values, chunks=(2, 6, 8))),
            "plain": (("z", "y", "x"), da.from_array(values, chunks=(2, 6, 8))),
        }
    )
    enc = {"checked": dict(ZLIB1, fletcher32=True, chunksizes=(1, 6, 8)), "plain": {}}
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", enc)
    assert chunk_writes.counts() == {"raw": 0, "h5py": 4}
    for name in ("checked", "plain"):
        np.testing.assert_array_equal(read_netcdf4(tmp_path / "ours.nc", name)[0], values)
    assert read_netcdf4(tmp_path / "ours.nc", "checked")[1]["fletcher32"]
    ds.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf", encoding=enc)
    assert_same_file(tmp_path / "ours.nc", tmp_path / "xarray.nc", ["checked", "plain"])


@NEEDS_STORE
def test_packed_integers_and_fill_values(tmp_path, chunk_writes):
    """CF packing (int16, scale/offset, _FillValue for NaN) as xarray encodes it."""
    values = field((6, 9, 11), np.float32) * 10 + 280
    ds = xr.Dataset({"t": (("time", "y", "x"), da.from_array(values, chunks=(3, 9, 11)), {"units": "K"})})
    enc = {"t": dict(ZLIB1, dtype="int16", scale_factor=0.01, add_offset=280.0, _FillValue=-32767,
                     chunksizes=(1, 5, 11))}
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", enc)
    assert chunk_writes.counts() == {"raw": 12, "h5py": 0}
    ds.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf", encoding=enc)
    assert_same_file(tmp_path / "ours.nc", tmp_path / "xarray.nc", ["t"])
    packed = read_netcdf4(tmp_path / "ours.nc", "t")[0]
    assert packed.dtype == np.int16
    np.testing.assert_array_equal(packed == -32767, np.isnan(values))
    np.testing.assert_array_equal(packed, read_netcdf4(tmp_path / "xarray.nc", "t")[0])


def test_big_endian_dataset_is_written_in_its_byte_order(tmp_path):
    """A block in native order, an HDF5 dataset in big-endian order: the bytes are swapped."""
    values = field((4, 6), np.float64)
    path = tmp_path / "be.nc"
    with h5py.File(path, "w") as f:
        f.create_dataset("v", shape=values.shape, dtype=">f8", chunks=(2, 3), compression="gzip",
                         shuffle=True, fillvalue=np.nan)
    with h5py.File(path, "a") as f:
        # Stands in for xarray's H5NetCDFArrayWrapper and its store.
        store = types.SimpleNamespace(lock=threading.Lock(), autoclose=False)
        variable = types.SimpleNamespace(_h5ds=f["v"])
        wrapped = types.SimpleNamespace(shape=values.shape, dtype=np.dtype(">f8"), datastore=store,
                                        get_array=lambda needs_lock=True: variable)
        target = ncwrite._ChunkTarget(wrapped)
        assert target.layout.dtype == np.dtype(">f8")
        target[(slice(0, 4), slice(0, 6))] = values
    np.testing.assert_array_equal(read_h5py(path, "v"), values)


@NEEDS_STORE
def test_times_coordinates_and_attributes_as_xarray_writes_them(tmp_path, chunk_writes):
    """cftime and datetime64 coordinates, a dask-backed time variable, attributes."""
    times = xr.date_range("2000-01-01", periods=5, freq="MS", calendar="360_day", use_cftime=True)
    values = field((5, 4, 6), np.float32)
    valid = da.from_array(np.array(xr.date_range("2001-01-01", periods=5, freq="D")), chunks=2)
    ds = xr.Dataset(
        {
            "t": (("time", "lat", "lon"), da.from_array(values, chunks=(2, 4, 6)), {"units": "K"}),
            "valid": ("time", valid),
        },
        coords={
            "time": ("time", times),
            "lat": ("lat", [-10.0, 0.0, 5.0, 20.0], {"units": "degrees_north"}),
            "lon": ("lon", np.arange(6.0), {"units": "degrees_east"}),
        },
        attrs={"history": "made here\nand there", "n": np.int32(3)},
    )
    enc = {
        "t": dict(ZLIB1, chunksizes=(1, 4, 6)),
        "valid": dict(ZLIB1, units="hours since 2001-01-01", dtype="int32", chunksizes=(2,)),
        "time": {"units": "days since 2000-01-01"},
    }
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", enc)
    # t: 5 chunks raw; valid: int64 blocks for an int32 variable, HDF5 converts them.
    assert chunk_writes.counts() == {"raw": 5, "h5py": 3}
    ds.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf", encoding=enc)
    assert_same_file(tmp_path / "ours.nc", tmp_path / "xarray.nc", ["t", "valid"])
    with xr.open_dataset(tmp_path / "ours.nc", engine="netcdf4") as back:
        assert isinstance(back.time.values[0], cftime.Datetime360Day)
        assert back.time.encoding["calendar"] == "360_day"
        np.testing.assert_array_equal(back.valid.values, valid.compute())
        assert back.attrs["history"] == "made here\nand there"
    with netCDF4.Dataset(tmp_path / "ours.nc") as nc:  # netCDF-C reads it as it reads its own
        assert nc.file_format == "NETCDF4"
        assert nc["time"].units == "days since 2000-01-01"
        assert list(nc.dimensions) == ["time", "lat", "lon"]


def test_numpy_backed_objects_are_written_by_xarray(tmp_path, chunk_writes):
    values = field((3, 4), np.float64)
    ds = xr.Dataset({"t": (("y", "x"), values)})
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", {"t": dict(ZLIB1, chunksizes=(1, 4))})
    assert chunk_writes.counts() == {"raw": 0, "h5py": 0}
    np.testing.assert_array_equal(read_netcdf4(tmp_path / "ours.nc", "t")[0], values)


@pytest.mark.parametrize("name", [None, "t", "x"], ids=["unnamed", "named", "named-as-a-coord"])
@NEEDS_STORE
def test_dataarray_reads_back_with_open_dataarray(tmp_path, name):
    values = field((4, 6), np.float32)
    arr = xr.DataArray(da.from_array(values, chunks=(2, 6)), dims=("y", "x"),
                       coords={"x": np.arange(6.0)}, attrs={"units": "m"}).rename(name)
    xgradient.to_netcdf(arr, tmp_path / "ours.nc")
    arr.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf")
    with xr.open_dataarray(tmp_path / "ours.nc") as a, xr.open_dataarray(tmp_path / "xarray.nc") as b:
        xr.testing.assert_identical(a.load(), b.load())
        assert a.name == name


@NEEDS_STORE
def test_unlimited_dimension(tmp_path):
    values = field((6, 5), np.float64)
    ds = xr.Dataset({"t": (("time", "x"), da.from_array(values, chunks=(2, 5)))})
    enc = {"t": dict(ZLIB1, chunksizes=(2, 5))}
    xgradient.to_netcdf(ds, tmp_path / "ours.nc", enc, unlimited_dims=["time"])
    with netCDF4.Dataset(tmp_path / "ours.nc") as nc:
        assert nc.dimensions["time"].isunlimited()
        np.testing.assert_array_equal(nc["t"][...].filled(np.nan), values)


@NEEDS_STORE
def test_a_failing_block_leaves_the_file_closed(tmp_path):
    def boom(block):
        raise ZeroDivisionError("block failed")

    arr = da.zeros((4, 4), chunks=2).map_blocks(boom, dtype=float)
    with pytest.raises(ZeroDivisionError):
        xgradient.to_netcdf(xr.Dataset({"t": (("y", "x"), arr)}), tmp_path / "x.nc")
    with h5py.File(tmp_path / "x.nc", "w"):  # HDF5 refuses a file still open for writing
        pass


@NEEDS_STORE
def test_the_compression_runs_in_parallel(tmp_path, monkeypatch):
    """Two blocks are encoded at the same time: the workers do not wait for each other."""
    barrier = threading.Barrier(2, timeout=10)
    encode = ncwrite._Layout.encode

    def meet_then_encode(self, part):
        barrier.wait()  # raises BrokenBarrierError if the other block never comes
        return encode(self, part)

    monkeypatch.setattr(ncwrite._Layout, "encode", meet_then_encode)
    values = field((2, 8, 8), np.float32)
    ds = xr.Dataset({"t": (("z", "y", "x"), da.from_array(values, chunks=(1, 8, 8)))})
    with dask.config.set(scheduler="threads", num_workers=2):
        xgradient.to_netcdf(ds, tmp_path / "p.nc", {"t": dict(ZLIB1, chunksizes=(1, 8, 8))})
    np.testing.assert_array_equal(read_h5py(tmp_path / "p.nc", "t"), values)


def test_an_hdf5_io_failure_reported_as_runtimeerror_becomes_oserror():
    """HDF5 reports some failed writes (a flush at close) as RuntimeError; the
    errno in its message makes it the OSError a caller expects."""
    err = RuntimeError(
        "Disable slist on flush dest failure failed (file write failed: time = Tue Dec 1 12:10:20 2026 ,\n"
        " filename = 'x.nc', file descriptor = 4, errno = 28, error message = 'No space left on device')"
    )
    converted = ncwrite._as_oserror(err)
    assert isinstance(converted, OSError) and converted.errno == 28
    assert "No space left on device" in str(converted) and "\n" not in str(converted)
    other = RuntimeError("no errno here")
    assert ncwrite._as_oserror(other) is other


@NEEDS_STORE
def test_without_xarrays_writer_internals_it_falls_back_to_xarray_loudly(tmp_path, monkeypatch):
    """ArrayWriter is not public xarray API: if it moves, the public writer writes the same file."""
    import xarray.backends.common

    values = field((6, 5), np.float32)
    ds = xr.Dataset({"t": (("y", "x"), da.from_array(values, chunks=(2, 5)), {"units": "K"})})
    enc = {"t": dict(ZLIB1, chunksizes=(2, 5))}
    monkeypatch.delattr(xarray.backends.common, "ArrayWriter")
    with pytest.warns(RuntimeWarning, match="lacks the writer internals"):
        xgradient.to_netcdf(ds, tmp_path / "ours.nc", enc)
    np.testing.assert_array_equal(read_netcdf4(tmp_path / "ours.nc", "t")[0], values)
    with netCDF4.Dataset(tmp_path / "ours.nc") as nc:
        assert nc["t"].filters()["zlib"] and nc["t"].chunking() == [2, 5]
        assert nc["t"].units == "K"
