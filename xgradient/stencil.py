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
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Stencil", "build_stencil", "fornberg_weights", "validate_coordinate"]

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

    @property
    def width(self) -> int:
        return self.weights.shape[1]

    @property
    def size(self) -> int:
        return self.weights.shape[0]

    def scaled(self, factor) -> Stencil:
        """The same stencil with every weight multiplied by `factor`."""
        return replace(self, weights=self.weights * factor, scale=self.scale * factor)

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


def _three_point(xm, x0, xp, at):
    """Three-point first-derivative weights at `at` (one of the nodes).

    This is Fornberg's result for three nodes written out the way
    ``numpy.gradient`` writes it (numpy/lib/_function_base_impl.py), so that
    accuracy=2 agrees with numpy bit for bit on nonuniform coordinates.
    """
    if at == 1:  # interior: dx1 = x0 - xm, dx2 = xp - x0
        dx1, dx2 = x0 - xm, xp - x0
        a = -(dx2) / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
    elif at == 0:  # left edge, edge_order=2
        dx1, dx2 = x0 - xm, xp - x0
        a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
        b = (dx1 + dx2) / (dx1 * dx2)
        c = -dx1 / (dx2 * (dx1 + dx2))
    else:  # right edge, edge_order=2
        dx1, dx2 = x0 - xm, xp - x0
        a = dx2 / (dx1 * (dx1 + dx2))
        b = -(dx2 + dx1) / (dx1 * dx2)
        c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
    return np.stack([a, b, c], axis=-1)


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
            weights = _three_point(pos[nodes[:, 0]], pos[nodes[:, 1]], pos[nodes[:, 2]], at=1)
        else:
            weights = fornberg_weights(pos[nodes] - x[:, None], order)
        return replace(stencil, weights=weights)
    rows = np.arange(n)
    start = np.clip(rows - h, 0, n - K).astype(np.int64)
    if order == 1 and accuracy == 2:
        weights = np.full((n, K), np.nan)
        if n >= 3:
            i = rows[1:-1]
            weights[1:-1] = _three_point(x[i - 1], x[i], x[i + 1], at=1)
        if edge_order == 1:
            # Two-point differences; slot 2 (or 0 at the right end) unused.
            d0 = 1.0 / (x[1] - x[0])
            weights[0, :2] = (-d0, d0)
            d1 = 1.0 / (x[-1] - x[-2])
            weights[-1, K - 2 :] = (-d1, d1)
        else:
            weights[0] = _three_point(x[0], x[1], x[2], at=0)
            weights[-1] = _three_point(x[-3], x[-2], x[-1], at=2)
    else:
        nodes = start[:, None] + np.arange(K)
        weights = fornberg_weights(x[nodes] - x[:, None], order)
    return Stencil(weights, start, h, None, **options)
