"""The wheel carries every sub-package and data file (pip install . must be whole)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_folder_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"sheetloop"}
    for init in ROOT.glob("*/**/__init__.py"):
        relative = init.parent.relative_to(ROOT)
        if relative.parts[0] in ("tests", "benchmarks", "build", ".venv"):
            continue
        found.add(".".join(("sheetloop", *relative.parts)))
    assert found == listed


def test_the_installed_package_is_typed_and_has_its_console_script():
    import importlib.resources
    import shutil
    import sys

    import sheetloop

    assert (importlib.resources.files(sheetloop) / "py.typed").is_file()
    assert shutil.which("sheetloop", path=str(Path(sys.executable).parent)) is not None
