"""docker-compose.yml: valid for Compose itself, and shaped as the platform needs.

Validation is docker-compose 1.29.2's own (`config -q`: YAML, schema, interpolation, merge keys),
which needs no Docker engine. scripts/bootstrap installs it in .venv-compose (it cannot share the
project's venv: it pins PyYAML<6). The structural checks read the configuration as Compose
resolves it (`config`), so anchors and merge keys are already applied.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

PLATFORM = {
    "accounts": "services.accounts",
    "dossiers": "services.dossiers",
    "candidatures": "services.candidatures",
    "documents": "services.documents",
    "mailer": "services.mailer",
    "gateway": "gateway",
}
ONE_SHOT = {"createbuckets"}
REQUIRED_ENV = (
    "DATABASE_URL", "NATS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION",
    "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "MAIL_FROM",
    "GATEWAY_HOST", "GATEWAY_PORT", "PUBLIC_BASE_URL", "LOG_LEVEL",
)  # fmt: skip
# Host ports allowed: the gateway and the web UIs of Mailpit and MinIO.
ALLOWED_HOST_PORTS = {"gateway": {8080}, "mailpit": {8025}, "minio": {9001}}


def _tool() -> Path | None:
    bundled = ROOT / ".venv-compose" / "bin" / "docker-compose"
    if bundled.is_file():
        return bundled
    found = shutil.which("docker-compose")
    return Path(found) if found else None


@pytest.fixture(scope="module")
def compose_tool() -> Path:
    tool = _tool()
    if tool is None:
        message = "docker-compose 1.29.2 not found: run scripts/bootstrap (creates .venv-compose)"
        if os.environ.get("ECANDIDAT_REQUIRE_COMPOSE_TOOL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return tool


def _compose(tool: Path, compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [str(tool), "-f", str(compose_file), "config", *args],
        capture_output=True, text=True, cwd=compose_file.parent, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved(compose_tool: Path) -> dict[str, Any]:
    """The configuration as Compose resolves it, parsed by the tool's own PyYAML."""
    done = _compose(compose_tool, COMPOSE_FILE)
    assert done.returncode == 0, done.stderr
    python = compose_tool.parent / "python"
    interpreter = str(python) if python.is_file() else "python3"
    parsed = subprocess.run(
        [interpreter, "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
        input=done.stdout, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(parsed.stdout)


def test_compose_file_is_valid(compose_tool: Path) -> None:
    done = _compose(compose_tool, COMPOSE_FILE, "-q")
    assert done.returncode == 0, f"docker-compose.yml is invalid:\n{done.stderr}"


@pytest.mark.parametrize(
    ("original", "broken"),
    [
        ("    image: postgres:16", "    imgae: postgres:16"),
        ("condition: service_healthy", "condition: service_ready"),
        ("      retries: 10", "      retrys: 10"),
        ("services:\n", "services:\n  broken: [\n"),
    ],
    ids=["service-key", "depends-on-condition", "healthcheck-key", "yaml-syntax"],
)
def test_validation_rejects_a_broken_copy(
    compose_tool: Path, tmp_path: Path, original: str, broken: str
) -> None:
    """The validator really validates: the same file with one mistake is refused."""
    text = COMPOSE_FILE.read_text()
    assert original in text
    copy = tmp_path / "docker-compose.yml"
    copy.write_text(text.replace(original, broken, 1))
    done = _compose(compose_tool, copy, "-q")
    assert done.returncode != 0, f"a broken file was accepted ({broken!r})"


def test_every_platform_process_runs_from_the_one_image(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name, module in PLATFORM.items():
        assert name in services, f"{name} missing from docker-compose.yml"
        assert services[name]["command"] == ["python", "-m", module]
    images = {services[name]["image"] for name in PLATFORM}
    contexts = {Path(services[name]["build"]["context"]).resolve() for name in PLATFORM}
    assert len(images) == 1 and contexts == {ROOT}
    assert "FROM python:3.11-slim" in (ROOT / "Dockerfile").read_text()


def test_infrastructure_is_on_real_images(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["nats"]["image"].startswith("nats:2.")
    assert services["postgres"]["image"] == "postgres:16"
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["createbuckets"]["image"].startswith("minio/mc")
    assert "ecandidat-pieces" in " ".join(services["createbuckets"]["command"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_nats_has_jetstream_on_a_volume_and_fsyncs_every_write(resolved: dict[str, Any]) -> None:
    nats = resolved["services"]["nats"]
    command = nats["command"]
    assert "-js" in command and command[command.index("-sd") + 1] == "/data"
    targets = {volume["target"] if isinstance(volume, dict) else volume.split(":")[1] for volume in nats["volumes"]}
    assert "/data" in targets
    config = (ROOT / "deploy" / "compose" / "nats.conf").read_text()
    assert "sync_interval: always" in config


def test_restart_policies_and_healthchecks(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart", "no") == "no", f"{name} is a one-shot job"
            continue
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in PLATFORM.keys() - {"gateway"}:
        test = resolved["services"][name]["healthcheck"]["test"]
        assert test == ["CMD", "python", "-m", "ecandidat.runtime.healthcheck", name]
    assert "/health" in " ".join(resolved["services"]["gateway"]["healthcheck"]["test"])


def test_services_can_be_scaled(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        assert "container_name" not in service, f"{name}: container_name prevents --scale"
        published = set()
        for port in service.get("ports", []):
            if isinstance(port, dict):
                published.add(int(port["published"]))
            else:
                published.add(int(str(port).split(":")[-2]))
        assert published <= ALLOWED_HOST_PORTS.get(name, set()), f"{name} publishes {published}"


def test_platform_environment_and_start_order(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in PLATFORM:
        service = services[name]
        missing = [v for v in REQUIRED_ENV if v not in service["environment"]]
        assert not missing, f"{name} lacks {missing}"
        depends = service["depends_on"]
        assert depends["nats"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"
    assert services["documents"]["depends_on"]["createbuckets"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["mailer"]["environment"]["SMTP_HOST"] == "mailpit"
