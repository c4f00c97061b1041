"""The package's layers, as the folder tree shows them: nothing imports upward, nothing circles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_layers_contract_holds():
    """pyproject.toml's import-linter contract: cli -> rendering -> engine -> export -> models -> io -> core."""
    linter = shutil.which("lint-imports") or pytest.fail("import-linter is a test dependency: pip install '.[test]'")
    done = subprocess.run([linter], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def test_no_module_imports_itself_in_a_circle():
    import grimp

    graph = grimp.build_graph("llid_cli")
    circles = sorted({tuple(sorted((module, imported))) for module in graph.modules
                      for imported in graph.find_modules_directly_imported_by(module)
                      if graph.chain_exists(imported, module)})
    assert circles == []


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract can fail: a copy of the package where io imports the rendering layer."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "llid_cli", copy / "llid_cli", ignore=shutil.ignore_patterns("__pycache__", "_weights"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / "llid_cli" / "io" / "upward.py").write_text("from llid_cli.rendering import tone  # noqa: F401\n")
    done = subprocess.run([shutil.which("lint-imports")], cwd=copy, capture_output=True, text=True,
                          env={"PYTHONPATH": str(copy), "PATH": str(Path(sys.executable).parent)})
    assert done.returncode != 0 and "llid_cli.io.upward -> llid_cli.rendering" in done.stdout, done.stdout[-2000:]
