"""The ``.grad`` accessor on xarray objects: names in, labelled results out."""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import coords as _coords
from .core import _period, differentiate, result_dtype
from .stencil import build_stencil

__all__ = ["DataArrayGrad", "DatasetGrad"]

# Attributes that stop being true of a derivative.
DROPPED_ATTRS = {
    "units",
    "long_name",
    "standard_name",
    "valid_min",
    "valid_max",
    "valid_range",
    "actual_range",
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "flag_values",
    "flag_masks",
    "flag_meanings",
    "ancillary_variables",
    "bounds",
    "positive",
}


EARTH_RADIUS = 6_371_008.8  # metres: the IUGG mean radius, as in MetPy


class _Plan:
    """One coordinate, resolved and turned into a stencil, once for all variables."""

    def __init__(self, obj, coord, edge_order, accuracy, periodic, datetime_unit, geo, radius):
        self.coord = _coords.resolve(obj, coord, datetime_unit)
        self.metric = None  # per-point factor (DataArray) applied after the stencil
        self.geo = bool(geo)
        if periodic is None:
            period = _coords.detect_period(self.coord)
        else:
            period = _period(periodic)
        try:
            self.stencil = build_stencil(
                self.coord.values,
                edge_order=edge_order,
                accuracy=accuracy,
                period=period,
                name=coord,
            )
        except ValueError as err:
            # Options errors do not name the coordinate on their own.
            if repr(coord) in str(err):
                raise
            raise ValueError(f"{err} (differentiating along {coord!r})") from None
        if geo:
            self._geo(obj, float(radius))

    def _geo(self, obj, radius):
        """Degrees -> metres on a sphere of `radius`.

        d/dy = 180 / (pi R) d/dlat and d/dx = 180 / (pi R cos(lat)) d/dlon
        (e.g. MetPy's ``lat_lon_grid_deltas``, or any text on spherical
        coordinates). A constant factor is folded into the weights; the
        longitude's cos(lat) factor is applied after, and is NaN at a pole,
        where a longitude derivative has no meaning.
        """
        c = self.coord
        if not radius > 0:
            raise ValueError(f"radius must be a positive number of metres, got {radius!r}")
        per_degree = np.pi * radius / 180.0
        if _coords.is_latitude(c.name, c.attrs):
            self.stencil = self.stencil.scaled(1.0 / per_degree)
        elif _coords.is_longitude(c.name, c.attrs):
            lat = _coords.find_latitude(obj, c.name)
            if c.dim in lat.dims:
                raise ValueError(
                    f"geo=True: latitude {lat.name!r} varies along {c.name!r}'s dimension "
                    f"{c.dim!r}; cannot take a longitude derivative on such a grid"
                )
            coslat = np.cos(np.deg2rad(lat.astype(np.float64)))
            pole = np.isclose(np.abs(lat.astype(np.float64)), 90.0, rtol=0, atol=1e-9)
            self.metric = (1.0 / (per_degree * coslat)).where(~pole)
        else:
            raise ValueError(
                f"geo=True needs a latitude or longitude, but {c.name!r} is neither "
                "(no units degrees_north/degrees_east, standard_name latitude/longitude, "
                "or a name like lat/lon); drop geo=True to differentiate per "
                f"{c.units or 'index step'}"
            )

    def apply(self, da: xr.DataArray, name=None) -> xr.DataArray:
        dim = self.coord.dim
        if dim not in da.dims:
            raise ValueError(
                f"{_label(da)} has no dimension {dim!r} (its dimensions are {da.dims}); "
                f"cannot differentiate it along {self.coord.name!r}"
            )
        result_dtype(da.dtype)  # a clear TypeError before any work
        data = differentiate(da.data, self.stencil, da.get_axis_num(dim))
        out = da.copy(deep=False, data=data)
        if self.metric is not None:
            missing = set(self.metric.dims) - set(da.dims)
            if missing:
                raise ValueError(
                    f"geo=True: {_label(da)} has no dimension {sorted(missing)} of the "
                    f"latitude {self.metric.name!r} that its longitude metric needs"
                )
            out = (out * self.metric.astype(out.dtype)).transpose(*da.dims)
            out.name = da.name
        out.attrs = self._attrs(da)
        out.encoding = {}
        if name is not None:
            out.name = name
        return out

    def _attrs(self, da):
        attrs = {k: v for k, v in da.attrs.items() if k not in DROPPED_ATTRS}
        if self.geo:  # CF style, as DESIGN.md asks: "K m-1"
            du = da.attrs.get("units")
            units = "m-1" if du is None or str(du).strip() in ("", "1") else f"{du} m-1"
        else:
            units = _per(da.attrs.get("units"), self.coord.units)
        if units is not None:
            attrs["units"] = units
        what = da.attrs.get("long_name") or da.attrs.get("standard_name") or da.name or "f"
        attrs["long_name"] = f"derivative of {what} with respect to {self.coord.name}"
        return attrs


def _label(da):
    return f"variable {da.name!r}" if da.name is not None else "the DataArray"


def _per(data_units, coord_units):
    """'<data units>/<coord units>' in a form udunits and pint both parse."""
    if data_units is None:
        return None
    data_units = str(data_units).strip()
    if coord_units is None or str(coord_units).strip() in ("", "1"):
        return data_units
    def group(u):
        u = str(u).strip()
        return f"({u})" if any(c in u for c in " /*^") else u
    if data_units in ("", "1"):
        return f"1/{group(coord_units)}"
    return f"{group(data_units)}/{group(coord_units)}"


def _names(coord):
    if isinstance(coord, str):
        return None
    names = list(coord)
    if not names:
        raise ValueError("no coordinate given: pass a name or a list of names")
    return names


_PARAMS_DOC = """
    Parameters
    ----------
    coord : str or list of str
        A dimension name or the name of a 1-D coordinate (a non-dimension
        coordinate such as ``level_height`` is allowed). A dimension without
        a coordinate is differentiated per index step.
    edge_order : {1, 2}, default 1
        Accuracy of the one-sided differences at the ends (as ``numpy.gradient``;
        used with accuracy=2).
    accuracy : {2, 4, 6}, default 2
        Order of the interior stencil, from Fornberg weights on the actual,
        nonuniform coordinate values; for accuracy > 2 the ends use one-sided
        stencils of the same order.
    periodic : None, bool or float, default None
        ``None`` wraps a longitude that goes round the globe (CF units
        ``degrees_east``, ``standard_name: longitude`` or a name like
        ``lon``); ``True`` wraps with period 360; a number wraps with that
        period; ``False`` never wraps.
    geo : bool, default False
        Differentiate per metre on the sphere: along a latitude,
        d/dy = 180 / (pi R) d/dlat; along a longitude, d/dx = 180 / (pi R
        cos(lat)) d/dlon with lat from the object's latitude coordinate (NaN
        at the poles). Units become ``"<data units> m-1"``.
    radius : float, default 6371008.8
        Sphere radius in metres for `geo`.
    datetime_unit : str, default "s"
        Unit of time for datetime64 and cftime coordinates: one of "W", "D",
        "h", "m", "s", "ms", "us", "ns".
"""


class _Grad:
    def __init__(self, obj):
        self._obj = obj

    def _plans(self, names, *options):
        return [_Plan(self._obj, c, *options) for c in names]


@xr.register_dataarray_accessor("grad")
class DataArrayGrad(_Grad):
    """Derivatives of a DataArray along named coordinates: ``da.grad("lat")``."""

    def __call__(
        self,
        coord,
        *,
        edge_order=1,
        accuracy=2,
        periodic=None,
        geo=False,
        radius=EARTH_RADIUS,
        datetime_unit="s",
    ):
        names = _names(coord)
        options = (edge_order, accuracy, periodic, datetime_unit, geo, radius)
        plans = self._plans(names or [coord], *options)
        da = self._obj
        if names is None:
            return plans[0].apply(da)
        base = da.name if da.name is not None else "f"
        return xr.Dataset(
            {f"d{base}_d{p.coord.name}": p.apply(da, name=f"d{base}_d{p.coord.name}") for p in plans}
        )

    __call__.__doc__ = (
        """Derivative along a named coordinate, using its values as the spacing.
"""
        + _PARAMS_DOC
        + """
    Returns
    -------
    DataArray or Dataset
        For one name, a DataArray with the same dims, coords and name; for a
        list, a Dataset with one variable ``d{name}_d{coord}`` per coordinate.
        Dask-backed input stays lazy. ``units`` is ``"<data units>/<coord
        units>"`` and ``long_name`` says what was differentiated.

    Raises
    ------
    KeyError, ValueError
        Unknown name; repeated, non-monotonic or too few coordinate values;
        `edge_order` or `accuracy` out of range. The message names the
        coordinate.
    TypeError
        Non-numeric coordinate or data.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> depth = xr.DataArray([0.0, 10.0, 30.0, 60.0], dims="depth", attrs={"units": "m"})
    >>> theta = xr.DataArray(20 - 0.1 * depth**1.5, coords={"depth": depth},
    ...                      name="theta", attrs={"units": "degC"})
    >>> dtheta = theta.grad("depth")
    >>> dtheta.attrs["units"]
    'degC/m'
    >>> bool(np.allclose(dtheta, np.gradient(theta, depth)))
    True
    """
    )


@xr.register_dataset_accessor("grad")
class DatasetGrad(_Grad):
    """Derivatives of every variable of a Dataset: ``ds.grad("lat")``."""

    def __call__(
        self,
        coord,
        *,
        edge_order=1,
        accuracy=2,
        periodic=None,
        geo=False,
        radius=EARTH_RADIUS,
        datetime_unit="s",
    ):
        names = _names(coord)
        options = (edge_order, accuracy, periodic, datetime_unit, geo, radius)
        plans = self._plans(names or [coord], *options)
        ds = self._obj
        out = {}
        for plan in plans:
            for name in _differentiable(ds, plan.coord.dim):
                key = name if names is None else f"d{name}_d{plan.coord.name}"
                out[key] = plan.apply(ds[name], name=key)
        return xr.Dataset(out, coords=ds.coords, attrs=ds.attrs)

    __call__.__doc__ = (
        """Derivative of every numeric data variable along a named coordinate.
"""
        + _PARAMS_DOC
        + """
    Returns
    -------
    Dataset
        For one name, the derivative of every numeric data variable that has
        the coordinate's dimension, under its own name; for a list, variables
        ``d{var}_d{coord}``. Variables without that dimension, non-numeric
        variables (e.g. cftime ``time_bnds``) and CF cell bounds are dropped.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> ds = xr.Dataset({"t": ("lat", [1.0, 2.0, 4.0]), "c": ((), 3.0)},
    ...                 coords={"lat": [0.0, 1.0, 3.0]})
    >>> ds.grad("lat")
    <xarray.Dataset> Size: 48B
    Dimensions:  (lat: 3)
    Coordinates:
      * lat      (lat) float64 24B 0.0 1.0 3.0
    Data variables:
        t        (lat) float64 24B 1.0 1.0 1.0
    """
    )


def _differentiable(ds, dim):
    bounds = {ds[v].attrs.get(k) for v in ds.variables for k in ("bounds", "climatology")}
    for name, var in ds.data_vars.items():
        if dim in var.dims and var.dtype.kind in "biufc" and name not in bounds:
            yield name
