"""NAG-compatible signatures: ``xgradient.nag.check_deriv2`` (NAG e04hd).

The public name of :mod:`xgradient.checks.nag`, which holds the code.
"""

from .checks.nag import NagAlgorithmicWarning, NagValueError, check_deriv2

__all__ = ["NagAlgorithmicWarning", "NagValueError", "check_deriv2"]
