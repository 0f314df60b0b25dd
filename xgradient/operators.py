"""Vector-calculus operators on labelled grids: Hessian, Laplacian, divergence, vorticity.

Everything here is built from :class:`~xgradient.labelled.Derivative`, so the
numbers come from the same stencils as ``.grad``:

- a pure second derivative (``d2f/dx2``) is one application of the direct
  nonuniform second-derivative stencil (``Derivative(..., order=2)``), not a
  first derivative applied twice;
- a mixed derivative (``d2f/dxdy``) is two first derivatives, one along each
  coordinate, composed;
- ``geo=True`` works per metre on a sphere and adds the metric terms of
  spherical coordinates (see :func:`divergence`, :func:`vorticity`,
  :func:`laplacian` and ``docs/operators.md`` for the formulas and sources).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from . import coords as _coords
from . import units as _units
from .labelled import Derivative, called, which_variable
from .options import DEFAULTS, takes_options

__all__ = ["divergence", "hessian", "laplacian", "vorticity"]

# What the operators do differently with the shared options.
_OPTION_NOTES = {
    "notes": {
        "accuracy": "Second-derivative stencils have ``accuracy + 1`` points everywhere, "
        "so they are one order less accurate at the two ends of a non-periodic coordinate.",
        "periodic": "Applied to every coordinate. A dict maps coordinate names to such "
        'values (missing names get ``None``), e.g. ``{"lon": True}``; use it rather than '
        "``periodic=True`` on a lat/lon grid, which would wrap the latitude too.",
        "geo": "The coordinates must be a latitude and a longitude, and the spherical "
        "metric terms are included (see Notes).",
    },
    "kinds": {"periodic": "None, bool, float or dict, default None"},
}


# ---------------------------------------------------------------------------
# Shared plumbing


def _periodic_for(periodic, coord, known):
    if isinstance(periodic, Mapping):
        unknown = sorted(set(map(str, periodic)) - set(map(str, known)))
        if unknown:
            raise ValueError(
                f"periodic names {unknown}, which are not among the coordinates "
                f"differentiated along ({list(known)})"
            )
        return periodic.get(coord)
    return periodic


class _Derivatives:
    """Derivatives along several coordinates of one object, built once each.

    `options` are the shared options as given; ``periodic`` may be a dict of
    coordinate name -> value.
    """

    def __init__(self, obj, names, options):
        names = list(names)
        if not names:
            raise ValueError("no coordinate given: pass a list of coordinate names")
        self.obj = obj
        self.names = names
        periodic = options.get("periodic", DEFAULTS["periodic"])
        self.options = {k: v for k, v in options.items() if k != "periodic"}
        self.periodic = {c: _periodic_for(periodic, c, names) for c in names}
        self._cache = {}
        dims = {}
        for c in names:
            d = self.get(c, 1).coord.dim
            if d in dims:
                what = (
                    "is given twice"
                    if dims[d] == c
                    else f"and {dims[d]!r} both run along {d!r}"
                )
                raise ValueError(
                    f"coordinate {c!r} {what}; the coordinates of an operator must "
                    "run along different dimensions"
                )
            dims[d] = c
        self.geo = self.get(names[0], 1).geo  # validated

    def get(self, coord, order) -> Derivative:
        key = (coord, order)
        if key not in self._cache:
            self._cache[key] = Derivative(
                self.obj,
                coord,
                order=order,
                periodic=self.periodic[coord],
                **self.options,
            )
        return self._cache[key]


def _equal_values(a, b):
    try:
        return bool(np.all(a == b)) and np.shape(a) == np.shape(b)
    except Exception:  # noqa: BLE001 - incomparable attribute values are not the same
        return False


def _common_attrs(*arrays):
    first, *rest = arrays
    return {
        k: v
        for k, v in first.attrs.items()
        if k not in ("units", "long_name")
        and all(k in r.attrs and _equal_values(r.attrs[k], v) for r in rest)
    }


def _finish(result, like, name, attrs, units, long_name):
    result = result.transpose(*like.dims, ...)
    result.name = name
    attrs = dict(attrs)
    if units is not None:
        attrs["units"] = units
    attrs["long_name"] = long_name
    result.attrs = attrs
    result.encoding = {}
    return result


def _tan_lat_over_radius(derivative: Derivative, like):
    """tan(lat) / R along the latitude `derivative` differentiates, NaN at a pole.

    R is the derivative's radius (on an ellipsoid, the prime-vertical radius of
    curvature N(lat): d(N cos(lat))/dlat = -M sin(lat) makes the metric
    term of the divergence and vorticity v tan(lat) / N).

    The spherical metric terms all carry tan(lat) / R; at +-90 degrees tan is
    not inf but ~1.6e16 in floating point, so the pole is masked explicitly
    (the longitude terms there are NaN too: dx = R cos(lat) dlon is 0).
    In the dtype of `like`, and per metre when `like` is a pint quantity.
    """
    c = derivative.coord
    t = derivative.tan_lat_over_n()
    from .chunked import unify

    t, _ = unify(xr.DataArray(t.astype(like.dtype), dims=(c.dim,)), like)
    return _units.with_units_of(t, like, "1/m")


def _product(a, b):
    """a * b, dask operands first given common chunks (:func:`xgradient.chunked.unify`)."""
    from .chunked import unify

    a, b = unify(a, b)
    return a * b


def _geo_pair(derivatives, x, y):
    """Check that, for geo=True, x is a longitude and y a latitude."""
    cx, cy = derivatives.get(x, 1).coord, derivatives.get(y, 1).coord
    if not _coords.is_longitude(cx.name, cx.attrs):
        raise ValueError(
            f"geo=True needs x to be a longitude, but {x!r} is not one (no units "
            "degrees_east, standard_name longitude or a name like lon)"
        )
    if not _coords.is_latitude(cy.name, cy.attrs):
        raise ValueError(
            f"geo=True needs y to be a latitude, but {y!r} is not one (no units "
            "degrees_north, standard_name latitude or a name like lat)"
        )


def _check_dataarray(da, what):
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"{what} takes a DataArray, got {type(da).__name__}")


# ---------------------------------------------------------------------------
# Second derivatives of a scalar


@takes_options(**_OPTION_NOTES)
def hessian(da, coords, **options):
    """Second partial derivatives of a DataArray along several coordinates.

    Parameters
    ----------
    da : DataArray
        The field.
    coords : list of str
        Dimension or 1-D coordinate names, each along a different dimension.
    %(options)s

    Returns
    -------
    Dataset
        One variable ``d2{name}_d{c1}d{c2}`` for each pair ``c1 <= c2`` in the
        order given (``name`` is the DataArray's name, ``"f"`` when it has
        none): for ``["lat", "lon"]``, ``d2T_dlatdlat``, ``d2T_dlatdlon`` and
        ``d2T_dlondlon``. Each has the dims and coords of `da`, ``units``
        (e.g. ``"K/m^2"``, ``"(K/degrees_north)/degrees_east"``, ``"K m-2"``
        with geo) and a ``long_name``. Dask input stays lazy.

    Raises
    ------
    KeyError, ValueError
        An unknown or repeated coordinate, two coordinates along the same
        dimension, too few points, options out of range, or with `geo` a
        coordinate that is not a latitude or longitude.

    Notes
    -----
    The pure terms use the direct nonuniform second-derivative stencil
    (Fornberg weights with ``accuracy + 1`` points); the mixed terms compose
    two first derivatives.

    With ``geo=True`` every term is the coordinate second partial derivative
    scaled to metres, with phi the latitude and lambda the longitude in
    radians:

    - ``d2f_dlatdlat = (1/R^2) d2f/dphi2``
    - ``d2f_dlondlon = 1/(R cos phi)^2 d2f/dlambda2``
    - ``d2f_dlatdlon = 1/(R^2 cos phi) d2f/dphi dlambda``, computed as
      d/dx (df/dy): the latitude derivative first, then the longitude one,
      so that the factor 1/cos(phi) is not differentiated.

    These are not the components of the covariant Hessian on the sphere,
    which adds Christoffel terms: in the local east/north frame
    ``H_xx = d2f_dlondlon - tan(phi)/R df/dy``, ``H_xy = d2f_dlatdlon +
    tan(phi)/R df/dx`` and ``H_yy = d2f_dlatdlat``. Its trace is
    :func:`laplacian` with ``geo=True``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> x = np.array([0.0, 0.5, 1.5, 2.0, 3.0])
    >>> y = np.array([0.0, 1.0, 2.0, 4.0])
    >>> f = xr.DataArray(np.outer(y**2, x), coords={"y": y, "x": x}, dims=("y", "x"), name="f")
    >>> h = xgradient.operators.hessian(f, ["x", "y"])
    >>> list(h)
    ['d2f_dxdx', 'd2f_dxdy', 'd2f_dydy']
    >>> h.d2f_dydy.values[:, 2]  # d2(x y^2)/dy2 = 2x = 3, exact for a quadratic
    array([3., 3., 3., 3.])
    >>> h.d2f_dxdy.values[1:-1, 2]  # 2y in the interior
    array([2., 4.])
    """
    _check_dataarray(da, "hessian")
    names = [coords] if isinstance(coords, str) else list(coords)
    derivatives = _Derivatives(da, names, options)
    geo = derivatives.geo
    base = da.name if da.name is not None else "f"
    out = {}
    for i, c1 in enumerate(names):
        for c2 in names[i:]:
            key = f"d2{base}_d{c1}d{c2}"
            if c1 == c2:
                out[key] = derivatives.get(c1, 2).apply(da, name=key)
            else:
                out[key] = _mixed(da, derivatives, c1, c2, key, geo)
    return xr.Dataset(out)


def _mixed(da, derivatives, c1, c2, key, geo):
    first, second = derivatives.get(c1, 1), derivatives.get(c2, 1)
    if geo and first.metric is not None:
        # A longitude derivative goes last, so its 1/cos(lat) factor is not
        # differentiated along the latitude (see hessian's Notes).
        first, second = second, first
    result = second.apply(first.apply(da))
    units = _units.mixed_units(
        da.attrs.get("units"), first.coord.units, second.coord.units, geo
    )
    return _finish(
        result,
        da,
        key,
        _common_attrs(result),
        units,
        f"second derivative of {called(da)} with respect to {c1} and {c2}",
    )


@takes_options(**_OPTION_NOTES)
def laplacian(da, coords, **options):
    """Laplacian of a DataArray over several coordinates.

    Parameters
    ----------
    da, coords
        As for :func:`hessian`; with `geo`, `coords` are a latitude and a
        longitude.
    %(options)s

    Returns
    -------
    DataArray
        Dims, coords and name of `da`, with ``units`` (e.g. ``"K/m^2"``,
        ``"K m-2"`` with geo; none, with a warning, when the coordinates
        have different units) and a ``long_name``. Dask input stays lazy.

    Raises
    ------
    KeyError, ValueError
        As for :func:`hessian`.

    Notes
    -----
    Without `geo`, the sum of the pure second derivatives, each from the
    direct nonuniform second-derivative stencil. With ``geo=True``, the
    Laplace-Beltrami operator on a sphere of radius R, with phi the latitude
    and lambda the longitude in radians::

        (1/R^2) (d2f/dphi2 - tan(phi) df/dphi) + 1/(R cos phi)^2 d2f/dlambda2

    (e.g. Arfken, Weber & Harris, *Mathematical Methods for Physicists*,
    spherical polar coordinates with colatitude theta = 90 deg - phi). Given
    only a latitude, the first term alone (the Laplacian of a zonally
    symmetric field). NaN at a pole.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> x = np.array([0.0, 0.5, 1.5, 2.0, 3.0])
    >>> y = np.array([0.0, 1.0, 2.0, 4.0])
    >>> f = xr.DataArray(np.add.outer(y**2, x**2), coords={"y": y, "x": x},
    ...                  dims=("y", "x"), name="f", attrs={"units": "K"})
    >>> lap = xgradient.operators.laplacian(f, ["y", "x"])
    >>> lap.values[0]  # 2 + 2, exact for quadratics
    array([4., 4., 4., 4., 4.])
    >>> lap.attrs["units"]
    'K'
    """
    _check_dataarray(da, "laplacian")
    names = [coords] if isinstance(coords, str) else list(coords)
    derivatives = _Derivatives(da, names, options)
    geo = derivatives.geo
    terms = [derivatives.get(c, 2).apply(da) for c in names]
    if geo:
        lats = [c for c in names if _coords.is_latitude(c, derivatives.get(c, 1).coord.attrs)]
        if len(lats) > 1:
            raise ValueError(f"geo=True: several latitudes {lats} among {names}")
        if lats:
            dfdy = derivatives.get(lats[0], 1).apply(da)
            terms.append(
                -_tan_lat_over_radius(derivatives.get(lats[0], 1), dfdy) * dfdy
            )
    result = _units.add(terms, f"laplacian of {which_variable(da)}")
    units = _units.sum_units(
        [da.attrs.get("units")] * len(names),
        [derivatives.get(c, 1).coord.units for c in names],
        2,
        geo,
        f"laplacian of {which_variable(da)}",
    )
    where = "on the sphere" if geo else f"over ({', '.join(names)})"
    return _finish(
        result,
        da,
        da.name,
        _common_attrs(terms[0]),
        units,
        f"Laplacian of {called(da)} {where}",
    )


# ---------------------------------------------------------------------------
# Divergence and vorticity of a horizontal vector


def _find_axis(ds, var, which, geo):
    """The 1-D coordinate of `ds` along a dimension of `var` that is the x (or y) axis."""
    is_angle = _coords.is_longitude if which == "x" else _coords.is_latitude
    axis = which.upper()
    angle = "longitude" if which == "x" else "latitude"
    dims = set(ds[var].dims)
    found = []
    for name, c in ds.coords.items():
        if c.ndim != 1 or c.dims[0] not in dims:
            continue
        if is_angle(name, c.attrs) or (
            not geo and str(c.attrs.get("axis", "")).upper() == axis
        ):
            found.append(str(name))
    if len(found) == 1:
        return found[0]
    if not found:
        what = f"a {angle}" if geo else f"a {angle} or a coordinate with axis: {axis}"
        raise ValueError(
            f"cannot find the {which} coordinate of {var!r}: none of its coordinates "
            f"{sorted(str(c) for c in ds[var].coords)} is {what} "
            f"(units degrees_{'east' if which == 'x' else 'north'}, standard_name "
            f"{angle}, or a name like {'lon' if which == 'x' else 'lat'}); pass {which}=..."
        )
    raise ValueError(
        f"several candidates for the {which} coordinate of {var!r}: {found}; pass {which}=..."
    )


def _vector_setup(ds, u, v, x, y, geo, options):
    if not isinstance(ds, xr.Dataset):
        raise TypeError(
            f"expected a Dataset holding {u!r} and {v!r}, got {type(ds).__name__}"
        )
    for role, name in (("u", u), ("v", v)):
        if name not in ds.data_vars:
            raise KeyError(
                f"{role}={name!r} is not a data variable of the Dataset; its data variables "
                f"are {sorted(map(str, ds.data_vars))}"
            )
    x = _find_axis(ds, u, "x", geo) if x is None else x
    y = _find_axis(ds, u, "y", geo) if y is None else y
    derivatives = _Derivatives(ds, [x, y], options)
    if geo:
        _geo_pair(derivatives, x, y)
    return ds[u], ds[v], x, y, derivatives


def _on_curvilinear(ds, u, x, y, geo):
    """Whether geo=True goes through ``horizontal()``: no x/y given, and `u` is
    not on a pair of 1-D latitude/longitude dimensions but on 2-D ones, or
    on a projected or rotated grid with a CF grid mapping."""
    if not geo or x is not None or y is not None or not isinstance(ds, xr.Dataset):
        return False
    if u not in ds.data_vars:
        return False  # _vector_setup says so
    la, lo = _coords.find_lat_lon(ds, ds[u].dims)
    if la is not None:
        return not (la.ndim == 1 and lo.ndim == 1 and la.dims != lo.dims)
    found, _ = _coords.grid_mappings(ds, ds[u])
    return any(g.attrs.get("grid_mapping_name") != "latitude_longitude" for g in found)


def _curvilinear_vector(ds, u, v, kind, options):
    """Divergence or vorticity of eastward/northward (u, v) on any horizontal grid.

    With d/de, d/dn the eastward and northward derivatives per metre
    (:func:`xgradient.horizontal.horizontal`) and N the prime-vertical radius
    of curvature (R on a sphere): ``du/de + dv/dn - v tan(lat) / N`` and
    ``dv/de - du/dn + u tan(lat) / N``, the spherical formulas in the local
    east/north frame.
    """
    from . import horizontal as _horizontal

    options = {k: val for k, val in options.items() if k not in ("geo", "datetime_unit")}
    for role, name in (("u", u), ("v", v)):
        if name not in ds.data_vars:
            raise KeyError(
                f"{role}={name!r} is not a data variable of the Dataset; its data variables "
                f"are {sorted(map(str, ds.data_vars))}"
            )
    ua, va = ds[u], ds[v]
    grads, grid = _horizontal.east_north(ds, [u, v], **options)
    tan = grid.tan_lat_over_n()
    (ue, un), (ve, vn) = grads[u], grads[v]
    if kind == "divergence":
        terms = [ue, vn, -_product(tan, va)]
    else:
        terms = [ve, -un, _product(tan, ua)]
    result = _units.add(terms, f"{kind} of ({ua.name!r}, {va.name!r})")
    like = ua if len(ua.dims) >= len(va.dims) else va
    units = _units.sum_units(
        [ua.attrs.get("units"), va.attrs.get("units")],
        [None, None],
        1,
        True,
        f"{kind} of ({ua.name!r}, {va.name!r})",
    )
    return _finish(
        result,
        like,
        kind,
        _common_attrs(ue, vn),
        units,
        f"{kind} of ({ua.name}, {va.name}) on the sphere",
    )


def _vector_result(ds, terms, ua, va, derivatives, x, y, geo, kind):
    result = _units.add(terms, f"{kind} of ({ua.name!r}, {va.name!r})")
    like = ua if len(ua.dims) >= len(va.dims) else va
    units = _units.sum_units(
        [ua.attrs.get("units"), va.attrs.get("units")],
        [derivatives.get(x, 1).coord.units, derivatives.get(y, 1).coord.units],
        1,
        geo,
        f"{kind} of ({ua.name!r}, {va.name!r})",
    )
    where = "on the sphere" if geo else f"along ({x}, {y})"
    return _finish(
        result,
        like,
        kind,
        _common_attrs(terms[0], terms[1]),
        units,
        f"{kind} of ({ua.name}, {va.name}) {where}",
    )


def _vector(kind, ds, u, v, x, y, options):
    """Divergence (du/dx + dv/dy) or vorticity (dv/dx - du/dy) of (u, v) in `ds`,
    with the spherical metric term when ``geo``."""
    geo = options.get("geo", DEFAULTS["geo"])  # checked by the Derivatives below
    if _on_curvilinear(ds, u, x, y, geo):
        return _curvilinear_vector(ds, u, v, kind, options)
    ua, va, x, y, derivatives = _vector_setup(ds, u, v, x, y, geo, options)
    d_dx, d_dy = derivatives.get(x, 1), derivatives.get(y, 1)
    if kind == "divergence":
        terms = [d_dx.apply(ua), d_dy.apply(va)]
    else:
        terms = [d_dx.apply(va), -d_dy.apply(ua)]
    if geo:
        tan = _tan_lat_over_radius(d_dy, terms[1])
        terms.append(-_product(tan, va) if kind == "divergence" else _product(tan, ua))
    return _vector_result(ds, terms, ua, va, derivatives, x, y, geo, kind)


@takes_options(**_OPTION_NOTES)
def divergence(ds, u="u", v="v", *, x=None, y=None, **options):
    """Horizontal divergence of a vector (u, v) held in a Dataset.

    Parameters
    ----------
    ds : Dataset
        Holds the two components.
    u, v : str, default "u", "v"
        Names of the x (eastward) and y (northward) components.
    x, y : str, optional
        The coordinates to differentiate along. By default the coordinate of
        `u` that is a longitude (resp. latitude: CF units, standard_name or a
        name like lon/lat) or, without `geo`, has the CF attribute ``axis:
        X`` (resp. ``Y``).
    %(options)s

    Returns
    -------
    DataArray
        Named ``"divergence"``, with the dims and coords of `u`, ``units``
        (``"s-1"`` for winds in ``"m s-1"`` with geo, ``"(m s-1)/m"`` on an x/y
        grid in metres) and a ``long_name``. Dask input stays lazy.

    Raises
    ------
    KeyError
        `u` or `v` is not a data variable.
    ValueError
        No (or several) x or y coordinates found; with `geo`, x not a
        longitude or y not a latitude; any error of ``.grad``.

    Notes
    -----
    Without `geo`, ``du/dx + dv/dy``. With ``geo=True``, on a sphere of
    radius R with phi the latitude and lambda the longitude in radians::

        1/(R cos phi) du/dlambda + (1/R) dv/dphi - v tan(phi) / R

    the divergence in spherical coordinates (e.g. Holton & Hakim, *An
    Introduction to Dynamic Meteorology*, appendix on spherical
    coordinates; MetPy's ``divergence`` computes the same from map factors).
    NaN at a pole.

    On a curvilinear grid (2-D latitude/longitude) or a projected or
    rotated one with a CF grid mapping, and `x`, `y` not given, `u` and `v`
    are the eastward and northward components and the same formula is
    written in the local east/north frame, ``du/de + dv/dn - v tan(phi) / N``,
    with the derivatives per metre of ``.grad.horizontal()`` (N = R on a
    sphere, the prime-vertical radius of curvature on an ellipsoid).

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> x = np.array([0.0, 1.0, 3.0, 4.0])
    >>> y = np.array([0.0, 2.0, 3.0])
    >>> X, Y = np.meshgrid(x, y)
    >>> ds = xr.Dataset({"u": (("y", "x"), 2 * X, {"units": "m s-1"}),
    ...                  "v": (("y", "x"), -Y, {"units": "m s-1"})},
    ...                 coords={"x": ("x", x, {"axis": "X", "units": "m"}),
    ...                         "y": ("y", y, {"axis": "Y", "units": "m"})})
    >>> div = xgradient.operators.divergence(ds)
    >>> div.values
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    >>> div.attrs["units"]
    '(m s-1)/m'
    """
    return _vector("divergence", ds, u, v, x, y, options)


@takes_options(**_OPTION_NOTES)
def vorticity(ds, u="u", v="v", *, x=None, y=None, **options):
    """Vertical component of the curl (relative vorticity) of (u, v) held in a Dataset.

    Parameters
    ----------
    ds, u, v, x, y
        As for :func:`divergence`.
    %(options)s

    Returns
    -------
    DataArray
        Named ``"vorticity"``, with the dims and coords of `u`, ``units``
        (``"s-1"`` for winds in ``"m s-1"`` with geo) and a ``long_name``.
        Dask input stays lazy.

    Raises
    ------
    KeyError, ValueError
        As for :func:`divergence`.

    Notes
    -----
    Without `geo`, ``dv/dx - du/dy``. With ``geo=True``, on a sphere of
    radius R with phi the latitude and lambda the longitude in radians::

        1/(R cos phi) dv/dlambda - (1/R) du/dphi + u tan(phi) / R

    (e.g. Holton & Hakim, *An Introduction to Dynamic Meteorology*; MetPy's
    ``vorticity``). Solid-body rotation ``u = U cos(phi), v = 0`` has
    vorticity ``2 U sin(phi) / R``. NaN at a pole.

    On a curvilinear, projected or rotated grid (as for :func:`divergence`),
    ``dv/de - du/dn + u tan(phi) / N`` from ``.grad.horizontal()``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> lat = np.array([-30.0, -10.0, 0.0, 10.0, 30.0])
    >>> lon = np.arange(0.0, 360.0, 30.0)
    >>> u = 10 * np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size)
    >>> ds = xr.Dataset({"u": (("lat", "lon"), u, {"units": "m s-1"}),
    ...                  "v": (("lat", "lon"), np.zeros_like(u), {"units": "m s-1"})},
    ...                 coords={"lat": lat, "lon": lon})
    >>> zeta = xgradient.operators.vorticity(ds, geo=True, edge_order=2)
    >>> exact = 2 * 10 * np.sin(np.deg2rad(lat)) / 6371008.8
    >>> bool(np.allclose(zeta.isel(lon=0), exact, rtol=0.01))
    True
    >>> zeta.attrs["units"]
    's-1'
    """
    return _vector("vorticity", ds, u, v, x, y, options)
