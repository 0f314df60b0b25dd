"""Labels -> numbers: which coordinate, its values as numbers, its units,
whether it is a longitude and whether it goes round the globe."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Coordinate",
    "UnknownCoordinateError",
    "detect_period",
    "earth_shape",
    "find_lat_lon",
    "find_latitude",
    "grid_mappings",
    "is_earth_latitude",
    "is_earth_longitude",
    "is_latitude",
    "is_longitude",
    "radii_of_curvature",
    "resolve",
]

# udunits spellings of the time units numpy and xarray accept.
TIME_UNITS = {
    "W": ("week", 7 * 86400.0),
    "D": ("day", 86400.0),
    "h": ("h", 3600.0),
    "m": ("min", 60.0),
    "s": ("s", 1.0),
    "ms": ("ms", 1e-3),
    "us": ("us", 1e-6),
    "ns": ("ns", 1e-9),
}

LON_UNITS = {
    "degrees_east",
    "degree_east",
    "degree_e",
    "degrees_e",
    "degreee",
    "degreese",
}
LON_NAMES = {"lon", "longitude", "nav_lon", "glamt", "xlon", "long"}
LAT_UNITS = {
    "degrees_north",
    "degree_north",
    "degree_n",
    "degrees_n",
    "degreen",
    "degreesn",
}
LAT_NAMES = {"lat", "latitude", "nav_lat", "gphit", "xlat"}


class UnknownCoordinateError(KeyError, ValueError):
    """A name that is neither a dimension nor a 1-D coordinate.

    Both a ``KeyError`` (like a failed ``obj[name]``) and a ``ValueError``
    (like ``xarray.DataArray.differentiate``), so either ``except`` works.
    """

    def __str__(self):
        return str(self.args[0])


@dataclass(frozen=True)
class Coordinate:
    """A resolved coordinate: the dimension it runs along and its numbers."""

    name: str
    dim: str
    values: np.ndarray  # float64, in `units`
    units: str | None
    attrs: dict


def resolve(obj, coord, datetime_unit="s") -> Coordinate:
    """Find `coord` on an xarray object and turn its values into numbers.

    `coord` may be a dimension (with or without a coordinate variable: without
    one, the index positions 0, 1, 2, ... are used) or any 1-D coordinate.
    """
    if not isinstance(coord, str):
        raise TypeError(f"coordinate names must be strings, got {coord!r}")
    if coord in obj.coords:
        var = obj.coords[coord]
        if var.ndim != 1:
            raise ValueError(
                f"coordinate {coord!r} has dimensions {var.dims}; only a 1-D coordinate "
                "(or a dimension name) can be differentiated along"
            )
        dim = var.dims[0]
        values, units = _numbers(coord, var, datetime_unit)
        return Coordinate(coord, dim, values, units, dict(var.attrs))
    if coord in obj.dims:
        n = obj.sizes[coord]
        return Coordinate(coord, coord, np.arange(n, dtype=np.float64), None, {})
    known = sorted(set(map(str, obj.dims)) | {str(c) for c in obj.coords if obj.coords[c].ndim == 1})
    raise UnknownCoordinateError(
        f"{coord!r} is neither a dimension nor a 1-D coordinate; choose one of {known}"
    )


def _to_numpy(var):
    """The values of a coordinate as numpy, computed if it is a dask array.

    Not ``np.asarray(var.values)``: dask's expression backend gives an array
    of objects for that (dask 2026.8); xarray's ``to_numpy`` computes.
    """
    return np.asarray(var.to_numpy())


def _numbers(name, var, datetime_unit):
    values = _to_numpy(var)
    kind = values.dtype.kind
    if kind in "Mm" or (kind == "O" and values.size and _is_cftime(values.flat[0])):
        if datetime_unit not in TIME_UNITS:
            raise ValueError(
                f"datetime_unit must be one of {sorted(TIME_UNITS)}, got {datetime_unit!r}"
            )
        label, _ = TIME_UNITS[datetime_unit]
        return _time_numbers(name, values, datetime_unit), label
    if kind not in "biuf":
        raise TypeError(
            f"coordinate {name!r} has dtype {values.dtype}; it must hold numbers, "
            "datetime64 or cftime dates"
        )
    units = var.attrs.get("units")
    if units is not None and " since " in str(units):
        # Undecoded time ("days since 2000-01-01"): the step is in days.
        units = str(units).split(" since ")[0].strip()
    # Floats keep their dtype: numpy.gradient (and so xarray's differentiate)
    # computes a float32 coordinate's weights in float32.
    numbers = values if values.dtype.kind == "f" else values.astype(np.float64)
    return numbers, (str(units) if units is not None else None)


def _is_cftime(value):
    try:
        import cftime
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, cftime.datetime)


def _time_numbers(name, values, unit):
    """Times as numbers of `unit` since the earliest, computed as xarray's
    ``differentiate`` does (``Variable._to_numeric``), so that the two agree
    bit for bit: datetime64 differences divided once by the unit; cftime
    differences through microseconds."""
    if values.dtype.kind == "M" or values.dtype.kind == "m":
        if np.isnat(values).any():
            raise ValueError(f"coordinate {name!r} has a missing time (NaT) at index {np.flatnonzero(np.isnat(values))[0]}")
        # In the array's own unit: datetime64[s] may span far more than the
        # +-292 years that nanoseconds can hold.
        return (values - values.min()) / np.timedelta64(1, unit)
    try:
        delta = values - min(values)
        seconds = np.reshape([d.total_seconds() for d in delta.ravel()], values.shape)
    except TypeError as err:
        raise TypeError(
            f"coordinate {name!r} mixes dates of different calendars or non-dates: {err}"
        ) from None
    return (np.timedelta64(1, "us") / np.timedelta64(1, unit)) * (seconds * 1e6)


def _is_angle(name, attrs, cf_units, standard_names, axis, names) -> bool:
    units = str(attrs.get("units", "")).strip().lower().replace(" ", "")
    if units in cf_units:
        return True
    if str(attrs.get("standard_name", "")).lower() in standard_names:
        return True
    if str(attrs.get("axis", "")).upper() == axis and units.startswith("degree"):
        return True
    return str(name).lower() in names


def is_longitude(name, attrs) -> bool:
    """A longitude by CF units, standard_name, axis (in degrees) or a common name."""
    return _is_angle(name, attrs, LON_UNITS, {"longitude", "grid_longitude"}, "X", LON_NAMES)


def is_latitude(name, attrs) -> bool:
    """A latitude by CF units, standard_name, axis (in degrees) or a common name."""
    return _is_angle(name, attrs, LAT_UNITS, {"latitude", "grid_latitude"}, "Y", LAT_NAMES)


def _kind(name, attrs) -> str:
    """``"grid"`` for a rotated-pole angle (CF ``grid_latitude``/``grid_longitude``),
    else ``"earth"``."""
    return "grid" if str(attrs.get("standard_name", "")).lower().startswith("grid_") else "earth"


def is_earth_latitude(name, attrs) -> bool:
    """A latitude on the Earth: a latitude that is not a rotated ``grid_latitude``."""
    return is_latitude(name, attrs) and _kind(name, attrs) == "earth"


def is_earth_longitude(name, attrs) -> bool:
    """A longitude on the Earth: a longitude that is not a rotated ``grid_longitude``."""
    return is_longitude(name, attrs) and _kind(name, attrs) == "earth"


def find_latitude(obj, longitude: str, dims=None):
    """The latitude coordinate of `obj` that goes with `longitude` (a DataArray).

    The latitude *of the same kind* (``grid_longitude`` pairs with
    ``grid_latitude``, ``longitude`` with ``latitude``) among the coordinates
    whose dimensions are all among `dims` (default: the dimensions of `obj`,
    a variable's own dimensions); a latitude with more dimensions than the
    longitude (a 2-D latitude beside a 1-D longitude) is a partner only when
    no other is found, so that the caller can say why it cannot be used.

    Raises
    ------
    ValueError
        When `obj` has no such latitude coordinate, or several.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(coords={
    ...     "rlat": ("rlat", [0.0, 1.0], {"standard_name": "grid_latitude"}),
    ...     "rlon": ("rlon", [0.0, 1.0, 2.0], {"standard_name": "grid_longitude"}),
    ...     "lat": (("rlat", "rlon"), [[50.0, 50.1, 50.2], [51.0, 51.1, 51.2]],
    ...             {"standard_name": "latitude"})})
    >>> find_latitude(ds, "rlon").name
    'rlat'
    """
    lon = obj.coords[longitude] if longitude in obj.coords else None
    kind = _kind(longitude, lon.attrs) if lon is not None else "earth"
    dims = set(obj.dims if dims is None else dims)
    found = [
        obj.coords[c]
        for c in obj.coords
        if c != longitude
        and is_latitude(c, obj.coords[c].attrs)
        and _kind(c, obj.coords[c].attrs) == kind
        and set(obj.coords[c].dims) <= dims
    ]
    if lon is not None and len(found) > 1:
        # A 2-D latitude is not the partner of a 1-D longitude (CORDEX's lat
        # beside rlat is of another kind anyway; this is for lat(y, x) beside
        # a 1-D lon).
        low = [c for c in found if c.ndim <= lon.ndim]
        found = low or found
    if not found:
        others = [str(c) for c in obj.coords if c != longitude and is_latitude(c, obj.coords[c].attrs)]
        extra = (
            f" (latitude coordinates {others} are not of the same kind as {longitude!r}, "
            f"a {'rotated grid_' if kind == 'grid' else ''}longitude, or not on its dimensions)"
            if others
            else ""
        )
        raise ValueError(
            f"geo=True along longitude {longitude!r} needs the latitude (dx = R cos(lat) "
            "dlon), but the object has no latitude coordinate (none with units "
            "degrees_north, standard_name latitude or a name like lat/latitude)" + extra
        )
    if len(found) > 1:
        names = [str(c.name) for c in found]
        raise ValueError(
            f"geo=True along longitude {longitude!r}: several latitude coordinates "
            f"{names}; keep one (e.g. .drop_vars)"
        )
    return found[0]


# What a longitude with a jump of more than 180 degrees may be, and the fix
# for each, tried in this order; the advice is the first fix that leaves no
# such jump and no repeated value (so it removes the warning, and the data
# can be differentiated).
_JUMP_FIXES = (
    ("unsorted", "sort it", "obj.sortby({n!r})", lambda x: x),
    (
        "a regional box stored in 0..360 across the prime meridian",
        "convert it to -180..180 and sort",
        "obj.assign_coords({{{n!r}: (obj[{n!r}] + 180) % 360 - 180}}).sortby({n!r})",
        lambda x: (x + 180.0) % 360.0 - 180.0,
    ),
    (
        "a regional box stored in -180..180 across the date line",
        "convert it to 0..360 and sort",
        "obj.assign_coords({{{n!r}: obj[{n!r}] % 360}}).sortby({n!r})",
        lambda x: x % 360.0,
    ),
)


def _advice_for_jump(name, x, full_turn=360.0) -> str:
    if full_turn != 360.0:
        # The fixes below are written in degrees.
        return "it is differentiated as it stands (across the jump)"
    # One meridian twice (-180 and 180) stays twice whatever the range.
    fixes = _JUMP_FIXES if np.unique(x % 360.0).size == x.size else ()
    for what, how, code, fix in fixes:
        fixed = np.sort(fix(x))
        steps = np.diff(fixed)
        if np.all(steps > 0) and np.all(steps <= 180.0):
            return (
                f"it looks like {what}, and is differentiated as it stands (across the "
                f"jump). To differentiate it as a map, {how}, e.g. {code.format(n=name)}"
            )
    return (
        "it is differentiated as it stands (across the jump); no sorting or change "
        "of longitude range makes a grid without such a jump of it"
    )


def find_lat_lon(obj, dims, lat=None, lon=None):
    """The Earth latitude and longitude coordinates on `dims`, or (None, None).

    `lat`/`lon` name them; otherwise they are the coordinates whose
    dimensions are among `dims` and that are a latitude (longitude) by CF
    units, standard_name or name, rotated ``grid_latitude`` and
    ``grid_longitude`` excepted. Several candidates raise a ValueError that
    names them.
    """
    dims = set(dims)
    out = []
    for which, given, test in (("lat", lat, is_earth_latitude), ("lon", lon, is_earth_longitude)):
        if given is not None:
            if given not in obj.coords:
                known = sorted(str(c) for c in obj.coords)
                raise UnknownCoordinateError(
                    f"{which}={given!r} is not a coordinate; the coordinates are {known}"
                )
            var = obj.coords[given]
            if not set(var.dims) <= dims:
                raise ValueError(
                    f"{which}={given!r} has dimensions {var.dims}, which are not among the "
                    f"variable's dimensions {tuple(sorted(map(str, dims)))}"
                )
            out.append(var)
            continue
        found = [
            obj.coords[c]
            for c in obj.coords
            if test(c, obj.coords[c].attrs) and obj.coords[c].ndim and set(obj.coords[c].dims) <= dims
        ]
        if len(found) > 1:
            # A 2-D pair wins over 1-D ones only by being asked for.
            names = [str(c.name) for c in found]
            angle = "latitude" if which == "lat" else "longitude"
            raise ValueError(
                f"several {angle} coordinates {names} on the dimensions "
                f"{tuple(sorted(map(str, dims)))}; choose one with {which}=..."
            )
        out.append(found[0] if found else None)
    if (out[0] is None) != (out[1] is None):
        have, miss = ("latitude", "longitude") if out[1] is None else ("longitude", "latitude")
        name = (out[0] if out[0] is not None else out[1]).name
        raise ValueError(
            f"found the {have} {name!r} but no {miss} on the dimensions "
            f"{tuple(sorted(map(str, dims)))}; name it with "
            f"{'lon' if miss == 'longitude' else 'lat'}=..."
        )
    return out[0], out[1]


# ---------------------------------------------------------------------------
# CF grid mappings and the Earth's radius


def grid_mappings(obj, var=None):
    """The CF grid-mapping variables of `var` (default: of every variable of `obj`).

    Looked for by the ``grid_mapping`` attribute (or encoding, where
    ``decode_coords="all"`` moves it) among the coordinates and data
    variables of `obj`; a coordinate with a ``grid_mapping_name`` is used
    when no variable names one.
    """
    import xarray as xr

    if var is not None:
        holders = [var]
    elif isinstance(obj, xr.Dataset):
        holders = list(obj.data_vars.values())
    else:
        holders = [obj]
    names = []
    for h in holders:
        value = h.attrs.get("grid_mapping", h.encoding.get("grid_mapping"))
        if not isinstance(value, str):
            continue
        # "crs: x y crs2: lat lon" (CF 1.7) or a plain name.
        words = value.split()
        for w in [w[:-1] for w in words if w.endswith(":")] if ":" in value else words:
            if w not in names:
                names.append(w)
    pool = dict(obj.coords)
    if isinstance(obj, xr.Dataset):
        pool.update(obj.data_vars)
    found = [pool[n] for n in names if n in pool]
    if not found and not names:
        found = [c for c in obj.coords.values() if "grid_mapping_name" in c.attrs]
    return found, [n for n in names if n not in pool]


def earth_shape(obj, radius, default, var=None):
    """(a, b): the semi-axes in metres of the Earth to work on.

    An explicit `radius` wins (a sphere); otherwise the CF grid mapping of
    `var` (or of `obj`): ``earth_radius``, or ``semi_major_axis`` with
    ``semi_minor_axis`` or ``inverse_flattening`` (an ellipsoid when they
    make it one); otherwise a sphere of radius `default`.

    Examples
    --------
    >>> import xarray as xr
    >>> gm = xr.DataArray(0, attrs={"grid_mapping_name": "latitude_longitude",
    ...                             "semi_major_axis": 6378137.0,
    ...                             "inverse_flattening": 298.257223563})
    >>> da = xr.DataArray([1.0, 2.0], dims="x", coords={"crs": gm})
    >>> a, b = earth_shape(da, None, 6371008.8)
    >>> round(a), round(b, 3)
    (6378137, 6356752.314)
    >>> earth_shape(da, 6.4e6, 6371008.8)
    (6400000.0, 6400000.0)
    """
    if radius is not None:
        r = float(radius)
        if not r > 0:
            raise ValueError(f"radius must be a positive number of metres, got {radius!r}")
        return r, r
    shapes = {}
    for gm in grid_mappings(obj, var)[0]:
        shape = _shape_of(gm)
        if shape is not None:
            shapes.setdefault(shape, []).append(str(gm.name))
    if len(shapes) > 1:
        raise ValueError(
            f"the grid mappings {sorted(n for v in shapes.values() for n in v)} give different "
            "Earth shapes; pass radius=..."
        )
    if shapes:
        return next(iter(shapes))
    return float(default), float(default)


def _shape_of(gm):
    a = gm.attrs
    def number(key):
        v = a.get(key)
        try:
            v = float(np.asarray(v).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            return None
        return v if np.isfinite(v) and v > 0 else (0.0 if v == 0 else None)

    r = number("earth_radius")
    if r:
        return r, r
    major = number("semi_major_axis")
    if not major:
        return None
    minor = number("semi_minor_axis")
    if minor:
        return major, minor
    inv = number("inverse_flattening")
    if inv:
        return major, major * (1.0 - 1.0 / inv)
    return major, major


def radii_of_curvature(phi, a, b):
    """(M, N): meridional and prime-vertical radii of curvature at latitude `phi` (radians).

    On an ellipsoid of semi-axes a >= b, with e2 = 1 - b^2 / a^2,
    M = a (1 - e2) / (1 - e2 sin^2 phi)^(3/2) and N = a / (1 - e2 sin^2 phi)^(1/2):
    a northward step dphi is M dphi metres, an eastward step dlambda is
    N cos(phi) dlambda metres (e.g. Snyder, *Map Projections: A Working
    Manual*, USGS PP 1395, eqs. 4-18 and 4-20). Both are `a` on a sphere.

    >>> M, N = radii_of_curvature(np.deg2rad(45.0), 6378137.0, 6356752.314245)
    >>> round(float(M)), round(float(N))
    (6367382, 6388838)
    """
    if a == b:
        return a, a
    e2 = 1.0 - (b / a) ** 2
    w = 1.0 - e2 * np.sin(phi) ** 2
    return a * (1.0 - e2) / w**1.5, a / np.sqrt(w)


def tan_lat_over_n(phi, a, b):
    """tan(phi) / N(phi) for latitudes `phi` in radians, NaN at a pole.

    The metric term of the divergence and vorticity on a sphere or an
    ellipsoid of semi-axes `a` >= `b` (N: the prime-vertical radius of
    curvature, see :func:`radii_of_curvature`). At +-90 degrees tan is not
    inf but ~1.6e16 in floating point, so the poles are masked explicitly.

    >>> tan_lat_over_n(np.array([0.0, np.pi / 4, np.pi / 2]), 2.0, 2.0)
    array([0. , 0.5, nan])
    """
    phi = np.asarray(phi, dtype=np.float64)
    _, N = radii_of_curvature(phi, a, b)
    pole = np.isclose(np.abs(phi), np.pi / 2, rtol=0, atol=1e-11)
    return np.where(pole, np.nan, np.tan(np.where(pole, 0.0, phi)) / N)


def detect_period(coord: Coordinate, full_turn=360.0) -> float | None:
    """`full_turn` when `coord` is a longitude that goes round the globe, else None.

    `full_turn` is a turn in the coordinate's units: 360 for degrees, 2 pi
    for radians. Global means: every step, the wrap-around step from the
    last point back to the first included, is at most twice the median step.
    A longitude with a jump of more than half a turn between neighbours (a
    regional box stored in 0..360 across the prime meridian, or in
    -180..180 across the date line, or unsorted) is not wrapped, and gets a
    warning with the fix that removes the jump.

    >>> c = Coordinate("lon", "lon", np.deg2rad(np.arange(0.0, 360.0, 30.0)), "radians", {"units": "radians"})
    >>> detect_period(c, 2 * np.pi) == 2 * np.pi, detect_period(c)
    (True, None)
    """
    if not is_longitude(coord.name, coord.attrs) or coord.values.size < 3:
        return None
    x = np.asarray(coord.values, dtype=np.float64)
    steps = np.abs(np.diff(x))
    if not np.all(np.isfinite(steps)):
        return None  # stencil validation reports the bad value
    jump = np.flatnonzero(steps > full_turn / 2)
    if jump.size:
        i = jump[0]
        warnings.warn(
            f"longitude {coord.name!r} jumps from {x[i]:g} to {x[i + 1]:g} between "
            f"indices {i} and {i + 1}: {_advice_for_jump(coord.name, x, full_turn)}",
            UserWarning,
            stacklevel=4,
        )
        return None
    wrap = full_turn - abs(x[-1] - x[0])
    if wrap <= 0:
        return None
    median = np.median(steps)
    if steps.max() <= 2 * median and wrap <= 2 * median:
        return full_turn
    return None
