"""Check hand-written derivatives at one point, and report what disagrees.

The point is a plain vector, a mapping of named coordinates, or a 0-d
selection of an xarray object; the method is in
:mod:`xgradient.checks.method`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .coordinates import checked_shape, parse_point, stacked_functions, step_vector
from .method import DEFAULT_RTOL, gradient_errors, hessian_errors

__all__ = ["GradientCheck", "HessianCheck", "check_gradient", "check_hessian"]


@dataclass(repr=False, eq=False, kw_only=True)
class _PointCheck:
    """What a gradient check and a Hessian check both carry and print."""

    ok: bool
    x: np.ndarray
    error: np.ndarray
    fd_error: np.ndarray
    step: np.ndarray
    rtol: float
    names: tuple | None = None

    # Words of the report, set by each subclass.
    _item = _items = _checked = _against = ""

    @property
    def directions(self):
        """Displacements used, one per row: ``step[j] * e_j``."""
        return np.diag(self.step)

    def _label(self, i):
        return self.names[i] if self.names is not None else int(i)

    def _disagreements(self):
        """``(symbol, analytic, fd, error)`` for each wrong value, worst first."""
        raise NotImplementedError

    def __repr__(self):
        head = f"{type(self).__name__}(ok={self.ok}, n={self.x.size}, rtol={self.rtol:.0e})"
        wrong = self._disagreements()
        if not wrong:
            return (
                f"{head}\n  every {self._item} of the {self._checked} agrees with central "
                f"differences of the {self._against}\n  largest finite-difference "
                f"uncertainty {np.max(self.fd_error):.2g}"
            )
        count = f"1 {self._item} disagrees" if len(wrong) == 1 else f"{len(wrong)} {self._items} disagree"
        lines = [f"{head}\n  {count} with central differences of the {self._against}:"]
        for symbol, analytic, fd, error in wrong:
            lines.append(
                f"    {symbol}: analytic {analytic:.8g}, finite differences {fd:.8g} "
                f"(relative error {error:.2g})"
            )
        return "\n".join(lines)


@dataclass(repr=False, eq=False, kw_only=True)
class GradientCheck(_PointCheck):
    """Outcome of :func:`check_gradient` (``xgradient.GradientCheck`` is an alias kept for compatibility).

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

    Examples
    --------
    >>> import numpy as np
    >>> from xgradient.checks import check_gradient
    >>> result = check_gradient(lambda a, b: a * np.exp(b),
    ...                         lambda a, b: {"a": np.exp(b), "b": 2 * a * np.exp(b)},  # 2 is wrong
    ...                         {"a": 0.5, "b": 0.25})
    >>> result.ok, result.failures
    (False, ['b'])
    >>> bool(result.error[1] > result.rtol >= result.error[0])
    True
    """

    value: float
    gradient: np.ndarray
    fd_gradient: np.ndarray

    _item, _items, _checked, _against = "component", "components", "gradient", "function"

    def _wrong_components(self):
        bad = np.flatnonzero(~(self.error <= self.rtol))
        return bad[np.argsort(-np.nan_to_num(self.error[bad], nan=np.inf), kind="stable")]

    @property
    def failures(self):
        """Wrong components (names or indices), worst first."""
        return [self._label(j) for j in self._wrong_components()]

    def _disagreements(self):
        return [
            (f"g[{self._label(j)}]", self.gradient[j], self.fd_gradient[j], self.error[j])
            for j in self._wrong_components()
        ]


@dataclass(repr=False, eq=False, kw_only=True)
class HessianCheck(_PointCheck):
    """Outcome of :func:`check_hessian` (``xgradient.HessianCheck`` is an alias kept for compatibility).

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
    step, rtol, names
        As in :class:`GradientCheck`.

    Examples
    --------
    >>> import numpy as np
    >>> from xgradient.checks import check_hessian
    >>> result = check_hessian(lambda x: np.array([2 * x[0] * x[1], x[0] ** 2]),
    ...                        lambda x: np.array([[2 * x[1], x[0]], [x[0], 0.0]]),  # x0 should be 2 x0
    ...                        [0.7, 1.3])
    >>> result.failures
    [(0, 1)]
    >>> print(result)
    HessianCheck(ok=False, n=2, rtol=1e-04)
      1 entry disagrees with central differences of the gradient:
        H[0, 1]: analytic 0.7, finite differences 1.4 (relative error 0.5)
    """

    gradient: np.ndarray
    hessian: np.ndarray
    fd_hessian: np.ndarray

    _item, _items, _checked, _against = "entry", "entries", "Hessian", "gradient"

    def _wrong_pairs(self):
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
        return [(self._label(i), self._label(j)) for i, j in self._wrong_pairs()]

    def _disagreements(self):
        shown = []
        for i, j in self._wrong_pairs():
            if self.error[i, j] <= self.rtol:  # only the other triangle is wrong
                i, j = j, i
            symbol = f"H[{self._label(i)}, {self._label(j)}]"
            shown.append((symbol, self.hessian[i, j], self.fd_hessian[i, j], self.error[i, j]))
        return shown


def check_gradient(fun, grad, x, *, step=None, rtol=DEFAULT_RTOL, names=None):
    """Check an analytic gradient against central differences of the function.

    The first-derivative counterpart of :func:`check_hessian` and of NAG's
    e04hc: each component ``g[j]`` is compared with a Richardson-extrapolated
    central difference of `fun` along the coordinate direction ``e_j``.
    Also importable as ``xgradient.check_gradient``, an alias kept for
    compatibility.

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
    step, rtol, names
        As in :func:`check_hessian`; the default step follows the machine
        epsilon of the values `fun` returns.

    Returns
    -------
    GradientCheck

    Examples
    --------
    >>> import numpy as np
    >>> from xgradient.checks import check_gradient
    >>> fun = lambda x: np.sin(x[0]) * x[1] ** 2
    >>> grad = lambda x: np.array([np.cos(x[0]) * x[1] ** 2, 2 * np.sin(x[0]) * x[1]])
    >>> check_gradient(fun, grad, [0.3, 1.7]).ok
    True
    >>> wrong = lambda x: np.array([np.cos(x[0]) * x[1] ** 2, np.sin(x[0]) * x[1]])
    >>> check_gradient(fun, wrong, [0.3, 1.7]).failures
    [1]
    """
    names, values, fixed = parse_point(x, names)
    if fixed is None:
        n = values.size
        f = lambda z: checked_shape(fun(z), (), "fun")
        g = lambda z: checked_shape(grad(z), (n,), "grad")
    else:
        keywords, g, _ = stacked_functions(names, fixed, grad)
        f = lambda z: checked_shape(fun(**keywords(z)), (), "fun")
    found = gradient_errors(f, g, values, step_vector(step, names, values.size))
    found["value"] = float(found["value"])
    return GradientCheck(
        ok=bool(np.all(found["error"] <= rtol)), x=values, rtol=rtol, names=names, **found
    )


def check_hessian(grad, hess, x, *, step=None, rtol=DEFAULT_RTOL, names=None):
    """Check an analytic Hessian against central differences of the gradient.

    NAG's e04hd compares two projections ``yᵀHy`` and ``zᵀHz`` with finite
    differences of the gradient.  This function differences the gradient
    along every coordinate direction, which estimates every entry
    ``H[i, j] = e_iᵀ H e_j``, and checks each entry on its own: a single wrong
    entry is always found and named.  See :mod:`xgradient.checks.method`
    for the step and threshold.  Also importable as
    ``xgradient.check_hessian``, an alias kept for compatibility.

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
    Rosenbrock's function, ``(1 - x0)**2 + 100 (x1 - x0**2)**2``:

    >>> import numpy as np
    >>> from xgradient.checks import check_hessian
    >>> def grad(x):
    ...     return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
    ...                      200 * (x[1] - x[0] ** 2)])
    >>> def hess(x):
    ...     return np.array([[2 - 400 * x[1] + 1200 * x[0] ** 2, -400 * x[0]],
    ...                      [-400 * x[0], 200.0]])
    >>> check_hessian(grad, hess, [-1.2, 1.0]).ok
    True
    >>> def wrong(x):
    ...     H = hess(x)
    ...     H[0, 1] = H[1, 0] = -40 * x[0]
    ...     return H
    >>> check_hessian(grad, wrong, [-1.2, 1.0]).failures
    [(0, 1)]

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
    names, values, fixed = parse_point(x, names)
    if fixed is None:
        n = values.size
        g = lambda z: checked_shape(grad(z), (n,), "grad")
        H = lambda z: checked_shape(hess(z), (n, n), "hess")
    else:
        _, g, H = stacked_functions(names, fixed, grad, hess)
    found = hessian_errors(g, H, values, step_vector(step, names, values.size))
    return HessianCheck(
        ok=bool(np.all(found["error"] <= rtol)), x=values, rtol=rtol, names=names, **found
    )
