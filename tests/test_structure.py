"""Size limits of the package: no function (methods included) in ``explorer/`` longer than 100
lines, no module longer than 600 lines, measured with ``ast`` (``end_lineno - lineno + 1``, so a
function's docstring and decorators-free body count, its decorators do not).

The exceptions below exist today; each says why it is still there. Remove an entry when its code
is split: the test fails on an entry that is no longer needed, so the list cannot go stale.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "explorer"
MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 600

#: module path (relative to the repository root) -> why it is longer than MAX_MODULE_LINES.
#: None today; an entry needs a one-line justification, and the test below fails once it is no
#: longer needed.
MODULE_EXCEPTIONS: dict[str, str] = {}
#: "module path:qualified function name" -> why it is longer than MAX_FUNCTION_LINES (none today)
FUNCTION_EXCEPTIONS: dict[str, str] = {}


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Qualified name -> line count of every function or method in ``source`` longer than ``limit``."""
    out: dict[str, int] = {}

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    n = child.end_lineno - child.lineno + 1
                    if n > limit:
                        out[name] = n
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return out


def module_lines(source: str) -> int:
    return len(source.splitlines())


def size_violations(package: Path = PACKAGE) -> tuple[dict[str, int], dict[str, int]]:
    """(modules over MAX_MODULE_LINES, functions over MAX_FUNCTION_LINES) of a package folder,
    keyed like :data:`MODULE_EXCEPTIONS` / :data:`FUNCTION_EXCEPTIONS`."""
    root = package.parent
    modules, functions = {}, {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        if module_lines(source) > MAX_MODULE_LINES:
            modules[rel] = module_lines(source)
        for name, n in long_functions(source).items():
            functions[f"{rel}:{name}"] = n
    return modules, functions


def test_no_long_modules_or_functions_beyond_the_listed_exceptions():
    modules, functions = size_violations()
    new_modules = {k: v for k, v in modules.items() if k not in MODULE_EXCEPTIONS}
    new_functions = {k: v for k, v in functions.items() if k not in FUNCTION_EXCEPTIONS}
    assert not new_modules, f"modules over {MAX_MODULE_LINES} lines: {new_modules}"
    assert not new_functions, f"functions over {MAX_FUNCTION_LINES} lines: {new_functions}"


def test_every_exception_is_still_needed_and_justified():
    modules, functions = size_violations()
    stale = sorted(set(MODULE_EXCEPTIONS) - set(modules)) + sorted(set(FUNCTION_EXCEPTIONS) - set(functions))
    assert not stale, f"no longer too long: remove from the exceptions in {__file__}: {stale}"
    for why in [*MODULE_EXCEPTIONS.values(), *FUNCTION_EXCEPTIONS.values()]:
        assert why.strip() and "\n" not in why


def _function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}():\n{body}"


@pytest.mark.parametrize("body_lines, too_long", [(99, False), (100, True)])
def test_checker_counts_def_line_and_body(body_lines, too_long):
    """100 lines in all (def + 99) pass, 101 fail: the limit is on end_lineno - lineno + 1."""
    found = long_functions(_function("f", body_lines))
    assert found == ({"f": body_lines + 1} if too_long else {})


def test_checker_finds_methods_nested_functions_and_long_modules(tmp_path):
    source = "class A:\n" + _function("method", 120, indent="    ") + "\n" + _function("outer", 3)
    source += "    " + _function("inner", 101, indent="    ").lstrip()
    assert long_functions(source) == {"A.method": 121, "outer": 106, "outer.inner": 102}
    package = tmp_path / "explorer"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1) + _function("g", 150))
    modules, functions = size_violations(package)
    assert modules == {"explorer/big.py": MAX_MODULE_LINES + 152}
    assert functions == {"explorer/big.py:g": 151}
