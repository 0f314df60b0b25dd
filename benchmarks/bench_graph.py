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

Then the N-D case of issue 10: a 200 x 100000 float64 field in 100 x 10
blocks (chunks 2 x 10000), differentiated along the long axis at
``accuracy=6``, where the blocks along the short axis share each axis block's
stencil rows. Target: ``to workers`` within 3x the weights' own size
(n x 7 x 8 bytes = 5.6 MB; at most 16 MB).

Under dask's expression backend (``DASK_ARRAY__QUERY_PLANNING=True``) the
anchors that it cannot build (``dask.array.gradient``) are reported as such.

Usage::

    python benchmarks/bench_graph.py [--points 100000,1000000] [--chunks 100,1000,10000]
        [--nd 200x100000 --nd-chunks 2x10000 --nd-accuracy 6]
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
    parser.add_argument("--nd", default="200x100000", help="N-D field shape (rows x points), '' to skip")
    parser.add_argument("--nd-chunks", default="2x10000", help="its chunks")
    parser.add_argument("--nd-accuracy", type=int, default=6, help="its accuracy")
    args = parser.parse_args(argv)
    import distributed

    expr = getattr(da, "array_expr_enabled", lambda: False)()
    print(f"python {platform.python_version()}, numpy {np.__version__}, dask {dask.__version__} "
          f"({'expression' if expr else 'classic'} array backend), "
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
                "xgradient.gradient": lambda s=source, x=x: xgradient.gradient(s, x, axis=0),
                "dask.array.gradient": lambda s=source, x=x: da.gradient(s, x, axis=0),
                "xr.differentiate(dask)": lambda s=source, x=x: (
                    xr.DataArray(s, dims="x", coords={"x": x}).differentiate("x").data
                ),
            }
            for name, build in methods.items():
                row(f"{nchunks:>7}", name, build, source, args.sample)
    if args.nd:
        nd_case(args)


def row(first, name, build, source, sample):
    t = time.perf_counter()
    try:
        result = build()
    except NotImplementedError as err:  # the expression backend's missing pieces
        print(f"{first}  {name:<22} not built: {' '.join(str(err).split()) or 'NotImplementedError'}")
        return None
    built = time.perf_counter() - t
    ntasks, whole, workers, largest = graph_sizes(result, source, sample)
    print(f"{first}  {name:<22} {ntasks:>7} {built:6.2f}s {human(whole):>13} "
          f"{human(workers):>11} {human(largest):>9}")
    return workers


def nd_case(args):
    shape = tuple(int(float(v)) for v in args.nd.split("x"))
    chunks = tuple(int(float(v)) for v in args.nd_chunks.split("x"))
    n = shape[-1]
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.5, 1.5, n))
    K = args.nd_accuracy + 1
    weights = n * K * 8
    source = da.ones(shape, chunks=chunks)
    blocks = "x".join(map(str, source.numblocks))
    print()
    print(f"N-D field: {'x'.join(map(str, shape))} float64 in {blocks} blocks (chunks "
          f"{'x'.join(map(str, chunks))}), along the last axis, accuracy={args.nd_accuracy} for "
          f"xgradient; stencil weights n*K*8 = {human(weights)}, target to workers <= 3x = {human(3 * weights)}")
    header = (f"{'':>7}  {'method':<22} {'tasks':>7} {'build':>7} {'to scheduler':>13} "
              f"{'to workers':>11} {'largest':>9}")
    print(header)
    print("-" * len(header))
    methods = {
        "xgradient.gradient": lambda: xgradient.gradient(source, x, axis=-1, accuracy=args.nd_accuracy),
        "dask.array.gradient": lambda: da.gradient(source, x, axis=-1),
        "xr.differentiate(dask)": lambda: (
            xr.DataArray(source, dims=("y", "x"), coords={"x": x}).differentiate("x").data
        ),
    }
    shipped = {name: row("", name, build, source, args.sample) for name, build in methods.items()}
    ours = shipped["xgradient.gradient"]
    print(f"xgradient ships {ours / weights:.2f}x the weights' size "
          f"({'within' if ours <= 3 * weights else 'OVER'} the 3x target)")


if __name__ == "__main__":
    main()
