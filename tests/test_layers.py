"""One direction of flow: a lower layer of ``explorer`` never imports a higher one.

Layers, lowest first (a module may import its own layer and any lower one):

0. ``explorer`` itself, ``constants``, ``errors``, ``paths``, ``jsonutil``, ``markdown``
1. ``catalog``
2. ``io`` and ``simulate`` (peers: neither imports the other)
3. ``ml`` and ``sedfit`` (the SED-fitting comparator; it may use ``ml``'s metrics, ``ml`` never
   imports it, and it does not import ``simulate``)
4. ``attribution``
5. ``app``, ``cli``, ``info``, ``__main__``, ``testing`` (test doubles), ``survey`` (Dask/HATS
   orchestration)

and two rules on top of the order: ``io`` and ``simulate`` are peers that do not import each
other, and ``ml`` imports neither of them (the models work on a catalog; what the readers or the
simulator know, such as real spectra or scatter floors, the command line passes in).

Every import counts: module level or inside a function, absolute (``explorer.x``) or relative
(``from ..x import y``; ``from .. import x`` counts as importing ``explorer.x``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import explorer

LAYERS = {
    "": 0,
    "constants": 0,
    "errors": 0,
    "paths": 0,
    "jsonutil": 0,
    "markdown": 0,
    "catalog": 1,
    "io": 2,
    "simulate": 2,
    "ml": 3,
    "sedfit": 3,
    "attribution": 4,
    "app": 5,
    "cli": 5,
    "cli_data": 5,
    "cli_sim": 5,
    "cli_sedfit": 5,
    "cli_survey": 5,
    "survey": 5,
    "cli_midir": 5,
    "info": 5,
    "__main__": 5,
    "testing": 5,
}
#: (importer, imported) pairs the order allows but the design does not
FORBIDDEN = {
    ("io", "simulate"),
    ("simulate", "io"),
    ("ml", "io"),
    ("ml", "simulate"),
    ("sedfit", "simulate"),
    ("ml", "sedfit"),
}


def _module_name(root: Path, path: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _imports(tree: ast.AST, module: str, is_package: bool, package: str, known: set[str]):
    """(line, imported module) for every import of ``package`` in a parsed module."""
    base_pkg = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base_pkg.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not (target == package or target.startswith(package + ".")):
                continue
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            for t in subs or [target]:
                yield node.lineno, t


def _layer_key(module: str, package: str) -> str:
    rest = module[len(package) :].lstrip(".")
    return rest.split(".")[0] if rest else ""


def layer_violations(root: Path, package: str = "explorer") -> list[str]:
    """Imports against the layer order in the package at ``root``, as readable lines."""
    files = sorted(root.rglob("*.py"))
    known = {_module_name(root, f, package) for f in files}
    problems = []
    for f in files:
        module = _module_name(root, f, package)
        src_key = _layer_key(module, package)
        if src_key not in LAYERS:
            problems.append(f"{module}: not assigned to a layer (add {src_key!r} to LAYERS)")
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        for line, target in _imports(tree, module, f.name == "__init__.py", package, known):
            dst_key = _layer_key(target, package)
            if dst_key not in LAYERS:
                problems.append(f"{module}:{line} imports {target}, which has no layer")
            elif LAYERS[dst_key] > LAYERS[src_key]:
                problems.append(
                    f"{module}:{line} imports {target} (layer {LAYERS[dst_key]} {dst_key!r} above "
                    f"layer {LAYERS[src_key]} {src_key!r})"
                )
            elif (src_key, dst_key) in FORBIDDEN:
                problems.append(f"{module}:{line} imports {target} ({src_key!r} must not import {dst_key!r})")
    return problems


def test_explorer_imports_follow_the_layer_order():
    root = Path(explorer.__file__).parent
    assert len(list(root.rglob("*.py"))) > 50  # the walk sees the whole package
    assert layer_violations(root) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "explorer"
    for rel, text in files.items():
        p = pkg / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return pkg


@pytest.mark.parametrize(
    ("rel", "source", "expected"),
    [
        # function-level relative import, one layer up
        ("ml/bad.py", "def f():\n    from ..attribution.engine import g\n", "explorer.ml.bad:2 imports explorer.attribution.engine"),
        # absolute import from the bottom to the top
        ("catalog.py", "import explorer.app.state\n", "explorer.catalog:1 imports explorer.app.state"),
        # `from .. import x` names a module
        ("io/sdss.py", "from .. import ml\n", "explorer.io.sdss:1 imports explorer.ml"),
        # peers
        ("simulate/run.py", "from ..io import sdss\n", "'simulate' must not import 'io'"),
        # the models' layer does not reach down into the readers or the simulator
        ("ml/ok.py", "def f():\n    from ..simulate.run import N\n", "'ml' must not import 'simulate'"),
        ("ml/ok.py", "import explorer.io.sdss\n", "'ml' must not import 'io'"),
        # a package __init__ resolves relative imports against itself
        ("ml/__init__.py", "from .. import attribution\n", "explorer.ml:1 imports explorer.attribution"),
        # a new top-level module must be placed in a layer
        ("newthing.py", "x = 1\n", "not assigned to a layer"),
    ],
)  # fmt: skip
def test_the_checker_reports_an_upward_import(tmp_path, rel, source, expected):
    base = {
        "__init__.py": "",
        "catalog.py": "from .constants import N\n",
        "constants.py": "N = 1\n",
        "io/__init__.py": "",
        "io/sdss.py": "from ..catalog import N\n",
        "simulate/__init__.py": "",
        "simulate/run.py": "from ..catalog import N\n",
        "ml/__init__.py": "",
        "ml/ok.py": "from ..catalog import N\nfrom . import bad\n",
        "ml/bad.py": "",
        "attribution/__init__.py": "",
        "attribution/engine.py": "from ..ml import ok\n",
        "app/__init__.py": "",
        "app/state.py": "import explorer.attribution.engine\nfrom explorer.ml.ok import N\n",
    }
    clean = _write(tmp_path / "clean", base)
    assert layer_violations(clean) == []  # allowed imports only: nothing to report
    bad = _write(tmp_path / "bad", {**base, rel: source})
    problems = layer_violations(bad)
    assert len(problems) == 1 and expected in problems[0], problems
