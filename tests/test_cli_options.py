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
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)
from xgradient import cli
from xgradient.labelled import Derivative

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
def test_progress_bar_on_a_terminal(simple, options, bar):
    code, shown = on_a_terminal(simple, "-o", "out.nc", "--coord", "x", *options, cwd=simple.parent)
    assert code == 0, shown
    assert ("100% Completed" in shown) == bar, shown


@pytest.mark.parametrize("options, bar", [([], False), (["--progress", "-q"], True)])
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
    assert "(default 6371008.8)" in res.stdout
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


def test_a_file_named_dash_through_a_path(simple, monkeypatch):
    monkeypatch.chdir(simple.parent)
    assert cli.main(["in.nc", "-o", "./-", "--coord", "x", "-q"]) == 0
    with xr.open_dataset(simple.parent / "-") as w:
        np.testing.assert_allclose(w.dt_dx.values, np.gradient(field(), X, axis=1))
