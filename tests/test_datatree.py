"""``tree.grad(coord, ...)`` on an xarray.DataTree: every node that has the coordinate.

Truths: numpy.gradient on each variable's values, the units attribute rules
of ``Dataset.grad``, and the tree's own structure (same groups, same paths).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import xarray as xr

import xgradient
from conftest import no_compute

pytestmark = pytest.mark.skipif(
    not hasattr(xr, "DataTree"), reason="xarray.DataTree needs xarray >= 2024.10"
)

LAT = np.array([-30.0, -10.0, 0.0, 5.0, 25.0, 60.0])  # nonuniform
DEPTH = np.array([0.0, 10.0, 30.0, 70.0])
TIME = np.array(["2000-01-01", "2000-01-02", "2000-01-04"], dtype="datetime64[ns]")


def tree():
    rng = np.random.default_rng(3)
    return xr.DataTree.from_dict(
        {
            "/": xr.Dataset(
                coords={"lat": ("lat", LAT, {"units": "degrees_north"})},
                attrs={"title": "an ocean and some stations"},
            ),
            "/ocean": xr.Dataset(
                {
                    "sst": ("lat", rng.random(LAT.size), {"units": "degC"}),
                    "theta": (("depth", "lat"), rng.random((4, LAT.size)), {"units": "K"}),
                    "label": ("lat", np.array(list("abcdef"))),  # not a number: dropped
                },
                coords={"depth": ("depth", DEPTH, {"units": "m"})},
            ),
            "/ocean/deep": xr.Dataset({"salt": (("lat", "depth"), rng.random((LAT.size, 4)))}),
            "/stations": xr.Dataset(
                {"p": ("time", [1000.0, 990.0, 1005.0], {"units": "hPa"})},
                coords={"time": TIME},
                attrs={"source": "buoys"},
            ),
        }
    )


def test_every_node_with_the_coordinate_is_differentiated_like_numpy():
    t = tree()
    out = t.grad("lat")
    assert isinstance(out, xr.DataTree)
    assert sorted(out.groups) == sorted(t.groups)
    np.testing.assert_allclose(out["ocean/sst"].values, np.gradient(t["ocean/sst"].values, LAT))
    np.testing.assert_allclose(
        out["ocean/theta"].values, np.gradient(t["ocean/theta"].values, LAT, axis=1)
    )
    np.testing.assert_allclose(
        out["ocean/deep/salt"].values, np.gradient(t["ocean/deep/salt"].values, LAT, axis=0)
    )
    assert sorted(out["ocean"].data_vars) == ["sst", "theta"]
    assert out["ocean/sst"].attrs["units"] == "degC/degrees_north"
    assert out["ocean/theta"].attrs["units"] == "K/degrees_north"
    assert "units" not in out["ocean/deep/salt"].attrs
    # The coordinates stay where they were: lat on the root, depth on /ocean.
    assert list(out.to_dataset(inherit=False).coords) == ["lat"]
    assert list(out["ocean"].to_dataset(inherit=False).coords) == ["depth"]
    assert out.attrs == t.attrs


def test_a_node_without_the_coordinate_stays_empty():
    out = tree().grad("depth")
    # The root and /stations have no depth: kept, with their coordinates and attributes.
    assert list(out.data_vars) == [] and list(out["stations"].data_vars) == []
    np.testing.assert_array_equal(out["stations"].time.values, TIME)
    assert out["stations"].attrs == {"source": "buoys"}
    assert "lat" in out.coords
    np.testing.assert_allclose(
        out["ocean/theta"].values, np.gradient(tree()["ocean/theta"].values, DEPTH, axis=0)
    )
    assert out["ocean/theta"].attrs["units"] == "K/m"


def test_options_are_those_of_dataset_grad():
    t = tree()
    out = t.grad("lat", edge_order=2)
    np.testing.assert_allclose(
        out["ocean/sst"].values, np.gradient(t["ocean/sst"].values, LAT, edge_order=2)
    )
    geo = t.grad("lat", geo=True)
    per_metre = np.gradient(t["ocean/sst"].values, np.deg2rad(LAT)) / 6_371_008.8
    np.testing.assert_allclose(geo["ocean/sst"].values, per_metre)
    assert geo["ocean/sst"].attrs["units"] == "degC m-1"
    per_day = t.grad("time", datetime_unit="D")
    np.testing.assert_allclose(per_day["stations/p"].values, np.gradient([1000.0, 990.0, 1005.0], [0, 1, 3]))
    assert per_day["stations/p"].attrs["units"] == "hPa/day"


def test_a_list_takes_the_names_each_node_has():
    t = tree()
    out = t.grad(["lat", "depth"])
    assert sorted(out["ocean"].data_vars) == ["dsst_dlat", "dtheta_ddepth", "dtheta_dlat"]
    assert sorted(out["ocean/deep"].data_vars) == ["dsalt_ddepth", "dsalt_dlat"]
    assert list(out["stations"].data_vars) == []
    np.testing.assert_allclose(
        out["ocean/dtheta_ddepth"].values,
        np.gradient(t["ocean/theta"].values, DEPTH, axis=0),
    )


def test_unknown_coordinate_names_the_tree_coordinates():
    with pytest.raises(xgradient.UnknownCoordinateError) as info:
        tree().grad("latitude")
    message = str(info.value)
    assert "'latitude' is neither a dimension nor a 1-D coordinate of any node" in message
    assert "['depth', 'lat', 'time']" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(xgradient.UnknownCoordinateError, match="'z'"):
        tree().grad(["lat", "z"])


def test_an_error_on_a_node_says_which_node():
    t = tree()
    t["bad"] = xr.DataTree(
        xr.Dataset({"f": ("x", [1.0, 2.0, 3.0])}, coords={"x": [0.0, 2.0, 1.0]})
    )
    with pytest.raises(ValueError, match="'x'") as info:
        t.grad("x")
    if sys.version_info >= (3, 11):  # xarray adds the node's path as a note
        assert any("'bad'" in note for note in info.value.__notes__)
    with pytest.raises(ValueError, match="edge_order"):
        tree().grad("lat", edge_order=3)


def test_dask_nodes_stay_lazy():
    t = tree().chunk({"lat": 2})
    with no_compute():
        out = t.grad("lat")
    data = out["ocean/theta"].data
    assert type(data).__module__.startswith("dask")
    np.testing.assert_allclose(
        data.compute(), np.gradient(tree()["ocean/theta"].values, LAT, axis=1)
    )


def test_pint_quantified_nodes_give_quantities():
    pint = pytest.importorskip("pint")
    pytest.importorskip("pint_xarray")
    ureg = pytest.importorskip("cf_xarray.units").units
    q = tree().map_over_datasets(lambda ds: ds.pint.quantify(unit_registry=ureg))
    out = q.grad("lat")
    sst = out["ocean/sst"].data
    assert isinstance(sst, pint.Quantity)
    # A difference of degC is in delta_degC (what differentiate's plain
    # degC/degrees_north cannot be converted to).
    assert sst.units == ureg.Unit("delta_degC/degrees_north")
    expected = q["ocean/sst"].differentiate("lat")
    np.testing.assert_allclose(sst.magnitude, expected.data.magnitude)
    assert out["ocean/theta"].data.units == expected_units(ureg, "K", q["lat"])
    assert "units" not in out["ocean/sst"].attrs


def expected_units(ureg, data_units, coord):
    return ureg.Unit(data_units) / coord.data.units
