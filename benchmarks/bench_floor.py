"""Why ``numpy.copy`` is a floor no computed result reaches on this machine.

``numpy.copy`` is a ``memcpy``. Into a fresh array (new pages, which the
kernel must zero on first touch) glibc's ``memcpy`` of a large block is
``rep movsb``, which the kernel's page clearing costs about half as much as it
costs any loop of ordinary vector stores. This script measures, single
threaded, on a fresh and on a reused (already touched) output of the same
size:

- ``numpy.copy`` (``memcpy``);
- a numba loop that only copies (no arithmetic): the best any compiled loop
  writing its result can do;
- ``xgradient``'s kernel along the first and the last axis.

For each it reports the median wall time of ``--repeat`` calls and the mean
user and system (page clearing) CPU time per call.

Usage::

    python benchmarks/bench_floor.py [--size 4000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numba
import numpy as np

from xgradient import kernel
from xgradient.stencil import build_stencil


@numba.njit(nogil=True)
def copy_loop(src, dst):
    s, d = src.reshape(-1), dst.reshape(-1)
    for t in range(np.uint64(s.shape[0])):
        d[t] = s[t]


def measure(fn, repeat):
    """Median wall time of one call, and mean user and system CPU time (ms).

    CPU time is counted in clock ticks (10 ms), so it is summed over all the
    calls and averaged.
    """
    wall = []
    c0 = os.times()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
    c1 = os.times()
    return (
        1e3 * statistics.median(wall),
        1e3 * (c1.user - c0.user) / repeat,
        1e3 * (c1.system - c0.system) / repeat,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    n = args.size
    values = np.random.default_rng(0).standard_normal((n, n))
    s = np.linspace(0.0, 1.0, n)
    st = build_stencil(s + 0.3 * s**2)
    reused = np.empty_like(values)

    def grad(axis):
        return kernel.apply(values, st.weights, st.start, axis=axis, threads=1)

    cases = {
        "numpy.copy, fresh output": lambda: np.copy(values),
        "numpy.copyto, reused output": lambda: np.copyto(reused, values),
        "numba copy loop, fresh output": lambda: copy_loop(
            values, np.empty_like(values)
        ),
        "numba copy loop, reused output": lambda: copy_loop(values, reused),
        "xgradient kernel axis 0, fresh output": lambda: grad(0),
        "xgradient kernel axis 1, fresh output": lambda: grad(1),
    }
    for fn in cases.values():
        fn()  # compile, warm up
    print(
        f"{n} x {n} float64 ({values.nbytes / 2**20:.0f} MiB), one thread, medians of {args.repeat}"
    )
    print(f"{'':40} {'wall':>8} {'user':>8} {'system':>8}")
    base = None
    for label, fn in cases.items():
        wall, user, system = measure(fn, args.repeat)
        base = base or wall
        print(
            f"{label:40} {wall:7.1f}ms {user:7.1f}ms {system:7.1f}ms  {wall / base:5.2f}x numpy.copy"
        )


if __name__ == "__main__":
    main()
