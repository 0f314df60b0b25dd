"""In-memory speed of ``.grad`` against its anchors, measured in one run.

On a 4000 x 4000 float64 array with a nonuniform coordinate, along axis 0 and
axis 1, this times ``.grad``, ``numpy.gradient``,
``xarray.DataArray.differentiate`` and ``numpy.copy`` of the same array (the
memory-bound floor: read it once, write it once). It prints medians and the
ratios that matter; the first call (numba compile) is timed separately.

``--coord uniform`` takes exactly equal steps instead, where numpy (and so
xgradient, bit for bit) divides ``(f[i+1] - f[i-1]) / 2h``; ``--dtype
float32`` times float32 data (a float32 result, numpy's dtype).

Usage::

    python benchmarks/bench_core.py [--size 4000] [--repeat 15]
        [--coord {stretched,uniform}] [--dtype {float64,float32}]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import xarray as xr

import xgradient  # noqa: F401  (registers .grad)


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--coord", choices=("stretched", "uniform"), default="stretched")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    args = parser.parse_args(argv)
    n = args.size
    rng = np.random.default_rng(0)
    if args.coord == "stretched":
        # A smoothly stretched grid (like ocean depth levels) on both axes.
        s = np.linspace(0.0, 1.0, n)
        coord = s + 0.3 * s**2
    else:
        coord = np.arange(n) * 0.25  # exactly equal steps: numpy's uniform branch
    values = rng.standard_normal((n, n)).astype(args.dtype)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": coord, "x": coord})

    t = time.perf_counter()
    da.grad("y")
    da.grad("x")
    first = time.perf_counter() - t
    t = time.perf_counter()
    da.grad("y")
    da.grad("x")
    warm = time.perf_counter() - t
    print(f"machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, numpy {np.__version__}, xarray {xr.__version__}")
    print(f"array: {n} x {n} {args.dtype} ({values.nbytes / 2**20:.0f} MiB), "
          f"{'nonuniform' if args.coord == 'stretched' else 'uniform'} coordinate")
    print(f"first call (numba compile, both axes): {first:.2f} s; warm: {warm:.3f} s "
          f"-> compile ~ {first - warm:.2f} s")
    print()
    header = f"{'axis':>4}  {'.grad':>8}  {'np.grad':>8}  {'xr.diff':>8}  {'np.copy':>8}  " \
             f"{'np/grad':>8}  {'grad/copy':>9}  {'xr/grad':>8}"
    ok = True
    # Two schedules: each candidate once per round (a cold start after the
    # others; on a VM an idle second core wakes slowly, which hurts the
    # two-thread .grad more than the single-thread anchors), and each
    # candidate `burst` times back to back per round (steady throughput).
    for title, burst in (("interleaved, one call per round", 1), ("back to back, 3 calls per round", 3)):
        print(title)
        print(header)
        print("-" * len(header))
        for axis, dim in enumerate(("y", "x")):
            candidates = {
                "grad": lambda: da.grad(dim),
                "numpy": lambda: np.gradient(values, coord, axis=axis),
                "xarray": lambda: da.differentiate(dim),
                "copy": lambda: np.copy(values),
            }
            results = {k: [] for k in candidates}
            for _ in range(args.repeat):
                for k, fn in candidates.items():
                    results[k] += [median_time(fn, 1) for _ in range(burst)]
            med = {k: statistics.median(v) for k, v in results.items()}
            speedup = med["numpy"] / med["grad"]
            floor = med["grad"] / med["copy"]
            print(f"{axis:>4}  {med['grad'] * 1e3:7.1f}ms {med['numpy'] * 1e3:7.1f}ms "
                  f"{med['xarray'] * 1e3:7.1f}ms {med['copy'] * 1e3:7.1f}ms  "
                  f"{speedup:7.1f}x  {floor:8.2f}x  {med['xarray'] / med['grad']:7.1f}x")
            ok &= speedup >= 4 and floor <= 1.3
        print()
    print("targets: np/grad >= 4 and grad/copy <= 1.3 on both axes, both schedules:",
          "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
