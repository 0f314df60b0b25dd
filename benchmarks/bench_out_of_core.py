"""Out of core: differentiate a netCDF file larger than the memory a job may use.

Generates a float32 netCDF file ``t(time, lat, lon)`` on a Gaussian grid
(nonuniform latitudes), written one netCDF chunk at a time so that the
generator itself never holds the field, then runs three jobs, each in a fresh
Python process, and measures that process's peak resident memory (the
``ru_maxrss`` that ``os.wait4`` reports for it alone) and wall time:

``cli``        ``python -m xgradient IN.nc -o OUT.nc --coord lat --quiet``
``accessor``   ``xr.open_dataset(IN, chunks=...)`` -> ``.grad("lat")`` ->
               ``xgradient.to_netcdf``
``accessor-xr`` the same, written by xarray's ``to_netcdf`` (engine netcdf4)
``copy``       the same pipeline without the gradient: open -> xarray's
               ``to_netcdf``

All of them use the same dask chunks and write the same netCDF encoding as
the command does (zlib level 1 with shuffle, one time step per netCDF chunk),
so the copy is the floor the gradient jobs are measured against: the same
bytes read, decompressed or not, the same bytes compressed and written. Jobs
are run ``--repeat`` times, interleaved, and the medians reported. The file is
read from the page cache (it was just written) in every job alike.

Targets: peak RSS under 1 GiB for the gradient jobs, whatever the file size;
wall time within 1.3x of the copy.

Compression is most of the work, and a derivative (rougher than the field)
takes longer to compress than the field itself. xarray's writers hand each
block to the netCDF library, which compresses inside its write call, under the
lock that serialises writes: ``accessor-xr`` and ``copy`` run on about one
core whatever the machine. ``xgradient.to_netcdf`` (``cli`` and ``accessor``)
compresses each chunk in the worker thread that computed it and writes the
compressed bytes. ``--uncompressed`` makes the accessor and copy jobs write
plain netCDF (the command always compresses), to see the cost of the
derivative alone.

Usage::

    python benchmarks/bench_out_of_core.py [--size-gib 4] [--dir /tmp]
        [--nlat 640] [--nlon 1280] [--time-chunk N] [--repeat 1] [--keep]

A quick check: ``--size-gib 0.25``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30
MIB = 2**20
#: What the xgradient command writes (xgradient/cli.py); the other jobs write the same.
COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}  # as the command writes


def gaussian_latitudes(n):
    """Latitudes of a Gaussian grid (degrees, south to north): arcsin of the
    Gauss-Legendre nodes, as in spectral models (N320 has 640 of them)."""
    return np.rad2deg(np.arcsin(np.polynomial.legendre.leggauss(n)[0]))


def write_input(path, nt, nlat, nlon, seed=0):
    """Write t(time, lat, lon) one time step at a time; return its size in bytes."""
    import netCDF4

    lat = gaussian_latitudes(nlat)
    lon = np.arange(nlon) * (360.0 / nlon)
    coslat = np.cos(np.deg2rad(lat))[:, None]
    rad_lon = np.deg2rad(lon)[None, :]
    rng = np.random.default_rng(seed)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.createDimension("time", nt)
        nc.createDimension("lat", nlat)
        nc.createDimension("lon", nlon)
        v = nc.createVariable("time", "f8", ("time",))
        v.units = "hours since 2000-01-01 00:00:00"
        v.standard_name = "time"
        v[:] = np.arange(nt) * 6.0
        v = nc.createVariable("lat", "f8", ("lat",))
        v.units, v.standard_name = "degrees_north", "latitude"
        v[:] = lat
        v = nc.createVariable("lon", "f8", ("lon",))
        v.units, v.standard_name = "degrees_east", "longitude"
        v[:] = lon
        # Uncompressed input, one time step per netCDF chunk (as many
        # reanalysis files are laid out).
        t = nc.createVariable("t", "f4", ("time", "lat", "lon"), chunksizes=(1, nlat, nlon))
        t.units, t.standard_name = "K", "air_temperature"
        for i in range(nt):
            # A smooth field with travelling waves and some noise.
            field = (
                250.0
                + 40.0 * coslat**2
                + 5.0 * coslat * np.sin(3 * rad_lon + 0.05 * i)
                + 0.5 * rng.standard_normal((nlat, nlon))
            )
            t[i] = field.astype(np.float32)
    return os.path.getsize(path)


# Each job is a separate Python process; its code is below as a string so that
# its memory is its own (nothing of the parent's is inherited but the text).
ACCESSOR_JOB = """
import sys, xarray as xr, xgradient
src, dst, tchunk, comp = sys.argv[1], sys.argv[2], int(sys.argv[3]), eval(sys.argv[4])
ds = xr.open_dataset(src, chunks={"time": tchunk, "lat": -1, "lon": -1}, cache=False)
out = ds[["t"]].grad(["lat"])
_, nlat, nlon = ds.t.shape
enc = {v: dict(comp, chunksizes=(1, nlat, nlon)) for v in out.data_vars}
WRITE
"""
PARALLEL_WRITE = "xgradient.to_netcdf(out, dst, enc)"
XARRAY_WRITE = 'out.to_netcdf(dst, engine="netcdf4", encoding=enc)'

# The fixed cost in every gradient job: imports, and the kernel's first call
# (numba compiles it, or loads it from its cache).
STARTUP_JOB = """
import numpy as np, xarray, dask.array, netCDF4, xgradient
xgradient.gradient(np.zeros((2, 4, 3), np.float32), [0.0, 1.0, 3.0, 4.0], axis=1)
"""

COPY_JOB = """
import sys, xarray as xr
src, dst, tchunk, comp = sys.argv[1], sys.argv[2], int(sys.argv[3]), eval(sys.argv[4])
ds = xr.open_dataset(src, chunks={"time": tchunk, "lat": -1, "lon": -1}, cache=False)
out = ds[["t"]]
_, nlat, nlon = ds.t.shape
enc = {v: dict(comp, chunksizes=(1, nlat, nlon)) for v in out.data_vars}
out.to_netcdf(dst, engine="netcdf4", encoding=enc)
"""


def job_commands(src, dst, tchunk, compression=COMPRESSION):
    py = sys.executable
    args = [str(src), str(dst), str(tchunk), repr(compression)]
    return {
        "cli": [py, "-m", "xgradient", str(src), "-o", str(dst), "--coord", "lat",
                "--chunks", f"time={tchunk}", "--quiet", "--overwrite"],
        "accessor": [py, "-c", ACCESSOR_JOB.replace("WRITE", PARALLEL_WRITE), *args],
        "accessor-xr": [py, "-c", ACCESSOR_JOB.replace("WRITE", XARRAY_WRITE), *args],
        "copy": [py, "-c", COPY_JOB, *args],
        "startup": [py, "-c", STARTUP_JOB],
    }


def run_measured(cmd, env):
    """Run `cmd`; return (wall seconds, peak RSS bytes, CPU seconds) of that process alone."""
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: nothing can fill up
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        # wait4 reports this child's own rusage (RUSAGE_CHILDREN would be the
        # largest of every child so far).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
            raise SystemExit(f"job failed ({proc.returncode}): {shlex.join(cmd)[:200]}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def check_output(src, dst, name):
    """The first and last time steps of the output against numpy.gradient."""
    import xarray as xr

    with xr.open_dataset(src) as a, xr.open_dataset(dst) as b:
        lat = a.lat.values
        for i in (0, a.sizes["time"] - 1):
            expected = np.gradient(a.t[i].values, lat, axis=0)
            np.testing.assert_allclose(b[name][i].values, expected, rtol=1e-5, atol=1e-5)


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}; load average at start {load}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=4.0, help="input file size (default 4)")
    parser.add_argument("--dir", default=None, help="where to put the files (default: the system temp dir)")
    parser.add_argument("--nlat", type=int, default=640, help="Gaussian latitudes (default 640, N320)")
    parser.add_argument("--nlon", type=int, default=1280)
    parser.add_argument("--time-chunk", type=int, default=None,
                        help="time steps per dask block (default: blocks of about 32 MiB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each job, interleaved")
    parser.add_argument("--uncompressed", action="store_true",
                        help="accessor and copy jobs write without compression")
    parser.add_argument("--jobs", default="cli,accessor,accessor-xr,copy,startup",
                        help="which jobs to run, comma-separated (default: all; 'startup' is "
                        "the imports and first kernel call alone, the fixed cost of a job)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args(argv)

    step_bytes = args.nlat * args.nlon * 4
    nt = max(2, round(args.size_gib * GIB / step_bytes))
    tchunk = args.time_chunk or max(1, round(32 * MIB / step_bytes))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)

    import dask
    import netCDF4
    import xarray as xr

    print(f"machine: {machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, xarray {xr.__version__}, "
          f"dask {dask.__version__}, netCDF4 {netCDF4.__version__}")
    print("command: python benchmarks/bench_out_of_core.py " + shlex.join(sys.argv[1:] if argv is None else argv))

    workdir = Path(tempfile.mkdtemp(prefix="xgradient-ooc-", dir=args.dir))
    try:
        src = workdir / "in.nc"
        t = time.perf_counter()
        size = write_input(src, nt, args.nlat, args.nlon)
        print(f"input: t(time={nt}, lat={args.nlat} Gaussian, lon={args.nlon}) float32, "
              f"{size / GIB:.2f} GiB, written in {time.perf_counter() - t:.1f} s; "
              f"dask blocks: time={tchunk} ({tchunk * step_bytes / MIB:.0f} MiB), lat and lon whole")
        print("output: " + ("accessor and copy uncompressed, cli zlib-1 + shuffle" if args.uncompressed
                            else "zlib level 1 + shuffle, one time step per netCDF chunk, for every job"))
        print()
        names = tuple(j for j in ("cli", "accessor", "accessor-xr", "copy", "startup") if j in args.jobs.split(","))
        results = {k: [] for k in names}
        for r in range(args.repeat):
            for name in names:  # interleaved: machine noise hits all alike
                dst = workdir / f"out-{name}.nc"
                cmd = job_commands(src, dst, tchunk, {} if args.uncompressed else COMPRESSION)[name]
                results[name].append(run_measured(cmd, env))
                if r == 0 and name in ("cli", "accessor", "accessor-xr"):
                    check_output(src, dst, "dt_dlat")
                dst.unlink(missing_ok=True)
        med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in results.items()}
        header = f"{'job':<11} {'wall':>8} {'peak RSS':>9} {'CPU':>8} {'wall/copy':>10} {'RSS/file':>9}"
        print(header)
        print("-" * len(header))
        copy = med.get("copy", (float("nan"),))[0]
        for name in names:
            wall, rss, cpu = med[name]
            print(f"{name:<11} {wall:7.1f}s {rss / MIB:7.0f}MiB {cpu:7.1f}s "
                  f"{wall / copy:9.2f}x {rss / size:8.3f}")
        print()
        grads = [k for k in ("cli", "accessor") if k in med]
        ok = all(med[k][1] < GIB for k in grads)
        fast = all(med[k][0] <= 1.3 * copy for k in grads)
        print(f"targets: peak RSS < 1 GiB: {'met' if ok else 'NOT met'}; "
              f"wall <= 1.3 x copy: {'met' if fast else 'NOT met (or no copy run)'}")
    finally:
        if args.keep:
            print(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
