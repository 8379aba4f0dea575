"""The gateway's operator command (`ecandidat schemas DIR`): the JSON Schemas and the AsyncAPI document."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecandidat.contracts.registry import export
from ecandidat.runtime.settings import KitSettings
from gateway.asyncapi import build


async def schemas(args: argparse.Namespace, settings: KitSettings) -> int:
    for path in export(Path(args.dir)):
        print(path)
    path = Path(args.dir) / "asyncapi.json"
    path.write_text(json.dumps(build(), indent=2, ensure_ascii=False))
    print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("schemas", help="export event and rpc JSON Schemas and the AsyncAPI document")
    s.add_argument("dir")
    s.set_defaults(run=schemas)
