"""Array-level entry points: no labels, numpy or dask arrays."""

from __future__ import annotations

import operator

import dask
import numpy as np

from . import chunked, gaps, kernel
from .options import Options
from .stencil import Stencil, build_stencil, numpy_stencil

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


def _unlabelled(values):
    """The array inside an xarray object, as it is (a dask array stays lazy)."""
    import xarray as xr

    return values.data if isinstance(values, (xr.DataArray, xr.Variable)) else values


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
    values = _unlabelled(values)
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


def _axes(axis, ndim) -> tuple[int, ...]:
    """numpy's reading of `axis`: None for all, an int, or a tuple of distinct ints."""
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, (tuple, list)):
        axis = [operator.index(axis)]
    axes = []
    for a in axis:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in `axis` argument: {tuple(axis)}")
    return tuple(axes)


def _spacings(f, varargs, axes):
    """One spacing per axis, as numpy.gradient reads its positional arguments:
    none (unit spacing), one scalar for every axis, or one per axis, each a
    scalar or a 1-D coordinate as long as its axis."""
    n = len(varargs)
    if n == 0:
        return [1.0] * len(axes)
    if n == 1 and np.ndim(varargs[0]) == 0:
        return list(varargs) * len(axes)
    if n != len(axes):
        raise TypeError(
            f"invalid number of arguments: {n} spacings for {len(axes)} "
            f"ax{'is' if len(axes) == 1 else 'es'} {axes} (give none, one scalar, or one per axis)"
        )
    spacings = list(varargs)
    for i, (ax, spacing) in enumerate(zip(axes, spacings)):
        if np.ndim(spacing) == 0:
            continue
        if is_dask_array(spacing):
            spacing = spacing.compute()  # a coordinate is small; the stencil needs its values now
        spacing = np.asanyarray(spacing)
        if spacing.ndim != 1:
            raise ValueError(
                "distances must be either scalars or 1d: the coordinate for "
                f"axis {ax} has shape {spacing.shape}, it must be 1-D"
            )
        if len(spacing) != f.shape[ax]:
            raise ValueError(
                "when 1d, distances must match the length of the corresponding dimension: "
                f"the coordinate has {len(spacing)} values but axis {ax} of the data has "
                f"length {f.shape[ax]}"
            )
        spacings[i] = spacing
    return spacings


def _is_quantity(x):
    """A pint-like quantity: a magnitude and units (xarray objects have neither)."""
    return hasattr(x, "magnitude") and hasattr(x, "units") and hasattr(x, "to")


def _magnitude(x):
    return x.magnitude if _is_quantity(x) else x


def _with_units(results, f, varargs, quantity):
    """`results` (one array or a tuple, per axis) as quantities of `quantity`'s
    type: the units of a difference of `f` (``delta_degC`` for ``degC``) over
    those of each axis's spacing, as numpy.gradient gives them for pint
    quantities (and ``1/s`` for plain data over seconds, where pint's own
    numpy.gradient says dimensionless)."""
    one = quantity(1.0, f.units) if _is_quantity(f) else quantity(1.0, "")
    delta = (one - one).units if _is_quantity(f) else one.units
    several = isinstance(results, tuple)
    results = results if several else (results,)
    steps = list(varargs) if len(varargs) > 1 else list(varargs) * len(results)
    out = []
    for k, r in enumerate(results):
        units = delta / steps[k].units if k < len(steps) and _is_quantity(steps[k]) else delta
        out.append(quantity(r, units))
    return tuple(out) if several else out[0]


def gradient(f, *varargs, axis=None, edge_order=1, accuracy=2, periodic=None, skipna=False):
    """Derivatives of a numpy or dask array: ``numpy.gradient``, faster, plus options.

    A drop-in for :func:`numpy.gradient`: the same arguments, return and
    errors, and with the defaults the same numbers, bit for bit, in the same
    dtype. The keywords after `edge_order` go beyond numpy.

    Parameters
    ----------
    f : array_like or dask.array.Array
        Data to differentiate. A dask array gives a lazy result; a pint
        quantity gives quantities (see Notes).
    *varargs : scalars or 1-D arrays, optional
        Spacing, as in numpy: none (unit spacing), one scalar for every
        axis, or one per axis in `axis`, each a scalar step or the
        coordinate values along that axis (any spacing; strictly monotonic),
        pint quantities too.
    axis : None, int or tuple of ints, default None
        Axes to differentiate along; None means every axis.
    edge_order : {1, 2}, default 1
        Accuracy of the one-sided differences at the ends.
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
    numpy.ndarray or dask.array.Array, or a tuple of them
        One array per axis, shaped like `f`: a single array when one axis
        is differentiated, else a tuple in the order of `axis`. The dtype is
        numpy's: floating and complex data keep theirs, integers give
        float64.

    Raises
    ------
    TypeError
        A wrong number of spacings, or data or coordinates that are not numbers.
    ValueError
        A coordinate that is not 1-D, not as long as its axis, not strictly
        monotonic or not finite; a zero or non-finite scalar spacing; too few
        points; options out of range.
    numpy.exceptions.AxisError
        An axis out of range.

    Notes
    -----
    Masked arrays and datetime64/timedelta64 data are handed to
    :func:`numpy.gradient` itself (with the default options only). Booleans
    count as 0 and 1 (numpy refuses to subtract them). When the data or a
    spacing is a pint quantity, each result is a quantity in the units of a
    difference of the data (``delta_degC`` for ``degC``) over those of its
    axis's spacing.

    Examples
    --------
    >>> import numpy as np, xgradient
    >>> depth = np.array([0.0, 10.0, 30.0, 60.0])
    >>> xgradient.gradient(depth**2, depth)
    array([10., 20., 60., 90.])
    >>> f = np.array([[1.0, 2.0, 4.0], [2.0, 5.0, 9.0]])
    >>> dy, dx = xgradient.gradient(f, 2.0, [0.0, 1.0, 3.0])
    >>> dx
    array([[1.        , 1.        , 1.        ],
           [3.        , 2.66666667, 2.        ]])
    >>> all(np.array_equal(a, b) for a, b in zip((dy, dx), np.gradient(f, 2.0, [0.0, 1.0, 3.0])))
    True
    """
    options = Options(edge_order=edge_order, accuracy=accuracy, periodic=periodic, skipna=skipna)
    quantities = [x for x in (f, *varargs) if _is_quantity(x)]
    if quantities:
        plain = gradient(
            _magnitude(f), *map(_magnitude, varargs), axis=axis, edge_order=edge_order,
            accuracy=accuracy, periodic=periodic, skipna=skipna,
        )
        return _with_units(plain, f, varargs, type(quantities[0]))
    edge_order, accuracy, skipna, period = (
        options.edge_order, options.accuracy, options.skipna, options.period
    )
    plain = accuracy == 2 and period is None and not skipna
    f = _unlabelled(f)
    if not is_dask_array(f):
        _check_not_other_chunked(f)
        f = np.asanyarray(f)
    if isinstance(f, np.ma.MaskedArray) or f.dtype.kind in "mM":
        if not plain:
            raise TypeError(
                f"{'masked arrays' if isinstance(f, np.ma.MaskedArray) else f'data of dtype {f.dtype}'} "
                "are differentiated by numpy.gradient, without accuracy, periodic or skipna"
            )
        return np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    dtype = result_dtype(f.dtype)  # TypeError for data that are not numbers
    axes = _axes(axis, f.ndim)
    if is_dask_array(f):
        for ax in axes:
            _check_known_chunks(f, ax)
    spacings = _spacings(f, varargs, axes)
    out = []
    for ax, spacing in zip(axes, spacings):
        n = f.shape[ax]
        if n < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, at least "
                f"(edge_order + 1) elements are required: axis {ax} has {n} point"
                f"{'s' if n != 1 else ''}; edge_order={edge_order} needs at least {edge_order + 1}"
            )
        if np.ndim(spacing) == 0:
            if isinstance(spacing, np.ndarray):
                spacing = spacing[()]
            step = float(spacing)
            if not np.isfinite(step) or step == 0:
                raise ValueError(f"the spacing along axis {ax} must be finite and non-zero, got {spacing!r}")
            if plain:
                stencil = numpy_stencil(n, spacing, edge_order, dtype=dtype)
            else:
                stencil = build_stencil(
                    np.arange(n) * step, edge_order=edge_order, accuracy=accuracy, period=period
                )
        else:
            stencil = build_stencil(
                spacing,
                edge_order=edge_order,
                accuracy=accuracy,
                period=period,
                name=f"axis {ax}",
            )
        out.append(differentiate(f, stencil, ax, skipna=skipna))
    return out[0] if len(out) == 1 else tuple(out)
