"""xgradient: fast, correct derivatives on labelled, nonuniform grids.

``import xgradient`` registers the ``.grad`` accessor on xarray objects::

    ds.temp.grad("lat")                # d temp / d lat, nonuniform spacing
    ds.grad("depth", edge_order=2)     # every variable that has depth
    xgradient.gradient(values, coord_values, axis=0)   # numpy or dask arrays
    xgradient.to_netcdf(ds, "out.nc", encoding)        # compressed in parallel
"""

from . import accessor as _accessor  # noqa: F401  (registers .grad)
from . import checks, nag, operators
# Aliases of xgradient.checks, kept for compatibility.
from .checks import (
    GradientCheck,
    HessianCheck,
    check_gradient,
    check_gradient_field,
    check_hessian,
    check_hessian_field,
)
from .coords import UnknownCoordinateError
from .core import gradient
from .ncwrite import to_netcdf

__all__ = [
    "GradientCheck",
    "HessianCheck",
    "UnknownCoordinateError",
    "check_gradient",
    "check_gradient_field",
    "check_hessian",
    "check_hessian_field",
    "checks",
    "gradient",
    "nag",
    "operators",
    "to_netcdf",
]

__version__ = "0.1.0"
