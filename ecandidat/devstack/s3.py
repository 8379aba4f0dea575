"""An S3-compatible endpoint: moto's server as a subprocess.

moto keeps objects in memory: they are gone when the process stops. Any non-empty access key and
secret are accepted.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Self

from ecandidat.devstack._process import (
    LOCALHOST,
    ManagedServer,
    free_port,
    spawn,
    tail,
    terminate,
    wait_port,
)

ACCESS_KEY = "ecandidat"
SECRET_KEY = "ecandidat-secret"
REGION = "us-east-1"


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True when `url` answers HTTP at all (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError as error:
        error.close()
        return True
    except (OSError, ValueError):
        return False


class S3Server(ManagedServer):
    """`python -m moto.server -H 127.0.0.1 -p PORT`; its log in `data_dir`/moto.log."""

    access_key = ACCESS_KEY
    secret_key = SECRET_KEY
    region = REGION

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | None = None,
        *,
        host: str = LOCALHOST,
        log_file: Path | None = None,
    ) -> None:
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="ecandidat-s3-"))
            weakref.finalize(self, shutil.rmtree, data_dir, ignore_errors=True)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.data_dir = Path(data_dir)
        self.log_file = log_file if log_file is not None else self.data_dir / "moto.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        if self.running:
            return self
        self._claim_port("the S3 server")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]
        self.process = spawn(argv, self.log_file)
        try:
            wait_port(self.host, self.port, timeout, process=self.process)
            deadline = time.monotonic() + timeout
            while not http_answers(f"{self.endpoint}/moto-api/"):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"moto did not answer HTTP on {self.endpoint}")
                time.sleep(0.05)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"the S3 server failed to start:\n{tail(self.log_file)}") from exc
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            terminate(self.process, signal.SIGTERM, timeout)
            self.process = None
