"""The ``xgradient`` command, end to end, on real netCDF files.

Most tests run the command in a subprocess (``python -m xgradient``, with
PYTHONPATH at the repository root, so no install is needed) on copies of the
iris-sample-data files in tmp_path, and compare what it wrote with the
``.grad`` accessor on the same input. The many error paths also run in
process through ``cli.main`` (the same code, without an interpreter start
each), and a batch of them through subprocesses, run side by side.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)
from xgradient import cli, files
from conftest import NEEDS_STORE, kill_mid_write

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
SAMPLES = ("ostia_monthly.nc", "atlantic_profiles.nc", "A1B_north_america.nc")


def sample_dir() -> Path:
    iris_sample_data = pytest.importorskip("iris_sample_data")
    return Path(iris_sample_data.path)


@pytest.fixture
def data(tmp_path):
    """Copies of the sample files in a fresh folder (never the installed ones)."""
    for name in SAMPLES:
        shutil.copy(sample_dir() / name, tmp_path / name)
    return tmp_path


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Read-only copies shared by the error-path tests of this module."""
    path = tmp_path_factory.mktemp("shared")
    for name in SAMPLES:
        shutil.copy(sample_dir() / name, path / name)
    return path


def run(*args, cwd, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "xgradient", *map(str, args)],
        cwd=cwd,
        env=ENV,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def start(*args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "xgradient", *map(str, args)],
        cwd=cwd,
        env={**ENV, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread's stack
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checksum(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def assert_same(written, expected, rtol=1e-6):
    assert written.dims == expected.dims
    assert written.dtype == expected.dtype
    np.testing.assert_allclose(written.values, expected.values, rtol=rtol, atol=0, equal_nan=True)


def open_input(path):
    with xr.open_dataset(path, decode_timedelta=False) as ds:
        return ds.load()


# ---------------------------------------------------------------------------
# What the command writes


@NEEDS_STORE
def test_geo_gradient_of_ostia_matches_the_accessor(data):
    src, out = data / "ostia_monthly.nc", data / "out.nc"
    before = checksum(src)
    res = run(src.name, "-o", out.name, "--coord", "latitude", "--coord", "longitude", "--geo", cwd=data)
    assert res.returncode == 0, res.stderr
    assert checksum(src) == before
    ds = open_input(src)
    # The file's grid mapping gives the radius (a DataArray taken out of the
    # Dataset does not carry its grid mapping variable: say it).
    radius = float(ds.latitude_longitude.attrs["earth_radius"])
    with xr.open_dataset(out, decode_timedelta=False) as w:
        # d{var}_d{coord}, equal to the accessor on the whole input in memory
        assert_same(
            w.dsurface_temperature_dlatitude,
            ds.surface_temperature.grad("latitude", geo=True, radius=radius),
        )
        assert_same(w.dsurface_temperature_dlatitude, ds.grad("latitude", geo=True).surface_temperature)
        # the global longitude is detected and wrapped, as by the accessor
        expected_lon = ds.surface_temperature.grad("longitude", geo=True, radius=radius)
        assert_same(w.dsurface_temperature_dlongitude, expected_lon)
        assert not np.allclose(
            expected_lon.isel(longitude=0),
            ds.surface_temperature.grad("longitude", geo=True, periodic=False).isel(longitude=0),
            equal_nan=True,
        )
        da = w.dsurface_temperature_dlatitude
        assert da.attrs["units"] == "K m-1"
        assert da.attrs["long_name"] == "derivative of surface_temperature with respect to latitude"
        assert da.attrs["grid_mapping"] == "latitude_longitude"
        # referenced variables and coordinates come along
        assert "latitude_longitude" in w.variables and "time_bnds" in w.variables
        assert w.time.attrs["bounds"] == "time_bnds"
        np.testing.assert_array_equal(w.time.values, ds.time.values)
        np.testing.assert_array_equal(w.latitude.values, ds.latitude.values)
        assert "surface_temperature" not in w.variables
        assert w.attrs["Conventions"] == "CF-1.5"
        first = w.attrs["history"].splitlines()[0]
        stamp, command = first.split(": ", 1)
        assert time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
        assert command == "xgradient ostia_monthly.nc -o out.nc --coord latitude --coord longitude --geo"
        enc = da.encoding
        assert enc["zlib"] and enc["shuffle"] and 1 <= enc["complevel"] <= 6
        assert enc["chunksizes"] is not None
    # an ordinary file, not mkstemp's private mode
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert "wrote out.nc" in res.stdout
    # stderr is a pipe here, not a terminal: no progress bar (its \r lines
    # would fill a log file), nothing else either
    assert res.stderr == ""
    assert not list(data.glob(".xgradient-tmp-*"))  # no temporary folder left


@NEEDS_STORE
def test_chunked_depth_with_options_and_a_warning_in_one_line(data):
    src = data / "atlantic_profiles.nc"
    res = run(
        src, "-o", "theta.nc", "--var", "theta", "--coord", "depth", "--coord", "lon",
        "--accuracy", "4", "--chunks", "depth=7,lat=2", "--chunks", "lon=3", "-q", cwd=data,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    # the regional longitude box (0.5, 325.5, ..., 355.5): the accessor's
    # warning, as one line, and no progress bar (--quiet)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xgradient: warning: longitude 'lon' jumps")
    ds = open_input(src)
    with xr.open_dataset(data / "theta.nc") as w:
        assert sorted(w.data_vars) == ["dtheta_ddepth", "dtheta_dlon"]
        assert_same(w.dtheta_ddepth, ds.theta.grad("depth", accuracy=4))
        with pytest.warns(UserWarning, match="jumps"):
            assert_same(w.dtheta_dlon, ds.theta.grad("lon", accuracy=4))
        assert w.dtheta_ddepth.attrs["units"] == "K/m"
        # netCDF chunks divide the dask blocks (depth=7, lat=2, lon=3)
        assert w.dtheta_ddepth.encoding["chunksizes"] == (7, 2, 3)


@NEEDS_STORE
def test_cftime_time_derivative_per_day_extends_history(data):
    import netCDF4

    src = data / "A1B_north_america.nc"
    with netCDF4.Dataset(src, "a") as nc:
        nc.history = "2020-01-01T00:00:00Z: made by hand"
    res = run(src, "-o", "dTdt.nc", "--coord", "time", "--datetime-unit", "D", "--edge-order", "2", "-q", cwd=data)
    assert res.returncode == 0, res.stderr
    assert res.stdout == res.stderr == ""
    ds = open_input(src)
    with xr.open_dataset(data / "dTdt.nc", decode_timedelta=False) as w:
        assert sorted(w.data_vars) == ["dair_temperature_dtime", "latitude_longitude", "time_bnds"]
        assert_same(w.dair_temperature_dtime, ds.air_temperature.grad("time", datetime_unit="D", edge_order=2))
        assert w.dair_temperature_dtime.attrs["units"] == "K/day"
        assert w.time.encoding["calendar"] == "360_day"
        history = w.attrs["history"].splitlines()
        assert len(history) == 2
        assert history[0].endswith("--coord time --datetime-unit D --edge-order 2 -q")
        assert history[1] == "2020-01-01T00:00:00Z: made by hand"


@NEEDS_STORE
def test_periodic_options_reach_the_accessor(data):
    src = data / "ostia_monthly.nc"
    args = [str(src), "--var", "surface_temperature", "--coord", "longitude", "-q"]
    assert cli.main([*args, "-o", str(data / "open.nc"), "--no-periodic"]) == 0
    assert cli.main([*args, "-o", str(data / "wrap.nc"), "--periodic"]) == 0
    ds = open_input(src)
    with xr.open_dataset(data / "open.nc") as a, xr.open_dataset(data / "wrap.nc") as b:
        expected = ds.surface_temperature.grad("longitude", periodic=False)
        assert_same(a.dsurface_temperature_dlongitude, expected)
        assert_same(b.dsurface_temperature_dlongitude, ds.surface_temperature.grad("longitude", periodic=True))
        assert not np.allclose(a.dsurface_temperature_dlongitude, b.dsurface_temperature_dlongitude, equal_nan=True)


@NEEDS_STORE
def test_skipna_keeps_the_coastal_cells(data):
    src, out = data / "ostia_monthly.nc", data / "coast.nc"
    args = [str(src), "-o", str(out), "--coord", "latitude", "--coord", "longitude", "--geo", "--skipna", "-q"]
    assert cli.main(args + ["--chunks", "time=20,longitude=100"]) == 0
    ds = open_input(src)
    with xr.open_dataset(out) as w:
        for coord in ("latitude", "longitude"):
            written = w[f"dsurface_temperature_d{coord}"]
            assert_same(written, ds.grad(coord, geo=True, skipna=True).surface_temperature)  # the file's radius
            plain = ds.surface_temperature.grad(coord, geo=True)
            assert int(written.notnull().sum()) > int(plain.notnull().sum())


def netcdf_layout(path):
    """What netCDF-C sees: format, dimensions, global attributes, and for each
    variable its dimensions, dtype, attributes, filters and chunking."""
    import netCDF4

    with netCDF4.Dataset(path) as nc:
        variables = {
            name: (v.dimensions, v.dtype, {k: str(v.getncattr(k)) for k in v.ncattrs()}, v.filters(), v.chunking())
            for name, v in nc.variables.items()
        }
        attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
        dims = {name: (len(d), d.isunlimited()) for name, d in nc.dimensions.items()}
        return nc.file_format, dims, attrs, variables


@pytest.mark.parametrize(
    "name, coords",
    [("ostia_monthly.nc", ["latitude", "longitude"]), ("A1B_north_america.nc", ["time", "latitude"])],
)
@NEEDS_STORE
def test_same_file_compressed_in_the_workers_or_by_netcdf4(data, monkeypatch, chunk_writes, name, coords):
    """With h5netcdf the chunks are compressed in the worker threads, all of them
    (none through h5py's ordinary write); without it, netCDF4 writes the file as
    before. What netCDF-C and xarray read from either is the same."""
    src = data / name
    options = {"geo": True, "skipna": True, "history": "made by the test"}
    parallel = cli.gradient_file(src, data / "parallel.nc", coords, **options)
    with xr.open_dataset(parallel) as written, xr.open_dataset(src) as given:
        derivatives = {v for v in written.data_vars if v not in given.variables}
    # Every chunk of every derivative written raw; through h5py, only the
    # small contiguous variables carried over from the input (time bounds).
    assert set(chunk_writes.raw) == derivatives
    assert not derivatives & set(chunk_writes.h5py)

    def refuse(*args, **kwargs):
        raise AssertionError("xgradient.to_netcdf called without h5netcdf")

    monkeypatch.setitem(sys.modules, "h5netcdf", None)  # import h5netcdf raises ImportError
    monkeypatch.setattr(files.ncwrite, "to_netcdf", refuse)
    serial = cli.gradient_file(src, data / "serial.nc", coords, **options)

    assert netcdf_layout(parallel) == netcdf_layout(serial)
    with xr.open_dataset(parallel, engine="netcdf4", decode_timedelta=False) as a, \
            xr.open_dataset(serial, engine="netcdf4", decode_timedelta=False) as b:
        xr.testing.assert_identical(a.load(), b.load())
        assert a.time.encoding["units"] == b.time.encoding["units"]
        assert a.time.encoding["calendar"] == b.time.encoding["calendar"]
        assert a.attrs["history"].splitlines()[0] == "made by the test"


def test_default_chunks_bound_the_block_size():
    import dask.array as da

    # 14 GB of float32, lazily: blocks of about 32 MB, lat and lon kept whole
    ds = xr.Dataset({"t": (("time", "lat", "lon"), da.zeros((4800, 721, 1440), dtype="f4", chunks=-1))})
    sizes = files._chunk_sizes(ds, ["t"], keep_whole=["lat", "lon"], fixed={})
    assert sizes["lat"] == 721 and sizes["lon"] == 1440
    assert 1 <= sizes["time"] and 4 * 721 * 1440 * sizes["time"] <= files.TARGET_CHUNK_BYTES
    # along time: the other dimensions are split first, time stays whole
    sizes = files._chunk_sizes(ds, ["t"], keep_whole=["time"], fixed={})
    assert sizes["time"] == 4800
    assert 4 * np.prod(list(sizes.values())) <= files.TARGET_CHUNK_BYTES
    # a user's size is kept
    assert files._chunk_sizes(ds, ["t"], keep_whole=["time"], fixed={"lon": 10})["lon"] == 10


# ---------------------------------------------------------------------------
# Safety: the input, an existing output, interrupted runs


@NEEDS_STORE
def test_refuses_to_replace_an_existing_output_without_overwrite(data):
    src, out = data / "atlantic_profiles.nc", data / "old.nc"
    out.write_bytes(b"an earlier result")
    assert cli.main([str(src), "-o", str(out), "--coord", "depth", "-q"]) == 2
    assert out.read_bytes() == b"an earlier result"
    assert cli.main([str(src), "-o", str(out), "--coord", "depth", "-q", "--overwrite"]) == 0
    with xr.open_dataset(out) as w:
        assert "dtheta_ddepth" in w


@pytest.mark.parametrize("how", ["same path", "symlink", "hardlink", "other spelling"])
def test_never_writes_over_its_input(data, how, capsys):
    src = data / "atlantic_profiles.nc"
    before = checksum(src)
    if how == "same path":
        out = src
    elif how == "symlink":
        out = data / "link.nc"
        out.symlink_to(src)
    elif how == "hardlink":
        out = data / "hard.nc"
        os.link(src, out)
    else:
        (data / "sub").mkdir()
        out = data / "sub" / ".." / src.name
    assert cli.main([str(src), "-o", str(out), "--coord", "depth", "--overwrite", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xgradient: error: output") and "is the input file" in err
    assert checksum(src) == before
    assert not list(data.glob(".xgradient-tmp-*"))


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 52 MB file of noise: several seconds to compress, time enough to kill."""
    path = tmp_path_factory.mktemp("big") / "big.nc"
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {"t": (("time", "lat", "lon"), rng.standard_normal((100, 180, 360)), {"units": "K"})},
        coords={
            "time": ("time", np.arange(100.0), {"units": "days since 2000-01-01"}),
            "lat": ("lat", np.linspace(-89.5, 89.5, 180), {"units": "degrees_north"}),
            "lon": ("lon", np.arange(360.0), {"units": "degrees_east"}),
        },
    )
    ds.to_netcdf(path)
    return path


@NEEDS_STORE
def test_sigterm_mid_write_keeps_the_earlier_output_and_cleans_up(big, tmp_path):
    out = tmp_path / "result.nc"
    out.write_bytes(b"an earlier result")
    proc = start(big, "-o", out, "--coord", "lat", "--coord", "lon", "--overwrite", cwd=tmp_path)
    _, err = kill_mid_write(proc, tmp_path, signal.SIGTERM, ".xgradient-tmp-*/*")
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.splitlines()[-1] == "xgradient: terminated; no output written"
    assert "Traceback" not in err
    assert out.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc"]  # temp file removed


@NEEDS_STORE
def test_sigkill_mid_write_leaves_no_output(big, tmp_path):
    out = tmp_path / "result.nc"
    proc = start(big, "-o", out, "--coord", "lat", "-q", cwd=tmp_path)
    kill_mid_write(proc, tmp_path, signal.SIGKILL, ".xgradient-tmp-*/*")
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # only the hidden temporary name was ever written


# ---------------------------------------------------------------------------
# Errors a user can make: exit code 2, one line, nothing written


@pytest.fixture(scope="module")
def bad_coordinate_file(shared):
    path = shared / "turns.nc"
    xr.Dataset({"t": ("x", [1.0, 2.0, 3.0, 4.0])}, coords={"x": [0.0, 1.0, 3.0, 2.0]}).to_netcdf(path)
    return path


def _error_cases(d):
    a1b, atl = d / "A1B_north_america.nc", d / "atlantic_profiles.nc"
    (d / "notnetcdf.nc").write_text("temperature,lat\n1,2\n")
    (d / "exists.nc").write_bytes(b"keep me")
    (d / "a_folder").mkdir(exist_ok=True)
    return {
        "missing input": (["nope.nc", "-o", "o.nc", "--coord", "lat"], "input file 'nope.nc' does not exist"),
        "not netcdf": ([d / "notnetcdf.nc", "-o", "o.nc", "--coord", "lat"], "as netCDF"),
        "input folder": ([d / "a_folder", "-o", "o.nc", "--coord", "lat"], "is a folder"),
        "unknown variable": ([a1b, "-o", "o.nc", "--coord", "time", "--var", "tas"], "unknown variable 'tas'"),
        "coordinate as variable": ([a1b, "-o", "o.nc", "--coord", "time", "--var", "latitude"], "not a data variable"),
        "variable without the dim": (
            [a1b, "-o", "o.nc", "--coord", "time", "--var", "latitude_longitude"],
            "has no dimension 'time'",
        ),
        "unknown coordinate": ([a1b, "-o", "o.nc", "--coord", "lat"], "unknown coordinate 'lat'"),
        "chunks syntax": ([a1b, "-o", "o.nc", "--coord", "time", "--chunks", "time"], "argument --chunks"),
        "chunks zero": ([a1b, "-o", "o.nc", "--coord", "time", "--chunks", "time=0"], "argument --chunks"),
        "chunks dimension": ([a1b, "-o", "o.nc", "--coord", "time", "--chunks", "depth=3"], "unknown dimension 'depth'"),
        "accuracy": ([a1b, "-o", "o.nc", "--coord", "time", "--accuracy", "3"], "argument --accuracy"),
        "accuracy not a number": ([a1b, "-o", "o.nc", "--coord", "time", "--accuracy", "high"], "argument --accuracy"),
        "edge order": ([a1b, "-o", "o.nc", "--coord", "time", "--edge-order", "3"], "argument --edge-order"),
        "datetime unit": ([a1b, "-o", "o.nc", "--coord", "time", "--datetime-unit", "years"], "--datetime-unit"),
        "no coordinate": ([a1b, "-o", "o.nc"], "--coord"),
        "no output": ([a1b, "--coord", "time"], "--output"),
        "unknown option": ([a1b, "-o", "o.nc", "--coord", "time", "--ignore-nan"], "unrecognized arguments: --ignore-nan"),
        "geo without lat/lon": ([atl, "-o", "o.nc", "--coord", "depth", "--geo"], "--geo needs a latitude"),
        "output exists": ([a1b, "-o", d / "exists.nc", "--coord", "time"], "pass --overwrite"),
        "output folder missing": ([a1b, "-o", d / "nowhere" / "o.nc", "--coord", "time"], "does not exist"),
        "output is a folder": ([a1b, "-o", d / "a_folder", "--coord", "time", "--overwrite"], "is a folder"),
        "non-monotonic coordinate": ([d / "turns.nc", "-o", "o.nc", "--coord", "x"], "'x' is not monotonic"),
        "too few points": ([atl, "-o", "o.nc", "--coord", "lat", "--accuracy", "6"], "'lat'"),
        "demo option": (["demo", "--bogus"], "unrecognized arguments: --bogus (see 'xgradient demo --help')"),
        "demo folder is a file": (["demo", "-o", d / "exists.nc"], "exists and is not a folder"),
    }


def _check_error(code, out, err, expected, folder):
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("xgradient: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err and out == ""
    assert not (folder / "o.nc").exists()
    assert (folder / "exists.nc").read_bytes() == b"keep me"


@pytest.fixture(scope="module")
def error_cases(shared, bad_coordinate_file):
    return _error_cases(shared)


@pytest.mark.parametrize(
    "case",
    [
        "missing input", "not netcdf", "input folder", "unknown variable", "coordinate as variable",
        "variable without the dim", "unknown coordinate", "chunks syntax", "chunks zero",
        "chunks dimension", "accuracy", "accuracy not a number", "edge order", "datetime unit",
        "no coordinate", "no output", "unknown option", "geo without lat/lon", "output exists",
        "output folder missing", "output is a folder", "non-monotonic coordinate", "too few points",
        "demo option", "demo folder is a file",
    ],
)
def test_user_error_in_process(case, error_cases, shared, capsys, monkeypatch):
    monkeypatch.chdir(shared)
    before = {p: checksum(shared / p) for p in SAMPLES}
    args, expected = error_cases[case]
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    _check_error(code, captured.out, captured.err, expected, shared)
    assert {p: checksum(shared / p) for p in SAMPLES} == before


def test_user_errors_through_the_command(error_cases, shared):
    """The same messages and exit code from the real command, several at once."""
    cases = ["unknown option", "not netcdf", "unknown coordinate", "output exists", "non-monotonic coordinate"]
    procs = {c: start(*error_cases[c][0], cwd=shared) for c in cases}
    for case, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        _check_error(proc.returncode, out, err, error_cases[case][1], shared)


def test_help_shows_an_example(shared):
    res = run("--help", cwd=shared)
    assert res.returncode == 0
    assert "examples:" in res.stdout
    assert "xgradient sst.nc -o sst_grad.nc --coord lat --coord lon --geo --skipna" in res.stdout
    assert "xgradient demo" in res.stdout


# ---------------------------------------------------------------------------
# The demo


@NEEDS_STORE
def test_demo_writes_its_files_and_passes_its_self_check(tmp_path):
    res = run("demo", "-o", "out", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    folder = tmp_path / "out"
    assert (folder / "sample_ta.nc").exists()
    with xr.open_dataset(folder / "sample_ta_gradient.nc") as w:
        assert sorted(w.data_vars) == ["dta_dlat", "dta_dlon", "dta_dplev"]
        assert w.dta_dlat.attrs["units"] == "K m-1" and w.dta_dplev.attrs["units"] == "K/hPa"
        # an independent check of one number: numpy.gradient along pressure
        with xr.open_dataset(folder / "sample_ta.nc") as s:
            ta = s.ta.values.astype(np.float64)
            ref = np.gradient(ta, s.plev.values, axis=0, edge_order=2)
        # accuracy=4 differs from numpy's 2nd order only by truncation error
        diff = np.abs(w.dta_dplev.values - ref).max() / np.abs(ref).max()
        assert diff < 0.02
    assert res.stdout.count("OK") == 3
    assert "max |grad T| at 500 hPa" in res.stdout
    png = folder / "gradient_500hPa.png"
    if "map:     none" not in res.stdout:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:  # pragma: no cover - without matplotlib
        assert "pip install 'xgradient[demo]'" in res.stdout


@pytest.mark.parametrize("level", [0, 1, 9])
@NEEDS_STORE
def test_complevel(data, level):
    """--complevel sets the zlib level of what is written (0: uncompressed), same numbers."""
    out = data / f"c{level}.nc"
    assert cli.main([str(data / "atlantic_profiles.nc"), "-o", str(out), "--coord", "depth",
                     "--complevel", str(level), "-q"]) == 0
    with xr.open_dataset(out) as w, xr.open_dataset(data / "atlantic_profiles.nc") as ds:
        enc = w.dtheta_ddepth.encoding
        assert bool(enc.get("zlib", False)) == (level > 0)
        if level:
            assert enc["complevel"] == level and enc["shuffle"]
        np.testing.assert_array_equal(w.dtheta_ddepth.values, ds.theta.grad("depth").values)


def test_complevel_out_of_range_is_a_usage_error(data, capsys):
    assert cli.main([str(data / "atlantic_profiles.nc"), "-o", str(data / "o.nc"), "--coord",
                     "depth", "--complevel", "10"]) == 2
    assert "--complevel" in capsys.readouterr().err
    assert not (data / "o.nc").exists()
