"""Apply a stencil to a dask array, block by block, lazily.

Each block needs a few points (the halo) from its neighbours along the
differentiated axis: none beyond the ends of an open coordinate, the other
end's for a wrapped one. The graph is built from dask's public pieces only
(``map_blocks``, slicing, ``concatenate``, ``overlap``, ``blockwise``), so the
same code runs under both of dask's array backends (the classic one and the
expression one of ``array.query-planning``). Two things shape it:

- **per-block stencil rows.** The stencil's rows (weights and start) are a
  small dask array chunked like the data along the axis, one key per block of
  the axis; ``blockwise`` hands each task the key of its own block, which
  shares only the axis index with the data. A cluster therefore ships each
  block's rows once, as data, whatever the number of blocks along the other
  dimensions (``map_overlap`` would copy the whole coordinate's rows into
  every task). The geo `scale` factors travel the same way, chunked along the
  dimensions they vary on, and the ``skipna`` positions along the axis.
- **thin halos.** The halos reach the kernel as separate thin slabs: the
  first and last `depth` points of every block (``map_blocks``), shifted by one
  block along the axis (slicing and ``concatenate``), so a block is never
  copied into an enlarged one (``map_overlap`` concatenates, a full extra
  pass over memory). With ``skipna`` the gap search needs the enlarged block,
  and dask's own ``overlap`` is used.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from . import gaps, kernel
from .stencil import Stencil

__all__ = ["apply_dask", "apply_metric_dask", "axis_chunks"]


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


def _rows_dtype(stencil, divisor):
    """Each row's weights and start, and its divisor when the stencil has
    numpy's quotient rows (see :mod:`xgradient.stencil`); the dtypes are the
    stencil's, which say in which precision numpy computes."""
    fields = [("weights", stencil.weights.dtype, (stencil.width,)), ("start", np.int64)]
    if divisor:
        fields.append(("divisor", stencil.divisor.dtype))
    return np.dtype(fields)


def _block_rows(stencil, chunks, left, quotients):
    """The stencil's rows, each with its start counted from the first point
    of its block's halo (`left` points wide, per block of `chunks`), and its
    divisor when `quotients`: a structured array, one key per block once
    chunked like the axis."""
    offsets = np.cumsum((0,) + tuple(chunks[:-1]))
    rows = np.empty(stencil.size, _rows_dtype(stencil, quotients))
    rows["weights"] = stencil.weights
    rows["start"] = stencil.start - np.repeat(offsets - left, chunks)
    if quotients:
        rows["divisor"] = stencil.divisor
    return rows


def _divisor(rows):
    """The divisors of a block's rows (see _block_rows), or None."""
    return rows["divisor"] if "divisor" in rows.dtype.names else None


def _overlap_left(chunks, depth, periodic):
    """The halo dask's ``overlap`` puts before each block: none at the start
    of an open axis (boundary "none"), `depth` points elsewhere."""
    offsets = np.cumsum((0,) + tuple(chunks[:-1]))
    return np.where((offsets > 0) | periodic, depth, 0).astype(np.int64)


def _with_meta(x):
    """`x`, its blocks given an n-d meta: arrays xarray opens from files get
    a 0-d meta under dask's expression backend (2026.8), and ``overlap``'s
    concatenate then fails."""
    if da.utils.meta_from_array(x).ndim != x.ndim:
        return x.map_blocks(_unchanged, meta=np.empty((0,) * x.ndim, dtype=x.dtype))
    return x


def apply_dask(x, stencil: Stencil, axis: int, out_dtype, skipna=False, scale=None):
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
        length 1 along `axis` and along any dimension they do not vary on.

    Returns
    -------
    dask.array.Array
        Same shape and chunks as `x` (except where chunks along `axis` had to
        be merged, see :func:`axis_chunks`). Nothing is computed.
    """
    depth = gaps.halo_width(stencil) if skipna else stencil.halo
    chunks = axis_chunks(x.chunks[axis], *stencil.min_chunks(depth))
    if chunks != x.chunks[axis]:
        x = x.rechunk({axis: chunks})
    nb = len(chunks)
    periodic = stencil.period is not None
    halos = nb > 1 or periodic
    offsets = np.cumsum((0,) + chunks[:-1])
    ends = offsets + np.asarray(chunks)
    if skipna:
        left = _overlap_left(chunks, depth, periodic)
        right = np.where((ends < stencil.size) | periodic, depth, 0)
    else:
        # Every block gets slabs of `depth` points on both sides (the ends of
        # an open coordinate get a slab of their own block that no stencil
        # row reads), so every block counts from `depth` before its start.
        left = np.full(nb, depth if halos else 0)
    # Each block's rows, with start counted from the first point of its halo.
    # gaps.fill expects the weighted-sum form, so skipna leaves the quotients out.
    rows = _block_rows(stencil, chunks, left, quotients=stencil.divisor is not None and not skipna)
    index = tuple(range(x.ndim))
    # One key per block of the axis; blockwise pairs block b of every input
    # with block b of the data along the axis (align_arrays=False: the inputs
    # have the same number of blocks there, not the same sizes).
    args = [x, index]
    if skipna:
        if halos:
            x = da.overlap.overlap(
                _with_meta(x),
                depth={axis: depth},
                boundary={axis: "periodic" if periodic else "none"},
                allow_rechunk=False,
            )
            args = [x, index]
        positions = np.concatenate(
            [stencil.positions(a - lo, b + hi) for a, b, lo, hi in zip(offsets, ends, left, right)]
        )
        args += [
            da.from_array(rows, chunks=(chunks,)), (axis,),
            da.from_array(positions, chunks=(tuple(int(c) for c in np.asarray(chunks) + left + right),)),
            (axis,),
            da.from_array(left.astype(np.int64), chunks=1), (axis,),
        ]  # fmt: skip
        func, kwargs = _block_skipna, {"axis": axis, "shape": gaps.StencilShape.of(stencil)}
    else:
        if halos:
            args += [_shifted(x, axis, depth, periodic, last=True), index]
            args += [_shifted(x, axis, depth, periodic, last=False), index]
        args += [da.from_array(rows, chunks=(chunks,)), (axis,)]
        func, kwargs = _block, {"axis": axis, "halos": halos, "scale_dims": None}
        if scale is not None:
            scale = np.asarray(scale, dtype=np.float64)
            scale = scale.reshape((1,) * (x.ndim - scale.ndim) + scale.shape)
            varying = tuple(d for d in range(x.ndim) if scale.shape[d] != 1)
            squeezed = scale.reshape([scale.shape[d] for d in varying])
            if varying:
                kwargs["scale_dims"] = varying
                args += [da.from_array(squeezed, chunks=tuple(x.chunks[d] for d in varying)), varying]
            else:
                kwargs["scale"] = squeezed  # one number
    return da.blockwise(
        func,
        index,
        *args,
        token="xgradient",
        dtype=out_dtype,
        meta=np.empty((0,) * x.ndim, dtype=out_dtype),
        adjust_chunks={axis: chunks},
        align_arrays=False,
        concatenate=True,
        **kwargs,
    )


def apply_metric_dask(x, stencils, metric, out_dtype):
    """Lazily :func:`xgradient.kernel.apply_metric` on dask array `x`, block by block.

    The two stencils are along the last two axes of `x`; each block gets
    halos from its neighbours along both (dask's ``overlap``: the wrapped
    axes' from the other end) and its own rows of each stencil, as
    :func:`apply_dask` hands them out, and the blocks of the metric (four
    numpy arrays over the last two axes) that lie under it.

    Returns
    -------
    (dask.array.Array, dask.array.Array)
        The two results of ``apply_metric``, chunked like `x` (except where
        chunks too small for a stencil were merged, see :func:`axis_chunks`),
        of `out_dtype` (float32 or float64; `x` is converted to it first).
        Nothing is computed.
    """
    if x.dtype != out_dtype:
        x = x.astype(out_dtype)
    axes = (x.ndim - 2, x.ndim - 1)
    depth, boundary, rows, lefts = {}, {}, [], []
    for axis, stencil in zip(axes, stencils):
        chunks = axis_chunks(x.chunks[axis], *stencil.min_chunks())
        if chunks != x.chunks[axis]:
            x = x.rechunk({axis: chunks})
        periodic = stencil.period is not None
        left = _overlap_left(chunks, stencil.halo, periodic)
        depth[axis], boundary[axis] = stencil.halo, "periodic" if periodic else "none"
        rows.append(da.from_array(_block_rows(stencil, chunks, left, stencil.divisor is not None), chunks=(chunks,)))
        lefts.append(da.from_array(left, chunks=1))
    grown = da.overlap.overlap(_with_meta(x), depth=depth, boundary=boundary, allow_rechunk=False)
    index = tuple(range(x.ndim))
    args = [grown, index]
    for m in metric:
        args += [da.from_array(np.asarray(m, dtype=np.float64), chunks=(x.chunks[axes[0]], x.chunks[axes[1]])), axes]
    args += [rows[0], (axes[0],), rows[1], (axes[1],), lefts[0], (axes[0],), lefts[1], (axes[1],)]
    pair = -1  # a new leading index for the two results
    both = da.blockwise(
        _metric_block,
        (pair,) + index,
        *args,
        new_axes={pair: 2},
        token="xgradient-metric",
        dtype=out_dtype,
        meta=np.empty((0,) * (x.ndim + 1), dtype=out_dtype),
        adjust_chunks={axes[0]: x.chunks[axes[0]], axes[1]: x.chunks[axes[1]]},
        align_arrays=False,
        concatenate=True,
    )
    return both[0], both[1]


def _metric_block(values, a, b, c, e, rows0, rows1, left0, left1):
    out = np.empty((2,) + values.shape[:-2] + (len(rows0), len(rows1)), values.dtype)
    stencils = [(r["weights"], r["start"], _divisor(r)) for r in (rows0, rows1)]
    kernel.apply_metric(
        values, *stencils, (a, b, c, e), threads=1, offset=(int(left0[0]), int(left1[0])), out=out
    )
    return out


def _block(values, *parts, axis, halos, scale_dims, scale=None):
    lo = hi = None
    if halos:
        lo, hi, *parts = parts
    rows, *parts = parts
    if scale_dims is not None:
        (scale,) = parts
        # Back to the block's dimensions: length 1 where the factors do not vary.
        scale = np.expand_dims(scale, [d for d in range(values.ndim) if d not in scale_dims])
    return kernel.apply(
        values, rows["weights"], rows["start"], axis=axis, threads=1, left=lo, right=hi, scale=scale,
        divisor=_divisor(rows),
    )


def _unchanged(block):
    return block


def _block_skipna(values, rows, positions, left, axis, shape):
    out = kernel.apply(values, rows["weights"], rows["start"], axis=axis, threads=1)
    return gaps.fill(values, out, positions, int(left[0]), shape, axis)


def _edge(block, axis, depth, last):
    index = [slice(None)] * block.ndim
    index[axis] = slice(block.shape[axis] - depth, None) if last else slice(0, depth)
    # A copy: a view would keep the whole neighbouring block in memory until
    # the task that needs the slab has run.
    return block[tuple(index)].copy()


def _shifted(x, axis, depth, periodic, last):
    """Block b: the `depth` points of `x` just before block b (`last`) or just after it.

    Built from the last (first) points of every block, shifted by one block.
    At the ends of an open coordinate the slab is the block's own edge (never
    read, but every block then has the same layout), so that no block depends
    on the far end of the array.
    """
    nb = x.numblocks[axis]
    sizes = list(x.chunks)
    sizes[axis] = (depth,) * nb
    meta = np.empty((0,) * x.ndim, dtype=x.dtype)
    edges = x.map_blocks(_edge, axis, depth, last, chunks=tuple(sizes), dtype=x.dtype, meta=meta)

    def blocks(a, b):
        return edges[(slice(None),) * axis + (slice(a * depth, b * depth),)]

    if last:  # block b - 1's tail; block 0 gets the last block's (or its own)
        pieces = [blocks(nb - 1, nb) if periodic else blocks(0, 1), blocks(0, nb - 1)]
    else:  # block b + 1's head
        pieces = [blocks(1, nb), blocks(0, 1) if periodic else blocks(nb - 1, nb)]
    pieces = [p for p in pieces if p.shape[axis]]
    return pieces[0] if len(pieces) == 1 else da.concatenate(pieces, axis=axis)


def like_chunks(factor, x):
    """Numpy `factor` (broadcasting against dask `x`) as a dask array chunked like `x`.

    dask's expression backend refuses to broadcast a dask array against a
    numpy one (dask 2026.8); a dask factor whose chunks match those of `x`
    along the dimensions it varies on works under both backends, and the
    product has the same bits.
    """
    factor = np.asarray(factor)
    factor = factor.reshape((1,) * (x.ndim - factor.ndim) + factor.shape)
    chunks = tuple(c if n != 1 else (1,) for n, c in zip(factor.shape, x.chunks))
    return da.from_array(factor, chunks=chunks)


def _magnitude(data):
    """(numbers, wrap): a pint quantity's magnitude and how to make one again."""
    if type(data).__module__.split(".")[0] == "pint" and hasattr(data, "magnitude"):
        return data.magnitude, lambda numbers: type(data)(numbers, data.units)
    return data, None


def unify(*objs):
    """DataArrays `objs`, the chunked ones rechunked to common chunks, by dimension.

    A derivative merges chunks that are too small for its stencil along its
    own axis (:func:`axis_chunks`), so two derivatives of one array can come
    back chunked differently; dask's expression backend cannot add or
    multiply such arrays (dask 2026.8), nor broadcast them against numpy.
    Along each dimension the common chunks keep only the boundaries that all
    the chunked objects share (merging, never splitting, so a stencil's
    merge stays), and numpy-backed objects become dask arrays with those
    chunks (inside pint, for a pint quantity of dask). Without chunked
    objects, `objs` come back as they are.
    """
    numbers = [_magnitude(o.data)[0] for o in objs]
    lazy = [(o, n) for o, n in zip(objs, numbers) if isinstance(n, da.Array)]
    if not lazy:
        return objs
    sizes, edges = {}, {}
    for o, n in lazy:
        for dim, c in zip(o.dims, n.chunks):
            sizes[dim] = sum(c)
            ends = set(np.cumsum(c).tolist())
            edges[dim] = edges[dim] & ends if dim in edges else ends
    target = {d: tuple(np.diff([0] + sorted(e)).tolist()) for d, e in edges.items()}
    out = []
    for o in objs:
        n, wrap = _magnitude(o.data)
        want = tuple(
            target[d] if d in target and o.sizes[d] == sizes[d] else "auto" if isinstance(n, da.Array) else -1
            for d in o.dims
        )
        if isinstance(n, da.Array):
            want = tuple(n.chunks[k] if w == "auto" else w for k, w in enumerate(want))
            if want != n.chunks:
                n = n.rechunk(want)
        else:
            n = da.from_array(np.asarray(n), chunks=tuple(s if w == -1 else w for s, w in zip(o.shape, want)))
        out.append(o.copy(deep=False, data=n if wrap is None else wrap(n)))
    return tuple(out)
