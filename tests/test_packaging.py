"""Every package folder is listed in pyproject's explicit ``packages`` (a non-editable install, as the
service gets with ``pip install .``, would otherwise miss it) and every module sits in a package."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("agent", "common", "tui")


def _listed() -> set[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return set(tomllib.load(f)["tool"]["setuptools"]["packages"])


def _package_folders() -> set[str]:
    return {"leadsync." + ".".join(init.parent.relative_to(ROOT).parts)
            for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    assert _package_folders() - _listed() == set()
    assert _listed() - _package_folders() == set()


def test_every_module_sits_in_a_package() -> None:
    orphans = [str(p.relative_to(ROOT)) for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")
               if not (p.parent / "__init__.py").exists()]
    assert orphans == []
