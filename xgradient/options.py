"""The options every derivative shares, validated in one place.

:class:`Options` holds ``edge_order``, ``accuracy``, ``periodic``, ``geo``,
``radius``, ``skipna`` and ``datetime_unit`` and refuses nonsense when it is
built, so a bad value is a ``ValueError`` at call time, naming the option,
never a result of zeros, a flipped sign or a traceback from deep inside.
:class:`~xgradient.labelled.Derivative` builds one, and every front (the
``.grad`` accessor, the operators, the command) goes through it.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
import textwrap
from dataclasses import dataclass, fields

import numpy as np

from .coords import TIME_UNITS

__all__ = [
    "ACCURACIES",
    "DEFAULTS",
    "EARTH_RADIUS",
    "EDGE_ORDERS",
    "NAMES",
    "OPTIONS_DOC",
    "Options",
    "options_doc",
    "takes_options",
]

EARTH_RADIUS = 6_371_008.8  # metres: the IUGG mean radius (MetPy's earth_avg_radius, rounded)
EDGE_ORDERS = (1, 2)
ACCURACIES = (2, 4, 6)

# numpydoc descriptions of the shared options: the first line of each is
# its type and default, the rest its text.
_DESCRIPTIONS = {
    "edge_order": """{1, 2}, default 1
        Accuracy of the one-sided differences at the ends (as ``numpy.gradient``;
        used with accuracy=2).""",
    "accuracy": """{2, 4, 6}, default 2
        Order of the interior stencil, from Fornberg weights on the actual,
        nonuniform coordinate values; for accuracy > 2 the ends use one-sided
        stencils of the same order.""",
    "periodic": """None, bool or float, default None
        ``None`` wraps a longitude that goes round the globe (CF units
        ``degrees_east``, ``standard_name: longitude`` or a name like
        ``lon``; in degrees or radians); ``True`` wraps with a full turn (360,
        or 2 pi for a coordinate in radians); a positive number wraps with
        that period; ``False`` never wraps.""",
    "geo": """bool, default False
        Differentiate per metre on the sphere: along a latitude,
        d/dy = 180 / (pi R) d/dlat; along a longitude, d/dx = 180 / (pi R
        cos(lat)) d/dlon with lat from the object's latitude coordinate (NaN
        at the poles; latitudes must lie within +-90 degrees). Units become
        ``"<data units> m-1"``.""",
    "radius": """float, optional
        Sphere radius in metres for `geo` (finite and positive). Default: the
        object's CF grid mapping's (``earth_radius``, or ``semi_major_axis``;
        on its ellipsoid the radii of curvature), else 6371008.8.""",
    "skipna": """bool, default False
        Treat NaN cells (land in an ocean field) as boundaries: a valid cell
        beside a NaN uses the one-sided difference from its valid side, by the
        rule used at the array's ends (edge_order 1: two points; 2: three
        points when they are valid, else two; accuracy > 2: the nearest
        ``accuracy + 1`` valid points, fewer if the gap allows no more). A
        valid cell with NaN on both sides stays NaN. The default propagates
        NaN like ``numpy.gradient``.""",
    "datetime_unit": """str, default "s"
        Unit of time for datetime64 and cftime coordinates: one of "W", "D",
        "h", "m", "s", "ms", "us", "ns".""",
}


def options_doc(names=None, *, notes=None, kinds=None) -> str:
    """The numpydoc ``Parameters`` entries of the shared options `names` (all by default).

    `notes` maps an option to sentences added to its description (what one
    front does differently), `kinds` to a type line that replaces the shared
    one. Indented by 4 spaces, as in a module function's docstring.

    Examples
    --------
    >>> print(options_doc(["edge_order"], notes={"edge_order": "Here too."}, kinds={"edge_order": "int"}))
        edge_order : int
            Accuracy of the one-sided differences at the ends (as ``numpy.gradient``;
            used with accuracy=2).
            Here too.
    <BLANKLINE>
    """
    notes, kinds = notes or {}, kinds or {}
    unknown = (set(notes) | set(kinds)) - set(_DESCRIPTIONS)
    if unknown:
        raise ValueError(f"not shared options: {sorted(unknown)}")
    out = []
    for name in _DESCRIPTIONS if names is None else names:
        kind, text = _DESCRIPTIONS[name].split("\n", 1)
        out.append(f"    {name} : {kinds.get(name, kind)}\n{text}\n")
        if name in notes:
            out.append(textwrap.fill(notes[name], 80, initial_indent=" " * 8, subsequent_indent=" " * 8) + "\n")
    return "".join(out)


#: numpydoc descriptions of all the shared options (see :func:`options_doc`).
OPTIONS_DOC = options_doc()


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

#: The shared options, in the order they are documented.
NAMES = tuple(f.name for f in fields(Options))
#: Their defaults, as the signatures of the functions that take them show them.
DEFAULTS = {f.name: f.default for f in fields(Options)}
assert NAMES == tuple(_DESCRIPTIONS), "document every option, in the same order"

_PLACEHOLDER = re.compile(r"^( *)%\(options\)s\n", re.MULTILINE)


def takes_options(names=None, *, notes=None, kinds=None):
    """Decorator for a function that takes the shared options as ``**options``.

    The options are declared once, in :class:`Options`: the decorated
    function receives the keywords its caller gave, as a dict, and passes them
    on (in the end to :class:`Options`, which fills in the defaults and checks
    the values). This decorator

    - refuses a keyword that is neither among `names` (all the shared options
      by default) nor the function's own, with the ``TypeError`` Python gives
      for an unexpected keyword;
    - shows the options, with their defaults, in the function's signature
      (``help()``, ``inspect.signature``, the API docs);
    - puts :func:`options_doc` (`names`, `notes`, `kinds`) where the
      docstring has a line ``%(options)s``, at that line's indentation.

    On a class, the same for its ``__init__``, and the class's docstring.

    Examples
    --------
    >>> @takes_options(["edge_order", "skipna"])
    ... def f(x, **options):
    ...     "Parameters: %(options)s is replaced only on a line of its own."
    ...     return options
    >>> f(1, skipna=True)
    {'skipna': True}
    >>> inspect.signature(f)
    <Signature (x, *, edge_order=1, skipna=False)>
    >>> f(1, geo=True)
    Traceback (most recent call last):
    ...
    TypeError: f() got an unexpected keyword argument 'geo'
    """
    taken = NAMES if names is None else tuple(names)
    doc = options_doc(taken, notes=notes, kinds=kinds)

    def decorate(fn):
        if isinstance(fn, type):  # a class: its __init__ takes them, its docstring says so
            fn.__init__ = decorate(fn.__init__)
            fn.__doc__ = _PLACEHOLDER.sub(
                lambda m: textwrap.indent(textwrap.dedent(doc), m.group(1)), fn.__doc__
            )
            return fn
        sig = inspect.signature(fn)
        *own, rest = sig.parameters.values()
        if rest.kind is not inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"{fn.__qualname__} must take the options as **options")
        allowed = frozenset(taken) | {p.name for p in own}

        @functools.wraps(fn)
        def checked(*args, **keywords):
            for name in keywords:
                if name not in allowed:
                    raise TypeError(f"{fn.__qualname__}() got an unexpected keyword argument {name!r}")
            return fn(*args, **keywords)

        shown = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=DEFAULTS[n]) for n in taken]
        checked.__signature__ = sig.replace(parameters=own + shown)
        if fn.__doc__:
            checked.__doc__ = _PLACEHOLDER.sub(
                lambda m: textwrap.indent(textwrap.dedent(doc), m.group(1)), fn.__doc__
            )
        return checked

    return decorate


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
