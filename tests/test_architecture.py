"""The layering that docs/architecture.md describes holds in the code.

The page lists the modules top to bottom; a module may import only modules
listed below it (or on its own line), and never another module's underscore
names. This test reads the list from the page, so the page and the code
cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xgradient"
PAGE = ROOT / "docs" / "architecture.md"
# Upward imports the page allows in words: none left.
ALLOWED_UP = set()
# Underscore names still imported across modules, to be removed (issue 15);
# the list may only shrink.
KNOWN_PRIVATE = set()


def layers():
    """Module name -> line number in the page's list (lower is higher up)."""
    text = PAGE.read_text()
    block = re.search(r"## One way through the code.*?```text\n(.*?)```", text, re.DOTALL)[1]
    rank = {}
    for number, line in enumerate(block.splitlines()):
        cell = line[15:31].strip()  # the column of module names
        for name in filter(None, (n.strip().rstrip("/") for n in cell.split(","))):
            rank[name] = number
    return rank


def relative_imports(path):
    """(module imported, names taken from it, attribute names used on it)."""
    tree = ast.parse(path.read_text())
    aliases, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import coords as _coords
                for a in node.names:
                    if a.name != "__version__":
                        aliases[a.asname or a.name] = a.name
                        found.append((a.name, []))
            else:
                found.append((node.module.split(".")[0], [a.name for a in node.names]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append((aliases[node.value.id], [node.attr]))
    return found


def test_every_module_is_on_the_page():
    rank = layers()
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert modules - {"__init__"} - set(rank) == set(), "add the module to docs/architecture.md"
    assert set(rank) - modules == set(), "the page lists a module that does not exist"


def test_imports_go_down_the_list():
    rank = layers()
    upward = []
    for path in sorted(PACKAGE.glob("*.py")):
        me = path.stem
        if me == "__init__":
            continue
        for target, _ in relative_imports(path):
            if rank[target] < rank[me] and (me, target) not in ALLOWED_UP:
                upward.append(f"{me} imports {target}")
    assert upward == []


def test_nothing_in_the_library_imports_the_command_or_the_demo():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.stem in ("__main__", "cli", "demo"):
            continue
        for target, _ in relative_imports(path):
            assert target not in ("cli", "demo"), f"{path.name} imports {target}"


def test_no_module_takes_another_modules_underscore_names():
    private = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for target, names in relative_imports(path):
            private |= {(path.stem, f"{target}.{n}") for n in names if n.startswith("_") and not n.startswith("__")}
    assert private <= KNOWN_PRIVATE, sorted(private - KNOWN_PRIVATE)
