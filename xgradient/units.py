"""Units of derivatives: the ``units`` attribute strings.

One home for every units decision of the accessor and the operators:
:func:`per`, :func:`cancel`, :func:`sum_units` and :func:`mixed_units` write
the ``units`` attribute of a result (udunits strings that pint, through
cf-xarray's registry, parses too); :func:`radians_per_unit` reads the angle
unit of a latitude or longitude for ``geo``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from . import coords as _coords

__all__ = [
    "cancel",
    "mixed_units",
    "normalised_coord_units",
    "per",
    "radians_per_unit",
    "sum_units",
]


# ---------------------------------------------------------------------------
# The ``units`` attribute


def per(data_units, coord_units, order=1, geo=False):
    """Units of a derivative, in a form udunits and pint both parse.

    ``"<data units>/<coord units>"`` (``"K/m"``, ``"(kg m-2)/s"``), or with
    ``geo`` the CF style ``"K m-1"`` (``"m s-1"`` per metre is ``"s-1"``);
    squared for a second derivative. None when the data have no units.

    Examples
    --------
    >>> per("K", "m"), per("kg m-2", "s"), per("K", "hPa", order=2)
    ('K/m', '(kg m-2)/s', 'K/hPa^2')
    >>> per("m s-1", "degrees_north", geo=True), per("1", "m")
    ('s-1', '1/m')
    """
    if data_units is None:
        return None
    du = str(data_units).strip()
    dimensionless = du in ("", "1")
    if geo:
        suffix = "m-1" if order == 1 else "m-2"
        return suffix if dimensionless else cancel(f"{du} {suffix}")
    if coord_units is None or str(coord_units).strip() in ("", "1"):
        return du

    def group(u):
        u = str(u).strip()
        return f"({u})" if any(c in u for c in " /*^") else u

    cu = group(coord_units) if order == 1 else f"{group(coord_units)}^2"
    return f"1/{cu}" if dimensionless else f"{group(du)}/{cu}"


_FACTOR = re.compile(r"^([A-Za-z_%]+)(?:\^|\*\*)?(-?\d+)?$")


def cancel(units):
    """``"m s-1 m-1"`` -> ``"s-1"``: combine repeated symbols of a CF product of powers.

    Only for a plain udunits product (symbols with integer powers separated
    by spaces); anything else is returned as is.

    Examples
    --------
    >>> cancel("m s-1 m-1"), cancel("K m-2"), cancel("(kg)/m")
    ('s-1', 'K m-2', '(kg)/m')
    """
    if units is None:
        return None
    powers = {}
    for token in units.split():
        m = _FACTOR.match(token)
        if m is None:
            return units
        powers[m.group(1)] = powers.get(m.group(1), 0) + int(m.group(2) or 1)
    kept = [s if p == 1 else f"{s}{p}" for s, p in powers.items() if p != 0]
    return " ".join(kept) if kept else "1"


def normalised_coord_units(units):
    """Latitude and longitude degrees are the same unit once summed: 'degree'.

    Examples
    --------
    >>> normalised_coord_units("degrees_north"), normalised_coord_units(" m ")
    ('degree', 'm')
    """
    if units is None:
        return None
    u = str(units).strip()
    flat = u.lower().replace(" ", "")
    if flat in _coords.LON_UNITS or flat in _coords.LAT_UNITS:
        return "degree"
    return u or None


def sum_units(data_units, coord_units, order, geo, what):
    """Units of a sum of derivatives of `order` (the `data_units` / `coord_units` of each term).

    None (and a warning) when the terms do not share one unit, as an operator
    over, say, a coordinate in m and one in hPa, or u in m s-1 and v in knots.

    Examples
    --------
    >>> sum_units(["m s-1", "m s-1"], ["degrees_east", "degrees_north"], 1, True, "div")
    's-1'
    >>> sum_units(["K"], ["m", "m"], 2, False, "laplacian")
    'K/m^2'
    """
    data_units = [None if u is None else str(u).strip() for u in data_units]
    if all(u is None for u in data_units):
        return None
    if len(set(data_units)) > 1:
        warnings.warn(
            f"{what}: the components have different units {data_units}; the result "
            "gets no units attribute (convert them to one unit first)",
            UserWarning,
            stacklevel=4,
        )
        return None
    if geo:
        return per(data_units[0], None, order, geo=True)
    cu = {normalised_coord_units(u) for u in coord_units}
    if len(cu) > 1:
        warnings.warn(
            f"{what}: the coordinates have different units {sorted(map(str, cu))}; the "
            "terms of the sum have different units, and the result gets no units "
            "attribute",
            UserWarning,
            stacklevel=4,
        )
        return None
    return per(data_units[0], cu.pop(), order, geo=False)


def mixed_units(data_units, first, second, geo):
    """Units of d2f/(d first d second), the coordinate units `first` and `second`.

    Examples
    --------
    >>> mixed_units("K", "m", "hPa", False), mixed_units("K", "degrees_north", "degrees_east", False)
    ('(K/m)/hPa', 'K/degree^2')
    >>> mixed_units("K", "degrees_north", "degrees_east", True)
    'K m-2'
    """
    if data_units is None:
        return None
    if geo:
        return per(data_units, None, 2, geo=True)
    a, b = normalised_coord_units(first), normalised_coord_units(second)
    if a == b:
        return per(data_units, a, 2)
    return per(per(data_units, first), second)


def radians_per_unit(name, units) -> float:
    """pi / 180 for an angle in degrees (or without units), 1 for radians.

    `name` is the coordinate's, for the error on any other unit.

    Examples
    --------
    >>> radians_per_unit("lat", "degrees_north") == np.pi / 180, radians_per_unit("lat", "rad")
    (True, 1.0)
    """
    u = str(units or "degrees").strip().lower()
    if u in ("rad", "radian", "radians"):
        return 1.0
    if u.startswith("degree") or u in ("deg", "degs"):
        return np.pi / 180.0
    raise ValueError(
        f"geo=True: coordinate {name!r} has units {units!r}; a latitude or longitude "
        "must be in degrees or radians"
    )
