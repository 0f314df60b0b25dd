"""NAG-compatible signatures over :func:`xgradient.checks.check_hessian`.

Code written against ``naginterfaces.library.opt.check_deriv2`` (NAG e04hd)
runs unchanged with ``from xgradient.nag import check_deriv2`` (the name in
xgradient's public contract; ``xgradient.nag`` re-exports this module).  The
check itself is :func:`xgradient.checks.check_hessian`, which is stricter
than NAG's two projections: it differences the gradient along every
coordinate direction and tests every entry of the Hessian, so a single wrong
entry cannot slip through (see :mod:`xgradient.checks.method` for the step
and threshold).
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from .point import check_hessian

__all__ = ["NagAlgorithmicWarning", "NagValueError", "check_deriv2"]


class NagValueError(ValueError):
    """Invalid argument, raised before any callback runs (as NAG's)."""

    def __init__(self, errno, msg):
        super().__init__(msg)
        self.errno = errno


class NagAlgorithmicWarning(UserWarning):
    """The routine finished but has something to report (as NAG's)."""

    def __init__(self, errno, msg):
        super().__init__(msg)
        self.errno = errno


class _TerminationRequested(Exception):
    """A callback set ``iflag < 0``; unwinds the check at once."""

    def __init__(self, iflag, where):
        super().__init__(iflag, where)
        self.iflag = iflag
        self.where = where


def check_deriv2(funct, h, x, lh, data=None):
    """Check second derivatives against first derivatives (NAG e04hd).

    Same calling convention as ``naginterfaces.library.opt.check_deriv2``;
    ``xgradient.nag.check_deriv2`` is this function.

    Parameters
    ----------
    funct : callable
        ``(iflag, fc, gc) = funct(iflag, xc, data=None)``: the function value
        and its gradient (length n) at `xc`.  Called with ``iflag = 2``;
        returning a negative `iflag` ends the check at once.
    h : callable
        ``(iflag, fhesl, fhesd) = h(iflag, xc, lh, fhesd, data=None)``: the
        strict lower triangle of the Hessian stored by rows (length `lh`) and
        its diagonal (length n).  On entry `fhesd` holds the gradient at
        `xc`, as NAG documents.  Called with ``iflag = 0``; returning a
        negative `iflag` ends the check at once.
    x : array_like, shape (n,)
        The point.  Avoid "obvious" points (zeros, equal elements) where
        wrong terms may take correct values.
    lh : int
        Length of the lower-triangle array, ``>= max(1, n*(n-1)/2)``.
    data : object, optional
        Passed as the last argument of both callbacks when not None (and not
        passed at all when None).

    Returns
    -------
    g : ndarray, shape (n,)
        The gradient at `x` from `funct`.
    hesl : ndarray, shape (lh,)
        The strict lower triangle from `h`, stored by rows.
    hesd : ndarray, shape (n,)
        The diagonal from `h`.

    Raises
    ------
    NagValueError
        errno 1: ``n < 1`` or ``lh < max(1, n*(n-1)/2)``.

    Warns
    -----
    NagAlgorithmicWarning
        errno 2: large errors were found in the second derivatives; the
        message names the entries.  errno = ``iflag`` (negative): a callback
        requested termination; outputs not yet computed are zero.

    Notes
    -----
    NAG compares two projections ``yᵀHy`` and ``zᵀHz`` with finite
    differences of the gradient.  Here every entry is compared with a
    central difference of the gradient (``4 n + 1`` gradient evaluations), a
    superset of NAG's test that is sure to catch any single wrong entry; see
    :func:`xgradient.checks.check_hessian`.

    Examples
    --------
    Powell's function, NAG's example for e04hd:

    >>> import numpy as np
    >>> from xgradient.nag import check_deriv2
    >>> def funct(iflag, xc):
    ...     a, b, c, d = xc[0] + 10 * xc[1], xc[1] - 2 * xc[2], xc[0] - xc[3], xc[2] - xc[3]
    ...     fc = a**2 + 5 * d**2 + b**4 + 10 * c**4
    ...     gc = [2 * a + 40 * c**3, 20 * a + 4 * b**3, 10 * d - 8 * b**3, -10 * d - 40 * c**3]
    ...     return iflag, fc, np.array(gc)
    >>> def h(iflag, xc, lh, fhesd):
    ...     b2, c2 = 12 * (xc[1] - 2 * xc[2]) ** 2, 120 * (xc[0] - xc[3]) ** 2
    ...     fhesl = np.array([20, 0, -2 * b2, -c2, 0, -10], dtype=float)
    ...     fhesd = np.array([2 + c2, 200 + b2, 10 + 4 * b2, 10 + c2])
    ...     return iflag, fhesl, fhesd
    >>> g, hesl, hesd = check_deriv2(funct, h, [1.46, -0.82, 0.57, 1.21], 6)
    >>> np.round(hesd, 4)
    array([  9.5   , 246.0992, 194.3968,  17.5   ])
    """
    x = np.array(x, dtype=float).ravel()
    n = x.size
    if n < 1:
        raise NagValueError(1, f"On entry, n = {n}. Constraint: n >= 1.")
    if lh < max(1, n * (n - 1) // 2):
        raise NagValueError(1, f"On entry, lh = {lh} and n = {n}. Constraint: lh >= max(1, n*(n-1)/2).")

    data_args = () if data is None else (data,)
    outputs = {"g": np.zeros(n), "hesl": np.zeros(lh), "hesd": np.zeros(n)}
    latest = {}  # the last point where funct was called, and its gradient
    below_diagonal = np.tril_indices(n, -1)  # row-major order = NAG's "stored by rows"
    n_below = below_diagonal[0].size

    def grad(xc):
        iflag, _, gc = funct(2, xc.copy(), *data_args)
        if iflag < 0:
            raise _TerminationRequested(iflag, "funct")
        gc = np.array(gc, dtype=float)
        if "g" not in latest:  # the first call is at x itself
            outputs["g"] = gc.copy()
        latest["x"], latest["g"] = xc.copy(), gc
        return gc

    def hess(xc):
        # NAG hands h the gradient at xc in fhesd; the check has just
        # computed it there, so reuse it rather than call funct again.
        g = latest["g"] if np.array_equal(latest.get("x"), xc) else grad(xc)
        iflag, fhesl, fhesd = h(0, xc.copy(), lh, g.copy(), *data_args)
        if iflag < 0:
            raise _TerminationRequested(iflag, "h")
        fhesl = np.array(fhesl, dtype=float).ravel()
        fhesd = np.array(fhesd, dtype=float).ravel()
        if fhesl.size < n_below or fhesd.size != n:
            raise ValueError(
                f"h returned fhesl of length {fhesl.size} and fhesd of length {fhesd.size}; "
                f"expected at least {n_below} and exactly {n}"
            )
        outputs["hesl"], outputs["hesd"] = fhesl, fhesd
        H = np.diag(fhesd)
        H[below_diagonal] = H.T[below_diagonal] = fhesl[:n_below]
        return H

    try:
        result = check_hessian(grad, hess, x)
    except _TerminationRequested as stop:
        warnings.warn(
            NagAlgorithmicWarning(
                stop.iflag, f"User requested termination by setting iflag = {stop.iflag} in {stop.where}."
            ),
            stacklevel=2,
        )
        return outputs["g"], outputs["hesl"], outputs["hesd"]
    if not result.ok:
        details = repr(result).split("\n", 1)[1]
        warnings.warn(
            NagAlgorithmicWarning(
                2,
                "Large errors were found in the second derivatives computed by h "
                f"(entries numbered from 1):\n{_one_based(details)}",
            ),
            stacklevel=2,
        )
    return outputs["g"], outputs["hesl"], outputs["hesd"]


def _one_based(text):
    """Renumber ``H[i, j]`` in a report from 0-based to NAG's 1-based."""
    return re.sub(r"H\[(\d+), (\d+)\]", lambda m: f"H[{int(m[1]) + 1}, {int(m[2]) + 1}]", text)
