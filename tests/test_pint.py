"""pint-xarray quantities in, quantities out, with the units ``differentiate`` gives.

Truths: ``xarray.DataArray.differentiate`` on the same quantified object
(numbers and pint units), ``numpy.gradient`` on the magnitudes, pint's own
unit algebra and conversions, and for the operators the ``units`` attribute of
the plain (unquantified) result, which tests/test_units.py checks
separately: the quantity's units must convert to it with a factor of exactly 1.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import xgradient
from conftest import no_compute
from test_units import field as units_field

pint = pytest.importorskip("pint")
pytest.importorskip("pint_xarray")
cf_units = pytest.importorskip("cf_xarray.units")
ureg = cf_units.units  # reads CF strings: "m s-1", "degrees_north"

# Units are never stripped: pint's warning for that is an error here.
pytestmark = pytest.mark.filterwarnings("error::pint.UnitStrippedWarning")

R = 6_371_008.8


def field(units="K", name="T"):
    """test_units' 5-D field, with a non-dimension coordinate and a long_name."""
    da = units_field(units, name)
    return da.assign_coords(height=("z", da.z.values / 1000, {"units": "km"})).assign_attrs(
        long_name="air temperature"
    )


def quantified(da):
    return da.pint.quantify(unit_registry=ureg)


def layout(q, how):
    """numpy inside pint, dask inside pint (pint-xarray's way), or pint inside dask."""
    if how == "numpy":
        return q
    if how == "dask-in-pint":
        return q.pint.chunk({"z": 2, "lat": 2})
    return q.chunk({"z": 2, "lat": 2})  # xarray's own chunk puts dask outside


def is_dask(x):
    return type(x).__module__.startswith("dask")


def numbers(da):
    """Magnitudes as numpy, for any layout."""
    data = da.data
    if is_dask(data):
        data = data.compute()
    data = data.magnitude
    return np.asarray(data.compute() if is_dask(data) else data)


def units(da):
    data = da.data
    return data.compute().units if is_dask(data) else data.units


def close(actual, expected, equal_nan=False):
    """Equal to rounding: the operations differ in order, not in formula."""
    expected = np.asarray(expected)
    scale = np.nanmax(np.abs(expected))
    np.testing.assert_allclose(
        actual, expected, rtol=1e-12, atol=1e-13 * scale, equal_nan=equal_nan
    )


LAYOUTS = ["numpy", "dask-in-pint", "pint-in-dask"]


@pytest.mark.parametrize("how", LAYOUTS)
@pytest.mark.parametrize("coord", ["z", "p", "lat", "lon", "height"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_grad_is_differentiate_with_units(coord, edge_order, how):
    q = quantified(field())
    expected = q.differentiate(coord, edge_order=edge_order)
    result = layout(q, how).grad(coord, edge_order=edge_order, periodic=False)
    assert units(result) == expected.data.units
    assert result.dims == expected.dims and result.name == "T"
    close(numbers(result), expected.data.magnitude)
    # The coordinates keep their own units.
    assert units(result[coord]) == q[coord].data.units
    assert "units" not in result.attrs
    assert result.attrs["long_name"] == f"derivative of air temperature with respect to {coord}"


def test_dask_inside_pint_stays_lazy_and_layered_as_it_came():
    q = quantified(field())
    with no_compute():
        lazy = q.pint.chunk({"lat": 2}).grad("lat")
    # xarray's chunk makes even the indexed coordinates dask arrays of
    # quantities; rebuilding their index computes those 1-D coordinates.
    outside = q.chunk({"lat": 2}).grad("lat")
    assert isinstance(lazy.data, pint.Quantity)
    assert is_dask(lazy.data.magnitude)
    # pint inside dask comes back that way, so it computes beside its coordinates.
    assert is_dask(outside.data)
    assert isinstance(outside.compute().data, pint.Quantity)
    np.testing.assert_array_equal(numbers(lazy), numbers(q.grad("lat")))
    np.testing.assert_array_equal(numbers(outside), numbers(q.grad("lat")))


@pytest.mark.parametrize("datetime_unit,per", [("s", "s"), ("D", "day"), ("h", "hour")])
def test_time_is_per_datetime_unit(datetime_unit, per):
    """differentiate gives the right numbers but plain kelvin; we say per what."""
    q = quantified(field())
    result = q.grad("time", datetime_unit=datetime_unit)
    assert result.data.units == ureg.Unit(f"K/{per}")
    expected = q.differentiate("time", datetime_unit=datetime_unit)
    close(result.data.magnitude, expected.data.magnitude)
    # One unit converts into the other by pint's own factor.
    per_s = q.grad("time").data
    close(result.data.to("K/s").magnitude, per_s.magnitude)


def test_geo_is_per_metre():
    q = quantified(field())
    dy = q.grad("lat", geo=True)
    assert dy.data.units == ureg.Unit("K/m")
    # d/dy = d/dlat per radian over R; pint converts degrees_north to radian.
    per_radian = q.differentiate("lat").data.to("K/radian").magnitude
    close(dy.data.magnitude, per_radian / R)
    dx = q.grad("lon", geo=True, periodic=False)
    assert dx.data.units == ureg.Unit("K/m")
    lam, phi = np.deg2rad(q.lon.data.magnitude), np.deg2rad(q.lat.data.magnitude)
    f = q.data.magnitude
    expected = np.gradient(f, lam, axis=3) / (R * np.cos(phi)[:, None, None])
    close(dx.data.magnitude, expected)


def test_coordinate_quantities_in_other_units():
    """A latitude in radians and a depth in km, as quantities: the same derivative."""
    da = field()
    q = quantified(da)
    in_rad = quantified(
        da.assign_coords(lat=("lat", np.deg2rad(da.lat.values), {"units": "radian"}))
    )
    close(in_rad.grad("lat", geo=True).data.magnitude, q.grad("lat", geo=True).data.magnitude)
    per_rad = in_rad.grad("lat").data
    assert per_rad.units == ureg.Unit("K/radian")
    close(per_rad.magnitude, q.grad("lat").data.to("K/radian").magnitude)
    in_km = quantified(da.assign_coords(z=("z", da.z.values / 1000, {"units": "km"})))
    per_km = in_km.grad("z").data
    assert per_km.units == ureg.Unit("K/km")
    close(per_km.to("K/m").magnitude, q.grad("z").data.magnitude)


@pytest.mark.parametrize("how", ["numpy", "dask-in-pint"])
def test_a_difference_of_degC_is_in_delta_degC(how):
    """pint: q[1] - q[0] in degC is delta_degC; so is a derivative's numerator."""
    q = quantified(field("degC"))
    dz = layout(q, how).grad("z")
    assert units(dz) == ureg.Unit("delta_degC/m")
    f = q.data.magnitude
    close(numbers(dz.pint.to("K/m")), np.gradient(f, q.z.data.magnitude, axis=0))
    assert q.grad.laplacian(["z"]).data.units == ureg.Unit("delta_degC/m^2")


def test_second_derivative_units_are_squared():
    q = quantified(field())
    h = q.grad.hessian(["p", "z"])
    assert h.d2T_dpdp.data.units == ureg.Unit("K/hPa^2")
    assert h.d2T_dzdz.data.units == ureg.Unit("K/m^2")
    assert h.d2T_dpdz.data.units == ureg.Unit("K/hPa/m")
    expected = q.differentiate("p").differentiate("z")
    assert h.d2T_dpdz.data.units == expected.data.units
    close(h.d2T_dpdz.data.magnitude, expected.data.magnitude)


def test_dataset_each_variable_its_own_units():
    ds = xr.Dataset(
        {
            "T": field("K"),
            "q": field("g/kg", name="q"),
            "mask": field("K", name="mask").drop_attrs(deep=False),  # no units: stays plain
        }
    )
    q = ds.pint.quantify(unit_registry=ureg)
    out = q.grad("z")
    assert out.T.data.units == ureg.Unit("K/m")
    assert out.q.data.units == ureg.Unit("g/kg/m")
    assert not isinstance(out.mask.data, pint.Quantity)
    for name in ("T", "q"):
        close(
            out[name].data.magnitude, q[name].differentiate("z").data.magnitude
        )
    listed = q.grad(["z", "p"])
    assert listed.dT_dp.data.units == ureg.Unit("K/hPa")


def test_plain_objects_keep_the_units_attribute():
    da = field()
    out = da.grad("p")
    assert not isinstance(out.data, pint.Quantity)
    assert out.attrs["units"] == "K/hPa"


# ---------------------------------------------------------------------------
# Operators: the quantity's units are what the plain result's attribute says


def winds(u_units="m s-1", v_units="m s-1"):
    base = field()
    return xr.Dataset(
        {
            "u": base.assign_attrs(units=u_units),
            "v": (base * 0.5 + base.lat / 100).assign_attrs(units=v_units),
        }
    )


OPERATORS = {
    "laplacian-geo": lambda ds: ds.u.grad.laplacian(["lat", "lon"], geo=True),
    "laplacian-zp": lambda ds: ds.u.grad.laplacian(["lat", "lon"]),
    "laplacian-z": lambda ds: ds.u.grad.laplacian(["z"]),
    "hessian-geo-mixed": lambda ds: ds.u.grad.hessian(["lat", "lon"], geo=True).d2u_dlatdlon,
    "hessian-geo-lon": lambda ds: ds.u.grad.hessian(["lat", "lon"], geo=True).d2u_dlondlon,
    "hessian-zp": lambda ds: ds.u.grad.hessian(["z", "p"]).d2u_dzdp,
    "divergence-geo": lambda ds: ds.grad.divergence(geo=True),
    "vorticity-geo": lambda ds: ds.grad.vorticity(geo=True),
    "divergence": lambda ds: ds.grad.divergence(),
    "vorticity": lambda ds: ds.grad.vorticity(),
}


@pytest.mark.parametrize("how", ["numpy", "dask-in-pint"])
@pytest.mark.parametrize("case", list(OPERATORS))
def test_operator_units_are_the_attribute_units(case, how):
    call = OPERATORS[case]
    ds = winds()
    plain = call(ds)
    result = call(layout(ds.pint.quantify(unit_registry=ureg), how))
    assert "units" not in result.attrs
    assert result.attrs["long_name"] == plain.attrs["long_name"]
    said = ureg.Unit(plain.attrs["units"])
    assert units(result).dimensionality == said.dimensionality
    converted = (1 * units(result)).to(said).magnitude
    assert converted == pytest.approx(1.0, rel=1e-15)
    close(numbers(result), plain.values, equal_nan=True)


def test_operator_converts_components_in_different_units():
    """v in knots: pint converts it; the plain path can only warn and drop units."""
    mixed = winds(v_units="knot")
    same = mixed.assign(v=(mixed.v * 1852 / 3600).assign_attrs(units="m s-1"))
    for name in ("divergence", "vorticity"):
        result = getattr(mixed.pint.quantify(unit_registry=ureg).grad, name)(geo=True)
        expected = getattr(same.grad, name)(geo=True)
        assert result.data.units.dimensionality == ureg.Unit("s-1").dimensionality
        close(
            result.data.to("s-1").magnitude, expected.values, equal_nan=True
        )


def test_operator_terms_that_cannot_be_added_raise():
    q = quantified(field())
    with pytest.raises(ValueError, match=r"laplacian of variable 'T'.*cannot be added"):
        q.grad.laplacian(["z", "p"])
    ds = winds().pint.quantify(unit_registry=ureg)
    half = ds.assign(v=ds.v.pint.dequantify())  # v plain numbers, u a quantity
    with pytest.raises(ValueError, match=r"divergence of \('u', 'v'\).*plain numbers"):
        half.grad.divergence(geo=True)


def test_unparseable_coordinate_units_raise():
    data = ureg.Quantity(np.arange(4.0) ** 2, "K")
    da = xr.DataArray(data, dims="x", coords={"x": ("x", np.arange(4.0), {"units": "blorps"})})
    with pytest.raises(ValueError, match="'blorps' are not understood"):
        da.grad("x")


def test_works_where_pint_cannot_be_imported():
    """Pint is optional: with it unimportable, plain objects work as before."""
    code = (
        "import sys; sys.modules['pint'] = None; sys.modules['pint_xarray'] = None\n"
        "import numpy as np, xarray as xr, xgradient\n"
        "x = np.array([0.0, 1.0, 3.0, 4.0])\n"
        "da = xr.DataArray(x**2, dims='x', coords={'x': ('x', x, {'units': 'm'})},\n"
        "                  attrs={'units': 'K'})\n"
        "d = da.grad('x'); lap = da.grad.laplacian(['x'])\n"
        "print(d.attrs['units'], np.allclose(d, np.gradient(x**2, x)), lap.attrs['units'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["K/m", "True", "K/m^2"]


def test_reusable_wrapper_units():
    """The strip -> compute -> wrap helper that every entry point uses."""
    from xgradient import units as u

    q = quantified(field())
    out = u.through_magnitude(q, lambda plain: plain.grad("z"), per=ureg.m)
    assert out.data.units == ureg.Unit("K/m")
    assert xgradient.units.is_quantity(out.data)
    both = u.through_magnitude(q, lambda plain: plain.grad(["z", "p"]), per=None)
    assert both.dT_dz.data.units == ureg.K


@pytest.mark.parametrize("how", ["numpy", "dask-in-pint"])
def test_horizontal_on_a_curvilinear_grid_gives_quantities(how):
    """2-D latitude/longitude quantities; the numbers are the plain object's."""
    j, i = np.meshgrid(np.arange(6.0), np.arange(8.0), indexing="ij")
    lat2d, lon2d = -30 + 5 * j + 0.5 * i, 10 + 4 * i + 0.3 * j
    t = xr.DataArray(
        np.sin(np.deg2rad(lat2d)) * np.cos(np.deg2rad(lon2d)),
        dims=("j", "i"),
        name="T",
        attrs={"units": "K"},
        coords={
            "lat": (("j", "i"), lat2d, {"units": "degrees_north"}),
            "lon": (("j", "i"), lon2d, {"units": "degrees_east"}),
        },
    )
    plain = t.grad.horizontal()
    q = quantified(t)
    out = (q if how == "numpy" else q.pint.chunk({"j": 3})).grad.horizontal()
    for name in ("dT_deast", "dT_dnorth"):
        assert units(out[name]) == ureg.Unit("K/m")
        assert ureg.Unit(plain[name].attrs["units"]) == ureg.Unit("K/m")
        close(numbers(out[name]), plain[name].values)
    assert out.lat.data.units == q.lat.data.units  # the coordinates stay quantities
    assert (
        quantified(t.to_dataset()).grad.horizontal().dT_dnorth.data.units == ureg.Unit("K/m")
    )


# ---------------------------------------------------------------------------
# xgradient.gradient on bare pint quantities, as numpy.gradient takes them


@pytest.mark.parametrize("lazy", [False, True])
def test_gradient_of_bare_quantities_keeps_units_like_numpy(lazy):
    import dask.array as dsa

    rng = np.random.default_rng(3)
    values = rng.standard_normal((5, 6))
    y = np.cumsum(rng.uniform(0.5, 1.5, 5))
    f = ureg.Quantity(dsa.from_array(values, chunks=(2, 3)) if lazy else values, "degC")
    got = xgradient.gradient(f, ureg.Quantity(y, "km"), ureg.Quantity(2.0, "s"))
    # pint's own numpy.gradient gives one axis's units right (below) but
    # calls both of these delta_degC / km / s.
    units = [ureg.Unit("delta_degC / km"), ureg.Unit("delta_degC / s")]
    for g, e, u in zip(got, np.gradient(values, y, 2.0), units):
        assert g.units == u
        assert is_dask(g.magnitude) == lazy
        np.testing.assert_array_equal(g.magnitude.compute() if lazy else g.magnitude, e)
    assert np.gradient(ureg.Quantity(values, "degC"), ureg.Quantity(y, "km"), axis=0).units == units[0]
    one = xgradient.gradient(f, ureg.Quantity(1.5, "m"), axis=1, accuracy=4)
    assert one.units == ureg.Unit("delta_degC / m")
    np.testing.assert_array_equal(
        one.magnitude.compute() if lazy else one.magnitude, xgradient.gradient(values, 1.5, axis=1, accuracy=4)
    )


def test_gradient_of_plain_data_over_quantity_spacing_is_per_that_unit():
    """numpy.gradient through pint calls this dimensionless; it is 1/s."""
    t = ureg.Quantity(np.array([0.0, 1.0, 3.0]), "s")
    got = xgradient.gradient(np.array([0.0, 2.0, 6.0]), t)
    assert got.units == ureg.Unit("1/s")
    np.testing.assert_array_equal(got.magnitude, np.gradient(np.array([0.0, 2.0, 6.0]), t.magnitude))
