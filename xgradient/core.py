"""Array-level entry points: no labels, numpy or dask arrays."""

from __future__ import annotations

import dask
import numpy as np

from . import chunked, gaps, kernel
from .options import Options
from .stencil import Stencil, build_stencil

__all__ = ["differentiate", "gradient", "is_dask_array", "result_dtype"]


def is_dask_array(values) -> bool:
    """Whether `values` is a dask array (under either of dask's array backends).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> is_dask_array(np.zeros(2)), is_dask_array(da.zeros(2))
    (False, True)
    """
    return dask.is_dask_collection(values) and hasattr(values, "chunks")


def _check_not_other_chunked(values):
    """Refuse a chunked array that dask does not run (e.g. cubed), rather than load it whole.

    Chunked array types share dask's ``chunks`` layout, a tuple of block sizes
    per dimension (which is what xarray's chunk managers work with); storage
    arrays that numpy reads whole (h5py, zarr) give a flat tuple, or None.
    """
    chunks = getattr(values, "chunks", None)
    if isinstance(chunks, tuple) and chunks and all(isinstance(c, tuple) for c in chunks):
        kind = f"{type(values).__module__}.{type(values).__qualname__}"
        raise TypeError(
            f"cannot differentiate a chunked {kind}: xgradient runs chunked data with dask "
            "only, and will not load it whole; convert it to a dask array (or load it) first"
        )


def _check_known_chunks(values, axis):
    """Dask chunks of unknown size (NaN, after boolean indexing) cannot be
    matched with the coordinate, nor given halos: say how to learn them."""
    unknown = [i for i, sizes in enumerate(values.chunks) if any(c != c for c in sizes)]
    if unknown:
        which = f"axis {axis}" if axis in unknown else f"axis {unknown[0]}"
        raise ValueError(
            f"{which} of the dask array has chunks of unknown size (NaN, as after boolean "
            f"indexing), so the derivative along axis {axis} cannot be set up; call "
            ".compute_chunk_sizes() on the array first"
        )


def result_dtype(dtype) -> np.dtype:
    """The dtype of a derivative of data of `dtype`: numpy.gradient's.

    Floating and complex data keep their dtype (float16 stays float16,
    complex64 stays complex64), in native byte order; integers and booleans
    give float64.

    Raises
    ------
    TypeError
        For data that are not numbers (strings, datetimes, objects).

    Examples
    --------
    >>> result_dtype(np.float16), result_dtype(np.int32), result_dtype(">c8")
    (dtype('float16'), dtype('float64'), dtype('complex64'))
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc":
        raise TypeError(f"cannot differentiate data of dtype {dtype}: it must hold numbers")
    if dtype.kind in "fc":
        return dtype.newbyteorder("=")
    return np.dtype(np.float64)


def differentiate(values, stencil: Stencil, axis: int, skipna=False, scale=None):
    """Apply a prebuilt stencil along `axis` of a numpy or dask array.

    `scale` (numpy, shaped like the result with length 1 along `axis`, or
    broadcastable to that) multiplies the results in the kernel, before they
    are rounded; not with `skipna`.
    """
    if scale is not None and skipna:
        raise ValueError("scale is not applied with skipna")  # a bug, not a user error
    dask_input = is_dask_array(values)
    if not dask_input:
        _check_not_other_chunked(values)
        values = np.asarray(values)
    out_dtype = result_dtype(values.dtype)
    ndim = values.ndim
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    axis %= ndim
    if dask_input:
        _check_known_chunks(values, axis)
    if values.shape[axis] != stencil.size:
        raise ValueError(
            f"the coordinate has {stencil.size} values but axis {axis} of the data "
            f"has length {values.shape[axis]}"
        )
    if dask_input:
        return chunked.apply_dask(values, stencil, axis, out_dtype, skipna=skipna, scale=scale)
    if not skipna:
        if stencil.period is None:
            return kernel.apply(
                values, stencil.weights, stencil.start, axis=axis, scale=scale, divisor=stencil.divisor
            )
        # Wrapped: the other end's points are the halos (views, no copy).
        h = stencil.halo
        left = values[(slice(None),) * axis + (slice(-h, None),)]
        right = values[(slice(None),) * axis + (slice(0, h),)]
        return kernel.apply(
            values, stencil.weights, stencil.start + h, axis=axis, left=left, right=right, scale=scale,
            divisor=stencil.divisor,
        )
    if stencil.period is None:
        out = kernel.apply(values, stencil.weights, stencil.start, axis=axis)
        return gaps.fill(values, out, stencil.coord, 0, stencil, axis)
    # Wrapped: pad with the other end, so gaps across the seam are seen.
    d = gaps.halo_width(stencil)
    pad = [(0, 0)] * values.ndim
    pad[axis] = (d, d)
    ext = np.pad(values, pad, mode="wrap")
    out = kernel.apply(ext, stencil.weights, stencil.start + d, axis=axis)
    return gaps.fill(ext, out, stencil.positions(-d, stencil.size + d), d, stencil, axis)


def gradient(
    values, coord_values, axis=-1, *, edge_order=1, accuracy=2, periodic=None, skipna=False
):
    """Derivative of a numpy or dask array along one axis, given the coordinate.

    Parameters
    ----------
    values : numpy.ndarray or dask.array.Array
        Data to differentiate.
    coord_values : array_like, 1-D
        Coordinate values along `axis` (strictly monotonic, any spacing).
    axis : int, default -1
        Axis of `values` that `coord_values` labels.
    edge_order : {1, 2}, default 1
        Accuracy of the one-sided differences at the ends (as ``numpy.gradient``).
    accuracy : {2, 4, 6}, default 2
        Order of accuracy of the interior stencil (Fornberg weights on the
        actual, nonuniform points); the ends use one-sided stencils of the
        same order when accuracy > 2.
    periodic : None, bool or float, default None
        ``True`` wraps with period 360, a number wraps with that period;
        ``None`` and ``False`` do not wrap (detecting a global longitude needs
        labels: use the ``.grad`` accessor for that).
    skipna : bool, default False
        Treat NaN as boundaries: a valid point beside a NaN uses a one-sided
        difference from its valid side (see :mod:`xgradient.gaps`).

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Same shape as `values`; float32 for float32 input, else float64. A
        dask input gives a lazy dask array.

    Examples
    --------
    >>> import numpy as np, xgradient
    >>> depth = np.array([0.0, 10.0, 30.0, 60.0])
    >>> xgradient.gradient(depth**2, depth)
    array([10., 20., 60., 90.])
    >>> np.allclose(xgradient.gradient(depth**2, depth), np.gradient(depth**2, depth))
    True
    """
    options = Options(edge_order=edge_order, accuracy=accuracy, periodic=periodic, skipna=skipna)
    stencil = build_stencil(
        coord_values, edge_order=edge_order, accuracy=accuracy, period=options.period
    )
    return differentiate(values, stencil, axis, skipna=skipna)
