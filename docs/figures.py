"""Make the documentation's figures from real data (iris-sample-data).

    python docs/figures.py [OUTDIR]     # default: docs/images

- ``ostia_coasts.png``: |grad SST| in K per 100 km on OSTIA (one month),
  ``geo=True`` on the periodic global longitude, without and with
  ``skipna=True``: the second keeps the cells along the coasts.
- ``ostia_laplacian.png``: the Laplacian of the same SST on the sphere, in
  K per (100 km)^2, with ``skipna=True``.
- ``atlantic_thermocline.png``: potential temperature and its vertical
  gradient on the 40 nonuniform depth levels of the Atlantic profiles.
- ``orca2_horizontal.png``: |grad T| in K per 100 km on the NEMO ORCA2
  tripolar grid (2-D ``nav_lat``/``nav_lon``), ``grad.horizontal(skipna=True)``.
- ``stereographic_horizontal.png``: |grad T| per 100 km of the Earth on the
  polar stereographic satellite image, and how far ``grad(["y", "x"])`` (per
  metre of projection) is from it: the map factor.
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


def orca2(out: Path) -> float:
    ds = xr.open_dataset(DATA / "orca2_votemper.nc")
    t = ds.votemper.load()
    g = t.grad.horizontal(skipna=True)
    mag = np.hypot(g.dvotemper_deast, g.dvotemper_dnorth) * 1e5  # K per 100 km
    fig, ax = plt.subplots(figsize=(11, 5), layout="constrained")
    # A scatter of the cell centres: a tripolar grid's cells do not draw as
    # one quadrilateral mesh across the seam and the north fold.
    lon = ((t.nav_lon + 180) % 360) - 180
    ok = mag.notnull()
    sc = ax.scatter(lon.values[ok], t.nav_lat.values[ok], c=mag.values[ok], s=6, marker="s",
                    cmap="magma_r", vmin=0, vmax=float(mag.quantile(0.99)))
    ax.set_facecolor("0.8")
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude")
    fig.colorbar(sc, ax=ax, label="|grad T| (K per 100 km)")
    fig.suptitle("NEMO ORCA2 surface temperature: t.grad.horizontal(skipna=True) (land grey)")
    fig.savefig(out / "orca2_horizontal.png", dpi=90)
    plt.close(fig)
    return float(mag.max())


def stereographic(out: Path) -> float:
    ds = xr.open_dataset(DATA / "toa_brightness_stereographic.nc").load()
    t = ds.data
    g = t.grad.horizontal()
    true = np.hypot(g.ddata_deast, g.ddata_dnorth) * 1e5
    p = t.grad(["y", "x"])  # per metre of projection coordinate
    proj = np.hypot(p.ddata_dy, p.ddata_dx) * 1e5
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    im = axes[0].pcolormesh(t.x / 1e3, t.y / 1e3, true, cmap="magma_r", vmax=float(true.quantile(0.99)))
    fig.colorbar(im, ax=axes[0], label="|grad T| (K per 100 km)")
    axes[0].set_title("t.grad.horizontal(): per metre on the Earth", fontsize=10)
    ratio = (proj / true - 1) * 100
    im = axes[1].pcolormesh(t.x / 1e3, t.y / 1e3, ratio, cmap="viridis")
    fig.colorbar(im, ax=axes[1], label="grad(['y', 'x']) / horizontal() - 1 (%)")
    axes[1].set_title("per metre of projection: off by the map factor", fontsize=10)
    for ax in axes:
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
        ax.set_aspect("equal")
    fig.suptitle("MSG brightness temperature on a polar stereographic grid")
    fig.savefig(out / "stereographic_horizontal.png", dpi=90)
    plt.close(fig)
    return float(np.nanmax(np.abs(ratio)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=str(Path(__file__).parent / "images"))
    out = Path(parser.parse_args(argv).outdir)
    out.mkdir(parents=True, exist_ok=True)
    lost = ostia(out)
    laplacian(out)
    thermocline(out)
    orca2(out)
    stereographic(out)
    print(f"wrote {out}; ocean cells without a value: {lost}")
    return lost


if __name__ == "__main__":
    main()
