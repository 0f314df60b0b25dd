"""numba, when it imports, and where its compiled code is cached.

numba's own ``cache=True`` writes next to the source, into the package's
``__pycache__``: files that ``pip uninstall`` leaves behind (the left-over
folder then shadows a later editable install as an empty namespace package),
and, when neither the package folder nor HOME is writable, a ``RuntimeError``
at import ("no locator available"). So the kernels here are cached in a
user folder instead, or not at all, and importing xgradient never fails
because of a cache:

- ``NUMBA_CACHE_DIR`` (numba's own setting, read through
  ``numba.config.CACHE_DIR``) when it is set;
- else ``$XDG_CACHE_HOME/xgradient/numba`` (``~/.cache/xgradient/numba``;
  ``%LOCALAPPDATA%\\xgradient\\numba`` on Windows);
- used only if it can be created and written; else nothing is cached and the
  kernels are compiled once per process.
"""

from __future__ import annotations

import os
import tempfile
import threading

try:  # pragma: no cover - exercised by whichever environment runs the tests
    import numba
except ImportError:  # pragma: no cover
    numba = None

__all__ = ["cache_dir", "njit", "numba"]

_lock = threading.Lock()


def _default_dir() -> str:
    if os.name == "nt":  # pragma: no cover - not tested on Windows
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~/AppData/Local")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "xgradient", "numba")


def cache_dir() -> str | None:
    """The folder compiled kernels are cached in, or None when none is writable.

    Examples
    --------
    >>> where = cache_dir()
    >>> where is None or os.path.isdir(where)
    True
    """
    user = getattr(getattr(numba, "config", None), "CACHE_DIR", "") or ""
    where = os.path.abspath(os.path.expanduser(user or _default_dir()))
    try:
        os.makedirs(where, exist_ok=True)
        tempfile.TemporaryFile(dir=where).close()  # writable, as numba checks it
    except OSError:
        return None
    return where


def njit(**options):
    """``numba.njit(**options)``, cached in :func:`cache_dir` or not at all.

    numba picks a function's cache folder when it is decorated, trying
    ``numba.config.CACHE_DIR`` first; the setting is ours only for the
    duration of the decoration, so other numba users in the process see
    theirs unchanged.
    """

    def decorate(fn):
        where = cache_dir()
        if where is None:
            return numba.njit(cache=False, **options)(fn)
        with _lock:
            saved = numba.config.CACHE_DIR
            numba.config.CACHE_DIR = where
            try:
                return numba.njit(cache=True, **options)(fn)
            except RuntimeError:  # pragma: no cover - no locator after all
                return numba.njit(cache=False, **options)(fn)
            finally:
                numba.config.CACHE_DIR = saved

    return decorate
