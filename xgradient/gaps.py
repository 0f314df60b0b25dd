"""``skipna``: missing values (NaN) act as boundaries.

After the ordinary stencil has run, a valid cell whose result is NaN (its
stencil reached a NaN) gets a new stencil built from the valid cells around
it, by the rule used at the ends of an array: the ``K`` nearest valid points
on its side of the gap (``K = accuracy + 1``), or all of them when the gap
leaves fewer; with ``accuracy=2, edge_order=1`` a one-sided first derivative
uses two points, as ``numpy.gradient`` does at the ends. A valid cell with
NaN on both sides (or, for a second derivative, fewer than three valid points
in a row) stays NaN.

Only the cells next to gaps are visited, so the cost grows with the length of
the coastline, not with the size of the field. The weights come from the
same Fornberg routine as every other stencil.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._compat import njit, numba
from .stencil import Stencil, fornberg_weights

__all__ = ["StencilShape", "fill", "halo_width"]


class StencilShape(NamedTuple):
    """What `fill` needs of a stencil: its shape and options, not its weights
    (small, so that every dask task can carry it)."""

    width: int
    halo: int
    order: int
    accuracy: int
    edge_order: int
    scale: float

    @classmethod
    def of(cls, stencil: Stencil) -> StencilShape:
        return cls(
            stencil.width,
            stencil.halo,
            stencil.order,
            stencil.accuracy,
            stencil.edge_order,
            stencil.scale,
        )


def halo_width(stencil) -> int:
    """Points a stencil beside a gap may need on either side of its cell: the
    halo that blocks of a dask array need with ``skipna``.

    Examples
    --------
    >>> from xgradient.stencil import build_stencil
    >>> halo_width(build_stencil([0.0, 1.0, 2.0, 3.0, 4.0], accuracy=4))
    4
    """
    return stencil.width - 1


def fill(values, out, positions, left, stencil, axis):
    """Replace NaN results next to gaps, in place.

    Parameters
    ----------
    values : ndarray
        The input the stencil ran on (``m`` points along `axis`).
    out : ndarray
        Its result, ``rows`` points along `axis`; row ``r`` belongs to input
        point ``r + left``.
    positions : ndarray, shape (m,)
        Coordinate value of each input point (unwrapped across a period).
        The first and last points are the ends of the data: at least
        ``halo_width(stencil)`` points beyond any output row, unless they are the
        real ends of the coordinate.
    left : int
        Input points before the first output row.
    stencil : Stencil or StencilShape
        Gives the derivative order, accuracy, edge order and scale.
    axis : int
    """
    # Flat indices into C-ordered arrays: a gap cell's neighbours along the
    # axis are `stride` elements apart, so each look-up is a 1-D take.
    f = _compilable(np.ascontiguousarray(values)).reshape(-1)
    res = out.view()
    res.shape = (-1,)  # a view of the kernel's C-contiguous output (raises, never copies)
    m = values.shape[axis]
    rows = out.shape[axis]
    stride = int(np.prod(values.shape[axis + 1 :], dtype=np.int64))
    at_out = _nan_results(f.reshape(-1, m, stride), _compilable(res).reshape(-1, rows, stride), left)
    if not at_out.size:
        return out
    # Row along the axis, and the flat index of the same cell in the input.
    outer, r = np.divmod(at_out // stride, rows)
    c = r + left
    at_in = at_out + (outer * (m - rows) + left) * stride
    K = stencil.width

    def run(step):
        """Consecutive valid points beside each cell, up to K - 1."""
        count = np.zeros(c.shape, dtype=np.int64)
        going = np.ones(c.shape, dtype=bool)
        for d in range(1, K):
            inside = (c + step * d >= 0) & (c + step * d < m)
            going &= inside
            going[going] = ~np.isnan(f[at_in[going] + step * d * stride])
            count += going
        return count

    L, R = run(-1), run(+1)
    span = L + R + 1
    size = np.minimum(K, span)
    one_sided = (L == 0) | (R == 0)
    if stencil.order == 1 and stencil.accuracy == 2 and stencil.edge_order == 1:
        size = np.where(one_sided, np.minimum(2, span), size)
    least = stencil.order + 1
    first = np.clip(c - stencil.halo, c - L, c + R - size + 1)
    for k in np.unique(size):
        if k < least:
            continue  # too few valid points: stays NaN
        sel = size == k
        nodes = first[sel, None] + np.arange(k)
        offsets = positions[nodes] - positions[c[sel], None]
        w = fornberg_weights(offsets, stencil.order) * stencil.scale
        points = f[at_in[sel, None] + (nodes - c[sel, None]) * stride]
        res[at_out[sel]] = np.sum(w * points, axis=-1)
    return out


def _compilable(a):
    """`a` in a dtype the compiled scan takes: native byte order (netCDF data
    may be big-endian), float16 as float32 (numba has no float16; exact)."""
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:
        return a.astype(np.float32)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


def _nan_results_numpy(f, out, left):
    """Flat indices into `out` (outer, rows, inner) of NaN results on valid cells.

    Row ``r`` of `out` belongs to point ``r + left`` of `f` (outer, m, inner).
    """
    centre = f[:, left : left + out.shape[1], :]
    # For booleans, a > b is "a and not b".
    return np.flatnonzero(np.greater(np.isnan(out), np.isnan(centre)))


_nan_results = _nan_results_numpy

if numba is not None:

    @njit(nogil=True)
    def _nan_results(f, out, left):  # pragma: no cover - compiled
        # One pass over the result and the input, in runs of 64 cells: a run
        # without a hit (most of them) costs one vectorised count.
        found = np.empty(1024, np.int64)
        n = 0
        outer, rows, inner = out.shape
        for o in range(outer):
            for r in range(rows):
                res, val = out[o, r], f[o, r + left]
                base = (o * rows + r) * inner
                for i0 in range(0, inner, 64):
                    a, b = res[i0 : i0 + 64], val[i0 : i0 + 64]
                    hits = 0
                    for i in range(np.uint64(a.shape[0])):  # unsigned: it vectorises
                        hits += (a[i] != a[i]) & (b[i] == b[i])
                    if hits == 0:
                        continue
                    if n + hits > found.shape[0]:
                        grown = np.empty(2 * (n + hits), np.int64)
                        grown[:n] = found[:n]
                        found = grown
                    for i in range(a.shape[0]):
                        if a[i] != a[i] and b[i] == b[i]:
                            found[n] = base + i0 + i
                            n += 1
        return found[:n].copy()
