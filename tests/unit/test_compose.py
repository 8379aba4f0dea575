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
ENV_EXAMPLE = ROOT / ".env.example"  # the committed example of the (git-ignored) .env

PLATFORM = {
    "accounts": "services.accounts",
    "dossiers": "services.dossiers",
    "candidatures": "services.candidatures",
    "documents": "services.documents",
    "mailer": "services.mailer",
    "webhooks": "services.webhooks",
    "gateway": "gateway",
}
BUILT_HERE = {*PLATFORM, "web"}  # the processes run from the image built by ./Dockerfile
ONE_SHOT = {"createbuckets"}
REQUIRED_ENV = (
    "DATABASE_URL", "NATS_URL",
    "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "MAIL_FROM",
    "GATEWAY_HOST", "GATEWAY_PORT", "PUBLIC_BASE_URL", "LOG_LEVEL",
)  # fmt: skip
# Host ports allowed: the reverse proxy (the one public entry) and Mailpit's UI (loopback, basic auth).
ALLOWED_HOST_PORTS = {"proxy": {8080}, "mailpit": {8025}}
SECRETS = (
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "S3_SECRET_KEY",
    "LINK_SEALING_KEY",
    "WEBHOOK_SEALING_KEY",
    "NATS_NKEY_SEED",
    "MP_UI_AUTH",
)


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
        [str(tool), "--env-file", str(ENV_EXAMPLE), "-f", str(compose_file), "config", *args],
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
def test_validation_rejects_a_broken_copy(compose_tool: Path, tmp_path: Path, original: str, broken: str) -> None:
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
    assert services["postgres"]["image"].startswith("postgres:16.")
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
        test = " ".join(resolved["services"][name]["healthcheck"]["test"])
        assert "http://127.0.0.1:9100/health/ready" in test, name  # the process's own readiness listener
        assert resolved["services"][name]["environment"]["METRICS_PORT"] == "9100"
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
    assert services["documents"]["depends_on"]["createbuckets"]["condition"] == ("service_completed_successfully")
    assert services["mailer"]["environment"]["SMTP_HOST"] == "mailpit"
    # Only the documents service talks to object storage (the mailer asks it for the letters it attaches).
    storage = ("S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION")
    for name in PLATFORM:
        held = [v for v in storage if v in services[name]["environment"]]
        assert held == (list(storage) if name == "documents" else []), f"{name} holds {held}"


def _seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = 0.0
    for part in __import__("re").findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value):
        total += float(part[0]) * units[part[1]]
    return total


LOOPBACK = __import__("re").compile(r"(^|//|@)(127\.0\.0\.1|localhost|::1)(:|/|$)")


def test_nothing_advertises_a_loopback_address_across_containers(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in PLATFORM:
        for key, value in services[name]["environment"].items():
            if key == "PUBLIC_BASE_URL":
                continue  # the address browsers use, not one a container dials
            assert not LOOPBACK.search(str(value)), f"{name}: {key}={value}"
    documents = services["documents"]["environment"]
    assert documents["DOCUMENTS_HTTP_HOST"] == "0.0.0.0"
    assert documents["DOCUMENTS_HTTP_ADVERTISE"] == f"http://documents:{documents['DOCUMENTS_HTTP_PORT']}"


def test_graceful_stop_fits_in_the_grace_period(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    shutdown = float(services["gateway"]["environment"]["GATEWAY_SHUTDOWN_TIMEOUT"])
    for name in ("gateway", "documents", "proxy"):  # the path of an upload in flight
        assert _seconds(services[name]["stop_grace_period"]) > shutdown, name
    for name in PLATFORM:  # a consumer's batch in progress is finished (ack wait 30 s) and the bus drained
        assert _seconds(services[name].get("stop_grace_period", "10s")) > 30, name
    assert "grace_period 60s" in (ROOT / "deploy" / "compose" / "Caddyfile").read_text()


def test_images_are_pinned(resolved: dict[str, Any]) -> None:
    import re

    pinned = re.compile(r"^(v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?|RELEASE\.\d{4}-\d\d-\d\dT[\d-]+Z)$")
    for name, service in resolved["services"].items():
        if name in BUILT_HERE:
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and pinned.match(tag), f"{name}: {image} is not pinned to a release"


def test_nothing_is_published_without_authentication(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert set(published) == {"proxy", "mailpit"}
    [mailpit] = published["mailpit"]
    assert str(mailpit).startswith("127.0.0.1:")  # the operator's machine only
    assert services["mailpit"]["environment"]["MP_UI_AUTH"]  # and behind basic authentication
    assert "--console-address" not in services["minio"]["command"]
    assert not services["nats"].get("ports") and not services["postgres"].get("ports")


def test_secrets_come_from_the_git_ignored_env_file(resolved: dict[str, Any]) -> None:
    raw = COMPOSE_FILE.read_text()
    for name in SECRETS:
        for line in raw.splitlines():
            if line.strip().startswith(f"{name}:"):
                assert "${" in line and ":?" in line, f"{line.strip()}: a secret must be a required variable"
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    services = resolved["services"]
    for name in PLATFORM:
        assert services[name]["environment"]["NATS_NKEY_SEED"] == example[f"NATS_SEED_{name.upper()}"], name
    assert "LINK_SEALING_KEY" not in services["dossiers"]["environment"]  # only the two that need it
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    assert services["accounts"]["environment"]["ECANDIDAT_ENV"] == "production"


def test_missing_secrets_are_refused(compose_tool: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "NATS_", "POSTGRES_"))}
    done = subprocess.run(
        [str(compose_tool), "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "Missing mandatory value" in done.stderr


def test_the_gateways_scale_behind_the_proxy_and_trust_only_it(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert services["gateway"]["environment"]["TRUSTED_PROXIES"] == f"{proxy_ip}/32"
    assert "ports" not in services["gateway"] and "container_name" not in services["gateway"]
    caddyfile = (ROOT / "deploy" / "compose" / "Caddyfile").read_text()
    assert "dynamic a" in caddyfile and "name gateway" in caddyfile


def test_the_web_front_serves_the_pages_through_the_gateways(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    web = services["web"]
    assert web["command"] == ["python", "-m", "web"] and web["image"] == services["gateway"]["image"]
    env = web["environment"]
    assert services["gateway"]["environment"]["WEB_URL"] == f"http://web:{env['WEB_PORT']}"
    assert env["WEB_HOST"] == "0.0.0.0" and env["WEB_API_URL"] == "http://gateway:8080"
    assert "http://127.0.0.1:9100/health/ready" in " ".join(web["healthcheck"]["test"])
    assert env["METRICS_PORT"] == "9100" and env["METRICS_HOST"] == "0.0.0.0"
    # A client of the HTTP API only: no key to the bus, no database, no storage, no sealing key.
    assert not {"NATS_NKEY_SEED", "DATABASE_URL", "S3_SECRET_KEY", "LINK_SEALING_KEY"} & env.keys()
    assert "ports" not in web and "container_name" not in web
