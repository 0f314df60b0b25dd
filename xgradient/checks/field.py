"""Check hand-written derivatives at every point of a labelled grid.

The point check of :mod:`xgradient.checks.point`, vectorised over the grid's
points; a dask-backed grid gives a lazy result, one task per block.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .coordinates import stacked_functions, step_vector
from .method import DEFAULT_RTOL, gradient_errors, hessian_errors

__all__ = ["check_gradient_field", "check_hessian_field"]


def _grid_names(grid, names):
    if not isinstance(grid, (xr.Dataset, xr.DataArray)):
        raise TypeError(f"grid must be an xarray Dataset or DataArray, got {type(grid).__name__}")
    if names is None:
        dims = grid.dims if isinstance(grid, xr.DataArray) else list(grid.coords)
        names = [d for d in dims if d in grid.coords and grid[d].dims == (d,)]
        if not names:
            raise ValueError("the grid has no dimension coordinates; pass names=[...]")
    names = tuple(names)
    for nm in names:
        if nm not in grid.coords and nm not in getattr(grid, "data_vars", {}):
            raise ValueError(f"{nm!r} is not a coordinate of the grid; it has {list(grid.coords)}")
        if grid[nm].dtype.kind not in "iuf":
            raise TypeError(f"coordinate {nm!r} is not numeric (dtype {grid[nm].dtype})")
    return names


def _grid_arrays(grid, names, chunks):
    """The coordinates in `names`, broadcast together and chunked alike."""
    arrays = xr.broadcast(*[grid[nm].reset_coords(drop=True) for nm in names])
    if chunks is None and not any(a.chunks for a in arrays):
        try:
            sizes = grid.chunksizes
        except ValueError:  # inconsistent chunks across variables
            sizes = {}
        chunks = {d: c for d, c in sizes.items() if d in arrays[0].dims} or None
    if chunks is not None:
        arrays = [a.chunk(chunks) for a in arrays]
    if any(a.chunks for a in arrays):
        # The first chunking met along each dimension, for all. Not
        # xr.unify_chunks: under dask's expression backend (2026.8) it drops
        # the chunks.
        common = {}
        for a in arrays:
            for d, c in zip(a.dims, a.chunks or ()):
                common.setdefault(d, c)
        arrays = [a.chunk({d: common[d] for d in a.dims if d in common}) for a in arrays]
    return arrays


def _on_every_point(at_points, grid, names, chunks, extra_dims, name, long_name, rtol):
    """Evaluate `at_points(x) -> (*pts, *extra)` on every point of the grid.

    `x` has shape ``(n, *pts)``; each extra dimension has length n.
    """
    arrays = _grid_arrays(grid, names, chunks)
    dims = arrays[0].dims
    n = len(names)

    def block(*values):
        return at_points(np.stack(np.broadcast_arrays(*values)).astype(float))

    if arrays[0].chunks:
        import dask.array

        datas = [a.data for a in arrays]
        ndim = len(dims) + len(extra_dims)
        # meta is given so that building the graph calls nothing of the user's.
        data = dask.array.map_blocks(
            block, *datas, dtype=float, meta=np.empty((0,) * ndim),
            new_axis=list(range(len(dims), ndim)) or None,
            chunks=datas[0].chunks + ((n,),) * len(extra_dims),
        )
    else:
        data = block(*[np.asarray(a.data) for a in arrays])
    coords = dict(arrays[0].coords)
    for nm, a in zip(names, arrays):
        if nm not in dims:  # e.g. 2-D latitude of a curvilinear grid
            coords[nm] = (dims, a.data)
    for d in extra_dims:
        coords[d] = list(names)
    return xr.DataArray(
        data, dims=dims + extra_dims, coords=coords, name=name,
        attrs={"long_name": long_name, "units": "1", "rtol": rtol},
    )


def check_hessian_field(grad, hess, grid, *, names=None, step=None, rtol=DEFAULT_RTOL,
                        chunks=None, per_entry=False):
    """Check an analytic Hessian at every point of a labelled grid.

    The point-wise test of :func:`check_hessian`, vectorised: `grad` and
    `hess` are called with whole arrays of coordinates (one block at a time),
    so they must work elementwise on numpy arrays.  With a dask-backed grid,
    or `chunks`, the result is lazy and computed block by block with
    :func:`dask.array.map_blocks`.
    Also importable as ``xgradient.check_hessian_field``, an alias kept for
    compatibility.

    Parameters
    ----------
    grad : callable
        ``grad(**coords)`` returning a mapping ``name -> array`` or a sequence
        of arrays in the order of `names`.
    hess : callable
        ``hess(**coords)`` returning a mapping ``{(a, b): array}`` (a missing
        ``(b, a)`` mirrors ``(a, b)``; pairs in neither order count as zero)
        or a nested ``n x n`` sequence.  Constant entries may be scalars.
    grid : xarray.Dataset or xarray.DataArray
        The points: the coordinates in `names`, broadcast against each other
        (2-D coordinates of curvilinear grids work too).
    names : sequence of str, optional
        Coordinates passed to the functions.  Default: the grid's dimension
        coordinates.
    step : float, sequence or mapping, optional
        Absolute step per coordinate.  Default ``eps**(1/3) * (1 + |x|)``
        at each point.
    rtol : float, optional
        As in :func:`check_hessian`.
    chunks : mapping, optional
        Dask chunks per dimension.  Default: the grid's own chunks, if any.
    per_entry : bool, optional
        If True, return the error of every entry, with extra dimensions
        ``row`` and ``column`` labelled by `names`.

    Returns
    -------
    xarray.DataArray
        ``hessian_error``: the worst relative error beyond the
        finite-difference uncertainty at each point (or per entry); the
        check passes where it is ``<= rtol`` (stored as ``attrs["rtol"]``).
        NaN where the functions returned NaN.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xgradient.checks import check_hessian_field
    >>> grid = xr.Dataset(coords={"lat": np.linspace(-1.2, 1.2, 25),
    ...                           "lon": np.linspace(0.1, 3.0, 30)})
    >>> def grad(lat, lon):
    ...     return {"lat": -np.sin(lat) * np.sin(2 * lon), "lon": 2 * np.cos(lat) * np.cos(2 * lon)}
    >>> def hess(lat, lon):
    ...     return {("lat", "lat"): -np.cos(lat) * np.sin(2 * lon),
    ...             ("lat", "lon"): -2 * np.sin(lat) * np.cos(2 * lon),
    ...             ("lon", "lon"): -4 * np.cos(lat) * np.sin(2 * lon)}
    >>> err = check_hessian_field(grad, hess, grid, chunks={"lat": 10})
    >>> err.dims, err.chunks is not None
    (('lat', 'lon'), True)
    >>> bool((err <= err.rtol).all())
    True
    """
    names = _grid_names(grid, names)
    step = step_vector(step, names, len(names))
    _, g, H = stacked_functions(names, {}, grad, hess)

    def at_points(x):
        err = hessian_errors(g, H, x, step)["error"]
        return np.moveaxis(err, (0, 1), (-2, -1)) if per_entry else err.max(axis=(0, 1))

    return _on_every_point(
        at_points, grid, names, chunks, ("row", "column") if per_entry else (),
        "hessian_error", "relative error of the Hessian beyond finite-difference uncertainty", rtol,
    )


def check_gradient_field(fun, grad, grid, *, names=None, step=None, rtol=DEFAULT_RTOL,
                         chunks=None, per_component=False):
    """Check an analytic gradient at every point of a labelled grid.

    The point-wise test of :func:`check_gradient`, vectorised and, for a
    dask-backed grid or with `chunks`, lazy; see :func:`check_hessian_field`.
    Also importable as ``xgradient.check_gradient_field``, an alias kept for
    compatibility.

    Parameters
    ----------
    fun : callable
        ``fun(**coords) -> array``, elementwise.
    grad : callable
        ``grad(**coords)`` returning a mapping ``name -> array`` or a sequence
        of arrays in the order of `names`.
    grid, names, step, rtol, chunks
        As in :func:`check_hessian_field`.
    per_component : bool, optional
        If True, return the error of every component, with an extra
        dimension ``component`` labelled by `names`.

    Returns
    -------
    xarray.DataArray
        ``gradient_error``: the worst relative error beyond the
        finite-difference uncertainty at each point; the check passes where
        it is ``<= rtol``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xgradient.checks import check_gradient_field
    >>> grid = xr.Dataset(coords={"lat": np.linspace(-1.2, 1.2, 5), "lon": np.linspace(0.1, 3, 6)})
    >>> T = lambda lat, lon: np.cos(lat) * np.sin(2 * lon)
    >>> dT = lambda lat, lon: {"lat": -np.sin(lat) * np.sin(2 * lon), "lon": np.cos(lat) * np.cos(2 * lon)}
    >>> err = check_gradient_field(T, dT, grid, per_component=True)
    >>> bool((err.sel(component="lat") <= err.rtol).all()), bool((err.sel(component="lon") > err.rtol).all())
    (True, True)
    """
    names = _grid_names(grid, names)
    step = step_vector(step, names, len(names))
    keywords, g, _ = stacked_functions(names, {}, grad)

    def f(x):
        return np.broadcast_to(np.asarray(fun(**keywords(x))), x.shape[1:])

    def at_points(x):
        err = gradient_errors(f, g, x, step)["error"]
        return np.moveaxis(err, 0, -1) if per_component else err.max(axis=0)

    return _on_every_point(
        at_points, grid, names, chunks, ("component",) if per_component else (),
        "gradient_error", "relative error of the gradient beyond finite-difference uncertainty", rtol,
    )
