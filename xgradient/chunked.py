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

from . import kernel
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


def _per_block(name, rows, chunks, ndim_extra):
    """A dask array whose block b holds rows[offsets[b]:offsets[b+1]] as a literal."""
    dsk = {}
    offset = 0
    for b, size in enumerate(chunks):
        key = (name, b) + (0,) * ndim_extra
        dsk[key] = rows[offset : offset + size]
        offset += size
    block_chunks = (tuple(chunks),) + tuple((s,) for s in rows.shape[1:])
    return da.Array(dsk, name, chunks=block_chunks, dtype=rows.dtype)


def _block(values, weights, start, axis):
    return kernel.apply(values, weights, start, axis=axis, threads=1)


def apply_dask(x: da.Array, stencil: Stencil, axis: int, out_dtype) -> da.Array:
    """Lazily differentiate dask array `x` along `axis` with `stencil`.

    Parameters
    ----------
    x : dask.array.Array
    stencil : Stencil
        Built for ``x.shape[axis]`` points.
    axis : int
        Non-negative axis.
    out_dtype : numpy dtype

    Returns
    -------
    dask.array.Array
        Same shape and chunks as `x` (except where chunks along `axis` had to
        be merged, see :func:`axis_chunks`). Nothing is computed.
    """
    smallest, smallest_end = stencil.min_chunks()
    chunks = axis_chunks(x.chunks[axis], smallest, smallest_end)
    if chunks != x.chunks[axis]:
        x = x.rechunk({axis: chunks})
    h = stencil.halo
    periodic = stencil.period is not None
    if len(chunks) > 1 or periodic:
        ext = da.overlap.overlap(
            x,
            depth={axis: h},
            boundary={axis: "periodic" if periodic else "none"},
            allow_rechunk=False,
        )
    else:
        ext = x
    # Each block's rows, with start made relative to the block's extended input.
    offsets = np.cumsum((0,) + chunks[:-1])
    left = np.where((offsets > 0) | periodic, h, 0) if ext is not x else np.zeros_like(offsets)
    local_start = stencil.start - np.repeat(offsets - left, chunks)
    token = tokenize(stencil.weights, stencil.start, chunks, h, periodic)
    w = _per_block(f"xgradient-weights-{token}", stencil.weights, chunks, 1)
    s = _per_block(f"xgradient-start-{token}", local_start.astype(np.int64), chunks, 0)
    ind = tuple(range(x.ndim))
    k = x.ndim  # an index of its own for the stencil width: contracted away
    return da.blockwise(
        _block,
        ind,
        ext,
        ind,
        w,
        (axis, k),
        s,
        (axis,),
        axis=axis,
        dtype=out_dtype,
        concatenate=True,
        align_arrays=False,
        adjust_chunks={axis: chunks},
        meta=np.empty((0,) * x.ndim, dtype=out_dtype),
    )
