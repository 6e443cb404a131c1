"""Executable documentation (style rule 25): notebooks import only from `cloudrec` (plus the stdlib
`os`/`json`), define nothing, and are committed with outputs cleared. Each notebook is executed
against a recorded session, and its figures checked, in tests/unit/inspect/test_notebooks.py."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
ALLOWED_IMPORTS = {"cloudrec", "os", "json"}


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else (node.module or "").split(".")[0])
    return roots


def defined_names(source: str) -> list[str]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    return [type(node).__name__ for node in ast.walk(ast.parse(source)) if isinstance(node, kinds)]


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_imports_only_cloudrec_and_defines_nothing(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]

    for source in code:
        assert imported_roots(source) <= ALLOWED_IMPORTS, source
        assert not defined_names(source), source


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_with_outputs_cleared(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]

    assert code, "a notebook without code is not executable documentation"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebooks_are_there() -> None:
    assert {path.name for path in notebooks()} >= {
        "inspect_session.ipynb", "fleet.ipynb", "failover.ipynb"}
