"""An SMTP sink: accepts every message and stores it, unchanged, in a Maildir.

In process (tests, the local stack)::

    sink = SmtpSink(maildir=tmp / "maildir").start()
    ...  # the mailer sends to sink.host:sink.port
    [mail] = await sink.wait_for(1)
    sink.fail_with = (451, "4.3.0 try later")   # the next DATA is refused, nothing stored
    sink.delay = 0.2                            # a slow server: each answer comes 200 ms after the message is stored

Standalone: ``python -m ecandidat.devstack.smtpsink --host 127.0.0.1 --port 1025 --maildir DIR``
(``--verbose`` logs each stored message). Any process can read what was received with ``SmtpSink(maildir=DIR).messages()`` or any mail
client that reads Maildir (``mutt -f DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import mailbox
import re
import shutil
import signal
import tempfile
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Self

from ecandidat.devstack._process import LOCALHOST, ManagedServer, free_port

log = logging.getLogger("ecandidat.devstack.smtpsink")

_PARSER = BytesParser(policy=policy.default)
# mailbox.Maildir names files "<seconds>.M<microseconds>P<pid>Q<counter>.<host>"
_KEY = re.compile(r"^(\d+)\.M(\d+)P(\d+)Q(\d+)\.")


@dataclass(frozen=True)
class Delivery:
    """One accepted message with its SMTP envelope (which the stored file does not keep); the
    message is parsed when first read, not while the client waits for the server's answer."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @cached_property
    def message(self) -> EmailMessage:
        return _parse(self.raw)


def _parse(raw: bytes) -> EmailMessage:
    message = _PARSER.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _arrival(key: str) -> tuple[int, ...]:
    found = _KEY.match(key)
    return tuple(int(part) for part in found.groups()) if found else (1 << 62,)


class _MaildirHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        sink = self._sink
        failure = sink.fail_with
        if failure is not None:
            code, text = failure
            return f"{code} {text}"
        raw: bytes = envelope.original_content
        sink._store(raw, envelope.mail_from, tuple(envelope.rcpt_tos))
        if sink.delay > 0:
            # The message is the server's now; a client that dies before the answer never learns it.
            await asyncio.sleep(sink.delay)
        return "250 2.0.0 OK: stored"


class SmtpSink(ManagedServer):
    """aiosmtpd `Controller` (its own thread and event loop) writing to a Maildir.

    Hooks: `fail_with = (code, text)` answers DATA with that reply and stores nothing;
    `delay` (seconds) stores each message, then waits that long before answering, as a slow
    server does (a client killed meanwhile has sent a mail it will send again);
    `on_message(message)` is called (in the SMTP thread) after each message is stored, before
    the answer. Without `on_message`, a message is stored as received and answered without
    being parsed (parsing with the default policy costs ~5 ms of CPU a mail): `messages()` and
    `deliveries()` parse each one when it is first read.
    Without `maildir` a private temporary directory is used.
    """

    def __init__(
        self,
        host: str = LOCALHOST,
        port: int | None = None,
        maildir: Path | None = None,
        delay: float = 0.0,
    ) -> None:
        if maildir is None:
            parent = Path(tempfile.mkdtemp(prefix="ecandidat-smtp-"))
            weakref.finalize(self, shutil.rmtree, parent, ignore_errors=True)
            maildir = parent / "maildir"
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.maildir = Path(maildir)
        self.fail_with: tuple[int, str] | None = None
        self.delay = delay
        self.on_message: Callable[[EmailMessage], None] | None = None
        self._deliveries: list[Delivery] = []
        self._parsed: dict[str, EmailMessage] = {}  # by Maildir key: each file is parsed once
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> Self:
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller  # the `local` extra

        mailbox.Maildir(self.maildir, create=True)
        # A Controller closes its event loop when stopped: each start() needs a new one.
        # asyncio's create_server sets SO_REUSEADDR, so the same port can be bound again at once.
        controller = Controller(_MaildirHandler(self), hostname=self.host, port=self.port, ready_timeout=10.0)
        try:
            controller.start()
        except BaseException:
            with suppress(Exception):
                controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    # -- what was received ---------------------------------------------------------------------

    def _mailbox(self) -> mailbox.Maildir:
        return mailbox.Maildir(self.maildir, factory=None, create=True)

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: tuple[str, ...]) -> None:
        delivery = Delivery(mail_from, rcpt_tos, raw)
        with self._lock:
            key = self._mailbox().add(raw)
            self._deliveries.append(delivery)
        log.debug("stored %s: %s -> %s", key, mail_from, ", ".join(rcpt_tos))
        callback = self.on_message
        if callback is not None:
            try:
                message = delivery.message
                with self._lock:
                    self._parsed.setdefault(key, message)
                callback(message)
            except Exception:
                log.exception("SmtpSink.on_message raised")

    def messages(self) -> list[EmailMessage]:
        """Every message in the Maildir (also those stored by another process), oldest first.

        Each file is parsed once: tests poll this while the services they test run in the same
        event loop, and parsing a session's whole Maildir at every poll would starve them."""
        box = self._mailbox()
        result = []
        with self._lock:
            for key in sorted(box.iterkeys(), key=_arrival):
                message = self._parsed.get(key)
                if message is None:
                    try:
                        with box.get_file(key) as stream:
                            message = self._parsed[key] = _parse(stream.read())
                    except KeyError:
                        continue  # removed by a concurrent clear()
                result.append(message)
        return result

    def deliveries(self) -> list[Delivery]:
        """Messages received by this process's sink, with their envelope, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def clear(self) -> None:
        with self._lock:
            box = self._mailbox()
            for key in list(box.iterkeys()):
                box.discard(key)
            self._deliveries.clear()
            self._parsed.clear()

    async def wait_for(
        self,
        count: int = 1,
        timeout: float = 10.0,
        *,
        match: Callable[[EmailMessage], bool] | None = None,
    ) -> list[EmailMessage]:
        """Poll until at least `count` messages (matching `match`) are stored; TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [m for m in self.messages() if match is None or match(m)]
            if len(found) >= count:
                return found
            if loop.time() >= deadline:
                raise TimeoutError(f"{len(found)} message(s) after {timeout:g} s, expected {count}")
            await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ecandidat.devstack.smtpsink",
        description="SMTP sink storing every received message in a Maildir.",
    )
    parser.add_argument("--host", default=LOCALHOST)
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--verbose", action="store_true", help="log each stored message (its Maildir key and envelope)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.verbose:
        log.setLevel(logging.DEBUG)

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    sink = SmtpSink(args.host, args.port, args.maildir).start()
    print(f"SMTP sink on {sink.host}:{sink.port}, Maildir {sink.maildir.absolute()}", flush=True)
    try:
        stopping.wait()
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
