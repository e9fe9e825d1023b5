"""``vendgate serve --workers N``: N processes on one port, restarted when killed, drained on stop.

The workers are real processes on PostgreSQL and Redis; the test finds them as the children
of the ``vendgate serve`` process in /proc.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from config.settings import Settings
from gateway.serve import WorkersRefused, check_workers
from gateway.simulate import simulator
from vending_core.service.demo_data import DEMO_METERS

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(parent: int) -> set[int]:
    """Pids whose parent is ``parent`` (from /proc/<pid>/stat, field 4)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == parent:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


async def _ready(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the workers did not become ready in 30 s")


async def _buy(http: aiohttp.ClientSession, base: str, msisdn: str, meter: str) -> str:
    """One USSD purchase of 100 on ``meter``; the final screen's text."""
    session = simulator("africastalking", http, base, msisdn=msisdn)
    await session.dial()
    for text in ("1", meter, "1", "100"):
        await session.send(text)
    final = await session.send("1")
    assert final.end
    return final.text


async def test_two_workers_serve_one_port_survive_a_kill_and_stop_on_sigterm(
    postgres_database_factory: Callable[[str], str], redis_url: str
) -> None:
    """Two workers sell on one port; a SIGKILLed worker is replaced; SIGTERM stops all.

    A purchase completes (token on the final screen) before and after one worker is killed
    with SIGKILL; the parent starts a new worker (a new pid among its children); SIGTERM to
    the parent ends it with status 0 and leaves no worker behind.
    """
    port = _free_port()
    env = {
        **os.environ,
        "VENDGATE_DATABASE_URL": postgres_database_factory("workers"),
        "VENDGATE_REDIS_URL": redis_url,
        "VENDGATE_SANDBOX_DELAY": "0.2",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--demo-data", "--workers", "2",
        "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await _ready(port)
        await _wait_for(lambda: len(_children(process.pid)) == 2, 10, "two workers")
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            assert "Token:" in await _buy(http, base, "+254711000901", DEMO_METERS[3].number)
            first = _children(process.pid)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            await _wait_for(
                lambda: len(_children(process.pid) - first) == 1,
                15,
                "a new worker in place of the killed one",
            )
            await _ready(port)
            assert "Token:" in await _buy(http, base, "+254711000902", DEMO_METERS[3].number)
        workers = _children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert not any(_alive(pid) for pid in workers)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        (Settings(database_url="sqlite+aiosqlite:///x.sqlite3"), "needs PostgreSQL"),
        (Settings(database_url="postgresql+asyncpg://h/db"), "needs the Redis session store"),
    ],
)
def test_workers_refused_where_state_is_not_shared(settings: Settings, refusal: str) -> None:
    """More than one worker needs PostgreSQL and Redis sessions; one worker needs neither."""
    check_workers(settings, 1)
    with pytest.raises(WorkersRefused, match=refusal):
        check_workers(settings, 2)
