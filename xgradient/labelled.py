"""Derivatives of labelled arrays: a named coordinate in, a DataArray out.

The accessor (``.grad``) and the vector-calculus operators both go through
:class:`Derivative`, which resolves the coordinate, builds its stencil once and
applies it to any number of variables, with metadata.
"""

from __future__ import annotations

import contextlib

import numpy as np
import xarray as xr

from . import coords as _coords
from . import units as _units
from .core import differentiate, result_dtype
from .options import EARTH_RADIUS, Options, takes_options
from .stencil import build_stencil

__all__ = [
    "EARTH_RADIUS",
    "Derivative",
    "NameClash",
    "called",
    "differentiable_vars",
    "not_differentiable",
    "output_names",
    "skipped_vars",
    "which_variable",
]

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


@takes_options()
class Derivative:
    """One coordinate, resolved and turned into a stencil, once for all variables.

    Parameters
    ----------
    obj : DataArray or Dataset
        Where to find the coordinate (and, for ``geo``, the latitude).
    coord : str
        Dimension or 1-D coordinate name.
    order : {1, 2}
        First or second derivative.
    %(options)s

    Examples
    --------
    >>> import xarray as xr
    >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x", coords={"x": [0, 1, 2, 3]})
    >>> Derivative(da, "x", order=2).apply(da).values
    array([2., 2., 2., 2.])
    """

    def __init__(self, obj, coord, *, order=1, **options):
        with _naming(coord):
            self.options = options = Options(**options)
        # pint quantities as coordinates: numbers and a units attribute from
        # here on; their pint unit is kept for quantified results.
        obj, quantified = _units.plain_coords(obj)
        if options.geo:
            _check_latitudes(obj)
        self.coord = _coords.resolve(obj, coord, options.datetime_unit)
        self.coord_quantity_units = quantified.get(self.coord.name)
        self.metric = None  # per-point factor (DataArray) the results are multiplied by
        self.geo = options.geo
        self.order = order
        self.skipna = options.skipna
        if options.periodic is None:
            period = _coords.detect_period(self.coord, _full_turn(self.coord))
        elif options.periodic is True:
            period = _full_turn(self.coord)  # a longitude in radians turns in 2 pi
        else:
            period = options.period
        # Options errors do not name the coordinate on their own.
        with _naming(coord, unless_named=True):
            self.stencil = build_stencil(
                self.coord.values,
                order=order,
                edge_order=options.edge_order,
                accuracy=options.accuracy,
                period=period,
                name=coord,
            )
        if options.geo:
            self._geo(obj, options.radius)

    def _geo(self, obj, radius):
        """Angles -> metres on the sphere (or ellipsoid) of the radius rule.

        d/dy = 180 / (pi R) d/dlat and d/dx = 180 / (pi R cos(lat)) d/dlon
        for angles in degrees (1 / R and 1 / (R cos(lat)) in radians), e.g.
        MetPy's ``lat_lon_grid_deltas`` or any text on spherical coordinates.
        R is `radius` when given, else the object's CF grid mapping's
        (``earth_radius`` or ``semi_major_axis``), else EARTH_RADIUS; on a
        grid mapping's ellipsoid, the meridional and prime-vertical radii of
        curvature M(lat) and N(lat) replace R in the two formulas.
        A constant factor is folded into the weights; the longitude's
        cos(lat) factor is applied by the kernel as each result is written (after
        the gap filling with skipna), and is NaN at a pole, where a
        longitude derivative has no meaning.
        """
        c = self.coord
        a, b = self.earth = _coords.earth_shape(obj, radius, EARTH_RADIUS)
        if a != b and self.order != 1:
            raise ValueError(
                f"geo=True: second derivatives along {c.name!r} on the ellipsoid of the "
                f"grid mapping (semi-axes {a:g}, {b:g} m) are not supported; pass "
                "radius=... to work on a sphere"
            )
        if _coords.is_latitude(c.name, c.attrs):
            rad = _units.radians_per_unit(c.name, c.units)
            if a == b:
                self.stencil = self.stencil.scaled((a * rad) ** -self.order)  # metres per unit
            else:
                M, _ = _coords.radii_of_curvature(c.values * rad, a, b)
                self.metric = xr.DataArray(1.0 / (M * rad), dims=(c.dim,), name=c.name)
        elif _coords.is_longitude(c.name, c.attrs):
            self._geo_obj = obj
            self._rad = _units.radians_per_unit(c.name, c.units)
            self._metrics = {}
            if isinstance(obj, xr.Dataset):
                # The latitude is each variable's own (MOM: yt_ocean for
                # temp, yu_ocean for u); one must exist for some variable.
                errors = []
                for var in obj.data_vars.values():
                    if c.dim in var.dims:
                        try:
                            self.metric = self._longitude_metric(var.dims)
                            break
                        except ValueError as err:
                            errors.append(err)
                else:
                    if errors:
                        raise errors[0]
                    self.metric = self._longitude_metric(obj.dims)
            else:
                self.metric = self._longitude_metric(obj.dims)
        else:
            raise ValueError(
                f"geo=True needs a latitude or longitude, but {c.name!r} is neither "
                "(no units degrees_north/degrees_east, standard_name latitude/longitude, "
                "or a name like lat/lon); drop geo=True to differentiate per "
                f"{c.units or 'index step'}"
            )

    def _longitude_metric(self, dims):
        """1 / (N cos(lat)) per unit of longitude, from the latitude on `dims`."""
        key = tuple(sorted(map(str, dims)))
        if key in self._metrics:
            return self._metrics[key]
        c = self.coord
        lat = _coords.find_latitude(self._geo_obj, c.name, dims=dims)
        if c.dim in lat.dims:
            raise ValueError(
                f"geo=True: latitude {lat.name!r} varies along {c.name!r}'s dimension "
                f"{c.dim!r}; cannot take a longitude derivative on such a grid "
                "(da.grad.horizontal() differentiates on curvilinear grids)"
            )
        a, b = self.earth
        phi = lat.astype(np.float64) * _units.radians_per_unit(lat.name, lat.attrs.get("units"))
        pole = np.isclose(np.abs(phi), np.pi / 2, rtol=0, atol=1e-11)
        if a == b:
            per_unit = a * self._rad * np.cos(phi)  # metres per unit
        else:
            _, N = _coords.radii_of_curvature(phi, a, b)
            per_unit = N * self._rad * np.cos(phi)
        metric = (per_unit ** -self.order).where(~pole)
        self._metrics[key] = metric
        return metric

    def tan_lat_over_n(self):
        """tan(lat) / N(lat) at the points of this ``geo=True`` derivative's
        latitude (float64 numpy, NaN at a pole): the metric term of the
        divergence and vorticity, in the latitude's own units.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> lat = xr.DataArray([0.0, 45.0], dims="lat", name="lat", attrs={"units": "degrees_north"})
        >>> d = Derivative(lat.to_dataset(name="f").assign_coords(lat=lat), "lat", geo=True, radius=2.0)
        >>> d.tan_lat_over_n()
        array([0. , 0.5])
        """
        c = self.coord
        return _coords.tan_lat_over_n(c.values * _units.radians_per_unit(c.name, c.units), *self.earth)

    def apply(self, da: xr.DataArray, name=None) -> xr.DataArray:
        """The derivative of `da` (numpy, dask or a pint Quantity of either), named `name`."""
        if _units.is_quantity(da.data):
            coord_units = self.coord_quantity_units
            per = _units.per_unit(
                da.data,
                self.coord.units if coord_units is None else coord_units,
                self.order,
                self.geo,
            )
            return _units.through_magnitude(da, lambda plain: self.apply(plain, name), per)
        dim = self.coord.dim
        if dim not in da.dims:
            raise ValueError(
                f"{which_variable(da)} has no dimension {dim!r} (its dimensions are {da.dims}); "
                f"cannot differentiate it along {self.coord.name!r}"
            )
        result_dtype(da.dtype)  # a clear TypeError before any work
        axis = da.get_axis_num(dim)
        factor = None if self.metric is None else self._metric_factor(da)
        if (
            factor is not None
            and not self.skipna
            and isinstance(factor, np.ndarray)
            and factor.shape[axis] == 1  # the kernel's scale is constant along the axis
        ):
            # Applied by the kernel as each result is written: no second pass.
            data = differentiate(da.data, self.stencil, axis, scale=factor)
        else:
            data = differentiate(da.data, self.stencil, axis, skipna=self.skipna)
            if factor is not None:
                data = self._times(data, factor)
        out = da.copy(deep=False, data=data)
        out.attrs = self._attrs(da)
        out.encoding = {}
        if name is not None:
            out.name = name
        return out

    def _metric_factor(self, da):
        """The per-latitude metric, float64, shaped to broadcast against `da`."""
        m = self.metric
        if getattr(self, "_metrics", None) is not None and isinstance(self._geo_obj, xr.Dataset):
            m = self._longitude_metric(da.dims)  # the variable's own latitude
        missing = set(m.dims) - set(da.dims)
        if missing:
            raise ValueError(
                f"geo=True: {which_variable(da)} has no dimension {sorted(missing)} of the "
                f"latitude {m.name!r} that its longitude metric needs"
            )
        factor = m.transpose(*[d for d in da.dims if d in m.dims]).data
        return factor.reshape([da.sizes[d] if d in m.dims else 1 for d in da.dims])

    @staticmethod
    def _times(data, factor):
        """`data` times `factor` (with skipna), in place if numpy."""
        factor = factor.astype(data.dtype)
        if isinstance(data, np.ndarray):
            return np.multiply(data, np.asarray(factor), out=data)
        from .chunked import like_chunks

        return data * like_chunks(factor, data)

    def _attrs(self, da):
        attrs = {k: v for k, v in da.attrs.items() if k not in DROPPED_ATTRS}
        units = _units.per(da.attrs.get("units"), self.coord.units, self.order, self.geo)
        if units is not None:
            attrs["units"] = units
        which = "derivative" if self.order == 1 else "second derivative"
        attrs["long_name"] = f"{which} of {called(da)} with respect to {self.coord.name}"
        return attrs


@contextlib.contextmanager
def _naming(coord, unless_named=False):
    """A ValueError raised inside says which coordinate it is about."""
    try:
        yield
    except ValueError as err:
        if unless_named and repr(coord) in str(err):
            raise
        raise ValueError(f"{err} (differentiating along {coord!r})") from None


def _full_turn(coord) -> float:
    """A turn in the units of `coord`: 2 pi for radians, else 360 (degrees,
    or units that are no angle: only a longitude is ever wrapped)."""
    try:
        return 2 * np.pi / _units.radians_per_unit(coord.name, coord.units)
    except ValueError:
        return 360.0


def _check_latitudes(obj):
    """Every latitude coordinate of `obj` within +-90 degrees: beyond, cos(lat) < 0
    would flip the sign of a longitude derivative per metre."""
    for name in obj.coords:
        var = obj.coords[name]
        if not _coords.is_latitude(name, var.attrs) or var.dtype.kind not in "iuf":
            continue
        try:
            rad = _units.radians_per_unit(name, var.attrs.get("units"))
        except ValueError:
            continue  # not an angle: the geo code says so if it is used
        values = np.abs(np.asarray(var.values, dtype=np.float64)) * rad
        beyond = np.flatnonzero(values > np.pi / 2 * (1 + 1e-12))
        if beyond.size:
            i = tuple(int(k) for k in np.unravel_index(beyond[0], var.shape))
            at = i[0] if len(i) == 1 else i
            raise ValueError(
                f"geo=True: latitude {name!r} is {float(var.values[i]):g} at index {at}, beyond "
                "+-90 degrees; a latitude must lie between the poles (a fill value the file "
                "does not declare as _FillValue or missing_value?)"
            )


def which_variable(da) -> str:
    """How an error message names `da`: ``variable 'T'``, or ``the DataArray`` when unnamed.

    Examples
    --------
    >>> import xarray as xr
    >>> which_variable(xr.DataArray([1.0], name="T")), which_variable(xr.DataArray([1.0]))
    ("variable 'T'", 'the DataArray')
    """
    return f"variable {da.name!r}" if da.name is not None else "the DataArray"


def called(da) -> str:
    """What a result's ``long_name`` calls `da`: its long_name, standard_name or name, else ``f``.

    Examples
    --------
    >>> import xarray as xr
    >>> called(xr.DataArray([1.0], name="T", attrs={"standard_name": "air_temperature"}))
    'air_temperature'
    >>> called(xr.DataArray([1.0]))
    'f'
    """
    return da.attrs.get("long_name") or da.attrs.get("standard_name") or da.name or "f"


def differentiable_vars(ds, dim):
    """Names of the data variables along `dim` that have a derivative.

    Left out (see :func:`skipped_vars` for why): non-numeric and boolean
    variables (masks: numpy and xarray refuse to differentiate booleans), CF
    flag variables (``flag_values``, ``flag_masks``, ``flag_meanings``), CF
    grid-mapping variables (named by a ``grid_mapping`` attribute, or with a
    ``grid_mapping_name``: after ``open_mfdataset`` they may have gained a
    time dimension) and CF cell bounds.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"t": ("x", [1.0, 2.0], {"grid_mapping": "crs"}),
    ...                  "land": ("x", [True, False]),
    ...                  "crs": ("x", [0, 0], {"grid_mapping_name": "latitude_longitude"})})
    >>> list(differentiable_vars(ds, "x"))
    ['t']
    """
    skipped = skipped_vars(ds, dim)
    for name, var in ds.data_vars.items():
        if dim in var.dims and name not in skipped:
            yield name


def skipped_vars(ds, dim) -> dict:
    """The data variables along `dim` that :func:`differentiable_vars` leaves
    out, each with the reason, in the user's words.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"t": ("x", [1.0, 2.0]), "land": ("x", [True, False])})
    >>> skipped_vars(ds, "x")
    {'land': 'boolean'}
    """
    bounds = {ds[v].attrs.get(k) for v in ds.variables for k in ("bounds", "climatology")}
    bounds |= {ds[v].encoding.get(k) for v in ds.variables for k in ("bounds", "climatology")}
    mappings = set()
    for v in ds.variables:
        for where in (ds[v].attrs, ds[v].encoding):
            mappings |= _grid_mapping_names(where.get("grid_mapping"))
    why = {}
    for name, var in ds.data_vars.items():
        if dim not in var.dims:
            continue
        reason = not_differentiable(var)
        if reason:
            why[name] = reason
        elif any(k in var.attrs for k in ("flag_values", "flag_masks", "flag_meanings")):
            why[name] = "a flag variable"
        elif name in mappings or "grid_mapping_name" in var.attrs:
            why[name] = "a grid mapping"
        elif name in bounds:
            why[name] = "cell bounds"
    return why


def _grid_mapping_names(attr) -> set:
    """Variables named by a CF ``grid_mapping`` attribute: ``"crs"``, or the
    extended form ``"crsOSGB: x y crsWGS84: lat lon"``."""
    if not isinstance(attr, str):
        return set()
    words = attr.split()
    if any(w.endswith(":") for w in words):
        return {w[:-1] for w in words if w.endswith(":")}
    return set(words)


def not_differentiable(var):
    """Why the dtype of `var` has no derivative (``"boolean"``, ``"not numbers ..."``), or None.

    The one rule on data types: booleans (masks: numpy and xarray refuse to
    differentiate them) and anything that is not a number are left out;
    integers, floats and complex numbers are differentiated.

    Examples
    --------
    >>> import numpy as np
    >>> not_differentiable(np.array([True])), not_differentiable(np.array(["a"]))
    ('boolean', 'not numbers (dtype <U1)')
    >>> not_differentiable(np.array([1 + 2j])) is None
    True
    """
    kind = var.dtype.kind
    if kind == "b":
        return "boolean"
    if kind not in "iufc":
        return f"not numbers (dtype {var.dtype})"
    return None


class NameClash(ValueError):
    """Two derivatives, or a derivative and a coordinate, would have one name.

    ``key`` is the name; ``pair`` the (variable, coordinate) whose derivative
    it is; ``other`` the earlier pair with the same name, or None when the
    name is a coordinate's.
    """

    def __init__(self, message, key, pair, other=None):
        super().__init__(message)
        self.key, self.pair, self.other = key, pair, other


def output_names(pairs, coords):
    """``d{var}_d{coord}`` for each (var, coord) pair, refusing two of one name.

    Distinct pairs can meet (variables ``a_dx`` and ``a`` along ``y`` and
    ``x_dy`` both give ``da_dx_dy``): one derivative would be lost without
    a word. `coords` are names the result already holds. Both ``.grad`` and
    ``xgradient.files`` name their derivatives here.

    Raises
    ------
    NameClash
        A ValueError saying which two derivatives (or which derivative and
        coordinate) would share a name, with the advice for ``.grad``.

    Examples
    --------
    >>> output_names([("t", "lat"), ("t", "lon")], coords=["lat", "lon"])
    ['dt_dlat', 'dt_dlon']
    >>> output_names([("a_dx", "y"), ("a", "x_dy")], coords=[])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xgradient.labelled.NameClash: the derivatives of 'a_dx' along 'y' and of 'a' along 'x_dy' would both be named ...
    """
    made = {}
    for var, c in pairs:
        key = f"d{var}_d{c}"
        if key in made:
            (v0, c0) = made[key]
            raise NameClash(
                f"the derivatives of {v0!r} along {c0!r} and of {var!r} along {c!r} would both "
                f"be named {key!r}; rename a variable or a coordinate first (.rename), or "
                "differentiate them in separate calls",
                key,
                (var, c),
                (v0, c0),
            )
        if key in coords:
            raise NameClash(
                f"the derivative of {var!r} along {c!r} would be named {key!r}, which is "
                "already a coordinate; rename one of them first (.rename)",
                key,
                (var, c),
            )
        made[key] = (var, c)
    return list(made)
