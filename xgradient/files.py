"""The command's work as a library: netCDF in, derivatives out, chunk by chunk.

``differentiate_file(INPUT, OUTPUT, ["lat", "lon"], geo=True)`` opens the
input lazily with dask (after checking it: no data outside the file, no
coordinate too large to read, no FIFO), checks every name and option the
caller gave through the library's own ``Derivative``, builds the
derivatives and streams them to a compressed netCDF file, block by block,
so that memory stays bounded whatever the size of the file; each block is
compressed by the thread that computed it (``xgradient.ncwrite``). The file
is written and renamed into place by ``xgradient.atomic``. Everything the
caller gave that is wrong is a ``UsageError``, raised before the first
block is computed; ``xgradient.cli`` turns these into messages and exit
codes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import glob
import math
import os
import stat
import sys
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from . import ncwrite
from .atomic import UsageError, check_output, check_output_name, file_kind, write_file
from .coords import (
    TIME_UNITS,
    UnknownCoordinateError,
    is_latitude,
    is_longitude,
)
from .labelled import Derivative, NameClash, differentiable_vars, not_differentiable, output_names, skipped_vars

__all__ = ["UsageError", "Written", "differentiate_file", "gradient_file"]

#: Aim for dask blocks of about this many bytes: a few of them per thread
#: (input, halo copy, output) keep the memory use to a few hundred MB.
TARGET_CHUNK_BYTES = 32 * 2**20
#: Largest netCDF (HDF5) chunk written; readers decompress whole chunks.
NC_CHUNK_BYTES = 4 * 2**20
#: zlib with the shuffle filter suits float data. Level 1 by default: on a
#: derivative (rougher than the field, so slower to compress) it is about
#: 1.5x faster than level 4 for files about 2 % larger, and compression is
#: most of the command's work (done in the worker threads: xgradient.ncwrite).
COMPLEVEL = 1
#: Encoding entries of the input's coordinates that the output keeps (the
#: others, such as the input's chunking, describe the input file).
KEPT_ENCODING = ("units", "calendar", "dtype", "_FillValue", "missing_value", "scale_factor", "add_offset")
#: Attributes that name other variables the output must carry along.
REFERENCES = ("bounds", "climatology", "grid_mapping")

#: Most blocks a run computes (over all derivatives): each costs dask about
#: 6 kB of task graph to build (measured: 40 000 blocks of a derivative,
#: 230 MB and 23 s) and more to schedule; a tiny file can declare an 80 TB
#: variable that would need millions. At 32 MB blocks, 1.6 TB per run.
MAX_BLOCKS = 50_000
#: A block is held about this many times per worker thread (input, halo
#: copy, result, compressed chunks): blocks larger than the machine's memory
#: divided by this and by the number of threads are refused.
BLOCK_COPIES = 4

#: After an error or a signal, how long to wait for the blocks being written.
STOP_TIMEOUT = 60.0


class _UnknownCoordinate(UsageError):
    """A --coord that the (group of the) file does not have."""



def differentiate_file(
    input,
    output,
    coords,
    *,
    variables=None,
    geo=False,
    accuracy=2,
    edge_order=1,
    periodic=None,
    radius=None,
    skipna=False,
    datetime_unit="s",
    chunks=None,
    complevel=COMPLEVEL,
    overwrite=False,
    allow_external=False,
    progress=False,
    history=None,
    group=None,
    decode_times=True,
    note=None,
    horizontal=False,
):
    """Differentiate the variables of a netCDF file and write a new netCDF file.

    For every selected variable ``var`` and every coordinate ``coord``, the
    output holds ``d{var}_d{coord}`` (as ``ds.grad`` computes it), with the
    input's coordinates, the variables that they reference (cell bounds,
    grid mapping) and its global attributes. The work is done block by block
    by dask's threaded scheduler in this process (its own thread pool, so
    that an error or a signal can stop the writes before the temporary file
    is removed): nothing is loaded whole.

    Parameters
    ----------
    input : str or path-like, or a list of them
        The netCDF file to read (never modified). Several files (a list, or a
        pattern such as ``"run/*.nc"`` that is not itself a file name) are
        opened together with ``xarray.open_mfdataset`` and combined by their
        coordinates (e.g. one file per year along time); their other
        coordinates must be equal.
    output : str or path-like
        The netCDF file to write. Its folder must exist. It is written under a
        temporary name in that folder and renamed when complete.
    coords : list of str
        Coordinates (or dimensions) to differentiate along.
    variables : list of str, optional
        Data variables to differentiate; each must have the dimension of every
        coordinate. Default: the data variables that ``Dataset.grad`` takes
        (``xgradient.labelled.differentiable_vars``): numeric ones that have
        the coordinate's dimension, without boolean masks, flag variables,
        grid mappings and CF cell bounds.
    geo : bool, default False
        Per metre on the sphere along latitude and longitude coordinates (see
        ``DataArray.grad``); other coordinates (levels, time) are
        differentiated as usual.
    accuracy, edge_order, periodic, radius, skipna, datetime_unit
        As for ``DataArray.grad``.
    chunks : dict, optional
        Dask chunk size per dimension (``-1``: the whole dimension). Other
        dimensions get sizes that make blocks of about 32 MB, split along the
        dimensions that are not differentiated first.
    complevel : int, default 1
        zlib level (with the shuffle filter) of the variables written, 0 for
        none.
    allow_external : bool, default False
        Read variables whose data lie outside the input file (HDF5 external
        storage, virtual datasets or external links to other files). By
        default such an input is refused: a file from elsewhere could
        otherwise make the command read, and write out, any file this user
        can read.
    overwrite : bool, default False
        Replace an existing output. The input is never replaced, whatever its
        path (a link to it included).
    progress : bool, default False
        Show dask's progress bar on stderr while computing.
    history : str, optional
        Line to prepend to the global ``history`` attribute; default
        ``"<UTC time>: xgradient.gradient_file(...)"``.
    group : str, optional
        The netCDF group to read (``"forecast"``, ``"/model/level2"``);
        default the root group.
    decode_times : bool, default True
        Decode CF times into dates. A variable whose times cannot be decoded
        (units such as ``"months since ..."`` in a standard calendar, an
        unknown calendar) is kept as numbers in its units, with a warning,
        and the others are decoded as usual; ``False`` decodes none.
    horizontal : bool, default False
        Also write ``d{var}_deast`` and ``d{var}_dnorth`` per metre (as
        ``Dataset.grad.horizontal`` computes them) for every selected
        variable on a horizontal grid: 1-D or 2-D latitude/longitude, or a
        projected or rotated grid with a CF grid mapping. `coords` may then
        be empty.
    note : callable, optional
        Called with one line of text for what the user may want to know
        that is neither an error nor a warning: the data variables left out
        by default (boolean masks, flag and grid-mapping variables; as
        ``xgradient.labelled.skipped_vars`` says).

    Returns
    -------
    Written
        ``path``, the output path, and ``variables``, the names of the
        derivatives written (the output is not read again to list them).

    Raises
    ------
    UsageError
        Missing or unreadable input, an output that exists (without
        `overwrite`), is the input, a folder or ``-``, an unknown variable,
        coordinate or dimension, a coordinate that cannot be differentiated
        along (not monotonic, too few points) and any option the accessor
        rejects: everything that is checked before the first block is
        computed. An exception of another type raised later is a bug.

    Examples
    --------
    >>> import os, tempfile, numpy as np, xarray as xr
    >>> from xgradient.files import differentiate_file
    >>> tmp = tempfile.mkdtemp()
    >>> depth = np.array([0.0, 10.0, 30.0, 60.0])
    >>> xr.Dataset({"theta": ("depth", 20 - 0.1 * depth, {"units": "degC"}),
    ...             "salt": ("depth", 35 + 0.01 * depth, {"units": "psu"})},
    ...            coords={"depth": ("depth", depth, {"units": "m"})}
    ...            ).to_netcdf(os.path.join(tmp, "in.nc"))
    >>> written = differentiate_file(os.path.join(tmp, "in.nc"), os.path.join(tmp, "out.nc"), ["depth"])
    >>> written.variables
    ['dtheta_ddepth', 'dsalt_ddepth']
    >>> with xr.open_dataset(written.path) as result:
    ...     print(result.dtheta_ddepth.values, result.dtheta_ddepth.units)
    [-0.1 -0.1 -0.1 -0.1] degC/m
    """
    sources = _inputs(input)
    check_output_name(sources[0], output)
    dst = Path(output)
    with contextlib.ExitStack() as held:
        # Every read goes through a descriptor opened once, after the input
        # is checked: a file swapped in at its path later is never read.
        reads = []
        for src in sources:
            fd = _hold(src)
            held.callback(os.close, fd)
            reads.append(_Held(src, fd))
            check_output(src, dst, overwrite)
            _check_storage(reads[-1], allow_external)
        return _differentiate(
            reads, dst, coords, variables, geo, horizontal, progress, history, group, decode_times,
            note, chunks, complevel, overwrite, accuracy=accuracy, edge_order=edge_order,
            periodic=periodic, radius=radius, skipna=skipna, datetime_unit=datetime_unit,
        )


def _differentiate(
    sources, dst, coords, variables, geo, horizontal, progress, history, group, decode_times,
    note, chunks, complevel, overwrite, **options,
):
    """differentiate_file on inputs already checked and held (a list of :class:`_Held`)."""
    src = sources[0]
    datetime_unit = options["datetime_unit"]
    coords = _unique(coords or [])
    if not coords and not horizontal:
        raise UsageError("no coordinate given: name one with --coord (or use --horizontal)")
    if datetime_unit not in TIME_UNITS:
        raise UsageError(f"datetime unit must be one of {list(TIME_UNITS)}, got {datetime_unit!r}")
    ds = _open(sources, group=group, decode_times=decode_times)
    try:
        chosen = None if variables is None else _unique(variables)
        try:
            alongs = _choose(ds, coords, chosen, geo, options) if coords else []
        except _UnknownCoordinate as err:
            groups = _groups(src) if group is None else None
            if groups:  # the coordinate may well be in one of them
                raise UsageError(f"{err}; {str(src.name)!r} has groups {groups}: read one with --group NAME") from None
            raise
        if variables is None and note is not None and alongs:
            left_out = _left_out(ds, alongs)
            if left_out:
                note("not differentiated: " + ", ".join(f"{n!r} ({why})" for n, why in left_out.items()))
        selected = _unique(v for along in alongs for v in along.names)
        work = [(along.derivative.coord.dim, along.names) for along in alongs]
        if horizontal:
            across = _horizontal_vars(ds, chosen)
            selected = _unique(selected + across)
            work += [("east", across), ("north", across)]
        sizes = _chunk_sizes(ds, selected, [along.derivative.coord.dim for along in alongs], chunks or {})
        _check_size(ds, work, sizes)
        lazy = ds.chunk(sizes)
        out, names = _derivatives(lazy, alongs)
        if horizontal:
            out, across_names = _with_horizontal(lazy, out, chosen, options)
            names += across_names
        if history is None:
            given = str(src.name) if len(sources) == 1 else [str(p.name) for p in sources]
            history = f"{now()}: xgradient.gradient_file({given!r}, {str(dst)!r}, {coords!r})"
        old = ds.attrs.get("history")
        # A file name need not be UTF-8; a netCDF attribute must be.
        out.attrs["history"] = printable(f"{history}\n{old}" if old else history)
        encoding = _encoding(out, ds, sizes, complevel)
        _write(out, [p.path for p in sources], dst, encoding, overwrite, progress)
    finally:
        ds.close()
    return Written(dst, names)


class Written(NamedTuple):
    """What :func:`differentiate_file` wrote."""

    #: The output file.
    path: Path
    #: The names of the derivatives in it, in the file's order (the
    #: coordinates and the variables carried along are not listed).
    variables: list


def gradient_file(*args, **kwargs):
    """Differentiate the variables of a netCDF file and write a new netCDF file.

    :func:`differentiate_file`, returning only the path of the output;
    the parameters are the same.

    Returns
    -------
    pathlib.Path
        The output path.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> from pathlib import Path
    >>> from xgradient.files import gradient_file
    >>> folder = Path(tempfile.mkdtemp())
    >>> f = xr.DataArray([0.0, 1.0, 4.0], coords={"x": [0.0, 1.0, 2.0]}, dims="x", name="f")
    >>> f.to_netcdf(folder / "f.nc")
    >>> path = gradient_file(folder / "f.nc", folder / "df.nc", ["x"])
    >>> with xr.open_dataset(path) as result:
    ...     path.name, result.df_dx.values.tolist()
    ('df.nc', [1.0, 2.0, 3.0])
    """
    return differentiate_file(*args, **kwargs).path


# help() and the API page show differentiate_file's parameters.
gradient_file.__wrapped__ = differentiate_file


# --------------------------------------------------------------------------
# Checks on the paths


def _check_input(src, mode=None):
    """Refuse an input that is missing, unreadable, a folder or not a regular
    file: by its path's `stat` (never opening it: a FIFO would block), or by
    `mode`, that of a descriptor already open."""
    if mode is None:
        try:
            mode = os.stat(src).st_mode
        except OSError as err:
            raise _unreadable_input(src, err) from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"input {str(src)!r} is a folder, not a netCDF file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"input {str(src)!r} is {file_kind(mode)}, not a regular file: give a netCDF file")


def _unreadable_input(src, err):
    if isinstance(err, FileNotFoundError):
        return UsageError(f"input file {str(src)!r} does not exist")
    return UsageError(f"cannot read {str(src)!r}: {one_line(err)}")


class _Held(NamedTuple):
    """An input file held open: `name` as the user gave it (for messages),
    `path` to read it by (the descriptor's ``/proc/self/fd/N`` where there
    is one, so that every library that opens the file gets this file)."""

    name: Path
    fd: int

    @property
    def path(self):
        proc = f"/proc/self/fd/{self.fd}"
        return proc if os.path.exists(proc) else os.fspath(self.name)

    def replaced(self) -> bool:
        """Whether `name` is no longer the file held (HDF5 cannot open a
        descriptor's path once its file has no name left)."""
        held = os.fstat(self.fd)
        try:
            now = os.stat(self.name)
        except OSError:
            return True
        return held.st_nlink == 0 or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)

    def say(self, text):
        """`text` (a library's message) with the read path as the user's name."""
        return str(text).replace(self.path, str(self.name)) if self.path != os.fspath(self.name) else str(text)


def _hold(src):
    """A read-only descriptor of the input `src`, checked before it is opened
    and again, through the descriptor, after."""
    _check_input(src)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(src, flags)  # non-blocking: a FIFO swapped in cannot stall the open
    except OSError as err:
        raise _unreadable_input(src, err) from None
    try:
        _check_input(src, os.fstat(fd).st_mode)
    except UsageError:
        os.close(fd)
        raise
    return fd


def _check_storage(src, allow_external=False):
    """Refuse an HDF5 (netCDF-4) input with data outside the file, or huge coordinates.

    HDF5 external storage, virtual datasets and external links make the
    library read other files: a hostile input could have the command read a
    file its user can read (a private key) and write it out as a derivative
    from which its bytes can be rebuilt. And xarray reads every dimension
    coordinate whole when it opens a file: a few kB can declare one of
    billions of values.
    """
    import h5py

    try:
        if not h5py.is_hdf5(src.path):
            return  # netCDF-3 (classic) files: no such thing, and sizes bounded by the file's
        handle = h5py.File(src.path, "r")
    except (OSError, ValueError):
        return  # _open says what is wrong with it
    with handle:
        found = [] if allow_external else _outside_data(handle)
        huge = _huge_coordinates(handle)
    if found:
        name, what = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise UsageError(
            f"{printable(name)!r} in {str(src.name)!r} {what}{more}: xgradient does not read "
            "data from outside its input unless --allow-external is given"
        )
    if huge:
        name, size, nbytes, limit = huge[0]
        raise UsageError(
            f"coordinate {printable(name)!r} of {str(src.name)!r} declares {size:,} values "
            f"({_bytes(nbytes)}), which xarray would read whole: more than {_bytes(limit)} "
            "(a quarter of this machine's memory)"
        )


def _huge_coordinates(handle):
    """[(name, size, bytes, limit)] for the dimension coordinates too large to read whole."""
    import h5py

    limit = (_memory() or 16 * 2**30) // 4
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim == 1:
            nbytes = obj.size * obj.dtype.itemsize
            if nbytes > limit and obj.attrs.get("CLASS") == b"DIMENSION_SCALE":
                found.append((obj.name, obj.size, nbytes, limit))

    handle.visititems(visit)
    return found


def _outside_data(handle):
    """[(HDF5 name, what)] for every dataset or link of `handle` that reaches other files."""
    import h5py

    found = []
    groups = [handle]

    def visit(name, obj):
        if isinstance(obj, h5py.Group):
            groups.append(obj)
            return
        if not isinstance(obj, h5py.Dataset):
            return
        if obj.external:
            files = sorted({os.fsdecode(entry[0]) for entry in obj.external})
            found.append((obj.name, f"is stored in other files (HDF5 external storage: {files})"))
        if obj.is_virtual:
            files = sorted({m.file_name for m in obj.virtual_sources() if m.file_name != "."})
            if files:
                found.append((obj.name, f"is a virtual dataset reading other files ({files})"))

    # visititems follows hard links only (each object once); links to other
    # files are found by looking at every link of every group.
    handle.visititems(visit)
    for group in groups:
        for key in group:
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                name = f"{group.name.rstrip('/')}/{key}"
                found.append((name, f"is an external link to {link.filename!r}"))
    return found


def _inputs(given):
    """The input paths: one, several, or the files that a pattern matches (sorted).

    A name that exists is never taken for a pattern, whatever its characters.
    """
    names = [given] if isinstance(given, (str, os.PathLike)) else list(given)
    if not names:
        raise UsageError("no input file given")
    paths = []
    for name in names:
        text = os.fspath(name)
        if not os.path.lexists(text) and any(c in text for c in "*?["):
            matches = sorted(glob.glob(text))
            if not matches:
                raise UsageError(f"no file matches {text!r}")
            paths += map(Path, matches)
        else:
            paths.append(Path(text))
    return _unique(paths)



def _open(sources, group=None, decode_times=True):
    """The input as one Dataset (lazy), its times decoded where they can be."""
    if group is not None:
        for src in sources:
            _check_group(src, group)
    try:
        ds = _open_as(sources, group, decode_times)
    except Exception as err:  # noqa: BLE001  (netCDF4 and xarray raise many kinds)
        undecodable = _undecodable_times(sources, group) if decode_times is True else []
        if not undecodable:
            raise _unreadable(sources, err) from None
        # Only these variables stay numbers: the file stays usable along the others.
        try:
            ds = _open_as(sources, group, {name: False for name in undecodable})
        except Exception as again:  # noqa: BLE001
            raise _unreadable(sources, again) from None
        for name in undecodable:
            var = ds.variables[name]
            warnings.warn(
                f"cannot decode the times of {name!r} (units {var.attrs.get('units')!r}, "
                f"calendar {var.attrs.get('calendar', 'standard')!r}); they are kept as "
                "numbers in those units (a derivative along them is per that unit)",
                UserWarning,
                stacklevel=3,
            )
    if group is None and not ds.variables:
        groups = _groups(sources[0])
        if groups:
            ds.close()
            raise UsageError(
                f"{str(sources[0].name)!r} has no variables outside its groups {groups}; "
                "choose one with --group NAME"
            )
    return ds


def _open_as(sources, group, decode_times):
    # cache=False: each dask task reads its own block from the file.
    # decode_timedelta=False keeps durations (forecast_period) as numbers
    # with their units, as they are in the file.
    options = {"engine": "netcdf4", "decode_timedelta": False, "decode_times": decode_times, "group": group}
    paths = [src.path for src in sources]
    if len(sources) == 1:
        return xr.open_dataset(paths[0], cache=False, **options)
    # Only the variables along the dimension the files are joined on are
    # concatenated (not a grid mapping or the coordinates of a fixed grid,
    # taken from the first file), and the files' grids must match exactly.
    return xr.open_mfdataset(
        paths,
        combine="by_coords",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
        **options,
    )


def _unreadable(sources, err):
    for src in sources:
        if src.replaced():
            return UsageError(
                f"input {str(src.name)!r} was replaced or removed after it was checked; "
                "it is not read (run again on a file nobody else changes meanwhile)"
            )
    text = one_line(err)
    for src in sources:
        text = src.say(text)
    if len(sources) == 1:
        return UsageError(f"cannot read {str(sources[0].name)!r} as netCDF: {text}")
    if "order the Dataset objects" in text:
        # xarray's combine_by_coords: no dimension coordinate differs between the files.
        text += (
            " (the files are put in the order of their dimension coordinates' values, and "
            "none of them differs between these files, e.g. the same time in each: give "
            "the files one at a time, or give them distinct coordinates)"
        )
    return UsageError(f"cannot read and combine the {len(sources)} input files: {text}")


def _undecodable_times(sources, group):
    """The names of the variables whose CF times xarray cannot decode."""
    found = []
    for src in sources:
        try:
            raw = xr.open_dataset(src.path, engine="netcdf4", decode_cf=False, group=group)
        except Exception:  # noqa: BLE001  (unreadable: reported by the caller)
            return []
        with raw:
            for name, var in raw.variables.items():
                if name in found or " since " not in str(var.attrs.get("units", "")):
                    continue
                try:
                    xr.decode_cf(xr.Dataset({name: var}), decode_timedelta=False)
                except Exception:  # noqa: BLE001  (cftime and xarray raise several kinds)
                    found.append(name)
    return found


def _groups(src):
    """The paths of the netCDF groups of `src` ("/forecast", "/forecast/level2")."""
    import netCDF4

    found = []

    def walk(node):
        for child in node.groups.values():
            found.append(child.path)
            walk(child)

    try:
        with netCDF4.Dataset(src.path) as nc:
            walk(nc)
    except OSError:  # not netCDF: said when it is opened
        return None
    return found


def _check_group(src, group):
    groups = _groups(src)
    if groups is not None and "/" + str(group).strip("/") not in groups:
        where = f"its groups are {groups}" if groups else "it has no groups"
        raise UsageError(f"{str(src.name)!r} has no group {group!r}; {where}")


# --------------------------------------------------------------------------
# What to differentiate


def _unique(names):
    seen = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


class _Along(NamedTuple):
    """One coordinate to differentiate along: its checked stencil and the variables it applies to."""

    coord: str  # as the user named it
    derivative: Derivative
    names: list


def _choose(ds, coords, variables, geo, options):
    """[_Along] after checking every name, the coordinates and the options.

    Everything the user gave is checked here, before any block is computed:
    the coordinates and options by building each coordinate's stencil (the
    library's own checks, whose ValueError, TypeError and KeyError are
    documented to mean bad input), the variables by name, type and
    dimensions. What fails later is not the user's doing.
    """
    geo_of = {}
    for coord in coords:
        attrs = ds.coords[coord].attrs if coord in ds.coords else {}
        geo_of[coord] = bool(geo) and (is_latitude(coord, attrs) or is_longitude(coord, attrs))
    derivatives = {coord: _derivative(ds, coord, geo_of[coord], options) for coord in coords}
    if geo and not any(geo_of.values()):
        raise UsageError(
            f"--geo needs a latitude or longitude among the coordinates {coords} "
            "(units degrees_north/degrees_east, standard_name latitude/longitude, or a "
            "name like lat/lon)"
        )
    if variables is not None:
        for name in variables:
            _check_variable(ds, name, derivatives)
        alongs = [_Along(c, d, list(variables)) for c, d in derivatives.items()]
    else:
        alongs = [_Along(c, d, list(differentiable_vars(ds, d.coord.dim))) for c, d in derivatives.items()]
        if not any(along.names for along in alongs):
            wanted = sorted({d.coord.dim for d in derivatives.values()})
            raise UsageError(f"no numeric data variable has the dimension(s) {wanted}; nothing to do")
        for along in alongs:
            for name in along.names:
                _check_metric(ds[name], along.derivative)
    _output_names(ds, alongs)
    return alongs


def _horizontal_vars(ds, variables):
    """The variables --horizontal differentiates: those given, else the default selection."""
    if variables is not None:
        for name in variables:
            if name not in ds.data_vars:
                raise UsageError(
                    f"unknown variable {name!r}; the data variables are {sorted(map(str, ds.data_vars))}"
                )
        return list(variables)
    names = []
    for dim in ds.dims:
        names += [n for n in differentiable_vars(ds, dim) if n not in names and ds[n].ndim >= 2]
    if not names:
        raise UsageError("--horizontal: no numeric data variable with two or more dimensions")
    return names


def _with_horizontal(ds, out, variables, options):
    """`out` plus d{var}_deast/d{var}_dnorth of the selected variables (lazy), and their names.

    ``horizontal.find_grids`` checks what the user gave (its errors are
    usage errors, as ``Derivative``'s are); ``on_grids`` then computes, and
    what it raises is a bug.
    """
    from . import horizontal as _horizontal
    from .coords import grid_mappings

    keep = set(variables or ds.data_vars) | {str(g.name) for g in grid_mappings(ds)[0]}
    given = ds.drop_vars([v for v in ds.data_vars if v not in keep])
    try:
        grids = _horizontal.find_grids(given, **{k: v for k, v in options.items() if k != "datetime_unit"})
    except (ValueError, TypeError, ImportError) as err:
        raise UsageError(f"--horizontal: {one_line(err)}") from None
    missing = [v for v in variables or [] if v not in grids]
    if missing:
        raise UsageError(
            f"--horizontal: variable {missing[0]!r} is not on a horizontal grid (no latitude/"
            "longitude on its dimensions and no CF grid mapping)"
        )
    clash = [f"d{v}_d{which}" for v in grids for which in ("east", "north") if f"d{v}_d{which}" in out.variables]
    if clash:
        raise UsageError(f"--horizontal: {clash[0]!r} is also the name of another output variable")
    result = _horizontal.on_grids(given, grids)
    for name, var in result.data_vars.items():
        out[name] = var
    for name in _referenced(ds, out):
        if name not in out.variables:
            out[name] = ds[name]
    return out, list(result.data_vars)


def _output_names(ds, alongs):
    """The names of the derivatives (``labelled.output_names``, as ``Dataset.grad``), in the command's words.

    No derivative may take the name of another one or of a coordinate
    written beside it: ``a_dx`` along ``y`` and ``a`` along ``x_dy`` are
    both ``da_dx_dy``, and one of them would be lost without a word.
    """
    pairs, given = [], {}
    for along in alongs:
        for name in along.names:
            pair = (name, along.derivative.coord.name)
            pairs.append(pair)
            given.setdefault(pair, along.coord)
    try:
        return output_names(pairs, ds.coords)
    except NameClash as clash:
        name, coord = clash.pair[0], given[clash.pair]
        if clash.other is None:
            raise UsageError(
                f"the derivative of {name!r} along {coord!r} would be named {clash.key!r}, "
                "like a coordinate of the input that is written beside it; leave it out "
                "with --var, or rename the coordinate"
            ) from None
        raise UsageError(
            f"the derivatives of {clash.other[0]!r} along {given[clash.other]!r} and of {name!r} along "
            f"{coord!r} would both be named {clash.key!r}; differentiate them in "
            "separate runs (choose the variables with --var)"
        ) from None


def _left_out(ds, alongs):
    """{variable: why} for the variables along a planned dimension that the default leaves out.

    The library's rule (``skipped_vars``), so that the command and
    ``Dataset.grad`` leave out the same; the cell bounds of a coordinate
    are not worth a word (they are written along with it).
    """
    bounds = {
        var.attrs.get(key, var.encoding.get(key)) for var in ds.coords.values() for key in ("bounds", "climatology")
    }
    why = {}
    for along in alongs:
        for name, reason in skipped_vars(ds, along.derivative.coord.dim).items():
            if name not in bounds and name not in along.names:
                why.setdefault(name, reason)
    return why


def _derivative(ds, coord, geo, options):
    """The library's checked stencil along `coord`; its input errors are usage errors."""
    try:
        return Derivative(ds, coord, geo=geo, **options)
    except UnknownCoordinateError as err:
        raise _UnknownCoordinate(f"unknown coordinate {coord!r}: {err}") from None
    except (KeyError, ValueError, TypeError) as err:
        raise UsageError(one_line(err)) from None


def _check_variable(ds, name, derivatives):
    if name not in ds.variables:
        raise UsageError(f"unknown variable {name!r}; the data variables are {sorted(map(str, ds.data_vars))}")
    if name not in ds.data_vars:
        raise UsageError(f"{name!r} is a coordinate, not a data variable")
    var = ds[name]
    why = not_differentiable(var)  # the library's rule, as Dataset.grad's
    if why == "boolean":
        raise UsageError(f"variable {name!r} is boolean (a mask): it has no derivative")
    if why:
        raise UsageError(f"variable {name!r} has dtype {var.dtype}: only numbers can be differentiated")
    for coord, derivative in derivatives.items():
        dim = derivative.coord.dim
        if dim not in var.dims:
            raise UsageError(
                f"variable {name!r} has no dimension {dim!r} (its dimensions are "
                f"{var.dims}): it cannot be differentiated along {coord!r}"
            )
        _check_metric(var, derivative)


def _check_metric(var, derivative):
    """A longitude derivative with --geo needs the latitude's dimensions on the variable."""
    metric = derivative.metric
    missing = [] if metric is None else [d for d in metric.dims if d not in var.dims]
    if missing:
        raise UsageError(
            f"--geo: variable {var.name!r} has no dimension {missing} of the latitude "
            f"{metric.name!r} that its derivative along longitude {derivative.coord.name!r} needs"
        )


def _derivatives(ds, alongs):
    out = {}
    for along in alongs:
        for name in along.names:
            key = f"d{name}_d{along.derivative.coord.name}"
            out[key] = along.derivative.apply(ds[name], name=key)
    result = xr.Dataset(out, coords=ds.coords, attrs=dict(ds.attrs))
    for name in _referenced(ds, result):
        result[name] = ds[name]
    return result, list(out)


def _referenced(ds, out):
    """Variables named by the bounds/grid_mapping attributes of what is written."""
    found = []
    for var in out.variables.values():
        for key in REFERENCES:
            value = var.attrs.get(key, var.encoding.get(key))
            if not isinstance(value, str):
                continue
            # grid_mapping may be "crs: lat lon crs2: x y"; the names end in ':'.
            words = value.split()
            names = [w[:-1] for w in words if w.endswith(":")] if ":" in value else words
            found += [n for n in names if n in ds.data_vars and n not in out.variables]
    return _unique(found)


# --------------------------------------------------------------------------
# Chunking and encoding


def _result_itemsize(dtype):
    return 4 if np.dtype(dtype) == np.float32 else 8


def _chunk_sizes(ds, names, keep_whole, fixed, target=TARGET_CHUNK_BYTES):
    """Dask chunk size per dimension of `ds` for differentiating `names`.

    Dimensions in `fixed` keep the size asked for (-1: whole). Each selected
    variable's block (in bytes of input or result, whichever is larger) is
    brought down to about `target` by splitting its dimensions outermost
    first (contiguous reads in a C-ordered netCDF variable), the ones not
    differentiated (`keep_whole`) before the others, so that most blocks need
    no halo. A size larger than the variable's on-disk chunk is rounded down
    to a multiple of it, so that no disk chunk is read by two blocks.
    """
    bad = [d for d in fixed if d not in ds.dims]
    if bad:
        raise UsageError(f"--chunks: unknown dimension {bad[0]!r}; the file has {sorted(map(str, ds.dims))}")
    sizes = {d: n for d, n in ds.sizes.items()}
    for dim, n in fixed.items():
        if n != -1:
            sizes[dim] = min(n, sizes[dim]) or 1
    for name in names:
        var = ds[name]
        itemsize = max(var.dtype.itemsize, _result_itemsize(var.dtype))
        order = [d for d in var.dims if d not in keep_whole] + [d for d in var.dims if d in keep_whole]
        for dim in order:
            if dim in fixed:
                continue
            nbytes = itemsize * math.prod(sizes[d] for d in var.dims)
            if nbytes <= target:
                break
            rest = nbytes // max(sizes[dim], 1)
            sizes[dim] = max(1, int(target // max(rest, 1)))
        disk = var.encoding.get("chunksizes")
        if disk and len(disk) == var.ndim:
            for dim, c in zip(var.dims, disk):
                if dim not in fixed and c and c < sizes[dim] < ds.sizes[dim]:
                    sizes[dim] -= sizes[dim] % c
    return sizes


def _check_size(ds, steps, sizes, max_blocks=MAX_BLOCKS, memory=None):
    """Refuse a run whose task graph or blocks would not fit in memory.

    `steps` is [(dimension, [variables])] for each derivative written. Done
    before any dask array exists: the number of blocks and their size follow
    from the shapes and `sizes` alone.
    """
    import dask.system

    total, largest = 0, (0, None)
    for _, names in steps:
        for name in names:
            var = ds[name]
            blocks = math.prod(-(-n // sizes[d]) for d, n in zip(var.dims, var.shape))
            total += blocks
            block = math.prod(min(sizes[d], n) for d, n in zip(var.dims, var.shape))
            nbytes = block * max(var.dtype.itemsize, _result_itemsize(var.dtype))
            largest = max(largest, (nbytes, name))
    memory = _memory() if memory is None else memory
    threads = dask.system.CPU_COUNT
    if memory and largest[0] * BLOCK_COPIES * threads > memory:
        raise UsageError(
            f"blocks of {_bytes(largest[0])} (variable {largest[1]!r}, --chunks "
            f"{_chunks_text(ds[largest[1]].dims, sizes)}) times {BLOCK_COPIES} copies in each of "
            f"{threads} threads exceed this machine's memory ({_bytes(memory)}): give smaller "
            "blocks with --chunks DIM=N"
        )
    if total > max_blocks:
        name = max((n for _, names in steps for n in names), key=lambda n: ds[n].size)
        var = ds[name]
        raise UsageError(
            f"{total:,} blocks to compute (variable {name!r}: {' x '.join(map(str, var.shape))} "
            f"{var.dtype}, {_bytes(var.size * var.dtype.itemsize)}, in blocks of --chunks "
            f"{_chunks_text(var.dims, sizes)}): more than {max_blocks:,} would make dask's task "
            f"graph too large for memory; give larger blocks with --chunks DIM=N (about "
            f"{-(-total // max_blocks)} times larger) or select part of the file first"
        )


def _chunks_text(dims, sizes):
    return ",".join(f"{d}={sizes[d]}" for d in dims)


def _bytes(n):
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000


def _memory():
    """Memory this process may use, in bytes (physical, or a cgroup's limit if lower), or None."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():  # "max": no limit
            total = min(total, int(text)) if total else int(text)
        break
    return total


def _nc_chunks(shape, itemsize, target=NC_CHUNK_BYTES):
    """netCDF chunk shape: divides the dask block `shape`, at most `target` bytes.

    Every dask block then covers whole netCDF chunks, so each chunk is
    compressed once, by the task that computed it, and written raw.

    >>> _nc_chunks((12, 180, 360), 4, target=2**20)
    (4, 180, 360)
    >>> _nc_chunks((1, 2000, 3000), 8, target=2**20)
    (1, 40, 3000)
    """
    shape = list(shape)
    for i, n in enumerate(shape):
        rest = itemsize * math.prod(shape[:i] + shape[i + 1 :])
        if rest * n <= target:
            break
        fits = max(1, target // rest)
        shape[i] = max(d for d in _divisors(n) if d <= fits)
    return tuple(shape)


def _divisors(n):
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in small]


def _encoding(out, ds, sizes, complevel):
    import netCDF4

    encoding = {}
    for name, var in out.variables.items():
        if name in ds.variables:  # carried over from the input
            source = ds[name].encoding
            enc = {k: source[k] for k in KEPT_ENCODING if k in source}
            enc.setdefault("_FillValue", None)
            encoding[name] = enc
            continue
        enc = {"zlib": True, "complevel": complevel, "shuffle": True} if complevel else {}
        # A fill value far from any derivative (the input's could be one).
        enc["_FillValue"] = np.dtype(var.dtype).type(netCDF4.default_fillvals[np.dtype(var.dtype).str[1:]])
        if var.ndim and all(var.shape):
            block = tuple(sizes[d] for d in var.dims)
            enc["chunksizes"] = _nc_chunks(block, var.dtype.itemsize)
        encoding[name] = enc
    return encoding



class _Pool(ThreadPoolExecutor):
    """dask's worker threads, remembering the tasks still to finish."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.futures = weakref.WeakSet()

    def submit(self, fn, /, *args, **kwargs):
        future = super().submit(fn, *args, **kwargs)
        self.futures.add(future)
        return future

    def stop(self, timeout):
        """Cancel what has not started; wait (at most `timeout` s) for the rest."""
        self.shutdown(wait=False, cancel_futures=True)
        concurrent.futures.wait(list(self.futures), timeout=timeout)


def _check_dask_can_store():
    """Refuse, before any work, to write under a dask that cannot store arrays.

    dask's expression backend (``array.query-planning``) has no
    ``dask.array.store`` yet, which every netCDF writer needs. Not a usage
    error: the same command works on the classic backend.
    """
    import dask.array as da

    if not getattr(da, "array_expr_enabled", lambda: False)():
        return
    try:
        da.store([], [])
    except NotImplementedError:
        raise NotImplementedError(
            "cannot write the output: dask.array.store is not implemented in dask's expression "
            "backend (array.query-planning, e.g. DASK_ARRAY__QUERY_PLANNING=True); "
            "run with it unset or False"
        ) from None
    except Exception:
        return  # implemented, and fussy about nothing to store: the real write will tell



def _write(out, sources, dst, encoding, overwrite, progress):
    import dask.config
    import dask.system

    _check_dask_can_store()
    # Our own thread pool, so that on an error or a signal we can wait for the
    # blocks being written to finish before removing the file (xarray would
    # otherwise reopen a closed file for the next block and recreate it).
    pool = _Pool(max_workers=dask.system.CPU_COUNT, thread_name_prefix="xgradient")

    def fill(path):
        bar = contextlib.nullcontext()
        if progress:
            from dask.diagnostics import ProgressBar

            bar = ProgressBar(out=sys.stderr)
        # Computed inside to_netcdf, not through compute=False and a Delayed:
        # dask orders the delayed form of an overlapping graph so that it
        # holds a growing share of the input (dask's own map_overlap too),
        # which would break streaming a file larger than memory.
        with bar, dask.config.set(scheduler="threads", pool=pool):
            _to_netcdf(out, path, encoding)
        pool.shutdown()

    write_file(dst, fill, sources=sources, overwrite=overwrite, stop=lambda: pool.stop(timeout=STOP_TIMEOUT))


def _to_netcdf(out, path, encoding):
    """Write `out` as netCDF-4, compressing in the worker threads when h5netcdf is there."""
    try:
        import h5netcdf  # noqa: F401
        import h5py  # noqa: F401
    except ImportError:
        # HDF5 compresses each block inside its write call, under its lock:
        # the same file, at the speed of one core.
        out.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)
    else:
        ncwrite.to_netcdf(out, path, encoding)


def now():
    """The time now in UTC, as the ``history`` attribute of a netCDF file gives it.

    Examples
    --------
    >>> len(now()), now()[-1]
    (20, 'Z')
    """
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(err):
    """The message of the exception `err` on one line (a KeyError's without quotes,
    an OSError's without ``[Errno N]``).

    Examples
    --------
    >>> one_line(KeyError("no  such   thing")), one_line(OSError(28, "No space left on device"))
    ('no such thing', 'No space left on device')
    """
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    if isinstance(err, OSError) and err.strerror and err.filename is None:
        text = err.strerror  # without "[Errno 28]"
    return " ".join(str(text).split()) or type(err).__name__


def printable(text):
    """`text` as valid UTF-8: bytes of a file name that are not (os.fsdecode's
    surrogates) shown as ``\\xNN``.

    Examples
    --------
    >>> printable(os.fsdecode(b"caf\\xe9.nc"))
    'caf\\\\xe9.nc'
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file name made
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


