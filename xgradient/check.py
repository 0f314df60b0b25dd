"""Former home of :mod:`xgradient.checks`, kept so that old imports work.

``from xgradient.check import check_hessian`` gives the same function as
``from xgradient.checks import check_hessian``; new code should use
:mod:`xgradient.checks`, whose name says that it checks *your* derivatives.
"""

from .checks import DEFAULT_RTOL, GradientCheck, HessianCheck  # noqa: F401
from .checks import check_gradient, check_gradient_field, check_hessian, check_hessian_field  # noqa: F401
