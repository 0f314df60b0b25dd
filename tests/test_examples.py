"""The scripts of examples/climate run, draw their figure and get the numbers right.

Each script runs in its own process (as a user runs it), writing into
tmp_path; the four run side by side to save time. Each reports one number in
a JSON file, recomputed here independently with ``numpy.gradient`` on the
raw data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
iris_sample_data = pytest.importorskip("iris_sample_data")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "climate"
DATA = Path(iris_sample_data.path)
SCRIPTS = ("sst_fronts", "thermocline", "warming_rate", "distributed_sst")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every example once; return {name: (completed process, output folder)}."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["MPLBACKEND"] = "Agg"
    procs = {}
    for name in SCRIPTS:
        if name == "distributed_sst" and not _has("distributed"):
            continue
        out = tmp_path_factory.mktemp(name)
        procs[name] = (
            subprocess.Popen(
                [sys.executable, str(EXAMPLES / f"{name}.py"), str(out)],
                cwd=out,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            out,
        )
    done = {}
    for name, (proc, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        done[name] = (proc.returncode, stdout, stderr, out)
    return done


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def ran(results, name):
    if name not in results:
        pytest.skip(f"{name} needs a package that is not installed")
    code, stdout, stderr, out = results[name]
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert (out / f"{name}.png").read_bytes()[:8] == PNG
    return json.loads((out / f"{name}.json").read_text()), stdout, stderr


def open_raw(name, **kwargs):
    import xarray as xr

    with xr.open_dataset(DATA / name, **kwargs) as ds:
        return ds.load()


def sst_front_strength_numpy():
    """Time-mean |grad SST| (K per 100 km) with numpy.gradient, periodic by padding."""
    ds = open_raw("ostia_monthly.nc")
    radius = float(ds.latitude_longitude.attrs["earth_radius"])
    sst = ds.surface_temperature.values.astype(np.float64)  # (time, lat, lon)
    lat = np.deg2rad(ds.latitude.values.astype(np.float64))
    lon = ds.longitude.values.astype(np.float64)
    dy = np.gradient(sst, radius * lat, axis=1)
    padded = np.concatenate([sst[..., -1:], sst, sst[..., :1]], axis=2)
    lon_padded = np.deg2rad(np.concatenate([[lon[-1] - 360.0], lon, [lon[0] + 360.0]]))
    dx = np.gradient(padded, radius * lon_padded, axis=2)[..., 1:-1] / np.cos(lat)[None, :, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # land: all-NaN columns
        return np.nanmean(np.hypot(dx, dy), axis=0) * 1e5


def test_sst_fronts(results):
    summary, stdout, _ = ran(results, "sst_fronts")
    strength = sst_front_strength_numpy()
    j, k = np.unravel_index(np.nanargmax(strength), strength.shape)
    assert (summary["lat_index"], summary["lon_index"]) == (j, k)
    assert summary["max_K_per_100km"] == pytest.approx(strength[j, k], rel=1e-5)
    assert "K per 100 km" in stdout


def test_thermocline(results):
    summary, stdout, _ = ran(results, "thermocline")
    ds = open_raw("atlantic_profiles.nc")
    gradient = np.gradient(ds.theta.values.astype(np.float64), ds.depth.values.astype(np.float64), axis=0) * 100
    d, j, k = np.unravel_index(np.nanargmin(gradient), gradient.shape)
    assert summary["min_K_per_100m"] == pytest.approx(gradient[d, j, k], rel=1e-5)
    assert summary["depth"] == ds.depth.values[d]
    # the script moved the longitude to -180..180 (as xgradient's warning suggests)
    assert summary["lon"] == pytest.approx((float(ds.lon[k]) + 180) % 360 - 180)
    assert "as stored: longitude 'lon' jumps from 0.5 to 325.5" in stdout


def test_warming_rate(results):
    import cftime
    import xarray as xr

    summary, _, _ = ran(results, "warming_rate")
    ds = open_raw("A1B_north_america.nc", decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    dates = ds.time.values
    days = cftime.date2num(dates, "days since 1860-01-01", calendar="360_day")
    rate = np.gradient(ds.air_temperature.values.astype(np.float64), days, axis=0) * 36000  # K per century
    years = np.array([d.year for d in dates])
    mean_map = rate[(years >= 2000) & (years <= 2099)].mean(axis=0)
    weights = np.broadcast_to(np.cos(np.deg2rad(ds.latitude.values))[:, None], mean_map.shape)
    assert summary["mean_rate_K_per_century"] == pytest.approx(np.average(mean_map, weights=weights), rel=1e-4)
    assert summary["max_rate_K_per_century"] == pytest.approx(mean_map.max(), rel=1e-4)


def test_distributed_sst(results):
    summary, _, _ = ran(results, "distributed_sst")
    assert summary["workers"] == 2
    strength = sst_front_strength_numpy()
    j, k = np.unravel_index(np.nanargmax(strength), strength.shape)
    assert (summary["lat_index"], summary["lon_index"]) == (j, k)
    assert summary["max_K_per_100km"] == pytest.approx(strength[j, k], rel=1e-5)
    assert summary["max_difference_from_in_memory"] < 1e-5
