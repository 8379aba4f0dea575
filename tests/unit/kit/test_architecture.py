"""No service imports another service or the gateway; the kit imports neither; the web front
imports none of them, nor the contracts: it is a client of the public HTTP API (import-linter).

The contracts are generated from the tree, so a new service is covered the day it appears.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def contracts_for(tree: Path) -> str:
    services = sorted(p.name for p in (tree / "services").iterdir() if (p / "__init__.py").exists())
    independent = ", ".join([f'"services.{s}"' for s in services] + ['"gateway"'])
    return f"""
[tool.importlinter]
root_packages = ["ecandidat", "services", "gateway", "web"]

[[tool.importlinter.contracts]]
name = "Services are independent of each other and of the gateway"
type = "independence"
modules = [{independent}]

[[tool.importlinter.contracts]]
name = "The shared kit (contracts, runtime, CLI, devstack) imports no service, no gateway, no web"
type = "forbidden"
source_modules = ["ecandidat"]
forbidden_modules = ["services", "gateway", "web"]

[[tool.importlinter.contracts]]
name = "The web front is a client of the public API: no service, gateway or contract import"
type = "forbidden"
source_modules = ["web"]
forbidden_modules = ["services", "gateway", "ecandidat.contracts"]
"""


def lint(tree: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    config = tmp_path / "importlinter.toml"
    config.write_text(contracts_for(tree))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--config",
            str(config),
            "--no-cache",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tree), "PATH": ""},
    )


def test_import_contracts_hold(tmp_path):
    result = lint(ROOT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_the_linter_catches_a_forbidden_import(tmp_path):
    """The check can fail: a copy of the tree where the mailer imports the gateway is refused."""
    copy = tmp_path / "tree"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns(".venv*", ".git", ".state", "__pycache__", "node_modules", "bench")
    )
    target = copy / "services" / "mailer" / "render.py"
    target.write_text("import gateway.app  # noqa\n" + target.read_text())
    result = lint(copy, tmp_path)
    assert result.returncode != 0
    assert "1 broken" in result.stdout
