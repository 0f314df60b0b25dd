"""The method: finite differences of a lower derivative, and when they disagree.

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

import numpy as np

__all__ = ["DEFAULT_RTOL", "gradient_errors", "hessian_errors"]

DEFAULT_RTOL = 1e-4
# Rounding allowance: each function value may be off by this many units in
# the last place; Richardson's (4 D(h) - D(2h)) / 3 turns an error of u in each
# value into at most 1.5 u / h.
_ULPS = 10
_ROUNDING = 1.5 * _ULPS


def gradient_errors(fun, grad, x, step):
    """Compare ``grad`` with differences of ``fun`` at the points ``x (n, *pts)``.

    Returns a dict with the fields of :class:`~xgradient.checks.GradientCheck`
    that the method computes: ``value``, ``gradient``, ``fd_gradient``,
    ``error``, ``fd_error`` and ``step``.
    """
    value, g, fd, uncertainty, h = _evaluate_and_difference(fun, grad, x, step)
    with _quiet():
        scale = np.maximum(np.abs(g), np.abs(fd))
    return {"value": value, **_comparison("gradient", g, fd, uncertainty, scale, h)}


def hessian_errors(grad, hess, x, step):
    """Compare ``hess`` with differences of ``grad`` at the points ``x (n, *pts)``.

    Returns a dict with the fields of :class:`~xgradient.checks.HessianCheck`
    that the method computes: ``gradient``, ``hessian``, ``fd_hessian``,
    ``error``, ``fd_error`` and ``step``.
    """
    g, H, fd, uncertainty, h = _evaluate_and_difference(grad, hess, x, step)
    diagonal = np.arange(x.shape[0])
    with _quiet():
        curvature = np.maximum(np.abs(H[diagonal, diagonal]), np.abs(fd[diagonal, diagonal]))
        scale = np.maximum(
            np.sqrt(curvature[:, None] * curvature[None, :]), np.maximum(np.abs(H), np.abs(fd))
        )
    return {"gradient": g, **_comparison("hessian", H, fd, uncertainty, scale, h)}


def _evaluate_and_difference(lower, analytic, x, step):
    """`lower` and the `analytic` derivative at x, and differences of `lower`.

    Returns ``(lower at x, analytic at x, differences, their uncertainty,
    steps)``.  The steps and the rounding allowance follow the precision of
    the values `lower` returns, before they are made float64.
    """
    value = lower(x.copy())
    eps = _machine_epsilon(value)
    value = np.asarray(value, dtype=float)
    derivative = np.asarray(analytic(x.copy()), dtype=float)
    h = _step_sizes(step, x, eps)
    fd, uncertainty = _differences_along_each_direction(lower, x, h, eps, value)
    return value, derivative, fd, uncertainty, h


def _comparison(name, analytic, fd, uncertainty, scale, step):
    """The result fields: `name`, ``fd_<name>``, relative errors and steps."""
    with _quiet():
        excess = np.maximum(np.abs(analytic - fd) - uncertainty, 0.0)
    return {
        name: analytic,
        f"fd_{name}": fd,
        "error": _ratio(excess, scale),
        "fd_error": _ratio(uncertainty, scale),
        "step": step,
    }


def _machine_epsilon(values):
    dtype = np.asarray(values).dtype
    return np.finfo(dtype if dtype.kind == "f" else np.float64).eps


def _step_sizes(step, x, eps):
    if step is None:
        return np.cbrt(eps) * (1.0 + np.abs(x))
    h = np.asarray(step, dtype=float)
    if h.ndim == 1:
        h = h.reshape(h.shape + (1,) * (x.ndim - 1))
    h = np.broadcast_to(h, x.shape)
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"step must be positive and finite, got {step!r}")
    return h


def _differences_along_each_direction(fun, x, h, eps, value_at_x):
    """Extrapolated differences of `fun` along every e_j, and their uncertainty.

    The direction index j goes right after the axes of `fun`'s own value
    (none for a function value, one for a gradient), so that a Hessian's
    column j is the difference along e_j.
    """
    estimates, uncertainties = zip(
        *(_extrapolated_difference(fun, x, j, h[j], eps, value_at_x) for j in range(x.shape[0]))
    )
    axis = value_at_x.ndim - (x.ndim - 1)
    return (
        np.stack(estimates, axis).astype(float, copy=False),
        np.stack(uncertainties, axis).astype(float, copy=False),
    )


def _extrapolated_difference(fun, x, j, h, eps, value_at_x):
    """Richardson's (4 D(h) - D(2h)) / 3 along e_j and its uncertainty."""
    d_h, d_2h, largest_value = _central_differences(fun, x, j, h)
    with _quiet():
        estimate = (4.0 * d_h - d_2h) / 3.0
        rounding = _ROUNDING * eps * np.maximum(largest_value, np.abs(value_at_x)) / h
        uncertainty = np.abs(d_h - d_2h) + rounding
    return estimate, uncertainty


def _central_differences(fun, x, j, h):
    """Central differences of `fun` along e_j at steps h and 2h.

    Uses the spacing actually representable, ``(x + h) - (x - h)``, so the
    rounding of ``x_j + h`` does not become a first-order error.
    """
    differences, largest_value = [], 0.0
    for multiple in (1.0, 2.0):
        x_plus, x_minus = x.copy(), x.copy()
        x_plus[j] = x[j] + multiple * h
        x_minus[j] = x[j] - multiple * h
        f_plus, f_minus = fun(x_plus), fun(x_minus)
        # Only our own arithmetic is quiet: inf or NaN from the user's
        # function becomes a failed check, not a warning from here.
        with _quiet():
            differences.append((f_plus - f_minus) / (x_plus[j] - x_minus[j]))
            largest_value = np.maximum(largest_value, np.maximum(np.abs(f_plus), np.abs(f_minus)))
    return differences[0], differences[1], largest_value


def _quiet():
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _ratio(a, b):
    """a / b with 0 / 0 = 0 and a / 0 = inf; NaN stays NaN."""
    with _quiet():
        r = a / b
    return np.where((a == 0) & (b == 0), 0.0, r)
