"""The options every derivative shares, validated in one place.

:class:`Options` holds ``edge_order``, ``accuracy``, ``periodic``, ``geo``,
``radius``, ``skipna`` and ``datetime_unit`` and refuses nonsense when it is
built, so a bad value is a ``ValueError`` at call time, naming the option,
never a result of zeros, a flipped sign or a traceback from deep inside.
:class:`~xgradient.labelled.Derivative` builds one, and every front (the
``.grad`` accessor, the operators, the command) goes through it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .coords import TIME_UNITS

__all__ = ["ACCURACIES", "EARTH_RADIUS", "EDGE_ORDERS", "OPTIONS_DOC", "Options"]

EARTH_RADIUS = 6_371_008.8  # metres: the IUGG mean radius (MetPy's earth_avg_radius, rounded)
EDGE_ORDERS = (1, 2)
ACCURACIES = (2, 4, 6)

#: numpydoc descriptions of the shared options, for the docstrings of the
#: functions that take them (indented for a method's ``Parameters`` section).
OPTIONS_DOC = """\
    edge_order : {1, 2}, default 1
        Accuracy of the one-sided differences at the ends (as ``numpy.gradient``;
        used with accuracy=2).
    accuracy : {2, 4, 6}, default 2
        Order of the interior stencil, from Fornberg weights on the actual,
        nonuniform coordinate values; for accuracy > 2 the ends use one-sided
        stencils of the same order.
    periodic : None, bool or float, default None
        ``None`` wraps a longitude that goes round the globe (CF units
        ``degrees_east``, ``standard_name: longitude`` or a name like
        ``lon``); ``True`` wraps with period 360; a positive number wraps with
        that period; ``False`` never wraps.
    geo : bool, default False
        Differentiate per metre on the sphere: along a latitude,
        d/dy = 180 / (pi R) d/dlat; along a longitude, d/dx = 180 / (pi R
        cos(lat)) d/dlon with lat from the object's latitude coordinate (NaN
        at the poles; latitudes must lie within +-90 degrees). Units become
        ``"<data units> m-1"``.
    radius : float, optional
        Sphere radius in metres for `geo` (finite and positive). Default: the
        object's CF grid mapping's (``earth_radius``, or ``semi_major_axis``;
        on its ellipsoid the radii of curvature), else 6371008.8.
    skipna : bool, default False
        Treat NaN cells (land in an ocean field) as boundaries: a valid cell
        beside a NaN uses the one-sided difference from its valid side, by the
        rule used at the array's ends (edge_order 1: two points; 2: three
        points when they are valid, else two; accuracy > 2: the nearest
        ``accuracy + 1`` valid points, fewer if the gap allows no more). A
        valid cell with NaN on both sides stays NaN. The default propagates
        NaN like ``numpy.gradient``.
    datetime_unit : str, default "s"
        Unit of time for datetime64 and cftime coordinates: one of "W", "D",
        "h", "m", "s", "ms", "us", "ns".
"""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _flag(name, value) -> bool:
    if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


@dataclass(frozen=True)
class Options:
    """The shared options of a derivative, checked when built.

    Parameters
    ----------
%s
    Attributes
    ----------
    period : float or None
        The period to wrap with (``True`` is 360), or None: no wrap, or, when
        `periodic` is None, detect a global longitude.

    Raises
    ------
    ValueError
        For a value outside the ones listed, naming the option: e.g.
        ``accuracy=2.0`` (not an integer), ``periodic=inf``, ``radius=0`` or a
        radius so small that 1 / radius**2 overflows.

    Examples
    --------
    >>> Options(accuracy=4, periodic=True)
    Options(edge_order=1, accuracy=4, periodic=True, geo=False, radius=None, skipna=False, datetime_unit='s')
    >>> Options(periodic=True).period, Options(periodic=False).period, Options(periodic=2).period
    (360.0, None, 2.0)
    >>> Options(periodic=float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: periodic must be None, True, False or a finite positive period, got inf
    """

    edge_order: int = 1
    accuracy: int = 2
    periodic: bool | float | None = None
    geo: bool = False
    radius: float | None = None
    skipna: bool = False
    datetime_unit: str = "s"

    def __post_init__(self):

        def set_(name, value):  # frozen: normalised once, here
            object.__setattr__(self, name, value)

        if not _is_int(self.edge_order) or self.edge_order not in EDGE_ORDERS:
            raise ValueError(f"edge_order must be 1 or 2, got {self.edge_order!r}")
        if not _is_int(self.accuracy) or self.accuracy not in ACCURACIES:
            raise ValueError(f"accuracy must be one of {ACCURACIES}, got {self.accuracy!r}")
        set_("edge_order", int(self.edge_order))
        set_("accuracy", int(self.accuracy))
        set_("periodic", _periodic(self.periodic))
        set_("geo", _flag("geo", self.geo))
        set_("skipna", _flag("skipna", self.skipna))
        if self.radius is not None:
            set_("radius", _radius(self.radius))
        if not isinstance(self.datetime_unit, str) or self.datetime_unit not in TIME_UNITS:
            raise ValueError(
                f"datetime_unit must be one of {list(TIME_UNITS)}, got {self.datetime_unit!r}"
            )

    @property
    def period(self) -> float | None:
        if self.periodic is None or self.periodic is False:
            return None
        return 360.0 if self.periodic is True else float(self.periodic)


Options.__doc__ = Options.__doc__ % OPTIONS_DOC.rstrip("\n")


def _periodic(value):
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if _is_real(value) and math.isfinite(value) and value > 0:
        return float(value)
    raise ValueError(f"periodic must be None, True, False or a finite positive period, got {value!r}")


def _radius(value) -> float:
    if _is_real(value) and math.isfinite(value) and value > 0:
        r = float(value)
        # The metric divides by (R * pi / 180)**2 for a second derivative in
        # degrees: a radius that overflows it (1e-320 m) gives inf, not a number.
        with np.errstate(all="ignore"):
            if np.isfinite(np.float64(r * math.pi / 180) ** -2.0):
                return r
    raise ValueError(
        f"radius must be a positive number of metres, finite and not so small that "
        f"1 / radius**2 overflows, got {value!r}"
    )
