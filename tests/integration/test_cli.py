"""Every command of the operator's CLI (README, "Operators"), run as an operator runs it: a process
of its own, against the test servers, on the secured bus as the `ops` identity.

`mail-test` and `create-admin` have their own tests (tests/integration/mailer/test_mailer.py,
tests/e2e/test_accounts_staff.py); here: `deliveries`, `dlq list|replay|migrate`, `seed-demo`, `schemas`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import nats
import pytest

from ecandidat.contracts.subjects import LEGACY_DEAD_LETTER_STREAM, dead_letter_stream, dead_letter_subject
from ecandidat.runtime.deadletter import list_dead_letters
from services.mailer.settings import MailerSettings
from services.mailer.service import MailerService
from tests.conftest import eventually, unique_email

ROOT = Path(__file__).resolve().parents[2]


async def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecandidat.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def mailer(settings_for):
    service = MailerService(settings_for(MailerSettings))
    await service.start()
    yield service
    await service.stop()


async def test_deliveries_lists_the_mail_log(process_env, mailer, smtp_sink):
    to = unique_email("cli")
    code, out, err = await cli(process_env, "mail-test", "--to", to)
    assert code == 0, err
    await smtp_sink.wait_for(1, timeout=30, match=lambda m: m["To"] == to)

    async def listed() -> list[dict]:
        code, out, err = await cli(process_env, "deliveries", "--recipient", to, "--status", "sent")
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]

    [delivery] = await eventually(listed, timeout=30, message="the sent mail in the log")
    assert delivery["recipient"] == to and delivery["status"] == "sent"
    code, out, err = await cli(process_env, "deliveries", "--status", "failed", "--recipient", to)
    assert code == 0 and out == "", err


async def test_dlq_list_then_replay(process_env, nats_server):
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    js = nc.jetstream()
    marker = uuid.uuid4().hex
    original = "evt.dossiers.cli.probed"
    try:
        ack = await js.publish(
            dead_letter_subject("dossiers", "dossiers_cli"),
            json.dumps({"probe": marker}).encode(),
            headers={
                "Ecandidat-Original-Subject": original,
                "Ecandidat-Consumer": "dossiers_cli",
                "Ecandidat-Deliveries": "6",
                "Ecandidat-Error": "RuntimeError: probe",
                "Nats-Msg-Id": marker,
            },
        )
        assert ack.stream == dead_letter_stream("dossiers")
        code, out, err = await cli(process_env, "dlq", "list", "--limit", "100000")
        assert code == 0, err
        listed = [json.loads(line) for line in out.splitlines()]
        [letter] = [item for item in listed if (item["service"], item["seq"]) == ("dossiers", ack.seq)]
        assert letter == {
            "service": "dossiers",
            "seq": ack.seq,
            "consumer": "dossiers_cli",
            "subject": original,
            "deliveries": 6,
            "error": "RuntimeError: probe",
        }

        sub = await js.subscribe(original, ordered_consumer=True, deliver_policy=nats.js.api.DeliverPolicy.NEW)
        code, out, err = await cli(process_env, "dlq", "replay", "dossiers", str(ack.seq))
        assert code == 0, err
        assert out.strip() == f"replayed dead letter dossiers {ack.seq} on {original}"
        replayed = await sub.next_msg(timeout=10)
        assert json.loads(replayed.data) == {"probe": marker}
        with pytest.raises(nats.js.errors.NotFoundError):
            await js.get_msg(dead_letter_stream("dossiers"), ack.seq)
        code, _, err = await cli(process_env, "dlq", "replay", "dossiers", str(ack.seq))
        assert code != 0  # already replayed: nothing to replay
    finally:
        await nc.close()


async def test_dlq_list_shows_the_newest_letters_of_each_service_first(process_env, nats_server):
    """Past the limit, the operator sees the newest letters (a new failure is never hidden behind
    old ones), newest first, across the service's consumers; a removed letter is skipped."""
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    js = nc.jetstream()
    marker = uuid.uuid4().hex
    seqs: list[int] = []
    try:
        for n, durable in enumerate(["dossiers_cli_a", "dossiers_cli_b"] * 3):
            ack = await js.publish(
                dead_letter_subject("dossiers", durable),
                json.dumps({"probe": marker, "n": n}).encode(),
                headers={
                    "Ecandidat-Consumer": durable,
                    "Ecandidat-Error": f"RuntimeError: {n}",
                    "Nats-Msg-Id": f"{marker}{n}",
                },
            )
            seqs.append(ack.seq)
        await js.delete_msg(dead_letter_stream("dossiers"), seqs[-2])
        code, out, err = await cli(process_env, "dlq", "list", "--limit", "3")
        assert code == 0, err
        listed = [(item["service"], item["seq"]) for item in map(json.loads, out.splitlines())]
        assert [seq for service, seq in listed if service == "dossiers"] == [seqs[-1], seqs[-3], seqs[-4]]
    finally:
        for seq in seqs[:-2] + seqs[-1:]:
            await js.delete_msg(dead_letter_stream("dossiers"), seq)
        await nc.close()


async def test_dlq_migrate_moves_the_letters_of_the_former_single_stream(process_env, nats_server):
    """A deployment upgraded from one DEAD_LETTERS stream: each letter goes to its service's
    stream (with the time it was dead-lettered), then the old stream goes."""
    nc = await nats.connect(nats_server.url, **nats_server.connect_options())
    js = nc.jetstream()
    marker = uuid.uuid4().hex
    try:
        await js.add_stream(name=LEGACY_DEAD_LETTER_STREAM, subjects=["dlq.>"])
        old = await js.publish(
            "dlq.documents_letters",
            json.dumps({"probe": marker}).encode(),
            headers={
                "Ecandidat-Original-Subject": "evt.candidatures.candidature.decided",
                "Ecandidat-Original-Stream": "EVT_CANDIDATURES",
                "Ecandidat-Consumer": "documents_letters",
                "Ecandidat-Deliveries": "6",
                "Ecandidat-Error": "RuntimeError: échec",
                "Nats-Msg-Id": marker,
            },
        )
        dead_lettered_at = (await js.get_msg(LEGACY_DEAD_LETTER_STREAM, old.seq)).time
        code, out, err = await cli(process_env, "dlq", "migrate")
        assert code == 0, err
        assert out.strip() == "moved 1 dead letters into their service's stream"
        with pytest.raises(nats.js.errors.NotFoundError):
            await js.stream_info(LEGACY_DEAD_LETTER_STREAM)
        [letter] = [
            d
            for d in await list_dead_letters(js, 100_000, ["documents"])
            if d.data == json.dumps({"probe": marker}).encode()
        ]
        assert (letter.consumer, letter.error, letter.deliveries) == ("documents_letters", "RuntimeError: échec", 6)
        assert letter.original_stream == "EVT_CANDIDATURES" and letter.time == dead_lettered_at
        await js.delete_msg(dead_letter_stream("documents"), letter.seq)
        code, out, err = await cli(process_env, "dlq", "migrate")  # nothing left: nothing to do
        assert code == 0 and out.strip() == "moved 0 dead letters into their service's stream", err
    finally:
        try:
            await js.delete_stream(LEGACY_DEAD_LETTER_STREAM)
        except nats.js.errors.NotFoundError:
            pass
        await nc.close()


async def test_dlq_without_operator_key_is_refused(process_env):
    env = {k: v for k, v in process_env.items() if not k.startswith("NATS_CREDENTIALS")}
    code, _, err = await cli(env, "dlq", "list")
    assert code != 0 and "Authorization" in err


async def test_seed_demo_and_schemas(process_env, tmp_path):
    code, out, err = await cli(process_env, "seed-demo", "--today", "2026-03-01")
    assert code == 0, err
    assert out.startswith("demo campaign seeded:") and "open from 2026-03-01" in out
    code, again, err = await cli(process_env, "seed-demo", "--today", "2026-03-01")
    assert code == 0 and again == out, err  # idempotent

    code, out, err = await cli(process_env, "schemas", str(tmp_path / "schemas"))
    assert code == 0, err
    written = [Path(line) for line in out.splitlines()]
    assert written and all(p.is_file() for p in written)
    asyncapi = next(p for p in written if "asyncapi" in p.name)
    document = json.loads(asyncapi.read_text())
    channels = json.dumps(document)
    assert "evt.accounts.account.created" in channels
