"""Apply a stencil to a dask array, block by block, lazily.

Each block needs a few points (the halo) from its neighbours along the
differentiated axis: none beyond the ends of an open coordinate, the other
end's for a wrapped one. This is the job of ``dask.array.map_overlap``, done
here with its parts so that two things it cannot do are possible:

- each block's task carries its own rows of the stencil as literal arguments
  (``map_overlap`` hands every task the same extra arguments, i.e. the whole
  coordinate's weights: the graph would grow like chunks x coordinate
  length). Literal arguments, not shared graph keys: a key that many tasks
  depend on makes dask's scheduler load every input block before it runs
  them, which breaks streaming a file larger than memory;
- the halos reach the kernel as separate thin slabs, so a block is never
  copied into an enlarged one (``map_overlap`` concatenates, which costs a
  full extra pass over memory). With ``skipna`` the gap search needs the
  enlarged block, and dask's own overlap is used.
"""

from __future__ import annotations

import functools
import itertools

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

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


def _split(rows, chunks):
    edges = np.cumsum((0,) + tuple(chunks))
    return [rows[a:b] for a, b in itertools.pairwise(edges)]


def _block(values, weights, start, scale, axis):
    return kernel.apply(values, weights, start, axis=axis, threads=1, scale=scale)


def _block_skipna(values, weights, start, positions, left, axis, rule):
    out = kernel.apply(values, weights, start, axis=axis, threads=1)
    return gaps.fill(values, out, positions, left, rule, axis)


def apply_dask(x: da.Array, stencil: Stencil, axis: int, out_dtype, skipna=False, scale=None) -> da.Array:
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
    scale : ndarray, optional
        Factors for the results (not with `skipna`), shaped like `x` with
        length 1 along `axis` and along any dimension they do not vary on;
        each task carries its block's part.

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
    offsets = np.cumsum((0,) + chunks[:-1])
    ends = offsets + np.asarray(chunks)
    left = np.where((offsets > 0) | periodic, depth, 0)
    right = np.where((ends < stencil.size) | periodic, depth, 0)
    # Each block's rows, with start counted from the first point of its halo.
    local_start = (stencil.start - np.repeat(offsets - left, chunks)).astype(np.int64)
    per_block = [_split(stencil.weights, chunks), _split(local_start, chunks)]
    if skipna:
        ext = x
        if len(chunks) > 1 or periodic:
            ext = da.overlap.overlap(
                x,
                depth={axis: depth},
                boundary={axis: "periodic" if periodic else "none"},
                allow_rechunk=False,
            )
        inputs = [ext]
        per_block.append(
            [stencil.positions(a - lo, b + hi) for a, b, lo, hi in zip(offsets, ends, left, right)]
        )
        per_block.append([int(lo) for lo in left])
        func = functools.partial(_block_skipna, axis=axis, rule=gaps.Rule.of(stencil))
    elif len(chunks) > 1 or periodic:
        tails, heads = (_edges(x, axis, depth, last) for last in (True, False))
        inputs = [x, tails, heads]
        func = functools.partial(_block_halos, axis=axis)
    else:
        inputs = [x]
        func = functools.partial(_block, axis=axis)
    if scale is not None:
        scale = np.asarray(scale, dtype=np.float64)
        scale = scale.reshape((1,) * (x.ndim - scale.ndim) + scale.shape)
        edges = [np.cumsum((0,) + c) for c in x.chunks]
    name = "xgradient-" + tokenize(
        [a.name for a in inputs], stencil.weights, stencil.start, stencil.period, axis, skipna, scale
    )
    nb = len(chunks)
    dsk = {}
    for index in np.ndindex(*x.numblocks):
        b = index[axis]
        refs = [(inputs[0].name,) + index]
        if func.func is _block_halos:
            # The slab before this block is the tail of the previous block, the
            # slab after it the head of the next (wrapping when periodic).
            for slabs, other in ((tails, b - 1), (heads, b + 1)):
                if periodic:
                    other %= nb
                inside = 0 <= other < nb
                refs.append((slabs.name,) + index[:axis] + (other,) + index[axis + 1 :] if inside else None)
        args = [rows[b] for rows in per_block]
        if not skipna:
            args.append(None if scale is None else _part(scale, edges, index))
        dsk[(name,) + index] = (func, *refs, *args)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=inputs)
    meta = np.empty((0,) * x.ndim, dtype=out_dtype)
    return da.Array(graph, name, chunks=x.chunks, dtype=out_dtype, meta=meta)


def _part(scale, edges, index):
    """The part of `scale` (length 1 where it does not vary) over block `index`."""
    return np.ascontiguousarray(
        scale[tuple(slice(None) if n == 1 else slice(e[i], e[i + 1]) for n, e, i in zip(scale.shape, edges, index))]
    )


def _edge(block, axis, depth, last):
    index = [slice(None)] * block.ndim
    index[axis] = slice(block.shape[axis] - depth, None) if last else slice(0, depth)
    # A copy: a view would keep the whole neighbouring block in memory until
    # the task that needs the slab has run.
    return block[tuple(index)].copy()


def _edges(x, axis, depth, last):
    """Array whose block b is the last (or first) `depth` points of block b of `x`."""
    sizes = list(x.chunks)
    sizes[axis] = (depth,) * x.numblocks[axis]
    return x.map_blocks(_edge, axis, depth, last, chunks=tuple(sizes), dtype=x.dtype)


def _block_halos(values, lo, hi, weights, start, scale, axis):
    return kernel.apply(values, weights, start, axis=axis, threads=1, left=lo, right=hi, scale=scale)
