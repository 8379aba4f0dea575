"""deploy/: the Kubernetes manifests validated offline against the API schemas (kubernetes-validate,
strict), shaped as the platform needs; the NATS accounts file in step with its policy and accepted
by nats-server; the alert rules and the dashboard reading metrics that exist."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ecandidat.devstack.nats import nats_server_binary
from ecandidat.runtime import metrics
from ecandidat.runtime.natsauth import accounts_template, env_lines

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"
PROCESSES = ("accounts", "dossiers", "candidatures", "documents", "mailer", "webhooks", "gateway", "web")


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                found.append((K8S / name, doc))
    return found


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _documents() if doc["kind"] == kind}


def test_every_manifest_is_valid_for_the_api() -> None:
    documents = _documents()
    assert len(documents) > 30
    for path, doc in documents:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_the_validator_refuses_a_broken_manifest() -> None:
    _, deployment = next((p, d) for p, d in _documents() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_what_exists() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        assert (K8S / name).is_file(), name
    for generator in kustomization["configMapGenerator"]:
        for name in generator["files"]:
            assert (K8S / name).is_file(), name


def test_each_process_has_probes_resources_a_budget_and_an_autoscaler() -> None:
    deployments = _of_kind("Deployment")
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for d in _of_kind("PodDisruptionBudget").values()
    }
    scalers = {d["spec"]["scaleTargetRef"]["name"] for d in _of_kind("HorizontalPodAutoscaler").values()}
    assert set(deployments) == set(PROCESSES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"], name
        assert deployment["spec"]["replicas"] >= 2 and name in budgets and name in scalers, name
        if name != "gateway":  # the others are probed on their internal metrics listener
            assert container["readinessProbe"]["httpGet"]["port"] == "metrics", name
            assert container["livenessProbe"]["httpGet"]["port"] == "metrics", name
            assert {"name": "metrics", "containerPort": 9100} in container["ports"], name
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_secrets_are_referenced_never_embedded() -> None:
    assert not _of_kind("Secret")
    text = "\n".join(p.read_text() for p in K8S.rglob("*.yaml"))
    assert not re.search(r"\bSU[A-Z2-7]{50,}", text)  # no nkey seed
    for name, deployment in _of_kind("Deployment").items():
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        for secret in (
            "NATS_NKEY_SEED",
            "LINK_SEALING_KEY",
            "WEBHOOK_SEALING_KEY",
            "S3_SECRET_KEY",
            "SMTP_PASSWORD",
            "DATABASE_PASSWORD",
        ):
            if secret in env:
                assert "secretKeyRef" in env[secret]["valueFrom"], f"{name}: {secret}"
        if name != "web":
            assert env["NATS_NKEY_SEED"]["valueFrom"]["secretKeyRef"]["key"] == name  # its own key only
        # Only the documents service talks to object storage.
        assert ("S3_SECRET_KEY" in env) == (name == "documents"), f"{name}: storage keys"


def test_network_is_denied_by_default() -> None:
    policies = _of_kind("NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


def test_infrastructure_comes_from_operators_and_charts() -> None:
    infra = K8S / "infrastructure"
    cluster = yaml.safe_load((infra / "postgres-cluster.yaml").read_text())
    assert cluster["apiVersion"].startswith("postgresql.cnpg.io/") and cluster["spec"]["minSyncReplicas"] >= 1
    tenant = yaml.safe_load((infra / "minio-tenant.yaml").read_text())
    assert tenant["kind"] == "Tenant" and tenant["spec"]["buckets"] == [{"name": "ecandidat-pieces"}]
    values = yaml.safe_load((infra / "nats-values.yaml").read_text())
    assert values["config"]["cluster"]["replicas"] == 3 and values["config"]["jetstream"]["enabled"]
    assert "accounts.conf" in values["config"]["merge"]["$include"]


def test_the_nats_accounts_file_is_generated_from_the_policy_and_accepted_by_nats_server(tmp_path: Path) -> None:
    committed = ROOT / "deploy" / "nats" / "accounts.conf"
    assert committed.read_text() == accounts_template(), (
        "run: python -m ecandidat.runtime.natsauth --template > deploy/nats/accounts.conf"
    )
    (tmp_path / "accounts.conf").write_text(committed.read_text())
    main = tmp_path / "nats.conf"
    main.write_text(
        (ROOT / "deploy" / "nats-cluster.conf")
        .read_text()
        .replace('include "nats/accounts.conf"', 'include "accounts.conf"')
    )
    keys = dict(line.split("=", 1) for line in env_lines() if line.startswith("NATS_PUBLIC_KEY_"))
    env = {**keys, "NATS_SERVER_NAME": "nats-1", "NATS_ROUTE_PASSWORD": "x"}
    done = subprocess.run(
        [str(nats_server_binary()), "-c", str(main), "-t"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    without_keys = subprocess.run(
        [str(nats_server_binary()), "-c", str(main), "-t"],
        capture_output=True,
        text=True,
        env={"NATS_SERVER_NAME": "nats-1", "NATS_ROUTE_PASSWORD": "x"},
        timeout=60,
        check=False,
    )
    assert without_keys.returncode != 0  # no key, no server: nothing runs open by mistake


def _defined_metrics() -> set[str]:
    names = set(re.findall(r"^\| (ecandidat_\w+) \|", metrics.__doc__, re.M))
    assert len(names) >= 10
    return names


def _used(expression: str) -> set[str]:
    used = set()
    for name in re.findall(r"\b(ecandidat_\w+)", expression):
        used.add(re.sub(r"_(bucket|count|sum)$", "", name))
    return used


def test_alerts_and_dashboard_read_metrics_that_exist() -> None:
    defined = _defined_metrics()
    rules = yaml.safe_load((K8S / "monitoring" / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((K8S / "monitoring" / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set().union(*(_used(e) for e in exprs))
    assert used and used <= defined, used - defined
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    # One alert per row of deploy/README.md's table "What to monitor".
    for needed in (
        "EcandidatOutboxStuck",
        "EcandidatConsumerLagGrowing",
        "EcandidatRedeliveries",
        "EcandidatDeadLetter",
        "EcandidatMailFailed",
        "EcandidatMailOverdue",
        "NatsJetStreamDown",
        "PostgresReplicationLag",
        "MinioDriveOffline",
        "EcandidatGateway5xx",
        "EcandidatWebhookDisabled",
    ):
        assert needed in alerts


def test_the_gateway_sends_the_pages_to_the_web_front() -> None:
    deployments = _of_kind("Deployment")
    gateway_env = {
        e["name"]: e.get("value") for e in deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    [web] = deployments["web"]["spec"]["template"]["spec"]["containers"]
    web_env = {e["name"]: e.get("value") for e in web["env"]}
    [service] = [s for s in _of_kind("Service").values() if s["metadata"]["name"] == "web"]
    [port] = service["spec"]["ports"]
    assert gateway_env["WEB_URL"] == f"http://web:{port['port']}"
    assert web_env["WEB_HOST"] == "0.0.0.0" and int(web_env["WEB_PORT"]) == port["port"]
    assert {"name": "http", "containerPort": int(web_env["WEB_PORT"])} in web["ports"]
    assert web_env["WEB_API_URL"] == "http://gateway:8080"
    policies = _of_kind("NetworkPolicy")
    assert policies["gateway-to-web"]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": port["port"]}]
    assert policies["gateway-egress-to-web"]["spec"]["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": port["port"]}
    ]
