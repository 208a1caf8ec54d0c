"""Size limits of product code (issue 17): no function over 80 lines, no module over 400 lines unless its
docstring has a line ``Long module: <why>``.

A function's length counts from its ``def`` line to its last line (docstring, comments and nested functions
included; decorators not). A module's length is its number of lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_DIRS = ("agent", "common", "tui")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400
LONG_MODULE_MARK = "Long module:"


def _function_findings(tree: ast.Module, path: str) -> dict[str, str]:
    findings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                findings[f"{path}::{node.name}"] = f"function {node.name} (line {node.lineno}) has {lines} lines"
    return findings


def _has_long_module_reason(tree: ast.Module) -> bool:
    doc = ast.get_docstring(tree) or ""
    return any(line.strip().startswith(LONG_MODULE_MARK) and line.strip()[len(LONG_MODULE_MARK):].strip()
               for line in doc.splitlines())


def size_findings(root: Path, dirs: tuple[str, ...] = PRODUCT_DIRS) -> dict[str, str]:
    """Every function over ``MAX_FUNCTION_LINES`` (key ``"path::name"``) and every module over
    ``MAX_MODULE_LINES`` without a ``Long module:`` reason (key ``"path"``) under ``root/dirs``; paths are
    relative to ``root`` with ``/``; values say what is too long."""
    findings: dict[str, str] = {}
    for folder in dirs:
        for file in sorted((root / folder).rglob("*.py")):
            path = file.relative_to(root).as_posix()
            source = file.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=path)
            lines = len(source.splitlines())
            if lines > MAX_MODULE_LINES and not _has_long_module_reason(tree):
                findings[path] = f"module has {lines} lines and no '{LONG_MODULE_MARK} <why>' in its docstring"
            findings.update(_function_findings(tree, path))
    return findings


def test_product_code_stays_within_the_size_limits() -> None:
    findings = size_findings(ROOT)
    assert not findings, "split these (or give a long module its reason):\n" + "\n".join(
        f"  {key}: {what}" for key, what in sorted(findings.items()))


def _function(name: str, body_lines: int) -> str:
    """A function of ``body_lines + 1`` lines (its ``def`` and ``body_lines`` statements)."""
    return f"def {name}() -> None:\n" + "".join(f"    x{i} = {i}\n" for i in range(body_lines))


def test_the_checker_finds_long_functions_and_unexplained_long_modules(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "ok.py").write_text(_function("fits", MAX_FUNCTION_LINES - 1))
    (tmp_path / "pkg" / "sub" / "long_function.py").write_text(
        "class Walker:\n" + "".join(f"    {line}\n" for line in _function("walk", MAX_FUNCTION_LINES).splitlines()))
    filler = "".join(f"X{i} = {i}\n" for i in range(MAX_MODULE_LINES))
    (tmp_path / "pkg" / "long_module.py").write_text('"""Many constants."""\n' + filler)
    (tmp_path / "pkg" / "explained.py").write_text(
        '"""Many constants.\n\nLong module: one table, read top to bottom.\n"""\n' + filler)
    (tmp_path / "pkg" / "empty_reason.py").write_text('"""Many constants.\n\nLong module:\n"""\n' + filler)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "long.py").write_text(_function("ignored", 2 * MAX_FUNCTION_LINES))

    findings = size_findings(tmp_path, ("pkg",))

    assert sorted(findings) == ["pkg/empty_reason.py", "pkg/long_module.py", "pkg/sub/long_function.py::walk"]
    assert findings["pkg/sub/long_function.py::walk"] == f"function walk (line 2) has {MAX_FUNCTION_LINES + 1} lines"
    assert findings["pkg/long_module.py"].startswith(f"module has {MAX_MODULE_LINES + 1} lines")

