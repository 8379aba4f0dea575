"""`python -m ecandidat.devstack.casserver --port PORT --dir DIR --service REGEX [--users FILE]`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

SHIPPED_USERS = Path(__file__).with_name("users.json")
RELEASED = ("mail", "sn", "givenName", "supannCodeINE")


def provision(service: str) -> None:
    """The eCandidat service: its URLs, the attributes released to it, single logout on."""
    from cas_server.models import ReplaceAttributName, ServicePattern

    pattern, _ = ServicePattern.objects.update_or_create(
        name="eCandidat",
        defaults={"pattern": service, "pos": 100, "single_log_out": True},
    )
    for name in RELEASED:
        ReplaceAttributName.objects.get_or_create(name=name, replace="", service_pattern=pattern)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecandidat.devstack.casserver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", type=Path, required=True, help="the SQLite database and the users file")
    parser.add_argument("--service", required=True, help="regex of the eCandidat service URLs")
    parser.add_argument(
        "--users", type=Path, default=None, help=f"test user directory (default: a copy of {SHIPPED_USERS.name})"
    )
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    users = args.users or args.dir / "users.json"
    if not users.exists():
        shutil.copyfile(SHIPPED_USERS, users)
    os.environ["ECANDIDAT_CAS_DIR"] = str(args.dir)
    os.environ["ECANDIDAT_CAS_USERS"] = str(users)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecandidat.devstack.casserver.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    provision(args.service)
    sys.stdout.flush()
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, skip_checks=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
