"""The documentation builds without a warning, and its code runs.

The site is built with ``sphinx-build -W`` (warnings are errors) into
tmp_path; skipped when Sphinx, MyST or numpydoc is not installed (the
``docs`` extra). The Python blocks of the pages (```` ```python ````) are run
too, page by page, so that the examples in the guide stay true.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NEEDS_STORE

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The pages whose code this test runs (check.md and performance.md have
# authors and tests of their own).
PAGES = [
    "index",
    "getting-started",
    "nonuniform",
    "periodic",
    "time",
    "missing-values",
    "dask",
    pytest.param("cli", marks=NEEDS_STORE),  # its blocks write netCDF files
    "coming-from",
    "units",
    "horizontal",
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("numpydoc")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = tmp_path / "html"
    res = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    for page in sorted(DOCS.glob("*.md")):
        assert (out / f"{page.stem}.html").exists(), f"{page.name} is in no toctree"
    api = (out / "api.html").read_text()
    for name in ("gradient_file", "DataArrayGrad", "fornberg_weights", "sample_dataset"):
        assert name in api
    assert "Fornberg" in (out / "nonuniform.html").read_text()


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run(page, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    text = (DOCS / f"{page}.md").read_text()
    blocks = BLOCK.findall(text)
    assert blocks, f"{page}.md has no python block"
    namespace = {"__name__": f"docs_{page}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/{page}.md[block {i}]", "exec"), namespace)  # noqa: S102


def test_figures_script_makes_the_pictures(tmp_path):
    """docs/figures.py runs on the real files; skipna leaves fewer ocean cells empty."""
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("xgradient_docs_figures", DOCS / "figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    lost = figures.main([str(tmp_path)])
    for name in (
        "ostia_coasts",
        "ostia_laplacian",
        "atlantic_thermocline",
        "orca2_horizontal",
        "stereographic_horizontal",
    ):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0 < lost[True] < lost[False]
