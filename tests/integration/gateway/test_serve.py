"""``vendgate serve`` as a real process: starts on the embedded defaults, drains on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from gateway.simulate import simulator
from vending_core.service.demo_data import DEMO_METERS

TOKEN_LINE = "Token:"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _start(tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "VENDGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}",
        "VENDGATE_SANDBOX_DELAY": "0.5",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--demo-data",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("vendgate serve did not become ready in 10 s")


async def test_serve_sells_and_drains_in_flight_hops_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM while the pay hop waits for its token: the hop still completes with the token.

    The sandbox pays after 0.5 s, so the pay hop is in flight when the signal arrives;
    aiohttp stops accepting, lets the hop finish, then runs the cleanup; exit status 0.
    """
    port = _free_port()
    process = await _start(tmp_path, port)
    try:
        async with aiohttp.ClientSession() as http:
            session = simulator(
                "africastalking", http, f"http://127.0.0.1:{port}", msisdn="+254711000900"
            )
            await session.dial()
            for text in ("1", DEMO_METERS[3].number, "1", "100"):
                await session.send(text)
            pay = asyncio.create_task(session.send("1"))
            await asyncio.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            final = await pay
        assert final.end
        assert TOKEN_LINE in final.text, final.text
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
