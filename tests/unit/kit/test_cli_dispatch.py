"""The operator's CLI finds the services' commands through entry points; without them it says so."""

from __future__ import annotations

import argparse

from ecandidat import cli
from ecandidat.runtime.settings import KitSettings


def test_every_service_command_is_found_through_the_entry_points() -> None:
    commands = cli.parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"dlq", "seed-demo", "create-admin", "schemas", "mail-test", "deliveries"} <= set(commands)


async def test_seed_demo_without_the_service_commands_fails_and_says_why(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "command_modules", lambda: [])
    assert await cli._seed_demo(argparse.Namespace(today=None), KitSettings()) == 1
    assert "run scripts/bootstrap" in capsys.readouterr().err
