"""A CAS 3.0 server (the university's ENT): django-cas-server as a subprocess
(`ecandidat.devstack.casserver`), with the test user directory `users.json` in its data directory.

Its `/cas/login` page is the real one (username, password, login ticket, CSRF); tickets are
validated at `/cas/p3/serviceValidate` and single logout is sent to the service URL. `add_user`
writes a user into the directory while it runs (read at each login).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Self

from ecandidat.devstack._process import LOCALHOST, ManagedServer, free_port, spawn, tail, terminate, wait_port
from ecandidat.devstack.s3 import http_answers

SHIPPED_USERS = Path(__file__).with_name("casserver") / "users.json"


class CasServer(ManagedServer):
    """`python -m ecandidat.devstack.casserver`; `service` is the regex of the service URLs it
    accepts (the eCandidat gateway's), `url` its base (`http://127.0.0.1:PORT/cas`)."""

    def __init__(
        self,
        service: str,
        port: int | None = None,
        data_dir: Path | None = None,
        *,
        host: str = LOCALHOST,
        log_file: Path | None = None,
        ticket_validity: int = 60,
    ) -> None:
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="ecandidat-cas-"))
            weakref.finalize(self, shutil.rmtree, data_dir, ignore_errors=True)
        self.service = service
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.data_dir = Path(data_dir)
        self.log_file = log_file if log_file is not None else self.data_dir / "cas.log"
        self.ticket_validity = ticket_validity
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_base_url(cls, public_base_url: str, **kwargs: object) -> CasServer:
        """A server accepting every URL under the gateway's `public_base_url`."""
        return cls("^" + re.escape(public_base_url.rstrip("/")) + "/.*", **kwargs)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/cas"

    @property
    def users_file(self) -> Path:
        return self.data_dir / "users.json"

    def add_user(self, uid: str, password: str, **attributes: str) -> None:
        users = json.loads(self.users_file.read_text(encoding="utf-8"))
        users["users"][uid] = {"password": password, **attributes}
        scratch = self.users_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(users, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(scratch, self.users_file)

    def start(self, timeout: float = 60.0) -> Self:
        if self.running:
            return self
        self._claim_port("the CAS server")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.users_file.exists():
            shutil.copyfile(SHIPPED_USERS, self.users_file)
        argv = [
            sys.executable, "-m", "ecandidat.devstack.casserver", "--host", self.host, "--port", str(self.port),
            "--dir", str(self.data_dir), "--service", self.service, "--users", str(self.users_file),
        ]  # fmt: skip
        env = {**os.environ, "ECANDIDAT_CAS_TICKET_VALIDITY": str(self.ticket_validity)}
        self.process = spawn(argv, self.log_file, env=env)
        try:
            wait_port(self.host, self.port, timeout, process=self.process)
            deadline = time.monotonic() + timeout
            while not http_answers(f"{self.url}/login"):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"the CAS server did not answer HTTP on {self.url}")
                time.sleep(0.1)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"the CAS server failed to start:\n{tail(self.log_file)}") from exc
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            terminate(self.process, signal.SIGTERM, timeout)
            self.process = None
