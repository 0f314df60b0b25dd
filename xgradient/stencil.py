"""Coordinate values -> finite-difference stencil weights.

This is the one place where nonuniform-grid correctness lives. Everything here
is 1-D numpy on the coordinate (never on the data), computed once per
coordinate and reused for every block and every variable.

A :class:`Stencil` of width ``K`` says, for each output point ``i``, that

    d f / d x (x_i)  ~=  sum_j  weights[i, j] * f[start[i] + j]

where ``start[i] + j`` is taken modulo ``n`` for a periodic coordinate (the
interior rows of a periodic stencil start at ``i - halo``, so the first and
last ``halo`` rows reach past the ends and wrap). Unused slots of a row (the
two-point rows of ``edge_order=1``) hold NaN, which the kernel skips, so that a
NaN in the data only reaches the points whose formula really uses it.

The default first derivative (accuracy 2, not wrapped) is ``numpy.gradient``'s,
bit for bit, so it is built the way numpy computes it (:func:`numpy_stencil`):
where numpy divides a difference, ``(f[i+1] - f[i-1]) / (2 h)`` on exactly
uniform steps and ``(f[1] - f[0]) / h`` at the ``edge_order=1`` ends, the row
is a *quotient row*: ``divisor[i]`` holds the denominator and the kernel
computes the difference of the row's first and last used points in the data's
own dtype, then divides (its weights still hold ``-1/d, 0, 1/d`` for readers
that want the linear form). The weights and divisor arrays have the dtype of
numpy's operands (the coordinate's float dtype), because numpy's type
promotion decides in which precision each product and quotient is rounded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Stencil", "build_stencil", "fornberg_weights", "numpy_stencil", "validate_coordinate"]

ACCURACIES = (2, 4, 6)
EDGE_ORDERS = (1, 2)


@dataclass(frozen=True)
class Stencil:
    """Weights of a derivative stencil along one coordinate.

    Attributes
    ----------
    weights : ndarray, shape (n, K)
        ``weights[i, j]`` multiplies ``f[start[i] + j]``; NaN marks an unused slot.
    start : ndarray of int64, shape (n,)
        Index of the first point of each row's stencil (may be negative or
        reach past ``n - K`` for a periodic coordinate: indices wrap).
    halo : int
        Points needed on each side of an interior point (``K // 2``).
    period : float or None
        The period when the coordinate wraps, else None.
    coord : ndarray
        The validated coordinate values (float64), kept for the stencils that
        ``skipna`` builds around missing values.
    order, edge_order, accuracy : int
        What the weights were built for.
    scale : float
        Factor already applied to `weights` (e.g. degrees -> metres).
    divisor : ndarray, shape (n,), or None
        For quotient rows (numpy's ``(f[hi] - f[lo]) / d``), ``d``; NaN for
        rows that are a weighted sum. None when every row is a sum.
    """

    weights: np.ndarray
    start: np.ndarray
    halo: int
    period: float | None
    coord: np.ndarray
    order: int = 1
    edge_order: int = 1
    accuracy: int = 2
    scale: float = 1.0
    divisor: np.ndarray | None = None

    @property
    def width(self) -> int:
        return self.weights.shape[1]

    @property
    def size(self) -> int:
        return self.weights.shape[0]

    def scaled(self, factor) -> Stencil:
        """The same stencil with every weight multiplied by `factor`.

        Quotient rows become weighted sums: a scaled derivative is not
        numpy's formula anyway, and one multiply per point is cheaper than a
        divide and a multiply.
        """
        weights = self.weights.astype(np.float64) * factor
        return replace(self, weights=weights, scale=self.scale * factor, divisor=None)

    def positions(self, first, stop) -> np.ndarray:
        """Coordinate values of global indices ``first..stop-1``, unwrapped.

        Indices outside ``0..n-1`` are only meaningful for a periodic
        coordinate: index ``n + j`` sits one period past ``coord[j]``.
        """
        n = self.size
        idx = np.arange(first, stop)
        if self.period is None:
            return self.coord[np.clip(idx, 0, n - 1)]
        direction = 1.0 if n < 2 or self.coord[-1] > self.coord[0] else -1.0
        return self.coord[idx % n] + direction * self.period * (idx // n)

    def min_chunks(self, halo=None) -> tuple[int, int]:
        """(smallest chunk anywhere, smallest first/last chunk) for dask blocks.

        Interior rows reach `halo` points past their block, which the dask
        overlap supplies; the one-sided rows at the ends of a non-periodic
        coordinate reach ``width - 1`` points inward, so the first and last
        blocks must hold a whole stencil themselves.
        """
        halo = self.halo if halo is None else halo
        if self.period is not None:
            return halo, halo
        return halo, min(max(self.width, halo), self.size)


def _name(name):
    return f"coordinate {name!r}" if name is not None else "the coordinate"


def validate_coordinate(x, name=None) -> np.ndarray:
    """Check that `x` is a usable coordinate and return it as float64.

    Parameters
    ----------
    x : array_like, 1-D
        Coordinate values (numbers; datetimes must be converted before).
    name : str, optional
        Used in error messages.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    TypeError
        If the values are not real numbers.
    ValueError
        If they are not 1-D, not finite, repeated or not strictly monotonic.
        The message gives the offending index.

    Examples
    --------
    >>> validate_coordinate([0.0, 1.0, 3.0], name="depth")
    array([0., 1., 3.])
    >>> validate_coordinate([0.0, 1.0, 1.0], name="depth")
    Traceback (most recent call last):
    ...
    ValueError: coordinate 'depth' has a repeated value 1.0 at index 2 (same as index 1); coordinate values must be strictly monotonic
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{_name(name)} has dtype {arr.dtype}; it must hold real numbers "
            "(datetime64 and cftime coordinates are converted by the .grad accessor)"
        )
    if arr.ndim != 1:
        raise ValueError(f"{_name(name)} must be 1-D, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    v = arr.tolist()  # plain floats for the messages
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{_name(name)} has a non-finite value {v[bad[0]]} at index {bad[0]}")
    if arr.size < 2:
        return arr
    dx = np.diff(arr)
    zero = np.flatnonzero(dx == 0)
    if zero.size:
        i = zero[0] + 1
        raise ValueError(
            f"{_name(name)} has a repeated value {v[i]!r} at index {i} (same as "
            f"index {i - 1}); coordinate values must be strictly monotonic"
        )
    sign = np.sign(dx[0])
    wrong = np.flatnonzero(np.sign(dx) != sign)
    if wrong.size:
        i = wrong[0] + 1
        way = "increases" if sign > 0 else "decreases"
        raise ValueError(
            f"{_name(name)} is not monotonic: it {way} up to index {i - 1} "
            f"({v[i - 1]!r}) and then turns at index {i} ({v[i]!r}); "
            "sort the object along it first (e.g. .sortby)"
        )
    return arr


def fornberg_weights(offsets, order=1) -> np.ndarray:
    """Finite-difference weights for many stencils at once (Fornberg 1988).

    Parameters
    ----------
    offsets : ndarray, shape (rows, K)
        Node positions minus the evaluation point, one stencil per row.
    order : int
        Derivative order.

    Returns
    -------
    ndarray, shape (rows, K)
        Weights such that ``sum_j w[j] f(x0 + offsets[j]) ~= f^(order)(x0)``,
        exact for polynomials of degree < K.

    Notes
    -----
    B. Fornberg, "Generation of finite difference formulas on arbitrarily
    spaced grids", Math. Comp. 51 (1988), 699-706: the recursion over nodes,
    vectorised here across stencils.

    Examples
    --------
    >>> fornberg_weights(np.array([[-1.0, 0.0, 1.0]]))[0]
    array([-0.5,  0. ,  0.5])
    """
    z = np.asarray(offsets, dtype=np.float64).T
    K = z.shape[0]
    rest = z.shape[1:]
    c = np.zeros((K, order + 1) + rest)
    c[0, 0] = 1.0
    c1 = np.ones(rest)
    c4 = z[0]
    for i in range(1, K):
        mn = min(i, order)
        c2 = np.ones(rest)
        c5 = c4
        c4 = z[i]
        for j in range(i):
            c3 = z[i] - z[j]
            c2 = c2 * c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return np.ascontiguousarray(c[:, order].T)


def _check_options(name, n, order, edge_order, accuracy, period):
    if order not in (1, 2):
        raise ValueError(f"derivative order must be 1 or 2, got {order!r}")
    if isinstance(edge_order, bool) or edge_order not in EDGE_ORDERS:
        raise ValueError(f"edge_order must be 1 or 2, got {edge_order!r}")
    if isinstance(accuracy, bool) or accuracy not in ACCURACIES:
        raise ValueError(f"accuracy must be one of {ACCURACIES}, got {accuracy!r}")
    if period is not None:
        need = accuracy + 1
        why = f"a periodic accuracy={accuracy} stencil"
    elif accuracy == 2 and order == 1:
        need = edge_order + 1
        why = f"edge_order={edge_order}"
    else:
        need = accuracy + 1
        why = f"accuracy={accuracy}" + (" for a second derivative" if order == 2 else "")
    if n < need:
        raise ValueError(
            f"{_name(name)} has {n} point{'s' if n != 1 else ''}; {why} needs at least {need}"
        )


def build_stencil(x, *, order=1, edge_order=1, accuracy=2, period=None, name=None) -> Stencil:
    """Validate a coordinate and compute its derivative stencil.

    Parameters
    ----------
    x : array_like, 1-D
        Strictly monotonic coordinate values.
    order : {1, 2}
        Derivative order. Second derivatives use a direct nonuniform
        ``accuracy + 1``-point stencil (Fornberg), not a first derivative
        applied twice; their one-sided end stencils have the same number of
        points, so they are one order less accurate than the interior.
    edge_order : {1, 2}
        Accuracy of the one-sided first differences at the two ends
        (accuracy=2 only; as in ``numpy.gradient``).
    accuracy : {2, 4, 6}
        Order of the interior stencil. For first derivatives with accuracy > 2
        the ends use one-sided stencils of the same order, and `edge_order`
        has no effect.
    period : float, optional
        Wrap the coordinate with this period (e.g. 360 for a global longitude).
    name : str, optional
        Coordinate name for error messages.

    Returns
    -------
    Stencil

    Examples
    --------
    >>> s = build_stencil([0.0, 1.0, 3.0])
    >>> s.weights[1]  # central point: neighbours at -1 and +2
    array([-0.66666667,  0.5       ,  0.16666667])
    >>> build_stencil([0.0, 1.0, 3.0], order=2).weights[1]
    array([ 0.66666667, -1.        ,  0.33333333])
    """
    x_in = x
    x = validate_coordinate(x, name)
    n = x.size
    _check_options(name, n, order, edge_order, accuracy, period)
    h = accuracy // 2
    K = min(accuracy + 1, n)
    options = dict(coord=x, order=order, edge_order=edge_order, accuracy=accuracy)
    if period is not None:
        period = float(period)
        span = abs(x[-1] - x[0])
        if not period > 0 or span >= period:
            raise ValueError(
                f"{_name(name)} spans {span!r}, which does not fit in the period {period!r}: "
                "a periodic coordinate must not repeat its first point at the end "
                "(drop the duplicate, or pass periodic=False)"
            )
        start = np.arange(n, dtype=np.int64) - h
        stencil = Stencil(np.empty((n, K)), start, h, period, **options)
        pos = stencil.positions(-h, n + h)
        nodes = np.arange(n)[:, None] + np.arange(K)  # into pos
        if accuracy == 2 and order == 1:
            # numpy.gradient's interior rows on the array padded with the
            # other end (its uniform branch too, when every step, the wrap
            # step included, is equal).
            own = np.asarray(x_in)
            own = own.astype(np.float64) if own.dtype.kind in "biu" else own
            # In the coordinate's own dtype, as a padded float32 longitude would be.
            wrap = (1.0 if x[-1] > x[0] else -1.0) * period
            padded = numpy_stencil(n + 2, numpy_spacing(np.concatenate([own[-1:] - wrap, own, own[:1] + wrap])))
            divisor = padded.divisor
            if divisor is not None and np.isfinite(divisor[1:-1]).any():
                return replace(stencil, weights=padded.weights[1:-1], divisor=divisor[1:-1])
            return replace(stencil, weights=padded.weights[1:-1])
        weights = fornberg_weights(pos[nodes] - x[:, None], order)
        return replace(stencil, weights=weights)
    if order == 1 and accuracy == 2:
        spacing = numpy_spacing(x_in)
        return replace(numpy_stencil(n, spacing, edge_order), coord=x)
    rows = np.arange(n)
    start = np.clip(rows - h, 0, n - K).astype(np.int64)
    nodes = start[:, None] + np.arange(K)
    weights = fornberg_weights(x[nodes] - x[:, None], order)
    return Stencil(weights, start, h, None, **options)


def numpy_spacing(x):
    """A coordinate's spacing as ``numpy.gradient`` sees it.

    Integers become float64, other dtypes stay; the steps ``np.diff(x)``, or
    the first step alone when all are equal (numpy's uniform branch).

    Examples
    --------
    >>> numpy_spacing([0, 2, 4])
    np.float64(2.0)
    >>> numpy_spacing(np.array([0.0, 1.0, 3.0], dtype=np.float32))
    array([1., 2.], dtype=float32)
    """
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    steps = np.diff(x)
    return steps[0] if (steps == steps[0]).all() else steps


def _operand_dtype(obj, dtype):
    """The dtype an operand of numpy's formulas has in arithmetic with data of `dtype`.

    A numpy scalar or array keeps its own (the kernel promotes it with the
    data, as numpy does); a Python number is "weak" (NEP 50) and takes the
    data's precision; so do numpy integers, which numpy promotes with the
    data before dividing.
    """
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind in "fc":
        return np.empty(0, obj.dtype).real.dtype
    return np.empty(0, np.result_type(dtype, obj)).real.dtype


def numpy_stencil(n, spacing, edge_order=1, dtype=None) -> Stencil:
    """``numpy.gradient``'s formulas for `n` points, as a :class:`Stencil`.

    Parameters
    ----------
    n : int
        Number of points.
    spacing : scalar or ndarray of shape (n - 1,)
        As numpy has it after looking at its argument (:func:`numpy_spacing`):
        a scalar for its uniform branch (a Python number stays a Python
        number: its precision follows the data's), else the steps.
    edge_order : {1, 2}
    dtype : numpy dtype, optional
        The data's dtype (integers already counted as float64); needed to
        resolve a Python-number spacing, ignored otherwise.

    Returns
    -------
    Stencil
        Quotient rows where numpy divides (uniform interior, ``edge_order=1``
        ends), weighted sums elsewhere, every operand in the dtype numpy's
        arithmetic gives it.

    Examples
    --------
    >>> s = numpy_stencil(4, np.float64(0.5))
    >>> s.divisor
    array([0.5, 1. , 1. , 0.5])
    >>> numpy_stencil(3, np.array([1.0, 2.0]), edge_order=2).weights[1]
    array([-0.66666667,  0.5       ,  0.16666667])
    """
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    K = 3 if n >= 3 else 2
    rows = np.arange(n)
    start = np.clip(rows - 1, 0, n - K).astype(np.int64)
    weights = np.full((n, K), np.nan)
    divisor = np.full(n, np.nan)
    sums = []  # numpy operands of the weighted-sum rows
    quotients = []  # and of the divided rows

    def quotient(row, lo, hi, d):
        quotients.append(d)
        divisor[row] = d
        weights[row, lo] = -1.0 / float(d)
        weights[row, hi] = 1.0 / float(d)
        if hi - lo == 2:
            weights[row, 1] = 0.0

    if np.ndim(spacing) == 0:
        # The operands exactly as numpy writes them, so that each has the
        # type numpy's expression gives it.
        if n >= 3:
            den = 2.0 * spacing
            quotients.append(den)
            divisor[1:-1] = den
            weights[1:-1] = (-1.0 / float(den), 0.0, 1.0 / float(den))
        if edge_order == 1:
            quotient(0, 0, 1, spacing)
            quotient(n - 1, K - 2, K - 1, spacing)
        else:
            left = (-1.5 / spacing, 2.0 / spacing, -0.5 / spacing)
            right = (0.5 / spacing, -2.0 / spacing, 1.5 / spacing)
            sums += [*left, *right]
            weights[0], weights[-1] = [float(v) for v in left], [float(v) for v in right]
    else:
        dx = np.asarray(spacing)
        if n >= 3:
            dx1, dx2 = dx[:-1], dx[1:]
            a = -(dx2) / (dx1 * (dx1 + dx2))
            b = (dx2 - dx1) / (dx1 * dx2)
            c = dx1 / (dx2 * (dx1 + dx2))
            sums += [a]
            weights = weights.astype(a.dtype)
            weights[1:-1] = np.stack([a, b, c], axis=-1)
        if edge_order == 1:
            quotient(0, 0, 1, dx[0])
            quotient(n - 1, K - 2, K - 1, dx[-1])
        else:
            dx1, dx2 = dx[0], dx[1]
            left = (
                -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2)),
                (dx1 + dx2) / (dx1 * dx2),
                -dx1 / (dx2 * (dx1 + dx2)),
            )
            dx1, dx2 = dx[-2], dx[-1]
            right = (
                (dx2) / (dx1 * (dx1 + dx2)),
                -(dx2 + dx1) / (dx1 * dx2),
                (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2)),
            )
            sums += [*left, *right]
            weights = weights.astype(np.result_type(weights, *left))
            weights[0], weights[-1] = left, right
    # Store each operand in the precision numpy computes with it.
    wtype = np.result_type(*[_operand_dtype(v, dtype) for v in sums]) if sums else np.dtype(np.float64)
    weights = weights.astype(wtype)
    if quotients:
        dtype_q = np.result_type(*[_operand_dtype(v, dtype) for v in quotients])
        divisor = divisor.astype(dtype_q)
    else:
        divisor = None
    x = np.arange(n, dtype=np.float64) * float(spacing) if np.ndim(spacing) == 0 else None
    if x is None:
        x = np.concatenate([[0.0], np.cumsum(np.asarray(spacing, dtype=np.float64))])
    return Stencil(weights, start, 1, None, x, 1, edge_order, 2, divisor=divisor)
