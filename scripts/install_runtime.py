"""The image's install, in one place: the Dockerfile runs it, and so does the test that checks the
image's install (tests/integration/test_image_install.py), so the two cannot drift apart.

    python scripts/install_runtime.py dependencies [PROJECT_DIR]   # [project.dependencies] only
    python scripts/install_runtime.py project [PROJECT_DIR]        # the project itself, --no-deps

Run with the interpreter to install into (the image's python, or a venv's). Only the runtime
dependencies: the `local` and `dev` extras (embedded servers, test tools) stay out.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path


def runtime_requirements(project: Path) -> list[str]:
    with open(project / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", *args], check=True
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("dependencies", "project"):
        print(__doc__, file=sys.stderr)
        return 2
    project = Path(argv[1] if len(argv) > 1 else ".").resolve()
    if argv[0] == "dependencies":
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
            requirements.write("\n".join(runtime_requirements(project)) + "\n")
            requirements.flush()
            pip("-r", requirements.name)
    else:
        pip("--no-deps", str(project))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
