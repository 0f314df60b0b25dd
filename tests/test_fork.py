"""The threaded in-memory path survives fork (multiprocessing's default on Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp
    import numpy as np
    import xgradient

    f = np.random.default_rng(0).standard_normal((2000, 2000))
    x = np.cumsum(np.linspace(1.0, 2.0, 2000))
    want = np.gradient(f, x, axis=0)
    xgradient.gradient(f, x, axis=0)  # the parent starts its thread pool

    def child(_):
        return bool(np.allclose(xgradient.gradient(f, x, axis=0), want, rtol=1e-12, atol=0))

    if __name__ == "__main__":
        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map_async(child, range(2)).get(timeout=120))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="no fork")
def test_forked_children_compute(tmp_path):
    script = tmp_path / "forked.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[True, True]"
