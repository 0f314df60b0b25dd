"""``python -m xgradient`` and the ``xgradient`` console script."""

import os
import sys

from . import cli

__all__ = ["main"]

INTERRUPTED = (130, 143)  # 128 + SIGINT, 128 + SIGTERM


def main(argv=None):
    """Run the ``xgradient`` command (see :func:`xgradient.cli.main`).

    After an interrupt the temporary output is already removed; the process
    then ends at once rather than wait at exit for a thread that may still be
    inside the netCDF library.

    Examples
    --------
    >>> from xgradient.__main__ import main
    >>> main(["--version"])
    xgradient 0.1.0
    0
    """
    code = cli.main(argv)
    if code in INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
