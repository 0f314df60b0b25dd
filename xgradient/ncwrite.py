"""Write netCDF-4 files with the compression done in dask's worker threads.

``xarray``'s netCDF writers hand each dask block to the HDF5 library, which
compresses it inside its write call, under the lock that serialises every
HDF5 call: a compressed write runs on one core, whatever the machine. Here
each block is cut into the variable's HDF5 chunks in the worker thread that
computed it, each chunk is filtered as HDF5 would (shuffle, then zlib, which
releases the GIL), and only the finished bytes are written under the lock,
with HDF5's direct chunk write (``H5Dwrite_chunk``). The file is an ordinary
netCDF-4 file; its variables carry the filters they would have carried.

Everything else (dimensions, attributes, CF encoding, the variables not
backed by dask) is xarray's ``h5netcdf`` writer, unchanged. Whatever the
direct write does not reproduce exactly (filters other than shuffle and
zlib, contiguous variables, a chunk that spans two dask blocks, a dtype to
convert) goes through h5py's ordinary write, so the file is the same either
way; only the speed differs.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
import zlib
from typing import NamedTuple

import numpy as np

__all__ = ["to_netcdf"]

# HDF5 filter identifiers (H5Zpublic.h): the only two the direct write applies.
H5Z_FILTER_DEFLATE = 1
H5Z_FILTER_SHUFFLE = 2


def to_netcdf(obj, path, encoding=None, *, unlimited_dims=None):
    """Write a Dataset or DataArray to a netCDF-4 file, compressing in parallel.

    The file is what ``obj.to_netcdf(path, engine="h5netcdf",
    encoding=encoding)`` writes, but the chunks of dask-backed variables are
    compressed in dask's worker threads, each as its block is computed, and
    written already compressed: a compressed write is no longer bound to one
    core. The dask graph is computed here, by the scheduler in use (set it
    with ``dask.config.set``), one block at a time as xarray's ``to_netcdf``
    does.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        What to write. A DataArray is written as ``DataArray.to_netcdf``
        writes it (``xarray.open_dataarray`` reads it back).
    path : str or path-like
        The file to create (replaced if it exists).
    encoding : dict, optional
        Per-variable encoding, as for ``Dataset.to_netcdf``: the netCDF4
        keys ``zlib``, ``complevel``, ``shuffle``, ``chunksizes``,
        ``_FillValue``, ``dtype``, ``units``, ``calendar``, ... or h5py's
        ``compression``, ``compression_opts``. The direct write applies to
        variables with zlib and/or shuffle or no filter; others are written
        the ordinary way.
    unlimited_dims : list of str, optional
        Dimensions to make unlimited, as for ``Dataset.to_netcdf`` (default:
        ``obj.encoding["unlimited_dims"]``).

    Raises
    ------
    ImportError
        When h5netcdf or h5py is not installed.
    OSError
        When the file cannot be written (a full disk: ``errno.ENOSPC``).
        The file is then closed (or, if HDF5 could not close it, never
        touched again: HDF5 leaves such a file half torn down, and a later
        call on it would crash the process) and left incomplete.

    See Also
    --------
    xarray.Dataset.to_netcdf

    Notes
    -----
    A chunk is written raw when it lies wholly in one dask block (give
    ``chunksizes`` that divide the dask chunks) and its variable has no
    filter other than shuffle and zlib; anything else goes through h5py's
    ordinary write, with the same result. There is no ``compute=False``:
    dask orders the delayed form of an overlapping graph (``map_overlap``,
    hence every derivative) so that it holds a growing share of the input,
    where computing inside the write streams it block by block.

    The parallel write is built on pieces of xarray's writer that are not
    public API (``ArrayWriter``, ``H5NetCDFStore``): should an xarray release
    move them, the file is written by xarray's own ``to_netcdf`` (netCDF4
    engine) instead, with a ``RuntimeWarning`` saying so.

    Examples
    --------
    >>> import os, tempfile, numpy as np, xarray as xr, xgradient
    >>> path = os.path.join(tempfile.mkdtemp(), "t.nc")
    >>> ds = xr.Dataset({"t": (("y", "x"), np.arange(12.0).reshape(3, 4))}).chunk({"y": 2})
    >>> xgradient.to_netcdf(ds, path, {"t": {"zlib": True, "complevel": 1, "chunksizes": (1, 4)}})
    >>> with xr.open_dataset(path, engine="netcdf4") as back:
    ...     print(back.t.values[2], back.t.encoding["zlib"], back.t.encoding["chunksizes"])
    [ 8.  9. 10. 11.] True (1, 4)
    """
    import h5netcdf  # noqa: F401  (the ImportError says what is missing)
    import h5py  # noqa: F401  (h5netcdf's backend, an extra of h5netcdf >= 1.7)
    import xarray as xr

    ds = _as_dataset(obj) if isinstance(obj, xr.DataArray) else obj
    if unlimited_dims is None:
        unlimited_dims = ds.encoding.get("unlimited_dims")
    if isinstance(unlimited_dims, str):
        unlimited_dims = [unlimited_dims]
    parts = _xarray_writer_parts()
    if parts is None:
        # xarray's writer internals moved: its public writer, the same file,
        # compressed on one core. netCDF4's, which survives a full disk.
        ds.to_netcdf(os.fspath(path), engine="netcdf4", format="NETCDF4",
                     encoding=encoding, unlimited_dims=unlimited_dims)
        return
    H5NetCDFStore, ArrayWriter, H5NetCDFArrayWrapper = parts
    # The store is opened here, not by xarray's to_netcdf, so that every way
    # out of this function closes it, and abandons it if HDF5 cannot close it
    # (a full disk): see _close.
    store = H5NetCDFStore.open(os.fspath(path), mode="w", format="NETCDF4", autoclose=_autoclose(ds))
    root = store.ds
    state = _State()
    try:
        # What xarray's to_netcdf does for save_mfdataset (multifile=True):
        # create every variable and write the numpy-backed ones; the dask
        # blocks still to write are writer.sources, and where to, writer.targets.
        writer = ArrayWriter()
        ds.dump_to_store(store, writer=writer, encoding=encoding or {},
                         unlimited_dims=None if unlimited_dims is None else set(unlimited_dims))
        writer.targets = [
            _ChunkTarget(t) if isinstance(t, H5NetCDFArrayWrapper) else t for t in writer.targets
        ]
        for target in writer.targets:
            if isinstance(target, _ChunkTarget):
                target.state = state
        writer.sync()
    except BaseException:
        _close(store, root, state, after_error=True)
        raise
    _close(store, root, state, after_error=False)


def _xarray_writer_parts():
    """xarray's writer pieces the parallel write is built on, or None (with a warning).

    They are not public API (``xarray.backends.common.ArrayWriter`` above
    all): if a release moves them, :func:`to_netcdf` falls back to xarray's
    public writer, loudly, rather than failing.
    """
    try:
        from xarray.backends import H5NetCDFStore
        from xarray.backends.common import ArrayWriter
        from xarray.backends.h5netcdf_ import H5NetCDFArrayWrapper

        for needed in (ArrayWriter.sync, ArrayWriter.add, H5NetCDFStore.open):
            assert callable(needed)
    except (ImportError, AttributeError, AssertionError) as err:
        warnings.warn(
            f"xgradient.to_netcdf: this xarray lacks the writer internals the parallel "
            f"compression uses ({err}); writing with xarray's to_netcdf instead "
            "(the same file, compressed on one core)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return H5NetCDFStore, ArrayWriter, H5NetCDFArrayWrapper


class _State:
    """Shared by the targets of one to_netcdf call (and pickled with them)."""

    # Once set, a block still being written by a worker thread after an
    # error must not touch the file: xarray's file manager would reopen it,
    # recreating a file that is closed, or already removed.
    closed = False


#: h5netcdf files that HDF5 could not close and that we could not mark closed.
_ABANDONED = []


def _autoclose(ds):
    """Whether each write reopens the file (dask's process-based schedulers), as in xarray."""
    if not any(v.chunks is not None for v in ds.variables.values()):
        return False
    try:
        from xarray.backends.locks import get_dask_scheduler
    except ImportError:  # pragma: no cover - another xarray: the threaded case
        return False
    return get_dask_scheduler() in ("distributed", "multiprocessing")


def _close(store, root, state, after_error):
    """Close `store`, whose root h5netcdf File is `root`; never leave a crash behind.

    When HDF5 fails to close a file (``H5Fclose`` failing to flush, as on a
    full disk), it leaves the file half torn down while its identifier stays
    valid: any later call on it crashes the process (SIGSEGV). h5netcdf's
    ``File.close`` raises before marking itself closed, and calls ``close``
    (hence ``flush``, which touches the file) again when garbage collected.
    So the File is marked closed here, once the close has failed. After an
    earlier error (`after_error`) the close's own error is dropped: the
    first one says what went wrong.
    """
    with store.lock:
        state.closed = True
    try:
        store.close()
    except BaseException as err:
        _abandon(root)
        if after_error:
            return
        raise _as_oserror(err) from None


def _abandon(root):
    if getattr(root, "_closed", None) is False:
        # h5netcdf.File's own flag (h5netcdf 1.x); no public way to say "gone".
        root._closed = True
        return
    # Another h5netcdf: keep the object alive so that it is not finalised
    # while the process runs.
    _ABANDONED.append(root)
    warnings.warn(
        "xgradient.to_netcdf: HDF5 could not close the file and this h5netcdf has no "
        "'_closed' flag; the file object is kept open until the process ends",
        ResourceWarning,
        stacklevel=3,
    )


def _as_oserror(err):
    """`err` as an OSError: HDF5 reports some I/O failures as RuntimeError."""
    if isinstance(err, OSError):
        return err
    text = str(err)
    found = re.search(r"errno = (\d+)", text)
    if found:
        code = int(found.group(1))
        return OSError(code, f"{os.strerror(code)} ({' '.join(text.split())})")
    return err


def _as_dataset(da):
    try:
        from xarray.backends.api import DATAARRAY_NAME, DATAARRAY_VARIABLE
    except ImportError:  # pragma: no cover - the names xarray has always written
        DATAARRAY_NAME, DATAARRAY_VARIABLE = "__xarray_dataarray_name__", "__xarray_dataarray_variable__"

    # As DataArray.to_netcdf: netCDF has no unnamed variables, and a variable
    # cannot share a coordinate's name.
    if da.name is None:
        return da.to_dataset(name=DATAARRAY_VARIABLE)
    if da.name in da.coords or da.name in da.dims:
        ds = da.to_dataset(name=DATAARRAY_VARIABLE)
        ds.attrs[DATAARRAY_NAME] = da.name
        return ds
    return da.to_dataset()


class _Layout(NamedTuple):
    """How a variable's HDF5 chunks are stored, when we can write them raw."""

    chunks: tuple
    dtype: np.dtype
    fill: object
    shuffle: bool
    level: int | None  # zlib level, None without the deflate filter

    @classmethod
    def of(cls, dset):
        """The layout of h5py dataset `dset`, or None if its chunks are not ours to write."""
        if dset.chunks is None or dset.dtype.kind not in "iuf" or dset.dtype.itemsize not in (1, 2, 4, 8):
            return None
        plist = dset.id.get_create_plist()
        filters = [plist.get_filter(i)[:3] for i in range(plist.get_nfilters())]
        codes = [code for code, _, _ in filters]
        # HDF5 runs the pipeline in this order on write: shuffle, then deflate.
        if codes not in ([], [H5Z_FILTER_SHUFFLE], [H5Z_FILTER_DEFLATE],
                         [H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE]):
            return None
        level = int(filters[-1][2][0]) if H5Z_FILTER_DEFLATE in codes else None
        return cls(tuple(dset.chunks), dset.dtype, dset.fillvalue, H5Z_FILTER_SHUFFLE in codes, level)

    def accepts(self, dtype):
        # Same type, byte order aside: any other conversion is left to HDF5
        # (it clips where numpy would wrap around).
        return dtype.kind == self.dtype.kind and dtype.itemsize == self.dtype.itemsize

    def encode(self, part):
        """The stored bytes of one chunk: `part` padded to the chunk shape, then filtered."""
        if part.shape == self.chunks:
            data = np.ascontiguousarray(part, dtype=self.dtype)
        else:
            # An edge chunk, clipped by the variable's end: HDF5 stores it
            # whole; readers never look past the end.
            data = np.full(self.chunks, self.fill, dtype=self.dtype)
            data[tuple(slice(0, n) for n in part.shape)] = part
        if self.shuffle and self.dtype.itemsize > 1:
            # HDF5's shuffle filter: the first byte of every element, then the
            # second byte of every element, ...
            data = np.ascontiguousarray(data.reshape(-1).view(np.uint8).reshape(-1, self.dtype.itemsize).T)
        if self.level is not None:
            return zlib.compress(data, self.level)  # the stream HDF5's deflate writes
        return data


class _ChunkTarget:
    """Where ``dask.array.store`` writes one variable's blocks (from worker threads).

    Each HDF5 chunk that lies wholly inside the block is encoded here, outside
    the lock, and written raw; the pieces of chunks shared with another block,
    and whole blocks of variables whose chunks we cannot encode, go through
    xarray's ordinary write (h5py's, under the lock).
    """

    state = None  # to_netcdf's _State

    def __init__(self, wrapped):
        self.wrapped = wrapped  # xarray's H5NetCDFArrayWrapper of the variable
        self.shape = wrapped.shape
        self.dtype = wrapped.dtype
        self.layout = self._with_dataset(
            lambda dset: _Layout.of(dset) if dset is not None and dset.shape == self.shape else None
        )

    def __setitem__(self, key, value):
        value = np.asarray(value)
        start = _region_start(key, value.shape, self.shape)
        if start is None or self.layout is None or not self.layout.accepts(value.dtype):
            self._write_h5py(key, value)
            return
        chunks = self.layout.chunks
        ranges = [range(s - s % c, s + n, c) for s, n, c in zip(start, value.shape, chunks)]
        for corner in itertools.product(*ranges):
            # The chunk at `corner`, clipped to the variable, in the block's indices.
            lo = [max(k, s) - s for k, s in zip(corner, start)]
            hi = [min(k + c, size) - s for k, c, size, s in zip(corner, chunks, self.shape, start)]
            part = value[tuple(slice(a, min(b, n)) for a, b, n in zip(lo, hi, value.shape))]
            if all(k >= s for k, s in zip(corner, start)) and all(b <= n for b, n in zip(hi, value.shape)):
                self._write_raw(corner, self.layout.encode(part))
            else:
                region = tuple(slice(s + a, s + a + m) for s, a, m in zip(start, lo, part.shape))
                self._write_h5py(region, part)

    def _with_dataset(self, fn):
        """``fn(h5py dataset)`` under the store's lock, as xarray's own writes are done."""
        # h5netcdf's variable keeps its h5py dataset private; without it
        # (another h5netcdf), everything goes through ordinary writes.
        return self._with_variable(lambda var: fn(getattr(var, "_h5ds", None)))

    def _with_variable(self, fn):
        """``fn(h5netcdf variable)`` under the store's lock; an error once the store is closed."""
        store = self.wrapped.datastore
        with store.lock:
            if self.state is not None and self.state.closed:
                # A block finishing after another one failed: the file is
                # closed (or removed); reopening it would recreate it.
                raise OSError("the file was closed after an error")
            result = fn(self.wrapped.get_array(needs_lock=False))
            if store.autoclose:  # worker processes: each write reopens the file
                store.close(needs_lock=False)
        return result

    def _write_raw(self, corner, data):
        self._with_dataset(lambda dset: dset.id.write_direct_chunk(corner, data))

    def _write_h5py(self, key, value):
        # As xarray's own __setitem__ of the variable, under the same lock.
        self._with_variable(lambda var: var.__setitem__(key, value))


def _region_start(key, shape, full_shape):
    """The first index of the region `key` (plain slices only) that `shape` fills, or None."""
    if not isinstance(key, tuple) or len(key) != len(full_shape) or not full_shape:
        return None
    start = []
    for k, n, size in zip(key, shape, full_shape):
        if not isinstance(k, slice):
            return None
        a, b, step = k.indices(size)
        if step != 1 or b - a != n:
            return None
        start.append(a)
    return tuple(start)
