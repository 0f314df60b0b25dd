"""The output file of the command: checked, written in a private folder, renamed when complete.

``write_file(dst, fill)`` has `fill` write into a new file in a private
folder (mode 0700) beside `dst`, then checks that the file is still the one
it created and renames it into place: an interrupted run leaves no
half-written output, and an older output stays as it was until the new one
is complete. Everything is done through file descriptors held from the
start. Folders of earlier runs that were killed are removed. The command's
handler of the stopping signals (SIGINT, SIGTERM, SIGHUP),
``exit_on_stop_signal``, ends the process at once, at whatever point the
signal lands, removing the private folder first; it is held around the
rename, so that a run knows whether its output is in place
(``written_path``). What this
guarantees against hostile files, other users and faults (docs/cli.md,
"Guarantees") is checked by tests/test_cli_hostile.py.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import signal
import socket
import stat
import sys
from pathlib import Path

__all__ = ["UsageError", "write_file"]


class UsageError(Exception):
    """A mistake in the command line or its input files (exit code 2).

    Raised by the library of the command (``xgradient.files`` and this
    module) for everything the user gave: the command reports it as one
    line and exits with 2.
    """

#: The private folder each run writes in, beside the output:
#: ``.xgradient-tmp-<host>-<pid>-<random>`` (see _TempOutput).
TEMP_PREFIX = ".xgradient-tmp-"

# getattr: the module imports everywhere; the write path needs POSIX (dir_fd).
_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def file_kind(mode):
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"



def check_output_name(input, output):
    """Refuse an output that is not a file name: ``-`` or a folder."""
    text = os.fspath(output)
    if text == "-":
        raise UsageError(
            "cannot write netCDF to the standard output ('-o -'): a netCDF-4 file must be "
            "seekable; give a file name (./- for a file named '-')"
        )
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    if text.endswith(seps) or os.path.isdir(text):
        suggestion = os.path.join(text, f"{Path(os.fspath(input)).stem}_grad.nc")
        raise UsageError(f"output {text!r} is a folder; give a file name, e.g. {suggestion!r}")


def _same_file(a, b):
    # samefile compares st_dev and st_ino: the same file through a symlink or
    # a hard link is caught, not only the same spelling of the path.
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(src, dst, overwrite):
    if _same_file(src, dst):
        raise UsageError(
            f"output {str(dst)!r} is the input file {str(src)!r}; xgradient never "
            "writes over its input (even with --overwrite): choose another output"
        )
    if dst.is_dir():
        raise UsageError(f"output {str(dst)!r} is a folder; give a file name")
    parent = dst.parent
    if not parent.is_dir():
        raise UsageError(f"the folder of output {str(dst)!r} does not exist")
    try:
        info = os.lstat(dst)
    except FileNotFoundError:
        return
    _check_target(dst, info.st_mode, overwrite)


def _check_target(dst, mode, overwrite):
    """An existing output may be replaced only if it is a regular file (or a link) and `overwrite`."""
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        # -o /dev/null --overwrite run as root would replace the device.
        raise UsageError(
            f"output {str(dst)!r} is {file_kind(mode)}; xgradient only replaces regular files "
            "(even with --overwrite): choose another output"
        )
    if not overwrite:
        raise UsageError(f"output {str(dst)!r} exists; pass --overwrite to replace it")



def _umask():
    """The process umask, read without changing it (None when it cannot be read).

    ``os.umask`` can only be read by setting it: for a moment every file that
    another thread creates would get the mode set meanwhile.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None



def _host_key():
    """Who may clean a stale temporary folder: this host and PID namespace.

    A pid means something only there; another machine (a shared file system)
    or container may be running a pid that is gone here.
    """
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}:{namespace}".encode()).hexdigest()[:8]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or no pid at all (a planted name)
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def _remove_stale_temps(parent_fd):
    """Remove the temporary folders of earlier runs that were killed (SIGKILL, power loss).

    Only ours: named by this host and PID namespace, owned by this user,
    real folders (not links), and their pid no longer running.
    """
    key = _host_key()
    try:
        names = os.listdir(parent_fd)
    except OSError:
        return
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        parts = name[len(TEMP_PREFIX) :].split("-")
        if len(parts) != 3 or parts[0] != key or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            _remove_folder(parent_fd, name)


def _remove_folder(parent_fd, name):
    """Remove our private folder `name` of `parent_fd` and the files in it, never following a link."""
    info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return
    fd = os.open(name, _O_DIR | _O_NOFOLLOW, dir_fd=parent_fd)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            return  # replaced meanwhile
        for entry in os.listdir(fd):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


class _TempOutput:
    """The output being written: a file in a private folder beside the target.

    The folder is created 0700 in the output's folder (so that the final
    rename stays on one file system) and everything is done through file
    descriptors held from the start: the folder's and the file's. Another
    user who can write the output's folder can rename or replace the
    private folder's entry, but cannot reach inside it, and nothing is ever
    opened or changed again by a path that goes through that entry (HDF5
    opens the file through ``/proc/self/fd``). Before the rename, the file
    at the temporary name is checked to be the one created here.
    """

    created = False  # the private folder exists

    def __init__(self, parent_fd, dst):
        self.parent_fd = parent_fd
        self.dst = dst
        self.folder = f"{TEMP_PREFIX}{_host_key()}-{os.getpid()}-{secrets.token_hex(4)}"
        # A short name inside the folder: the output's own name may be
        # NAME_MAX long already.
        self.name = "output.nc"
        self.fd = self.dir_fd = None
        # Known before it exists: a signal from here on removes it (abandon).
        _Writing.folder = (parent_fd, self.folder, os.getpid())
        os.mkdir(self.folder, 0o700, dir_fd=parent_fd)
        self.created = True
        try:
            self.dir_fd = os.open(self.folder, _O_DIR | _O_NOFOLLOW, dir_fd=parent_fd)
            folder = os.fstat(self.dir_fd)
            if folder.st_uid != os.geteuid() or stat.S_IMODE(folder.st_mode) & 0o077:
                raise OSError(errno.EPERM, f"temporary folder {self.folder!r} in {str(dst.parent)!r} was replaced")
            # The mode a file created in the output's folder would get
            # (umask), applied with fchmod at the end; the folder keeps it
            # private meanwhile.
            self.fd = os.open(
                self.name,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                0o666,
                dir_fd=self.dir_fd,
            )
            umask = _umask()
            self.mode = 0o666 & ~umask if umask is not None else stat.S_IMODE(os.fstat(self.fd).st_mode)
            os.fchmod(self.fd, 0o600)
        except BaseException:
            self.discard()
            raise

    @property
    def path(self):
        """The path HDF5 opens: through the folder's descriptor where the system has /proc."""
        via_fd = f"/proc/self/fd/{self.dir_fd}"
        if os.path.isdir(via_fd):
            return os.path.join(via_fd, self.name)
        # No /proc (not Linux): the folder's name, which another user who
        # can write the output's folder could swap; the check in commit()
        # still refuses to rename anything else than what was created here.
        return os.path.join(os.fspath(self.dst.parent), self.folder, self.name)

    def commit(self, sources, overwrite):
        """Check the file, give it its mode, and rename it into place."""
        mine = os.fstat(self.fd)
        there = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        if (there.st_dev, there.st_ino) != (mine.st_dev, mine.st_ino) or not stat.S_ISREG(there.st_mode):
            raise OSError(errno.EPERM, f"the temporary output in {str(self.dst.parent)!r} was replaced; nothing written")
        os.fchmod(self.fd, self.mode)
        # On disk before it has the output's name: after a crash the name
        # holds the old file or the whole new one.
        os.fsync(self.fd)
        target = self.dst.name
        self._check_target(sources, target, overwrite)  # again: the folder may have changed meanwhile
        with _signals_deferred():
            if overwrite:
                os.replace(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.parent_fd)
            else:
                self._rename_no_replace(target)
            _mark_written(self.dst)

    def _check_target(self, sources, target, overwrite):
        """_check_output, in the folder opened at the start (not its path, which may have moved)."""
        try:
            info = os.stat(target, dir_fd=self.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        with contextlib.suppress(OSError):
            resolved = os.stat(target, dir_fd=self.parent_fd)
            for src in sources:
                given = os.stat(src)
                if (resolved.st_dev, resolved.st_ino) == (given.st_dev, given.st_ino):
                    raise UsageError(
                        f"output {str(self.dst)!r} is the input file {str(src)!r}; xgradient never "
                        "writes over its input (even with --overwrite): choose another output"
                    )
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"output {str(self.dst)!r} is a folder; give a file name")
        _check_target(self.dst, info.st_mode, overwrite)

    def _rename_no_replace(self, target):
        # A hard link fails if the name exists (an output that appeared
        # since the check is not replaced without --overwrite).
        try:
            os.link(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.parent_fd, follow_symlinks=False)
        except FileExistsError:
            raise UsageError(f"output {str(self.dst)!r} exists; pass --overwrite to replace it") from None
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
                raise
            # A file system without hard links.
            os.replace(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.parent_fd)
        else:
            os.unlink(self.name, dir_fd=self.dir_fd)

    def discard(self):
        """Remove the temporary file (if still there) and the private folder."""
        if self.dir_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.name, dir_fd=self.dir_fd)
        for fd in (self.fd, self.dir_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self.created:
            with contextlib.suppress(OSError):
                _remove_folder(self.parent_fd, self.folder)
        self.fd = self.dir_fd = None
        self.created = False



def _is_disk_full(err):
    """Whether `err` (HDF5's, netCDF-C's or the system's) reports a full disk or quota."""
    codes = (errno.ENOSPC, errno.EDQUOT)
    if isinstance(err, OSError) and err.errno in codes:
        return True
    text = str(err)
    return any(f"errno = {code}," in text for code in codes) or "No space left on device" in text


class _Written:
    """The output just renamed into place by this process (for the message
    when a signal comes after that)."""

    path = None


class _Writing:
    """The private folder of the write in progress: (descriptor of the
    output's folder, name, pid), set in one assignment before the folder is
    created, None once write_file has returned."""

    folder = None


def _mark_written(dst):
    _Written.path = dst


def written_path():
    """The output this process renamed into place since ``forget_written``, or None.

    A signal that comes after the rename stops the run all the same; the
    command then says the output is complete rather than that nothing was
    written.

    Examples
    --------
    >>> forget_written()
    >>> written_path() is None
    True
    """
    return _Written.path


def forget_written():
    """Start a new run: ``written_path`` is None until its output is in place."""
    _Written.path = None




#: The signals that stop the command (see exit_on_stop_signal).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def abandon():
    """Remove the private folder of the write in progress now; return ``written_path()``.

    For a process that is about to end (``exit_on_stop_signal``): it does
    not wait for the threads still writing into the file, whose writes go
    to a file without a name (and to nothing once the process is gone).
    Safe at any point of a run: it takes no lock, imports nothing, and
    reaches the folder through the descriptor of its parent held since the
    start and by its random name, checking that it is a folder of this
    user before removing anything in it. A forked child never removes its
    parent's folder.

    Returns
    -------
    pathlib.Path or None
        The output renamed into place by this run, if it was.

    Examples
    --------
    >>> forget_written()
    >>> abandon() is None  # no write in progress, nothing written
    True
    """
    current = _Writing.folder
    if current is not None and current[2] == os.getpid():
        parent_fd, folder, _ = current
        # A writer thread (xarray's netCDF4 path reopens its file) may create
        # the file again between the unlink and the rmdir: try again.
        for _ in range(5):
            try:
                _remove_folder(parent_fd, folder)
            except FileNotFoundError:
                break
            except OSError:
                continue
            break
    return _Written.path


@contextlib.contextmanager
def _signals_held():
    """Ignore the stopping signals while cleaning up after the first one.

    Not those handled by exit_on_stop_signal: it ends the process at once
    whatever is going on, the clean-up included.
    """
    saved = {}
    try:
        for s in STOP_SIGNALS:
            if not isinstance(signal.getsignal(s), _ExitOnStop):
                saved[s] = signal.signal(s, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


class _Deferred:
    active = False
    pending = None


@contextlib.contextmanager
def _signals_deferred():
    """Hold a stopping signal (handled by exit_on_stop_signal) until the block is done.

    The rename and the record that it happened go together: a signal in
    between would report "no output written" about an output in place.
    """
    _Deferred.active, _Deferred.pending = True, None
    try:
        yield
    finally:
        _Deferred.active = False
        signum, _Deferred.pending = _Deferred.pending, None
        if signum is not None:
            handler = signal.getsignal(signum)
            if callable(handler):
                handler(signum, None)


class _ExitOnStop:
    """The handler made by exit_on_stop_signal."""

    def __init__(self, message):
        self.message = message
        self.pid = os.getpid()
        self.stopping = False

    def __call__(self, signum, frame):
        if os.getpid() != self.pid:  # a forked child: as if there were no handler
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if _Deferred.active:
            _Deferred.pending = signum
            return
        if self.stopping:  # a second signal while the first one ends the process
            return
        self.stopping = True
        try:
            try:
                line = self.message(signum, abandon())
            except BaseException:  # noqa: BLE001 - nothing may keep the process alive
                line = f"stopped by signal {signum}"
            data = (line + "\n").encode("utf-8", "backslashreplace")
            for stream in (sys.stdout, sys.stderr):
                # What was printed before the signal; a stream being written
                # at this very moment refuses (reentrant call) and is skipped.
                with contextlib.suppress(BaseException):
                    stream.flush()
            while data:
                data = data[os.write(2, data) :]
        finally:
            os._exit(128 + signum)


def exit_on_stop_signal(message):
    """A handler for STOP_SIGNALS that ends the process at once, wherever the signal lands.

    The handler removes the private folder of the write in progress
    (``abandon``), writes ``message(signum, written)`` as one line on the
    standard error (`written`: the output renamed into place by this run,
    or None) and ends the process with status 128 + the signal (130, 143,
    129), without waiting for threads or running exit handlers. While an
    output is being renamed into place the signal is held until the rename
    is done and recorded. A second signal meanwhile changes nothing.

    It raises nothing: Python swallows an exception raised by a signal
    handler while a finalizer (``__del__``, a weakref callback such as
    importlib's module locks') is running, and an exception raised at an
    arbitrary point can leave a library's locks taken (a hang at exit);
    ending the process needs neither.

    Parameters
    ----------
    message : callable
        ``message(signum, written)`` -> str, the line to write (without its
        newline). If it fails, a plain line naming the signal is written.

    Returns
    -------
    callable
        A handler for ``signal.signal``, for the main thread of the process
        that runs the command.

    Examples
    --------
    >>> import signal
    >>> handler = exit_on_stop_signal(lambda signum, written: f"stopped by signal {signum}")
    >>> previous = signal.signal(signal.SIGTERM, handler)
    >>> signal.getsignal(signal.SIGTERM) is handler
    True
    >>> _ = signal.signal(signal.SIGTERM, previous)
    """
    return _ExitOnStop(message)


def write_file(dst, fill, *, sources=(), overwrite=False, stop=None):
    """Write `dst` through ``fill(path)`` into a private temporary file, renamed when complete.

    Parameters
    ----------
    dst : pathlib.Path
        The file to write; its folder must exist.
    fill : callable
        Called with the path of the temporary file (created empty, mode
        0600, in a private folder beside `dst`); writes the content there.
    sources : sequence of path-like, optional
        The inputs: `dst` is refused if it has become one of them meanwhile.
    overwrite : bool, default False
        Replace an existing regular file (or link) at `dst`.
    stop : callable, optional
        Called (with the stopping signals ignored) when `fill` fails or is
        interrupted, before the temporary file is removed: stop the threads
        that still write into it.

    Raises
    ------
    UsageError
        `dst` exists (without `overwrite`), is an input, a folder or not a
        regular file.
    OSError
        ``ENOSPC`` for a full disk or quota (whichever library said so).

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> dst = Path(tempfile.mkdtemp()) / "out.txt"
    >>> def fill(path):
    ...     with open(path, "w") as f:
    ...         _ = f.write("complete")
    >>> write_file(dst, fill)
    >>> dst.read_text(), os.listdir(dst.parent)
    ('complete', ['out.txt'])
    """
    parent_fd = os.open(dst.parent, _O_DIR)
    temp = None
    try:
        _remove_stale_temps(parent_fd)
        temp = _TempOutput(parent_fd, dst)
        fill(temp.path)
        temp.commit(sources, overwrite)
        temp.discard()  # the empty private folder
    except BaseException as err:
        with _signals_held():
            if stop is not None and temp is not None:
                stop()
            if temp is not None:
                temp.discard()
        if _is_disk_full(err):
            raise OSError(errno.ENOSPC, f"no space left on device writing {str(dst)!r}") from None
        raise
    finally:
        _Writing.folder = None  # before its parent's descriptor number can be reused
        os.close(parent_fd)
