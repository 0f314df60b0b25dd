"""Check hand-written derivatives of your own function: a tool beside xgradient.

You wrote ``grad(x)`` and ``hess(x)`` by hand (for an optimiser, a model
adjoint, an analytic field ``T(lat, lon)``); are they right?  These
functions compare them with finite differences of the lower derivative:
the gradient with differences of the function, the Hessian with differences
of the gradient.  It is the method of NAG's e04hc / e04hd
(``check_deriv2``), made strict enough that any single wrong entry is found
and named (:mod:`xgradient.checks.method` explains the steps and the
threshold).

This is a separate tool from xgradient's differentiation of gridded data:
it calls *your* functions at points it chooses, with its own Richardson
differences, and shares no code with ``.grad``'s stencils.

Modules
-------
point
    :func:`check_gradient`, :func:`check_hessian` at one point (a vector, a
    mapping of named coordinates, or a 0-d xarray selection) and their
    results :class:`GradientCheck`, :class:`HessianCheck`.
field
    :func:`check_gradient_field`, :func:`check_hessian_field` at every point
    of a labelled grid, lazily for dask-backed grids.
nag
    :func:`~xgradient.checks.nag.check_deriv2` with NAG's calling
    convention (also ``xgradient.nag.check_deriv2``).
method
    Steps, Richardson differences, and when a value disagrees.
coordinates
    Functions of named coordinates turned into functions of one array.

The same names at the top level (``xgradient.check_hessian`` and so on) and
the module ``xgradient.check`` are aliases kept for compatibility; new code
should import from ``xgradient.checks``.

Examples
--------
>>> import numpy as np
>>> from xgradient.checks import check_hessian
>>> grad = lambda x: np.array([2 * x[0] * x[1], x[0] ** 2])
>>> hess = lambda x: np.array([[2 * x[1], 2 * x[0]], [2 * x[0], 0.0]])
>>> check_hessian(grad, hess, [0.7, 1.3]).ok
True
"""

from . import nag
from .field import check_gradient_field, check_hessian_field
from .method import DEFAULT_RTOL
from .point import GradientCheck, HessianCheck, check_gradient, check_hessian

__all__ = [
    "DEFAULT_RTOL",
    "GradientCheck",
    "HessianCheck",
    "check_gradient",
    "check_gradient_field",
    "check_hessian",
    "check_hessian_field",
    "nag",
]
