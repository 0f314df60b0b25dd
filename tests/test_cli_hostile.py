"""The ``xgradient`` command under attack and faults (issue 14).

Each test sets up what a hostile user or a failing machine does (another
user racing the temporary file, a full file system, special files, signals
at the worst moment, names that are not UTF-8) and checks what the command
promises: a victim file is never touched, the earlier output stays as it
was, no temporary file is left behind, and a fault ends in one line and a
clean exit code. The tests that need root (another user, mounting a small
file system, device nodes) skip without it; CI runs them as root.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xgradient import atomic, cli, files
from conftest import NEEDS_STORE, kill_mid_write

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")


def make_input(path, shape=(20, 90, 180), seed=0):
    """Noise on a lat/lon grid: its derivative does not compress (size ~ 8 bytes a point)."""
    rng = np.random.default_rng(seed)
    ds = xr.Dataset(
        {"t": (("time", "lat", "lon"), rng.standard_normal(shape), {"units": "K"})},
        coords={
            "lat": ("lat", np.linspace(-89.0, 89.0, shape[1]), {"units": "degrees_north"}),
            "lon": ("lon", np.linspace(0.0, 358.0, shape[2]), {"units": "degrees_east"}),
        },
    )
    ds.to_netcdf(path)
    return ds


@pytest.fixture
def small(tmp_path):
    src = tmp_path / "in.nc"
    make_input(src, shape=(2, 30, 40))
    return src


def run(*args, cwd, timeout=300, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "xgradient", *[a if isinstance(a, bytes) else str(a) for a in args]],
        cwd=cwd, env=ENV, check=False, capture_output=True, timeout=timeout, **kwargs,
    )


def python(code, *, cwd, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd, env=ENV, check=False, capture_output=True, text=True, timeout=timeout,
    )


def one_error_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("xgradient: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def temp_folders(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(atomic.TEMP_PREFIX))


# ---------------------------------------------------------------------------
# 1. Another user who can write the output's folder swaps the temporary file


ATTACKER = """
import os, sys, time
shared, victim, victim_dir = sys.argv[1:4]
seen, n = set(os.listdir(shared)), 0  # what was there before the runs
while True:
    for name in os.listdir(shared):
        if name in ("out.nc", "ready") or name.startswith("atk") or name in seen:
            continue
        seen.add(name)
        path = os.path.join(shared, name)
        n += 1
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                # A private folder: try to reach inside, then move it away and
                # put a link to the victim's folder in its place.
                for inner in os.listdir(path):
                    link = os.path.join(shared, f"atk{n}i")
                    os.symlink(victim, link)
                    os.rename(link, os.path.join(path, inner))
                os.rename(path, os.path.join(shared, f"atkmoved{n}"))
                os.symlink(victim_dir, path)
            else:
                # A file: replace it atomically with a link to the victim.
                link = os.path.join(shared, f"atk{n}")
                os.symlink(victim, link)
                os.rename(link, path)
        except OSError:
            pass
    if not os.path.exists(os.path.join(shared, "ready")):
        open(os.path.join(shared, "ready"), "w").close()
    time.sleep(0.0005)
"""


def python_for(uid, gid):
    """A Python interpreter that user `uid` can run (the venv's may be in root's home)."""
    import shutil

    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3", "/usr/local/bin/python3"):
        if not candidate:
            continue
        try:
            res = subprocess.run([candidate, "-I", "-c", "pass"], user=uid, group=gid, extra_groups=[],
                                 cwd="/", capture_output=True, timeout=60, check=False)
        except OSError:
            continue
        if res.returncode == 0:
            return candidate
    pytest.skip("no Python interpreter that user nobody can run")


@root_only
def test_another_user_swapping_the_temporary_file_never_reaches_a_victim(tmp_path):
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    except KeyError:  # pragma: no cover
        uid = gid = 65534
    src = tmp_path / "in.nc"
    make_input(src, shape=(40, 90, 180))
    victim = tmp_path / "victim"  # root's private file
    victim.write_bytes(b"root's secret")
    victim.chmod(0o600)
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    (victim_dir / "keep").write_bytes(b"keep me")
    base = Path(tempfile.mkdtemp(prefix="xgradient-shared-", dir="/tmp"))
    try:
        base.chmod(0o755)
        shared = base / "shared"
        shared.mkdir()
        shared.chmod(0o777)  # writable by anyone, not sticky
        # Planted by the attacker: names that look like stale temporary
        # folders of this host, a link to the victim's folder and a folder of
        # its own.
        key = atomic._host_key()
        planted_link = shared / f"{atomic.TEMP_PREFIX}{key}-4194999-0000aaaa"
        planted_dir = shared / f"{atomic.TEMP_PREFIX}{key}-4194998-0000bbbb"
        planted_link.symlink_to(victim_dir)
        os.lchown(planted_link, uid, gid)
        planted_dir.mkdir()
        (planted_dir / "theirs").write_bytes(b"theirs")
        os.chown(planted_dir / "theirs", uid, gid)
        os.chown(planted_dir, uid, gid)
        attacker = subprocess.Popen(
            [python_for(uid, gid), "-I", "-c", ATTACKER, str(shared), str(victim), str(victim_dir)],
            user=uid, group=gid, extra_groups=[], cwd="/", stderr=subprocess.PIPE,
        )
        try:
            for _ in range(600):
                if (shared / "ready").exists() or attacker.poll() is not None:
                    break
                time.sleep(0.05)
            assert attacker.poll() is None, attacker.stderr.read()
            results = [run(src, "-o", shared / "out.nc", "--coord", "lat", "-q", "--overwrite", cwd=tmp_path)
                       for _ in range(2)]
        finally:
            attacker.kill()
            attacker.wait()
        # The victims are as they were.
        assert victim.read_bytes() == b"root's secret"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o600
        assert sorted(p.name for p in victim_dir.iterdir()) == ["keep"]
        assert (victim_dir / "keep").read_bytes() == b"keep me"
        assert (planted_dir / "theirs").read_bytes() == b"theirs"  # not ours to clean
        assert planted_link.is_symlink()
        for res in results:
            assert res.returncode in (0, 1), res.stderr
            if res.returncode:
                one_error_line(res.stderr.decode())
        if any(res.returncode == 0 for res in results):
            # A real file, ours, readable, with an ordinary mode.
            info = os.lstat(shared / "out.nc")
            assert stat.S_ISREG(info.st_mode) and info.st_uid == 0
            with xr.open_dataset(shared / "out.nc") as out:
                assert "dt_dlat" in out
        # Nothing of ours left at the temporary names (the attacker may have
        # moved a private folder away: it is empty).
        for p in shared.iterdir():
            if p.name.startswith("atkmoved"):
                assert list(p.iterdir()) == []
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@NEEDS_STORE
def test_the_output_is_never_reopened_or_chmoded_by_path(small, tmp_path, monkeypatch):
    """The temporary file is opened through the private folder's descriptor
    and its mode set with fchmod: chmod by path is never called."""
    calls = []
    real_chmod = os.chmod
    monkeypatch.setattr(os, "chmod", lambda *a, **k: calls.append(a) or real_chmod(*a, **k))
    assert cli.main([str(small), "-o", str(tmp_path / "o.nc"), "--coord", "lat", "-q"]) == 0
    assert calls == []
    assert temp_folders(tmp_path) == []


@NEEDS_STORE
def test_a_temporary_file_replaced_before_the_rename_is_not_renamed(small, tmp_path, monkeypatch, capsys):
    """What is renamed into place is the file that was written, or nothing."""
    real = files._to_netcdf

    def write_then_swap(out, path, encoding):
        real(out, path, encoding)
        # As another user could without the private folder: a new file at the name.
        os.unlink(path)
        Path(path).write_bytes(b"not the output")

    monkeypatch.setattr(files, "_to_netcdf", write_then_swap)
    out = tmp_path / "o.nc"
    out.write_bytes(b"earlier")
    assert cli.main([str(small), "-o", str(out), "--coord", "lat", "-q", "--overwrite"]) == 1
    assert "was replaced" in one_error_line(capsys.readouterr().err)
    assert out.read_bytes() == b"earlier"
    assert temp_folders(tmp_path) == []


# ---------------------------------------------------------------------------
# 2. A full file system


@pytest.fixture
def full_fs(tmp_path):
    """A 1 MB tmpfs (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small_fs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                         capture_output=True, text=True, check=False)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@NEEDS_STORE
def test_disk_full_is_one_line_and_keeps_the_earlier_output(tmp_path, full_fs):
    src = tmp_path / "in.nc"
    make_input(src)  # a 2.6 MB derivative for a 1 MB file system
    out = full_fs / "out.nc"
    out.write_bytes(b"an earlier result")
    res = run(src, "-o", out, "--coord", "lat", "-q", "--overwrite", cwd=tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 1, err  # not -11 (SIGSEGV)
    line = one_error_line(err)
    assert "no space left on device" in line and "out.nc" in line
    assert out.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in full_fs.iterdir()) == ["out.nc"]  # temporary removed


LIBRARY_DISK_FULL = """
import gc, os, sys
import dask.array as da, numpy as np, xarray as xr, xgradient
path, fill = sys.argv[1], int(sys.argv[2])
if fill:  # leave about 64 kB: the file is created, its first big write fails
    free = os.statvfs(os.path.dirname(path))
    with open(os.path.join(os.path.dirname(path), "filler"), "wb") as f:
        f.write(b"0" * (free.f_bavail * free.f_frsize - 64 * 1024))
rng = np.random.default_rng(0)
ds = xr.Dataset({
    "t": (("z", "y", "x"), da.from_array(rng.standard_normal((40, 100, 100)), chunks=(4, 100, 100))),
    "c": ("w", rng.standard_normal(100_000)),  # numpy-backed: written while the variables are made
})
enc = {"t": {"zlib": True, "complevel": 1, "shuffle": True, "chunksizes": (2, 100, 100)}}
try:
    xgradient.to_netcdf(ds, path, enc)
except OSError as err:
    print("OSError", err.errno)
err = None
gc.collect()
print("alive")
"""


@pytest.mark.parametrize("fill", [pytest.param(0, marks=NEEDS_STORE), 1], ids=["fills-while-writing", "full-from-the-start"])
def test_to_netcdf_on_a_full_disk_raises_and_the_process_lives_on(tmp_path, full_fs, fill):
    res = subprocess.run([sys.executable, "-c", LIBRARY_DISK_FULL, str(full_fs / "x.nc"), str(fill)],
                         cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["OSError", "28", "alive"], res.stderr[-3000:]


# ---------------------------------------------------------------------------
# 5. --overwrite replaces regular files only; 8. the input must be a regular file


def test_overwrite_refuses_a_fifo(small, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert cli.main([str(small), "-o", str(fifo), "--coord", "lat", "-q", "--overwrite"]) == 2
    assert "FIFO" in one_error_line(capsys.readouterr().err)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert temp_folders(tmp_path) == []


@root_only
def test_overwrite_refuses_a_device_node(small, tmp_path, capsys):
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:  # pragma: no cover - a container without CAP_MKNOD
        pytest.skip("cannot make a device node here")
    assert cli.main([str(small), "-o", str(null), "--coord", "lat", "-q", "--overwrite"]) == 2
    assert "character device" in one_error_line(capsys.readouterr().err)
    info = os.lstat(null)
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("overwrite", [False, True])
@NEEDS_STORE
def test_a_target_that_changes_while_writing_is_not_replaced(small, tmp_path, monkeypatch, capsys, overwrite):
    """Checked again just before the rename: an output that appeared (without
    --overwrite), or that became a FIFO (with it), stays as it is."""
    out = tmp_path / "o.nc"
    real = files._to_netcdf

    def write_then_change(data, path, encoding):
        real(data, path, encoding)
        if overwrite:
            os.mkfifo(out)
        else:
            out.write_bytes(b"appeared meanwhile")

    monkeypatch.setattr(files, "_to_netcdf", write_then_change)
    args = [str(small), "-o", str(out), "--coord", "lat", "-q"] + (["--overwrite"] if overwrite else [])
    assert cli.main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    if overwrite:
        assert "FIFO" in line and stat.S_ISFIFO(os.lstat(out).st_mode)
    else:
        assert "pass --overwrite" in line and out.read_bytes() == b"appeared meanwhile"
    assert temp_folders(tmp_path) == []


def test_a_fifo_as_input_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "in.nc"
    os.mkfifo(fifo)
    res = run(fifo, "-o", tmp_path / "o.nc", "--coord", "lat", cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert "is a FIFO (named pipe), not a regular file" in one_error_line(res.stderr.decode())
    assert not (tmp_path / "o.nc").exists()


# ---------------------------------------------------------------------------
# 6, 7. Signals


RENAME_THEN_SIGNAL = """
import os, signal, sys
from xgradient import cli
real = os.replace
def replace_then_signal(*args, **kwargs):
    real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)  # just after the rename
os.replace = replace_then_signal
sys.exit(cli.main(sys.argv[1:]))
"""


@NEEDS_STORE
def test_sigterm_just_after_the_rename_says_the_output_is_complete(small, tmp_path):
    out = tmp_path / "o.nc"
    out.write_bytes(b"earlier")
    res = subprocess.run(
        [sys.executable, "-c", RENAME_THEN_SIGNAL, str(small), "-o", str(out), "--coord", "lat", "-q", "--overwrite"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300, check=False,
    )
    assert res.returncode == 128 + signal.SIGTERM
    assert res.stderr.splitlines() == [f"xgradient: terminated after the output was complete: {out} is written"]
    with xr.open_dataset(out) as written:
        assert "dt_dlat" in written
    assert temp_folders(tmp_path) == []


STOPPED = {
    signal.SIGINT: "xgradient: interrupted; no output written",
    signal.SIGTERM: "xgradient: terminated; no output written",
    signal.SIGHUP: "xgradient: hung up; no output written",
}


@NEEDS_STORE
def test_a_stop_signal_at_any_moment_of_the_write_cleans_up(tmp_path):
    # The moment after the private file appears varies the place the signal
    # lands in (opening, dask's graph, compressing, HDF5 calls, finalizers):
    # a stop raised into a finalizer used to be swallowed ("Exception ignored
    # in ..."), with the run going on or hanging.
    src = tmp_path / "in.nc"
    make_input(src, shape=(100, 180, 360))  # seconds to write
    out = tmp_path / "o.nc"
    out.write_bytes(b"earlier")
    moments = (0.0, 0.05, 0.1, 0.15, 0.15, 0.2, 0.3, 0.4)  # s after the file appears
    for sig, settle in zip([signal.SIGINT, signal.SIGTERM, signal.SIGHUP] * 3, moments):
        proc = subprocess.Popen(
            [sys.executable, "-m", "xgradient", str(src), "-o", str(out), "--coord", "lat", "-q", "--overwrite"],
            cwd=tmp_path, env={**ENV, "PYTHONFAULTHANDLER": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        _, err = kill_mid_write(proc, tmp_path, sig, f"{atomic.TEMP_PREFIX}*/*", settle=settle)
        assert (proc.returncode, err.splitlines()) == (128 + sig, [STOPPED[sig]]), (sig.name, settle, err)
        assert out.read_bytes() == b"earlier"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nc", "o.nc"]


# A stop signal that arrives while Python runs a finalizer (__del__, a weakref
# callback such as WeakValueDictionary's or importlib's module locks) or
# while foreign code catches everything: at these places an exception raised
# by the signal handler is swallowed, so the handler must not rely on one.
FINALIZER_SIGNAL = """
import os, signal, sys, threading, time, weakref
where, name, kind = sys.argv[1:4]
sig = getattr(signal, name)

def send():
    os.kill(os.getpid(), sig)

class Sender:
    def __del__(self):
        send()

class Value:
    pass

def signal_now():
    if kind == "__del__":
        Sender()  # finalized at once: the signal arrives inside __del__
    elif kind == "weakref":
        value = Value()
        cache = weakref.WeakValueDictionary(x=value)
        watch = weakref.ref(value, lambda ref: send())
        del value  # the callbacks run: the signal arrives inside the second
    else:  # a library that catches every exception, then waits for ever
        try:
            send()
            time.sleep(1)
        except BaseException:
            pass
        threading.Event().wait()

if where == "compute":
    import dask.callbacks
    def posttask(key, result, dsk, state, worker_id):  # in the main thread
        signal_now()
    dask.callbacks.Callback(posttask=posttask).register()
else:
    # fsync: the file is complete, not yet renamed; rmdir: the empty private
    # folder is removed after the rename.
    call = "fsync" if where == "before-rename" else "rmdir"
    real = getattr(os, call)
    def patched(*args, **kwargs):
        real(*args, **kwargs)
        signal_now()
    setattr(os, call, patched)

from xgradient.__main__ import main
sys.exit(main(sys.argv[4:]))
"""


@NEEDS_STORE
@pytest.mark.parametrize(
    "where, sig, kind",
    [
        ("compute", signal.SIGHUP, "__del__"),
        ("before-rename", signal.SIGINT, "weakref"),
        ("after-rename", signal.SIGTERM, "weakref"),
        ("before-rename", signal.SIGTERM, "caught"),
    ],
)
def test_a_stop_signal_inside_a_finalizer_still_stops_the_run(small, tmp_path, where, sig, kind):
    out = tmp_path / "o.nc"
    out.write_bytes(b"earlier")
    args = [str(small), "-o", str(out), "--coord", "lat", "-q", "--overwrite"]
    res = subprocess.run(
        [sys.executable, "-c", FINALIZER_SIGNAL, where, sig.name, kind, *args],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120, check=False,
    )
    if where == "after-rename":
        assert res.stderr.splitlines() == [f"xgradient: terminated after the output was complete: {out} is written"]
        with xr.open_dataset(out) as written:
            assert "dt_dlat" in written
    else:
        assert res.stderr.splitlines() == [STOPPED[sig]]
        assert out.read_bytes() == b"earlier"
    assert res.returncode == 128 + sig
    assert temp_folders(tmp_path) == []


@NEEDS_STORE
def test_stale_temporary_folders_of_dead_runs_are_removed(small, tmp_path):
    key = atomic._host_key()
    dead = tmp_path / f"{atomic.TEMP_PREFIX}{key}-4194999-0123abcd"  # above any pid_max
    alive = tmp_path / f"{atomic.TEMP_PREFIX}{key}-1-0123abcd"  # init runs
    elsewhere = tmp_path / f"{atomic.TEMP_PREFIX}00000000-4194999-0123abcd"  # another host
    no_pid = tmp_path / f"{atomic.TEMP_PREFIX}{key}-{'9' * 40}-0123abcd"  # no pid is that large
    for folder in (dead, alive, elsewhere, no_pid):
        folder.mkdir(mode=0o700)
        (folder / "output.nc").write_bytes(b"x" * 1000)
    assert cli.main([str(small), "-o", str(tmp_path / "o.nc"), "--coord", "lat", "-q"]) == 0
    assert temp_folders(tmp_path) == sorted([alive.name, elsewhere.name])  # no_pid: dead too


@NEEDS_STORE
def test_the_temporary_folder_of_a_killed_run_is_removed_by_the_next_one(small, tmp_path):
    src = tmp_path / "big.nc"
    make_input(src, shape=(100, 180, 360))  # seconds to write
    proc = subprocess.Popen(
        [sys.executable, "-m", "xgradient", str(src), "-o", str(tmp_path / "o.nc"), "--coord", "lat", "-q"],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    kill_mid_write(proc, tmp_path, signal.SIGKILL, f"{atomic.TEMP_PREFIX}*/*", settle=0.3)
    assert len(temp_folders(tmp_path)) == 1 and not (tmp_path / "o.nc").exists()
    assert cli.main([str(small), "-o", str(tmp_path / "other.nc"), "--coord", "lat", "-q"]) == 0
    assert temp_folders(tmp_path) == []


# ---------------------------------------------------------------------------
# 9, 10, 11. Long names, the umask, names that are not UTF-8


@NEEDS_STORE
def test_an_output_name_of_255_bytes_works(small, tmp_path):
    out = tmp_path / ("n" * 252 + ".nc")
    assert len(out.name.encode()) == 255
    assert cli.main([str(small), "-o", str(out), "--coord", "lat", "-q"]) == 0
    with xr.open_dataset(out) as written:
        assert "dt_dlat" in written


@NEEDS_STORE
def test_the_umask_is_never_set_to_zero(small, tmp_path, monkeypatch):
    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))
    previous = real(0o027)
    try:
        assert cli.main([str(small), "-o", str(tmp_path / "o.nc"), "--coord", "lat", "-q"]) == 0
    finally:
        real(previous)
    assert 0 not in calls
    assert stat.S_IMODE((tmp_path / "o.nc").stat().st_mode) == 0o640


@NEEDS_STORE
def test_an_output_name_that_is_not_utf8(small, tmp_path):
    name = b"d\xff\xfe.nc"
    res = run(small, "-o", name, "--coord", "lat", cwd=tmp_path)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 0, err
    assert "Traceback" not in err
    assert b"wrote d\\xff\\xfe.nc" in res.stdout
    import h5py

    with h5py.File(os.path.join(os.fsencode(tmp_path), name), "r") as f:
        history = f.attrs["history"]
        history = history.decode() if isinstance(history, bytes) else history
    assert "-o 'd\\xff\\xfe.nc' --coord lat" in history.splitlines()[0]


# ---------------------------------------------------------------------------
# 3. Data outside the input file


def external_input(tmp_path, kind):
    """A netCDF-4 file whose variable T(lat) has its data in another file, the "secret"."""
    h5py = pytest.importorskip("h5py")
    secret_values = np.random.default_rng(3).standard_normal(50)
    secret = tmp_path / "secret.bin"  # a private file of the user running the command
    secret.write_bytes(secret_values.tobytes())
    secret.chmod(0o600)
    path = tmp_path / f"{kind}.nc"
    with h5py.File(path, "w") as f:
        lat = f.create_dataset("lat", data=np.linspace(-60.0, 60.0, 50))
        lat.attrs["units"] = "degrees_north"
        lat.make_scale("lat")
        if kind == "external-storage":
            t = f.create_dataset("T", shape=(50,), dtype="<f8", external=[(str(secret), 0, 400)])
        elif kind == "virtual":
            other = tmp_path / "other.h5"
            with h5py.File(other, "w") as o:
                o["data"] = secret_values
            layout = h5py.VirtualLayout(shape=(50,), dtype="<f8")
            layout[:] = h5py.VirtualSource(str(other), "data", shape=(50,))
            t = f.create_virtual_dataset("T", layout)
        else:  # an external link, in a group
            other = tmp_path / "other.h5"
            with h5py.File(other, "w") as o:
                o["data"] = secret_values
            f["T"] = np.zeros(50)
            f.create_group("extra")["T2"] = h5py.ExternalLink(str(other), "/data")
            t = f["T"]
        t.attrs["units"] = "K"
        t.dims[0].attach_scale(lat)
    return path, secret_values


@pytest.mark.parametrize("kind", ["external-storage", "virtual", "external-link"])
def test_data_outside_the_input_is_refused(tmp_path, kind):
    src, _ = external_input(tmp_path, kind)
    res = run(src, "-o", tmp_path / "o.nc", "--coord", "lat", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    line = one_error_line(res.stderr.decode())
    assert "--allow-external" in line and ("/T" in line or "/extra/T2" in line)
    assert not (tmp_path / "o.nc").exists()


@NEEDS_STORE
def test_allow_external_reads_external_storage(tmp_path):
    src, secret_values = external_input(tmp_path, "external-storage")
    assert cli.main([str(src), "-o", str(tmp_path / "o.nc"), "--coord", "lat", "-q", "--allow-external"]) == 0
    with xr.open_dataset(tmp_path / "o.nc") as out:
        lat = np.linspace(-60.0, 60.0, 50)
        np.testing.assert_allclose(out.dT_dlat.values, np.gradient(secret_values, lat), rtol=1e-12)


@pytest.mark.parametrize(
    "fmt, keeps_a_name",
    [("NETCDF4", False), ("NETCDF4", True), pytest.param("NETCDF3_64BIT", False, marks=NEEDS_STORE)],
)
def test_an_input_swapped_after_its_checks_is_never_read(tmp_path, monkeypatch, capsys, fmt, keeps_a_name):
    """Someone who can write the input's folder swaps the checked input for a
    file whose data lie in a private file, between the checks and the open
    (the command read the private file before). It reads only the file it
    checked, held open from the checks on: a netCDF-3 file through that
    descriptor; a netCDF-4 (HDF5) file cannot be opened through a descriptor
    whose path has been taken by another file, and the command says so."""
    lat = np.linspace(-60.0, 60.0, 50)
    src = tmp_path / "in.nc"
    xr.Dataset(
        {"T": ("lat", lat**2, {"units": "K"})}, coords={"lat": ("lat", lat, {"units": "degrees_north"})}
    ).to_netcdf(src, format=fmt)
    hostile, _ = external_input(tmp_path, "external-storage")
    checked = files._check_storage

    def check_then_swap(*args, **kwargs):
        checked(*args, **kwargs)
        if keeps_a_name:
            os.link(src, tmp_path / "elsewhere.nc")
        os.replace(hostile, src)

    monkeypatch.setattr(files, "_check_storage", check_then_swap)
    out = tmp_path / "o.nc"
    code = cli.main([str(src), "-o", str(out), "--coord", "lat", "-q"])
    if fmt == "NETCDF4":
        assert code == 2 and not out.exists()
        assert "was replaced or removed after it was checked" in capsys.readouterr().err
        return
    assert code == 0
    with xr.open_dataset(out) as o:
        np.testing.assert_array_equal(o.dT_dlat.values, np.gradient(lat**2, lat))
        assert str(src) in o.attrs["history"]  # the user's name, not the descriptor's


# ---------------------------------------------------------------------------
# 4. A tiny file declaring a huge variable


LIMITED = """
import resource, runpy, sys
limit = 3 * 2**30  # address space: the interpreter, numba and dask need about 1.5 GB
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["xgradient", *sys.argv[1:]]
runpy.run_module("xgradient", run_name="__main__")
"""


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    netCDF4 = pytest.importorskip("netCDF4")
    path = tmp_path_factory.mktemp("huge") / "huge.nc"
    with netCDF4.Dataset(path, "w") as nc:
        for name, n in (("time", 1000), ("lat", 100_000), ("lon", 100_000)):
            nc.createDimension(name, n)
        nc.createVariable("lat", "f8", ("lat",))[:] = np.linspace(-90.0, 90.0, 100_000)
        nc.createVariable("lon", "f8", ("lon",))[:] = np.linspace(0.0, 360.0, 100_000, endpoint=False)
        # 80 TB declared, nothing written: chunked storage stays empty
        nc.createVariable("T", "f8", ("time", "lat", "lon"), chunksizes=(1, 1000, 1000), zlib=True)
    assert path.stat().st_size < 4 * 2**20
    return path


@pytest.mark.parametrize(
    "chunks, expected",
    [
        ([], "more than 50,000 would make dask's task graph too large"),
        (["--chunks", "lat=-1,lon=-1"], "exceed this machine's memory"),
    ],
    ids=["default-blocks", "huge-blocks"],
)
def test_a_huge_declared_variable_is_refused_within_bounded_memory(huge, tmp_path, chunks, expected):
    res = subprocess.run(
        [sys.executable, "-c", LIMITED, str(huge), "-o", str(tmp_path / "o.nc"), "--coord", "lat", *chunks],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    line = one_error_line(res.stderr)
    assert expected in line and "--chunks" in line and "'T'" in line
    assert temp_folders(tmp_path) == [] and not (tmp_path / "o.nc").exists()


def test_a_huge_declared_coordinate_is_refused_before_xarray_reads_it(tmp_path):
    """xarray reads dimension coordinates whole when it opens a file: 16 GB
    declared in 6 kB must be refused before that."""
    netCDF4 = pytest.importorskip("netCDF4")
    src = tmp_path / "coord.nc"
    with netCDF4.Dataset(src, "w") as nc:
        nc.createDimension("lat", 2_000_000_000)
        nc.createVariable("lat", "f8", ("lat",), chunksizes=(1_000_000,))
        nc.createVariable("T", "f4", ("lat",), chunksizes=(1_000_000,))
    res = subprocess.run(
        [sys.executable, "-c", LIMITED, str(src), "-o", str(tmp_path / "o.nc"), "--coord", "lat"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    line = one_error_line(res.stderr)
    assert "coordinate '/lat'" in line and "declares 2,000,000,000 values (16 GB)" in line
