"""Speed of ``.grad`` against every anchor, measured side by side in one run.

Cases (all on nonuniform coordinates):

- in memory, 2-D float64 and 3-D float32 arrays, along each axis: ``.grad``
  against ``numpy.gradient``, ``xarray.DataArray.differentiate``, MetPy's
  ``first_derivative``, findiff's ``Diff`` and the ``numpy.copy`` floor;
- in memory, ``accuracy=4`` (against ``accuracy=2`` and findiff ``acc=4``),
  ``skipna=True`` on a field with land (against the NaN-propagating calls) and
  ``geo=True`` along lat and lon (against MetPy's ``geospatial_gradient`` and
  ``numpy.gradient`` with the metric written out);
- ``horizontal()`` on a curvilinear (polar stereographic, 2-D lat/lon) grid,
  2-D 2000 x 2000 float64 and 3-D with 50 levels: one variable (the metric
  computed), several variables on the same grid (the metric reused), one
  variable on dask blocks (checked bit for bit, computed into memory),
  MetPy's ``geospatial_gradient`` with the grid's CRS, and ``numpy.copy``;
  the cost of each variable after the first is reported against
  ``numpy.copy``;
- dask, 200 x 1000 x 1000 float32 in ~50 MB blocks, time-chunked and in
  spatial tiles: ``.grad`` on the dask-backed DataArray against
  ``xarray.DataArray.differentiate`` and ``dask.array.gradient`` on the same
  array, and the floor ``map_blocks(np.copy)`` of the same blocks.

Fair floors: in memory, ``numpy.copy`` reads the input once and writes a new
output array once, as every candidate must. On dask every candidate,
the floor included, is materialised the same way, with ``.persist()`` on the
threaded scheduler: each output block is computed and kept as its own numpy
array, nothing is concatenated or reduced. The input is persisted beforehand,
so no candidate pays for making it. (``.compute()`` would add a concatenation
copy to every candidate alike; a reduction would not write the output at all.)

Every candidate runs with ``edge_order=2``, the one-sided ends that MetPy and
findiff use, and its numbers are checked against ``.grad``'s before timing.
The candidates are timed in turn within each round (interleaved), over
``--repeat`` rounds, and the medians are reported, with the ratios to
``.grad`` measured in the same run. The first call of each (numba compile,
imports) is not timed.

Targets: in memory ``.grad`` >= 4x ``numpy.gradient`` and <= 1.3x
``numpy.copy``; on dask >= 2x ``xarray.differentiate`` and <= 1.5x the dask copy.

Usage::

    python benchmarks/bench_suite.py [--scale 1.0] [--repeat 7] [--only memory,dask,extras,horizontal]
        [--floors-only]

``--floors-only`` times each case's first candidate and its floor alone: the
anchors that take a second and allocate gigabytes (xarray.differentiate and
dask.array.gradient on dask) leave the memory system in a different state
from round to round, and the floor, which takes tens of milliseconds, moves
by 30 % with it.

``--scale`` multiplies the size of every array (0.01 for a quick check).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import shlex
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field

import dask
import dask.array as da
import numpy as np
import xarray as xr

import xgradient

EARTH_RADIUS = 6_371_008.8
MB = 1e6


# ---------------------------------------------------------------------------
# Inputs


def stretched(n, a, b):
    """n points from a to b, steps growing smoothly (like ocean levels)."""
    s = np.linspace(0.0, 1.0, n)
    return a + (b - a) * (s + 0.3 * s**2) / 1.3


def gaussian_latitudes(n):
    """Latitudes of a Gaussian grid: arcsin of the Gauss-Legendre nodes."""
    return np.rad2deg(np.arcsin(np.polynomial.legendre.leggauss(n)[0]))


def scaled(shape, scale, smallest=16):
    f = scale ** (1.0 / len(shape))
    return tuple(max(smallest, round(n * f)) for n in shape)


def split(n, size, smallest=3):
    """Chunks of `size` along n points; a last chunk under `smallest` is merged
    (dask.array.gradient refuses chunks under edge_order + 1)."""
    size = max(size, smallest)
    chunks = [size] * (n // size)
    rest = n - sum(chunks)
    if rest >= smallest or not chunks:
        chunks.append(rest)
    else:
        chunks[-1] += rest
    return tuple(c for c in chunks if c)


def field_2d(shape, rng):
    ny, nx = shape
    coords = {"y": stretched(ny, 0.0, 1000.0), "x": stretched(nx, -50.0, 50.0)}
    return xr.DataArray(rng.standard_normal(shape), dims=("y", "x"), coords=coords, name="f")


def field_3d(shape, rng, dtype=np.float32):
    """(time, lat, lon): smooth waves plus noise on a Gaussian grid."""
    nt, ny, nx = shape
    lat = gaussian_latitudes(ny)
    lon = np.arange(nx) * (360.0 / nx)
    time_ = stretched(nt, 0.0, 24.0 * nt)  # hours, uneven output steps
    values = np.empty(shape, dtype=dtype)
    wave = np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(3 * lon))[None, :]
    for i in range(nt):  # one time step at a time: no float64 copy of the whole
        values[i] = 280.0 + 10.0 * wave + rng.standard_normal((ny, nx), dtype=np.float32)
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={
            "time": ("time", time_, {"units": "hours"}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        name="t",
        attrs={"units": "K"},
    )


def along(coord, axis, ndim):
    """A 1-D coordinate shaped to broadcast along `axis` (as MetPy wants it)."""
    shape = [1] * ndim
    shape[axis] = -1
    return coord.reshape(shape)


# ---------------------------------------------------------------------------
# Timing


@dataclass
class Case:
    section: str
    title: str
    candidates: dict  # name -> callable; the first is .grad, the last the floor
    check: dict = field(default_factory=dict)  # name -> (rtol, atol) against .grad
    floor: str | None = None
    results: dict = field(default_factory=dict)


def as_arrays(result):
    """The numbers of a candidate's result, as a list of numpy arrays."""
    if isinstance(result, xr.Dataset):
        return [np.asarray(result[v].values) for v in result.data_vars]
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in as_arrays(r)]
    if hasattr(result, "magnitude"):  # pint (MetPy)
        result = result.magnitude
    if isinstance(result, xr.DataArray):
        result = result.data
    if isinstance(result, da.Array):
        result = result.compute()
    return [np.asarray(result)]


def interior(a, drop=2):
    return a[tuple(slice(drop, -drop) if n > 2 * drop else slice(None) for n in a.shape)]


def run_case(case, repeat):
    names = list(case.candidates)
    ref = None
    for name in names:  # warm up (compile, imports) and check the numbers
        out = case.candidates[name]()
        if name == names[0]:
            ref = as_arrays(out)
        elif name in case.check:
            rtol, atol = case.check[name]
            got = as_arrays(out)
            for a, b in zip(got, ref):
                np.testing.assert_allclose(
                    interior(a), interior(b), rtol=rtol, atol=atol, err_msg=f"{case.title}: {name}"
                )
        del out
    gc.collect()
    times = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:  # interleaved: machine noise hits all alike
            t = time.perf_counter()
            out = case.candidates[name]()
            times[name].append(time.perf_counter() - t)
            del out
    case.results = {name: statistics.median(v) for name, v in times.items()}
    return case


def fmt_time(s):
    return f"{s * 1e3:9.1f} ms" if s < 10 else f"{s:9.2f} s "


def print_case(case):
    print(f"[{case.section}] {case.title}")
    names = list(case.candidates)
    grad = case.results[names[0]]
    for name in names:
        t = case.results[name]
        if name == names[0]:
            note = ""
        elif name == case.floor:
            note = f"   .grad = {grad / t:4.2f}x this floor"
        else:
            note = f"   {t / grad:5.2f}x the time of .grad"
        print(f"    {name:<34} {fmt_time(t)}{note}")
    print()
    sys.stdout.flush()


# ---------------------------------------------------------------------------
# The cases


def memory_cases(scale, rng):
    import findiff
    import metpy.calc as mpcalc

    cases = []
    f2 = field_2d(scaled((4000, 4000), scale), rng)
    f3 = field_3d(scaled((50, 721, 1440), scale), rng)
    for arr in (f2, f3):
        values = arr.values
        kind = f"{arr.ndim}-D {arr.dtype} {' x '.join(map(str, arr.shape))}"
        tol = (2e-4, 2e-4) if arr.dtype == np.float32 else (1e-10, 1e-10)
        for axis, dim in enumerate(arr.dims):
            x = arr[dim].values
            xb = along(x, axis, arr.ndim)
            cases.append(
                Case(
                    "in memory",
                    f"{kind} ({values.nbytes / MB:.0f} MB), along {dim} (axis {axis})",
                    {
                        ".grad": lambda a=arr, d=dim: a.grad(d, edge_order=2, periodic=False),
                        "numpy.gradient": lambda v=values, x=x, k=axis: np.gradient(v, x, axis=k, edge_order=2),
                        "xarray.differentiate": lambda a=arr, d=dim: a.differentiate(d, edge_order=2),
                        "metpy.first_derivative": lambda v=values, x=xb, k=axis: (
                            mpcalc.first_derivative(v, axis=k, x=x)
                        ),
                        "findiff.Diff(acc=2)": lambda v=values, x=x, k=axis: findiff.Diff(k, x, acc=2)(v),
                        "numpy.copy (floor)": lambda v=values: np.copy(v),
                    },
                    check={n: tol for n in ("numpy.gradient", "xarray.differentiate",
                                            "metpy.first_derivative", "findiff.Diff(acc=2)")},
                    floor="numpy.copy (floor)",
                )
            )
    return cases


def extra_cases(scale, rng):
    import findiff
    import metpy.calc as mpcalc
    import pyproj
    from metpy.units import units

    f3 = field_3d(scaled((50, 721, 1440), scale), rng)
    values = f3.values
    kind = f"3-D float32 {' x '.join(map(str, f3.shape))} ({values.nbytes / MB:.0f} MB)"
    lat, lon = f3.lat.values, f3.lon.values
    cases = []

    # accuracy 4 against 2, and findiff's 4th order on the same points.
    cases.append(
        Case(
            "accuracy",
            f"{kind}, along lat: accuracy=4",
            {
                ".grad(accuracy=4)": lambda: f3.grad("lat", accuracy=4),
                ".grad(accuracy=2)": lambda: f3.grad("lat", accuracy=2, edge_order=2),
                "findiff.Diff(acc=4)": lambda: findiff.Diff(1, lat, acc=4)(values),
                "numpy.copy (floor)": lambda: np.copy(values),
            },
            floor="numpy.copy (floor)",
        )
    )

    # skipna on an ocean field: ~30% land in blobs, the same in every step.
    yy, xx = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    land = (np.sin(2 * xx) * np.cos(3 * yy) + 0.5 * np.sin(5 * yy + xx)) > 0.6
    ocean = f3.where(~land)
    ov = ocean.values
    cases.append(
        Case(
            "skipna",
            f"{kind}, along lat, {land.mean():.0%} land (NaN): skipna=True",
            {
                ".grad(skipna=True)": lambda: ocean.grad("lat", skipna=True),
                ".grad(skipna=False)": lambda: ocean.grad("lat"),
                "numpy.gradient (NaN spreads)": lambda: np.gradient(ov, lat, axis=1),
                "xarray.differentiate (NaN spreads)": lambda: ocean.differentiate("lat"),
                "numpy.copy (floor)": lambda: np.copy(ov),
            },
            floor="numpy.copy (floor)",
        )
    )

    # geo: both components per metre on the sphere; global longitude wraps.
    sphere = pyproj.CRS(f"+proj=longlat +R={EARTH_RADIUS}")
    lat_q, lon_q = units.Quantity(lat, "degrees"), units.Quantity(lon, "degrees")
    per_deg = np.pi * EARTH_RADIUS / 180.0
    coslat = np.cos(np.deg2rad(lat))[:, None]

    def numpy_geo():
        dy = np.gradient(values, lat * per_deg, axis=1, edge_order=2)
        dx = np.gradient(values, lon * per_deg, axis=2, edge_order=2) / coslat
        return dy, dx

    cases.append(
        Case(
            "geo",
            f"{kind}: geo=True along lat and lon (2 outputs)",
            {
                ".grad([lat, lon], geo=True)": lambda: f3.grad(["lat", "lon"], geo=True, edge_order=2),
                "metpy.geospatial_gradient": lambda: mpcalc.geospatial_gradient(
                    values, latitude=lat_q, longitude=lon_q, crs=sphere
                )[::-1],  # (d/dy, d/dx), the order .grad returns them in
                "numpy.gradient + metric": numpy_geo,
                "2 x numpy.copy (floor)": lambda: (np.copy(values), np.copy(values)),
            },
            check={n: (1e-3, 1e-9) for n in ("metpy.geospatial_gradient", "numpy.gradient + metric")},
            floor="2 x numpy.copy (floor)",
        )
    )
    return cases


def stereographic_grid(n, m, spacing=4000.0):
    """(x, y, lat, lon) of an (n, m) polar stereographic grid and its CF mapping."""
    import pyproj

    gm = {
        "grid_mapping_name": "polar_stereographic",
        "straight_vertical_longitude_from_pole": -35.0,
        "latitude_of_projection_origin": 90.0,
        "standard_parallel": 60.0,
        "earth_radius": EARTH_RADIUS,
    }
    crs = pyproj.CRS.from_cf(gm)
    x = (np.arange(m) - m / 2) * spacing
    y = (np.arange(n) - n) * spacing - 1.0e6  # south of the pole, which it would turn round
    X, Y = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(X, Y)
    return x, y, lat, lon, gm


def horizontal_cases(scale, rng):
    """horizontal() against MetPy on the same curvilinear grid; the metric reused."""
    # One function call per grid: the candidates' lambdas must see their own
    # grid's arrays (in a loop they would all see the last one's).
    return [_horizontal_case(shape, rng) for shape in (scaled((2000, 2000), scale), scaled((50, 400, 400), scale))]


def _horizontal_case(shape, rng):
    import metpy.calc as mpcalc
    ny, nx = shape[-2:]
    x, y, lat, lon, gm = stereographic_grid(ny, nx, spacing=4000.0 * 2000 / max(ny, nx))
    dims = ("lev", "y", "x")[-len(shape):]
    wave = np.sin(np.deg2rad(3 * lon)) * np.cos(np.deg2rad(2 * lat))
    coords = {
        "lat": (("y", "x"), lat, {"units": "degrees_north"}),
        "lon": (("y", "x"), lon, {"units": "degrees_east"}),
    }
    data = {
        f"t{k}": (dims, (wave + 0.01 * k) * np.ones(shape[:-2] + (1, 1)) + rng.standard_normal(shape) * 0.01)
        for k in range(4)
    }
    ds = xr.Dataset(data, coords=coords)
    one = ds[["t0"]]
    values = ds.t0.values
    kind = f"{len(shape)}-D float64 {' x '.join(map(str, shape))} ({values.nbytes / MB:.0f} MB), 2-D lat/lon"
    # MetPy needs the projection coordinates and the CRS for a 2-D grid.
    mp_field = ds.t0.assign_coords(
        x=("x", x, {"units": "m", "axis": "X", "standard_name": "projection_x_coordinate"}),
        y=("y", y, {"units": "m", "axis": "Y", "standard_name": "projection_y_coordinate"}),
    ).metpy.assign_crs(gm)

    def metpy():
        return mpcalc.geospatial_gradient(mp_field)

    # The per-variable work alone, on a grid built once (what the 2nd, 3rd,
    # ... variable of a Dataset costs; a private entry point, for timing).
    from xgradient import horizontal as hz

    options = {"edge_order": 2, "accuracy": 2, "periodic": None, "radius": None, "skipna": False}
    grid = hz._grid_for(ds, ds.t1, None, None, options, {})
    grid.metric()
    t1 = ds.t1
    # The 4 variables of the Dataset on their grid, built once (public:
    # find_grids, then on_grids): what each costs when they share the pass.
    grids = hz.find_grids(ds, edge_order=2)
    # Dask blocks of about 16 MB along the leading dim (rows for 2-D);
    # the 2-D coordinates stay in memory, as a file's would once read.
    lead = dims[0]
    blocks = {lead: max(1, shape[0] // 4)}
    lazy = one.copy(data={"t0": one.t0.chunk(blocks).data})

    case = Case(
        "horizontal",
        f"{kind}: horizontal() (2 outputs per variable)",
        {
            ".grad.horizontal() 1 variable": lambda: one.grad.horizontal(edge_order=2),
            ".grad.horizontal() 4 variables": lambda: ds.grad.horizontal(edge_order=2),
            "1 variable on a built grid": lambda: grid.apply(t1),
            "4 variables on a built grid": lambda: hz.on_grids(ds, grids),
            f"dask, 4 blocks along {lead}: 1 variable": lambda: lazy.grad.horizontal(edge_order=2).compute(),
            "metpy.geospatial_gradient 1 variable": metpy,
            "numpy.copy": lambda: np.copy(values),
            # Two outputs kept alive, as a variable's east and north are:
            # fresh pages for both (one copy alone reuses freed ones).
            "2 x numpy.copy (floor)": lambda: (np.copy(values), np.copy(values)),
        },
        floor="2 x numpy.copy (floor)",
        check={f"dask, 4 blocks along {lead}: 1 variable": (0.0, 0.0)},  # bit for bit
    )
    # MetPy's components are along the projection's x and y: compare magnitudes.
    ours = one.grad.horizontal(edge_order=2)
    mx, my = metpy()
    mag = np.hypot(ours.dt0_deast.values, ours.dt0_dnorth.values)
    np.testing.assert_allclose(
        interior(mag), interior(np.hypot(mx.magnitude, my.magnitude)), rtol=0, atol=2e-3 * mag.max()
    )
    return case


def print_horizontal(case):
    r = case.results
    first = r[".grad.horizontal() 1 variable"]
    later = (r[".grad.horizontal() 4 variables"] - first) / 3
    ready = r["1 variable on a built grid"]
    copy, floor = r["numpy.copy"], r["2 x numpy.copy (floor)"]
    print(f"    each variable after the first, on a built grid: {fmt_time(ready).strip()} = "
          f"{ready / copy:4.2f}x numpy.copy (target <= 3), {ready / floor:4.2f}x 2 x numpy.copy")
    print(f"    the same from (4 variables - 1 variable) / 3: {later / copy:4.2f}x numpy.copy")
    shared = r["4 variables on a built grid"] / 4
    print(f"    each of 4 variables on a built grid (one pass over the metric): {fmt_time(shared).strip()} = "
          f"{shared / copy:4.2f}x numpy.copy (target <= 3)")
    print(f"    MetPy / .grad.horizontal() (1 variable): {r['metpy.geospatial_gradient 1 variable'] / first:5.2f}x "
          "(target >= 5)")
    lazy = next(v for k, v in r.items() if k.startswith("dask"))
    print(f"    dask (compute included) / in memory, 1 variable: {lazy / first:4.2f}x")
    print()


def dask_cases(scale, rng):
    shape = scaled((200, 1000, 1000), scale)
    nt, ny, nx = shape
    f = scale ** (1.0 / 3.0)  # block edges shrink like the array's: as many blocks at any scale
    layouts = {
        "time-chunked": (split(nt, round(13 * f)), (ny,), (nx,)),  # 16 blocks of 52 MB
        "spatial tiles": ((nt,), split(ny, round(250 * f)), split(nx, round(250 * f))),  # 16 of 50 MB
    }
    dims = ("time", "y", "x")
    coords = {
        "time": stretched(nt, 0.0, 6.0 * nt),
        "y": stretched(ny, -3000.0, 3000.0),
        "x": stretched(nx, 0.0, 5000.0),
    }
    cases = []
    for layout, chunks in layouts.items():
        data = da.random.default_rng(0).standard_normal(shape, chunks=chunks, dtype=np.float32)
        (data,) = dask.persist(data)  # in memory before any timing
        arr = xr.DataArray(data, dims=dims, coords=coords, name="f")
        block = math.prod(c[0] for c in chunks) * 4 / MB
        wanted = {"time-chunked": ("time", "y"), "spatial tiles": ("y",)}[layout]
        for dim in wanted:
            axis = dims.index(dim)
            x = coords[dim]
            title = (f"dask {' x '.join(map(str, shape))} float32 ({data.nbytes / MB:.0f} MB), "
                     f"{layout} ({data.npartitions} blocks of ~{block:.3g} MB), along {dim} "
                     f"({'across' if len(chunks[axis]) > 1 else 'within'} blocks)")
            cases.append(
                Case(
                    "dask",
                    title,
                    {
                        ".grad": lambda a=arr, d=dim: a.grad(d, edge_order=2).persist(),
                        "xarray.differentiate": lambda a=arr, d=dim: a.differentiate(d, edge_order=2).persist(),
                        "dask.array.gradient": lambda v=data, x=x, k=axis: da.gradient(
                            v, x, axis=k, edge_order=2
                        ).persist(),
                        "map_blocks(np.copy) (floor)": lambda v=data: v.map_blocks(np.copy).persist(),
                    },
                    check={n: (2e-4, 2e-4) for n in ("xarray.differentiate", "dask.array.gradient")},
                    floor="map_blocks(np.copy) (floor)",
                )
            )
    return cases


# ---------------------------------------------------------------------------
# Report


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpu}; {cores} cores usable; {mem:.0f} GiB RAM; load average at start {load}"


def versions():
    import numba

    out = [f"python {platform.python_version()}", f"xgradient {xgradient.__version__}",
           f"numpy {np.__version__}", f"xarray {xr.__version__}", f"dask {dask.__version__}",
           f"numba {numba.__version__}"]
    for mod in ("metpy", "findiff"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            out.append(f"{mod} missing")
    return ", ".join(out)


def summary(cases):
    def worst(section, anchor, ratio):
        vals = []
        for c in cases:
            if c.section == section and anchor in c.results:
                vals.append(ratio(c))
        return vals

    rows = []
    for section, anchor, copy, speed_target, floor_target in (
        ("in memory", "numpy.gradient", "numpy.copy", 4, 1.3),
        ("dask", "xarray.differentiate", "dask copy", 2, 1.5),
    ):
        done = [c for c in cases if c.section == section]
        speed = [c.results[anchor] / c.results[".grad"] for c in done if anchor in c.results]
        floor = [c.results[".grad"] / c.results[c.floor] for c in done]
        if speed:
            rows.append((f"{section}: {anchor} time / .grad time", min(speed), f">= {speed_target}",
                         min(speed) >= speed_target))
        if floor:
            rows.append((f"{section}: .grad time / {copy} time", max(floor), f"<= {floor_target}",
                         max(floor) <= floor_target))
    if rows:
        print("targets (worst case over the plain cases above)")
        for label, value, target, ok in rows:
            print(f"    {label:<48} {value:6.2f}x  target {target:<7} {'met' if ok else 'NOT met'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every array's size (default 1)")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--only", default="memory,extras,horizontal,dask", help="sections to run")
    parser.add_argument(
        "--floors-only",
        action="store_true",
        help="time .grad and its floor alone (the heavy anchors' allocations unsettle the floor)",
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # NaN in the skipna field
    dask.config.set(scheduler="threads")

    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    print("command: python benchmarks/bench_suite.py "
          + shlex.join(sys.argv[1:] if argv is None else argv))
    print(f"medians of {args.repeat} interleaved rounds; edge_order=2 for every candidate")
    print()
    rng = np.random.default_rng(0)
    done = []
    builders = [
        ("memory", memory_cases),
        ("extras", extra_cases),
        ("horizontal", horizontal_cases),
        ("dask", dask_cases),
    ]
    for key, build in builders:
        if key not in only:
            continue
        for case in build(args.scale, rng):
            if args.floors_only:
                first = next(iter(case.candidates))
                case.candidates = {k: v for k, v in case.candidates.items() if k in (first, case.floor)}
            print_case(run_case(case, args.repeat))
            if case.section == "horizontal" and not args.floors_only:
                print_horizontal(case)
            done.append(case)
        gc.collect()
    summary(done)


if __name__ == "__main__":
    main()
