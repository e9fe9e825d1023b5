"""The load generator's open loop (:func:`gateway.loadgen.run_paced`) against a tiny server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.loadgen import Credentials, Mix, run_paced

CREDENTIALS = Credentials("key", "secret", "admin", "password")


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[float]]]:
    """A /healthz that answers after ``delays[0]`` seconds (0 unless a test sets it)."""
    delays = [0.0]

    async def healthz(_: web.Request) -> web.Response:
        await asyncio.sleep(delays[0])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    async with TestServer(app) as running:
        yield str(running.make_url("")).rstrip("/"), delays


async def test_requests_start_at_the_rate_whatever_the_answers(
    server: tuple[str, list[float]],
) -> None:
    """50 requests/s for 0.3 s starts requests 0..14 (n / 50 < 0.3 for n < 15), all answered.

    The answers take 0.1 s, five times the 0.02 s between starts: a closed loop with one slot
    would send 3 in that time, the open loop still sends 15 (up to 10 in flight allowed).
    """
    base, delays = server
    delays[0] = 0.1
    mix = Mix((base,), (("health", 1),))
    async with aiohttp.ClientSession() as http:
        outcomes, skipped = await run_paced(
            http, CREDENTIALS, mix, seconds=0.3, rate=50, concurrency=10
        )
    assert skipped == 0
    assert sorted(o.purchase.n for o in outcomes) == list(range(15))
    assert all(o.ok for o in outcomes)
    assert min(o.seconds for o in outcomes) >= 0.1


async def test_a_request_due_while_the_slots_are_full_is_not_sent_but_counted(
    server: tuple[str, list[float]],
) -> None:
    """One slot, answers after 0.25 s, 20 requests/s for 0.2 s: 4 are due, the first is sent.

    Requests 1, 2 and 3 fall due at 0.05, 0.10 and 0.15 s while request 0 is still in flight
    (until 0.25 s): not sent, counted as 3.
    """
    base, delays = server
    delays[0] = 0.25
    mix = Mix((base,), (("health", 1),))
    async with aiohttp.ClientSession() as http:
        outcomes, skipped = await run_paced(
            http, CREDENTIALS, mix, seconds=0.2, rate=20, concurrency=1
        )
    assert [o.purchase.n for o in outcomes] == [0]
    assert skipped == 3
