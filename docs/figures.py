"""Make the documentation's figures from real data (iris-sample-data).

    python docs/figures.py [OUTDIR]     # default: docs/images

- ``ostia_coasts.png``: |grad SST| in K per 100 km on OSTIA (one month),
  ``geo=True`` on the periodic global longitude, without and with
  ``skipna=True``: the second keeps the cells along the coasts.
- ``ostia_laplacian.png``: the Laplacian of the same SST on the sphere, in
  K per (100 km)^2, with ``skipna=True``.
- ``atlantic_thermocline.png``: potential temperature and its vertical
  gradient on the 40 nonuniform depth levels of the Atlantic profiles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import iris_sample_data
import matplotlib
import numpy as np
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DATA = Path(iris_sample_data.path)


def ostia(out: Path) -> dict:
    ds = xr.open_dataset(DATA / "ostia_monthly.nc")
    sst = ds.surface_temperature.isel(time=0).load()
    radius = float(ds.latitude_longitude.attrs["earth_radius"])
    panels = {}
    for skipna in (False, True):
        g = sst.grad(["latitude", "longitude"], geo=True, radius=radius, skipna=skipna)
        mag = np.hypot(g.dsurface_temperature_dlatitude, g.dsurface_temperature_dlongitude)
        panels[skipna] = mag * 1e5  # K m-1 -> K per 100 km
    fig, axes = plt.subplots(2, 1, figsize=(12, 4.6), sharex=True, layout="constrained")
    vmax = float(panels[True].quantile(0.99))
    land = sst.isnull()
    for ax, skipna in zip(axes, (False, True)):
        ax.pcolormesh(sst.longitude, sst.latitude, land.where(land), cmap="Greys", vmin=0, vmax=2)
        im = ax.pcolormesh(sst.longitude, sst.latitude, panels[skipna], cmap="magma_r", vmin=0, vmax=vmax)
        lost = int((sst.notnull() & panels[skipna].isnull()).sum())
        ax.set_title(f"skipna={skipna}: {lost} ocean cells without a value", fontsize=10)
        ax.set_ylabel("latitude")
    axes[-1].set_xlabel("longitude (degrees east)")
    fig.colorbar(im, ax=axes, label="|grad SST| (K per 100 km)")
    fig.suptitle(f"OSTIA SST {str(sst.time.values)[:7]}: gradient magnitude on the sphere (land grey)")
    fig.savefig(out / "ostia_coasts.png", dpi=90)
    plt.close(fig)
    return {k: int((sst.notnull() & v.isnull()).sum()) for k, v in panels.items()}


def laplacian(out: Path) -> None:
    ds = xr.open_dataset(DATA / "ostia_monthly.nc")
    sst = ds.surface_temperature.isel(time=0).load()
    radius = float(ds.latitude_longitude.attrs["earth_radius"])
    lap = sst.grad.laplacian(["latitude", "longitude"], geo=True, radius=radius, skipna=True)
    lap = lap * 1e10  # K m-2 -> K per (100 km)^2
    fig, ax = plt.subplots(figsize=(12, 2.8), layout="constrained")
    land = sst.isnull()
    ax.pcolormesh(sst.longitude, sst.latitude, land.where(land), cmap="Greys", vmin=0, vmax=2)
    v = float(np.abs(lap).quantile(0.98))
    im = ax.pcolormesh(sst.longitude, sst.latitude, lap, cmap="RdBu_r", vmin=-v, vmax=v)
    fig.colorbar(im, ax=ax, label="K per (100 km)$^2$")
    ax.set(xlabel="longitude (degrees east)", ylabel="latitude",
           title="Laplacian of OSTIA SST on the sphere (geo=True, skipna=True; land grey)")
    fig.savefig(out / "ostia_laplacian.png", dpi=90)
    plt.close(fig)


def thermocline(out: Path) -> None:
    ds = xr.open_dataset(DATA / "atlantic_profiles.nc")
    theta = ds.theta.mean(["lat", "lon"])
    dtdz = ds.theta.grad("depth", edge_order=2).mean(["lat", "lon"]) * 100  # K per 100 m
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 5), sharey=True, layout="constrained")
    a.plot(theta, ds.depth, "o-", ms=3)
    a.set(xlabel=f"potential temperature ({ds.theta.attrs['units']})", ylabel="depth (m)", title="theta")
    b.plot(dtdz, ds.depth, "o-", ms=3, color="C3")
    b.set(xlabel="d theta / d depth (K per 100 m)", title="vertical gradient (.grad)")
    a.set_yscale("symlog", linthresh=100)
    a.invert_yaxis()
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.suptitle("Tropical Atlantic: the thermocline on 40 nonuniform depth levels (dots)")
    fig.savefig(out / "atlantic_thermocline.png", dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=str(Path(__file__).parent / "images"))
    out = Path(parser.parse_args(argv).outdir)
    out.mkdir(parents=True, exist_ok=True)
    lost = ostia(out)
    laplacian(out)
    thermocline(out)
    print(f"wrote {out}; ocean cells without a value: {lost}")
    return lost


if __name__ == "__main__":
    main()
