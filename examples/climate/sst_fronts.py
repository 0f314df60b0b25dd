"""Sea-surface temperature fronts in OSTIA: |grad SST| in K per 100 km.

Data: ``ostia_monthly.nc`` from the iris-sample-data package (monthly OSTIA
SST, 2006-2010, a band from 5S to 5N around the globe; land is NaN).

What it shows
-------------
* ``geo=True``: derivatives per metre on the sphere, d/dy = d/dlat / (R
  pi/180) and d/dx = d/dlon / (R cos(lat) pi/180), with the radius the file
  itself declares (its ``latitude_longitude`` grid mapping);
* the global longitude (0 .. 359.17 in steps of 0.83) is detected as
  periodic, so the fronts at the date line and at 0E are computed across
  the seam like everywhere else;
* a list of coordinates gives a Dataset of ``d{var}_d{coord}``.

Cells next to land are NaN: their centred difference needs the land value,
exactly as with ``numpy.gradient`` (this example keeps that behaviour, so
that its numbers can be checked against numpy). Pass ``skipna=True`` to
``.grad`` (or ``--skipna`` to the ``xgradient`` command) to keep the coastal
cells: beside a NaN, the one-sided difference from the valid side is used,
which is where the upwelling fronts along the coasts of Peru and Africa are.

Run::

    python examples/climate/sst_fronts.py [OUTDIR]     # default ./xgradient-examples

It writes ``OUTDIR/sst_fronts.png`` and ``OUTDIR/sst_fronts.json`` (the
largest time-mean gradient and where it is).
"""

import argparse
import json
from pathlib import Path

import iris_sample_data
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)

plt.switch_backend("Agg")  # files only, no window

DATA = Path(iris_sample_data.path) / "ostia_monthly.nc"


def sst_front_strength(ds):
    """Time-mean |grad SST| in K per 100 km, from a Dataset holding OSTIA."""
    sst = ds.surface_temperature
    radius = float(ds.latitude_longitude.attrs["earth_radius"])  # 6371229 m
    grad = sst.grad(["latitude", "longitude"], geo=True, radius=radius)
    magnitude = np.hypot(grad.dsurface_temperature_dlongitude, grad.dsurface_temperature_dlatitude)
    strength = (magnitude * 1e5).mean("time")  # K m-1 -> K per 100 km
    strength.attrs = {"units": "K (100 km)-1", "long_name": "time-mean |grad SST|"}
    return strength


def main(outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with xr.open_dataset(DATA) as ds:
        ds = ds.load()
    strength = sst_front_strength(ds)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, layout="constrained")
    mean_sst = ds.surface_temperature.mean("time") - 273.15
    mean_sst.plot.pcolormesh(ax=top, cmap="RdYlBu_r", cbar_kwargs={"label": "SST (degC)"})
    strength.plot.pcolormesh(ax=bottom, cmap="magma_r", vmax=float(strength.quantile(0.99)),
                             cbar_kwargs={"label": "|grad SST| (K per 100 km)"})
    top.set(title="OSTIA SST, 2006-2010 mean", xlabel="")
    bottom.set(title="Front strength: time mean of |grad SST| (xgradient, geo=True)",
               xlabel="longitude (degrees east)")
    for ax in (top, bottom):
        ax.set_ylabel("latitude")
    fig.savefig(outdir / "sst_fronts.png", dpi=100)
    plt.close(fig)

    j, k = np.unravel_index(np.nanargmax(strength.values), strength.shape)
    summary = {
        "max_K_per_100km": float(strength[j, k]),
        "lat_index": int(j),
        "lon_index": int(k),
        "lat": float(strength.latitude[j]),
        "lon": float(strength.longitude[k]),
    }
    (outdir / "sst_fronts.json").write_text(json.dumps(summary, indent=2))
    lat, lon = summary["lat"], summary["lon"]
    print(f"strongest mean SST front: {summary['max_K_per_100km']:.3f} K per 100 km "
          f"at {abs(lat):.2f}{'N' if lat >= 0 else 'S'} {lon:.2f}E")
    print(f"wrote {outdir / 'sst_fronts.png'}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", default="xgradient-examples")
    main(parser.parse_args().outdir)
