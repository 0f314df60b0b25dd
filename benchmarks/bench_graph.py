"""What a dask cluster is sent: graph size of ``.grad`` against its anchors.

For 1-D fields of ``--points`` values on a nonuniform coordinate (by default
10^5, a coordinate under dask's 1 MB limit for copying an argument into every
task, and 10^6, over it), split into several numbers of chunks, this builds (without computing) the derivative with
``xgradient.gradient``, ``dask.array.gradient`` (given the coordinate array)
and ``xarray.DataArray.differentiate`` on the dask-backed DataArray, and
reports, for the tasks each adds to the input's graph:

- ``tasks``: how many;
- ``to scheduler``: one pickle of all of them, as the client sends the graph
  (pickle writes an object shared by many tasks once);
- ``to workers``: the sum of distributed's own serialization of every task
  on its own, as the scheduler sends them (``compute-task`` messages with
  ``ToPickle(run_spec)``), so whatever a task refers to is paid per task;
- ``largest``: the biggest single task message.

Tasks of one graph layer are all alike, so the ``to workers`` sums are
measured on up to ``--sample`` tasks per layer and scaled by the layer's task
count (exact when the layer has fewer tasks).

Usage::

    python benchmarks/bench_graph.py [--points 100000,1000000] [--chunks 100,1000,10000]
"""

from __future__ import annotations

import argparse
import pickle
import platform
import shlex
import sys
import time
from collections import defaultdict

import dask
import dask.array as da
import numpy as np
import xarray as xr

import xgradient


def layer_of(key):
    name = key[0] if isinstance(key, tuple) else key
    return str(name)


def graph_sizes(result, source, sample):
    from distributed.protocol import dumps
    from distributed.protocol.serialize import ToPickle

    tasks = {k: v for k, v in dict(result.__dask_graph__()).items() if layer_of(k) != source.name}
    whole = len(pickle.dumps(tasks, protocol=pickle.HIGHEST_PROTOCOL))
    layers = defaultdict(list)
    for key in tasks:
        layers[layer_of(key)].append(key)
    to_workers = 0.0
    largest = 0
    for keys in layers.values():
        step = max(1, len(keys) // sample)
        sizes = [
            sum(len(f) for f in dumps({"op": "compute-task", "run_spec": ToPickle(tasks[k])}))
            for k in keys[::step]
        ]
        to_workers += np.mean(sizes) * len(keys)
        largest = max(largest, max(sizes))
    return len(tasks), whole, to_workers, largest


def human(nbytes):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="100000,1000000", help="field sizes, comma-separated")
    parser.add_argument("--chunks", default="100,1000,10000", help="numbers of chunks, comma-separated")
    parser.add_argument("--sample", type=int, default=500, help="tasks measured per layer")
    args = parser.parse_args(argv)
    import distributed

    print(f"python {platform.python_version()}, numpy {np.__version__}, dask {dask.__version__}, "
          f"distributed {distributed.__version__}, xarray {xr.__version__}")
    print("command: python benchmarks/bench_graph.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    header = (f"{'chunks':>7}  {'method':<22} {'tasks':>7} {'build':>7} {'to scheduler':>13} "
              f"{'to workers':>11} {'largest':>9}")
    for n in (int(float(p)) for p in args.points.split(",")):
        rng = np.random.default_rng(0)
        x = np.cumsum(rng.uniform(0.5, 1.5, n))
        print()
        print(f"field: {n} float64 points, nonuniform coordinate ({human(x.nbytes)}); "
              f"3-point stencil weights n*K*8 = {human(n * 3 * 8)}")
        print(header)
        print("-" * len(header))
        for nchunks in (int(c) for c in args.chunks.split(",")):
            if n // nchunks < 3:
                continue
            source = da.ones(n, chunks=n // nchunks)
            methods = {
                "xgradient.gradient": lambda s=source, x=x: xgradient.gradient(s, x),
                "dask.array.gradient": lambda s=source, x=x: da.gradient(s, x, axis=0),
                "xr.differentiate(dask)": lambda s=source, x=x: (
                    xr.DataArray(s, dims="x", coords={"x": x}).differentiate("x").data
                ),
            }
            for name, build in methods.items():
                t = time.perf_counter()
                result = build()
                built = time.perf_counter() - t
                ntasks, whole, workers, largest = graph_sizes(result, source, args.sample)
                print(f"{nchunks:>7}  {name:<22} {ntasks:>7} {built:6.2f}s {human(whole):>13} "
                      f"{human(workers):>11} {human(largest):>9}")


if __name__ == "__main__":
    main()
