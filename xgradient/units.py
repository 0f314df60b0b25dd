"""Units of derivatives: the ``units`` attribute strings.

One home for every units decision of the accessor and the operators:
:func:`per`, :func:`cancel`, :func:`sum_units` and :func:`mixed_units` write
the ``units`` attribute of a result (udunits strings that pint, through
cf-xarray's registry, parses too); :func:`radians_per_unit` reads the angle
unit of a latitude or longitude for ``geo``.

pint quantities (pint-xarray's ``da.pint.quantify()``) take the other road,
the one ``xarray.DataArray.differentiate`` takes: units off, compute on the
magnitude, units back on, computed by pint itself (:func:`plain_coords`,
:func:`through_magnitude`). Pint stays optional: nothing here imports it; a
quantity is recognised by its type's module and attributes.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import xarray as xr

from . import coords as _coords

__all__ = [
    "add",
    "cancel",
    "is_quantity",
    "mixed_units",
    "normalised_coord_units",
    "per",
    "per_unit",
    "plain_coords",
    "radians_per_unit",
    "sum_units",
    "through_magnitude",
    "with_units_of",
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


# ---------------------------------------------------------------------------
# pint quantities: units off, compute on the magnitude, units back on


def _is_pint(data) -> bool:
    return (
        type(data).__module__.split(".")[0] == "pint"
        and hasattr(data, "magnitude")
        and hasattr(data, "units")
    )


def _dask_meta(data):
    """The meta (an empty block) of a dask array, None for anything else."""
    if not (type(data).__module__.startswith("dask.") and hasattr(data, "dask")):
        return None
    from dask.array.utils import meta_from_array

    return meta_from_array(data)


def is_quantity(data) -> bool:
    """Whether `data` is a pint Quantity (wrapping numpy or dask), without importing pint.

    A dask array of Quantity blocks (``.chunk()`` on a quantified object,
    where pint-xarray's ``.pint.chunk()`` puts dask inside pint) counts too.

    Examples
    --------
    >>> import numpy as np, pint
    >>> is_quantity(np.zeros(2)), is_quantity(pint.UnitRegistry().Quantity(np.zeros(2), "m"))
    (False, True)
    """
    return _is_pint(data) or _is_pint(_dask_meta(data))


def _unwrap(data):
    """(magnitude, units, wrap) of a quantity; ``wrap(numbers, units)`` makes one again.

    A dask array of Quantity blocks gives its magnitude lazily, block by
    block, and its `wrap` rebuilds that layering for dask numbers, so that a
    result mixes with the object's other variables as the input did.
    """
    if _is_pint(data):
        return data.magnitude, data.units, type(data)
    meta = _dask_meta(data)
    cls = type(meta)

    def wrap(numbers, units):
        meta = _dask_meta(numbers)
        if meta is None:
            return cls(numbers, units)
        # A module-level function and a Quantity argument: the expression
        # backend of dask tokenizes both, and cannot tokenize the registry's
        # dynamically made Quantity class.
        like = cls(meta, units)
        return numbers.map_blocks(_quantity, like, meta=like)

    magnitude = data.map_blocks(lambda block: block.magnitude, meta=meta.magnitude)
    return magnitude, meta.units, wrap


def _quantity(block, like):
    """`block` as a quantity in the units (and registry) of `like`."""
    return type(like)(block, like.units)


def plain_coords(obj):
    """`obj` with each quantified coordinate as its magnitude and a ``units`` attribute.

    Returns the plain object and ``{name: pint Unit}`` of the coordinates that
    were quantities (the object itself and ``{}`` when none is), so that the
    coordinate code reads units from attributes only, while the units of a
    result can still come from pint.

    Examples
    --------
    >>> import numpy as np, pint, xarray as xr
    >>> ureg = pint.UnitRegistry()
    >>> dist = ureg.Quantity(np.array([0.0, 1.0, 2.0]), "km")
    >>> da = xr.DataArray(np.zeros(3), dims="x", coords={"dist": ("x", dist)})
    >>> plain, found = plain_coords(da)
    >>> plain.dist.attrs["units"], found["dist"] == ureg.km
    ('kilometer', True)
    """
    found, replaced = {}, {}
    for name, var in obj.coords.variables.items():
        if not is_quantity(var.data):
            continue
        magnitude, found[name], _ = _unwrap(var.data)
        # Full names ("D"): the attribute is read by the latitude/longitude
        # tests (degrees_north) whatever a registry's default format is.
        attrs = {**var.attrs, "units": format(found[name], "D")}
        replaced[name] = (var.dims, magnitude, attrs)
    if not found:
        return obj, {}
    return obj.assign_coords(replaced), found


def per_unit(quantity, coord_units, order=1, geo=False):
    """The pint unit a derivative of `quantity` is taken per: coordinate unit ** order.

    `coord_units` is a pint Unit or a units string, parsed by `quantity`'s
    registry (None: per index step, dimensionless); with `geo` it is metres.

    Examples
    --------
    >>> import numpy as np, pint
    >>> q = pint.UnitRegistry().Quantity(np.zeros(3), "K")
    >>> per_unit(q, "hPa", order=2), per_unit(q, "degree", geo=True), per_unit(q, None)
    (<Unit('hectopascal ** 2')>, <Unit('meter')>, None)
    """
    if geo:
        coord_units = "m"
    if coord_units is None or (isinstance(coord_units, str) and coord_units.strip() in ("", "1")):
        return None
    if isinstance(coord_units, str):
        try:
            # A Unit's class belongs to its registry: this parses with that registry.
            coord_units = type(_unwrap(quantity)[1])(coord_units)
        except Exception as err:  # noqa: BLE001 - pint raises several kinds
            raise ValueError(
                f"the data are a pint Quantity but the coordinate's units {coord_units!r} "
                f"are not understood by its unit registry ({err}); quantify the coordinate "
                "too (da.pint.quantify()) or drop its units attribute"
            ) from None
    return coord_units**order


def _difference_units(units, put_back):
    """The units of a difference of two values in `units`: degC -> delta_degC."""
    zero = put_back(np.zeros(1), units)
    try:
        return (zero - zero).units
    except Exception:  # noqa: BLE001 - a unit pint cannot subtract in stays as it is
        return units


def through_magnitude(da, compute, per=None):
    """``compute(da)`` on the magnitude of a quantified DataArray, with units put back on.

    `compute` takes a DataArray of plain numbers (numpy or dask) and returns a
    DataArray or a Dataset; every DataArray of the result gets the units of
    a difference of `da`'s values divided by `per` (a pint Unit, or None).
    A difference of temperatures in degC is in delta_degC, as pint says of
    ``q[1] - q[0]``: ``degC/m`` would be an offset unit pint cannot convert
    (``differentiate`` returns that one; ours converts to ``K/m``).
    Lazy data stay lazy. This is the whole of xgradient's pint support:
    anything computed on numbers (``.grad``, ``horizontal``) wraps itself in it.

    Examples
    --------
    >>> import numpy as np, pint, xarray as xr
    >>> ureg = pint.UnitRegistry()
    >>> da = xr.DataArray(ureg.Quantity(np.array([1.0, 2.0]), "K"), dims="x")
    >>> out = through_magnitude(da, lambda plain: plain * 2, per=ureg.s)
    >>> out.data
    <Quantity([2. 4.], 'kelvin / second')>
    """
    magnitude, units, put_back = _unwrap(da.data)
    units = _difference_units(units, put_back)
    units = units if per is None else units / per
    result = compute(da.copy(deep=False, data=magnitude))

    def wrap(out):
        return out.copy(deep=False, data=put_back(out.data, units))

    if isinstance(result, xr.Dataset):
        return result.map(wrap, keep_attrs=True)
    return wrap(result)


def with_units_of(da, like, units):
    """Plain `da` as a quantity in `units` (a string) when `like` holds one; else `da`.

    For the factors the operators multiply derivatives by (``tan(lat) / R``
    is per metre), so that pint sees their units too.

    Examples
    --------
    >>> import numpy as np, pint, xarray as xr
    >>> ureg = pint.UnitRegistry()
    >>> t = xr.DataArray(np.array([0.5, 1.0]), dims="y")
    >>> with_units_of(t, xr.DataArray(ureg.Quantity(np.ones(2), "K")), "1/m").data
    <Quantity([0.5 1. ], '1 / meter')>
    """
    if not is_quantity(like.data):
        return da
    _, like_units, put_back = _unwrap(like.data)
    return da.copy(deep=False, data=put_back(da.data, type(like_units)(units)))


def add(terms, what):
    """The sum of DataArrays; for quantities whose units cannot be added, a ValueError.

    Pint converts terms of compatible units (degrees_north and degree, m
    and km) to the first term's; K/m^2 plus K/hPa^2, or a quantity plus plain
    numbers, cannot be added, and the error says which terms of `what`.

    Examples
    --------
    >>> import numpy as np, pint, xarray as xr
    >>> ureg = pint.UnitRegistry()
    >>> a = xr.DataArray(ureg.Quantity(np.array([1.0]), "K/m"))
    >>> add([a, xr.DataArray(ureg.Quantity(np.array([1.0]), "K/km"))], "sum").data
    <Quantity([1.001], 'kelvin / meter')>
    >>> add([a, xr.DataArray(ureg.Quantity(np.array([1.0]), "K/s"))], "sum")
    Traceback (most recent call last):
    ...
    ValueError: sum: its terms are in units ['kelvin / meter', 'kelvin / second'], ...
    """
    from .chunked import unify

    terms = unify(*terms)
    total = terms[0]
    try:
        for t in terms[1:]:
            total = total + t
    except TypeError as err:  # pint's DimensionalityError is a TypeError
        if not any(is_quantity(t.data) for t in terms):
            raise
        units = [str(_unwrap(t.data)[1]) if is_quantity(t.data) else "plain numbers" for t in terms]
        raise ValueError(
            f"{what}: its terms are in units {units}, which cannot be added ({err}); "
            "convert the variables or coordinates to compatible units first"
        ) from None
    return total
