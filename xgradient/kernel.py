"""Apply stencil weights along one axis of an in-memory array (and, for
``horizontal()``, along the last two axes at once, combined by a metric:
:func:`apply_metric`).

The array is viewed as ``(outer, m, inner)`` with the differentiated axis in
the middle, so the innermost loop always runs over contiguous memory: over
``inner`` when the axis is not the last one, over the axis itself (``inner ==
1``) otherwise.

The points a stencil needs beyond the array (a periodic wrap, or the
neighbouring dask blocks) come as two small halo arrays, `left` and `right`,
so the array itself is never copied to extend it.

Rows are grouped into *runs*: consecutive output rows whose stencils are
shifted copies of each other (same ``start[i] - i``), lie inside the array
and use every slot. A run is done with contiguous sweeps; the few other rows
(one-sided ends, rows reaching into a halo) go through a scalar path that
reads the halos and skips unused (NaN) slots. Sums are accumulated in the
order ``((w0 f0 + w1 f1) + w2 f2) + ...`` that ``numpy.gradient`` uses.

Rows with a divisor (see :mod:`xgradient.stencil`) are numpy's quotients:
the difference of the row's first and last used points in the data's dtype,
divided by the divisor in the precision numpy's promotion gives (float64
unless both are lower).

Precision follows numpy's type promotion exactly: float64 weights with
float32 data compute in float64 and round once into the float32 result;
float32 weights with float32 data (a float32 coordinate, or a Python-number
spacing in :func:`xgradient.gradient`) round every product and sum to
float32. The compiled loops handle float32 and float64 data: their fast
runs sum in the weights' precision, their quotients divide in float64, which
is exact (a float64 quotient of float32 operands rounds to the same float32
as the float32 quotient: 53 >= 2 * 24 + 2 bits); their slow rows sum in
float64, so the few of those that numpy sums in float32 (ends, halo rows)
are redone by the numpy loops. Other dtypes (float16, complex, longdouble)
go through the numpy loops alone.

Two implementations of the same loops live here: a numba-compiled one (used
when numba imports; compiled once per stencil width, so the sum over the
stencil unrolls) and a pure-numpy reference (the fallback, and the check of the
compiled one in the tests). The compiled loops release the GIL; a large
in-memory array is split between threads (memory bandwidth, not arithmetic,
is the limit, and one core cannot use all of it).
"""

from __future__ import annotations

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

__all__ = ["HAVE_NUMBA", "apply", "apply_metric", "apply_metric_many", "axis_rows", "in_shares", "row_runs", "weighted_rows"]

# Below this many elements a second thread costs more than it saves.
THREAD_MIN_SIZE = 1 << 20
# Columns swept per output row when the axis is not the last: the next output
# row reuses K - 1 of the input rows from cache (L2 or L3), and sweeps this
# long keep the hardware prefetchers streaming (2^17 against 2^13: 1.5x
# faster for a short axis in front of a million columns, as a 3-D field
# along time).
TILE = 1 << 17
# Columns per pass of the rows that sum slot by slot (ends, halos): their
# float64 sums stay in L1.
SUM_TILE = 256

from ._compat import njit, numba

HAVE_NUMBA = numba is not None


# The kinds of row runs: a SLOW row reads through the halos, one weight at a
# time; a SUM run is a weighted sum over the same slots for every row; a
# QUOTIENT run divides the difference of its outer slots by one divisor.
SLOW, SUM, QUOTIENT = 0, 1, 2
# The columns of the row-run array that row_runs returns: the run's rows are
# FIRST <= r < END; row r reads from point r + SHIFT; KIND is one of the above.
FIRST, END, SHIFT, KIND = 0, 1, 2, 3


class _Loops(NamedTuple):
    """The compiled loops for one stencil width: along a middle axis and along the last."""

    middle: object
    last: object


def row_runs(weights, start, m, divisor=None) -> np.ndarray:
    """Group output rows into runs; return an int64 array with one row per run,
    whose columns FIRST, END, SHIFT and KIND are (r0, r1, shift, kind).

    Row ``r`` of a fast run (kind SUM or QUOTIENT) reads ``f[r + shift + j]``
    for ``j < K``, all in ``[0, m)``; a QUOTIENT run's rows divide the
    difference of slots ``K - 1`` and 0 by their divisor, the same for the
    whole run. A SLOW run is a single row, read through the halos.
    """
    rows, K = weights.shape
    r = np.arange(rows)
    shift = start - r
    inside = (start >= 0) & (start + K <= m)
    finite = np.isfinite(weights)
    quotient = np.zeros(rows, bool) if divisor is None else np.isfinite(divisor)
    outer_slots = finite[:, 0] & finite[:, -1] & (weights[:, 0] != 0) & (weights[:, -1] != 0)
    kind = np.where(
        inside & ~quotient & finite.all(axis=1), SUM, np.where(inside & quotient & outer_slots, QUOTIENT, SLOW)
    )
    # A new run begins where the row is slow, follows a slow row, changes kind or shifts.
    new = np.ones(rows, dtype=bool)
    new[1:] = (kind[1:] == SLOW) | (kind[1:] != kind[:-1]) | (shift[1:] != shift[:-1])
    if divisor is not None:
        # One divisor per quotient run: a loop-invariant divisor vectorises
        # (a divisor loaded per point halves the speed along the last axis).
        new[1:] |= (kind[1:] == QUOTIENT) & (divisor[1:] != divisor[:-1])
    r0 = np.flatnonzero(new)
    r1 = np.append(r0[1:], rows)
    return np.stack([r0, r1, shift[r0], kind[r0]], axis=1).astype(np.int64)


def apply(values, weights, start, axis=-1, threads=None, left=None, right=None, scale=None, divisor=None):
    """Differentiate `values` along `axis` with precomputed stencil rows.

    Parameters
    ----------
    values : ndarray
        Input; ``values.shape[axis]`` is the number of points ``m``. Floats
        and complex keep their dtype; integers and booleans are computed
        as float64 (as numpy.gradient does).
    weights : ndarray, shape (rows, K)
        Stencil weights (NaN = unused slot), see :mod:`xgradient.stencil`;
        their dtype is the precision numpy would multiply in.
    start : ndarray of int64, shape (rows,)
        First point of each output row's stencil, counted from the first
        point of `left` (from ``values[0]`` when there is no `left`).
    axis : int
        Axis to differentiate along.
    threads : int, optional
        Threads to split a large array between (default: all cores; the dask
        path passes 1, dask runs blocks in parallel itself).
    left, right : ndarray, optional
        Points just before and just after `values` along `axis` (same shape
        otherwise), for stencils that reach past its ends.
    scale : array_like, optional
        Factors the results are multiplied by, in float64 before the one
        rounding to the output's dtype: shaped like the output with length 1
        along `axis` (or broadcastable to that), e.g. a longitude
        derivative's ``1 / (R cos(lat))``.
    divisor : ndarray, shape (rows,), optional
        Quotient rows' denominators (NaN for weighted-sum rows), see
        :mod:`xgradient.stencil`.

    Returns
    -------
    ndarray
        Same shape as `values` except ``rows`` points along `axis`.

    Examples
    --------
    >>> from xgradient.stencil import build_stencil
    >>> s = build_stencil([0.0, 1.0, 3.0])
    >>> apply(np.array([0.0, 1.0, 9.0]), s.weights, s.start)
    array([1., 2., 4.])
    """
    values = np.asarray(values)
    if not -values.ndim <= axis < values.ndim:
        raise np.exceptions.AxisError(axis, values.ndim)
    axis %= values.ndim
    # Native byte order (netCDF data may arrive big-endian); floats keep their precision.
    dtype = values.dtype.newbyteorder("=") if values.dtype.kind in "fc" else np.dtype(np.float64)
    shape = values.shape
    m = shape[axis]
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))

    def view(a):
        a = np.ascontiguousarray(np.asarray(a).astype(dtype, copy=False))
        if a.shape[:axis] != shape[:axis] or a.shape[axis + 1 :] != shape[axis + 1 :]:
            raise ValueError(f"halo of shape {a.shape} does not fit values of shape {shape}")
        return a.reshape(outer, a.shape[axis], inner)

    f = view(values)
    lo = view(left) if left is not None else np.empty((outer, 0, inner), dtype)
    hi = view(right) if right is not None else np.empty((outer, 0, inner), dtype)
    weights = np.ascontiguousarray(weights)
    if weights.dtype.kind != "f":
        weights = weights.astype(np.float64)
    if divisor is not None:
        divisor = np.ascontiguousarray(divisor)
        if divisor.dtype.kind != "f":
            divisor = divisor.astype(np.float64)
    start = np.ascontiguousarray(start, dtype=np.int64) - lo.shape[1]  # now from values[0]
    rows, K = weights.shape
    if rows and (start.min() < -lo.shape[1] or start.max() + K > m + hi.shape[1]):
        raise ValueError("a stencil reaches past the halos given")  # a bug, not a user error
    if scale is not None:
        # One factor per output column (outer, inner); small: 1/m of the data.
        ones = shape[:axis] + (1,) + shape[axis + 1 :]
        scale = np.ascontiguousarray(np.broadcast_to(np.asarray(scale, dtype=np.float64), ones))
        scale = scale.reshape(outer, inner)
    out = np.empty((outer, rows, inner), dtype=dtype)
    if outer and rows and inner:
        runs = row_runs(weights, start, m, divisor)
        # The precision numpy multiplies and adds in: float32 only for
        # float32 data with float32 (or float16) weights.
        precision = np.result_type(dtype, weights.dtype)
        compiled = (
            HAVE_NUMBA
            and dtype in (np.float32, np.float64)
            and precision in (np.float32, np.float64)
            and (divisor is None or divisor.dtype.itemsize <= 8)
        )
        if compiled:
            # Fast sum runs compile in that precision; the slow rows sum in
            # float64, so those below float64 are redone by the numpy loops.
            slow = np.zeros(rows, bool)
            for r0, r1, _, kind in runs:
                slow[r0:r1] = kind == SLOW
            if divisor is not None:
                slow &= ~np.isfinite(divisor)
            low = np.flatnonzero(slow) if precision != np.float64 else np.empty(0, np.int64)
            wk = weights.astype(precision, copy=False)
            d64 = np.full(rows, np.nan) if divisor is None else divisor.astype(np.float64, copy=False)
            _run_compiled(f, lo, hi, wk, d64, start, runs, out, scale, threads)
            if low.size:
                redo = np.stack([low, low + 1, start[low] - low, np.full(low.size, SLOW)], axis=1)
                with np.errstate(all="ignore"):  # as quiet as the compiled loops
                    _reference(f, lo, hi, weights, start, redo, out, scale, divisor)
        else:
            with np.errstate(all="ignore"):
                _reference(f, lo, hi, weights, start, runs, out, scale, divisor)
    return out.reshape(shape[:axis] + (rows,) + shape[axis + 1 :])


def _reference(f, lo, hi, w, start, runs, out, scale=None, divisor=None):
    """Pure-numpy version of the compiled loops.

    numpy's own operations on operands of numpy.gradient's dtypes, in its
    order: the same numbers as numpy.gradient for any dtype (complex
    division by a real is numpy's, a multiply by the reciprocal).
    """
    K = w.shape[1]
    factor = 1.0 if scale is None else scale[:, None, :]
    for r0, r1, shift, kind in runs:
        if kind == SUM:
            acc = w[r0:r1, 0, None] * f[:, r0 + shift : r1 + shift, :]
            for j in range(1, K):
                acc = acc + w[r0:r1, j, None] * f[:, r0 + shift + j : r1 + shift + j, :]
            out[:, r0:r1, :] = acc * factor
        elif kind == QUOTIENT:
            diff = f[:, r0 + shift + K - 1 : r1 + shift + K - 1, :] - f[:, r0 + shift : r1 + shift, :]
            out[:, r0:r1, :] = diff / divisor[r0:r1, None] * factor
        else:
            # The row's points, halos included: a few planes, not the array.
            a, b = start[r0], start[r0] + K
            parts = [lo[:, lo.shape[1] + a : lo.shape[1] + min(b, 0)] if a < 0 else lo[:, :0]]
            parts += [f[:, max(a, 0) : max(min(b, f.shape[1]), 0)]]
            parts += [hi[:, : b - f.shape[1]] if b > f.shape[1] else hi[:, :0]]
            pts = np.concatenate(parts, axis=1)
            used = [j for j in range(K) if np.isfinite(w[r0, j])]
            if divisor is not None and np.isfinite(divisor[r0]):
                used = [j for j in used if w[r0, j] != 0]
                acc = (pts[:, used[-1], :] - pts[:, used[0], :]) / divisor[r0]
            else:
                acc = w[r0, used[0]] * pts[:, used[0], :]
                for j in used[1:]:
                    acc = acc + w[r0, j] * pts[:, j, :]
            out[:, r0, :] = acc * (1.0 if scale is None else scale)


def _pool():
    # One pool per process: a child forked after the parent used it (e.g. a
    # multiprocessing.Pool) inherits the pool without its threads, and would
    # wait forever on it.
    return _pool_of(os.getpid())


@functools.lru_cache(maxsize=1)
def _pool_of(pid):
    return ThreadPoolExecutor(max_workers=max(_cores() - 1, 1), thread_name_prefix="xgradient")


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_compiled(f, lo, hi, w, div, start, runs, out, scale, threads):
    outer, rows, inner = out.shape
    loops = _compiled(w.shape[1])
    if inner == 1:
        f, lo, hi, out = f[:, :, 0], lo[:, :, 0], hi[:, :, 0], out[:, :, 0]
        wt = np.ascontiguousarray(w.T)

        def loop(*args):
            loops.last(f, lo, hi, w, wt, div, start, runs, out, scale, *args)

    else:

        def loop(*args):
            loops.middle(f, lo, hi, w, div, start, runs, out, scale, *args)

    threads = _cores() if threads is None else threads
    if threads <= 1 or out.size < THREAD_MIN_SIZE:
        loop(0, outer, 0, rows)
        return
    # Split the outer loop when it is long enough, else the rows.
    split_outer = outer >= threads
    n = outer if split_outer else rows
    edges = np.linspace(0, n, threads + 1).astype(int)
    _run_shares(loop, [(a, b, 0, rows) if split_outer else (0, outer, a, b) for a, b in itertools.pairwise(edges)])


def _run_shares(loop, spans):
    """``loop(*span)`` for every span, in the pool's threads and this one."""
    # The calling thread does the last share itself: one thread fewer to wake.
    tasks = [_pool().submit(loop, *span) for span in spans[:-1]]
    try:
        loop(*spans[-1])
    finally:
        for t in tasks:
            t.result()


if HAVE_NUMBA:

    @njit(nogil=True, inline="always")
    def _point(f, lo, hi, o, i):  # pragma: no cover - compiled
        """Point i of row o, counted from values[0]: from the halos past either end.

        A plane of `inner` values in the middle loop, one value in the last-axis one.
        """
        m = f.shape[1]
        if i < 0:
            return lo[o, lo.shape[1] + i]
        if i >= m:
            return hi[o, i - m]
        return f[o, i]

    @njit(nogil=True, inline="always")
    def _used_slots(w, r):  # pragma: no cover - compiled
        """First and last slot a quotient row differences (finite, non-zero weights)."""
        first = -1
        last = -1
        for j in range(w.shape[1]):
            wj = w[r, j]
            if wj == wj and wj != 0.0:
                if first < 0:
                    first = j
                last = j
        return first, last


@functools.cache
def _compiled(K):
    """Compile the loops for stencil width `K` (a constant, so sums unroll)."""

    @njit(nogil=True)
    def middle(  # pragma: no cover
        f, lo, hi, w, div, start, runs, out, sc, outer_from, outer_to, rows_from, rows_to
    ):
        # Outer rows outer_from <= o < outer_to and output rows rows_from <= r <
        # rows_to: this thread's share (runs are clipped to it as r0, r1).
        # sc: None, or the factor of each output column (outer, inner).
        # div: each row's divisor, NaN for a weighted sum.
        inner = f.shape[2]
        acc = np.empty(min(inner, SUM_TILE))  # float64, whatever the data's dtype
        for o in range(outer_from, outer_to):
            fo = f[o]
            for p in range(runs.shape[0]):
                r0 = max(runs[p, FIRST], rows_from)
                r1 = min(runs[p, END], rows_to)
                shift = runs[p, SHIFT]
                kind = runs[p, KIND]
                if kind == QUOTIENT:
                    # numpy's quotient: the difference in the data's dtype,
                    # then a true division (never a multiply by 1/d).
                    for t0 in range(0, inner, TILE):
                        n = np.uint64(min(TILE, inner - t0))
                        u0 = np.uint64(t0)
                        for r in range(r0, r1):
                            a = fo[r + shift]
                            b = fo[r + shift + K - 1]
                            d = div[r]
                            dst = out[o, r]
                            for t in range(n):
                                v = (b[u0 + t] - a[u0 + t]) / d
                                if sc is None:
                                    dst[u0 + t] = v
                                else:
                                    dst[u0 + t] = v * sc[o, u0 + t]
                elif kind == SUM:
                    # In column tiles: the K input rows a tile reads stay in
                    # cache for the next output row, which reuses K - 1 of them.
                    for t0 in range(0, inner, TILE):
                        n = np.uint64(min(TILE, inner - t0))
                        u0 = np.uint64(t0)  # unsigned: no wraparound test, so it vectorises
                        for r in range(r0, r1):
                            s = r + shift
                            dst = out[o, r]
                            for t in range(n):
                                a = w[r, 0] * fo[s, u0 + t]
                                for j in range(1, K):
                                    a += w[r, j] * fo[s + j, u0 + t]
                                if sc is None:
                                    dst[u0 + t] = a
                                else:
                                    dst[u0 + t] = a * sc[o, u0 + t]
                else:
                    # In small column tiles, so that the float64 sums stay in L1.
                    for r in range(r0, r1):
                        dst = out[o, r]
                        d = div[r]
                        if d == d:
                            j0, j1 = _used_slots(w, r)
                            a = _point(f, lo, hi, o, start[r] + j0)
                            b = _point(f, lo, hi, o, start[r] + j1)
                            for t in range(inner):
                                v = (b[t] - a[t]) / d
                                if sc is None:
                                    dst[t] = v
                                else:
                                    dst[t] = v * sc[o, t]
                            continue
                        for t0 in range(0, inner, SUM_TILE):
                            n = np.uint64(min(SUM_TILE, inner - t0))
                            u0 = np.uint64(t0)
                            for t in range(n):
                                acc[t] = 0.0
                            for j in range(K):
                                wj = w[r, j]
                                if wj != wj:  # NaN marks an unused slot
                                    continue
                                src = _point(f, lo, hi, o, start[r] + j)
                                for t in range(n):
                                    acc[t] += wj * src[u0 + t]
                            if sc is None:
                                for t in range(n):
                                    dst[u0 + t] = acc[t]
                            else:
                                for t in range(n):
                                    dst[u0 + t] = acc[t] * sc[o, u0 + t]

    @njit(nogil=True)
    def last(  # pragma: no cover
        f, lo, hi, w, wt, div, start, runs, out, sc, outer_from, outer_to, rows_from, rows_to
    ):
        # Outer rows outer_from <= o < outer_to and output rows rows_from <= r <
        # rows_to: this thread's share (runs are clipped to it as r0, r1).
        # sc: None, or the factor of each output row (outer, 1).
        # Four rows at a time: each weight loaded serves all four.
        for o in range(outer_from, outer_to, 4):
            rows = min(4, outer_to - o)
            for p in range(runs.shape[0]):
                r0 = max(runs[p, FIRST], rows_from)
                r1 = min(runs[p, END], rows_to)
                shift = runs[p, SHIFT]
                kind = runs[p, KIND]
                if kind == QUOTIENT and r1 > r0:
                    dv = div[r0]  # one divisor per quotient run
                    for oo in range(o, o + rows):
                        a = f[oo, r0 + shift : r1 + shift]
                        b = f[oo, r0 + shift + K - 1 : r1 + shift + K - 1]
                        d = out[oo, r0:r1]
                        for q in range(np.uint64(r1 - r0)):
                            v = (b[q] - a[q]) / dv
                            if sc is None:
                                d[q] = v
                            else:
                                d[q] = v * sc[oo, 0]
                elif kind == SUM and r1 > r0:
                    # Weights transposed (K, rows), so each slot's weights are
                    # contiguous; slices and unsigned indices, so that no
                    # negative-index wraparound test stops LLVM vectorising.
                    u0 = np.uint64(r0)
                    if rows == 4:
                        a = f[o, r0 + shift : r1 + shift + K - 1]
                        b = f[o + 1, r0 + shift : r1 + shift + K - 1]
                        c = f[o + 2, r0 + shift : r1 + shift + K - 1]
                        g = f[o + 3, r0 + shift : r1 + shift + K - 1]
                        da, db, dc, dg = out[o, r0:r1], out[o + 1, r0:r1], out[o + 2, r0:r1], out[o + 3, r0:r1]
                        for q in range(np.uint64(r1 - r0)):
                            i = u0 + q
                            wi = wt[0, i]
                            xa, xb, xc, xg = wi * a[q], wi * b[q], wi * c[q], wi * g[q]
                            for j in range(1, K):
                                wi = wt[j, i]
                                xa += wi * a[q + j]
                                xb += wi * b[q + j]
                                xc += wi * c[q + j]
                                xg += wi * g[q + j]
                            if sc is None:
                                da[q], db[q], dc[q], dg[q] = xa, xb, xc, xg
                            else:
                                da[q] = xa * sc[o, 0]
                                db[q] = xb * sc[o + 1, 0]
                                dc[q] = xc * sc[o + 2, 0]
                                dg[q] = xg * sc[o + 3, 0]
                    else:
                        for oo in range(o, o + rows):
                            a = f[oo, r0 + shift : r1 + shift + K - 1]
                            d = out[oo, r0:r1]
                            for q in range(np.uint64(r1 - r0)):
                                i = u0 + q
                                x = wt[0, i] * a[q]
                                for j in range(1, K):
                                    x += wt[j, i] * a[q + j]
                                if sc is None:
                                    d[q] = x
                                else:
                                    d[q] = x * sc[oo, 0]
                elif kind == SLOW:
                    for oo in range(o, o + rows):
                        for r in range(r0, r1):
                            d = div[r]
                            if d == d:
                                j0, j1 = _used_slots(w, r)
                                v = (_point(f, lo, hi, oo, start[r] + j1) - _point(f, lo, hi, oo, start[r] + j0)) / d
                                if sc is None:
                                    out[oo, r] = v
                                else:
                                    out[oo, r] = v * sc[oo, 0]
                                continue
                            acc = 0.0
                            for j in range(K):
                                wj = w[r, j]
                                if wj != wj:  # NaN marks an unused slot
                                    continue
                                acc += wj * _point(f, lo, hi, oo, start[r] + j)
                            if sc is None:
                                out[oo, r] = acc
                            else:
                                out[oo, r] = acc * sc[oo, 0]

    return _Loops(middle, last)


# ---------------------------------------------------------------------------
# Two axes at once, combined by a metric (horizontal derivatives)

# Bytes of metric rows a block of grid rows keeps in cache while every
# level runs through it (four float64 arrays: 256 KiB sits in L2).
METRIC_BLOCK_BYTES = 1 << 18


def axis_rows(weights, start, divisor, n):
    """One axis's stencil as a compiled loop reads it row by row.

    Returns (indices, weights, divisors, used): each row's point indices
    wrapped modulo `n` (int64, shape (rows, K)), its float64 weights (NaN
    = an unused slot), its float64 divisor (NaN = a weighted sum) and the
    first and last slots a quotient row differences (shape (rows, 2)).

    >>> from xgradient.stencil import build_stencil
    >>> s = build_stencil(np.arange(4.0), period=4.0)
    >>> idx, w, d, used = axis_rows(s.weights, s.start, s.divisor, 4)
    >>> idx[0], d[0], used[0]
    (array([3, 0, 1]), np.float64(2.0), array([0, 2]))
    """
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    K = weights.shape[1]
    start = np.asarray(start, dtype=np.int64)
    idx = (start[:, None] + np.arange(K)) % n
    div = np.full(weights.shape[0], np.nan) if divisor is None else np.asarray(divisor, dtype=np.float64)
    used = np.isfinite(weights) & (weights != 0)
    first = np.argmax(used, axis=1)
    last = K - 1 - np.argmax(used[:, ::-1], axis=1)
    return idx.astype(np.int64), weights, np.ascontiguousarray(div), np.stack([first, last], axis=1).astype(np.int64)


def apply_metric(values, first, second, metric, threads=None, offset=(0, 0), out=None):
    """Derivatives along the last two axes, combined by a metric, in one pass.

    With ``d0`` and ``d1`` the derivatives of `values` along axes -2 and -1,
    returns ``(a * d0 + b * d1, c * d0 + e * d1)`` for ``(a, b, c, e) =
    metric``: each output point is written once and neither derivative is
    ever stored, so memory sees the input, the metric and the two outputs
    only. A block of grid rows runs through every leading index (level,
    time) before the next, so that its metric rows stay in cache.

    The numbers are those of :func:`apply` on the values converted to
    float64, followed by ``a * d0 + b * d1`` in float64 (in that order),
    rounded once to the dtype of `values`.

    Parameters
    ----------
    values : ndarray of float32 or float64, shape (..., n0, n1)
    first, second : tuple (weights, start, divisor)
        The stencils along axes -2 and -1, as :class:`~xgradient.stencil.Stencil`
        holds them (`divisor` may be None), one row per output point; points
        wrap modulo the axis length (a periodic stencil's rows reach past
        the ends).
    metric : sequence of four float64 ndarrays, shape (rows0, rows1)
        ``rows0, rows1``: the numbers of rows of `first` and `second`.
    threads : int, optional
        Threads to split the grid rows between (default: all cores).
    offset : (int, int), default (0, 0)
        Where output point (0, 0) lies in `values` along axes -2 and -1: for
        a block with halos of those widths around the points it answers for
        (the starts of the rows count from the halo's first point).
    out : ndarray, optional
        Shape (2, ..., rows0, rows1), dtype of `values`: the two results
        are written there.

    Returns
    -------
    tuple of two ndarrays
        Shaped like `values` but (rows0, rows1) along the last two axes, of
        its dtype.

    Raises
    ------
    RuntimeError
        numba is not installed (callers check :data:`HAVE_NUMBA`).

    Examples
    --------
    >>> from xgradient.stencil import build_stencil
    >>> f = np.add.outer(np.arange(4.0) ** 2, 3 * np.arange(5.0))   # y**2 + 3 x
    >>> s0, s1 = build_stencil(np.arange(4.0), edge_order=2), build_stencil(np.arange(5.0))
    >>> one, zero = np.ones((4, 5)), np.zeros((4, 5))
    >>> east, north = apply_metric(f, (s0.weights, s0.start, s0.divisor),
    ...                            (s1.weights, s1.start, s1.divisor), (zero, one, one, zero))
    >>> east[0], north[:, 0]
    (array([3., 3., 3., 3., 3.]), array([0., 2., 4., 6.]))
    """
    if out is not None:
        out = [(out[0], out[1])]
    ((a, b),) = apply_metric_many([values], first, second, metric, threads, offset, out)
    return a, b


def apply_metric_many(arrays, first, second, metric, threads=None, offset=(0, 0), out=None):
    """:func:`apply_metric` on several arrays on one grid, in one pass over the metric.

    Each block of grid rows runs through every array before the next block,
    so that the metric is read from memory once for all of them.

    Parameters
    ----------
    arrays : sequence of ndarray
        All float32 or all float64, each of shape (..., n0, n1) (the leading
        dimensions may differ).
    first, second, metric, threads, offset
        As for :func:`apply_metric`.
    out : sequence of (ndarray, ndarray), optional
        Where to write each array's two results.

    Returns
    -------
    list of (ndarray, ndarray)
        Each array's two results, as :func:`apply_metric` returns them.

    Examples
    --------
    >>> from xgradient.stencil import build_stencil
    >>> s = build_stencil(np.arange(4.0))
    >>> rows, one, zero = (s.weights, s.start, s.divisor), np.ones((4, 4)), np.zeros((4, 4))
    >>> f = np.add.outer(np.arange(4.0), 2 * np.arange(4.0))      # y + 2 x
    >>> [(float(a[1, 1]), float(b[1, 1])) for a, b in apply_metric_many([f, 3 * f], rows, rows, (zero, one, one, zero))]
    [(2.0, 1.0), (6.0, 3.0)]
    """
    if not HAVE_NUMBA:
        raise RuntimeError("apply_metric needs numba")
    from numba.typed import List

    arrays = [np.asarray(v) for v in arrays]
    dtypes = {v.dtype for v in arrays}
    floats = {np.dtype(np.float32), np.dtype(np.float64)}
    if len(dtypes) != 1 or not dtypes <= floats or min(v.ndim for v in arrays) < 2:
        raise TypeError(
            "apply_metric takes float32 or float64 arrays of 2 or more dimensions, one dtype for all, got "
            f"{[(str(v.dtype), v.shape) for v in arrays]}"
        )
    n0, n1 = arrays[0].shape[-2:]
    if any(v.shape[-2:] != (n0, n1) for v in arrays):
        raise ValueError(f"the arrays are not on one grid: {[v.shape for v in arrays]}")
    rows0, rows1 = len(first[0]), len(second[0])
    shapes = [v.shape[:-2] + (rows0, rows1) for v in arrays]
    fs = [np.ascontiguousarray(v).reshape(-1, n0, n1) for v in arrays]
    m = [np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64), (rows0, rows1))) for x in metric]
    idx0, w0, d0, used0 = axis_rows(*first, n0)
    idx1, w1, d1, used1 = axis_rows(*second, n1)
    runs1 = row_runs(w1, np.asarray(second[1], dtype=np.int64), n1, d1)  # d1: NaN where no divisor
    wt1 = np.ascontiguousarray(w1.T)
    # The longest quotient run along axis -1 (the interior of a uniform
    # accuracy-2 stencil) is computed inside the last loop, not stored.
    lengths = np.where(runs1[:, KIND] == QUOTIENT, runs1[:, END] - runs1[:, FIRST], 0)
    main = int(np.argmax(lengths)) if lengths.size and lengths.max() > 0 else -1
    outs_a, outs_b = [], []
    for k, f in enumerate(fs):
        if out is None:
            outs_a.append(np.empty((f.shape[0], rows0, rows1), f.dtype))
            outs_b.append(np.empty((f.shape[0], rows0, rows1), f.dtype))
        else:
            outs_a.append(out[k][0].reshape(f.shape[0], rows0, rows1))
            outs_b.append(out[k][1].reshape(f.shape[0], rows0, rows1))
    size = sum(o.size for o in outs_a)
    if size:
        block = max(1, METRIC_BLOCK_BYTES // (32 * rows1))
        ry, cx = (int(k) for k in offset)
        lists = [List(x) for x in (fs, outs_a, outs_b)]

        def loop(y_from, y_to):
            _metric_loop(
                lists[0], idx0, w0, d0, used0, idx1, w1, wt1, d1, used1, runs1, main, *m, lists[1], lists[2],
                y_from, y_to, block, ry, cx,
            )

        in_shares(loop, rows0, size, threads)
    return [(a.reshape(sh), b.reshape(sh)) for a, b, sh in zip(outs_a, outs_b, shapes)]


def in_shares(loop, n, size, threads=None):
    """``loop(a, b)`` over ``range(n)``: in one call, or in equal shares run
    by the pool's threads and this one when the work (`size` points) is
    worth the threads (default: all cores)."""
    threads = _cores() if threads is None else threads
    if threads <= 1 or size < THREAD_MIN_SIZE or n < 2 * threads:
        loop(0, n)
    else:
        _run_shares(loop, list(itertools.pairwise(np.linspace(0, n, threads + 1).astype(int))))


weighted_rows = None
if HAVE_NUMBA:

    @njit(nogil=True, inline="always")
    def weighted_rows(f, idx, w, r, cx, out):  # pragma: no cover - compiled
        """Row r of a stencil across whole rows of f: ``out[x]`` = the sum over
        the used slots j of ``w[r, j] * f[idx[r, j], cx + x]``, in float64, in
        the kernel's order (the first product, then the others added)."""
        n = out.shape[0]
        started = False
        for j in range(w.shape[1]):
            wj = w[r, j]
            if wj != wj:  # NaN marks an unused slot
                continue
            src = f[idx[r, j], cx : cx + n]
            if started:
                for x in range(np.uint64(n)):
                    out[x] += wj * np.float64(src[x])
            else:
                for x in range(np.uint64(n)):
                    out[x] = wj * np.float64(src[x])
                started = True

    @njit(nogil=True)
    def _metric_loop(  # pragma: no cover - compiled
        fs, idx0, w0, d0, used0, idx1, w1, wt1, d1, used1, runs1, main, ma, mb, mc, me, outs_a, outs_b, y_from, y_to,
        block, ry, cx
    ):
        # Grid rows y_from <= y < y_to (this thread's share), in blocks of
        # `block` rows; each block runs through every level o. Unsigned
        # indices in the inner loops: no negative-index test, so they vectorise.
        # Output point (y, x) lies at (y + ry, x + cx) in each array of fs.
        n1 = outs_a[0].shape[2]
        K1 = w1.shape[1]
        g0 = np.empty(n1)  # d/d(axis -2) of one grid row, float64
        g1 = np.empty(n1)  # d/d(axis -1)
        # Columns m0 <= x < m1: the run `main`, differenced in the last loop.
        m0 = runs1[main, FIRST] if main >= 0 else 0
        m1 = runs1[main, END] if main >= 0 else 0
        ms = runs1[main, SHIFT] if main >= 0 else 0
        mq = d1[m0] if main >= 0 else 1.0
        for b0 in range(y_from, y_to, block):
            b1 = min(b0 + block, y_to)
            for v in range(len(fs)):
                f, out_a, out_b = fs[v], outs_a[v], outs_b[v]
                for o in range(f.shape[0]):
                    fo = f[o]
                    for y in range(b0, b1):
                        # Along axis -2: a quotient of two rows (done in the last
                        # loop, except outside the main run), or a weighted sum.
                        dv = d0[y]
                        quotient = dv == dv
                        lo = fo[idx0[y, used0[y, 0]], cx : cx + n1]
                        hi = fo[idx0[y, used0[y, 1]], cx : cx + n1]
                        if quotient:
                            for x in range(m0):
                                g0[x] = (np.float64(hi[x]) - np.float64(lo[x])) / dv
                            for x in range(m1, n1):
                                g0[x] = (np.float64(hi[x]) - np.float64(lo[x])) / dv
                        else:
                            weighted_rows(fo, idx0, w0, y, cx, g0)
                        # Along axis -1: runs of shifted stencils and the odd rows.
                        row = fo[y + ry]
                        for p in range(runs1.shape[0]):
                            if p == main:
                                continue
                            r0 = runs1[p, FIRST]
                            r1 = runs1[p, END]
                            shift = runs1[p, SHIFT]
                            kind = runs1[p, KIND]
                            if kind == QUOTIENT:
                                dq = d1[r0]
                                a = row[r0 + shift : r1 + shift]
                                c = row[r0 + shift + K1 - 1 : r1 + shift + K1 - 1]
                                g = g1[r0:r1]
                                for q in range(np.uint64(r1 - r0)):
                                    g[q] = (np.float64(c[q]) - np.float64(a[q])) / dq
                            elif kind == SUM:
                                g = g1[r0:r1]
                                for j in range(K1):
                                    a = row[r0 + shift + j : r1 + shift + j]
                                    wj = wt1[j, r0:r1]
                                    if j == 0:
                                        for q in range(np.uint64(r1 - r0)):
                                            g[q] = wj[q] * np.float64(a[q])
                                    else:
                                        for q in range(np.uint64(r1 - r0)):
                                            g[q] += wj[q] * np.float64(a[q])
                            else:
                                for q in range(r0, r1):
                                    dq = d1[q]
                                    if dq == dq:
                                        g1[q] = (
                                            np.float64(row[idx1[q, used1[q, 1]]]) - np.float64(row[idx1[q, used1[q, 0]]])
                                        ) / dq
                                        continue
                                    started = False
                                    acc = 0.0
                                    for j in range(K1):
                                        wj = w1[q, j]
                                        if wj != wj:
                                            continue
                                        v = wj * np.float64(row[idx1[q, j]])
                                        acc = acc + v if started else v
                                        started = True
                                    g1[q] = acc
                        ra, rb, rc, re = ma[y], mb[y], mc[y], me[y]
                        da, db = out_a[o, y], out_b[o, y]
                        for x in range(m0):
                            da[x] = ra[x] * g0[x] + rb[x] * g1[x]
                            db[x] = rc[x] * g0[x] + re[x] * g1[x]
                        for x in range(m1, n1):
                            da[x] = ra[x] * g0[x] + rb[x] * g1[x]
                            db[x] = rc[x] * g0[x] + re[x] * g1[x]
                        if m1 > m0:
                            a = row[m0 + ms : m1 + ms]
                            c = row[m0 + ms + K1 - 1 : m1 + ms + K1 - 1]
                            ra, rb, rc, re = ra[m0:m1], rb[m0:m1], rc[m0:m1], re[m0:m1]
                            da, db = da[m0:m1], db[m0:m1]
                            if quotient:
                                lo, hi = lo[m0:m1], hi[m0:m1]
                                for q in range(np.uint64(m1 - m0)):
                                    u = (np.float64(hi[q]) - np.float64(lo[q])) / dv
                                    v = (np.float64(c[q]) - np.float64(a[q])) / mq
                                    da[q] = ra[q] * u + rb[q] * v
                                    db[q] = rc[q] * u + re[q] * v
                            else:
                                g = g0[m0:m1]
                                for q in range(np.uint64(m1 - m0)):
                                    u = g[q]
                                    v = (np.float64(c[q]) - np.float64(a[q])) / mq
                                    da[q] = ra[q] * u + rb[q] * v
                                    db[q] = rc[q] * u + re[q] * v
