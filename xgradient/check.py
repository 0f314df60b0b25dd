"""Check hand-written derivatives against finite differences of lower ones.

This is the method of NAG's e04hc (gradient against function) and e04hd
(Hessian against gradient), made more thorough so that a wrong single entry is
always found:

* Directions.  NAG projects the Hessian ``H`` onto two orthogonal directions
  ``y`` and ``z`` and compares ``yᵀHy`` and ``zᵀHz`` with finite differences of
  the gradient.  Two projections can miss a wrong entry ``H[i, j]`` whenever
  ``y[i]*y[j]`` and ``z[i]*z[j]`` happen to be small.  Here the gradient is
  differenced along every coordinate direction ``e_j``; the whole difference
  vector, not just one projection of it, is compared, which gives every
  projection ``e_iᵀ H e_j = H[i, j]``.  Each entry is checked on its own, so a
  single wrong entry cannot hide, and the report says which entry it is.  The
  price is ``4 n`` extra gradient evaluations instead of NAG's two.
* Step.  Central differences at steps ``h`` and ``2h`` along ``e_j``, with
  ``h_j = eps**(1/3) * (1 + |x_j|)`` (``eps`` the machine epsilon of the values
  the user's function returns).  ``eps**(1/3)`` balances the ``h**2`` truncation
  error of a central difference against its ``eps/h`` rounding error.  The two
  are combined by Richardson extrapolation, ``(4 D(h) - D(2h)) / 3``, whose
  truncation error is ``O(h**4)``; ``|D(h) - D(2h)|`` (three times the
  truncation error of ``D(h)``, so a generous bound for the extrapolated value)
  plus the rounding error of the difference, allowing 10 units in the last
  place in every function value, is the finite-difference uncertainty.
* Threshold.  An entry is wrong when it differs from its finite-difference
  estimate by more than ``rtol`` times its scale *plus* that uncertainty, so
  inaccurate differences weaken the check (the result reports how much, as
  ``fd_error``) instead of raising false alarms.  The scale of ``H[i, j]``
  is ``max(sqrt(c_i c_j), |H[i, j]|, |fd[i, j]|)`` with ``c_i`` the larger of
  the analytic and finite-difference ``|H[i, i]|``: under a change of units
  ``x_i -> x_i / s_i`` every term scales by ``s_i s_j``, exactly as the entry
  does, so badly scaled variables neither hide errors nor cause false alarms
  (the "correlation" form of a covariance matrix uses the same normalisation).
  A gradient component's scale is ``max(|g_j|, |fd_j|)``.

Everything here is vectorised over trailing "point" axes, so the same code
checks one point or every point of a grid at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = [
    "GradientCheck",
    "HessianCheck",
    "check_gradient",
    "check_gradient_field",
    "check_hessian",
    "check_hessian_field",
]

DEFAULT_RTOL = 1e-4
# Rounding allowance: each function value may be off by this many units in
# the last place; Richardson's (4 D(h) - D(2h)) / 3 turns an error of u in each
# value into at most 1.5 u / h.
_ULPS = 10
_ROUNDING = 1.5 * _ULPS


# --------------------------------------------------------------------------
# Results


@dataclass(repr=False, eq=False)
class GradientCheck:
    """Outcome of :func:`check_gradient`.

    Attributes
    ----------
    ok : bool
        True when every component agrees with finite differences.
    x : ndarray, shape (n,)
        The point.
    value : float
        The function value at `x`.
    gradient : ndarray, shape (n,)
        The analytic gradient at `x` (the projections ``gᵀe_j``).
    fd_gradient : ndarray, shape (n,)
        Its finite-difference estimate.
    error : ndarray, shape (n,)
        Relative error of each component beyond the finite-difference
        uncertainty; a component is wrong when this exceeds `rtol`.
    fd_error : ndarray, shape (n,)
        Relative uncertainty of the finite differences (small means the
        check is sharp).
    step : ndarray, shape (n,)
        The step along each coordinate direction.
    rtol : float
        The tolerance used.
    names : tuple of str or None
        Coordinate names, when the point was given by name.
    """

    ok: bool
    x: np.ndarray
    value: float
    gradient: np.ndarray
    fd_gradient: np.ndarray
    error: np.ndarray
    fd_error: np.ndarray
    step: np.ndarray
    rtol: float
    names: tuple | None = None

    @property
    def directions(self):
        """Displacements used, one per row: ``step[j] * e_j``."""
        return np.diag(self.step)

    @property
    def failures(self):
        """Wrong components (names or indices), worst first."""
        bad = np.flatnonzero(~(self.error <= self.rtol))
        order = bad[np.argsort(-np.nan_to_num(self.error[bad], nan=np.inf), kind="stable")]
        return [_label(self.names, j) for j in order]

    def __repr__(self):
        n = self.gradient.size
        head = f"GradientCheck(ok={self.ok}, n={n}, rtol={self.rtol:.0e})"
        bad = np.flatnonzero(~(self.error <= self.rtol))
        if bad.size == 0:
            return (
                f"{head}\n  every component of the gradient agrees with central "
                f"differences of the function\n  largest finite-difference "
                f"uncertainty {_fmt(np.max(self.fd_error))}"
            )
        intro = f"{_count(bad.size, 'component', 'components')} with central differences"
        lines = [f"{head}\n  {intro} of the function:"]
        for j in bad[np.argsort(-np.nan_to_num(self.error[bad], nan=np.inf), kind="stable")]:
            lines.append(
                f"    g[{_label(self.names, j)}]: analytic {self.gradient[j]:.8g}, "
                f"finite differences {self.fd_gradient[j]:.8g} "
                f"(relative error {_fmt(self.error[j])})"
            )
        return "\n".join(lines)


@dataclass(repr=False, eq=False)
class HessianCheck:
    """Outcome of :func:`check_hessian`.

    Attributes
    ----------
    ok : bool
        True when every entry agrees with finite differences of the gradient.
    x : ndarray, shape (n,)
        The point.
    gradient : ndarray, shape (n,)
        The gradient at `x`.
    hessian : ndarray, shape (n, n)
        The analytic Hessian at `x`; entry ``[i, j]`` is the projection
        ``e_iᵀ H e_j``.
    fd_hessian : ndarray, shape (n, n)
        Finite-difference estimates of the same projections: column ``j`` is
        the central difference of the gradient along ``e_j``.
    error : ndarray, shape (n, n)
        Relative error of each entry beyond the finite-difference
        uncertainty; an entry is wrong when this exceeds `rtol`.
    fd_error : ndarray, shape (n, n)
        Relative uncertainty of the finite differences.
    step : ndarray, shape (n,)
        The step along each coordinate direction.
    rtol : float
        The tolerance used.
    names : tuple of str or None
        Coordinate names, when the point was given by name.
    """

    ok: bool
    x: np.ndarray
    gradient: np.ndarray
    hessian: np.ndarray
    fd_hessian: np.ndarray
    error: np.ndarray
    fd_error: np.ndarray
    step: np.ndarray
    rtol: float
    names: tuple | None = None

    @property
    def directions(self):
        """Displacements used, one per row: ``step[j] * e_j``."""
        return np.diag(self.step)

    def _bad_pairs(self):
        # One report per unordered pair: a wrong symmetric entry is usually
        # wrong in both triangles, and the pair is what the user must fix.
        err = np.where(np.isnan(self.error), np.inf, self.error)
        worst = np.maximum(err, err.T)
        i, j = np.nonzero(np.triu(~(worst <= self.rtol)))
        order = np.argsort(-worst[i, j], kind="stable")
        return [(a, b) for a, b in zip(i[order], j[order])]

    @property
    def failures(self):
        """Wrong entries as ``(a, b)`` pairs in coordinate order, worst first."""
        return [(_label(self.names, i), _label(self.names, j)) for i, j in self._bad_pairs()]

    def __repr__(self):
        n = self.gradient.size
        head = f"HessianCheck(ok={self.ok}, n={n}, rtol={self.rtol:.0e})"
        pairs = self._bad_pairs()
        if not pairs:
            return (
                f"{head}\n  every entry of the Hessian agrees with central "
                f"differences of the gradient\n  largest finite-difference "
                f"uncertainty {_fmt(np.max(self.fd_error))}"
            )
        intro = f"{_count(len(pairs), 'entry', 'entries')} with central differences"
        lines = [f"{head}\n  {intro} of the gradient:"]
        for i, j in pairs:
            if self.error[i, j] <= self.rtol:  # only the other triangle is wrong
                i, j = j, i
            lines.append(
                f"    H[{_label(self.names, i)}, {_label(self.names, j)}]: analytic "
                f"{self.hessian[i, j]:.8g}, finite differences "
                f"{self.fd_hessian[i, j]:.8g} (relative error {_fmt(self.error[i, j])})"
            )
        return "\n".join(lines)


def _label(names, i):
    return names[i] if names is not None else int(i)


def _fmt(v):
    return f"{v:.2g}"


def _count(k, word, plural):
    return f"{k} {word} disagrees" if k == 1 else f"{k} {plural} disagree"


# --------------------------------------------------------------------------
# Numerical core, vectorised over trailing point axes: x has shape (n, *pts).


def _eps(values):
    dtype = np.asarray(values).dtype
    return np.finfo(dtype if dtype.kind == "f" else np.float64).eps


def _steps(step, x, eps):
    if step is None:
        return np.cbrt(eps) * (1.0 + np.abs(x))
    h = np.asarray(step, dtype=float)
    if h.ndim == 1:
        h = h.reshape(h.shape + (1,) * (x.ndim - 1))
    h = np.broadcast_to(h, x.shape)
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"step must be positive and finite, got {step!r}")
    return h


def _differences(fun, x, j, h):
    """Central differences of `fun` along e_j at steps h and 2h.

    Uses the spacing actually representable, ``(x + h) - (x - h)``, so the
    rounding of ``x_j + h`` does not become a first-order error.
    """
    diffs, biggest = [], 0.0
    for k in (1.0, 2.0):
        xp, xm = x.copy(), x.copy()
        xp[j] = x[j] + k * h
        xm[j] = x[j] - k * h
        fp, fm = fun(xp), fun(xm)
        # Only our own arithmetic is quiet: inf or NaN from the user's
        # function becomes a failed check, not a warning from here.
        with _quiet():
            diffs.append((fp - fm) / (xp[j] - xm[j]))
            biggest = np.maximum(biggest, np.maximum(np.abs(fp), np.abs(fm)))
    return diffs[0], diffs[1], biggest


def _richardson(fun, x, j, h, eps, at_x):
    """Extrapolated central difference along e_j and its uncertainty."""
    d1, d2, biggest = _differences(fun, x, j, h)
    with _quiet():
        estimate = (4.0 * d1 - d2) / 3.0
        uncertainty = np.abs(d1 - d2) + _ROUNDING * eps * np.maximum(biggest, np.abs(at_x)) / h
    return estimate, uncertainty


def _quiet():
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _ratio(a, b):
    """a / b with 0 / 0 = 0 and a / 0 = inf; NaN stays NaN."""
    with _quiet():
        r = a / b
    return np.where((a == 0) & (b == 0), 0.0, r)


def _gradient_core(fun, grad, x, step):
    value = fun(x.copy())
    eps = _eps(value)
    value = np.asarray(value, dtype=float)
    g = np.asarray(grad(x.copy()), dtype=float)
    h = _steps(step, x, eps)
    fd, unc = np.empty_like(x), np.empty_like(x)
    for j in range(x.shape[0]):
        fd[j], unc[j] = _richardson(fun, x, j, h[j], eps, value)
    with _quiet():
        scale = np.maximum(np.abs(g), np.abs(fd))
        excess = np.maximum(np.abs(g - fd) - unc, 0.0)
    return {
        "value": value,
        "gradient": g,
        "fd_gradient": fd,
        "error": _ratio(excess, scale),
        "fd_error": _ratio(unc, scale),
        "step": h,
    }


def _hessian_core(grad, hess, x, step):
    g = grad(x.copy())
    eps = _eps(g)
    g = np.asarray(g, dtype=float)
    H = np.asarray(hess(x.copy()), dtype=float)
    h = _steps(step, x, eps)
    n = x.shape[0]
    fd = np.empty((n,) + x.shape)
    unc = np.empty_like(fd)
    for j in range(n):
        fd[:, j], unc[:, j] = _richardson(grad, x, j, h[j], eps, g)
    idx = np.arange(n)
    with _quiet():
        c = np.maximum(np.abs(H[idx, idx]), np.abs(fd[idx, idx]))
        scale = np.maximum(np.sqrt(c[:, None] * c[None, :]), np.maximum(np.abs(H), np.abs(fd)))
        excess = np.maximum(np.abs(H - fd) - unc, 0.0)
    return {
        "gradient": g,
        "hessian": H,
        "fd_hessian": fd,
        "error": _ratio(excess, scale),
        "fd_error": _ratio(unc, scale),
        "step": h,
    }


# --------------------------------------------------------------------------
# Turning the user's functions and points into the core's vector form


def _shape_checked(result, shape, what):
    arr = np.asarray(result)
    if arr.shape != shape:
        raise ValueError(f"{what} returned shape {arr.shape}, expected {shape}")
    return arr


def _stack(items, shape):
    return np.stack([np.broadcast_to(np.asarray(v), shape) for v in items])


def _named_vector(result, names, shape, what):
    if isinstance(result, Mapping):
        missing = [nm for nm in names if nm not in result]
        if missing:
            raise ValueError(f"{what} returned no value for {missing}; it returned {list(result)}")
        return _stack([result[nm] for nm in names], shape)
    items = list(result)
    if len(items) != len(names):
        raise ValueError(
            f"{what} returned {len(items)} values, expected {len(names)} (one per {list(names)})"
        )
    return _stack(items, shape)


def _named_matrix(result, names, shape, known, what):
    n = len(names)
    H = np.zeros((n, n) + shape)
    if isinstance(result, Mapping):
        index = {nm: k for k, nm in enumerate(names)}
        given = np.zeros((n, n), dtype=bool)
        for key, v in result.items():
            if not (isinstance(key, tuple) and len(key) == 2 and all(k in known for k in key)):
                raise ValueError(
                    f"{what} returned an entry for {key!r}; keys must be pairs of the "
                    f"coordinate names {sorted(known)}"
                )
            if key[0] in index and key[1] in index:
                i, j = index[key[0]], index[key[1]]
                H[i, j] = np.broadcast_to(np.asarray(v, dtype=float), shape)
                given[i, j] = True
        # A symmetric partner that was not given mirrors the one that was;
        # pairs not given at all count as zero (the check flags them if not).
        mirror = ~given & given.T
        H[mirror] = H.transpose((1, 0) + tuple(range(2, H.ndim)))[mirror]
        return H
    rows = list(result)
    if len(rows) != n or any(len(row) != n for row in rows):
        raise ValueError(f"{what} must return an {n} x {n} array (rows and columns {list(names)})")
    for i, row in enumerate(rows):
        H[i] = _stack(row, shape)
    return H


def _named_functions(names, fixed, grad, hess=None):
    """Wrap functions of keyword coordinates into functions of x (n, *pts)."""
    known = set(names) | set(fixed)

    def kwargs(x):
        return {**fixed, **{nm: x[k] for k, nm in enumerate(names)}}

    def vector(x):
        return _named_vector(grad(**kwargs(x)), names, x.shape[1:], "grad")

    def matrix(x):
        return _named_matrix(hess(**kwargs(x)), names, x.shape[1:], known, "hess")

    return kwargs, vector, matrix


def _point(x, names):
    """(names or None, values (n,), fixed keywords or None for vector form)."""
    if isinstance(x, (xr.Dataset, xr.DataArray)):
        scalars = [k for k, c in x.coords.items() if c.ndim == 0 and c.dtype.kind in "iuf"]
        names = tuple(scalars if names is None else names)
        for nm in names:
            if nm not in x.coords or x.coords[nm].ndim != 0:
                raise ValueError(f"{nm!r} is not a scalar coordinate of the point; scalar coordinates: {scalars}")
        if not names:
            raise ValueError("the point has no numeric scalar coordinates; pass names=[...]")
        return names, np.array([float(x.coords[nm]) for nm in names]), {}
    if isinstance(x, Mapping):
        names = tuple(x if names is None else names)
        if not names:
            raise ValueError("the point has no coordinates")
        unknown = [nm for nm in names if nm not in x]
        if unknown:
            raise ValueError(f"{unknown} not in the point; it has {list(x)}")
        fixed = {k: v for k, v in x.items() if k not in names}
        return names, np.array([float(x[nm]) for nm in names]), fixed
    values = np.array(x, dtype=float)
    if values.ndim != 1 or values.size < 1:
        raise ValueError(f"x must be a non-empty 1-D array or a mapping of coordinates, got shape {values.shape}")
    if names is not None:
        names = tuple(names)
        if len(names) != values.size:
            raise ValueError(f"{len(names)} names given for {values.size} variables")
    return names, values, None


def _step_vector(step, names, n):
    if isinstance(step, Mapping):
        missing = [nm for nm in (names or ()) if nm not in step]
        if names is None or missing:
            raise ValueError(f"a step mapping needs a step for every coordinate; missing {missing}")
        return np.array([float(step[nm]) for nm in names])
    if step is None or np.ndim(step) == 0:
        return step
    step = np.asarray(step, dtype=float)
    if step.shape != (n,):
        raise ValueError(f"step must be a scalar or have one value per variable ({n}), got shape {step.shape}")
    return step


# --------------------------------------------------------------------------
# Public functions


def check_gradient(fun, grad, x, *, step=None, rtol=DEFAULT_RTOL, names=None):
    """Check an analytic gradient against central differences of the function.

    The first-derivative counterpart of :func:`check_hessian` and of NAG's
    e04hc: each component ``g[j]`` is compared with a Richardson-extrapolated
    central difference of `fun` along the coordinate direction ``e_j``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``; with a mapping `x`, ``fun(**coords) -> float``.
    grad : callable
        ``grad(x) -> (n,)``; with a mapping `x`, ``grad(**coords)`` returns a
        mapping ``name -> value`` or a sequence in the order of `names`.
    x : array_like, mapping or xarray object
        The point: a 1-D array, a mapping ``{"lat": 12.3, "lon": 45.6}``, or
        a 0-d selection of an xarray object (its numeric scalar coordinates).
        Avoid special points (zeros, equal values, stationary points) where
        wrong terms can take correct values.
    step : float, array_like or mapping, optional
        Absolute step per variable.  Default ``eps**(1/3) * (1 + |x_j|)``.
    rtol : float, optional
        Largest relative error accepted beyond the finite-difference
        uncertainty.  Default 1e-4.
    names : sequence of str, optional
        For a mapping: the coordinates to check, in order (other entries are
        passed to the functions unchanged).  For an array: labels for the
        report.

    Returns
    -------
    GradientCheck

    Examples
    --------
    >>> import numpy as np
    >>> from xgradient.check import check_gradient
    >>> fun = lambda x: np.sin(x[0]) * x[1] ** 2
    >>> grad = lambda x: np.array([np.cos(x[0]) * x[1] ** 2, 2 * np.sin(x[0]) * x[1]])
    >>> check_gradient(fun, grad, [0.3, 1.7]).ok
    True
    >>> wrong = lambda x: np.array([np.cos(x[0]) * x[1] ** 2, np.sin(x[0]) * x[1]])
    >>> check_gradient(fun, wrong, [0.3, 1.7]).failures
    [1]
    """
    names, values, fixed = _point(x, names)
    if fixed is None:
        n = values.size
        f = lambda z: _shape_checked(fun(z), (), "fun")
        g = lambda z: _shape_checked(grad(z), (n,), "grad")
    else:
        kwargs, g, _ = _named_functions(names, fixed, grad)
        f = lambda z: _shape_checked(fun(**kwargs(z)), (), "fun")
    r = _gradient_core(f, g, values, _step_vector(step, names, values.size))
    return GradientCheck(
        ok=bool(np.all(r["error"] <= rtol)), x=values, value=float(r["value"]),
        gradient=r["gradient"], fd_gradient=r["fd_gradient"], error=r["error"],
        fd_error=r["fd_error"], step=r["step"], rtol=rtol, names=names,
    )


def check_hessian(grad, hess, x, *, step=None, rtol=DEFAULT_RTOL, names=None):
    """Check an analytic Hessian against central differences of the gradient.

    NAG's e04hd compares two projections ``yᵀHy`` and ``zᵀHz`` with finite
    differences of the gradient.  This function differences the gradient
    along every coordinate direction, which estimates every entry
    ``H[i, j] = e_iᵀ H e_j``, and checks each entry on its own: a single wrong
    entry is always found and named.  See the module documentation for the
    step and threshold.

    Parameters
    ----------
    grad : callable
        ``grad(x) -> (n,)``; with a mapping `x`, ``grad(**coords)`` returns a
        mapping ``name -> value`` or a sequence in the order of `names`.
    hess : callable
        ``hess(x) -> (n, n)``; with a mapping `x`, ``hess(**coords)`` returns
        an ``(n, n)`` array in the order of `names` or a mapping
        ``{(a, b): value}``.  In a mapping, a missing ``(b, a)`` mirrors
        ``(a, b)``, and pairs given in neither order count as zero.
    x : array_like, mapping or xarray object
        The point: a 1-D array, a mapping ``{"lat": 0.2, "lon": 0.5}``, or a
        0-d selection of an xarray object (its numeric scalar coordinates).
        Avoid special points (zeros, equal values) where wrong terms can take
        correct values.
    step : float, array_like or mapping, optional
        Absolute step per variable.  Default ``eps**(1/3) * (1 + |x_j|)``
        with ``eps`` the machine epsilon of the gradient's dtype.
    rtol : float, optional
        Largest relative error accepted beyond the finite-difference
        uncertainty.  Default 1e-4, which catches any single entry wrong by
        1e-3 of the largest entry with room to spare.
    names : sequence of str, optional
        For a mapping: the coordinates to check, in order (other entries are
        passed to the functions unchanged).  For an array: labels for the
        report.

    Returns
    -------
    HessianCheck

    Examples
    --------
    Powell's function, NAG's example for e04hd:

    >>> import numpy as np
    >>> from xgradient.check import check_hessian
    >>> def grad(x):
    ...     a, b, c = x[0] + 10 * x[1], x[1] - 2 * x[2], x[0] - x[3]
    ...     return np.array([2 * a + 40 * c**3, 20 * a + 4 * b**3,
    ...                      10 * (x[2] - x[3]) - 8 * b**3, -10 * (x[2] - x[3]) - 40 * c**3])
    >>> def hess(x):
    ...     b2, c2 = 12 * (x[1] - 2 * x[2]) ** 2, 120 * (x[0] - x[3]) ** 2
    ...     return np.array([[2 + c2, 20, 0, -c2],
    ...                      [20, 200 + b2, -2 * b2, 0],
    ...                      [0, -2 * b2, 10 + 4 * b2, -10],
    ...                      [-c2, 0, -10, 10 + c2]])
    >>> x = [1.46, -0.82, 0.57, 1.21]
    >>> check_hessian(grad, hess, x).ok
    True
    >>> def wrong(x):
    ...     H = hess(x)
    ...     H[3, 2] = H[2, 3] = -10.5
    ...     return H
    >>> check_hessian(grad, wrong, x).failures
    [(2, 3)]

    A field written as a function of named coordinates:

    >>> def grad_T(lat, lon):
    ...     return {"lat": -np.sin(lat) * np.sin(2 * lon), "lon": 2 * np.cos(lat) * np.cos(2 * lon)}
    >>> def hess_T(lat, lon):
    ...     return {("lat", "lat"): -np.cos(lat) * np.sin(2 * lon),
    ...             ("lat", "lon"): 2 * np.sin(lat) * np.cos(2 * lon),  # sign is wrong
    ...             ("lon", "lon"): -4 * np.cos(lat) * np.sin(2 * lon)}
    >>> check_hessian(grad_T, hess_T, {"lat": 0.4, "lon": 1.1}).failures
    [('lat', 'lon')]
    """
    names, values, fixed = _point(x, names)
    if fixed is None:
        n = values.size
        g = lambda z: _shape_checked(grad(z), (n,), "grad")
        H = lambda z: _shape_checked(hess(z), (n, n), "hess")
    else:
        _, g, H = _named_functions(names, fixed, grad, hess)
    r = _hessian_core(g, H, values, _step_vector(step, names, values.size))
    return HessianCheck(
        ok=bool(np.all(r["error"] <= rtol)), x=values, gradient=r["gradient"],
        hessian=r["hessian"], fd_hessian=r["fd_hessian"], error=r["error"],
        fd_error=r["fd_error"], step=r["step"], rtol=rtol, names=names,
    )


# --------------------------------------------------------------------------
# Every point of a labelled grid


def _grid_names(grid, names):
    if not isinstance(grid, (xr.Dataset, xr.DataArray)):
        raise TypeError(f"grid must be an xarray Dataset or DataArray, got {type(grid).__name__}")
    if names is None:
        dims = grid.dims if isinstance(grid, xr.DataArray) else list(grid.coords)
        names = [d for d in dims if d in grid.coords and grid[d].dims == (d,)]
        if not names:
            raise ValueError("the grid has no dimension coordinates; pass names=[...]")
    names = tuple(names)
    for nm in names:
        if nm not in grid.coords and nm not in getattr(grid, "data_vars", {}):
            raise ValueError(f"{nm!r} is not a coordinate of the grid; it has {list(grid.coords)}")
        if grid[nm].dtype.kind not in "iuf":
            raise TypeError(f"coordinate {nm!r} is not numeric (dtype {grid[nm].dtype})")
    return names


def _grid_arrays(grid, names, chunks):
    """The coordinates in `names`, broadcast together and chunked alike."""
    arrays = xr.broadcast(*[grid[nm].reset_coords(drop=True) for nm in names])
    if chunks is None and not any(a.chunks for a in arrays):
        try:
            sizes = grid.chunksizes
        except ValueError:  # inconsistent chunks across variables
            sizes = {}
        chunks = {d: c for d, c in sizes.items() if d in arrays[0].dims} or None
    if chunks is not None:
        arrays = [a.chunk(chunks) for a in arrays]
    if any(a.chunks for a in arrays):
        arrays = list(xr.unify_chunks(*[a.chunk() for a in arrays]))
    return arrays


def _over_grid(point_fn, grid, names, chunks, extra_dims, name, long_name, rtol):
    """Evaluate `point_fn(x) -> (*pts, *extra)` on every point of the grid.

    `x` has shape ``(n, *pts)``; each extra dimension has length n.
    """
    arrays = _grid_arrays(grid, names, chunks)
    dims = arrays[0].dims
    n = len(names)

    def block(*values):
        return point_fn(np.stack(np.broadcast_arrays(*values)).astype(float))

    if arrays[0].chunks:
        import dask.array

        datas = [a.data for a in arrays]
        ndim = len(dims) + len(extra_dims)
        # meta is given so that building the graph calls nothing of the user's.
        data = dask.array.map_blocks(
            block, *datas, dtype=float, meta=np.empty((0,) * ndim),
            new_axis=list(range(len(dims), ndim)) or None,
            chunks=datas[0].chunks + ((n,),) * len(extra_dims),
        )
    else:
        data = block(*[np.asarray(a.data) for a in arrays])
    coords = dict(arrays[0].coords)
    for nm, a in zip(names, arrays):
        if nm not in dims:  # e.g. 2-D latitude of a curvilinear grid
            coords[nm] = (dims, a.data)
    for d in extra_dims:
        coords[d] = list(names)
    return xr.DataArray(
        data, dims=dims + extra_dims, coords=coords, name=name,
        attrs={"long_name": long_name, "units": "1", "rtol": rtol},
    )


def check_hessian_field(grad, hess, grid, *, names=None, step=None, rtol=DEFAULT_RTOL,
                        chunks=None, per_entry=False):
    """Check an analytic Hessian at every point of a labelled grid.

    The point-wise test of :func:`check_hessian`, vectorised: `grad` and
    `hess` are called with whole arrays of coordinates (one block at a time),
    so they must work elementwise on numpy arrays.  With a dask-backed grid,
    or `chunks`, the result is lazy and computed block by block with
    :func:`dask.array.map_blocks`.

    Parameters
    ----------
    grad : callable
        ``grad(**coords)`` returning a mapping ``name -> array`` or a sequence
        of arrays in the order of `names`.
    hess : callable
        ``hess(**coords)`` returning a mapping ``{(a, b): array}`` (a missing
        ``(b, a)`` mirrors ``(a, b)``; pairs in neither order count as zero)
        or a nested ``n x n`` sequence.  Constant entries may be scalars.
    grid : xarray.Dataset or xarray.DataArray
        The points: the coordinates in `names`, broadcast against each other
        (2-D coordinates of curvilinear grids work too).
    names : sequence of str, optional
        Coordinates passed to the functions.  Default: the grid's dimension
        coordinates.
    step : float, sequence or mapping, optional
        Absolute step per coordinate.  Default ``eps**(1/3) * (1 + |x|)``
        at each point.
    rtol : float, optional
        As in :func:`check_hessian`.
    chunks : mapping, optional
        Dask chunks per dimension.  Default: the grid's own chunks, if any.
    per_entry : bool, optional
        If True, return the error of every entry, with extra dimensions
        ``row`` and ``column`` labelled by `names`.

    Returns
    -------
    xarray.DataArray
        ``hessian_error``: the worst relative error beyond the
        finite-difference uncertainty at each point (or per entry); the
        check passes where it is ``<= rtol`` (stored as ``attrs["rtol"]``).
        NaN where the functions returned NaN.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xgradient.check import check_hessian_field
    >>> grid = xr.Dataset(coords={"lat": np.linspace(-1.2, 1.2, 25),
    ...                           "lon": np.linspace(0.1, 3.0, 30)})
    >>> def grad(lat, lon):
    ...     return {"lat": -np.sin(lat) * np.sin(2 * lon), "lon": 2 * np.cos(lat) * np.cos(2 * lon)}
    >>> def hess(lat, lon):
    ...     return {("lat", "lat"): -np.cos(lat) * np.sin(2 * lon),
    ...             ("lat", "lon"): -2 * np.sin(lat) * np.cos(2 * lon),
    ...             ("lon", "lon"): -4 * np.cos(lat) * np.sin(2 * lon)}
    >>> err = check_hessian_field(grad, hess, grid, chunks={"lat": 10})
    >>> err.dims, err.chunks is not None
    (('lat', 'lon'), True)
    >>> bool((err <= err.rtol).all())
    True
    """
    names = _grid_names(grid, names)
    step = _step_vector(step, names, len(names))
    _, g, H = _named_functions(names, {}, grad, hess)

    def at_points(x):
        err = _hessian_core(g, H, x, step)["error"]
        return np.moveaxis(err, (0, 1), (-2, -1)) if per_entry else err.max(axis=(0, 1))

    return _over_grid(
        at_points, grid, names, chunks, ("row", "column") if per_entry else (),
        "hessian_error", "relative error of the Hessian beyond finite-difference uncertainty", rtol,
    )


def check_gradient_field(fun, grad, grid, *, names=None, step=None, rtol=DEFAULT_RTOL,
                         chunks=None, per_component=False):
    """Check an analytic gradient at every point of a labelled grid.

    The point-wise test of :func:`check_gradient`, vectorised and, for a
    dask-backed grid or with `chunks`, lazy; see :func:`check_hessian_field`.

    Parameters
    ----------
    fun : callable
        ``fun(**coords) -> array``, elementwise.
    grad : callable
        ``grad(**coords)`` returning a mapping ``name -> array`` or a sequence
        of arrays in the order of `names`.
    grid, names, step, rtol, chunks
        As in :func:`check_hessian_field`.
    per_component : bool, optional
        If True, return the error of every component, with an extra
        dimension ``component`` labelled by `names`.

    Returns
    -------
    xarray.DataArray
        ``gradient_error``: the worst relative error beyond the
        finite-difference uncertainty at each point; the check passes where
        it is ``<= rtol``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xgradient.check import check_gradient_field
    >>> grid = xr.Dataset(coords={"lat": np.linspace(-1.2, 1.2, 5), "lon": np.linspace(0.1, 3, 6)})
    >>> T = lambda lat, lon: np.cos(lat) * np.sin(2 * lon)
    >>> dT = lambda lat, lon: {"lat": -np.sin(lat) * np.sin(2 * lon), "lon": np.cos(lat) * np.cos(2 * lon)}
    >>> err = check_gradient_field(T, dT, grid, per_component=True)
    >>> bool((err.sel(component="lat") <= err.rtol).all()), bool((err.sel(component="lon") > err.rtol).all())
    (True, True)
    """
    names = _grid_names(grid, names)
    step = _step_vector(step, names, len(names))
    kwargs, g, _ = _named_functions(names, {}, grad)

    def f(x):
        return np.broadcast_to(np.asarray(fun(**kwargs(x))), x.shape[1:])

    def at_points(x):
        err = _gradient_core(f, g, x, step)["error"]
        return np.moveaxis(err, 0, -1) if per_component else err.max(axis=0)

    return _over_grid(
        at_points, grid, names, chunks, ("component",) if per_component else (),
        "gradient_error", "relative error of the gradient beyond finite-difference uncertainty", rtol,
    )
