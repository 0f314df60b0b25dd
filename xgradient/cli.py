"""The ``xgradient`` command: netCDF in, derivatives out, chunk by chunk.

``xgradient INPUT.nc -o OUTPUT.nc --coord lat --coord lon --geo`` opens the
input lazily with dask, builds the derivatives with the ``.grad`` accessor and
streams them to a compressed netCDF file, block by block, so that memory stays
bounded whatever the size of the file; each block is compressed by the thread
that computed it (``xgradient.to_netcdf``). The output is first written in a
private folder beside it and renamed at the end: an interrupted run leaves no
half-written output, and an older output stays as it was until the new one is
complete. What the command guarantees against hostile files, other users and
faults (docs/cli.md, "Guarantees") is checked by tests/test_cli_hostile.py.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import errno
import glob
import hashlib
import math
import os
import secrets
import shlex
import signal
import socket
import stat
import sys
import traceback
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from . import __version__, ncwrite
from .coords import (
    TIME_UNITS,
    UnknownCoordinateError,
    is_latitude,
    is_longitude,
)
from .labelled import EARTH_RADIUS, Derivative, differentiable_vars, skipped_vars

__all__ = ["UsageError", "gradient_file", "main"]

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

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: Set (to anything but 0 or empty) to print the traceback of an error.
DEBUG_VARIABLE = "XGRADIENT_DEBUG"


class UsageError(Exception):
    """A mistake in the command line or its input files (exit code 2)."""


class _UnknownCoordinate(UsageError):
    """A --coord that the (group of the) file does not have."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up code runs."""


def gradient_file(
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
    pathlib.Path
        The output path.

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
    >>> from xgradient.cli import gradient_file
    >>> tmp = tempfile.mkdtemp()
    >>> depth = np.array([0.0, 10.0, 30.0, 60.0])
    >>> xr.Dataset({"theta": ("depth", 20 - 0.1 * depth, {"units": "degC"})},
    ...            coords={"depth": ("depth", depth, {"units": "m"})}
    ...            ).to_netcdf(os.path.join(tmp, "in.nc"))
    >>> out = gradient_file(os.path.join(tmp, "in.nc"), os.path.join(tmp, "out.nc"), ["depth"])
    >>> with xr.open_dataset(out) as result:
    ...     print(result.dtheta_ddepth.values, result.dtheta_ddepth.units)
    [-0.1 -0.1 -0.1 -0.1] degC/m
    """
    sources = _inputs(input)
    _check_output_name(sources[0], output)
    dst = Path(output)
    for src in sources:
        _check_input(src)
        _check_output(src, dst, overwrite)
        _check_storage(src, allow_external)
    src = sources[0]
    coords = _unique(coords or [])
    if not coords and not horizontal:
        raise UsageError("no coordinate given: name one with --coord (or use --horizontal)")
    if datetime_unit not in TIME_UNITS:
        raise UsageError(f"datetime unit must be one of {list(TIME_UNITS)}, got {datetime_unit!r}")
    options = {
        "accuracy": accuracy,
        "edge_order": edge_order,
        "periodic": periodic,
        "radius": radius,
        "skipna": skipna,
        "datetime_unit": datetime_unit,
    }
    ds = _open(sources, group=group, decode_times=decode_times)
    try:
        chosen = None if variables is None else _unique(variables)
        try:
            plan = _plan(ds, coords, chosen, geo, options) if coords else []
        except _UnknownCoordinate as err:
            groups = _groups(src) if group is None else None
            if groups:  # the coordinate may well be in one of them
                raise UsageError(f"{err}; {str(src)!r} has groups {groups}: read one with --group NAME") from None
            raise
        if variables is None and note is not None and plan:
            left_out = _left_out(ds, plan)
            if left_out:
                note("not differentiated: " + ", ".join(f"{n!r} ({why})" for n, why in left_out.items()))
        selected = _unique(v for step in plan for v in step.names)
        steps = [(step.derivative.coord.dim, step.names) for step in plan]
        if horizontal:
            across = _horizontal_vars(ds, chosen)
            selected = _unique(selected + across)
            steps += [("east", across), ("north", across)]
        sizes = _chunk_sizes(ds, selected, [step.derivative.coord.dim for step in plan], chunks or {})
        _check_size(ds, steps, sizes)
        lazy = ds.chunk(sizes)
        out = _derivatives(lazy, plan)
        if horizontal:
            out = _with_horizontal(lazy, out, chosen, options)
        if history is None:
            given = str(src) if len(sources) == 1 else [str(p) for p in sources]
            history = f"{_now()}: xgradient.gradient_file({given!r}, {str(dst)!r}, {coords!r})"
        old = ds.attrs.get("history")
        # A file name need not be UTF-8; a netCDF attribute must be.
        out.attrs["history"] = _printable(f"{history}\n{old}" if old else history)
        encoding = _encoding(out, ds, sizes, complevel)
        _write(out, sources, dst, encoding, overwrite, progress)
    finally:
        ds.close()
    return dst


# --------------------------------------------------------------------------
# Checks on the paths


def _check_input(src):
    try:
        info = os.stat(src)  # never opens it: a FIFO would block here
    except FileNotFoundError:
        raise UsageError(f"input file {str(src)!r} does not exist") from None
    except OSError as err:
        raise UsageError(f"cannot read {str(src)!r}: {_one_line(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"input {str(src)!r} is a folder, not a netCDF file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"input {str(src)!r} is {_kind(info.st_mode)}, not a regular file: give a netCDF file")


def _kind(mode):
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


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
        if not h5py.is_hdf5(src):
            return  # netCDF-3 (classic) files: no such thing, and sizes bounded by the file's
        handle = h5py.File(src, "r")
    except (OSError, ValueError):
        return  # _open says what is wrong with it
    with handle:
        found = [] if allow_external else _outside_data(handle)
        huge = _huge_coordinates(handle)
    if found:
        name, what = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise UsageError(
            f"{_printable(name)!r} in {str(src)!r} {what}{more}: xgradient does not read "
            "data from outside its input unless --allow-external is given"
        )
    if huge:
        name, size, nbytes, limit = huge[0]
        raise UsageError(
            f"coordinate {_printable(name)!r} of {str(src)!r} declares {size:,} values "
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


def _check_output_name(input, output):
    """Refuse an output that is not a file name: ``-`` or a folder."""
    text = os.fspath(output)
    if text == "-":
        raise UsageError(
            "cannot write netCDF to the standard output ('-o -'): a netCDF-4 file must be "
            "seekable; give a file name (./- for a file named '-')"
        )
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    if text.endswith(seps) or os.path.isdir(text):
        suggestion = os.path.join(text, f"{Path(os.fspath(input)).stem}_grad.nc")
        raise UsageError(f"output {text!r} is a folder; give a file name, e.g. {suggestion!r}")


def _same_file(a, b):
    # samefile compares st_dev and st_ino: the same file through a symlink or
    # a hard link is caught, not only the same spelling of the path.
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_output(src, dst, overwrite):
    if _same_file(src, dst):
        raise UsageError(
            f"output {str(dst)!r} is the input file {str(src)!r}; xgradient never "
            "writes over its input (even with --overwrite): choose another output"
        )
    if dst.is_dir():
        raise UsageError(f"output {str(dst)!r} is a folder; give a file name")
    parent = dst.parent
    if not parent.is_dir():
        raise UsageError(f"the folder of output {str(dst)!r} does not exist")
    try:
        info = os.lstat(dst)
    except FileNotFoundError:
        return
    _check_target(dst, info.st_mode, overwrite)


def _check_target(dst, mode, overwrite):
    """An existing output may be replaced only if it is a regular file (or a link) and `overwrite`."""
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        # -o /dev/null --overwrite run as root would replace the device.
        raise UsageError(
            f"output {str(dst)!r} is {_kind(mode)}; xgradient only replaces regular files "
            "(even with --overwrite): choose another output"
        )
    if not overwrite:
        raise UsageError(f"output {str(dst)!r} exists; pass --overwrite to replace it")


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
                f"{str(sources[0])!r} has no variables outside its groups {groups}; "
                "choose one with --group NAME"
            )
    return ds


def _open_as(sources, group, decode_times):
    # cache=False: each dask task reads its own block from the file.
    # decode_timedelta=False keeps durations (forecast_period) as numbers
    # with their units, as they are in the file.
    options = {"engine": "netcdf4", "decode_timedelta": False, "decode_times": decode_times, "group": group}
    if len(sources) == 1:
        return xr.open_dataset(sources[0], cache=False, **options)
    # Only the variables along the dimension the files are joined on are
    # concatenated (not a grid mapping or the coordinates of a fixed grid,
    # taken from the first file), and the files' grids must match exactly.
    return xr.open_mfdataset(
        sources,
        combine="by_coords",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
        **options,
    )


def _unreadable(sources, err):
    if len(sources) == 1:
        return UsageError(f"cannot read {str(sources[0])!r} as netCDF: {_one_line(err)}")
    return UsageError(f"cannot read and combine the {len(sources)} input files: {_one_line(err)}")


def _undecodable_times(sources, group):
    """The names of the variables whose CF times xarray cannot decode."""
    found = []
    for src in sources:
        try:
            raw = xr.open_dataset(src, engine="netcdf4", decode_cf=False, group=group)
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
        with netCDF4.Dataset(src) as nc:
            walk(nc)
    except OSError:  # not netCDF: said when it is opened
        return None
    return found


def _check_group(src, group):
    groups = _groups(src)
    if groups is not None and "/" + str(group).strip("/") not in groups:
        where = f"its groups are {groups}" if groups else "it has no groups"
        raise UsageError(f"{str(src)!r} has no group {group!r}; {where}")


# --------------------------------------------------------------------------
# What to differentiate


def _unique(names):
    seen = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


class _Step(NamedTuple):
    """One coordinate of the plan: its checked stencil and the variables it applies to."""

    coord: str
    derivative: Derivative
    names: list

    def output_name(self, name):
        """``d{var}_d{coord}``, as ``Dataset.grad`` names a derivative."""
        return f"d{name}_d{self.derivative.coord.name}"


def _plan(ds, coords, variables, geo, options):
    """[_Step] after checking every name, the coordinates and the options.

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
        plan = [_Step(c, d, list(variables)) for c, d in derivatives.items()]
    else:
        plan = [_Step(c, d, list(differentiable_vars(ds, d.coord.dim))) for c, d in derivatives.items()]
        if not any(step.names for step in plan):
            wanted = sorted({d.coord.dim for d in derivatives.values()})
            raise UsageError(f"no numeric data variable has the dimension(s) {wanted}; nothing to do")
        for step in plan:
            for name in step.names:
                _check_metric(ds[name], step.derivative)
    _check_output_names(ds, plan)
    return plan


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
    """`out` plus d{var}_deast/d{var}_dnorth of the selected variables (lazy)."""
    from . import horizontal as _horizontal
    from .coords import grid_mappings

    keep = set(variables or ds.data_vars) | {str(g.name) for g in grid_mappings(ds)[0]}
    try:
        result = _horizontal.horizontal(
            ds.drop_vars([v for v in ds.data_vars if v not in keep]),
            **{k: v for k, v in options.items() if k != "datetime_unit"},
        )
    except (KeyError, ValueError, TypeError, ImportError) as err:
        raise UsageError(f"--horizontal: {_one_line(err)}") from None
    missing = [v for v in variables or [] if f"d{v}_deast" not in result.data_vars]
    if missing:
        raise UsageError(
            f"--horizontal: variable {missing[0]!r} is not on a horizontal grid (no latitude/"
            "longitude on its dimensions and no CF grid mapping)"
        )
    clash = [k for k in result.data_vars if k in out.variables]
    if clash:
        raise UsageError(f"--horizontal: {clash[0]!r} is also the name of another output variable")
    for name, var in result.data_vars.items():
        out[name] = var
    for name in _referenced(ds, out):
        if name not in out.variables:
            out[name] = ds[name]
    return out


def _check_output_names(ds, plan):
    """No derivative may take the name of another one or of a coordinate written beside it.

    ``a_dx`` along ``y`` and ``a`` along ``x_dy`` are both ``da_dx_dy``:
    one of them would be lost without a word.
    """
    made = {}
    for step in plan:
        for name in step.names:
            key = step.output_name(name)
            if key in made:
                other, along = made[key]
                raise UsageError(
                    f"the derivatives of {other!r} along {along!r} and of {name!r} along "
                    f"{step.coord!r} would both be named {key!r}; differentiate them in "
                    "separate runs (choose the variables with --var)"
                )
            if key in ds.coords:
                raise UsageError(
                    f"the derivative of {name!r} along {step.coord!r} would be named {key!r}, "
                    "like a coordinate of the input that is written beside it; leave it out "
                    "with --var, or rename the coordinate"
                )
            made[key] = (name, step.coord)


def _left_out(ds, plan):
    """{variable: why} for the variables along a planned dimension that the default leaves out.

    The library's rule (``skipped_vars``), so that the command and
    ``Dataset.grad`` leave out the same; the cell bounds of a coordinate
    are not worth a word (they are written along with it).
    """
    bounds = {
        var.attrs.get(key, var.encoding.get(key)) for var in ds.coords.values() for key in ("bounds", "climatology")
    }
    why = {}
    for step in plan:
        for name, reason in skipped_vars(ds, step.derivative.coord.dim).items():
            if name not in bounds and name not in step.names:
                why.setdefault(name, reason)
    return why


def _derivative(ds, coord, geo, options):
    """The library's checked stencil along `coord`; its input errors are usage errors."""
    try:
        return Derivative(ds, coord, geo=geo, **options)
    except UnknownCoordinateError as err:
        raise _UnknownCoordinate(f"unknown coordinate {coord!r}: {err}") from None
    except (KeyError, ValueError, TypeError) as err:
        raise UsageError(_one_line(err)) from None


def _check_variable(ds, name, derivatives):
    if name not in ds.variables:
        raise UsageError(f"unknown variable {name!r}; the data variables are {sorted(map(str, ds.data_vars))}")
    if name not in ds.data_vars:
        raise UsageError(f"{name!r} is a coordinate, not a data variable")
    var = ds[name]
    if var.dtype.kind == "b":
        raise UsageError(f"variable {name!r} is boolean (a mask): it has no derivative")
    if var.dtype.kind not in "iuf":
        raise UsageError(f"variable {name!r} has dtype {var.dtype}: only real numbers can be differentiated")
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


def _derivatives(ds, plan):
    out = {}
    for step in plan:
        for name in step.names:
            key = step.output_name(name)
            out[key] = step.derivative.apply(ds[name], name=key)
    result = xr.Dataset(out, coords=ds.coords, attrs=dict(ds.attrs))
    for name in _referenced(ds, result):
        result[name] = ds[name]
    return result


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


# --------------------------------------------------------------------------
# Writing


def _umask():
    """The process umask, read without changing it (None when it cannot be read).

    ``os.umask`` can only be read by setting it: for a moment every file that
    another thread creates would get the mode set meanwhile.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


#: The private folder each run writes in, beside the output:
#: ``.xgradient-tmp-<host>-<pid>-<random>`` (see _TempOutput).
TEMP_PREFIX = ".xgradient-tmp-"

# getattr: the module imports everywhere; the write path needs POSIX (dir_fd).
_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _host_key():
    """Who may clean a stale temporary folder: this host and PID namespace.

    A pid means something only there; another machine (a shared file system)
    or container may be running a pid that is gone here.
    """
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}:{namespace}".encode()).hexdigest()[:8]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or no pid at all (a planted name)
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def _remove_stale_temps(parent_fd):
    """Remove the temporary folders of earlier runs that were killed (SIGKILL, power loss).

    Only ours: named by this host and PID namespace, owned by this user,
    real folders (not links), and their pid no longer running.
    """
    key = _host_key()
    try:
        names = os.listdir(parent_fd)
    except OSError:
        return
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        parts = name[len(TEMP_PREFIX) :].split("-")
        if len(parts) != 3 or parts[0] != key or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            _remove_folder(parent_fd, name)


def _remove_folder(parent_fd, name):
    """Remove our private folder `name` of `parent_fd` and the files in it, never following a link."""
    info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return
    fd = os.open(name, _O_DIR | _O_NOFOLLOW, dir_fd=parent_fd)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            return  # replaced meanwhile
        for entry in os.listdir(fd):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


class _TempOutput:
    """The output being written: a file in a private folder beside the target.

    The folder is created 0700 in the output's folder (so that the final
    rename stays on one file system) and everything is done through file
    descriptors held from the start: the folder's and the file's. Another
    user who can write the output's folder can rename or replace the
    private folder's entry, but cannot reach inside it, and nothing is ever
    opened or changed again by a path that goes through that entry (HDF5
    opens the file through ``/proc/self/fd``). Before the rename, the file
    at the temporary name is checked to be the one created here.
    """

    created = False  # the private folder exists

    def __init__(self, parent_fd, dst):
        self.parent_fd = parent_fd
        self.dst = dst
        self.folder = f"{TEMP_PREFIX}{_host_key()}-{os.getpid()}-{secrets.token_hex(4)}"
        # A short name inside the folder: the output's own name may be
        # NAME_MAX long already.
        self.name = "output.nc"
        self.fd = self.dir_fd = None
        os.mkdir(self.folder, 0o700, dir_fd=parent_fd)
        self.created = True
        try:
            self.dir_fd = os.open(self.folder, _O_DIR | _O_NOFOLLOW, dir_fd=parent_fd)
            folder = os.fstat(self.dir_fd)
            if folder.st_uid != os.geteuid() or stat.S_IMODE(folder.st_mode) & 0o077:
                raise OSError(errno.EPERM, f"temporary folder {self.folder!r} in {str(dst.parent)!r} was replaced")
            # The mode a file created in the output's folder would get
            # (umask), applied with fchmod at the end; the folder keeps it
            # private meanwhile.
            self.fd = os.open(
                self.name,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                0o666,
                dir_fd=self.dir_fd,
            )
            umask = _umask()
            self.mode = 0o666 & ~umask if umask is not None else stat.S_IMODE(os.fstat(self.fd).st_mode)
            os.fchmod(self.fd, 0o600)
        except BaseException:
            self.discard()
            raise

    @property
    def path(self):
        """The path HDF5 opens: through the folder's descriptor where the system has /proc."""
        via_fd = f"/proc/self/fd/{self.dir_fd}"
        if os.path.isdir(via_fd):
            return os.path.join(via_fd, self.name)
        # No /proc (not Linux): the folder's name, which another user who
        # can write the output's folder could swap; the check in commit()
        # still refuses to rename anything else than what was created here.
        return os.path.join(os.fspath(self.dst.parent), self.folder, self.name)

    def commit(self, sources, overwrite):
        """Check the file, give it its mode, and rename it into place."""
        mine = os.fstat(self.fd)
        there = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        if (there.st_dev, there.st_ino) != (mine.st_dev, mine.st_ino) or not stat.S_ISREG(there.st_mode):
            raise OSError(errno.EPERM, f"the temporary output in {str(self.dst.parent)!r} was replaced; nothing written")
        os.fchmod(self.fd, self.mode)
        # On disk before it has the output's name: after a crash the name
        # holds the old file or the whole new one.
        os.fsync(self.fd)
        target = self.dst.name
        self._check_target(sources, target, overwrite)  # again: the folder may have changed meanwhile
        with _signals_deferred():
            if overwrite:
                os.replace(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.parent_fd)
            else:
                self._rename_no_replace(target)
            _mark_written(self.dst)

    def _check_target(self, sources, target, overwrite):
        """_check_output, in the folder opened at the start (not its path, which may have moved)."""
        try:
            info = os.stat(target, dir_fd=self.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        with contextlib.suppress(OSError):
            resolved = os.stat(target, dir_fd=self.parent_fd)
            for src in sources:
                given = os.stat(src)
                if (resolved.st_dev, resolved.st_ino) == (given.st_dev, given.st_ino):
                    raise UsageError(
                        f"output {str(self.dst)!r} is the input file {str(src)!r}; xgradient never "
                        "writes over its input (even with --overwrite): choose another output"
                    )
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"output {str(self.dst)!r} is a folder; give a file name")
        _check_target(self.dst, info.st_mode, overwrite)

    def _rename_no_replace(self, target):
        # A hard link fails if the name exists (an output that appeared
        # since the check is not replaced without --overwrite).
        try:
            os.link(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.parent_fd, follow_symlinks=False)
        except FileExistsError:
            raise UsageError(f"output {str(self.dst)!r} exists; pass --overwrite to replace it") from None
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
                raise
            # A file system without hard links.
            os.replace(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.parent_fd)
        else:
            os.unlink(self.name, dir_fd=self.dir_fd)

    def discard(self):
        """Remove the temporary file (if still there) and the private folder."""
        if self.dir_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.name, dir_fd=self.dir_fd)
        for fd in (self.fd, self.dir_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self.created:
            with contextlib.suppress(OSError):
                _remove_folder(self.parent_fd, self.folder)
        self.fd = self.dir_fd = None
        self.created = False


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
    parent_fd = os.open(dst.parent, _O_DIR)
    temp = pool = None
    try:
        _remove_stale_temps(parent_fd)
        temp = _TempOutput(parent_fd, dst)
        # Our own thread pool, so that on an error or a signal we can wait for the
        # blocks being written to finish before removing the file (xarray would
        # otherwise reopen a closed file for the next block and recreate it).
        pool = _Pool(max_workers=dask.system.CPU_COUNT, thread_name_prefix="xgradient")
        bar = contextlib.nullcontext()
        if progress:
            from dask.diagnostics import ProgressBar

            bar = ProgressBar(out=sys.stderr)
        # Computed inside to_netcdf, not through compute=False and a Delayed:
        # dask orders the delayed form of an overlapping graph so that it
        # holds a growing share of the input (dask's own map_overlap too),
        # which would break streaming a file larger than memory.
        with bar, dask.config.set(scheduler="threads", pool=pool):
            _to_netcdf(out, temp.path, encoding)
        pool.shutdown()
        temp.commit(sources, overwrite)
        temp.discard()  # the empty private folder
    except BaseException as err:
        with _signals_held():
            if pool is not None:
                pool.stop(timeout=STOP_TIMEOUT)
            if temp is not None:
                temp.discard()
        if _is_disk_full(err):
            raise OSError(errno.ENOSPC, f"no space left on device writing {str(dst)!r}") from None
        raise
    finally:
        os.close(parent_fd)


def _is_disk_full(err):
    """Whether `err` (HDF5's, netCDF-C's or the system's) reports a full disk or quota."""
    codes = (errno.ENOSPC, errno.EDQUOT)
    if isinstance(err, OSError) and err.errno in codes:
        return True
    text = str(err)
    return any(f"errno = {code}," in text for code in codes) or "No space left on device" in text


#: The output just renamed into place by this process (for the message when
#: a signal comes after that): see main.
_written = None


def _mark_written(dst):
    global _written
    _written = dst


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


#: The signals that stop the command (each raises an exception in the main
#: thread, so that clean-up code runs).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _signals_held():
    """Ignore the stopping signals while cleaning up after the first one."""
    saved = {}
    try:
        for s in STOP_SIGNALS:
            saved[s] = signal.signal(s, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


class _Deferred:
    active = False
    pending = None


@contextlib.contextmanager
def _signals_deferred():
    """Hold a stopping signal (handled by _on_signal) until the block is done.

    The rename and the record that it happened go together: a signal in
    between would report "no output written" about an output in place.
    """
    _Deferred.active, _Deferred.pending = True, None
    try:
        yield
    finally:
        _Deferred.active = False
        signum, _Deferred.pending = _Deferred.pending, None
        if signum is not None:
            _raise_for(signum)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(err):
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    if isinstance(err, OSError) and err.strerror and err.filename is None:
        text = err.strerror  # without "[Errno 28]"
    return " ".join(str(text).split()) or type(err).__name__


def _printable(text):
    """`text` as valid UTF-8: bytes of a file name that are not (os.fsdecode's
    surrogates) shown as ``\\xNN``.

    >>> _printable(os.fsdecode(b"caf\\xe9.nc"))
    'caf\\\\xe9.nc'
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file name made
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------
# The command line

USAGE = """\
xgradient INPUT [INPUT ...] -o OUTPUT --coord NAME [--coord NAME ...] [options]
       xgradient INPUT -o OUTPUT --horizontal [options]
       xgradient demo [-o DIR] [--quiet] [--no-plot]"""

DESCRIPTION = """\
Differentiate netCDF variables along named coordinates, using the coordinate
values as the spacing (nonuniform grids, global longitudes, time), and write
d{var}_d{coord} for every variable and coordinate to a new netCDF file. The
input is read and the output written block by block (dask), so files larger
than memory work; the output appears only when complete.

'xgradient demo' runs the whole pipeline on a built-in sample field."""

EPILOG = """\
examples:
  xgradient sst.nc -o sst_grad.nc --coord lat --coord lon --geo --skipna
      SST fronts in K m-1 on the sphere (a global longitude wraps around;
      one-sided differences beside land)
  xgradient ocean.nc -o dtheta_dz.nc --var theta --coord depth --accuracy 4
      vertical gradient of theta on nonuniform depth levels, 4th order
  xgradient orca.nc -o grad_t.nc --var votemper --horizontal --skipna
      east and north gradients per metre on a curvilinear (2-D lat/lon) grid
  xgradient run.nc -o trend.nc --coord time --datetime-unit D --chunks time=-1
      rate of change per day along a (cftime) time axis
  xgradient 'run/tas_*.nc' -o dtas_dt.nc --coord time --chunks time=-1
      several files (a quoted pattern, or their names), combined along time
  xgradient model.nc --group forecast -o grad.nc --coord lat
      the variables of one netCDF group
  xgradient demo -o /tmp/xgradient-demo

exit status: 0 on success, 2 for a usage error (nothing written), 1 when
writing fails or for an internal error (a bug; XGRADIENT_DEBUG=1 shows its
traceback)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _chunk_option(text):
    sizes = {}
    for item in text.split(","):
        dim, sep, value = item.partition("=")
        dim = dim.strip()
        try:
            n = int(value)
        except ValueError:
            n = 0
        if not sep or not dim or not (n >= 1 or n == -1):
            raise argparse.ArgumentTypeError(
                f"expected DIM=N with N a positive number of points or -1 (whole), got {item!r}"
            )
        sizes[dim] = n
    return sizes


def build_parser():
    """The argument parser of ``xgradient INPUT -o OUTPUT --coord NAME``.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["in.nc", "-o", "out.nc", "--coord", "lat"])
    >>> args.coord, args.accuracy, args.periodic, args.progress
    (['lat'], 2, None, None)
    """
    p = _Parser(
        prog="xgradient",
        usage=USAGE,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input",
        nargs="+",
        metavar="INPUT",
        help="netCDF file to read (never modified); several files, or a quoted pattern "
        "such as 'run/*.nc', are combined by their coordinates",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="netCDF file to write")
    p.add_argument(
        "-c",
        "--coord",
        action="append",
        default=[],
        metavar="NAME",
        help="coordinate or dimension to differentiate along (repeat for several)",
    )
    p.add_argument(
        "--var",
        action="append",
        metavar="NAME",
        help="data variable to differentiate (repeat for several; default: every "
        "numeric data variable that has the coordinate's dimension, except boolean masks, "
        "flag and grid-mapping variables and CF bounds, as Dataset.grad; the command names "
        "those it leaves out)",
    )
    p.add_argument(
        "--geo",
        action="store_true",
        help="per metre on the sphere along latitude and longitude (units K m-1); "
        "other coordinates are differentiated as usual",
    )
    p.add_argument(
        "--horizontal",
        action="store_true",
        help="write d{var}_deast and d{var}_dnorth per metre on any horizontal grid "
        "(1-D or 2-D lat/lon, or projected/rotated with a CF grid mapping; --coord "
        "then optional)",
    )
    p.add_argument(
        "--radius",
        type=float,
        default=None,
        metavar="METRES",
        help="sphere radius for --geo and --horizontal (default: the file's grid "
        f"mapping's, else {EARTH_RADIUS})",
    )
    p.add_argument(
        "--accuracy", type=int, choices=(2, 4, 6), default=2, help="order of the interior stencil (default 2)"
    )
    p.add_argument(
        "--edge-order",
        type=int,
        choices=(1, 2),
        default=1,
        help="order of the one-sided differences at the ends, as numpy.gradient (default 1)",
    )
    p.add_argument(
        "--periodic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wrap around (period 360) or never wrap; default: wrap a longitude "
        "that goes round the globe",
    )
    p.add_argument(
        "--skipna",
        action="store_true",
        help="treat NaN cells (land in an ocean field) as boundaries: one-sided "
        "differences beside them instead of NaN",
    )
    p.add_argument(
        "--datetime-unit",
        choices=list(TIME_UNITS),
        default="s",
        help="time unit of the derivative along a time coordinate (default s)",
    )
    p.add_argument(
        "--chunks",
        action="append",
        type=_chunk_option,
        metavar="DIM=N",
        help="dask chunk size along DIM (-1: whole; repeat or separate with commas); "
        "default: blocks of about 32 MB",
    )
    p.add_argument(
        "--complevel",
        type=int,
        choices=range(10),
        default=COMPLEVEL,
        metavar="{0..9}",
        help=f"zlib compression level of the output, 0 for none (default {COMPLEVEL})",
    )
    p.add_argument("--group", metavar="NAME", help="netCDF group to read (default: the root group)")
    p.add_argument(
        "--no-decode-times",
        dest="decode_times",
        action="store_false",
        help="keep CF times as numbers in their units (by default they are decoded, "
        "and a variable whose times cannot be decoded is kept as numbers with a warning)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists (never INPUT)")
    p.add_argument(
        "--allow-external",
        action="store_true",
        help="read variables stored outside the input file (HDF5 external storage, "
        "virtual datasets, external links); refused by default",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show or hide dask's progress bar on stderr; default: shown only when "
        "stderr is a terminal (never in a log file) and without --quiet",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no summary and, unless --progress, no progress bar")
    p.add_argument("--version", action="version", version=f"xgradient {__version__}")
    return p


def _demo_parser():
    p = _Parser(
        prog="xgradient demo",
        description="Run the whole pipeline on a built-in sample: a global temperature "
        "field on a Gaussian grid, differentiated along lat, lon (per metre) and "
        "pressure, checked against its analytic derivative, with a map of |grad T| "
        "when matplotlib is installed (pip install 'xgradient[demo]').",
    )
    p.add_argument(
        "-o", "--output", metavar="DIR", default="xgradient-demo", help="folder for the files (default ./xgradient-demo)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-plot", action="store_true", help="skip the map even when matplotlib is installed")
    return p


def _run(argv):
    if argv and argv[0] == "demo":
        from . import demo

        args = _demo_parser().parse_args(argv[1:])
        if Path(args.output).exists() and not Path(args.output).is_dir():
            raise UsageError(f"demo folder {args.output!r} exists and is not a folder")
        report = demo.run(args.output, progress=_show_progress(None, args.quiet), plot=not args.no_plot)
        print(report.summary())
        return 0 if report.ok else EXIT_FAILURE
    args = build_parser().parse_args(argv)
    chunks = {}
    for item in args.chunks or []:
        chunks.update(item)
    dst = gradient_file(
        args.input,
        args.output,
        args.coord,
        group=args.group,
        decode_times=args.decode_times,
        variables=args.var,
        geo=args.geo,
        accuracy=args.accuracy,
        edge_order=args.edge_order,
        periodic=args.periodic,
        radius=args.radius,
        skipna=args.skipna,
        datetime_unit=args.datetime_unit,
        horizontal=args.horizontal,
        chunks=chunks,
        complevel=args.complevel,
        overwrite=args.overwrite,
        allow_external=args.allow_external,
        progress=_show_progress(args.progress, args.quiet),
        note=None if args.quiet else _note,
        history=f"{_now()}: xgradient {shlex.join(argv)}",
    )
    if not args.quiet:
        # h5netcdf (h5py) opens any file name; netCDF4 only UTF-8 ones.
        with xr.open_dataset(dst, engine="h5netcdf", decode_times=False) as written:
            names = [
                v for v, var in written.data_vars.items()
                if str(var.attrs.get("long_name", "")).startswith(
                    ("derivative of", "eastward derivative of", "northward derivative of")
                )
            ]
        print(_printable(f"xgradient: wrote {dst} ({', '.join(names)})"))
    return 0


def _show_progress(asked, quiet):
    """--progress / --no-progress if given, else only on a terminal and without --quiet.

    A progress bar redraws its line with carriage returns: in a log file
    (stderr redirected, a batch job) that is a line of noise per update.
    """
    if asked is not None:
        return asked
    if quiet or sys.stderr is None:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


def _note(line):
    print(f"xgradient: {line}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"xgradient: warning: {_one_line(message)}", file=sys.stderr)


def _on_signal(signum, frame):
    if _Deferred.active:
        _Deferred.pending = signum
        return
    _raise_for(signum)


def _raise_for(signum):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise _Terminated(signum)


def _debug():
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def _report(line):
    """One line on stderr, after the traceback when XGRADIENT_DEBUG is set."""
    if _debug():
        traceback.print_exc()
    print(f"xgradient: {line}", file=sys.stderr)


def _stopped_message(what):
    if _written is not None:
        return f"xgradient: {what} after the output was complete: {_printable(str(_written))} is written"
    return f"xgradient: {what}; no output written"


def main(argv=None):
    """Run the ``xgradient`` command; return its exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a usage error (one line on stderr, nothing
        written), 1 when writing fails or for an internal error (a bug: one
        line, the traceback with ``XGRADIENT_DEBUG=1``), 130/143/129 when
        stopped by SIGINT/SIGTERM/SIGHUP (the temporary file removed).

    Examples
    --------
    >>> from xgradient.cli import main
    >>> main(["missing.nc", "-o", "out.nc", "--coord", "lat"])
    2
    """
    global _written
    argv = sys.argv[1:] if argv is None else list(argv)
    _written = None
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        for s in STOP_SIGNALS:
            previous[s] = signal.signal(s, _on_signal)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.showwarning = _show_warning
            return _run(argv)
    except UsageError as err:
        _report(f"error: {_one_line(err)}")
        return EXIT_USAGE
    except SystemExit as exit:  # --help and --version
        return exit.code if isinstance(exit.code, int) else 0
    except (OSError, RuntimeError) as err:  # disk full, HDF5 errors, permissions
        _report(f"error: {_one_line(err)}")
        return EXIT_FAILURE
    except Exception as err:  # noqa: BLE001  (not the user's doing: a bug)
        hint = "" if _debug() else f"; run again with {DEBUG_VARIABLE}=1 to see the traceback"
        _report(
            f"internal error (a bug in xgradient {__version__}, please report it): "
            f"{type(err).__name__}: {_one_line(err)}{hint}"
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(_stopped_message("interrupted"), file=sys.stderr)
        return 128 + signal.SIGINT
    except _Terminated as stop:
        signum = stop.args[0] if stop.args else signal.SIGTERM
        what = "hung up" if signum == getattr(signal, "SIGHUP", None) else "terminated"
        print(_stopped_message(what), file=sys.stderr)
        return 128 + signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
