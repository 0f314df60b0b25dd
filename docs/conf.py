"""Sphinx configuration of the xgradient documentation (MyST Markdown pages)."""

import re
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

# Pages written beside this site by others (check.md, performance.md, ...)
# may not exist yet in every checkout: the toctrees name them as
# "optional:NAME", and the line is kept only when docs/NAME.md exists, so
# that the build never warns about a missing document. "optional:*" stands
# for every other page of docs/ that the toctrees do not name, so that a new
# page is listed (and the build does not fail on it) until it gets its place.
OPTIONAL = re.compile(r"^(\s*)optional:(\S+)\s*$", re.MULTILINE)
NAMED = re.compile(r"^\s*(?:optional:)?([\w-]+)\s*$", re.MULTILINE)


def _optional_pages(app, docname, source):
    src = Path(app.srcdir)
    named = set(NAMED.findall(source[0])) | {docname}

    def keep(match):
        indent, name = match.groups()
        if name == "*":
            others = sorted(p.stem for p in src.glob("*.md") if p.stem not in named)
            return "\n".join(f"{indent}{other}" for other in others)
        return f"{indent}{name}" if (src / f"{name}.md").exists() else ""

    source[0] = OPTIONAL.sub(keep, source[0])


def setup(app):
    app.connect("source-read", _optional_pages)
