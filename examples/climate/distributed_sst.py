"""The SST-front computation of ``sst_fronts.py`` on a dask.distributed cluster.

The same function, unchanged, runs on a ``LocalCluster`` of two worker
processes: the file is opened lazily in blocks of 6 months, ``.grad``
builds a lazy graph (each block's task carries only its own stencil
weights), and the workers read, differentiate and reduce the blocks. The
result is checked against the same computation done in memory.

Along latitude and longitude every block holds the whole map, so no halo is
exchanged here; chunking along a differentiated dimension works too (dask
copies the few neighbouring points each block needs, periodic longitude
included).

Run::

    python examples/climate/distributed_sst.py [OUTDIR]     # default ./xgradient-examples

It writes ``OUTDIR/distributed_sst.png`` and ``OUTDIR/distributed_sst.json``.
The ``if __name__ == "__main__":`` guard is required: worker processes are
started by re-importing this file.
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from dask.distributed import Client, LocalCluster

# The example beside this one: the same function runs on the cluster.
from sst_fronts import DATA, sst_front_strength

plt.switch_backend("Agg")  # files only, no window


def main(outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        # Blocks of 6 months. The time bounds, stored as one chunk of all 54
        # times, are not needed (and dask would warn about splitting them).
        drop = ["time_bnds", "forecast_reference_time", "forecast_reference_time_bnds"]
        with xr.open_dataset(DATA, chunks={"time": 6}, drop_variables=drop) as ds:
            strength = sst_front_strength(ds)  # lazy: nothing computed yet
            tasks = len(strength.data.__dask_graph__())
            strength = strength.compute()  # on the workers
        workers = len(client.scheduler_info()["workers"])
    elapsed = time.perf_counter() - start

    with xr.open_dataset(DATA) as ds:
        expected = sst_front_strength(ds.load())
    difference = float(abs(strength - expected).max())

    fig, ax = plt.subplots(figsize=(12, 3), layout="constrained")
    strength.plot.pcolormesh(ax=ax, cmap="magma_r", vmax=float(strength.quantile(0.99)),
                             cbar_kwargs={"label": "K per 100 km"})
    ax.set(title=f"Time-mean |grad SST| computed on a LocalCluster of {workers} worker processes "
                 f"({tasks} tasks; max difference from in-memory: {difference:.1e})",
           xlabel="longitude (degrees east)", ylabel="latitude")
    fig.savefig(outdir / "distributed_sst.png", dpi=100)
    plt.close(fig)

    j, k = np.unravel_index(np.nanargmax(strength.values), strength.shape)
    summary = {
        "max_K_per_100km": float(strength[j, k]),
        "lat_index": int(j),
        "lon_index": int(k),
        "max_difference_from_in_memory": difference,
        "workers": workers,
        "tasks": tasks,
        "seconds": round(elapsed, 2),
    }
    (outdir / "distributed_sst.json").write_text(json.dumps(summary, indent=2))
    print(f"{workers} workers, {tasks} tasks, {elapsed:.1f} s: strongest mean SST front "
          f"{summary['max_K_per_100km']:.3f} K per 100 km; max difference from in-memory {difference:.1e}")
    print(f"wrote {outdir / 'distributed_sst.png'}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", default="xgradient-examples")
    main(parser.parse_args().outdir)
