"""The serving process's event loop: uvloop's where it is installed, asyncio's otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from gateway.serve import event_loop


def test_the_gateway_serves_on_uvloop_where_it_is_installed() -> None:
    """On Linux (uvloop is a dependency there) the loop is uvloop's Loop, and it runs."""
    loop = event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, result=42)) == 42
    finally:
        loop.close()


def test_without_uvloop_it_is_asyncio_s_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where uvloop cannot be imported (Windows), asyncio's selector loop serves instead."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    loop = event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert loop.run_until_complete(asyncio.sleep(0, result=42)) == 42
    finally:
        loop.close()
