"""The package layout promises of setup.cfg: every package directory is installed under its import name."""

from __future__ import annotations

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
    assert 0 < len(ttt_gym.__all__) <= 15
