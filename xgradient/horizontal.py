"""East and north derivatives per metre on any horizontal grid.

``da.grad.horizontal()`` answers the question users ask of a field on a map:
how fast does it change per metre towards the east and towards the north?
The grid may be

- 1-D latitude and longitude dimension coordinates: the numbers are those of
  ``grad(lon, geo=True)`` and ``grad(lat, geo=True)`` (the same stencils);
- curvilinear, with 2-D latitude and longitude (NEMO ``nav_lat/nav_lon``,
  WRF ``XLAT/XLONG``, ROMS, CORDEX ``lat/lon`` beside ``rlat/rlon``);
- projected or rotated, with a CF grid mapping and no 2-D latitude and
  longitude: they are computed from the grid mapping with pyproj.

On a curvilinear grid, with ``i`` and ``j`` the two index directions, the
chain rule gives::

    df/di = df/de de/di + df/dn dn/di        de = N cos(lat) dlon
    df/dj = df/de de/dj + df/dn dn/dj        dn = M dlat

where e and n are the eastward and northward distances and M, N the
meridional and prime-vertical radii of curvature (both R on a sphere). The
derivatives along i and j are the ordinary unit-spacing stencils of the
requested accuracy; the Jacobian (de/di, de/dj, dn/di, dn/dj) comes from the
coordinates with the same stencils (longitude steps modulo 360: the stencil
runs on cos(lon) and sin(lon), and dlon = cos d(sin) - sin d(cos), so a
+-180 seam inside the grid is harmless), and is inverted at each point. The
inverse (the metric) is computed once per grid and reused for every
variable and every level; with ``skipna`` the coordinates of NaN cells are
masked like the data, so the metric of a coastal cell comes from the same
one-sided stencils as its data.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import coords as _coords
from . import units as _units
from ._compat import njit
from .chunked import apply_metric_dask
from .core import differentiate, is_dask_array, result_dtype
from .kernel import (
    HAVE_NUMBA,
    apply_metric,
    apply_metric_many,
    axis_rows,
    in_shares,
    weighted_rows,
)
from .labelled import (
    DROPPED_ATTRS,
    EARTH_RADIUS,
    Derivative,
    called,
    differentiable_vars,
    which_variable,
)
from .options import Options, takes_options
from .stencil import build_stencil

__all__ = ["find_grids", "horizontal", "on_grids"]

# Projection coordinate units pyproj's CF projections are in (metres).
_LENGTH_UNITS = {"m": 1.0, "metre": 1.0, "meter": 1.0, "metres": 1.0, "meters": 1.0,
                 "km": 1e3, "kilometre": 1e3, "kilometer": 1e3, "kilometres": 1e3, "kilometers": 1e3}
# Grid lines looked at to decide whether a curvilinear grid wraps.
_WRAP_SAMPLE = 33
_X_NAMES = {"projection_x_coordinate", "grid_longitude", "projection_x_angular_coordinate"}
_Y_NAMES = {"projection_y_coordinate", "grid_latitude", "projection_y_angular_coordinate"}


# The shared options horizontal() takes (`periodic` means something else here).
_OPTIONS = ("edge_order", "accuracy", "radius", "skipna")


@takes_options(
    _OPTIONS,
    notes={
        "accuracy": "Here the order of the data's stencils and of the Jacobian's.",
        "radius": "horizontal() always works per metre.",
        "skipna": "The metric of a cell beside a NaN comes from the same one-sided "
        "stencils as its data.",
    },
)
def horizontal(obj, *, periodic=None, lat=None, lon=None, **options):
    """Eastward and northward derivatives per metre, on any horizontal grid.

    Parameters
    ----------
    obj : DataArray or Dataset
        The field (a Dataset: each numeric data variable that lies on a
        horizontal grid; the others are dropped).
    periodic : None, bool or str, default None
        ``None`` wraps a global longitude, or the index direction of a global
        curvilinear grid whose first and last columns are neighbours (ORCA);
        ``True`` wraps the longitude (or the index direction along which the
        longitude turns); a dimension name wraps that direction; ``False``
        never wraps.
    lat, lon : str, optional
        Names of the latitude and longitude coordinates, when several could be.
    %(options)s

    Returns
    -------
    Dataset
        ``d{name}_deast`` and ``d{name}_dnorth`` (``name`` is ``"f"`` for an
        unnamed DataArray), with the dims and coords of the input, units
        ``"<units> m-1"``, and ``eastward_derivative_of_<standard_name>``
        when the input has a standard name. Dask input stays lazy (the 2-D
        coordinates are read: they decide the wrap).

    Raises
    ------
    ValueError
        No latitude/longitude and no grid mapping, ambiguous coordinates,
        options out of range.
    ImportError
        A projected grid without latitude/longitude, and pyproj not installed.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgradient
    >>> j, i = np.meshgrid(np.arange(30.0), np.arange(40.0), indexing="ij")
    >>> lat2d = 10 + 0.5 * j + 0.2 * i          # a sheared, curvilinear grid
    >>> lon2d = -20 + 0.6 * i - 0.1 * j
    >>> T = xr.DataArray(lat2d.copy(), dims=("j", "i"), name="T", attrs={"units": "K"},
    ...                  coords={"lat": (("j", "i"), lat2d, {"units": "degrees_north"}),
    ...                          "lon": (("j", "i"), lon2d, {"units": "degrees_east"})})
    >>> g = xgradient.horizontal.horizontal(T)   # or T.grad.horizontal()
    >>> list(g), g.dT_dnorth.attrs["units"]
    (['dT_deast', 'dT_dnorth'], 'K m-1')
    >>> per_degree = 180 / (np.pi * 6371008.8)   # T is the latitude: 1 K per degree north
    >>> bool(np.allclose(g.dT_dnorth, per_degree)), bool(np.allclose(g.dT_deast, 0, atol=1e-12))
    (True, True)
    """
    if isinstance(obj, xr.Dataset):
        return on_grids(obj, find_grids(obj, periodic=periodic, lat=lat, lon=lon, **options))
    _check_periodic(periodic)
    options = _grid_options(periodic, options)
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"horizontal() takes a DataArray or a Dataset, got {type(obj).__name__}")
    # pint quantities as coordinates (2-D lat/lon too): the grids are built
    # from their numbers and units attributes; the results keep the originals.
    plain, _ = _units.plain_coords(obj)
    result_dtype(obj.dtype)
    base = obj.name if obj.name is not None else "f"
    grid = _grid_for(plain, plain, lat, lon, options, {})
    return _dataset(_results(grid, obj, base), obj.coords, {})


def _check_periodic(periodic):
    if not (periodic is None or isinstance(periodic, (bool, np.bool_, str))):
        raise ValueError(
            f"periodic must be None, True, False or a dimension name for horizontal(), got {periodic!r}"
        )


def find_grids(ds, *, periodic=None, lat=None, lon=None, **options):
    """The horizontal grid of each data variable of `ds` that lies on one: what
    :func:`horizontal` checks before it computes.

    Everything :func:`horizontal` refuses in what it is given (options,
    coordinates, grid mappings, no variable on a horizontal grid) is refused
    here, with the same error; :func:`on_grids` then only computes. The
    command (``xgradient.files``) calls the two apart, so that only the
    first one's errors are the user's.

    Parameters
    ----------
    ds : Dataset
    periodic, lat, lon, **options
        As for :func:`horizontal`.

    Returns
    -------
    dict
        {variable name: its grid}, in the order of ``ds.data_vars``.

    Raises
    ------
    ValueError, ImportError
        As :func:`horizontal`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"T": (("lat", "lon"), np.zeros((3, 4))), "n": ("lat", [1.0, 2.0, 3.0])},
    ...                 coords={"lat": ("lat", [0.0, 1.0, 2.0], {"units": "degrees_north"}),
    ...                         "lon": ("lon", [0.0, 1.0, 2.0, 3.0], {"units": "degrees_east"})})
    >>> list(find_grids(ds)), list(on_grids(ds, find_grids(ds)))
    (['T'], ['dT_deast', 'dT_dnorth'])
    """
    _check_periodic(periodic)
    options = _grid_options(periodic, options)
    plain, _ = _units.plain_coords(ds)
    cache = {}
    candidates = []
    for dim in ds.dims:  # numeric, CF cell bounds left out
        candidates += [n for n in differentiable_vars(ds, dim) if n not in candidates]
    grids, skipped = {}, {}
    for name in ds.data_vars:
        if name not in candidates or ds[name].ndim < 2:
            continue
        try:
            grids[name] = _grid_for(plain, plain[name], lat, lon, options, cache)
        except _NoGrid as err:
            skipped[name] = err
    if not grids:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no data variable with 2 dimensions"
        raise ValueError(f"horizontal(): no data variable lies on a horizontal grid ({reasons})")
    return grids


def on_grids(ds, grids):
    """``d{name}_deast`` and ``d{name}_dnorth`` of the variables of `ds` on `grids`
    (from :func:`find_grids`), as :func:`horizontal` returns them.

    Examples
    --------
    See :func:`find_grids`.
    """
    out = {}
    together = _together(ds, grids)
    for name, grid in grids.items():
        out.update(_results(grid, ds[name], name, together.get(name)))
    return _dataset(out, ds.coords, ds.attrs)


def _together(ds, grids):
    """{name: (east, north)} of the variables that share a curvilinear grid
    and a dtype and take the one-pass loop: computed in one pass over the
    grid's metric, which is read from memory once for all of them."""
    groups = {}
    for name, grid in grids.items():
        if isinstance(grid, _Curvilinear) and not is_dask_array(ds[name].data) and grid.one_pass(ds[name]):
            groups.setdefault((id(grid), result_dtype(ds[name].dtype)), []).append(name)
    done = {}
    for names in groups.values():
        if len(names) > 1:
            grid = grids[names[0]]
            done.update(zip(names, grid.apply_many([ds[n] for n in names])))
    return done


def _dataset(results, coords, attrs):
    """A Dataset of `results` (DataArrays on `coords`), coordinates set once:
    merging the DataArrays would compare their 2-D lat/lon for each one."""
    out = xr.Dataset({k: v.variable for k, v in results.items()}, attrs=attrs)
    used = {d for v in results.values() for d in v.dims}
    return out.assign_coords({k: c.variable for k, c in coords.items() if set(c.dims) <= used})


def east_north(ds, names, *, periodic=None, lat=None, lon=None, **options):
    """{name: (d/deast, d/dnorth)} of the variables `names` of `ds`, and their grid.

    For the operators: the grid (one for all of `names`) also gives
    ``tan(lat) / N(lat)``, the metric term of the divergence and vorticity.
    `options` are those of :func:`horizontal`.
    """
    options = _grid_options(periodic, options)
    grids = {}
    out = {}
    for name in names:
        grid = _grid_for(ds, ds[name], lat, lon, options, grids)
        res = _results(grid, ds[name], name)
        out[name] = (res[f"d{name}_deast"], res[f"d{name}_dnorth"])
    if len(grids) != 1:
        raise ValueError(f"the variables {list(names)} are not on one horizontal grid")
    return out, next(iter(grids.values()))


def _grid_options(periodic, options) -> dict:
    """The options of a grid: `options` checked by :class:`~xgradient.options.Options`,
    and `periodic` as :func:`horizontal` takes it."""
    checked = Options(**options)
    return {name: getattr(checked, name) for name in _OPTIONS} | {"periodic": periodic}


class _NoGrid(ValueError):
    """Neither latitude/longitude nor a grid mapping on a variable's dims."""


def _results(grid, da, base, computed=None):
    """The two named results of `da` on `grid` (`computed`: its two arrays, already computed)."""
    if _units.is_quantity(da.data):
        per_metre = _units.per_unit(da.data, None, geo=True)
        done = _units.through_magnitude(
            da, lambda plain: xr.Dataset(_results(grid, plain, base)), per_metre
        )
        return dict(done.data_vars)
    east, north = grid.apply(da) if computed is None else computed
    out = {}
    for which, data in (("east", east), ("north", north)):
        name = f"d{base}_d{which}"
        res = da.copy(deep=False, data=data)
        res.name = name
        res.attrs = _attrs(da, which)
        res.encoding = {}
        out[name] = res
    return out


def _attrs(da, which):
    attrs = {k: v for k, v in da.attrs.items() if k not in DROPPED_ATTRS}
    units = _units.per(da.attrs.get("units"), None, 1, geo=True)
    if units is not None:
        attrs["units"] = units
    sn = da.attrs.get("standard_name")
    if sn:
        attrs["standard_name"] = f"{which}ward_derivative_of_{sn}"
    attrs["long_name"] = f"{which}ward derivative of {called(da)} per metre"
    return attrs


# ---------------------------------------------------------------------------
# Which grid


def _grid_for(obj, var, lat, lon, options, cache):
    """The grid of `var` (found on `obj`), built once per grid in `cache`."""
    la, lo = _coords.find_lat_lon(obj, var.dims, lat, lon)
    if la is not None:
        key = ("latlon", str(la.name), str(lo.name), la.dims, lo.dims)
        if key not in cache:
            if la.ndim == 1 and lo.ndim == 1 and la.dims != lo.dims:
                cache[key] = _Regular(obj, var, la, lo, options)
            else:
                dims = _grid_dims(var, (la, lo))
                cache[key] = _Curvilinear.from_lat_lon(obj, var, la, lo, dims, options)
        return cache[key]
    found, missing = _coords.grid_mappings(obj, var)
    if not found:
        why = (
            f"its grid mapping {missing[0]!r} is not among the object's variables (open the "
            "file with decode_coords='all' to keep it as a coordinate)"
            if missing
            else "and no CF grid mapping"
        )
        raise _NoGrid(
            f"{which_variable(var)} has no latitude/longitude coordinates on its dimensions "
            f"{var.dims} (units degrees_north/degrees_east or standard_name latitude/"
            f"longitude; rotated grid_latitude/grid_longitude are not) {why}; name "
            "them with lat=/lon="
        )
    if len(found) > 1:
        raise ValueError(
            f"{which_variable(var)} has several grid mappings {[str(g.name) for g in found]}; "
            "keep one, or give 2-D latitude/longitude with lat=/lon="
        )
    gm = found[0]
    x, y = _projection_xy(obj, var, gm)
    key = ("proj", str(gm.name), str(x.name), str(y.name))
    if key not in cache:
        cache[key] = _Curvilinear.from_grid_mapping(obj, var, gm, x, y, options)
    return cache[key]


def _grid_dims(var, coords):
    dims = {d for c in coords for d in c.dims}
    if len(dims) != 2:
        names = [str(c.name) for c in coords]
        raise ValueError(
            f"the latitude/longitude {names} of {which_variable(var)} span the dimensions "
            f"{sorted(map(str, dims))}; a horizontal grid has two"
        )
    return tuple(d for d in var.dims if d in dims)


def _projection_xy(obj, var, gm):
    """The 1-D x and y coordinates of `var` in the projection of `gm`."""
    picked = []
    for which, names, axis in (("x", _X_NAMES, "X"), ("y", _Y_NAMES, "Y")):
        found = [
            c
            for c in obj.coords.values()
            if c.ndim == 1
            and c.dims[0] in var.dims
            and (
                str(c.attrs.get("standard_name", "")).lower() in names
                or str(c.attrs.get("axis", "")).upper() == axis
            )
        ]
        if len(found) != 1:
            got = [str(c.name) for c in found]
            raise ValueError(
                f"{which_variable(var)} has the grid mapping {gm.name!r} but "
                f"{'several' if found else 'no'} projection {which} coordinates {got or ''} "
                f"(standard_name projection_{which}_coordinate or axis {axis})"
            )
        picked.append(found[0])
    return picked


# ---------------------------------------------------------------------------
# 1-D latitude and longitude: the geo=True derivatives themselves


class _Regular:
    """1-D lat and lon dimension coordinates: ``grad(lon/lat, geo=True)``."""

    def __init__(self, obj, var, la, lo, options):
        # An object holding only this pair (and the grid mapping, for the
        # radius), so that the longitude's latitude is this one.
        pair = xr.Dataset(coords={la.name: la.variable, lo.name: lo.variable})
        for gm in _coords.grid_mappings(obj, var)[0]:
            pair.coords[gm.name] = gm.variable
        periodic = options["periodic"]
        if isinstance(periodic, str):
            if periodic != lo.dims[0]:
                raise ValueError(
                    f"periodic={periodic!r}: only the longitude's dimension {lo.dims[0]!r} "
                    "of the grid can wrap"
                )
            periodic = True
        common = {
            "edge_order": options["edge_order"],
            "accuracy": options["accuracy"],
            "radius": options["radius"],
            "skipna": options["skipna"],
            "geo": True,
        }
        self.north = Derivative(pair, str(la.name), periodic=False, **common)
        self.east = Derivative(pair, str(lo.name), periodic=periodic, **common)

    def apply(self, da):
        return self.east.apply(da).data, self.north.apply(da).data

    def tan_lat_over_n(self):
        return xr.DataArray(self.north.tan_lat_over_n(), dims=(self.north.coord.dim,))


# ---------------------------------------------------------------------------
# Curvilinear grids: chain rule with the Jacobian of (east, north) over (i, j)


class _Curvilinear:
    def __init__(self, dims, lat, lon, earth, options, what):
        """`lat`, `lon`: float64 degrees, shape of `dims`."""
        self.dims = dims
        self.earth = earth
        self.skipna = options["skipna"]
        self.phi = np.deg2rad(lat)
        self.lam = np.deg2rad(lon)
        bad = ~(np.isfinite(self.phi) & np.isfinite(self.lam))
        if bad.any() and not self.skipna:
            where = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                f"the latitude/longitude {what} have a non-finite value at index {where} "
                f"of {dims}; pass skipna=True if those cells are missing in the data too"
            )
        periodic = options["periodic"]
        if periodic is None:
            wraps = [_wraps(self.phi, self.lam, k) for k in (0, 1)]
        elif periodic is False or periodic is np.False_:
            wraps = [False, False]
        elif isinstance(periodic, str):
            if periodic not in dims:
                raise ValueError(f"periodic={periodic!r} is not a dimension of the grid {dims}")
            wraps = [d == periodic for d in dims]
        else:
            turn = [_median_turn(self.lam, k) for k in (0, 1)]
            wraps = [turn[0] >= turn[1], turn[1] > turn[0]]
        self.wraps = tuple(wraps)
        self.stencils = []
        for d, n, w in zip(dims, self.phi.shape, wraps):
            try:
                self.stencils.append(
                    build_stencil(
                        np.arange(n, dtype=np.float64),
                        edge_order=options["edge_order"],
                        accuracy=options["accuracy"],
                        period=float(n) if w else None,
                        name=d,
                    )
                )
            except ValueError as err:
                raise ValueError(f"{err} (the grid dimension {d!r} of {what})") from None
        self._metric = None

    @classmethod
    def from_lat_lon(cls, obj, var, la, lo, dims, options):
        lat = _degrees(la, var, dims)
        lon = _degrees(lo, var, dims)
        _check_range(obj, var, (la, lo), (lat, lon), dims, options["skipna"])
        earth = _coords.earth_shape(obj, options["radius"], EARTH_RADIUS, var=var)
        return cls(dims, lat, lon, earth, options, [str(la.name), str(lo.name)])

    @classmethod
    def from_grid_mapping(cls, obj, var, gm, x, y, options):
        dims = tuple(d for d in var.dims if d in (x.dims[0], y.dims[0]))
        lat, lon = _lat_lon_from_grid_mapping(gm, x, y, dims)
        earth = _coords.earth_shape(obj, options["radius"], EARTH_RADIUS, var=var)
        return cls(dims, lat, lon, earth, options, [f"computed from {gm.name!r}"])

    def tan_lat_over_n(self):
        return xr.DataArray(_coords.tan_lat_over_n(self.phi, *self.earth), dims=self.dims)

    # -- the metric ------------------------------------------------------

    def metric(self):
        """(e_i, e_j, n_i, n_j): d/deast = e_i d/di + e_j d/dj, d/dnorth likewise."""
        if self._metric is None:
            if HAVE_NUMBA:
                self._metric = _compiled_metric(self.phi, self.lam, self.stencils, self.earth)
            else:
                self._metric = _inverse_jacobian(self.phi, self.lam, self.stencils, (0, 1), self.earth, False)
        return self._metric

    def apply(self, da):
        missing = [d for d in self.dims if d not in da.dims]
        if missing:
            raise ValueError(f"{which_variable(da)} has no dimension {missing} of the horizontal grid {self.dims}")
        dtype = result_dtype(da.dtype)
        axes = tuple(da.get_axis_num(d) for d in self.dims)
        data = da.data
        lazy = is_dask_array(data)
        if self.one_pass(da):
            # One pass: both derivatives and the metric, nothing stored between.
            if lazy:
                return apply_metric_dask(data, self.stencils, self.metric(), dtype)
            rows = [(s.weights, s.start, s.divisor) for s in self.stencils]
            return apply_metric(np.asarray(data).astype(dtype, copy=False), *rows, self.metric())
        # The same numbers in steps: the derivatives of the data converted to
        # float64, combined in float64, rounded once.
        work = data.astype(np.float64) if dtype.kind == "f" else data
        f = [differentiate(work, s, ax, skipna=self.skipna) for s, ax in zip(self.stencils, axes)]
        if lazy:
            # Each derivative merged small chunks along its own axis: both
            # (and the metric) get the merged chunks of both axes.
            chunks = list(data.chunks)
            for k, ax in enumerate(axes):
                chunks[ax] = f[k].chunks[ax]
            f = [x.rechunk(tuple(chunks)) for x in f]
            data = data.rechunk(tuple(chunks))
        if self.skipna:
            metric = self._masked_metric(data, axes, lazy)
        elif lazy:
            metric = [_as_dask(m, data, axes) for m in self.metric()]
        else:
            metric = [_broadcastable(m, data.ndim, axes) for m in self.metric()]
        if lazy:
            import dask.array as dsa

            east = dsa.map_blocks(_combine, f[0], f[1], metric[0], metric[1], dtype, dtype=dtype)
            north = dsa.map_blocks(_combine, f[0], f[1], metric[2], metric[3], dtype, dtype=dtype)
            return east, north
        return _combine(f[0], f[1], metric[0], metric[1], dtype), _combine(f[0], f[1], metric[2], metric[3], dtype)

    def one_pass(self, da) -> bool:
        """Whether `da` takes the compiled one-pass loop: numba, no skipna,
        float32 or float64 results, the grid's dims last and in order."""
        axes = tuple(da.get_axis_num(d) for d in self.dims)
        return (
            HAVE_NUMBA
            and not self.skipna
            and not _units.is_quantity(da.data)
            and result_dtype(da.dtype) in (np.float32, np.float64)
            and axes == (da.ndim - 2, da.ndim - 1)
        )

    def apply_many(self, das):
        """:meth:`apply` of several numpy DataArrays that take the one-pass
        loop with one result dtype, in one pass over the metric."""
        dtype = result_dtype(das[0].dtype)
        rows = [(s.weights, s.start, s.divisor) for s in self.stencils]
        arrays = [np.asarray(da.data).astype(dtype, copy=False) for da in das]
        return apply_metric_many(arrays, *rows, self.metric())

    def _masked_metric(self, data, axes, lazy):
        """The metric with the coordinates of NaN cells masked, as the data's stencils are."""
        if lazy:
            import dask.array as dsa

            phi = _as_dask(self.phi, data, axes)
            lam = _as_dask(self.lam, data, axes)
            # Block by block (dask's expression backend, 2026.8, has neither
            # broadcast_to nor where): each block of phi, lam broadcast to the
            # data block's shape, NaN where the data is.
            meta = np.empty((0,) * data.ndim, dtype=np.float64)
            phi = dsa.map_blocks(_nan_where_nan, data, phi, dtype=np.float64, meta=meta, chunks=data.chunks)
            lam = dsa.map_blocks(_nan_where_nan, data, lam, dtype=np.float64, meta=meta, chunks=data.chunks)
        else:
            nan = np.isnan(data)
            phi = np.where(nan, np.nan, _broadcastable(self.phi, data.ndim, axes))
            lam = np.where(nan, np.nan, _broadcastable(self.lam, data.ndim, axes))
        return _inverse_jacobian(phi, lam, self.stencils, axes, self.earth, True)


def _nan_where_nan(data, m):
    return np.where(np.isnan(data), np.nan, m)


# Beyond these (degrees) a latitude or longitude is no position: most often a
# fill value the file does not declare (netCDF's default 9.97e36, -999).
_LIMITS = (90.0, 720.0)


def _check_range(obj, var, coords, values, dims, skipna):
    """Refuse 2-D latitudes beyond +-90 and longitudes beyond +-720 degrees
    (with `skipna`, those cells count as missing, as NaN coordinates do).

    Taken as positions, such values give NaN or noise everywhere they reach.
    """
    for coord, v, limit in zip(coords, values, _LIMITS):
        with np.errstate(invalid="ignore"):
            beyond = np.abs(v) > limit * (1 + 1e-12)
        if not beyond.any():
            continue
        if skipna:
            for w in values:
                w[beyond] = np.nan
            continue
        where = tuple(int(k) for k in np.argwhere(beyond)[0])
        found, _ = _coords.grid_mappings(obj, var)
        names = " and ".join(repr(str(c.name)) for c in coords)
        drop = (
            f", or drop {names} to compute them from the grid mapping {str(found[0].name)!r}"
            if len(found) == 1
            else ""
        )
        raise ValueError(
            f"the {'latitude' if limit == _LIMITS[0] else 'longitude'} {str(coord.name)!r} is "
            f"{float(v[where]):g} at index {where} of {dims}, beyond +-{limit:g} degrees: a fill "
            "value the file does not declare (_FillValue or missing_value)? Mask those cells "
            f"and pass skipna=True if they are missing in the data too{drop}"
        )


def _degrees(coord, var, dims):
    """A latitude/longitude coordinate as float64 degrees over `dims` (broadcast)."""
    values = coord.variable.astype(np.float64)
    rad = _units.radians_per_unit(coord.name, coord.attrs.get("units"))
    if rad != np.pi / 180.0:
        values = values * (rad * 180.0 / np.pi)
    values = values.set_dims({d: var.sizes[d] for d in dims}).transpose(*dims)
    return np.ascontiguousarray(values.to_numpy())  # computed if dask


def _lat_lon_from_grid_mapping(gm, x, y, dims):
    """(lat, lon) in degrees over `dims`, from the projection coordinates through pyproj."""
    try:
        import pyproj
    except ImportError:
        raise ImportError(
            f"the grid has projection coordinates ({x.name!r}, {y.name!r}) and the grid "
            f"mapping {gm.name!r} but no latitude/longitude: computing them needs pyproj "
            "(pip install 'xgradient[proj]'), or give 2-D lat/lon coordinates"
        ) from None
    attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in gm.attrs.items()}
    try:
        crs = pyproj.CRS.from_cf(attrs)
    except Exception as err:  # noqa: BLE001 - pyproj raises its own CRSError and others
        raise ValueError(f"cannot read the grid mapping {gm.name!r} with pyproj: {err}") from None
    shape = {k: attrs[k] for k in ("earth_radius", "semi_major_axis", "semi_minor_axis", "inverse_flattening", "longitude_of_prime_meridian") if k in attrs}
    if shape:
        target = pyproj.CRS.from_cf(dict(shape, grid_mapping_name="latitude_longitude"))
    else:
        # A rotated pole's own geodetic CRS is the rotated one.
        target = crs.geodetic_crs if not crs.is_derived else pyproj.crs.GeographicCRS(datum=crs.datum)
    xs, ys = [], []
    for c in (x, y):
        values = c.to_numpy().astype(np.float64)
        if not crs.is_geographic:
            u = str(c.attrs.get("units", "m")).strip().lower()
            if u not in _LENGTH_UNITS:
                raise ValueError(
                    f"projection coordinate {c.name!r} has units {c.attrs.get('units')!r}; "
                    "expected metres or kilometres"
                )
            values = values * _LENGTH_UNITS[u]
        (xs if c is x else ys).append(values)
    X, Y = np.meshgrid(xs[0], ys[0], indexing="ij")  # (x, y)
    lon, lat = pyproj.Transformer.from_crs(crs, target, always_xy=True).transform(X, Y)
    if dims[0] == y.dims[0]:
        lat, lon = lat.T, lon.T
    return np.ascontiguousarray(lat), np.ascontiguousarray(lon)


def _wraps(phi, lam, axis) -> bool:
    """Whether the grid's lines along `axis` close on themselves round the globe.

    As for a global longitude: the step from a line's last point back to its
    first (a great-circle distance) is at most twice the line's median step,
    and the line turns once round the pole (its longitude steps, modulo 360,
    add up to 360 degrees). That must hold for most lines, not all: NEMO
    fills the coordinates of eliminated land domains with garbage. Lines with
    missing coordinates are left out.
    """
    p = np.moveaxis(phi, axis, -1)
    q = np.moveaxis(lam, axis, -1)
    if p.shape[-1] < 3:
        return False
    # A sample of lines decides as well as all of them, at a fraction of the cost.
    take = np.unique(np.linspace(0, p.shape[0] - 1, min(p.shape[0], _WRAP_SAMPLE)).astype(int))
    p, q = p[take], q[take]
    ok = np.all(np.isfinite(p) & np.isfinite(q), axis=-1)
    if not ok.any():
        return False
    p, q = p[ok], q[ok]
    steps = _distance(p[:, :-1], q[:, :-1], p[:, 1:], q[:, 1:])
    closing = _distance(p[:, -1], q[:, -1], p[:, 0], q[:, 0])
    turns = (np.sum(_wrapped(np.diff(q, axis=-1)), axis=-1) + _wrapped(q[:, 0] - q[:, -1])) / (2 * np.pi)
    closed = (closing <= 2 * np.median(steps, axis=-1)) & (np.abs(np.abs(turns) - 1) < 1e-6)
    return bool(np.mean(closed) > 0.5)


def _median_turn(lam, axis):
    return float(np.nanmedian(np.abs(_wrapped(np.diff(lam, axis=axis)))))


def _wrapped(dlam):
    return (dlam + np.pi) % (2 * np.pi) - np.pi


def _distance(p1, l1, p2, l2):
    """Great-circle distance in radians (haversine)."""
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _inverse_jacobian(phi, lam, stencils, axes, earth, skipna):
    """(e_i, e_j, n_i, n_j) from latitude and longitude in radians (numpy or dask).

    e = N cos(phi) lambda and n = M phi locally; d(lambda) comes from the
    stencil on sin and cos of the longitude, so that steps are taken modulo
    2 pi. NaN where the Jacobian is singular (a pole, collapsed cells).
    """
    s, c = np.sin(lam), np.cos(lam)

    def d(values, k):
        return differentiate(values, stencils[k], axes[k], skipna=skipna)

    M, N = _coords.radii_of_curvature(phi, *earth)
    hx = N * np.cos(phi)
    if is_dask_array(phi):
        east = [hx * (c * d(s, k) - s * d(c, k)) for k in (0, 1)]
        north = [M * d(phi, k) for k in (0, 1)]
        det = east[0] * north[1] - east[1] * north[0]
        # 1 / NaN instead of a division by zero (no warning, and NaN not inf).
        # Block by block: dask's expression backend (2026.8) has no where.
        inv = 1.0 / det.map_blocks(_zero_as_nan, dtype=det.dtype)
        return north[1] * inv, -north[0] * inv, -east[1] * inv, east[0] * inv
    # The same operations in the same order, in place: a grid of 4 million
    # points makes each temporary 32 MB of fresh pages.
    east = []
    for k in (0, 1):
        e, t = d(s, k), d(c, k)
        e *= c
        t *= s
        e -= t
        e *= hx
        east.append(e)
    del t, s, c
    north = []
    for k in (0, 1):
        n = d(phi, k)
        n *= M
        north.append(n)
    det = east[0] * north[1]
    det -= east[1] * north[0]
    det[det == 0] = np.nan
    inv = np.divide(1.0, det, out=det)
    for a in (*north, *east):
        a *= inv
    np.negative(north[0], out=north[0])
    np.negative(east[1], out=east[1])
    return north[1], north[0], east[1], east[0]


def _compiled_metric(phi, lam, stencils, earth):
    """:func:`_inverse_jacobian` of 2-D numpy coordinates in two compiled
    passes, split between threads: sin and cos of the longitude, then each
    point's six derivatives and its inverse Jacobian. The same operations in
    the same order (and so the same numbers, up to the last bit of the
    library's sin and cos)."""
    phi = np.ascontiguousarray(phi, dtype=np.float64)
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    n0, n1 = phi.shape
    s, c = np.empty_like(lam), np.empty_like(lam)
    in_shares(lambda a, b: _sin_cos(lam, s, c, a, b), n0, lam.size)
    rows = [axis_rows(st.weights, st.start, st.divisor, n) for st, n in zip(stencils, (n0, n1))]
    out = np.empty((4, n0, n1))
    a, b = (float(v) for v in earth)
    in_shares(lambda y0, y1: _jacobian_rows(phi, s, c, *rows[0], *rows[1], a, b, out, y0, y1), n0, phi.size)
    return tuple(out)


if HAVE_NUMBA:

    @njit(nogil=True)
    def _sin_cos(lam, s, c, y0, y1):  # pragma: no cover - compiled
        for y in range(y0, y1):
            for x in range(lam.shape[1]):
                s[y, x] = np.sin(lam[y, x])
                c[y, x] = np.cos(lam[y, x])

    @njit(nogil=True)
    def _jacobian_rows(phi, s, c, idx0, w0, d0, used0, idx1, w1, d1, used1, a, b, out, y0, y1):  # pragma: no cover
        # Rows y0 <= y < y1. The stencil sums in the kernel's order: a
        # quotient row's difference over its divisor, else the products of
        # the used slots added from the first.
        n1 = phi.shape[1]
        K1 = w1.shape[1]
        e2 = 1.0 - (b / a) ** 2
        gp, gs, gc = np.empty(n1), np.empty(n1), np.empty(n1)  # along axis 0
        for y in range(y0, y1):
            dv = d0[y]
            if dv == dv:
                lo, hi = idx0[y, used0[y, 0]], idx0[y, used0[y, 1]]
                for x in range(n1):
                    gp[x] = (phi[hi, x] - phi[lo, x]) / dv
                    gs[x] = (s[hi, x] - s[lo, x]) / dv
                    gc[x] = (c[hi, x] - c[lo, x]) / dv
            else:
                weighted_rows(phi, idx0, w0, y, 0, gp)
                weighted_rows(s, idx0, w0, y, 0, gs)
                weighted_rows(c, idx0, w0, y, 0, gc)
            for x in range(n1):
                dq = d1[x]
                if dq == dq:
                    i0, i1 = idx1[x, used1[x, 0]], idx1[x, used1[x, 1]]
                    p1 = (phi[y, i1] - phi[y, i0]) / dq
                    s1 = (s[y, i1] - s[y, i0]) / dq
                    c1 = (c[y, i1] - c[y, i0]) / dq
                else:
                    p1 = s1 = c1 = 0.0
                    started = False
                    for j in range(K1):
                        wj = w1[x, j]
                        if wj != wj:
                            continue
                        i = idx1[x, j]
                        if started:
                            p1 += wj * phi[y, i]
                            s1 += wj * s[y, i]
                            c1 += wj * c[y, i]
                        else:
                            p1, s1, c1 = wj * phi[y, i], wj * s[y, i], wj * c[y, i]
                            started = True
                ph = phi[y, x]
                if a == b:
                    M = a
                    N = a
                else:
                    w = 1.0 - e2 * np.sin(ph) ** 2
                    M = a * (1.0 - e2) / w**1.5
                    N = a / np.sqrt(w)
                hx = N * np.cos(ph)
                cy, sy = c[y, x], s[y, x]
                east0 = (gs[x] * cy - gc[x] * sy) * hx
                east1 = (s1 * cy - c1 * sy) * hx
                north0 = gp[x] * M
                north1 = p1 * M
                det = east0 * north1 - east1 * north0
                if det == 0.0:
                    det = np.nan
                inv = 1.0 / det
                out[0, y, x] = north1 * inv
                out[1, y, x] = -(north0 * inv)
                out[2, y, x] = -(east1 * inv)
                out[3, y, x] = east0 * inv


def _zero_as_nan(block):
    return np.where(block == 0, np.nan, block)


def _broadcastable(m, ndim, axes):
    """A grid array (2-D, over the grid dims in order) shaped to broadcast
    against data whose grid dims are on `axes`."""
    if axes[0] > axes[1]:
        m = m.T
    shape = [1] * ndim
    shape[min(axes)], shape[max(axes)] = m.shape
    return m.reshape(shape)


def _as_dask(m, data, axes):
    import dask.array as dsa

    b = _broadcastable(m, data.ndim, axes)
    chunks = tuple(data.chunks[k] if b.shape[k] != 1 else (1,) for k in range(data.ndim))
    return dsa.from_array(b, chunks=chunks)


# ---------------------------------------------------------------------------
# Applying the metric: east = e_i f_i + e_j f_j, north = n_i f_i + n_j f_j,
# in float64 and rounded once to the result's dtype


def _combine(fi, fj, a, b, dtype):
    out = a * fi
    out += b * fj
    return out.astype(dtype, copy=False)
