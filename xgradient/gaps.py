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

from .stencil import Stencil, fornberg_weights

__all__ = ["Rule", "fill", "reach"]


class Rule(NamedTuple):
    """What `fill` needs of a stencil: its shape and options, not its weights
    (small, so that every dask task can carry it)."""

    width: int
    halo: int
    order: int
    accuracy: int
    edge_order: int
    scale: float

    @classmethod
    def of(cls, stencil: Stencil) -> Rule:
        return cls(
            stencil.width,
            stencil.halo,
            stencil.order,
            stencil.accuracy,
            stencil.edge_order,
            stencil.scale,
        )


def reach(stencil) -> int:
    """Points a gap-side stencil may need on either side of its cell."""
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
        ``reach(stencil)`` points beyond any output row, unless they are the
        real ends of the coordinate.
    left : int
        Input points before the first output row.
    stencil : Stencil or Rule
        Gives the derivative order, accuracy, edge order and scale.
    axis : int
    """
    # Flat indices into C-ordered arrays: a gap cell's neighbours along the
    # axis are `stride` elements apart, so each look-up is a 1-D take.
    f = np.ascontiguousarray(values).reshape(-1)
    res = out.view()
    res.shape = (-1,)  # a view of the kernel's C-contiguous output (raises, never copies)
    m = values.shape[axis]
    rows = out.shape[axis]
    stride = int(np.prod(values.shape[axis + 1 :], dtype=np.int64))
    missing = np.isnan(f)
    centre = missing.reshape(values.shape)[(slice(None),) * axis + (slice(left, left + rows),)]
    # NaN result on a valid cell: for booleans, a > b is "a and not b".
    at_out = np.flatnonzero(np.greater(np.isnan(out), centre))
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
            going[going] = ~missing[at_in[going] + step * d * stride]
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
