"""Functions of named coordinates, turned into functions of one stacked array.

A geoscientist writes ``T(lat, lon)`` and its derivatives as mappings by
coordinate name; the method (:mod:`xgradient.checks.method`) wants functions
of ``x (n, *pts)``.  This module translates both ways and validates what the
user's functions return, naming the function and the coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

__all__ = ["checked_shape", "parse_point", "step_vector", "stacked_functions"]


def parse_point(x, names):
    """The point as ``(names, values (n,), fixed keywords)``.

    `fixed` holds the entries of a mapping that are passed through unchanged,
    and is None when `x` is a plain vector (the functions then take ``x``).
    """
    if isinstance(x, (xr.Dataset, xr.DataArray)):
        scalars = [k for k, c in x.coords.items() if c.ndim == 0 and c.dtype.kind in "iuf"]
        names = tuple(scalars if names is None else names)
        for nm in names:
            if nm not in x.coords or x.coords[nm].ndim != 0:
                raise ValueError(f"{nm!r} is not a scalar coordinate of the point; scalar coordinates: {scalars}")
        if not names:
            raise ValueError("the point has no numeric scalar coordinates; pass names=[...]")
        return names, np.array([float(x.coords[nm]) for nm in names]), {}
    if isinstance(x, Mapping):
        names = tuple(x if names is None else names)
        if not names:
            raise ValueError("the point has no coordinates")
        unknown = [nm for nm in names if nm not in x]
        if unknown:
            raise ValueError(f"{unknown} not in the point; it has {list(x)}")
        fixed = {k: v for k, v in x.items() if k not in names}
        return names, np.array([float(x[nm]) for nm in names]), fixed
    values = np.array(x, dtype=float)
    if values.ndim != 1 or values.size < 1:
        raise ValueError(f"x must be a non-empty 1-D array or a mapping of coordinates, got shape {values.shape}")
    if names is not None:
        names = tuple(names)
        if len(names) != values.size:
            raise ValueError(f"{len(names)} names given for {values.size} variables")
    return names, values, None


def step_vector(step, names, n):
    """`step` as None, a scalar, or one value per variable in the order of `names`."""
    if isinstance(step, Mapping):
        missing = [nm for nm in (names or ()) if nm not in step]
        if names is None or missing:
            raise ValueError(f"a step mapping needs a step for every coordinate; missing {missing}")
        return np.array([float(step[nm]) for nm in names])
    if step is None or np.ndim(step) == 0:
        return step
    step = np.asarray(step, dtype=float)
    if step.shape != (n,):
        raise ValueError(f"step must be a scalar or have one value per variable ({n}), got shape {step.shape}")
    return step


def checked_shape(result, shape, function_name):
    """`result` as an array, or an error naming the function and both shapes."""
    arr = np.asarray(result)
    if arr.shape != shape:
        raise ValueError(f"{function_name} returned shape {arr.shape}, expected {shape}")
    return arr


def stacked_functions(names, fixed, grad, hess=None):
    """Wrap functions of keyword coordinates into functions of ``x (n, *pts)``.

    Returns ``(keywords, gradient, hessian)``: ``keywords(x)`` is the keyword
    arguments for the user's functions at `x`; ``gradient(x)`` has shape
    ``(n, *pts)`` and ``hessian(x)`` shape ``(n, n, *pts)``, rows and columns
    in the order of `names`.
    """
    known = set(names) | set(fixed)

    def keywords(x):
        return {**fixed, **{nm: x[k] for k, nm in enumerate(names)}}

    def gradient(x):
        return _named_vector(grad(**keywords(x)), names, x.shape[1:], "grad")

    def hessian(x):
        return _named_matrix(hess(**keywords(x)), names, x.shape[1:], known, "hess")

    return keywords, gradient, hessian


def _stack(items, shape):
    return np.stack([np.broadcast_to(np.asarray(v), shape) for v in items])


def _named_vector(result, names, shape, function_name):
    if isinstance(result, Mapping):
        missing = [nm for nm in names if nm not in result]
        if missing:
            raise ValueError(f"{function_name} returned no value for {missing}; it returned {list(result)}")
        return _stack([result[nm] for nm in names], shape)
    items = list(result)
    if len(items) != len(names):
        raise ValueError(
            f"{function_name} returned {len(items)} values, expected {len(names)} (one per {list(names)})"
        )
    return _stack(items, shape)


def _named_matrix(result, names, shape, known, function_name):
    n = len(names)
    H = np.zeros((n, n) + shape)
    if isinstance(result, Mapping):
        index = {nm: k for k, nm in enumerate(names)}
        given = np.zeros((n, n), dtype=bool)
        for key, v in result.items():
            if not (isinstance(key, tuple) and len(key) == 2 and all(k in known for k in key)):
                raise ValueError(
                    f"{function_name} returned an entry for {key!r}; keys must be pairs of the "
                    f"coordinate names {sorted(known)}"
                )
            if key[0] in index and key[1] in index:
                i, j = index[key[0]], index[key[1]]
                H[i, j] = np.broadcast_to(np.asarray(v, dtype=float), shape)
                given[i, j] = True
        # A symmetric partner that was not given mirrors the one that was;
        # pairs not given at all count as zero (the check flags them if not).
        mirror = ~given & given.T
        H[mirror] = H.transpose((1, 0) + tuple(range(2, H.ndim)))[mirror]
        return H
    rows = list(result)
    if len(rows) != n or any(len(row) != n for row in rows):
        raise ValueError(f"{function_name} must return an {n} x {n} array (rows and columns {list(names)})")
    for i, row in enumerate(rows):
        H[i] = _stack(row, shape)
    return H
