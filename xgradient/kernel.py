"""Apply stencil weights along one axis of an in-memory array.

The array is viewed as ``(outer, m, inner)`` with the differentiated axis in
the middle, so the innermost loop always runs over contiguous memory: over
``inner`` when the axis is not the last one, over the axis itself (``inner ==
1``) otherwise.

Rows are grouped into *runs*: consecutive output rows whose stencils are
shifted copies of each other (same ``start[i] - i``), lie inside the input and
use every slot. A run is done with a few contiguous sweeps; the few other rows
(one-sided ends, periodic wrap) go through a scalar path that wraps indices
and skips unused (NaN) slots. Sums are accumulated in float64, in the order
``((w0 f0 + w1 f1) + w2 f2) + ...`` that ``numpy.gradient`` uses, whatever
the input's dtype.

Two implementations of the same loops live here: a numba-compiled one (used
when numba imports; compiled once per stencil width, so the sum over the
stencil unrolls) and a pure-numpy reference (the fallback, and the check of the
compiled one in the tests). The compiled loops release the GIL; a large
in-memory array is split between threads (memory bandwidth, not arithmetic,
is the limit, and one core cannot use all of it).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["apply", "runs", "HAVE_NUMBA"]

# Below this many elements a second thread costs more than it saves.
THREAD_MIN_SIZE = 1 << 20

try:  # pragma: no cover - exercised by whichever environment runs the tests
    import numba
except ImportError:  # pragma: no cover
    numba = None

HAVE_NUMBA = numba is not None


def runs(weights, start, m) -> np.ndarray:
    """Group output rows into runs; return an int64 array of (r0, r1, shift, fast).

    Row ``r`` of a fast run reads ``f[r + shift + j]`` for ``j < K``, all in
    ``[0, m)``; a slow run is a single row handled with wrapping and skipping.
    """
    rows, K = weights.shape
    r = np.arange(rows)
    shift = start - r
    fast = (start >= 0) & (start + K <= m) & np.isfinite(weights).all(axis=1)
    # A new run begins where the row is slow, follows a slow row, or shifts.
    new = np.ones(rows, dtype=bool)
    new[1:] = ~fast[1:] | ~fast[:-1] | (shift[1:] != shift[:-1])
    r0 = np.flatnonzero(new)
    r1 = np.append(r0[1:], rows)
    return np.stack([r0, r1, shift[r0], fast[r0]], axis=1).astype(np.int64)


def apply(values, weights, start, axis=-1, threads=None) -> np.ndarray:
    """Differentiate `values` along `axis` with precomputed stencil rows.

    Parameters
    ----------
    values : ndarray
        Input block; ``values.shape[axis]`` is the number of input points ``m``.
        Float32 stays float32; other real input is computed as float64.
    weights : ndarray, shape (rows, K)
        Stencil weights (NaN = unused slot), see :mod:`xgradient.stencil`.
    start : ndarray of int64, shape (rows,)
        First input index of each output row's stencil, relative to `values`
        (wrapped modulo ``m`` when outside ``[0, m - K]``).
    axis : int
        Axis to differentiate along.
    threads : int, optional
        Threads to split a large array between (default: all cores; the dask
        path passes 1, dask runs blocks in parallel itself).

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
    if values.dtype.kind == "c":
        real = apply(values.real, weights, start, axis, threads)
        return real + 1j * apply(values.imag, weights, start, axis, threads)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    shape = values.shape
    m = shape[axis]
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    f = np.ascontiguousarray(values).reshape(outer, m, inner)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    start = np.ascontiguousarray(start, dtype=np.int64)
    rows = start.shape[0]
    out = np.empty((outer, rows, inner), dtype=values.dtype)
    if outer and rows and inner:
        plan = runs(weights, start, m)
        if HAVE_NUMBA:
            _run_compiled(f, weights, start, plan, out, threads)
        else:
            _reference(f, weights, start, plan, out)
    return out.reshape(shape[:axis] + (rows,) + shape[axis + 1 :])


def _reference(f, w, start, plan, out):
    """Pure-numpy version of the compiled loops (same arithmetic order)."""
    K = w.shape[1]
    m = f.shape[1]
    for r0, r1, shift, fast in plan:
        if fast:
            acc = w[r0:r1, 0, None] * f[:, r0 + shift : r1 + shift, :]
            for j in range(1, K):
                acc = acc + w[r0:r1, j, None] * f[:, r0 + shift + j : r1 + shift + j, :]
            out[:, r0:r1, :] = acc
        else:
            acc = np.zeros((f.shape[0], f.shape[2]))
            for j in range(K):
                if np.isfinite(w[r0, j]):
                    acc = acc + w[r0, j] * f[:, (start[r0] + j) % m, :]
            out[:, r0, :] = acc


@functools.lru_cache(maxsize=1)
def _pool():
    return ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="xgradient")


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_compiled(f, w, start, plan, out, threads):
    outer, rows, inner = out.shape
    along = _compiled(w.shape[1])
    loop = along.last if inner == 1 else along.middle
    if inner == 1:
        f, out = f[:, :, 0], out[:, :, 0]
    threads = _cores() if threads is None else threads
    if threads <= 1 or out.size < THREAD_MIN_SIZE:
        loop(f, w, start, plan, out, 0, outer, 0, rows)
        return
    # Split the outer loop when it is long enough, else the rows.
    split_outer = outer >= threads
    n = outer if split_outer else rows
    edges = np.linspace(0, n, threads + 1).astype(int)
    tasks = []
    for a, b in zip(edges[:-1], edges[1:]):
        span = (a, b, 0, rows) if split_outer else (0, outer, a, b)
        tasks.append(_pool().submit(loop, f, w, start, plan, out, *span))
    for t in tasks:
        t.result()


@functools.lru_cache(maxsize=None)
def _compiled(K):
    """Compile the loops for stencil width `K` (a constant, so sums unroll)."""

    @numba.njit(nogil=True)
    def middle(f, w, start, plan, out, o0, o1, R0, R1):  # pragma: no cover
        m = f.shape[1]
        inner = f.shape[2]
        for o in range(o0, o1):
            fo = f[o]
            for p in range(plan.shape[0]):
                r0 = max(plan[p, 0], R0)
                r1 = min(plan[p, 1], R1)
                shift = plan[p, 2]
                if plan[p, 3]:
                    for r in range(r0, r1):
                        s = r + shift
                        dst = out[o, r]
                        for t in range(inner):
                            acc = w[r, 0] * fo[s, t]
                            for j in range(1, K):
                                acc += w[r, j] * fo[s + j, t]
                            dst[t] = acc
                else:
                    for r in range(r0, r1):
                        dst = out[o, r]
                        for t in range(inner):
                            acc = 0.0
                            for j in range(K):
                                wj = w[r, j]
                                if wj == wj:  # NaN marks an unused slot
                                    acc += wj * fo[(start[r] + j) % m, t]
                            dst[t] = acc

    @numba.njit(nogil=True)
    def last(f, w, start, plan, out, o0, o1, R0, R1):  # pragma: no cover
        m = f.shape[1]
        for o in range(o0, o1):
            src = f[o]
            dst = out[o]
            for p in range(plan.shape[0]):
                r0 = max(plan[p, 0], R0)
                r1 = min(plan[p, 1], R1)
                shift = plan[p, 2]
                if plan[p, 3] and r1 > r0:
                    # Slices, so that indices start at 0 and the loop vectorises.
                    a = src[r0 + shift : r1 + shift + K - 1]
                    ws = w[r0:r1]
                    d = dst[r0:r1]
                    for q in range(r1 - r0):
                        acc = ws[q, 0] * a[q]
                        for j in range(1, K):
                            acc += ws[q, j] * a[q + j]
                        d[q] = acc
                else:
                    for r in range(r0, r1):
                        acc = 0.0
                        for j in range(K):
                            wj = w[r, j]
                            if wj == wj:
                                acc += wj * src[(start[r] + j) % m]
                        dst[r] = acc

    class Loops:
        pass

    Loops.middle = staticmethod(middle)
    Loops.last = staticmethod(last)
    return Loops
