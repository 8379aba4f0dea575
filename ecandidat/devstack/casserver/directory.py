"""The test user directory: a JSON file read at each login (tests add users while it runs)."""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

from cas_server.auth import AuthUser


def _users() -> dict[str, dict[str, str]]:
    return json.loads(Path(os.environ["ECANDIDAT_CAS_USERS"]).read_text(encoding="utf-8"))["users"]


class DirectoryUser(AuthUser):
    """django-cas-server's authentication class (CAS_AUTH_CLASS) over `users.json`."""

    def __init__(self, username: str) -> None:
        super().__init__(username)
        self.entry = _users().get(username)

    def test_password(self, password: str) -> bool:
        return self.entry is not None and hmac.compare_digest(self.entry["password"].encode(), password.encode())

    def attributs(self) -> dict[str, str]:
        return {k: v for k, v in (self.entry or {}).items() if k != "password"}
