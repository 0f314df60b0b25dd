"""Sharp edges a new user hits (issue 13): install, metadata, odd options, odd input.

Truths: the files a fresh process writes (or cannot write), numpy.gradient
on native-endian float64 copies of the data, and exact errors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import xgradient
from conftest import classic_dask_only

PACKAGE = Path(xgradient.__file__).resolve().parent

# Runs every compiled kernel (the stencil loops and skipna's NaN scan) and
# checks its numbers against numpy.gradient.
USE_THE_KERNELS = textwrap.dedent(
    """
    import numpy as np, xgradient
    from xgradient import kernel
    assert kernel.HAVE_NUMBA
    x = np.array([0.0, 1.0, 3.0, 4.0, 7.0, 8.5])
    f = np.sin(x) * np.arange(1.0, 4.0)[:, None]
    for axis, g in ((1, f), (0, f.T)):
        got = xgradient.gradient(g, x, axis=axis)
        assert np.array_equal(got, np.gradient(g, x, axis=axis)), got
    f[1, 2] = np.nan
    got = xgradient.gradient(f, x, axis=1, skipna=True)
    assert np.array_equal(got[[0, 2]], np.gradient(f[[0, 2]], x, axis=1))
    assert np.allclose(got[1, 3:], np.gradient(f[1, 3:], x[3:]), rtol=1e-12)
    print(xgradient.__file__)
    """
)


def copy_package(tmp_path) -> Path:
    """A copy of the package without byte code, importable from the returned folder."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "xgradient", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def run_python(code, env, cwd):
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def clean_env(**changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.pop("PYTHONPATH", None)
    env.update(changes)
    return env


def files_under(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_compiled_kernels_are_cached_outside_the_package(tmp_path):
    # Issue 13, item 1: numba's cache=True wrote .nbi/.nbc files into the
    # installed package's __pycache__, which pip uninstall leaves behind.
    site = copy_package(tmp_path)
    before = files_under(site)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(HOME=str(home), PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    for _ in range(2):  # the second run loads what the first one cached
        done = run_python(USE_THE_KERNELS, env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(site / "xgradient" / "__init__.py")
    assert files_under(site) == before
    cached = files_under(home / ".cache" / "xgradient" / "numba")
    assert any(f.endswith(".nbi") for f in cached) and any(f.endswith(".nbc") for f in cached)


def test_numba_cache_dir_is_honoured(tmp_path):
    site = copy_package(tmp_path)
    home, chosen = tmp_path / "home", tmp_path / "chosen"
    home.mkdir()
    env = clean_env(
        HOME=str(home), PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", NUMBA_CACHE_DIR=str(chosen)
    )
    done = run_python(USE_THE_KERNELS, env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert any(f.endswith(".nbc") for f in files_under(chosen))
    assert files_under(home) == []


def test_import_works_when_neither_the_package_nor_home_is_writable(tmp_path):
    # Issue 13, item 2: "cannot cache function '_point': no locator available".
    # A regular file where a folder would be is unwritable even for root
    # (as CI runs): the package's __pycache__, and the parent of HOME.
    site = copy_package(tmp_path)
    (site / "xgradient" / "__pycache__").write_text("not a folder")
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    env = clean_env(HOME=str(blocker / "home"), PYTHONPATH=str(site))
    done = run_python(USE_THE_KERNELS, env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cache" not in done.stderr.lower()
    # The same with a NUMBA_CACHE_DIR that cannot be created: no cache, no error.
    env["NUMBA_CACHE_DIR"] = str(blocker / "numba")
    done = run_python(USE_THE_KERNELS, env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cache" not in done.stderr.lower()


# ---------------------------------------------------------------------------
# Item 6: skipna on big-endian and float16 data


@pytest.mark.parametrize("dtype", [">f8", ">f4", "<f8", "<f4", "float16", ">f2"])
@pytest.mark.parametrize("axis", [0, 1])
def test_skipna_on_any_byte_order_and_float16(dtype, axis):
    rng = np.random.default_rng(6)
    x = np.cumsum(rng.uniform(0.5, 1.5, 9))
    f = rng.standard_normal((9, 7)) if axis == 0 else rng.standard_normal((7, 9))
    f[2, 3] = f[4, 4] = f[5, 1] = np.nan
    data = f.astype(dtype)
    native = data.astype(data.dtype.newbyteorder("="))
    got = xgradient.gradient(data, x, axis=axis, skipna=True)
    want = xgradient.gradient(native, x, axis=axis, skipna=True)
    assert got.dtype == want.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, want)
    # And the numbers are numpy.gradient's where no gap is in reach.
    plain = np.gradient(native.astype(np.float64), x, axis=axis)
    ok = np.isfinite(plain)
    np.testing.assert_allclose(got[ok], plain[ok], rtol=2e-3 if data.itemsize == 2 else 1e-5)
    assert np.isfinite(got).sum() > ok.sum()  # the gaps' neighbours were filled


def test_skipna_on_big_endian_dask_data():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(7)
    x = np.cumsum(rng.uniform(0.5, 1.5, 12))
    f = rng.standard_normal((5, 12))
    f[1, 4] = f[3, 9] = np.nan
    data = da.from_array(f.astype(">f8"), chunks=(2, 5))
    got = xgradient.gradient(data, x, axis=1, skipna=True).compute()
    np.testing.assert_array_equal(got, xgradient.gradient(f, x, axis=1, skipna=True))


# ---------------------------------------------------------------------------
# Item 5: nonsense options are a ValueError at call time, naming the option


def field(lat=(-60.0, -20.0, 10.0, 45.0, 80.0), lat_units="degrees_north"):
    import xarray as xr

    lon = np.arange(0.0, 360.0, 30.0)
    values = np.cos(np.deg2rad(np.asarray(lat)))[:, None] * np.sin(np.deg2rad(lon))
    return xr.DataArray(
        values,
        coords={"lat": ("lat", np.asarray(lat), {"units": lat_units}), "lon": ("lon", lon, {"units": "degrees_east"})},
        dims=("lat", "lon"),
        name="T",
        attrs={"units": "K"},
    )


def every_front(da, **options):
    """The same options through each public entry point that takes them."""
    from xgradient import operators

    yield lambda: da.grad("lon", **options)
    yield lambda: da.to_dataset().grad(["lat", "lon"], **options)
    yield lambda: operators.laplacian(da, ["lat", "lon"], **options)
    if not {"geo", "radius", "datetime_unit"} & set(options):
        yield lambda: xgradient.gradient(da.values, da.lon.values, axis=1, **options)


BAD_OPTIONS = [
    ({"periodic": np.inf}, "periodic"),
    ({"periodic": -np.inf}, "periodic"),
    ({"periodic": np.nan}, "periodic"),
    ({"periodic": 0}, "periodic"),
    ({"periodic": -360.0}, "periodic"),
    ({"periodic": "yes"}, "periodic"),
    ({"geo": True, "radius": np.inf}, "radius"),
    ({"geo": True, "radius": np.nan}, "radius"),
    ({"geo": True, "radius": 0.0}, "radius"),
    ({"geo": True, "radius": -6.4e6}, "radius"),
    ({"geo": True, "radius": 1e-320}, "radius"),
    ({"geo": True, "radius": 5e-324}, "radius"),
    ({"geo": True, "radius": "6.4e6"}, "radius"),
    ({"geo": "yes"}, "geo"),
    ({"accuracy": 2.0}, "accuracy"),
    ({"accuracy": 4.0}, "accuracy"),
    ({"accuracy": True}, "accuracy"),
    ({"accuracy": 3}, "accuracy"),
    ({"accuracy": "2"}, "accuracy"),
    ({"edge_order": True}, "edge_order"),
    ({"edge_order": 2.0}, "edge_order"),
    ({"edge_order": 0}, "edge_order"),
    ({"edge_order": 3}, "edge_order"),
    ({"skipna": "no"}, "skipna"),
    ({"datetime_unit": "sec"}, "datetime_unit"),
    ({"datetime_unit": "Y"}, "datetime_unit"),
    ({"datetime_unit": None}, "datetime_unit"),
]


@pytest.mark.parametrize(("options", "name"), BAD_OPTIONS, ids=[repr(o) for o, _ in BAD_OPTIONS])
def test_nonsense_options_are_refused(options, name):
    da = field()
    for call in every_front(da, **options):
        with pytest.raises(ValueError, match=rf"^{name} must be .*got {options[name]!r}"):
            call()


def test_options_still_accepted():
    from xgradient.options import Options

    da = field()
    for ok in (
        {"periodic": 360},
        {"periodic": np.float32(360.0)},
        {"periodic": np.True_},
        {"accuracy": np.int64(4), "edge_order": np.int32(2)},
        {"geo": np.True_, "radius": np.float32(6.4e6)},
        {"geo": True, "radius": 1e-100},  # tiny, but its metric is finite
        {"datetime_unit": "D"},
    ):
        Options(**ok)
        da.grad("lon", **ok)



def test_every_front_shows_the_options_with_the_defaults_it_uses():
    """help() and the API pages list the keywords each front takes, with the
    values a call without them uses (those of a default Options)."""
    import inspect

    import xarray as xr

    from xgradient import accessor, horizontal, operators
    from xgradient.labelled import Derivative
    from xgradient.options import Options

    everything = {"edge_order", "accuracy", "periodic", "geo", "radius", "skipna", "datetime_unit"}
    used = {name: getattr(Options(), name) for name in everything}
    fronts = {
        accessor.DataArrayGrad.__call__: everything,
        accessor.DatasetGrad.__call__: everything,
        Derivative: everything,
        operators.hessian: everything,
        operators.laplacian: everything,
        operators.divergence: everything,
        operators.vorticity: everything,
        xr.Dataset().grad.divergence: everything,
        horizontal.horizontal: everything - {"geo", "datetime_unit"},
    }
    if hasattr(accessor, "DataTreeGrad"):
        fronts[accessor.DataTreeGrad.__call__] = everything
    for front, names in fronts.items():
        params = inspect.signature(front).parameters
        shown = {n: params[n].default for n in names}
        assert shown == {n: used[n] for n in names}, front
        assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in names), front
        doc = front.__doc__ or ""
        if "Forwards to" not in doc:
            assert all(f"    {n} : " in doc for n in names), front
    with pytest.raises(TypeError, match=r"^horizontal\(\) got an unexpected keyword argument 'geo'$"):
        horizontal.horizontal(field(), geo=True)
    with pytest.raises(TypeError, match=r"^hessian\(\) got an unexpected keyword argument 'order'$"):
        operators.hessian(field(), ["lat", "lon"], order=2)


@pytest.mark.parametrize(
    ("options", "name"), [({"skipna": "no"}, "skipna"), ({"accuracy": 2.0}, "accuracy"), ({"radius": 0.0}, "radius")]
)
def test_horizontal_refuses_nonsense_options_on_a_curvilinear_grid(options, name):
    import xarray as xr

    j, i = np.meshgrid(np.arange(6.0), np.arange(7.0), indexing="ij")
    lat, lon = 10 + 0.5 * j + 0.2 * i, -20 + 0.6 * i - 0.1 * j
    T = xr.DataArray(lat.copy(), dims=("j", "i"), coords={
        "lat": (("j", "i"), lat, {"units": "degrees_north"}),
        "lon": (("j", "i"), lon, {"units": "degrees_east"}),
    })
    with pytest.raises(ValueError, match=rf"^{name} must be .*got {options[name]!r}"):
        T.grad.horizontal(**options)

@pytest.mark.parametrize(
    ("lat", "units", "bad"),
    [
        ((-60.0, -20.0, 10.0, 45.0, 95.0), "degrees_north", 95.0),
        ((-90.5, -20.0, 10.0, 45.0, 80.0), "degrees_north", -90.5),
        ((-1.0, 0.0, 1.0, 1.5, 1.6), "radians", 1.6),
    ],
)
def test_latitudes_beyond_the_poles_are_refused_with_geo(lat, units, bad):
    da = field(lat, units)
    for coord in ("lon", "lat", ["lat", "lon"]):
        with pytest.raises(ValueError, match=rf"latitude 'lat' is {bad:g} at index \d, beyond \+-90"):
            da.grad(coord, geo=True)
    da.grad("lon")  # without geo they are just numbers
    # The poles themselves are latitudes (the longitude derivative is NaN there).
    assert np.isnan(field((-90.0, 0.0, 90.0)).grad("lon", geo=True)[[0, 2]]).all()


# ---------------------------------------------------------------------------
# Items 3 and 4: what Dataset.grad differentiates, and under which names


def masked_dataset(time_on_crs=True):
    import xarray as xr

    x = np.array([0.0, 1.0, 3.0, 4.5, 7.0])
    t = np.array([0.0, 1.0])
    temp = np.sin(x) * np.array([[1.0], [2.0]])
    crs_dims = ("time",) if time_on_crs else ()
    crs_data = np.zeros(2, np.int32) if time_on_crs else np.int32(0)
    return xr.Dataset(
        {
            "temp": (("time", "x"), temp, {"units": "K", "grid_mapping": "crs"}),
            "land": (("time", "x"), temp > 0.5),
            "quality": (("time", "x"), np.ones((2, 5), np.int8), {"flag_values": [0, 1], "flag_meanings": "bad good"}),
            "bits": (("time", "x"), np.ones((2, 5), np.int8), {"flag_masks": [1, 2]}),
            "crs": (crs_dims, crs_data, {"grid_mapping_name": "latitude_longitude"}),
            "crs2": (("time",), np.zeros(2, np.int32)),
            "salt": (("time", "x"), 2 * temp, {"grid_mapping": "crs2: x crs3: y"}),
        },
        coords={"x": x, "time": t},
    )


def test_dataset_grad_skips_masks_flags_and_grid_mappings():
    ds = masked_dataset()
    for coord, kept in (("x", ["temp", "salt"]), ("time", ["temp", "salt"])):
        out = ds.grad(coord)
        assert list(out.data_vars) == kept
        axis = ds.temp.get_axis_num(coord)
        np.testing.assert_array_equal(out.temp, np.gradient(ds.temp.values, ds[coord].values, axis=axis))
    assert list(ds.grad(["x", "time"]).data_vars) == ["dtemp_dx", "dsalt_dx", "dtemp_dtime", "dsalt_dtime"]
    from xgradient.labelled import skipped_vars

    assert skipped_vars(ds, "time") == {
        "land": "boolean",
        "quality": "a flag variable",
        "bits": "a flag variable",
        "crs": "a grid mapping",
        "crs2": "a grid mapping",
    }
    # Named in the encoding (decode_coords="all" moves grid_mapping there).
    ds = masked_dataset().drop_vars(["crs"])
    ds.temp.attrs.pop("grid_mapping")
    ds.temp.encoding["grid_mapping"] = "crs2"
    ds.salt.attrs.pop("grid_mapping")
    assert list(ds.grad("time").data_vars) == ["temp", "salt"]


def test_list_output_names_that_collide_are_an_error():
    import xarray as xr

    y = np.array([0.0, 1.0, 2.5])
    x_dy = np.array([0.0, 2.0, 3.0, 5.0])
    ds = xr.Dataset(
        {"a_dx": (("y", "x_dy"), np.outer(y, x_dy)), "a": (("y", "x_dy"), np.outer(y**2, x_dy))},
        coords={"y": y, "x_dy": x_dy},
    )
    with pytest.raises(ValueError, match=r"of 'a_dx' along 'y' and of 'a' along 'x_dy' would both be named 'da_dx_dy'"):
        ds.grad(["y", "x_dy"])
    # Renamed, nothing is lost: four derivatives, each numpy's.
    out = ds.rename(a_dx="b").grad(["y", "x_dy"])
    assert sorted(out.data_vars) == ["da_dx_dy", "da_dy", "db_dx_dy", "db_dy"]
    np.testing.assert_array_equal(out.da_dx_dy, np.gradient(ds.a.values, x_dy, axis=1))
    # A name that is already a coordinate.
    clash = ds.assign_coords(da_dy=("y", y))
    with pytest.raises(ValueError, match=r"of 'a' along 'y' would be named 'da_dy', which is already a coordinate"):
        clash.grad(["y", "x_dy"])
    # The same coordinate twice would be one derivative under one name.
    for obj in (ds, ds.a):
        with pytest.raises(ValueError, match="coordinate 'y' is given twice"):
            obj.grad(["y", "x_dy", "y"])


# ---------------------------------------------------------------------------
# Item 7: dask chunks of unknown size


@pytest.mark.parametrize("axis", [0, 1])
@classic_dask_only("indexing by a boolean dask array (how chunks of unknown size arise)")
def test_unknown_dask_chunk_sizes_say_what_to_do(axis):
    import dask.array as da
    import xarray as xr

    x = np.array([0.0, 1.0, 3.0, 4.0, 6.0, 7.5, 8.0, 10.0])
    values = np.outer(np.arange(6.0), x**2)
    arr = da.from_array(values, chunks=(2, 3))
    picked = arr[arr[:, 3] > 20]  # rows 2..5, of sizes unknown until computed
    assert np.isnan(picked.shape[0])
    coord = np.arange(4.0) ** 1.5 if axis == 0 else x
    with pytest.raises(ValueError, match=r"^axis 0 of the dask array has chunks of unknown size.*compute_chunk_sizes\(\)"):
        xgradient.gradient(picked, coord, axis=axis)
    # Through the accessor too (xarray keeps the dask array as it is).
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        xr.DataArray(picked, dims=("t", "x"), coords={"x": x}).grad("x")
    # The advice works (in place), and gives numpy's numbers.
    picked.compute_chunk_sizes()
    np.testing.assert_allclose(
        xgradient.gradient(picked, coord, axis=axis).compute(),
        np.gradient(values[2:], coord, axis=axis),
        rtol=1e-13,
    )


# ---------------------------------------------------------------------------
# Item 8: the advice of the longitude-jump warning works, in every case

JUMPS = {
    "0..360 across the prime meridian (atlantic_profiles.nc)": [0.5, 325.5, 330.5, 335.5, 340.5, 345.5, 350.5, 355.5],
    "0..360 across the prime meridian, as stored": [350.0, 355.0, 0.0, 5.0, 10.0],
    "0..360 across the prime meridian, sorted": [0.0, 5.0, 10.0, 350.0, 355.0],
    "-180..180 across the date line, as stored": [170.0, 175.0, -180.0, -175.0, -170.0],
    "-180..180 across the date line, sorted": [-180.0, -175.0, -170.0, 170.0, 175.0],
    "-180..180 across the date line, decreasing": [175.0, 170.0, -170.0, -175.0, -180.0],
    "unsorted": [0.0, 90.0, 180.0, 270.0, -60.0, 45.0],
}


def grad_lon(obj):
    """Warnings of obj.grad("lon") and its result (None when it raised)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = obj.grad("lon")
        except ValueError:
            out = None
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)], out


@pytest.mark.parametrize("lon", JUMPS.values(), ids=JUMPS.keys())
def test_the_fix_the_longitude_warning_suggests_removes_it(lon):
    import re

    import xarray as xr

    lon = np.array(lon)
    obj = xr.DataArray(np.sin(np.deg2rad(lon)) + lon / 1000, coords={"lon": lon}, dims="lon", name="t")
    (message,), _ = grad_lon(obj)
    assert message.startswith("longitude 'lon' jumps from")
    code = re.search(r"e\.g\. (obj\..*)$", message).group(1)
    fixed = eval(code, {"obj": obj})  # the advice, as written
    messages, out = grad_lon(fixed)
    assert messages == [] and out is not None
    x = fixed.lon.values
    assert np.all(np.diff(x) > 0) and np.all(np.diff(x) <= 180)
    # The same points, now neighbours on the map; the numbers are numpy's
    # (but at the ends of a grid that now goes round the globe).
    np.testing.assert_array_equal(np.sort(x % 360), np.sort(lon % 360))
    np.testing.assert_allclose(out[1:-1], np.gradient(fixed.values, x)[1:-1], rtol=1e-14)


def test_a_jump_no_fix_removes_gets_no_advice():
    import xarray as xr

    for lon in ([-180.0, 10.0, 180.0], [0.0, 90.0, 180.0, 270.0, -90.0]):
        lon = np.array(lon)  # -180 and 180 (-90 and 270) are one meridian
        (message,), _ = grad_lon(xr.DataArray(lon, coords={"lon": lon}, dims="lon"))
        assert "e.g." not in message and "no sorting or change of longitude range" in message


# ---------------------------------------------------------------------------
# Item 16: what docs/geo.md says MetPy does


def test_metpy_spacings_are_the_ones_docs_geo_describes():
    import warnings

    import xarray as xr

    mpcalc = pytest.importorskip("metpy.calc")
    pytest.importorskip("pyproj")
    lon = np.arange(0.0, 20.0, 2.0)
    lat = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    # Plain arrays: geodesics on pyproj's "sphere", 6 370 997 m.
    dx, dy = mpcalc.lat_lon_grid_deltas(lon, lat)
    np.testing.assert_allclose(dx.m_as("m")[2], np.deg2rad(2.0) * 6_370_997.0, rtol=1e-9)
    np.testing.assert_allclose(dy.m_as("m"), np.deg2rad(2.0) * 6_370_997.0, rtol=1e-9)
    # A DataArray without a CRS: the WGS84 ellipsoid (equatorial radius 6 378 137 m).
    T = xr.DataArray(
        np.ones(lat.size)[:, None] * lon,
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
        dims=("lat", "lon"),
        attrs={"units": "K"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ddx, _ = mpcalc.geospatial_gradient(T.metpy.quantify())
    ours = T.grad("lon", geo=True, edge_order=2)
    ddx = ddx.data if isinstance(ddx, xr.DataArray) else ddx  # a Quantity
    assert str(ddx.units) == "kelvin / meter"
    ratio = np.asarray(ddx.magnitude)[2] / ours.values[2]  # the equator
    np.testing.assert_allclose(ratio, 6_371_008.8 / 6_378_137.0, rtol=1e-6)
