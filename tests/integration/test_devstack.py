"""The infrastructure starters of ecandidat.devstack against the real servers they start.

Self-contained: every server here is started by this module on free ports, in temporary
directories (no fixture from tests/conftest.py is used).
"""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import nats
import pytest
import urllib3
from minio import Minio
from nats.js.api import StorageType, StreamConfig

from ecandidat.devstack.infra import (
    NatsServer,
    PostgresServer,
    S3Server,
    SmtpSink,
    drop_database,
    ensure_database,
    free_port,
    reachable,
    wait_port,
)
from ecandidat.devstack.supervisor import Program, Supervised, has_main, stop_all
from tests.conftest import eventually, pg_data_dir

ROOT = Path(__file__).resolve().parents[2]


# -- ports ---------------------------------------------------------------------------------------


def test_free_port_is_free_and_wait_port_times_out() -> None:
    port = free_port()
    assert not reachable("127.0.0.1", port)
    with pytest.raises(TimeoutError):  # a wait that ignored its timeout would end with the test's
        wait_port("127.0.0.1", port, timeout=0.3)


# -- NATS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nats_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(store_dir=tmp_path_factory.mktemp("nats-js")) as server:
        yield server


async def _connect(url: str) -> nats.NATS:
    return await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)


@pytest.mark.slow
async def test_jetstream_messages_survive_restart_and_crash(nats_js: NatsServer) -> None:
    client = await _connect(nats_js.url)
    try:
        js = client.jetstream()
        await js.add_stream(StreamConfig(name="DEVSTACK", subjects=["devstack.>"], storage=StorageType.FILE))
        for n in range(3):
            ack = await js.publish("devstack.probe", f"message {n}".encode())
            assert ack.seq == n + 1
    finally:
        await client.close()

    nats_js.restart()  # SIGTERM, then a new process on the same port and store
    client = await _connect(nats_js.url)
    try:
        js = client.jetstream()
        assert (await js.stream_info("DEVSTACK")).state.messages == 3
        await js.publish("devstack.probe", b"before the crash")
    finally:
        await client.close()

    nats_js.kill()  # SIGKILL: the OS still has every acknowledged write
    assert not reachable("127.0.0.1", nats_js.port)
    nats_js.start()
    client = await _connect(nats_js.url)
    try:
        js = client.jetstream()
        assert (await js.stream_info("DEVSTACK")).state.messages == 4
        first = await js.get_msg("DEVSTACK", 1)
        assert first.data == b"message 0"
    finally:
        await client.close()


def test_nats_refuses_a_port_in_use(nats_js: NatsServer, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="already in use"):
        NatsServer(port=nats_js.port, store_dir=tmp_path).start()


# -- PostgreSQL ----------------------------------------------------------------------------------


async def test_private_postgres_cluster_and_databases() -> None:
    with pg_data_dir() as data_dir:
        with PostgresServer(data_dir, durable=False) as server:
            assert server.url == f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
            url = await ensure_database(server.url, "devstack_probe")
            assert url == server.database_url("devstack_probe")
            assert await ensure_database(server.url, "devstack_probe") == url  # idempotent
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
            finally:
                await conn.close()

        with PostgresServer(data_dir, port=free_port(), durable=False) as server:  # same data, new port
            lingering = await asyncpg.connect(server.database_url("devstack_probe"))
            try:
                assert await lingering.fetchval("SELECT v FROM kept") == 42
                await drop_database(server.url, "devstack_probe")  # terminates `lingering` first
            finally:
                await lingering.close()
            admin = await asyncpg.connect(server.url)
            try:
                names = await admin.fetch("SELECT datname FROM pg_database")
            finally:
                await admin.close()
            assert "devstack_probe" not in {row["datname"] for row in names}


# -- S3 ------------------------------------------------------------------------------------------


def test_s3_put_and_get_an_object(tmp_path: Path) -> None:
    with S3Server(data_dir=tmp_path) as s3:
        http = urllib3.PoolManager(retries=False)
        client = Minio(
            s3.endpoint.removeprefix("http://"),
            access_key=s3.access_key,
            secret_key=s3.secret_key,
            secure=False,
            region=s3.region,
            http_client=http,
        )
        try:
            client.make_bucket("ecandidat-pieces")
            body = "relevé de notes".encode() * 1000
            client.put_object(
                "ecandidat-pieces", "c1/releve.pdf", io.BytesIO(body), len(body),
                content_type="application/pdf",
            )  # fmt: skip
            response = client.get_object("ecandidat-pieces", "c1/releve.pdf")
            try:
                assert response.read() == body
                assert response.headers["Content-Type"] == "application/pdf"
            finally:
                response.close()
                response.release_conn()
        finally:
            http.clear()
    assert not reachable("127.0.0.1", s3.port)


# -- SMTP sink -----------------------------------------------------------------------------------


def _mail(subject: str, to: str = "candidat@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "eCandidat <ne-pas-repondre@ecandidat.localhost>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"Bonjour,\n\n{subject} : votre pièce a été refusée.\n")
    return message


async def test_smtp_sink_stores_reads_fails_and_restarts(tmp_path: Path) -> None:
    maildir = tmp_path / "maildir"
    seen: list[str] = []
    sink = SmtpSink(maildir=maildir).start()
    try:
        sink.on_message = lambda message: seen.append(str(message["Subject"]))
        await aiosmtplib.send(
            _mail("Pièce refusée"), hostname=sink.host, port=sink.port,
            recipients=["candidat@example.org", "copie-cachee@example.org"],
        )  # fmt: skip
        await aiosmtplib.send(_mail("Candidature transmise"), hostname=sink.host, port=sink.port)
        first, second = await sink.wait_for(2, timeout=5)
        assert first["Subject"] == "Pièce refusée" and second["Subject"] == "Candidature transmise"
        assert "votre pièce a été refusée" in first.get_content()
        assert seen == ["Pièce refusée", "Candidature transmise"]
        assert sink.deliveries()[0].rcpt_tos == ("candidat@example.org", "copie-cachee@example.org")
        # Stored as received (the subject still RFC 2047-encoded); the files' names do not sort by
        # arrival within a second (their microseconds are not zero-padded), so no order is assumed.
        stored = [path.read_bytes() for path in (maildir / "new").iterdir()]
        assert len(stored) == 2 and sum(b"Subject: =?utf-8?" in data for data in stored) == 1
        # Another reader of the same Maildir (e.g. another process) sees the same messages.
        assert [m["Subject"] for m in SmtpSink(maildir=maildir).messages()] == seen

        for code in (451, 550):
            sink.fail_with = (code, "4.3.0 try later" if code == 451 else "5.1.1 no such user")
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await aiosmtplib.send(_mail("refusé"), hostname=sink.host, port=sink.port)
            assert refused.value.code == code
        assert len(sink.messages()) == 2  # nothing stored while failing

        sink.fail_with = None
        sink.clear()
        assert sink.messages() == [] and sink.deliveries() == []

        port = sink.port
        sink.stop()
        assert not reachable(sink.host, port)
        sink.start()  # same port at once (SO_REUSEADDR)
        assert sink.port == port
        await aiosmtplib.send(_mail("après redémarrage"), hostname=sink.host, port=sink.port)
        [message] = await sink.wait_for(1, timeout=5)
        assert message["Subject"] == "après redémarrage"
    finally:
        sink.stop()


async def test_smtp_sink_runs_standalone(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "maildir"
    process = subprocess.Popen(
        [sys.executable, "-m", "ecandidat.devstack.smtpsink",
         "--host", "127.0.0.1", "--port", str(port), "--maildir", str(maildir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 20, process=process)
        await aiosmtplib.send(_mail("standalone"), hostname="127.0.0.1", port=port)
        [message] = await SmtpSink(maildir=maildir).wait_for(1, timeout=5)
        assert message["Subject"] == "standalone"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert f"SMTP sink on 127.0.0.1:{port}" in output.decode()


# -- the local stack's supervisor ----------------------------------------------------------------


@pytest.mark.slow
async def test_supervisor_restarts_a_crashed_process_and_kills_a_stubborn_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, body in {
        "devstack_crashy": "import sys, time\nprint('up', flush=True)\ntime.sleep(0.3)\nsys.exit(3)\n",
        "devstack_stubborn": textwrap.dedent(
            """\
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print('ignoring SIGTERM', flush=True)
            while True:
                time.sleep(1)
            """
        ),
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__main__.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert has_main("devstack_crashy") and not has_main("devstack_absent")
    assert not has_main("services.devstack_absent")

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    crashy = Supervised(Program("crashy", "devstack_crashy"), env, tmp_path, tmp_path / "logs")
    stubborn = Supervised(Program("stubborn", "devstack_stubborn"), env, tmp_path, tmp_path / "logs")
    tasks = [asyncio.create_task(child.run()) for child in (crashy, stubborn)]
    log = tmp_path / "logs" / "crashy.log"
    try:
        await eventually(
            lambda: log.exists() and log.read_text().count("up") >= 2,
            timeout=30,
            message="the crashed process was started again",
        )
        assert crashy.restarts >= 1
    finally:
        await stop_all([crashy, stubborn], tasks, grace=1.0)
    # It ignored SIGTERM: only the kill after the grace period can have ended it.
    assert stubborn.process is not None and stubborn.process.returncode == -signal.SIGKILL


def test_devstack_env_plans_its_own_servers_for_unreachable_urls(tmp_path: Path) -> None:
    unreachable = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "ECANDIDAT_STATE_DIR": str(tmp_path / "state"),
        "NATS_URL": f"nats://127.0.0.1:{unreachable}",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{unreachable}/devstack",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ecandidat.devstack", "env"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=True,
    )  # fmt: skip
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines() if line.startswith("export ")
    )
    for name in ("DATABASE_URL", "NATS_URL", "S3_ENDPOINT", "SMTP_HOST", "SMTP_PORT", "MAIL_FROM",
                 "GATEWAY_PORT", "PUBLIC_BASE_URL", "ECANDIDAT_STATE_DIR"):  # fmt: skip
        assert name in exports, done.stdout
    assert exports["NATS_URL"] != env["NATS_URL"]
    assert exports["DATABASE_URL"].endswith("/devstack")
    assert "to be started by up: NATS" in done.stdout and "to be started by up: DB" in done.stdout
    assert not (tmp_path / "state").exists()  # a dry run creates nothing


def test_devstack_does_not_reuse_an_open_nats(tmp_path: Path) -> None:
    """A NATS that lets anyone in is not the bus the platform runs on: `up` starts its own, secured."""
    with NatsServer(store_dir=tmp_path / "open") as open_bus:
        env = {"PATH": "/usr/bin:/bin", "ECANDIDAT_STATE_DIR": str(tmp_path / "state"), "NATS_URL": open_bus.url}
        done = subprocess.run(
            [sys.executable, "-m", "ecandidat.devstack", "env"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines() if line.startswith("export ")
    )
    assert exports["NATS_URL"] != open_bus.url
    assert "to be started by up: NATS" in done.stdout and "lets anyone in" in done.stderr
    assert exports["NATS_CREDENTIALS_DIR"].endswith("nats-credentials")
