"""Every process runs on the event loop EVENT_LOOP names: uvloop unless told otherwise."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from pydantic import ValidationError

from ecandidat.runtime import aio
from ecandidat.runtime.settings import KitSettings
from web.settings import WebSettings


async def _loop_type() -> type:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop())


def test_processes_run_on_uvloop_by_default(monkeypatch):
    monkeypatch.delenv("EVENT_LOOP", raising=False)
    assert KitSettings().event_loop == WebSettings().event_loop == "uvloop"
    assert aio.run(_loop_type(), KitSettings().event_loop) is uvloop.Loop


def test_the_standard_librarys_loop_when_asked(monkeypatch):
    monkeypatch.setenv("EVENT_LOOP", "asyncio")
    kind = KitSettings().event_loop
    assert kind == WebSettings().event_loop == "asyncio"
    loop_type = aio.run(_loop_type(), kind)
    assert loop_type is not uvloop.Loop and issubclass(loop_type, asyncio.BaseEventLoop)


def test_an_unknown_loop_is_refused(monkeypatch):
    monkeypatch.setenv("EVENT_LOOP", "trio")
    with pytest.raises(ValidationError):
        KitSettings()
