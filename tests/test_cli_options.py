"""The command's options and its sharp edges (issue 13, items 3, 4 and 9 to 14).

Inputs are small files written here (with xarray or netCDF4, as a model
would write them); expected derivatives come from numpy.gradient on the
same numbers. Most cases run in process through ``cli.main``; what depends
on the process (a terminal on stderr, the environment) runs the real command.
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)
from xgradient import cli
from xgradient.labelled import Derivative
from conftest import NEEDS_STORE

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
ENV.pop("XGRADIENT_DEBUG", None)

X = np.array([0.0, 1.0, 3.0, 6.0, 10.0])
Y = np.array([-2.0, 0.0, 1.0, 4.0])


def field():
    return (X[None, :] ** 2) * (1 + Y[:, None] ** 3)


def write_simple(path):
    xr.Dataset(
        {"t": (("y", "x"), field(), {"units": "K"})},
        coords={"x": ("x", X, {"units": "m"}), "y": ("y", Y, {"units": "m"})},
    ).to_netcdf(path)
    return path


@pytest.fixture
def simple(tmp_path):
    return write_simple(tmp_path / "in.nc")


def command(*args, cwd, env=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "xgradient", *map(str, args)],
        cwd=cwd, env=env or ENV, check=False, capture_output=True, text=True, timeout=300, **kwargs,
    )


def errors(capsys):
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ---------------------------------------------------------------------------
# 9. The progress bar: on a terminal only, or when asked


def on_a_terminal(*args, cwd):
    """Run the command with stderr on a pseudo-terminal; return (code, what it showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "xgradient", *map(str, args)],
        cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=slave,
    )
    os.close(slave)
    shown = b""
    while True:  # read as it comes: a full terminal buffer would block the command
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command closed its end
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=300), shown.decode(errors="replace")


@pytest.mark.parametrize(
    "options, bar",
    [([], True), (["-q"], False), (["--no-progress"], False), (["-q", "--progress"], True)],
)
@NEEDS_STORE
def test_progress_bar_on_a_terminal(simple, options, bar):
    code, shown = on_a_terminal(simple, "-o", "out.nc", "--coord", "x", *options, cwd=simple.parent)
    assert code == 0, shown
    assert ("100% Completed" in shown) == bar, shown


@pytest.mark.parametrize("options, bar", [([], False), (["--progress", "-q"], True)])
@NEEDS_STORE
def test_progress_bar_in_a_log_file(simple, options, bar):
    log = simple.parent / "log.txt"
    with open(log, "w") as stderr:
        proc = subprocess.run(
            [sys.executable, "-m", "xgradient", str(simple), "-o", "out.nc", "--coord", "x", *options],
            cwd=simple.parent, env=ENV, stdout=subprocess.DEVNULL, stderr=stderr, timeout=300, check=False,
        )
    assert proc.returncode == 0
    text = log.read_bytes().decode()  # not read_text: it turns \r into \n
    assert ("100% Completed" in text) == bar, text
    assert ("\r" in text) == bar


# ---------------------------------------------------------------------------
# 10. --help


def test_help_shows_the_radius_in_full_and_the_exit_status(tmp_path):
    res = command("--help", cwd=tmp_path)
    assert res.returncode == 0
    assert "6371008.8)" in res.stdout
    assert "e+06" not in res.stdout
    assert float("6371008.8") == cli.EARTH_RADIUS
    assert "internal error" in res.stdout and "XGRADIENT_DEBUG=1" in res.stdout


# ---------------------------------------------------------------------------
# 11. A bug is not a usage error


def test_a_user_error_found_by_the_library_is_exit_2(tmp_path, capsys):
    # repeated coordinate values: the library's own check, before any block
    xr.Dataset({"t": ("x", [1.0, 2.0, 3.0])}, coords={"x": [0.0, 1.0, 1.0]}).to_netcdf(tmp_path / "rep.nc")
    assert cli.main([str(tmp_path / "rep.nc"), "-o", str(tmp_path / "o.nc"), "--coord", "x", "-q"]) == 2
    line = errors(capsys)
    assert line.startswith("xgradient: error: ") and "'x'" in line
    assert not (tmp_path / "o.nc").exists()


@NEEDS_STORE
def test_geo_longitude_of_a_variable_without_latitude_is_a_usage_error(tmp_path, capsys):
    lat, lon = np.array([-10.0, 0.0, 10.0]), np.arange(0.0, 360.0, 30.0)
    xr.Dataset(
        {"t": (("lat", "lon"), np.ones((3, 12))), "zonal": ("lon", np.cos(np.deg2rad(lon)))},
        coords={"lat": lat, "lon": lon},
    ).to_netcdf(tmp_path / "in.nc")
    args = [str(tmp_path / "in.nc"), "-o", str(tmp_path / "o.nc"), "--coord", "lon", "--geo", "-q"]
    assert cli.main(args + ["--var", "zonal"]) == 2
    line = errors(capsys)
    assert "'zonal'" in line and "'lat'" in line
    assert cli.main(args) == 2  # the default selection takes it too
    assert "'zonal'" in errors(capsys)
    assert cli.main(args + ["--var", "t"]) == 0
    with xr.open_dataset(tmp_path / "o.nc") as w, xr.open_dataset(tmp_path / "in.nc") as ds:
        np.testing.assert_allclose(w.dt_dlon, ds.t.grad("lon", geo=True))


@pytest.mark.parametrize("error", [TypeError("unsupported operand"), ValueError("bad shape"), IndexError("out")])
def test_an_internal_error_is_exit_1_and_says_it_is_a_bug(simple, monkeypatch, capsys, error):
    def broken(self, da, name=None):
        raise error

    monkeypatch.delenv("XGRADIENT_DEBUG", raising=False)
    monkeypatch.setattr(Derivative, "apply", broken)
    out = simple.parent / "o.nc"
    assert cli.main([str(simple), "-o", str(out), "--coord", "x", "-q"]) == 1
    line = errors(capsys)
    assert line.startswith("xgradient: internal error (a bug in xgradient")
    assert f"{type(error).__name__}: {error}" in line
    assert "XGRADIENT_DEBUG=1" in line
    assert "usage error" not in line
    assert not out.exists() and not list(simple.parent.glob(".o.nc.*"))


@NEEDS_STORE
def test_an_error_inside_a_block_is_exit_1_too(simple, monkeypatch, capsys):
    """A bug that shows only when a block is computed, in dask's worker thread."""

    def boom(block):
        raise ValueError("operands could not be broadcast together")

    original = Derivative.apply

    def lazy_bug(self, da, name=None):
        result = original(self, da, name=name)
        return result.copy(data=result.data.map_blocks(boom, dtype=result.dtype))

    monkeypatch.delenv("XGRADIENT_DEBUG", raising=False)
    monkeypatch.setattr(Derivative, "apply", lazy_bug)
    out = simple.parent / "o.nc"
    assert cli.main([str(simple), "-o", str(out), "--coord", "x", "-q"]) == 1
    line = errors(capsys)
    assert line.startswith("xgradient: internal error (a bug in xgradient")
    assert "ValueError: operands could not be broadcast together" in line
    assert sorted(p.name for p in simple.parent.iterdir()) == ["in.nc"]  # nothing written, nothing left


def test_xgradient_debug_shows_the_traceback(simple, monkeypatch, capsys):
    def broken(self, da, name=None):
        raise TypeError("unsupported operand")

    monkeypatch.setenv("XGRADIENT_DEBUG", "1")
    monkeypatch.setattr(Derivative, "apply", broken)
    assert cli.main([str(simple), "-o", str(simple.parent / "o.nc"), "--coord", "x", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in broken" in err
    last = err.splitlines()[-1]
    assert last.startswith("xgradient: internal error") and "XGRADIENT_DEBUG" not in last


# ---------------------------------------------------------------------------
# 12. -o - and -o folder/


@pytest.mark.parametrize("output", ["-", "newdir/", "existing", "existing/"])
def test_output_that_is_not_a_file_name_is_refused(simple, monkeypatch, capsys, output):
    monkeypatch.chdir(simple.parent)
    (simple.parent / "existing").mkdir()
    before = sorted(p.name for p in simple.parent.iterdir())
    assert cli.main(["in.nc", "-o", output, "--coord", "x", "-q", "--overwrite"]) == 2
    line = errors(capsys)
    if output == "-":
        assert "standard output" in line and "./-" in line
    else:
        assert f"output {output!r} is a folder" in line
        assert repr(os.path.join(output, "in_grad.nc")) in line
    assert sorted(p.name for p in simple.parent.iterdir()) == before
    assert list((simple.parent / "existing").iterdir()) == []


@NEEDS_STORE
def test_a_file_named_dash_through_a_path(simple, monkeypatch):
    monkeypatch.chdir(simple.parent)
    assert cli.main(["in.nc", "-o", "./-", "--coord", "x", "-q"]) == 0
    with xr.open_dataset(simple.parent / "-") as w:
        np.testing.assert_allclose(w.dt_dx.values, np.gradient(field(), X, axis=1))


# ---------------------------------------------------------------------------
# 4. Output names that collide


@pytest.fixture
def colliding(tmp_path):
    """a_dx along y and a along x_dy are both da_dx_dy."""
    y, x = np.array([0.0, 1.0, 3.0, 4.0]), np.array([0.0, 2.0, 3.0, 7.0, 8.0])
    path = tmp_path / "names.nc"
    xr.Dataset(
        {"a_dx": (("y", "x_dy"), np.outer(y**2, x)), "a": (("y", "x_dy"), np.outer(y, x**2))},
        coords={"y": y, "x_dy": x},
    ).to_netcdf(path)
    return path


@NEEDS_STORE
def test_colliding_output_names_are_an_error_naming_both(colliding, capsys):
    out = colliding.parent / "o.nc"
    assert cli.main([str(colliding), "-o", str(out), "--coord", "y", "--coord", "x_dy", "-q"]) == 2
    line = errors(capsys)
    assert "'da_dx_dy'" in line
    assert "'a_dx' along 'y'" in line and "'a' along 'x_dy'" in line
    assert not out.exists()
    # in separate runs, both derivatives are written, each right
    with xr.open_dataset(colliding) as ds:
        x, y = ds.x_dy.values, ds.y.values
        for var, coord, axis, spacing in (("a_dx", "y", 0, y), ("a", "x_dy", 1, x)):
            target = colliding.parent / f"{var}.nc"
            assert cli.main([str(colliding), "-o", str(target), "--var", var, "--coord", coord, "-q"]) == 0
            with xr.open_dataset(target) as w:
                assert list(w.data_vars) == ["da_dx_dy"]
                np.testing.assert_allclose(w.da_dx_dy.values, np.gradient(ds[var].values, spacing, axis=axis))


def test_a_derivative_named_like_a_coordinate_is_an_error(tmp_path, capsys):
    x = np.array([0.0, 1.0, 3.0])
    path = tmp_path / "in.nc"
    xr.Dataset({"t": ("x", x**2)}, coords={"x": x, "dt_dx": ("x", [5.0, 6.0, 7.0])}).to_netcdf(path)
    assert cli.main([str(path), "-o", str(tmp_path / "o.nc"), "--coord", "x", "-q"]) == 2
    line = errors(capsys)
    assert "'dt_dx'" in line and "coordinate" in line


# ---------------------------------------------------------------------------
# 13. Times that cannot be decoded


def write_with_times(path, units, calendar=None):
    """t(time, x) with times in `units`, written by netCDF4 as a model would."""
    import netCDF4

    times = np.array([0.0, 1.0, 2.0, 4.0])
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("x", X.size)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = units
        if calendar:
            t.calendar = calendar
        t[:] = times
        x = nc.createVariable("x", "f8", ("x",))
        x.units = "m"
        x[:] = X
        v = nc.createVariable("t", "f4", ("time", "x"))
        v.units = "K"
        v[:] = (times[:, None] ** 2 + 1) * X[None, :] ** 1.5
    return path, times


@pytest.mark.parametrize(
    "units, calendar",
    [("months since 2000-01-01", None), ("months since 2000-01-01", "gregorian"), ("days since 2000-01-01", "mars")],
)
@NEEDS_STORE
def test_undecodable_times_leave_the_other_coordinates_usable(tmp_path, capsys, units, calendar):
    src, times = write_with_times(tmp_path / "in.nc", units, calendar)
    with pytest.raises(ValueError, match="decode"):  # what xarray does with the file
        xr.open_dataset(src)
    with xr.open_dataset(src, decode_times=False) as raw:
        t = raw.t.values.astype(np.float64)
    assert cli.main([str(src), "-o", str(tmp_path / "dx.nc"), "--coord", "x", "-q"]) == 0
    line = errors(capsys)
    assert line.startswith("xgradient: warning: cannot decode the times of 'time'")
    assert repr(units) in line and "kept as numbers" in line
    with xr.open_dataset(tmp_path / "dx.nc", decode_times=False) as w:
        np.testing.assert_allclose(w.dt_dx.values, np.gradient(t, X, axis=1), rtol=1e-6)
        # the time coordinate is written back as it was
        np.testing.assert_array_equal(w.time.values, times)
        assert w.time.attrs["units"] == units
        assert w.time.attrs.get("calendar") == calendar
    # along the time itself: per unit of the file ("months", "days")
    assert cli.main([str(src), "-o", str(tmp_path / "dt.nc"), "--coord", "time", "-q"]) == 0
    with xr.open_dataset(tmp_path / "dt.nc", decode_times=False) as w:
        np.testing.assert_allclose(w.dt_dtime.values, np.gradient(t, times, axis=0), rtol=1e-6)
        assert w.dt_dtime.attrs["units"] == f"K/{units.split()[0]}"


@NEEDS_STORE
def test_no_decode_times(tmp_path):
    src, days = write_with_times(tmp_path / "in.nc", "days since 2000-01-01", "noleap")
    args = [str(src), "--coord", "time", "-q"]
    assert cli.main([*args, "-o", str(tmp_path / "raw.nc"), "--no-decode-times"]) == 0
    assert cli.main([*args, "-o", str(tmp_path / "dates.nc"), "--datetime-unit", "D"]) == 0
    with xr.open_dataset(src, decode_times=False) as raw:
        expected = np.gradient(raw.t.values.astype(np.float64), days, axis=0)
    with xr.open_dataset(tmp_path / "raw.nc") as a, xr.open_dataset(tmp_path / "dates.nc") as b:
        np.testing.assert_allclose(a.dt_dtime.values, expected, rtol=1e-6)
        np.testing.assert_allclose(b.dt_dtime.values, expected, rtol=1e-6)
        assert a.dt_dtime.attrs["units"] == "K/days" and b.dt_dtime.attrs["units"] == "K/day"
        # either way the times read back as the same dates
        assert list(a.time.values) == list(b.time.values)
        assert a.time.encoding["calendar"] == "noleap"


# ---------------------------------------------------------------------------
# 14. Several files, netCDF groups


LAT = np.array([-30.0, -10.0, 0.0, 15.0, 40.0])


def write_years(folder, years=(2000, 2001, 2002)):
    """One file per year of monthly t(time, lat), each with its grid mapping."""
    paths, parts = [], []
    for year in years:
        time = xr.date_range(f"{year}-01-01", periods=12, freq="MS", use_cftime=False)
        days = (time - np.datetime64("2000-01-01")) / np.timedelta64(1, "D")
        values = np.sin(np.asarray(days)[:, None] / 200.0) * LAT[None, :] ** 2
        ds = xr.Dataset(
            {
                "t": (("time", "lat"), values, {"units": "K", "grid_mapping": "crs"}),
                "crs": ((), 0, {"grid_mapping_name": "latitude_longitude"}),
            },
            coords={"time": time, "lat": ("lat", LAT, {"units": "degrees_north"})},
        )
        path = folder / f"t_{year}.nc"
        ds.to_netcdf(path)
        paths.append(path)
        parts.append(ds)
    return paths, xr.concat([p.t for p in parts], "time")


@NEEDS_STORE
def test_several_files_are_combined_along_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths, whole = write_years(tmp_path)
    seconds = (whole.time - whole.time[0]).values / np.timedelta64(1, "s")
    expected_time = np.gradient(whole.values, seconds, axis=0)
    expected_lat = np.gradient(whole.values, LAT, axis=1)
    # the shell's expansion (in any order), and a quoted pattern
    given = {"names": [p.name for p in reversed(paths)], "pattern": ["t_*.nc"]}
    for how, inputs in given.items():
        out = f"{how}.nc"
        assert cli.main([*inputs, "-o", out, "--coord", "time", "--coord", "lat", "-q"]) == 0
        with xr.open_dataset(out) as w:
            assert w.sizes["time"] == 36
            np.testing.assert_allclose(w.dt_dtime.values, expected_time, rtol=1e-9)
            np.testing.assert_allclose(w.dt_dlat.values, expected_lat, rtol=1e-9)
            assert w.crs.dims == ()  # the grid mapping did not gain a time dimension
            command = shlex.join([*inputs, "-o", out, "--coord", "time", "--coord", "lat", "-q"])
            assert w.attrs["history"].splitlines()[0].endswith(f": xgradient {command}")


def test_several_files_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    paths, _ = write_years(tmp_path)
    assert cli.main(["x_*.nc", "-o", "o.nc", "--coord", "time"]) == 2
    assert "no file matches 'x_*.nc'" in errors(capsys)
    # an output that is one of the inputs
    assert cli.main(["t_*.nc", "-o", paths[1].name, "--coord", "time", "--overwrite"]) == 2
    assert "is the input file" in errors(capsys)
    # grids that do not match
    with xr.open_dataset(paths[2]) as ds:
        ds.assign_coords(lat=ds.lat + 0.5).to_netcdf(tmp_path / "other.nc")
    assert cli.main([paths[0].name, "other.nc", "-o", "o.nc", "--coord", "time"]) == 2
    assert "cannot read and combine the 2 input files" in errors(capsys)
    assert not (tmp_path / "o.nc").exists()
    # files that nothing orders (NEMO's sample files: time_counter 0 in each)
    with xr.open_dataset(paths[2]) as ds:
        ds.assign_coords(time=ds.time.values).to_netcdf(tmp_path / "same_time.nc")
    assert cli.main([paths[2].name, "same_time.nc", "-o", "o.nc", "--coord", "lat"]) == 2
    assert "none of them differs between these files" in errors(capsys)


@pytest.fixture
def grouped(tmp_path):
    """Two groups (and a nested one), nothing at the root: how some models write."""
    import netCDF4

    path = tmp_path / "groups.nc"
    with netCDF4.Dataset(path, "w") as nc:
        for i, name in enumerate(("forecast", "analysis")):
            g = nc.createGroup(name)
            g.createDimension("lat", LAT.size)
            lat = g.createVariable("lat", "f8", ("lat",))
            lat.units = "degrees_north"
            lat[:] = LAT
            t = g.createVariable("t", "f8", ("lat",))
            t.units = "K"
            t[:] = (i + 1) * LAT**3
        nc["forecast"].createGroup("members")
    return path


@NEEDS_STORE
def test_a_netcdf_group(grouped, capsys):
    out = grouped.parent / "o.nc"
    assert cli.main([str(grouped), "-o", str(out), "--coord", "lat", "-q"]) == 2
    line = errors(capsys)
    assert "no variables outside its groups ['/forecast', '/forecast/members', '/analysis']" in line
    assert "--group" in line and "unknown coordinate" not in line
    assert cli.main([str(grouped), "-o", str(out), "--coord", "lat", "--group", "fcst"]) == 2
    assert "has no group 'fcst'; its groups are ['/forecast'" in errors(capsys)
    assert not out.exists()
    # a variable at the root too: the coordinate asked for is in the groups
    import netCDF4

    with netCDF4.Dataset(grouped, "a") as nc:
        nc.createVariable("run_id", "i4")[...] = 7
    assert cli.main([str(grouped), "-o", str(out), "--coord", "lat", "-q"]) == 2
    line = errors(capsys)
    assert line.startswith("xgradient: error: unknown coordinate 'lat'")
    assert "has groups ['/forecast', '/forecast/members', '/analysis']: read one with --group NAME" in line
    for group, factor in (("analysis", 2), ("/forecast", 1)):
        assert cli.main([str(grouped), "-o", str(out), "--coord", "lat", "--group", group, "-q", "--overwrite"]) == 0
        with xr.open_dataset(out) as w:
            np.testing.assert_allclose(w.dt_dlat.values, np.gradient(factor * LAT**3, LAT))


# ---------------------------------------------------------------------------
# 3. Masks, flags and grid mappings are left out, and the command says so


@pytest.fixture
def with_masks(tmp_path):
    time = np.array([0.0, 1.0, 3.0, 4.0])
    values = np.outer(time**2, LAT)
    path = tmp_path / "masks.nc"
    xr.Dataset(
        {
            "t": (("time", "lat"), values, {"units": "K", "grid_mapping": "crs"}),
            "land": (("time", "lat"), values > 20),
            "qc": (("time", "lat"), (values > 0).astype("i1"),
                   {"flag_values": np.array([0, 1], "i1"), "flag_meanings": "bad good"}),
            # a grid mapping that gained a time dimension (open_mfdataset's default)
            "crs": ("time", np.zeros(4, "i4"), {"grid_mapping_name": "latitude_longitude"}),
            "time_bnds": (("time", "nv"), np.stack([time - 0.5, time + 0.5], axis=1)),
        },
        coords={"time": ("time", time, {"units": "days since 2000-01-01", "bounds": "time_bnds"}),
                "lat": ("lat", LAT, {"units": "degrees_north"})},
    ).to_netcdf(path)
    return path, time, values


@NEEDS_STORE
def test_masks_flags_and_grid_mappings_are_left_out_and_named(with_masks, capsys):
    path, time, values = with_masks
    out = path.parent / "o.nc"
    assert cli.main([str(path), "-o", str(out), "--coord", "time", "--coord", "lat", "--no-progress"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("xgradient: not differentiated: ")
    for name, why in xgradient.labelled.skipped_vars(xr.open_dataset(path), "time").items():
        assert (f"{name!r} ({why})" in lines[0]) == (name != "time_bnds")
    assert all(f"'{n}'" in lines[0] for n in ("land", "qc", "crs"))
    with xr.open_dataset(out, decode_times=False) as w:
        assert sorted(v for v in w.data_vars if v.startswith("d")) == ["dt_dlat", "dt_dtime"]
        np.testing.assert_allclose(w.dt_dtime.values, np.gradient(values, time * 86400, axis=0))
        np.testing.assert_allclose(w.dt_dlat.values, np.gradient(values, LAT, axis=1))
        assert w.crs.dims == ("time",)  # carried along as the grid mapping of t
    # quiet: not a word
    assert cli.main([str(path), "-o", str(out), "--coord", "lat", "-q", "--overwrite"]) == 0
    assert capsys.readouterr().err == ""


def test_a_boolean_variable_named_with_var_is_refused(with_masks, capsys):
    path, _, _ = with_masks
    assert cli.main([str(path), "-o", str(path.parent / "o.nc"), "--coord", "lat", "--var", "land"]) == 2
    assert "'land' is boolean" in errors(capsys)


@pytest.mark.parametrize("radius", ["inf", "nan", "-1", "1e-320"])
def test_a_nonsense_radius_is_a_usage_error(tmp_path, capsys, radius):
    path = tmp_path / "geo.nc"
    xr.Dataset({"t": ("lat", LAT**2)}, coords={"lat": ("lat", LAT, {"units": "degrees_north"})}).to_netcdf(path)
    assert cli.main([str(path), "-o", str(tmp_path / "o.nc"), "--coord", "lat", "--geo", f"--radius={radius}"]) == 2
    assert "radius" in errors(capsys)
