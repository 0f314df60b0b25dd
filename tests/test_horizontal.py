"""``da.grad.horizontal()``: east and north derivatives per metre on any grid.

Truths: the exact east/north derivatives of an analytic field of the true
latitude and longitude (a sum of spherical harmonics of degree 1 and 2),
sampled on (a) a rotated grid whose 2-D lat/lon cross the +-180 seam, built
here by rotating Cartesian vectors, (b) the real ORCA2 coordinates, (c) the
stereographic and rotated-pole files; observed convergence orders; exact
equality with ``grad(..., geo=True)`` on 1-D grids; invariance of a wrapped
grid under a roll; numpy == dask bit for bit; radii of curvature against
pyproj's geodesic distances; exact errors.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import NEEDS_STORE, no_compute, observed_order

import xgradient  # noqa: F401  (registers .grad)

R = 6_371_008.8
iris_sample_data = pytest.importorskip("iris_sample_data")
DATA = iris_sample_data.path


def rotated_grid(n, m, span=(60.0, 80.0), centre=(40.0, 180.0), twist=25.0):
    """True (lat, lon) in degrees of a regular (n, m) grid of a rotated sphere.

    The rotated grid's (0, 0) lands on `centre`, its lines turned by `twist`
    degrees; longitudes are in (-180, 180], so with the default centre the
    seam runs through the middle of the grid.
    """
    yr = np.deg2rad(np.linspace(-span[0] / 2, span[0] / 2, n))
    xr_ = np.deg2rad(np.linspace(-span[1] / 2, span[1] / 2, m))
    Y, X = np.meshgrid(yr, xr_, indexing="ij")
    v = np.stack([np.cos(Y) * np.cos(X), np.cos(Y) * np.sin(X), np.sin(Y)])
    lat0, lon0, t = np.deg2rad([centre[0], centre[1], twist])
    rx = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    ry = np.array([[np.cos(lat0), 0, -np.sin(lat0)], [0, 1, 0], [np.sin(lat0), 0, np.cos(lat0)]])
    rz = np.array([[np.cos(lon0), -np.sin(lon0), 0], [np.sin(lon0), np.cos(lon0), 0], [0, 0, 1]])
    w = np.einsum("ab,bc,cd,d...->a...", rz, ry, rx, v)
    return np.rad2deg(np.arcsin(np.clip(w[2], -1, 1))), np.rad2deg(np.arctan2(w[1], w[0]))


def field_and_exact(lat, lon, radius=R):
    """f = sin(lat) + cos(lat) sin(lon) + cos^2(lat) cos(2 lon) / 2 and its exact
    derivatives per metre east (1/(R cos lat) df/dlon) and north (1/R df/dlat)."""
    p, q = np.deg2rad(lat), np.deg2rad(lon)
    f = np.sin(p) + np.cos(p) * np.sin(q) + 0.5 * np.cos(p) ** 2 * np.cos(2 * q)
    east = (np.cos(q) - np.cos(p) * np.sin(2 * q)) / radius
    north = (np.cos(p) - np.sin(p) * np.sin(q) - np.cos(p) * np.sin(p) * np.cos(2 * q)) / radius
    return f, east, north


def curvilinear(lat, lon, values=None, name="T", dims=("j", "i")):
    f, _, _ = field_and_exact(lat, lon)
    return xr.DataArray(
        f if values is None else values,
        dims=dims,
        coords={
            "lat": (dims, lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": (dims, lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        name=name,
        attrs={"units": "K", "standard_name": "air_temperature"},
    )


def relative_error(got, exact, where=None):
    err = np.abs(np.asarray(got) - exact)
    if where is not None:
        err = err[where]
    return float(np.max(err) / np.max(np.abs(exact)))


# ---------------------------------------------------------------------------
# (a) A rotated grid across the +-180 seam


def test_rotated_grid_crosses_the_seam():
    lat, lon = rotated_grid(40, 53)
    assert lon.min() < -179 and lon.max() > 179  # the seam is inside the grid
    T = curvilinear(lat, lon)
    g = T.grad.horizontal(edge_order=2)
    _, east, north = field_and_exact(lat, lon)
    assert relative_error(g.dT_deast, east) < 5e-3
    assert relative_error(g.dT_dnorth, north) < 5e-3
    assert g.dT_deast.attrs == {
        "units": "K m-1",
        "standard_name": "eastward_derivative_of_air_temperature",
        "long_name": "eastward derivative of air_temperature per metre",
    }
    assert g.dT_dnorth.attrs["standard_name"] == "northward_derivative_of_air_temperature"
    assert g.dT_deast.dims == T.dims
    xr.testing.assert_identical(g.dT_deast.coords.to_dataset(), T.coords.to_dataset())


@pytest.mark.parametrize("accuracy,edge_order", [(2, 2), (4, 1)])
def test_convergence_order_on_refinement(accuracy, edge_order):
    ns = (20, 40, 80, 160)
    errors = []
    for n in ns:
        lat, lon = rotated_grid(n, n * 4 // 3)
        _, east, north = field_and_exact(lat, lon)
        g = curvilinear(lat, lon).grad.horizontal(accuracy=accuracy, edge_order=edge_order)
        errors.append([relative_error(g.dT_deast, east), relative_error(g.dT_dnorth, north)])
    hs = [1.0 / n for n in ns]
    for column in np.array(errors).T:  # every point, the grid's edges included
        assert accuracy - 0.5 < observed_order(hs[1:], column[1:]) < accuracy + 0.8


def test_one_dimensional_grid_gives_geo_numbers_exactly():
    lat = np.linspace(-70.0, 70.0, 29)
    lon = np.arange(0.0, 360.0, 7.5)  # global: wraps
    f, _, _ = field_and_exact(*np.meshgrid(lat, lon, indexing="ij"))
    T = xr.DataArray(
        np.stack([f, 2 * f]).astype(np.float32),
        dims=("lev", "lat", "lon"),
        coords={"lat": lat, "lon": lon},
        name="T",
        attrs={"units": "K"},
    )
    for options in ({}, {"accuracy": 4}, {"edge_order": 2, "skipna": True}):
        g = T.grad.horizontal(**options)
        np.testing.assert_array_equal(g.dT_deast, T.grad("lon", geo=True, **options))
        np.testing.assert_array_equal(g.dT_dnorth, T.grad("lat", geo=True, **options))
        assert g.dT_deast.dtype == np.float32
    # periodic=False: the longitude does not wrap
    np.testing.assert_array_equal(
        T.grad.horizontal(periodic=False).dT_deast, T.grad("lon", geo=True, periodic=False)
    )


def test_dataset_reuses_the_grid_and_drops_other_variables():
    lat, lon = rotated_grid(12, 15)
    T = curvilinear(lat, lon)
    ds = xr.Dataset(
        {"T": T, "S": 3 * T, "depth": ("z", [0.0, 10.0]), "bnd": (("j", "i"), T.values)}
    )
    ds.lat.attrs["bounds"] = "bnd"
    g = ds.grad.horizontal()
    assert sorted(g.data_vars) == ["dS_deast", "dS_dnorth", "dT_deast", "dT_dnorth"]
    ref = T.grad.horizontal()
    np.testing.assert_allclose(g.dS_deast, 3 * ref.dT_deast, rtol=1e-13)
    np.testing.assert_array_equal(g.dT_dnorth, ref.dT_dnorth)


def test_levels_share_the_metric():
    lat, lon = rotated_grid(16, 21)
    T = curvilinear(lat, lon)
    levels = xr.concat([T, 2 * T, -T], dim="lev").transpose("j", "lev", "i")
    g = levels.grad.horizontal()
    one = T.grad.horizontal()
    for k, s in enumerate([1, 2, -1]):
        np.testing.assert_allclose(g.dT_deast.isel(lev=k), s * one.dT_deast, rtol=1e-13, atol=0)
        np.testing.assert_allclose(g.dT_dnorth.isel(lev=k), s * one.dT_dnorth, rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------
# (b) The real ORCA2 coordinates


@pytest.fixture(scope="module")
def orca():
    with xr.open_dataset(f"{DATA}/orca2_votemper.nc") as ds:
        return ds.load()


def orca_field(orca, masked=True):
    lat = orca.nav_lat.values.astype(np.float64)
    lon = orca.nav_lon.values.astype(np.float64)
    f, east, north = field_and_exact(lat, lon)
    land = np.isnan(orca.votemper.values)
    F = orca.votemper.copy(data=np.where(land & masked, np.nan, f)).rename("F")
    return F, east, north, land


def test_orca2_wraps_and_matches_the_exact_derivative(orca):
    F, east, north, land = orca_field(orca)
    # The first and last columns are neighbours (80 and 78 degrees east).
    step = (orca.nav_lon[:, 0] - orca.nav_lon[:, -1]) % 360
    assert np.isclose(step[:60], 2.0, atol=1e-4).all()  # the regular southern rows
    g = F.grad.horizontal()
    # The north fold (rows 146-147, where row 147 mirrors row 145) is not a
    # local grid; everything south of it is.
    south = np.zeros(land.shape, bool)
    south[:145] = True
    ok = np.isfinite(g.dF_deast.values) & south
    assert ok[:, [0, -1]].sum() > 100  # the wrapped columns have results
    # Within 2.5 degrees of the pole the east direction turns fast: a few %.
    assert relative_error(g.dF_deast, east, ok) < 0.05
    assert relative_error(g.dF_dnorth, north, ok) < 0.05
    ok[120:] = False  # south of 60 N
    assert relative_error(g.dF_deast, east, ok) < 5e-3
    assert relative_error(g.dF_dnorth, north, ok) < 5e-3
    # Wrapped: rolling the grid (coordinates too) rolls the result, bit for bit.
    rolled = F.roll(dim1=57, roll_coords=True).grad.horizontal().roll(dim1=-57, roll_coords=True)
    xr.testing.assert_identical(rolled, g)
    # periodic=False: the ends become one-sided, and differ.
    open_ = F.grad.horizontal(periodic=False)
    assert not np.array_equal(open_.dF_deast[:, 0], g.dF_deast[:, 0], equal_nan=True)
    np.testing.assert_array_equal(open_.dF_deast[:, 2:-2], g.dF_deast[:, 2:-2])


def test_orca2_skipna_never_uses_land_coordinates(orca):
    """NEMO fills the coordinates of eliminated land domains with garbage; with
    skipna every valid cell gets a value from valid neighbours only, as
    accurate as a one-sided difference allows."""
    F, east, north, land = orca_field(orca)
    lat = orca.nav_lat.values
    garbage = np.abs(np.diff(lat, axis=0)) > 3  # rows that jump by more than a cell
    assert garbage.sum() > 50
    got = F.grad.horizontal(skipna=True)
    south = np.zeros(land.shape, bool)
    south[:145] = True
    ok = np.isfinite(got.dF_deast.values) & south
    assert ok.sum() > 0.99 * (~land & south).sum()
    assert np.isnan(got.dF_deast.values[land]).all()
    # First-order one-sided differences beside the coast (edge_order=1) on a 2
    # degree grid; the same cells with garbage coordinates used would be off by
    # orders of magnitude.
    assert relative_error(got.dF_deast, east, ok) < 0.1
    assert relative_error(got.dF_dnorth, north, ok) < 0.1
    # Away from the coast, skipna changes nothing. (Without skipna a land cell
    # between two ocean cells along a uniform index direction has a number:
    # numpy's (f[i+1] - f[i-1]) / 2h never reads f[i].)
    plain = F.grad.horizontal()
    inner = np.isfinite(plain.dF_deast.values) & ~land
    np.testing.assert_allclose(got.dF_deast.values[inner], plain.dF_deast.values[inner], rtol=1e-12)
    # The metric with garbage replaced by a smooth grid gives the same numbers:
    # proof that the garbage is never read.
    clean = F.assign_coords(
        nav_lat=F.nav_lat.where(~land, 0.0), nav_lon=F.nav_lon.where(~land, 0.0)
    )
    np.testing.assert_array_equal(clean.grad.horizontal(skipna=True).dF_deast, got.dF_deast)


# ---------------------------------------------------------------------------
# (c) The stereographic and rotated-pole files


def test_stereographic_with_its_lat_lon_and_from_the_grid_mapping():
    with xr.open_dataset(f"{DATA}/toa_brightness_stereographic.nc", decode_coords="all") as ds:
        ds = ds.load()
    radius = float(ds.stereographic.attrs["earth_radius"])
    assert radius == 6378169.0
    lat = ds.lat.values.astype(np.float64)
    lon = ds.lon.values.astype(np.float64)
    f, east, north = field_and_exact(lat, lon, radius)
    F = ds.data.copy(data=f).rename("F")
    with_latlon = F.grad.horizontal(edge_order=2)  # the file's 2-D lat/lon (float32)
    assert relative_error(with_latlon.dF_deast, east) < 2e-3
    assert relative_error(with_latlon.dF_dnorth, north) < 2e-3
    # The grid mapping's radius, not the default: the default is 0.11 % off.
    assert relative_error(with_latlon.dF_deast, east * radius / R) > 1e-3
    pytest.importorskip("pyproj")
    projected = F.drop_vars(["lat", "lon"]).grad.horizontal(edge_order=2)
    assert relative_error(projected.dF_deast, east) < 2e-3
    assert relative_error(projected.dF_dnorth, north) < 2e-3
    # Plain grad along x is per metre of projection, not of the Earth.
    per_x = F.grad("x", edge_order=2)
    assert per_x.attrs["units"] == "K/m"


def test_undeclared_fill_values_in_2d_coordinates_are_refused():
    """space_weather.nc stores netCDF's default fill value 9.97e36 in its 2-D
    latitude/longitude without declaring it: taken as positions they gave
    NaN everywhere, silently. Now an error names the coordinate, the value
    and the way out; with skipna those cells count as missing."""
    pytest.importorskip("pyproj")
    with xr.open_dataset(f"{DATA}/space_weather.nc", decode_coords="all") as ds:
        ds = ds.load()
    assert (np.abs(ds.latitude) > 90).any() and np.isfinite(ds.TEC).all()
    with pytest.raises(ValueError, match=r"latitude 'latitude' is 9\.96921e\+36 at index .*"
                       r"drop 'latitude' and 'longitude' to compute them from the grid mapping 'rotated_pole'"):
        ds.TEC.grad.horizontal()
    with pytest.raises(ValueError, match=r"latitude 'latitude' is 9\.96921e\+36 at index \(\d+, \d+\), beyond"):
        ds.TEC.grad("rLon", geo=True)
    # The way out works: from the rotated pole, every value finite, and the
    # same as from the file's own coordinates where those hold.
    fixed = ds.drop_vars(["latitude", "longitude"]).TEC.grad.horizontal()
    assert all(np.isfinite(v).all() for v in fixed.data_vars.values())


def test_out_of_range_coordinates_of_missing_cells_are_missing_with_skipna():
    """Land cells of ocean output often hold fill values in the 2-D
    coordinates too (1e20): with skipna they are missing cells, as NaN
    coordinates are, and the ocean around them is differentiated."""
    lat, lon = rotated_grid(20, 24)
    T = curvilinear(lat, lon)
    land = (slice(6, 10), slice(8, 13))
    T[land] = np.nan
    bad_lat, bad_lon = lat.copy(), lon.copy()
    bad_lat[land], bad_lon[land] = 1e20, -1e20
    filled = curvilinear(bad_lat, bad_lon, values=T.values)
    with pytest.raises(ValueError, match=r"latitude 'lat' is 1e\+20 at index \(6, 8\)"):
        filled.grad.horizontal()
    nan_lat, nan_lon = lat.copy(), lon.copy()
    nan_lat[land] = nan_lon[land] = np.nan
    expected = curvilinear(nan_lat, nan_lon, values=T.values).grad.horizontal(skipna=True)
    got = filled.grad.horizontal(skipna=True)
    xr.testing.assert_equal(got.drop_vars(["lat", "lon"]), expected.drop_vars(["lat", "lon"]))
    assert np.isfinite(got.dT_deast).mean() > 0.9


def test_rotated_pole_file_from_its_grid_mapping():
    pytest.importorskip("pyproj")
    with xr.open_dataset(f"{DATA}/rotated_pole.nc", decode_coords="all") as ds:
        ds = ds.load()
    p = ds.air_pressure_at_sea_level
    assert "rotated_latitude_longitude" in p.coords
    # True lat/lon of the rotated grid, by rotating Cartesian vectors (pole at
    # 37.5 N, 177.5 E): independent of pyproj.
    yr, xr_ = np.meshgrid(
        np.deg2rad(ds.grid_latitude.values.astype(np.float64)),
        np.deg2rad(ds.grid_longitude.values.astype(np.float64)),
        indexing="ij",
    )
    v = np.stack([np.cos(yr) * np.cos(xr_), np.cos(yr) * np.sin(xr_), np.sin(yr)])
    tilt = np.deg2rad(90.0 - 37.5)
    ry = np.array([[np.cos(tilt), 0, -np.sin(tilt)], [0, 1, 0], [np.sin(tilt), 0, np.cos(tilt)]])
    w = ry @ v.reshape(3, -1)
    lat = np.rad2deg(np.arcsin(w[2])).reshape(yr.shape)
    lon = (np.rad2deg(np.arctan2(w[1], w[0])) + 177.5 - 180.0).reshape(yr.shape)
    radius = 6371229.0
    f, east, north = field_and_exact(lat, lon, radius)
    got = p.copy(data=f).grad.horizontal(edge_order=2)
    # A coarse grid (2.2 degrees): second-order errors of a few 1e-3.
    assert relative_error(got[f"d{p.name}_deast"], east) < 1e-2
    assert relative_error(got[f"d{p.name}_dnorth"], north) < 1e-2
    inner = (slice(1, -1), slice(1, -1))
    assert relative_error(got[f"d{p.name}_deast"][inner], east[inner]) < 6e-3


# ---------------------------------------------------------------------------
# Dask


@pytest.mark.parametrize("skipna", [False, True])
def test_dask_is_lazy_and_equal_for_odd_chunkings(skipna):
    lat, lon = rotated_grid(23, 31)
    T = curvilinear(lat, lon)
    values = np.stack([T.values, T.values**2, -T.values])
    values[1, 5:8, 10:14] = np.nan  # a gap, for skipna
    cube = xr.DataArray(values, dims=("lev", "j", "i"), coords=T.coords, name="T", attrs=T.attrs)
    expected = cube.grad.horizontal(skipna=skipna, accuracy=4)
    for chunks in ({"j": 1}, {"i": 1}, {"j": 7, "i": 5, "lev": 2}, {"j": 4, "i": 9}):
        data = cube.chunk(chunks).data  # the coordinates stay in memory
        with no_compute():
            lazy = cube.copy(data=data).grad.horizontal(skipna=skipna, accuracy=4)
        assert lazy.dT_deast.chunks is not None
        xr.testing.assert_identical(lazy.compute(), expected)
    # Chunked 2-D coordinates are read at call time (they decide the wrap).
    xr.testing.assert_identical(cube.chunk({"j": 5}).grad.horizontal(skipna=skipna, accuracy=4).compute(), expected)


# ---------------------------------------------------------------------------
# Finding latitude and longitude, errors


def test_cordex_style_file_and_geo_true():
    """rlat/rlon (grid_latitude/grid_longitude) plus a 2-D true lat/lon."""
    lat, lon = rotated_grid(10, 12)
    T = curvilinear(lat, lon, dims=("rlat", "rlon")).assign_coords(
        rlat=("rlat", np.linspace(-5, 5, 10), {"standard_name": "grid_latitude", "units": "degrees"}),
        rlon=("rlon", np.linspace(-6, 6, 12), {"standard_name": "grid_longitude", "units": "degrees"}),
    )
    g = T.grad.horizontal()  # the 2-D lat/lon, not rlat/rlon
    np.testing.assert_array_equal(g.dT_deast, curvilinear(lat, lon).grad.horizontal().dT_deast)
    # geo=True along the rotated longitude uses the rotated latitude.
    dx = T.grad("rlon", geo=True)
    plain = T.drop_vars(["lat", "lon"]).grad("rlon", geo=True)
    np.testing.assert_array_equal(dx, plain)


def test_mom_style_latitudes_on_different_dims():
    yt, yu = np.linspace(-60, 60, 13), np.linspace(-55, 65, 13)
    xt = np.arange(0.0, 360.0, 10.0)
    deg = {"units": "degrees_N"}
    ds = xr.Dataset(
        {
            "temp": (("yt_ocean", "xt_ocean"), np.cos(np.deg2rad(xt)) * np.ones((13, 1))),
            "u": (("yu_ocean", "xt_ocean"), np.sin(np.deg2rad(xt)) * np.ones((13, 1))),
        },
        coords={
            "yt_ocean": ("yt_ocean", yt, deg),
            "yu_ocean": ("yu_ocean", yu, deg),
            "xt_ocean": ("xt_ocean", xt, {"units": "degrees_E"}),
        },
    )
    got = ds.grad("xt_ocean", geo=True)
    assert "yu_ocean" not in ds.temp.coords  # a DataArray carries its own latitude only
    np.testing.assert_array_equal(got.temp, ds.temp.grad("xt_ocean", geo=True))
    np.testing.assert_array_equal(got.u, ds.u.grad("xt_ocean", geo=True))
    with pytest.raises(ValueError, match=r"several latitude coordinates \['yt_ocean', 'lat'\]"):
        ds.temp.assign_coords(lat=("yt_ocean", yt)).grad("xt_ocean", geo=True)


def test_errors_name_what_is_missing():
    lat, lon = rotated_grid(8, 9)
    T = curvilinear(lat, lon)
    with pytest.raises(ValueError, match=r"no latitude/longitude coordinates.*no CF grid mapping"):
        T.drop_vars(["lat", "lon"]).grad.horizontal()
    with pytest.raises(ValueError, match=r"several latitude coordinates \['lat', 'lat2'\].*lat="):
        T.assign_coords(lat2=T.lat).grad.horizontal()
    np.testing.assert_array_equal(
        T.assign_coords(lat2=T.lat + 1).grad.horizontal(lat="lat").dT_deast,
        T.grad.horizontal().dT_deast,
    )
    with pytest.raises(ValueError, match=r"found the latitude 'lat' but no longitude"):
        T.drop_vars("lon").grad.horizontal()
    with pytest.raises(ValueError, match=r"periodic='k' is not a dimension of the grid"):
        T.grad.horizontal(periodic="k")
    with pytest.raises(ValueError, match=r"accuracy must be one of"):
        T.grad.horizontal(accuracy=3)
    bad = T.copy()
    bad.lat.values[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value at index \(2, 3\)"):
        bad.grad.horizontal()


def test_projected_grid_without_pyproj(monkeypatch):
    with xr.open_dataset(f"{DATA}/toa_brightness_stereographic.nc", decode_coords="all") as ds:
        da = ds.data.drop_vars(["lat", "lon"]).load()
    monkeypatch.setitem(sys.modules, "pyproj", None)
    with pytest.raises(ImportError, match=r"needs pyproj \(pip install 'xgradient\[proj\]'\)"):
        da.grad.horizontal()
    with xr.open_dataset(f"{DATA}/toa_brightness_stereographic.nc") as ds:
        plain = ds.data.drop_vars(["lat", "lon"]).load()
    with pytest.raises(ValueError, match=r"grid mapping 'stereographic' is not among.*decode_coords='all'"):
        plain.grad.horizontal()


# ---------------------------------------------------------------------------
# The radius rule and the ellipsoid


def test_radius_rule_for_geo_true():
    lat = np.linspace(-60.0, 60.0, 13)
    lon = np.arange(0.0, 360.0, 30.0)
    T = xr.DataArray(
        np.outer(lat, np.cos(np.deg2rad(lon))), dims=("lat", "lon"), coords={"lat": lat, "lon": lon}
    )
    sphere = T.assign_coords(crs=xr.DataArray(0, attrs={"grid_mapping_name": "latitude_longitude", "earth_radius": R / 2}))
    for c in ("lat", "lon"):
        np.testing.assert_allclose(sphere.grad(c, geo=True), 2 * T.grad(c, geo=True), rtol=1e-14)
        np.testing.assert_array_equal(sphere.grad(c, geo=True, radius=R), T.grad(c, geo=True))
    g = sphere.grad.horizontal()
    np.testing.assert_array_equal(g.df_dnorth, sphere.grad("lat", geo=True))


def test_ellipsoid_uses_the_radii_of_curvature():
    """d/dnorth of the latitude itself is 1 / M(lat) per radian, d/deast of the
    longitude 1 / (N(lat) cos(lat)); M and N measured with pyproj's geodesics."""
    pyproj = pytest.importorskip("pyproj")
    a, inv_f = 6378137.0, 298.257223563
    crs = xr.DataArray(
        0,
        attrs={"grid_mapping_name": "latitude_longitude", "semi_major_axis": a, "inverse_flattening": inv_f},
    )
    lat = np.linspace(-70.0, 70.0, 15)
    lon = np.linspace(-20.0, 20.0, 41)
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    ds = xr.Dataset(
        {"phi": (("lat", "lon"), LAT), "lam": (("lat", "lon"), LON)},
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"}), "crs": crs},
    )
    geod = pyproj.Geod(a=a, rf=inv_f)
    h = 1e-4
    _, _, dy = geod.inv(np.zeros_like(lat), lat - h, np.zeros_like(lat), lat + h)
    _, _, dx = geod.inv(-h * np.ones_like(lat), lat, h * np.ones_like(lat), lat)
    M = dy / np.deg2rad(2 * h)
    Ncos = dx / np.deg2rad(2 * h)
    got_n = ds.phi.grad("lat", geo=True, edge_order=2)  # d lat / d north, exact for a line
    np.testing.assert_allclose(got_n.isel(lon=0), 1 / (M * np.pi / 180), rtol=1e-8)
    got_e = ds.lam.grad("lon", geo=True)
    np.testing.assert_allclose(got_e.isel(lon=5), 1 / (Ncos * np.pi / 180), rtol=1e-8)
    # horizontal() on a 2-D copy of the same grid: the same radii.
    two = ds.phi.drop_vars(["lat", "lon"]).rename(lat="j", lon="i").assign_coords(
        lat=(("j", "i"), LAT, {"units": "degrees_north"}), lon=(("j", "i"), LON, {"units": "degrees_east"})
    )
    np.testing.assert_allclose(
        two.grad.horizontal(edge_order=2).dphi_dnorth.isel(i=3), 1 / (M * np.pi / 180), rtol=1e-8
    )
    with pytest.raises(ValueError, match="second derivatives along 'lat' on the ellipsoid"):
        ds.phi.grad.laplacian(["lat", "lon"], geo=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.phi.grad.laplacian(["lat", "lon"], geo=True, radius=R)


# ---------------------------------------------------------------------------
# Divergence and vorticity on the same grids


@pytest.mark.parametrize("n", [24, 48])
def test_solid_body_rotation_on_the_rotated_grid(n):
    """u = U cos(lat), v = 0 (true east/north): vorticity 2 U sin(lat) / R,
    divergence 0; the error falls by ~4 when the grid is refined twice."""
    lat, lon = rotated_grid(n, n * 4 // 3)
    U = 20.0
    u = U * np.cos(np.deg2rad(lat))
    T = curvilinear(lat, lon)
    ds = xr.Dataset(
        {
            "u": T.copy(data=u).assign_attrs(units="m s-1"),
            "v": T.copy(data=np.zeros_like(u)).assign_attrs(units="m s-1"),
        }
    )
    zeta = ds.grad.vorticity(geo=True, edge_order=2)
    div = ds.grad.divergence(geo=True, edge_order=2)
    exact = 2 * U * np.sin(np.deg2rad(lat)) / R
    scale = np.abs(exact).max()
    tol = 2e-3 * (24 / n) ** 2
    assert relative_error(zeta, exact) < tol
    assert np.abs(div).max() < tol * scale
    assert zeta.attrs["units"] == div.attrs["units"] == "s-1"
    assert zeta.name == "vorticity" and zeta.dims == ("j", "i")
    # Dask: lazy, the same numbers.
    chunked = ds.copy()
    for name in ("u", "v"):
        chunked[name] = ds[name].copy(data=ds[name].chunk({"j": 7, "i": 9}).data)
    with no_compute():
        lazy = chunked.grad.vorticity(geo=True, edge_order=2)
    np.testing.assert_allclose(lazy.compute(), zeta, rtol=1e-12, atol=1e-12 * scale)


def test_divergence_of_a_gradient_flow_on_orca2(orca):
    """u, v = grad of psi = sin(lat) (northward only): divergence is the
    Laplacian -2 sin(lat) / R^2, vorticity 0, on the real ORCA2 grid."""
    lat = orca.nav_lat.values.astype(np.float64)
    land = np.isnan(orca.votemper.values)
    v = np.where(land, np.nan, np.cos(np.deg2rad(lat)) / R)
    like = orca.votemper.assign_attrs(units="m s-1")
    ds = xr.Dataset({"u": like.copy(data=np.where(land, np.nan, 0.0)), "v": like.copy(data=v)})
    div = ds.grad.divergence(geo=True)
    zeta = ds.grad.vorticity(geo=True)
    assert div.attrs["units"] == "s-1"
    exact = -2 * np.sin(np.deg2rad(lat)) / R**2
    ok = np.isfinite(div.values)
    ok[120:] = False  # south of 60 N
    assert ok.sum() > 10000
    assert relative_error(div, exact, ok) < 5e-3
    assert np.abs(zeta.values[ok]).max() < 5e-3 * np.abs(exact).max()


# ---------------------------------------------------------------------------
# The command


@NEEDS_STORE
def test_command_horizontal_on_orca2_and_the_stereographic_file(tmp_path, orca):
    from xgradient import cli

    out = tmp_path / "orca.nc"
    args = [f"{DATA}/orca2_votemper.nc", "-o", str(out), "--horizontal", "--skipna", "-q"]
    assert cli.main(args + ["--chunks", "dim0=50,dim1=70"]) == 0
    expected = orca.votemper.grad.horizontal(skipna=True)
    with xr.open_dataset(out) as w:
        assert {"dvotemper_deast", "dvotemper_dnorth"} <= set(w.data_vars)
        for name in ("dvotemper_deast", "dvotemper_dnorth"):
            np.testing.assert_array_equal(w[name].values, expected[name].values)
            assert w[name].attrs["units"] == "degC m-1"
    out = tmp_path / "stereo.nc"
    assert cli.main([f"{DATA}/toa_brightness_stereographic.nc", "-o", str(out), "--horizontal", "-q"]) == 0
    with xr.open_dataset(f"{DATA}/toa_brightness_stereographic.nc") as ds:
        ref = ds.grad.horizontal()  # the file's 2-D lat/lon, its grid mapping's radius
    with xr.open_dataset(out) as w:
        np.testing.assert_array_equal(w.ddata_deast.values, ref.ddata_deast.values)
        assert "stereographic" in w.variables
    # A variable named with --var that is not on a horizontal grid.
    bad = [f"{DATA}/orca2_votemper.nc", "-o", str(tmp_path / "y.nc"), "--horizontal", "-q"]
    assert cli.main(bad + ["--var", "deptht_bnds"]) == 2
    # Neither --coord nor --horizontal: a usage error.
    assert cli.main([f"{DATA}/orca2_votemper.nc", "-o", str(tmp_path / "x.nc"), "-q"]) == 2


# ---------------------------------------------------------------------------
# MetPy


def test_against_metpy_geospatial_gradient_on_the_stereographic_file():
    """MetPy's geospatial_gradient, with the file's CRS (parse_cf), returns
    the components along the projection's x and y axes; turned by the
    meridian convergence (pyproj's get_factors) ours are the same to the
    truncation error of either (~1e-3 of the largest value on this 36 km
    grid); the magnitudes need no turning."""
    mpcalc = pytest.importorskip("metpy.calc")
    pyproj = pytest.importorskip("pyproj")
    with xr.open_dataset(f"{DATA}/toa_brightness_stereographic.nc") as ds:
        ds = ds.load()
    radius = float(ds.stereographic.attrs["earth_radius"])
    f, east, north = field_and_exact(ds.lat.values.astype(np.float64), ds.lon.values.astype(np.float64), radius)
    ds = ds.assign(data=ds.data.copy(data=f))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mx, my = mpcalc.geospatial_gradient(ds.metpy.parse_cf("data"))
    mx, my = mx.m_as("K/m"), my.m_as("K/m")
    ours = ds.data.grad.horizontal(edge_order=2)  # MetPy's stencil: second-order ends
    e, n = ours.ddata_deast.values, ours.ddata_dnorth.values
    scale = np.abs(east).max()
    assert np.abs(np.hypot(e, n) - np.hypot(mx, my)).max() < 2e-3 * scale
    factors = pyproj.Proj(pyproj.CRS.from_cf(ds.stereographic.attrs)).get_factors(
        ds.lon.values.astype(np.float64), ds.lat.values.astype(np.float64)
    )
    gamma = np.deg2rad(factors.meridian_convergence)
    along_x = e * np.cos(gamma) - n * np.sin(gamma)
    along_y = e * np.sin(gamma) + n * np.cos(gamma)
    assert np.abs(along_x - mx).max() < 2e-3 * scale
    assert np.abs(along_y - my).max() < 2e-3 * scale
    # Both are close to the exact east/north derivatives; ours without turning.
    assert relative_error(e, east) < 2e-3
    assert relative_error(mx, east) > 0.1  # MetPy's x is not east here


@NEEDS_STORE
def test_command_geo_on_a_cordex_style_file(tmp_path):
    """--geo along rlon/rlat of a file that also has 2-D lat/lon (failed with
    'several latitude coordinates' before); --horizontal on the same file."""
    from xgradient import cli

    lat, lon = rotated_grid(10, 12)
    T = curvilinear(lat, lon, dims=("rlat", "rlon")).assign_coords(
        rlat=("rlat", np.linspace(-5, 5, 10), {"standard_name": "grid_latitude", "units": "degrees"}),
        rlon=("rlon", np.linspace(-6, 6, 12), {"standard_name": "grid_longitude", "units": "degrees"}),
    )
    src = tmp_path / "cordex.nc"
    T.to_dataset().to_netcdf(src)
    out = tmp_path / "out.nc"
    args = [str(src), "-o", str(out), "--coord", "rlon", "--coord", "rlat", "--geo", "--horizontal", "-q"]
    assert cli.main(args) == 0
    with xr.open_dataset(out) as w:
        np.testing.assert_array_equal(w.dT_drlon.values, T.grad("rlon", geo=True).values)
        np.testing.assert_array_equal(w.dT_deast.values, T.grad.horizontal().dT_deast.values)


@NEEDS_STORE
def test_command_geo_on_a_mom_style_file(tmp_path):
    """yt_ocean and yu_ocean: each variable takes the latitude on its own dims."""
    from xgradient import cli

    yt, yu = np.linspace(-60, 60, 13), np.linspace(-55, 65, 13)
    xt = np.arange(0.0, 360.0, 10.0)
    xu = xt + 5
    deg = {"units": "degrees_N"}
    ds = xr.Dataset(
        {
            "temp": (("yt_ocean", "xt_ocean"), np.cos(np.deg2rad(xt)) * np.cos(np.deg2rad(yt))[:, None]),
            "u": (("yu_ocean", "xu_ocean"), np.sin(np.deg2rad(xu)) * np.ones((13, 1))),
        },
        coords={
            "yt_ocean": ("yt_ocean", yt, deg),
            "yu_ocean": ("yu_ocean", yu, deg),
            "xt_ocean": ("xt_ocean", xt, {"units": "degrees_E"}),
            "xu_ocean": ("xu_ocean", xu, {"units": "degrees_E"}),
        },
    )
    ds.to_netcdf(tmp_path / "mom.nc")
    out = tmp_path / "out.nc"
    args = [str(tmp_path / "mom.nc"), "-o", str(out), "--coord", "xt_ocean", "--coord", "xu_ocean", "--geo", "-q"]
    assert cli.main(args) == 0
    with xr.open_dataset(out) as w:
        np.testing.assert_array_equal(w.dtemp_dxt_ocean.values, ds.temp.grad("xt_ocean", geo=True).values)
        np.testing.assert_array_equal(w.du_dxu_ocean.values, ds.u.grad("xu_ocean", geo=True).values)


def test_large_grid_one_pass_loop_equals_dask():
    """Above the kernel's threading size (the grid rows split between
    threads) the one-pass compiled loop; the dask path differentiates and
    applies the metric block by block: same bits."""
    lat, lon = rotated_grid(1030, 1040, span=(40.0, 50.0))
    T = curvilinear(lat, lon)
    assert T.size > xgradient.kernel.THREAD_MIN_SIZE
    got = T.grad.horizontal()
    lazy = T.copy(data=T.chunk({"j": 400, "i": 300}).data).grad.horizontal()
    xr.testing.assert_identical(lazy.compute(), got)
    _, east, north = field_and_exact(lat, lon)
    inner = (slice(1, -1), slice(1, -1))  # the ends are first order (edge_order=1)
    assert relative_error(got.dT_deast[inner], east[inner]) < 1e-5


@pytest.mark.parametrize("accuracy, edge_order", [(2, 1), (2, 2), (4, 1), (6, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dask_one_pass_equals_numpy_wrapped_and_open(accuracy, edge_order, dtype):
    """Dask blocks through the one-pass loop, with halos along both grid dims
    (the wrapped one's from the other end): numpy's bits for every chunking,
    size-1 chunks (merged) and single blocks included."""
    j, i = np.meshgrid(np.linspace(-60, 70, 17), np.arange(0, 360, 15.0), indexing="ij")
    lat, lon = j + 3 * np.sin(np.deg2rad(i)), i + 5 * np.cos(np.deg2rad(3 * j))  # global, curvilinear
    f, _, _ = field_and_exact(lat, lon)
    levels = np.stack([f, 2 * f**2, -f]).astype(dtype)
    cube = xr.DataArray(levels, dims=("lev", "j", "i"), name="T", coords=curvilinear(lat, lon).coords)
    options = {"accuracy": accuracy, "edge_order": edge_order}
    for periodic in ("i", False):
        expected = cube.grad.horizontal(periodic=periodic, **options)
        for chunks in ({"j": 1, "i": 1}, {"j": 5, "i": 7, "lev": 2}, {"i": 23}, {"j": 16}, {}):
            data = cube.chunk(chunks).data  # the coordinates stay in memory
            with no_compute():
                lazy = cube.copy(data=data).grad.horizontal(periodic=periodic, **options)
            got = lazy.compute()
            assert got.dT_deast.dtype == dtype
            xr.testing.assert_identical(got, expected)


# ---------------------------------------------------------------------------
# The one-pass loop (kernel.apply_metric) against the same sums in steps


def _in_steps(values, s0, s1, metric):
    """The derivatives along the last two axes of `values` converted to float64
    (core.differentiate: the kernel's sums, or its numpy reference), then
    ``a d0 + b d1`` in float64, rounded once."""
    from xgradient.core import differentiate

    work = values.astype(np.float64)
    d0 = differentiate(work, s0, -2)
    d1 = differentiate(work, s1, -1)
    a, b, c, e = metric
    return ((a * d0 + b * d1).astype(values.dtype), (c * d0 + e * d1).astype(values.dtype))


@pytest.mark.skipif(not xgradient.kernel.HAVE_NUMBA, reason="the one-pass loop is compiled")
@pytest.mark.parametrize("accuracy, edge_order", [(2, 1), (2, 2), (4, 1), (6, 1)])
@pytest.mark.parametrize("wrap", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_pass_loop_equals_the_steps_bit_for_bit(accuracy, edge_order, wrap, dtype):
    from xgradient.kernel import apply_metric
    from xgradient.stencil import build_stencil

    rng = np.random.default_rng(accuracy * 10 + edge_order)
    for shape in [(9, 13), (3, 8, 7), (2, 2, 11, 12)]:
        n0, n1 = shape[-2:]
        s0, s1 = (
            build_stencil(
                np.sort(rng.uniform(0, 5, n)) if not w else np.arange(n, dtype=float),
                accuracy=accuracy,
                edge_order=edge_order,
                period=float(n) if w else None,
            )
            for n, w in zip((n0, n1), wrap)
        )
        values = rng.standard_normal(shape).astype(dtype)
        values[(0,) * (len(shape) - 2) + (n0 // 2, n1 // 3)] = np.nan  # reaches only its neighbours
        metric = [rng.standard_normal((n0, n1)) for _ in range(4)]
        got = apply_metric(values, *[(s.weights, s.start, s.divisor) for s in (s0, s1)], metric, threads=1)
        for g, e in zip(got, _in_steps(values, s0, s1, metric)):
            assert g.dtype == dtype and g.shape == shape
            np.testing.assert_array_equal(g, e)


@pytest.mark.skipif(not xgradient.kernel.HAVE_NUMBA, reason="the one-pass loop is compiled")
def test_one_pass_loop_split_between_threads_is_the_same():
    from xgradient.kernel import THREAD_MIN_SIZE, apply_metric
    from xgradient.stencil import build_stencil

    shape = (3, 700, 600)
    assert np.prod(shape) >= THREAD_MIN_SIZE
    values = np.random.default_rng(1).standard_normal(shape)
    rows = [(s.weights, s.start, s.divisor) for s in (build_stencil(np.arange(700.0)), build_stencil(np.arange(600.0), accuracy=4))]
    metric = [np.full((700, 600), k + 1.5) for k in range(4)]
    one = apply_metric(values, *rows, metric, threads=1)
    for threads in (2, 3):
        for a, b in zip(one, apply_metric(values, *rows, metric, threads=threads)):
            np.testing.assert_array_equal(a, b)
    # Several arrays in one pass over the metric: each its own results.
    from xgradient.kernel import apply_metric_many

    other = values[0] ** 2  # another shape on the same grid
    many = apply_metric_many([values, other], *rows, metric, threads=2)
    for got, alone in zip(many, (one, apply_metric(other, *rows, metric, threads=1))):
        for a, b in zip(got, alone):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_one_pass_numpy_path_equals_dask_and_other_dim_orders(dtype):
    """numpy data with the grid dims last takes the one-pass loop; dask data, or
    the grid dims elsewhere, the steps: the same numbers."""
    lat, lon = rotated_grid(23, 31)
    f, _, _ = field_and_exact(lat, lon)
    levels = np.stack([f * (k + 1) * 10 for k in range(3)]).astype(dtype)
    T = xr.DataArray(levels, dims=("z", "j", "i"), name="T", coords=curvilinear(lat, lon).coords)
    got = T.grad.horizontal(accuracy=4)
    assert got.dT_deast.dtype == (np.float64 if dtype == np.int32 else dtype)
    lazy = T.chunk({"j": 7, "i": 9, "z": 2}).grad.horizontal(accuracy=4)
    xr.testing.assert_identical(lazy.compute(), got)
    moved = T.transpose("j", "z", "i").grad.horizontal(accuracy=4)
    xr.testing.assert_identical(moved.transpose("z", "j", "i"), got)


@pytest.mark.skipif(not xgradient.kernel.HAVE_NUMBA, reason="the metric's compiled passes")
@pytest.mark.parametrize("earth", [(R, R), (6378137.0, 6356752.314245)], ids=["sphere", "wgs84"])
def test_compiled_metric_is_the_numpy_one(earth):
    """The metric in two compiled passes (what numpy grids use when numba is
    there) against the numpy operations it replaces (the fallback, and the
    skipna and dask paths): bit for bit on a sphere; on an ellipsoid the
    radii of curvature differ in the last bit of the library's sin."""
    from xgradient import horizontal as hz
    from xgradient.stencil import build_stencil

    lat, lon = rotated_grid(31, 43)
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    for accuracy, edge_order, period in [(2, 1, None), (2, 2, None), (4, 1, None), (6, 1, None), (2, 1, 43.0), (4, 1, 43.0)]:
        stencils = [
            build_stencil(np.arange(31.0), accuracy=accuracy, edge_order=edge_order),
            build_stencil(np.arange(43.0), accuracy=accuracy, edge_order=edge_order, period=period),
        ]
        expected = hz._inverse_jacobian(phi, lam, stencils, (0, 1), earth, False)
        got = hz._compiled_metric(phi, lam, stencils, earth)
        for g, e in zip(got, expected):
            if earth[0] == earth[1]:
                np.testing.assert_array_equal(g, e)
            else:
                np.testing.assert_allclose(g, e, rtol=0, atol=2e-15 * np.abs(e).max())


def test_dataset_variables_on_one_grid_in_one_pass_equal_each_alone():
    """A Dataset's variables on one grid go through the metric together
    (per dtype); each result is the variable's own, bit for bit, whatever
    its leading dims, dtype or dim order."""
    lat, lon = rotated_grid(21, 27)
    f, _, _ = field_and_exact(lat, lon)
    coords = curvilinear(lat, lon).coords
    ds = xr.Dataset(
        {
            "a": (("j", "i"), f),
            "b": (("lev", "j", "i"), np.stack([f, f**2, -f])),
            "c": (("time", "lev", "j", "i"), np.ones((2, 3, 1, 1)) * f),
            "d": (("j", "i"), (3 * f).astype(np.float32)),
            "e": (("lev", "j", "i"), np.stack([f, 2 * f, 3 * f]).astype(np.float32)),
            "t": (("i", "j"), f.T.copy()),  # the grid's dims the other way round: alone
        },
        coords=coords,
    )
    for options in ({}, {"accuracy": 4, "edge_order": 2}):
        together = ds.grad.horizontal(**options)
        for name in ds.data_vars:
            alone = ds[name].grad.horizontal(**options)
            for which in ("east", "north"):
                key = f"d{name}_d{which}"
                assert together[key].dtype == ds[name].dtype
                np.testing.assert_array_equal(together[key].values, alone[key].values)
