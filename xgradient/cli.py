"""The ``xgradient`` command: parse the arguments, call the library, report.

``xgradient INPUT.nc -o OUTPUT.nc --coord lat --coord lon --geo`` is
``xgradient.files.differentiate_file`` (the pipeline: inputs checked and
opened lazily, derivatives built with ``labelled.Derivative``, streamed to a
compressed netCDF file) and ``xgradient.atomic`` (the output written in a
private folder beside it and renamed at the end). This module only turns
the command line into a call, and the outcome into a summary, messages on
stderr, the progress bar and an exit status: 2 for a ``UsageError``
(nothing written), 1 when writing fails or for a bug, 128 + the signal when
stopped. What the command guarantees against hostile files, other users
and faults (docs/cli.md, "Guarantees") is checked by
tests/test_cli_hostile.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import traceback
import warnings
from pathlib import Path

from . import __version__, atomic
from .atomic import UsageError
from .coords import TIME_UNITS
from .files import COMPLEVEL, differentiate_file, gradient_file, now, one_line, printable
from .labelled import EARTH_RADIUS

__all__ = ["UsageError", "gradient_file", "main"]

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: Set (to anything but 0 or empty) to print the traceback of an error.
DEBUG_VARIABLE = "XGRADIENT_DEBUG"

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
    written = differentiate_file(
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
        history=f"{now()}: xgradient {shlex.join(argv)}",
    )
    if not args.quiet:
        print(printable(f"xgradient: wrote {written.path} ({', '.join(written.variables)})"))
    return 0


class _Bar:
    shown = False  # a progress bar is drawn on stderr


def _show_progress(asked, quiet):
    """--progress / --no-progress if given, else only on a terminal and without --quiet.

    A progress bar redraws its line with carriage returns: in a log file
    (stderr redirected, a batch job) that is a line of noise per update.
    """
    _Bar.shown = _wants_progress(asked, quiet)
    return _Bar.shown


def _wants_progress(asked, quiet):
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
    print(f"xgradient: warning: {one_line(message)}", file=sys.stderr)


def _debug():
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def _report(line):
    """One line on stderr, after the traceback when XGRADIENT_DEBUG is set."""
    if _debug():
        traceback.print_exc()
    print(f"xgradient: {line}", file=sys.stderr)


def _stopped_message(signum, written):
    """The line the command ends with when a stopping signal ends it (see atomic.exit_on_stop_signal)."""
    what = {signal.SIGINT: "interrupted", getattr(signal, "SIGHUP", None): "hung up"}.get(signum, "terminated")
    # A progress bar leaves the cursor at the end of its line.
    start = "\n" if _Bar.shown else ""
    if written is not None:
        return f"{start}xgradient: {what} after the output was complete: {printable(str(written))} is written"
    return f"{start}xgradient: {what}; no output written"


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
        line, the traceback with ``XGRADIENT_DEBUG=1``). A stopping
        signal (SIGINT, SIGTERM, SIGHUP) ends the process at once, with
        one line on stderr and status 130/143/129, the temporary file
        removed: `main` then does not return (``atomic.exit_on_stop_signal``).

    Examples
    --------
    >>> from xgradient.cli import main
    >>> main(["missing.nc", "-o", "out.nc", "--coord", "lat"])
    2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    atomic.forget_written()
    _Bar.shown = False
    previous = {}
    handler = atomic.exit_on_stop_signal(_stopped_message)
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        for s in atomic.STOP_SIGNALS:
            previous[s] = signal.signal(s, handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.showwarning = _show_warning
            return _run(argv)
    except UsageError as err:
        _report(f"error: {one_line(err)}")
        return EXIT_USAGE
    except SystemExit as exit:  # --help and --version
        return exit.code if isinstance(exit.code, int) else 0
    except (OSError, RuntimeError) as err:  # disk full, HDF5 errors, permissions
        _report(f"error: {one_line(err)}")
        return EXIT_FAILURE
    except Exception as err:  # noqa: BLE001  (not the user's doing: a bug)
        hint = "" if _debug() else f"; run again with {DEBUG_VARIABLE}=1 to see the traceback"
        _report(
            f"internal error (a bug in xgradient {__version__}, please report it): "
            f"{type(err).__name__}: {one_line(err)}{hint}"
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:  # not from a signal, which ends the process in its handler
        print(_stopped_message(signal.SIGINT, atomic.written_path()), file=sys.stderr)
        return 128 + signal.SIGINT
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
