"""The env suite stands on its own: no module under envs/ imports ttt_gym, directly or through another module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parents[2] / "envs"


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` / ``from ... import`` statement of the file names (anywhere in it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_the_suite_names_ttt_gym_in_an_import() -> None:
    files = sorted(ENVS.rglob("*.py"))
    assert len(files) > 10
    offenders = {
        str(path.relative_to(ENVS)): sorted(name for name in imported_modules(path) if name.split(".")[0] == "ttt_gym")
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_every_module_of_the_suite_leaves_ttt_gym_unimported() -> None:
    # A fresh interpreter: this test process has imported ttt_gym already.
    script = (
        "import importlib, pkgutil, sys\n"
        "import ttt_envs\n"
        "names = [m.name for m in pkgutil.walk_packages(ttt_envs.__path__, 'ttt_envs.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names), sorted(m for m in sys.modules if m.split('.')[0] == 'ttt_gym'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=240)
    count, loaded = result.stdout.strip().split(" ", 1)
    assert int(count) > 10 and loaded == "[]", result.stdout
