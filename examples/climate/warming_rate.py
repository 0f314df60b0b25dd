"""Warming rate dT/dt over North America in the HadCM3 A1B scenario run.

Data: ``A1B_north_america.nc`` from the iris-sample-data package: yearly
1.5 m air temperature from the Met Office HadCM3 model, 1860-2099, on a
360-day model calendar (cftime ``Datetime360Day`` dates).

What it shows
-------------
* a derivative along a cftime time coordinate: ``datetime_unit="D"`` gives K
  per day (units ``K/day``), counted in the file's own calendar;
* from K per day to K per century: in a 360-day calendar a century is
  exactly 36 000 days (it would be 36 524.25 in the Gregorian one, which is
  why the unit is converted here and not guessed);
* the rate of a noisy yearly series is noisy too, so the figure shows its
  21-year running mean; the map is the mean rate over 2000-2099.

Run::

    python examples/climate/warming_rate.py [OUTDIR]     # default ./xgradient-examples

It writes ``OUTDIR/warming_rate.png`` and ``OUTDIR/warming_rate.json``.
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

DATA = Path(iris_sample_data.path) / "A1B_north_america.nc"
DAYS_PER_CENTURY = 360 * 100  # the model's 360-day calendar
PERIOD = ("2000", "2099")


def main(outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with xr.open_dataset(DATA, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        t = ds.air_temperature.load()

    per_day = t.grad("time", datetime_unit="D")  # K/day
    assert per_day.attrs["units"] == "K/day"
    rate = per_day * DAYS_PER_CENTURY
    rate.attrs = {"units": "K (100 yr)-1", "long_name": "warming rate"}

    # Area means weighted by cos(latitude).
    weights = np.cos(np.deg2rad(t.latitude))
    mean_t = t.weighted(weights).mean(("latitude", "longitude"))
    mean_rate = rate.weighted(weights).mean(("latitude", "longitude"))
    rate_map = rate.sel(time=slice(*PERIOD)).mean("time")

    fig = plt.figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.2, 1])
    ax = left.add_subplot()
    rate_map.plot.pcolormesh(ax=ax, cmap="Reds", cbar_kwargs={"label": "K per century"})
    ax.set(title=f"Mean warming rate {PERIOD[0]}-{PERIOD[1]} (A1B)",
           xlabel="longitude (degrees east)", ylabel="latitude")
    top, bottom = right.subplots(2, 1, sharex=True)
    years = [d.year for d in t.time.values]
    top.plot(years, mean_t - 273.15, color="tab:red", lw=0.8)
    top.set(ylabel="T (degC)", title="Area mean")
    bottom.plot(years, mean_rate, color="0.7", lw=0.6, label="yearly")
    bottom.plot(years, mean_rate.rolling(time=21, center=True).mean(), color="k", lw=2, label="21-year mean")
    bottom.axhline(0, color="0.5", lw=0.5)
    bottom.set(xlabel="year (360-day calendar)", ylabel="dT/dt (K per century)", ylim=(-15, 20))
    bottom.legend(loc="upper left", fontsize=8)
    fig.savefig(outdir / "warming_rate.png", dpi=100)
    plt.close(fig)

    summary = {
        "mean_rate_K_per_century": float(rate_map.weighted(weights).mean()),
        "max_rate_K_per_century": float(rate_map.max()),
        "period": list(PERIOD),
    }
    (outdir / "warming_rate.json").write_text(json.dumps(summary, indent=2))
    print(f"mean warming rate {PERIOD[0]}-{PERIOD[1]}: {summary['mean_rate_K_per_century']:.2f} K per century "
          f"(largest {summary['max_rate_K_per_century']:.2f})")
    print(f"wrote {outdir / 'warming_rate.png'}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", default="xgradient-examples")
    main(parser.parse_args().outdir)
