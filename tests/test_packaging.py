"""The package layout promises of setup.cfg: every package directory is installed under its import name."""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import ttt_envs
import ttt_gym

ROOT = Path(__file__).resolve().parents[1]


def declared_packages() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}


def package_dirs(root: Path, import_name: str) -> set[str]:
    found = set()
    for init in root.rglob("__init__.py"):
        rel = init.parent.relative_to(root)
        found.add(".".join((import_name, *rel.parts)))
    return found


def test_every_package_directory_is_declared_in_setup_cfg() -> None:
    on_disk = package_dirs(ROOT / "ttt_gym", "ttt_gym") | package_dirs(ROOT / "envs", "ttt_envs")
    assert on_disk == declared_packages()


def test_envs_is_imported_as_ttt_envs_not_as_bare_envs() -> None:
    assert Path(ttt_envs.__file__).parent == ROOT / "envs"
    assert Path(ttt_gym.__file__).parent == ROOT / "ttt_gym"


def test_public_api_is_short() -> None:
    assert 0 < len(ttt_gym.__all__) <= 20  # DESIGN.md: under about twenty names


def _imports_and_path_edits(path: Path) -> tuple[set[str], bool]:
    """The top-level packages a file imports, and whether it touches ``sys.path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported: set[str] = set()
    edits_path = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Attribute) and node.attr == "path":
            edits_path = edits_path or (isinstance(node.value, ast.Name) and node.value.id == "sys")
    return imported, edits_path


def test_benchmarks_is_repository_tooling_not_an_installed_package() -> None:
    assert (ROOT / "benchmarks" / "__init__.py").is_file()  # run as `python -m benchmarks.NAME` from a checkout
    assert not any(package.split(".")[0] == "benchmarks" for package in declared_packages())
    library = [path for path in (ROOT / "ttt_gym").rglob("*.py") if "benchmarks" in _imports_and_path_edits(path)[0]]
    assert library == []


def test_benchmarks_and_tests_reach_each_other_by_import_not_by_sys_path() -> None:
    files = [*(ROOT / "benchmarks").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    assert [str(path.relative_to(ROOT)) for path in files if _imports_and_path_edits(path)[1]] == []
