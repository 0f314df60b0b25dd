"""The ``.grad`` accessor on xarray objects: names in, labelled results out."""

from __future__ import annotations

import inspect

import xarray as xr

from . import horizontal as _horizontal
from . import operators
from .coords import UnknownCoordinateError
from .labelled import EARTH_RADIUS, Derivative, differentiable_vars, output_names  # noqa: F401  (demo)
from .options import takes_options

__all__ = ["DataArrayGrad", "DatasetGrad"]

def _names(coord):
    if isinstance(coord, str):
        return None
    names = list(coord)
    if not names:
        raise ValueError("no coordinate given: pass a name or a list of names")
    twice = [c for i, c in enumerate(names) if c in names[:i]]
    if twice:
        raise ValueError(f"coordinate {twice[0]!r} is given twice; each derivative is computed once")
    return names


def _forwards_to(func):
    """Show `func`'s parameters, after the object, as the method's: its keywords
    are what the method passes on."""

    def decorate(method):
        sig = inspect.signature(func)
        self_ = next(iter(inspect.signature(method).parameters.values()))
        method.__signature__ = sig.replace(parameters=[self_, *list(sig.parameters.values())[1:]])
        return method

    return decorate


class _Grad:
    def __init__(self, obj):
        self._obj = obj

    def _derivatives(self, coord, options):
        """The names `coord` lists (None for one name) and their Derivatives."""
        names = _names(coord)
        return names, [Derivative(self._obj, c, **options) for c in names or [coord]]


@xr.register_dataarray_accessor("grad")
class DataArrayGrad(_Grad):
    """Derivatives of a DataArray along named coordinates: ``da.grad("lat")``."""

    @takes_options()
    def __call__(self, coord, **options):
        """Derivative along a named coordinate, using its values as the spacing.

        Parameters
        ----------
        coord : str or list of str
            A dimension name or the name of a 1-D coordinate (a non-dimension
            coordinate such as ``level_height`` is allowed). A dimension without
            a coordinate is differentiated per index step.
        %(options)s

        Returns
        -------
        DataArray or Dataset
            For one name, a DataArray with the same dims, coords and name; for a
            list, a Dataset with one variable ``d{name}_d{coord}`` per coordinate.
            Dask-backed input stays lazy. ``units`` is ``"<data units>/<coord
            units>"`` and ``long_name`` says what was differentiated. Data that
            are pint quantities (pint-xarray's ``da.pint.quantify()``) give a
            quantity in those units instead of the attribute.

        Raises
        ------
        KeyError, ValueError
            Unknown name; repeated, non-monotonic or too few coordinate values;
            `edge_order` or `accuracy` out of range. The message names the
            coordinate.
        TypeError
            Non-numeric coordinate or data.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> depth = xr.DataArray([0.0, 10.0, 30.0, 60.0], dims="depth", attrs={"units": "m"})
        >>> theta = xr.DataArray(20 - 0.1 * depth**1.5, coords={"depth": depth},
        ...                      name="theta", attrs={"units": "degC"})
        >>> dtheta = theta.grad("depth")
        >>> dtheta.attrs["units"]
        'degC/m'
        >>> bool(np.allclose(dtheta, np.gradient(theta, depth)))
        True
        """
        names, derivatives = self._derivatives(coord, options)
        da = self._obj
        if names is None:
            return derivatives[0].apply(da)
        base = da.name if da.name is not None else "f"
        keys = output_names([(base, d.coord.name) for d in derivatives], da.coords)
        return xr.Dataset({key: d.apply(da, name=key) for key, d in zip(keys, derivatives)})

    @_forwards_to(operators.hessian)
    def hessian(self, coords, **options):
        """Second partial derivatives along several coordinates, as a Dataset.

        Forwards to :func:`xgradient.operators.hessian`; see it for the
        parameters and for what ``geo=True`` computes.

        Parameters
        ----------
        coords : list of str
            Dimension or 1-D coordinate names, each along a different dimension.
        **options
            As for :func:`xgradient.operators.hessian`, whose signature shows them.

        Returns
        -------
        Dataset
            ``d2{name}_d{c1}d{c2}`` for each pair ``c1 <= c2`` in the order
            given (``name`` is ``"f"`` for an unnamed DataArray).

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> x = np.array([0.0, 1.0, 3.0, 4.0])
        >>> y = np.array([0.0, 0.5, 2.0])
        >>> T = xr.DataArray(np.outer(x**2, y), coords={"x": x, "y": y}, dims=("x", "y"),
        ...                  name="T", attrs={"units": "K"})
        >>> h = T.grad.hessian(["x", "y"])
        >>> list(h)
        ['d2T_dxdx', 'd2T_dxdy', 'd2T_dydy']
        >>> h.d2T_dxdx.values[:, 2]  # d2(x^2 y)/dx2 = 2y = 4, exact for a quadratic
        array([4., 4., 4., 4.])
        >>> h.d2T_dxdx.attrs["units"]
        'K'
        """
        return operators.hessian(self._obj, coords, **options)

    @_forwards_to(operators.laplacian)
    def laplacian(self, coords, **options):
        """Laplacian over several coordinates (on the sphere with ``geo=True``).

        Forwards to :func:`xgradient.operators.laplacian`; see it for the
        parameters and the spherical formula.

        Parameters
        ----------
        coords : list of str
            Dimension or 1-D coordinate names, each along a different
            dimension; with `geo`, a latitude and a longitude.
        **options
            As for :func:`xgradient.operators.laplacian`, whose signature shows them.

        Returns
        -------
        DataArray
            Same dims, coords and name, with ``units`` and ``long_name``.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> lat = np.linspace(-60.0, 60.0, 25)
        >>> lon = np.arange(0.0, 360.0, 5.0)
        >>> phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
        >>> T = xr.DataArray(np.cos(phi) * np.cos(lam), coords={"lat": lat, "lon": lon},
        ...                  dims=("lat", "lon"), name="T", attrs={"units": "K"})
        >>> lap = T.grad.laplacian(["lat", "lon"], geo=True)
        >>> lap.attrs["units"]
        'K m-2'
        >>> exact = -2 * T / 6371008.8**2  # a degree-1 spherical harmonic
        >>> bool(np.allclose(lap[1:-1], exact[1:-1], rtol=0, atol=1e-3 * 2 / 6371008.8**2))
        True
        """
        return operators.laplacian(self._obj, coords, **options)

    @_forwards_to(_horizontal.horizontal)
    def horizontal(self, **options):
        """Eastward and northward derivatives per metre, on any horizontal grid.

        Forwards to :func:`xgradient.horizontal.horizontal`: 1-D lat/lon
        (the numbers of ``grad(lon, geo=True)`` and ``grad(lat, geo=True)``),
        2-D curvilinear lat/lon (NEMO, WRF, ROMS, CORDEX), rotated-pole and
        projected grids with a CF grid mapping (through pyproj).

        Parameters
        ----------
        **options
            As for :func:`xgradient.horizontal.horizontal`, whose signature shows them.

        Returns
        -------
        Dataset
            ``d{name}_deast`` and ``d{name}_dnorth`` (``name`` is ``"f"`` for
            an unnamed DataArray) in ``"<units> m-1"``, with the dims and coords
            of the DataArray.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> lat = np.linspace(-60.0, 60.0, 25)
        >>> lon = np.arange(0.0, 360.0, 5.0)
        >>> T = xr.DataArray(np.cos(np.deg2rad(lon)) * np.ones((lat.size, 1)), name="T",
        ...                  dims=("lat", "lon"), coords={"lat": lat, "lon": lon},
        ...                  attrs={"units": "K"})
        >>> g = T.grad.horizontal()
        >>> list(g)
        ['dT_deast', 'dT_dnorth']
        >>> bool((g.dT_deast == T.grad("lon", geo=True)).all())   # the same numbers
        True
        """
        return _horizontal.horizontal(self._obj, **options)


@xr.register_dataset_accessor("grad")
class DatasetGrad(_Grad):
    """Derivatives of every variable of a Dataset: ``ds.grad("lat")``."""

    @takes_options()
    def __call__(self, coord, **options):
        """Derivative of every numeric data variable along a named coordinate.

        Each variable is differentiated as ``DataArray.grad`` differentiates
        it, with the stencil of each coordinate built once for all of them.

        Parameters
        ----------
        coord : str or list of str
            Dimension or 1-D coordinate names, as for ``DataArray.grad``.
        %(options)s

        Returns
        -------
        Dataset
            For one name, the derivative of every numeric data variable that has
            the coordinate's dimension, under its own name; for a list, variables
            ``d{var}_d{coord}``. Dropped: variables without that dimension,
            non-numeric variables (e.g. cftime ``time_bnds``), boolean masks, CF
            flag variables (``flag_values``/``flag_masks``/``flag_meanings``), CF
            grid-mapping variables and CF cell bounds
            (``xgradient.labelled.skipped_vars`` says which and why).

        Raises
        ------
        ValueError
            As for ``DataArray.grad``; and when two derivatives of a list would
            have the same name (variables ``a_dx`` and ``a`` along ``y`` and
            ``x_dy`` both give ``da_dx_dy``): nothing is dropped silently.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> ds = xr.Dataset({"t": ("lat", [1.0, 2.0, 4.0]), "c": ((), 3.0)},
        ...                 coords={"lat": [0.0, 1.0, 3.0]})
        >>> ds.grad("lat")
        <xarray.Dataset> Size: 48B
        Dimensions:  (lat: 3)
        Coordinates:
          * lat      (lat) float64 24B 0.0 1.0 3.0
        Data variables:
            t        (lat) float64 24B 1.0 1.0 1.0
        """
        names, derivatives = self._derivatives(coord, options)
        ds = self._obj
        jobs = [(name, d) for d in derivatives for name in differentiable_vars(ds, d.coord.dim)]
        if names is None:
            keys = [name for name, _ in jobs]
        else:
            keys = output_names([(name, d.coord.name) for name, d in jobs], ds.coords)
        out = {key: d.apply(ds[name], name=key) for key, (name, d) in zip(keys, jobs)}
        return xr.Dataset(out, coords=ds.coords, attrs=ds.attrs)

    @_forwards_to(operators.divergence)
    def divergence(self, u="u", v="v", **options):
        """Horizontal divergence of the vector (`u`, `v`) of this Dataset.

        Forwards to :func:`xgradient.operators.divergence`; see it for the
        parameters and the spherical formula.

        Parameters
        ----------
        u, v : str, default "u", "v"
            Names of the x (eastward) and y (northward) components.
        x, y : str, optional
            Coordinates to differentiate along; by default the longitude and
            latitude, or the coordinates with CF ``axis`` X and Y.
        **options
            As for :func:`xgradient.operators.divergence`, whose signature shows them.

        Returns
        -------
        DataArray
            Named ``"divergence"``, with ``units`` (``"s-1"`` for winds in
            ``"m s-1"`` with `geo`) and ``long_name``.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> lat = np.linspace(-60.0, 60.0, 7)
        >>> lon = np.arange(0.0, 360.0, 30.0)
        >>> v = 5 * np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size)
        >>> ds = xr.Dataset({"u": (("lat", "lon"), np.zeros_like(v), {"units": "m s-1"}),
        ...                  "v": (("lat", "lon"), v, {"units": "m s-1"})},
        ...                 coords={"lat": lat, "lon": lon})
        >>> div = ds.grad.divergence(geo=True, edge_order=2)
        >>> exact = -2 * 5 * np.sin(np.deg2rad(lat)) / 6371008.8
        >>> bool(np.allclose(div.isel(lon=0), exact, rtol=0.02))
        True
        >>> div.attrs["units"]
        's-1'
        """
        return operators.divergence(self._obj, u, v, **options)

    @_forwards_to(operators.vorticity)
    def vorticity(self, u="u", v="v", **options):
        """Relative vorticity (vertical component of the curl) of (`u`, `v`).

        Forwards to :func:`xgradient.operators.vorticity`; see it for the
        parameters and the spherical formula.

        Parameters
        ----------
        u, v, x, y : str
            As for :meth:`divergence`.
        **options
            As for :func:`xgradient.operators.vorticity`, whose signature shows them.

        Returns
        -------
        DataArray
            Named ``"vorticity"``, with ``units`` and ``long_name``.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> x, y = np.array([0.0, 0.5, 2.0, 4.0]), np.array([-1.0, 0.0, 2.5])
        >>> X, Y = np.meshgrid(x, y)  # solid-body rotation
        >>> ds = xr.Dataset({"u": (("y", "x"), -Y), "v": (("y", "x"), X)},
        ...                 coords={"x": ("x", x, {"axis": "X"}), "y": ("y", y, {"axis": "Y"})})
        >>> ds.grad.vorticity().values  # dv/dx - du/dy = 1 + 1
        array([[2., 2., 2., 2.],
               [2., 2., 2., 2.],
               [2., 2., 2., 2.]])
        """
        return operators.vorticity(self._obj, u, v, **options)

    @_forwards_to(_horizontal.horizontal)
    def horizontal(self, **options):
        """Eastward and northward derivatives per metre of every variable on a horizontal grid.

        Forwards to :func:`xgradient.horizontal.horizontal`; the metric of
        each grid is computed once and reused for every variable on it.

        Parameters
        ----------
        **options
            As for :func:`xgradient.horizontal.horizontal`, whose signature shows them.

        Returns
        -------
        Dataset
            ``d{var}_deast`` and ``d{var}_dnorth`` for each numeric data
            variable that lies on a horizontal grid (the others are dropped).

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> lat, lon = np.linspace(-30.0, 30.0, 7), np.arange(0.0, 360.0, 30.0)
        >>> ds = xr.Dataset({"a": (("lat", "lon"), np.ones((7, 12))),
        ...                  "b": (("lat", "lon"), np.zeros((7, 12)))},
        ...                 coords={"lat": lat, "lon": lon})
        >>> sorted(ds.grad.horizontal())
        ['da_deast', 'da_dnorth', 'db_deast', 'db_dnorth']
        """
        return _horizontal.horizontal(self._obj, **options)


def _has(ds, name):
    return name in ds.coords or name in ds.dims


class DataTreeGrad:
    """Derivatives of every node of a DataTree: ``tree.grad("lat")``."""

    def __init__(self, tree):
        self._tree = tree

    @takes_options()
    def __call__(self, coord, **options):
        """Derivative of every numeric data variable of every node that has `coord`.

        Each node is differentiated as ``Dataset.grad`` differentiates a
        Dataset (see it for the options), with the coordinates it inherits
        from its parents: a latitude on the root serves every group below it.

        Parameters
        ----------
        coord : str or list of str
            A dimension or 1-D coordinate name; a list differentiates each
            node along those of the names it has.
        %(options)s

        Returns
        -------
        DataTree
            The same groups, in the same places. A node that has the
            coordinate holds what ``node.dataset.grad(coord, ...)`` returns (its
            variables along it, under their own names; ``d{var}_d{coord}`` for
            a list). A node without it keeps its coordinates and attributes
            but no data variables: nothing there has a derivative along
            `coord`, and the tree keeps its shape, so paths stay valid.

        Raises
        ------
        UnknownCoordinateError
            No node has `coord` (a ``KeyError`` and a ``ValueError``).
        KeyError, ValueError, TypeError
            As for ``Dataset.grad``; a note on the exception names the node
            (Python >= 3.11).

        Examples
        --------
        >>> import numpy as np, xarray as xr, xgradient
        >>> tree = xr.DataTree.from_dict({
        ...     "/": xr.Dataset(coords={"lat": ("lat", [0.0, 1.0, 3.0], {"units": "degrees_north"})}),
        ...     "/ocean": xr.Dataset({"sst": ("lat", [10.0, 12.0, 16.0], {"units": "degC"})}),
        ...     "/station": xr.Dataset({"p": ("time", [1000.0, 990.0])}),
        ... })
        >>> dt = tree.grad("lat")
        >>> dt["ocean/sst"].values
        array([2., 2., 2.])
        >>> dt["ocean/sst"].attrs["units"]
        'degC/degrees_north'
        >>> list(dt["station"].data_vars)  # nothing along lat there: kept, empty
        []
        """
        names = [coord] if isinstance(coord, str) else _names(coord)
        tree = self._tree
        found = {n for n in names for node in tree.subtree if _has(node.dataset, n)}
        missing = [n for n in names if n not in found]
        if missing:
            known = sorted(
                {str(d) for node in tree.subtree for d in node.dataset.dims}
                | {
                    str(c)
                    for node in tree.subtree
                    for c, var in node.dataset.coords.items()
                    if var.ndim == 1
                }
            )
            raise UnknownCoordinateError(
                f"{missing[0]!r} is neither a dimension nor a 1-D coordinate of any node "
                f"of the DataTree; choose one of {known}"
            )

        def node_grad(ds):
            here = [n for n in names if _has(ds, n)]
            if not here:
                return xr.Dataset(coords=ds.coords, attrs=ds.attrs)
            return ds.grad(coord if isinstance(coord, str) else here, **options)

        return tree.map_over_datasets(node_grad)


# DataTree is in xarray from 2024.10 on; older versions have only the two above.
if hasattr(xr, "register_datatree_accessor"):
    xr.register_datatree_accessor("grad")(DataTreeGrad)
    __all__.append("DataTreeGrad")
