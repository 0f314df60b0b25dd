"""Sphinx configuration of the xgradient documentation (MyST Markdown pages)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # autodoc documents the package beside docs/

import xgradient

project = "xgradient"
author = "the xgradient developers"
copyright = "the xgradient developers, BSD-3-Clause"
version = release = xgradient.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# numpydoc renders the docstrings; no member tables (the API page lists what
# it documents), no cross-reference guessing for parameter types.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_member_order = "bysource"

try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {"show_toc_level": 2, "navigation_with_keys": False}
except ImportError:  # pragma: no cover
    html_theme = "alabaster"
html_title = f"xgradient {release}"
html_static_path = []
