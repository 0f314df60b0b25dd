"""Labels -> numbers: which coordinate, its values as numbers, its units,
whether it is a longitude and whether it goes round the globe."""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Coordinate",
    "UnknownCoordinateError",
    "detect_period",
    "find_latitude",
    "is_latitude",
    "is_longitude",
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


def _numbers(name, var, datetime_unit):
    values = np.asarray(var.values)
    kind = values.dtype.kind
    if kind in "Mm" or (kind == "O" and values.size and _is_cftime(values.flat[0])):
        if datetime_unit not in TIME_UNITS:
            raise ValueError(
                f"datetime_unit must be one of {sorted(TIME_UNITS)}, got {datetime_unit!r}"
            )
        label, seconds = TIME_UNITS[datetime_unit]
        return _seconds_since_first(name, values) / seconds, label
    if kind not in "biuf":
        raise TypeError(
            f"coordinate {name!r} has dtype {values.dtype}; it must hold numbers, "
            "datetime64 or cftime dates"
        )
    units = var.attrs.get("units")
    if units is not None and " since " in str(units):
        # Undecoded time ("days since 2000-01-01"): the step is in days.
        units = str(units).split(" since ")[0].strip()
    return values.astype(np.float64), (str(units) if units is not None else None)


def _is_cftime(value):
    try:
        import cftime
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, cftime.datetime)


def _seconds_since_first(name, values):
    if values.dtype.kind == "M" or values.dtype.kind == "m":
        if np.isnat(values).any():
            raise ValueError(f"coordinate {name!r} has a missing time (NaT) at index {np.flatnonzero(np.isnat(values))[0]}")
        # In the array's own unit: datetime64[s] may span far more than the
        # +-292 years that nanoseconds can hold.
        return (values - values[0]) / np.timedelta64(1, "s")
    first = values[0]
    try:
        delta = [(v - first) / datetime.timedelta(seconds=1) for v in values]
    except TypeError as err:
        raise TypeError(
            f"coordinate {name!r} mixes dates of different calendars or non-dates: {err}"
        ) from None
    return np.asarray(delta, dtype=np.float64)


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


def find_latitude(obj, longitude: str):
    """The latitude coordinate of `obj` that goes with `longitude` (a DataArray).

    Raises
    ------
    ValueError
        When `obj` has no latitude coordinate, or several.
    """
    found = [
        obj.coords[c]
        for c in obj.coords
        if c != longitude and is_latitude(c, obj.coords[c].attrs)
    ]
    if not found:
        raise ValueError(
            f"geo=True along longitude {longitude!r} needs the latitude (dx = R cos(lat) "
            "dlon), but the object has no latitude coordinate (none with units "
            "degrees_north, standard_name latitude or a name like lat/latitude)"
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


def _advice_for_jump(name, x) -> str:
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


def detect_period(coord: Coordinate) -> float | None:
    """360 when `coord` is a longitude that goes round the globe, else None.

    Global means: every step, the wrap-around step from the last point back
    to the first included, is at most twice the median step. A longitude with
    a jump of more than 180 degrees between neighbours (a regional box stored
    in 0..360 across the prime meridian, or in -180..180 across the date
    line, or unsorted) is not wrapped, and gets a warning with the fix that
    removes the jump.
    """
    if not is_longitude(coord.name, coord.attrs) or coord.values.size < 3:
        return None
    x = coord.values
    steps = np.abs(np.diff(x))
    if not np.all(np.isfinite(steps)):
        return None  # stencil validation reports the bad value
    jump = np.flatnonzero(steps > 180.0)
    if jump.size:
        i = jump[0]
        warnings.warn(
            f"longitude {coord.name!r} jumps from {x[i]:g} to {x[i + 1]:g} between "
            f"indices {i} and {i + 1}: {_advice_for_jump(coord.name, x)}",
            UserWarning,
            stacklevel=4,
        )
        return None
    wrap = 360.0 - abs(x[-1] - x[0])
    if wrap <= 0:
        return None
    median = np.median(steps)
    if steps.max() <= 2 * median and wrap <= 2 * median:
        return 360.0
    return None
