"""The AsyncAPI document integrators read: accepted by the official parser (`@asyncapi/parser`,
run through node), one message per public event with its id and a real example that matches its
payload schema, the NATS bindings as the binding spec defines them, open schemas for consumers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ecandidat.contracts.registry import events
from ecandidat.contracts.subjects import event_subject
from gateway import asyncapi, asyncapi_page
from tests.e2e.event_contract import payload_validator

ROOT = Path(__file__).resolve().parents[3]
CHECK = ROOT / "scripts" / "asyncapi-check.cjs"


def parse(document: dict, tmp_path: Path) -> tuple[int, dict]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("node and node_modules/@asyncapi/parser are needed: run scripts/bootstrap")
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    run = subprocess.run(["node", str(CHECK), str(path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)


@pytest.fixture(scope="module")
def document() -> dict:
    return asyncapi.build(servers={"bus": "nats.univ-exemple.fr:4222"})


def test_the_official_parser_accepts_the_document(document, tmp_path):
    code, result = parse(document, tmp_path)
    errors = [d for d in result["diagnostics"] if d["severity"] == 0]
    assert code == 0 and errors == []
    public = [cls for cls in events() if not cls.private]
    assert result["messages"] == {event_subject(cls): [asyncapi.message_id(cls)] for cls in public}


def test_the_parser_check_can_fail(document, tmp_path):
    """A broken reference (what the 2.6 document had) is an error the check reports."""
    broken = json.loads(json.dumps(document))
    message = broken["components"]["messages"]["candidatures.candidature.created"]
    message["payload"]["properties"]["data"] = {"$ref": "#/$defs/RequiredPiece"}
    code, result = parse(broken, tmp_path)
    assert code == 1 and any(d["severity"] == 0 for d in result["diagnostics"])


def test_every_public_event_has_a_channel_an_operation_and_a_real_example(document):
    public = [cls for cls in events() if not cls.private]
    assert len(document["channels"]) == len(public) == len(document["operations"]) > 20
    assert not any(address.startswith("prv.") for address in (c["address"] for c in document["channels"].values()))
    for cls in public:
        mid = asyncapi.message_id(cls)
        message = document["components"]["messages"][mid]
        (example,) = message["examples"]
        assert list(payload_validator(document, mid).iter_errors(example["payload"])) == []
        cls.model_validate(example["payload"]["data"])
        assert example["headers"]["Nats-Msg-Id"] == example["payload"]["id"]


def test_nats_bindings_follow_the_binding_spec(document):
    for operation in document["operations"].values():
        assert operation["action"] == "receive"
        assert operation["bindings"] == {"nats": {"bindingVersion": "0.1.0"}}
    for channel in document["channels"].values():
        assert "bindings" not in channel and channel["x-ecandidat-stream"].startswith("EVT_")
    assert document["servers"]["bus"] == {
        **document["servers"]["bus"],
        "host": "nats.univ-exemple.fr:4222",
        "protocol": "nats",
    }


def test_published_schemas_let_consumers_ignore_new_fields(document):
    assert '"additionalProperties": false' not in json.dumps(document)
    assert "$defs" not in json.dumps(document)


def test_the_page_lists_every_event_with_its_fields_and_escapes_text(document):
    page = asyncapi_page.render(document)
    assert page.startswith("<!doctype html>") and "<script" not in page
    for channel in document["channels"].values():
        assert f"<code>{channel['address']}</code>" in page
    assert "candidature_id" in page and "&#34;1.0&#34;" in page


def test_descriptions_show_code_spans_and_stay_escaped():
    assert str(asyncapi_page._code("<b>`x<y`</b>")) == "&lt;b&gt;<code>x&lt;y</code>&lt;/b&gt;"
