"""The tropical Atlantic thermocline: d(theta)/dz on nonuniform depth levels.

Data: ``atlantic_profiles.nc`` from the iris-sample-data package: potential
temperature and salinity on 40 depth levels, 10 m apart near the surface and
up to 500 m apart at the bottom, over 10S-1S and 35W-0E.

What it shows
-------------
* the derivative along a nonuniform coordinate uses the real spacing (the
  same numbers as ``numpy.gradient(theta, depth, axis=0)`` with the default
  ``accuracy=2``), and units follow: ``K/m``;
* the thermocline depth, where theta falls fastest (the most negative
  d(theta)/dz), per profile;
* the file's longitude is a regional box stored in 0..360 across the prime
  meridian (0.5, 325.5, 330.5, ..., 355.5). Differentiated as stored, a
  "step" of 325 degrees would sit between the first two columns: xgradient
  differentiates it as it stands but warns (a ``UserWarning`` naming ``lon``)
  and suggests converting to -180..180 and sorting, which is done here
  before the map and the zonal gradient, and makes the grid a regular 5
  degree one (-34.5 .. 0.5).

Below the sea floor theta is NaN; the cell just above the floor has no
value below it, so its centred difference is NaN too, as with numpy.
``skipna=True`` uses a one-sided difference there instead.

Run::

    python examples/climate/thermocline.py [OUTDIR]     # default ./xgradient-examples

It writes ``OUTDIR/thermocline.png`` and ``OUTDIR/thermocline.json``.
"""

import argparse
import json
import warnings
from pathlib import Path

import iris_sample_data
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)

plt.switch_backend("Agg")  # files only, no window

DATA = Path(iris_sample_data.path) / "atlantic_profiles.nc"


def main(outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with xr.open_dataset(DATA) as ds:
        ds = ds.load()

    # As stored, lon jumps from 0.5 to 325.5: xgradient says so when asked
    # for a derivative along it ...
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds.theta.isel(depth=0).grad("lon")
    print("as stored:", *(str(w.message).split(":")[0] for w in caught))
    # ... and suggests the fix: -180..180, sorted. Then no warning.
    ds = ds.assign_coords(lon=((ds.lon + 180) % 360) - 180).sortby("lon")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zonal = ds.theta.isel(depth=0).grad("lon", geo=True) * 1e5  # K per 100 km, eastward

    # Vertical gradient, in K per 100 m (depth is positive down: a negative
    # gradient means colder below).
    dtheta_dz = ds.theta.grad("depth") * 100
    dtheta_dz.attrs = {"units": "K (100 m)-1", "long_name": "d theta / d depth"}
    thermocline = dtheta_dz.idxmin("depth")  # depth of the steepest fall

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.8), layout="constrained")
    profiles = ds.theta.stack(profile=("lat", "lon"))
    gradients = dtheta_dz.stack(profile=("lat", "lon"))
    axes[0].plot(profiles - 273.15, ds.depth, color="tab:red", lw=0.6, alpha=0.6)
    axes[0].set(xlabel="theta (degC)", ylabel="depth (m)", title="48 profiles of theta")
    axes[1].plot(gradients, ds.depth, color="tab:blue", lw=0.6, alpha=0.6)
    axes[1].plot(gradients.mean("profile"), ds.depth, color="k", lw=2, label="mean")
    axes[1].axhline(float(thermocline.mean()), color="k", ls="--", lw=1, label="mean thermocline")
    axes[1].set(xlabel="d theta / dz (K per 100 m)", title="Vertical gradient (xgradient)")
    axes[1].legend(loc="lower left")
    for ax in axes[:2]:
        ax.set_ylim(1000, 0)
    mesh = axes[2].pcolormesh(thermocline.lon, thermocline.lat, thermocline, shading="nearest", cmap="viridis_r")
    fig.colorbar(mesh, ax=axes[2], label="thermocline depth (m)")
    axes[2].set(
        xlabel="longitude (degrees east)",
        ylabel="latitude",
        title=f"Thermocline depth\n(mean |d theta/dx| at 5 m: {float(abs(zonal).mean()):.2f} K per 100 km)",
    )
    fig.savefig(outdir / "thermocline.png", dpi=100)
    plt.close(fig)

    d, j, k = np.unravel_index(np.nanargmin(dtheta_dz.values), dtheta_dz.shape)
    summary = {
        "min_K_per_100m": float(dtheta_dz[d, j, k]),
        "depth": float(ds.depth[d]),
        "lat": float(ds.lat[j]),
        "lon": float(ds.lon[k]),
        "mean_thermocline_depth_m": float(thermocline.mean()),
    }
    (outdir / "thermocline.json").write_text(json.dumps(summary, indent=2))
    print(
        f"steepest fall of theta: {summary['min_K_per_100m']:.2f} K per 100 m at {summary['depth']:g} m "
        f"(lat {summary['lat']:.1f}, lon {summary['lon']:.1f}); "
        f"mean thermocline depth {summary['mean_thermocline_depth_m']:.0f} m"
    )
    print(f"wrote {outdir / 'thermocline.png'}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", default="xgradient-examples")
    main(parser.parse_args().outdir)
