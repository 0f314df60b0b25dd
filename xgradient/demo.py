"""``xgradient demo``: the netCDF pipeline end to end on a built-in sample.

The sample is a smooth but realistic global air temperature field on the
grid of a spectral model: Gaussian latitudes (nonuniform, north to south, as
in GRIB files), a global longitude that the command detects as periodic, and
ten standard pressure levels (nonuniform too). Because the field is a
formula, its exact derivative is known, and the demo checks the numbers it
writes against it: it is a self-test as well as an example.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import numpy as np
import xarray as xr

from .accessor import EARTH_RADIUS

__all__ = ["PLEV", "DemoReport", "analytic_gradient", "gaussian_latitudes", "run", "sample_dataset"]

#: Pressure levels of the sample (hPa), the lower half of CMIP's standard set.
PLEV = (1000.0, 925.0, 850.0, 700.0, 600.0, 500.0, 400.0, 300.0, 250.0, 200.0)
#: Largest error allowed by the self-check, as a fraction of the largest
#: exact value. The sample grid (1.875 degrees, ten levels) with accuracy=4
#: gives about 0.05 % along lat and lon and 0.4 % along pressure.
TOLERANCE = 0.01
#: Level of the map (hPa).
MAP_LEVEL = 500.0

# The field: T = (p / 1000 hPa)**KAPPA * Ts(lat, lon), with Ts a sea-level
# temperature: a pole-to-equator contrast, two polar fronts and waves.
KAPPA = 0.19  # roughly R gamma / g of a standard atmosphere
FRONT_LAT = np.deg2rad(45.0)
FRONT_WIDTH = np.deg2rad(8.0)


def gaussian_latitudes(n):
    """The `n` latitudes of a Gaussian grid, in degrees, from north to south.

    They are the arcsines of the roots of the Legendre polynomial of degree
    `n` (the nodes of Gauss-Legendre quadrature), as used by spectral models:
    nonuniform, symmetric about the equator, never at a pole.

    Parameters
    ----------
    n : int
        Number of latitudes (even for the usual grids: 96 for N48).

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> lat = gaussian_latitudes(4)
    >>> lat.round(3)
    array([ 59.444,  19.876, -19.876, -59.444])
    >>> bool(np.allclose(np.diff(lat), np.diff(lat)[0]))
    False
    """
    x, _ = np.polynomial.legendre.leggauss(n)
    return np.rad2deg(np.arcsin(x))[::-1].copy()


def _surface(phi, lam):
    """Ts and its derivatives per radian of latitude and of longitude."""
    w, f = FRONT_WIDTH, FRONT_LAT
    sech2 = lambda z: 1.0 / np.cosh(z) ** 2
    ts = (
        292.0
        - 45.0 * np.sin(phi) ** 2
        + 4.0 * (np.tanh((phi + f) / w) - np.tanh((phi - f) / w))
        + 5.0 * np.sin(2 * phi) ** 2 * np.cos(5 * (lam - 0.4))
        + 3.0 * np.cos(phi) * np.sin(lam)
    )
    dphi = (
        -45.0 * np.sin(2 * phi)
        + 4.0 / w * (sech2((phi + f) / w) - sech2((phi - f) / w))
        + 10.0 * np.sin(4 * phi) * np.cos(5 * (lam - 0.4))
        - 3.0 * np.sin(phi) * np.sin(lam)
    )
    dlam = -25.0 * np.sin(2 * phi) ** 2 * np.sin(5 * (lam - 0.4)) + 3.0 * np.cos(phi) * np.cos(lam)
    return ts, dphi, dlam


def _grid(ds):
    phi = np.deg2rad(ds.lat.values)[None, :, None]
    lam = np.deg2rad(ds.lon.values)[None, None, :]
    p = ds.plev.values[:, None, None]
    return phi, lam, p


def sample_dataset(nlat=96, nlon=192, levels=PLEV):
    r"""A global air temperature field with CF metadata, as a model writes it.

    .. math::

        T(\varphi, \lambda, p) = (p / 1000\,\mathrm{hPa})^{0.19}\,
        \big[292 - 45 \sin^2\varphi
        + 4 (\tanh\tfrac{\varphi + 45^\circ}{8^\circ} - \tanh\tfrac{\varphi - 45^\circ}{8^\circ})
        + 5 \sin^2 2\varphi \cos 5(\lambda - 0.4) + 3 \cos\varphi \sin\lambda\big]

    in kelvin: about 300 K at the equator and 247 K at the poles at 1000 hPa,
    polar fronts at 45 degrees, a wave-5 pattern in mid-latitudes and a
    wave-1 land-sea contrast, colder aloft.

    Parameters
    ----------
    nlat : int, default 96
        Number of Gaussian latitudes (north to south).
    nlon : int, default 192
        Number of longitudes, evenly spaced from 0 (a global, periodic grid).
    levels : sequence of float, default PLEV
        Pressure levels in hPa.

    Returns
    -------
    xarray.Dataset
        ``ta(plev, lat, lon)`` in float32, with ``units``, ``standard_name``
        and ``long_name`` on the variable and its coordinates.

    Examples
    --------
    >>> ds = sample_dataset(nlat=8, nlon=16, levels=(1000.0, 500.0))
    >>> ds.ta.dims, ds.ta.dtype.name, ds.lon.attrs["units"]
    (('plev', 'lat', 'lon'), 'float32', 'degrees_east')
    >>> 240 < float(ds.ta.sel(plev=1000).min()) < float(ds.ta.sel(plev=1000).max()) < 305
    True
    """
    lat = gaussian_latitudes(nlat)
    lon = np.arange(nlon) * (360.0 / nlon)
    plev = np.asarray(levels, dtype=np.float64)
    ds = xr.Dataset(
        coords={
            "plev": ("plev", plev, {"units": "hPa", "standard_name": "air_pressure", "long_name": "pressure", "positive": "down", "axis": "Z"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude", "axis": "Y"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude", "axis": "X"}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": "xgradient demo: analytic global air temperature",
            "source": "xgradient.demo.sample_dataset",
        },
    )
    phi, lam, p = _grid(ds)
    ts, _, _ = _surface(phi, lam)
    ta = (p / 1000.0) ** KAPPA * ts
    ds["ta"] = (
        ("plev", "lat", "lon"),
        ta.astype(np.float32),
        {"units": "K", "standard_name": "air_temperature", "long_name": "air temperature"},
    )
    return ds


def analytic_gradient(ds, radius=EARTH_RADIUS):
    """The exact derivatives of :func:`sample_dataset`'s field on its grid.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset from :func:`sample_dataset` (only its coordinates are used).
    radius : float
        Sphere radius in metres.

    Returns
    -------
    xarray.Dataset
        ``dta_dlat`` = dT/dy and ``dta_dlon`` = dT/dx (K m-1, northward and
        eastward), ``dta_dplev`` = dT/dp (K/hPa), in float64.

    Examples
    --------
    >>> import xgradient
    >>> ds = sample_dataset(nlat=48, nlon=96)
    >>> exact = analytic_gradient(ds)
    >>> num = ds.ta.grad("lat", geo=True, accuracy=4)
    >>> err = float(abs(num - exact.dta_dlat).max() / abs(exact.dta_dlat).max())
    >>> err < 0.01
    True
    """
    phi, lam, p = _grid(ds)
    ts, dphi, dlam = _surface(phi, lam)
    s = (p / 1000.0) ** KAPPA
    dims = ("plev", "lat", "lon")
    return xr.Dataset(
        {
            "dta_dlat": (dims, s * dphi / radius, {"units": "K m-1"}),
            "dta_dlon": (dims, s * dlam / (radius * np.cos(phi)), {"units": "K m-1"}),
            "dta_dplev": (dims, KAPPA / p * s * ts, {"units": "K/hPa"}),
        },
        coords=ds.coords,
    )


@dataclasses.dataclass
class DemoReport:
    """What :func:`run` wrote and what it found."""

    input: Path
    output: Path
    figure: Path | None
    command: str
    max_gradient: float  # K per 100 km at MAP_LEVEL
    where: tuple  # (lat, lon) of the maximum
    errors: dict  # variable -> max error / max exact value
    note: str = ""

    @property
    def ok(self):
        """True when every derivative agrees with the exact one within TOLERANCE."""
        return all(e <= TOLERANCE for e in self.errors.values())

    def summary(self):
        """A few lines for the terminal."""
        lat, lon = self.where
        lines = [
            "xgradient demo: a global air temperature field on a Gaussian grid",
            f"  input:   {self.input}",
            f"  command: {self.command}",
            f"  output:  {self.output} ({', '.join(self.errors)})",
            f"  map:     {self.figure}" if self.figure else f"  map:     none ({self.note})",
            (
                f"  max |grad T| at {MAP_LEVEL:g} hPa: {self.max_gradient:.2f} K per 100 km "
                f"at {abs(lat):.1f}{'N' if lat >= 0 else 'S'} {lon:.1f}E"
            ),
            "  self-check against the exact derivative (max error / max value):",
        ]
        for name, err in self.errors.items():
            verdict = "OK" if err <= TOLERANCE else f"FAILED (tolerance {TOLERANCE:.0%})"
            lines.append(f"    {name:<10} {err:8.3%}  {verdict}")
        return "\n".join(lines)


def run(outdir="xgradient-demo", *, progress=False, plot=True):
    """Write the sample, differentiate it with the netCDF pipeline, check it, map it.

    The differentiation is the ``xgradient`` command's own code path
    (:func:`xgradient.files.differentiate_file`)::

        xgradient sample_ta.nc -o sample_ta_gradient.nc --coord lat --coord lon \\
            --coord plev --geo --accuracy 4

    Parameters
    ----------
    outdir : str or path-like, default "xgradient-demo"
        Folder for the files (created if needed; earlier demo files in it are
        replaced).
    progress : bool, default False
        Show the progress bar on stderr.
    plot : bool, default True
        Draw ``gradient_500hPa.png`` (the magnitude of grad T, in K per 100 km) when
        matplotlib is installed.

    Returns
    -------
    DemoReport
        Paths, the command, the largest gradient and the self-check errors;
        ``report.ok`` tells whether the self-check passed.

    Examples
    --------
    >>> import tempfile
    >>> report = run(tempfile.mkdtemp(), plot=False)
    >>> report.ok, sorted(report.errors)
    (True, ['dta_dlat', 'dta_dlon', 'dta_dplev'])
    >>> 0.5 < report.max_gradient < 2.0  # K per 100 km
    True
    """
    from .files import differentiate_file, now

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    src = outdir / "sample_ta.nc"
    dst = outdir / "sample_ta_gradient.nc"
    ds = sample_dataset()
    ds.to_netcdf(src, encoding={"ta": {"zlib": True, "shuffle": True, "complevel": 4}})
    args = [str(src), "-o", str(dst), "--coord", "lat", "--coord", "lon", "--coord", "plev", "--geo", "--accuracy", "4"]
    command = "xgradient " + shlex.join(args)
    differentiate_file(
        src,
        dst,
        ["lat", "lon", "plev"],
        geo=True,
        accuracy=4,
        overwrite=True,
        progress=progress,
        history=f"{now()}: {command} (xgradient demo)",
    )
    exact = analytic_gradient(ds)
    with xr.open_dataset(dst) as out:
        out = out.load()
    errors = {
        name: float(abs(out[name] - exact[name]).max() / abs(exact[name]).max())
        for name in ("dta_dlat", "dta_dlon", "dta_dplev")
    }
    magnitude = np.hypot(out.dta_dlon, out.dta_dlat).sel(plev=MAP_LEVEL) * 1e5  # K per 100 km
    peak = magnitude.where(magnitude == magnitude.max(), drop=True)
    where = (float(peak.lat[0]), float(peak.lon[0]))
    figure, note = None, ""
    if plot:
        try:
            figure = _plot(ds.ta.sel(plev=MAP_LEVEL), magnitude, outdir / "gradient_500hPa.png")
        except ImportError:
            note = "matplotlib is not installed: pip install 'xgradient[demo]'"
    else:
        note = "not asked for"
    return DemoReport(src, dst, figure, command, float(magnitude.max()), where, errors, note)


def _plot(ta, magnitude, path):
    from matplotlib.figure import Figure  # no pyplot: no backend, no global state

    fig = Figure(figsize=(9, 4.6), layout="constrained")
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(magnitude.lon, magnitude.lat, magnitude, shading="nearest", cmap="magma_r")
    lines = ax.contour(ta.lon, ta.lat, ta, levels=np.arange(200, 300, 5), colors="k", linewidths=0.5)
    ax.clabel(lines, fmt="%d K", fontsize=7)
    fig.colorbar(mesh, ax=ax, label="|∇T| (K per 100 km)", shrink=0.9)
    ax.set(
        xlabel="longitude (degrees east)",
        ylabel="latitude (degrees north)",
        title=f"xgradient demo: |∇T| at {MAP_LEVEL:g} hPa, contours of T",
        xlim=(0, 360),
        ylim=(-90, 90),
        aspect="equal",
    )
    fig.savefig(path, dpi=110)
    return path
