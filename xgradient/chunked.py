"""Apply a stencil to a dask array, block by block, lazily.

The halo exchange is dask's own overlap (the machinery under
``dask.array.map_overlap``): ``boundary='none'`` at the ends of an open
coordinate, ``'periodic'`` for a wrapped one. The kernel then runs once per
block through ``dask.array.blockwise``, which lets each block's task take its
own rows of the stencil from a small per-block array (``map_overlap`` itself
can only hand every task the same extra arguments, i.e. the whole coordinate's
weights; with a long coordinate split into many chunks that would make the
graph grow like chunks x coordinate length).
"""

from __future__ import annotations

import dask.array as da
import numpy as np
from dask.base import tokenize

from . import gaps, kernel
from .stencil import Stencil

__all__ = ["apply_dask", "axis_chunks"]


def axis_chunks(chunks, smallest, smallest_end) -> tuple[int, ...]:
    """Merge chunks along the differentiated axis until they are big enough.

    Every chunk gets at least `smallest` points (the halo dask copies from a
    neighbour must exist) and the first and last at least `smallest_end` (they
    hold the one-sided end stencils whole). Chunks that are already big enough
    are left as they are.

    Examples
    --------
    >>> axis_chunks((1, 1, 1, 5, 1, 1), smallest=1, smallest_end=3)
    (3, 7)
    >>> axis_chunks((4, 4), smallest=1, smallest_end=3)
    (4, 4)
    """
    merged: list[int] = []
    pending = 0
    for size in chunks:
        pending += size
        need = smallest_end if not merged else smallest
        if pending >= need:
            merged.append(pending)
            pending = 0
    if pending:
        if merged:
            merged[-1] += pending
        else:
            merged.append(pending)
    while len(merged) > 1 and merged[-1] < smallest_end:
        last = merged.pop()
        merged[-1] += last
    return tuple(merged)


def _per_block(name, blocks):
    """A dask array whose block b is the literal array blocks[b] (no task)."""
    rest = blocks[0].shape[1:]
    dsk = {(name, b) + (0,) * len(rest): block for b, block in enumerate(blocks)}
    chunks = (tuple(len(block) for block in blocks),) + tuple((s,) for s in rest)
    return da.Array(dsk, name, chunks=chunks, dtype=blocks[0].dtype)


def _split(rows, chunks):
    edges = np.cumsum((0,) + tuple(chunks))
    return [rows[a:b] for a, b in zip(edges[:-1], edges[1:])]


def _block(values, weights, start, axis):
    return kernel.apply(values, weights, start, axis=axis, threads=1)


def _block_skipna(values, weights, start, positions, left, axis, rule):
    out = kernel.apply(values, weights, start, axis=axis, threads=1)
    return gaps.fill(values, out, positions, int(left[0]), rule, axis)


def apply_dask(x: da.Array, stencil: Stencil, axis: int, out_dtype, skipna=False) -> da.Array:
    """Lazily differentiate dask array `x` along `axis` with `stencil`.

    Parameters
    ----------
    x : dask.array.Array
    stencil : Stencil
        Built for ``x.shape[axis]`` points.
    axis : int
        Non-negative axis.
    out_dtype : numpy dtype
    skipna : bool
        Fill results next to NaN gaps (:mod:`xgradient.gaps`); the halo then
        widens to the full stencil width.

    Returns
    -------
    dask.array.Array
        Same shape and chunks as `x` (except where chunks along `axis` had to
        be merged, see :func:`axis_chunks`). Nothing is computed.
    """
    depth = gaps.reach(stencil) if skipna else stencil.halo
    chunks = axis_chunks(x.chunks[axis], *stencil.min_chunks(depth))
    if chunks != x.chunks[axis]:
        x = x.rechunk({axis: chunks})
    periodic = stencil.period is not None
    if len(chunks) > 1 or periodic:
        ext = da.overlap.overlap(
            x,
            depth={axis: depth},
            boundary={axis: "periodic" if periodic else "none"},
            allow_rechunk=False,
        )
        offsets = np.cumsum((0,) + chunks[:-1])
        ends = offsets + np.asarray(chunks)
        left = np.where((offsets > 0) | periodic, depth, 0)
        right = np.where((ends < stencil.size) | periodic, depth, 0)
    else:
        ext = x
        offsets = ends = left = right = np.zeros(1, dtype=int)
        ends = np.array([stencil.size])
    # Each block's rows, with start made relative to the block's extended input.
    local_start = stencil.start - np.repeat(offsets - left, chunks)
    token = tokenize(stencil.weights, stencil.start, stencil.period, chunks, depth, skipna)
    w = _per_block(f"xgradient-weights-{token}", _split(stencil.weights, chunks))
    s = _per_block(f"xgradient-start-{token}", _split(local_start.astype(np.int64), chunks))
    ind = tuple(range(x.ndim))
    k = x.ndim  # an index of its own for the stencil width: contracted away
    args = [ext, ind, w, (axis, k), s, (axis,)]
    func = _block
    kwargs = {}
    if skipna:
        pos = [stencil.positions(a - lo, b + hi) for a, b, lo, hi in zip(offsets, ends, left, right)]
        args += [_per_block(f"xgradient-positions-{token}", pos), (axis,)]
        args += [_per_block(f"xgradient-left-{token}", [np.array([lo]) for lo in left]), (axis,)]
        func = _block_skipna
        kwargs["rule"] = gaps.Rule.of(stencil)
    return da.blockwise(
        func,
        ind,
        *args,
        axis=axis,
        dtype=out_dtype,
        concatenate=True,
        align_arrays=False,
        adjust_chunks={axis: chunks},
        meta=np.empty((0,) * x.ndim, dtype=out_dtype),
        **kwargs,
    )
