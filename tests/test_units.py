"""The ``units`` attribute of every result parses, and means the right thing.

Truths: pint, through cf-xarray's unit registry (which reads CF/udunits
strings such as ``"m s-1"`` and ``"degrees_north"``) and pint-xarray's
``.pint.quantify``: the parsed unit of a derivative has the dimensionality of
the input's units divided by the coordinate's (by a length with geo=True),
squared for a second derivative; and converting between coordinate units
(hPa/Pa, day/s) turns one result into the other.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)

cf_units = pytest.importorskip("cf_xarray.units")
pytest.importorskip("pint_xarray")
ureg = cf_units.units

DATA_UNITS = ["K", "degC", "m s-1", "kg m-2", "Pa", "1", "kg m-2 s-1"]

# (coordinate, options, the unit of the coordinate the derivative is taken per)
COORDS = [
    ("z", {}, "m"),
    ("p", {}, "hPa"),
    ("lat", {}, "degrees_north"),
    ("lon", {}, "degrees_east"),
    ("time", {}, "s"),
    ("time", {"datetime_unit": "D"}, "day"),
    ("lat", {"geo": True}, "m"),
    ("lon", {"geo": True}, "m"),
]


def field(units, name="q"):
    """A small smooth 5-D field on coordinates of every kind in COORDS."""
    rng = np.random.default_rng(7)
    shape = (4, 4, 5, 6, 3)
    z = np.array([0.0, 10.0, 30.0, 70.0])
    p = np.array([1000.0, 850.0, 500.0, 250.0])
    lat = np.array([-40.0, -10.0, 5.0, 25.0, 60.0])
    lon = np.array([-20.0, -5.0, 0.0, 10.0, 30.0, 45.0])
    time = np.array(["2000-01-01", "2000-01-03", "2000-01-04"], dtype="datetime64[ns]")
    data = 1.0 + rng.random(shape)
    attrs = {} if units is None else {"units": units}
    return xr.DataArray(
        data,
        dims=("z", "p", "lat", "lon", "time"),
        coords={
            "z": ("z", z, {"units": "m"}),
            "p": ("p", p, {"units": "hPa"}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
            "time": time,
        },
        name=name,
        attrs=attrs,
    )


def parsed(result):
    """The result's units, parsed by pint-xarray with cf-xarray's registry."""
    q = result.pint.quantify(unit_registry=ureg)
    return q.pint.units


def dim(units):
    return ureg.Unit(units).dimensionality


@pytest.mark.parametrize("data_units", DATA_UNITS)
@pytest.mark.parametrize(
    "coord,options,per", COORDS, ids=[f"{c}-{u}" for c, _, u in COORDS]
)
def test_units_parse_to_the_right_dimensionality(data_units, coord, options, per):
    da = field(data_units)
    first = da.grad(coord, **options)
    second = da.grad.hessian([coord], **options)[f"d2q_d{coord}d{coord}"]
    for result, order in ((first, 1), (second, 2)):
        units = result.attrs["units"]
        assert ureg.Unit(units).dimensionality == dim(data_units) / dim(per) ** order, (
            units
        )
        assert parsed(result).dimensionality == dim(data_units) / dim(per) ** order, (
            units
        )


def test_units_convert_between_coordinate_units():
    """A derivative per hPa is 100 times one per Pa; one per day is 86400 times one per s."""
    da = field("K")
    per_hpa = parsed_values(da.grad("p"))
    per_pa = parsed_values(
        da.assign_coords(p=("p", da.p.values * 100, {"units": "Pa"})).grad("p")
    )
    close(per_hpa.to(per_pa.units).magnitude, per_pa.magnitude)
    per_day = parsed_values(da.grad("time", datetime_unit="D"))
    per_s = parsed_values(da.grad("time"))
    close(per_day.to(per_s.units).magnitude, per_s.magnitude)
    # Second derivatives: hPa^-2 -> Pa^-2 is a factor 1e4.
    d2_hpa = parsed_values(da.grad.hessian(["p"]).d2q_dpdp)
    assert d2_hpa.units == ureg.Unit("K/hPa^2")
    geo = parsed_values(da.grad("lat", geo=True))
    per_deg = parsed_values(da.grad("lat"))
    # d/dy = d/dlat * 180 / (pi R): degrees_north parse as angle degrees.
    close(geo.magnitude, per_deg.to("K/radian").magnitude / 6_371_008.8)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


def parsed_values(result):
    return result.pint.quantify(unit_registry=ureg).data


OPERATOR_CASES = [
    # (call, expected dimensionality as a unit string)
    (lambda ds: ds.u.grad.laplacian(["lat", "lon"], geo=True), "m s-1 m-2"),
    (lambda ds: ds.u.grad.laplacian(["lat", "lon"]), "m s-1"),
    (lambda ds: ds.u.grad.laplacian(["z"]), "m s-1 m-2"),
    (lambda ds: ds.u.grad.hessian(["lat", "lon"]).d2u_dlatdlon, "m s-1"),
    (lambda ds: ds.u.grad.hessian(["z", "p"]).d2u_dzdp, "m s-1 m-1 hPa-1"),
    (lambda ds: ds.u.grad.hessian(["lat", "lon"], geo=True).d2u_dlatdlon, "m s-1 m-2"),
    (lambda ds: ds.u.grad.hessian(["lat", "lon"], geo=True).d2u_dlondlon, "m s-1 m-2"),
    (lambda ds: ds.grad.divergence(geo=True), "s-1"),
    (lambda ds: ds.grad.vorticity(geo=True), "s-1"),
    (lambda ds: ds.grad.divergence(), "m s-1"),
    (lambda ds: ds.grad.vorticity(x="z", y="p"), None),  # z in m and p in hPa: no units
]


@pytest.mark.parametrize("case", range(len(OPERATOR_CASES)))
def test_operator_units_parse(case):
    call, expected = OPERATOR_CASES[case]
    ds = xr.Dataset({"u": field("m s-1"), "v": field("m s-1")})
    if expected is None:
        with pytest.warns(UserWarning, match="different units"):
            result = call(ds)
        assert "units" not in result.attrs
        return
    result = call(ds)
    assert parsed(result).dimensionality == dim(expected), result.attrs["units"]


def test_geo_units_are_simplified_where_they_cancel():
    ds = xr.Dataset({"u": field("m s-1"), "v": field("m s-1")})
    assert ds.grad.vorticity(geo=True).attrs["units"] == "s-1"
    assert ds.u.grad.laplacian(["lat", "lon"], geo=True).attrs["units"] == "m-1 s-1"
    ds = xr.Dataset({"u": field("1"), "v": field("1")})
    assert ds.grad.divergence(geo=True).attrs["units"] == "m-1"
    ds = xr.Dataset({"u": field("m"), "v": field("m")})
    assert ds.grad.divergence(geo=True).attrs["units"] == "1"


def test_no_units_in_no_units_out():
    da = field(None)
    assert "units" not in da.grad("lat").attrs
    assert "units" not in da.grad("lat", geo=True).attrs
    assert all(
        "units" not in v.attrs
        for v in da.grad.hessian(["lat", "lon"], geo=True).values()
    )
