import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from gateway.app import Overrides, create_app
from gateway.sms.memory import MemorySmsSender
from tests.e2e.conftest import LiveGateway
from tests.support.api_world import METER, ledger, new_client, set_float
from vending_core.service.demo_data import DEMO_METERS

CONCURRENT = 100
AMOUNT = 1_000  # R10.00, above every demo tariff's R5.00 minimum; DEMO-POS's commission is 0


@pytest.fixture
async def postgres_api_gateway(
    postgres_engine: AsyncEngine, migrated_postgres_url: str
) -> AsyncIterator[LiveGateway]:
    """A live gateway with the demo data on the shared PostgreSQL database (emptied first)."""
    del postgres_engine  # requested for its truncation of every table
    sms = MemorySmsSender()
    settings = Settings(database_url=migrated_postgres_url)
    app = create_app(settings, overrides=Overrides(sms_sender=sms, demo_data=True))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield LiveGateway(app, str(server.make_url("")).rstrip("/"), http, sms)
    await server.close()


@pytest.fixture(
    params=["gateway", pytest.param("postgres_api_gateway", marks=pytest.mark.postgres)]
)
def api_gateway(request: pytest.FixtureRequest) -> LiveGateway:
    """A live gateway on SQLite (the e2e default), then on PostgreSQL."""
    gateway: LiveGateway = request.getfixturevalue(request.param)
    return gateway


async def test_100_concurrent_identical_vends_make_one_vend(api_gateway: LiveGateway) -> None:
    """100 copies of one request at once: one sale (201), 99 replays (200) of the same bytes."""
    client, _ = await new_client(api_gateway)
    payload = {"meter_number": METER, "amount": AMOUNT}
    responses = await asyncio.gather(
        *(
            client.request("POST", "/api/v1/vends", payload, idempotency_key="same")
            for _ in range(CONCURRENT)
        )
    )
    assert Counter(r.status for r in responses) == {201: 1, 200: CONCURRENT - 1}
    assert len({r.body for r in responses}) == 1
    state = await ledger(api_gateway, METER)
    assert len(state.vends) == 1
    assert state.balance == 1_000_000 - AMOUNT
    assert [e.amount for e in state.entries] == [-AMOUNT]


async def test_100_concurrent_vends_never_take_the_float_below_its_limit(
    api_gateway: LiveGateway,
) -> None:
    """Balance 30,000 + credit limit 20,000 covers exactly 50 sales of 1,000 out of 100.

    The other 50 are 409 vendor-float-exhausted, and the balance ends at -20,000: the limit.
    """
    await set_float(api_gateway, balance=30_000, credit_limit=20_000)
    client, _ = await new_client(api_gateway)
    meters = [m.number for m in DEMO_METERS]
    responses = await asyncio.gather(
        *(
            client.request(
                "POST",
                "/api/v1/vends",
                {"meter_number": meters[n % len(meters)], "amount": AMOUNT},
                idempotency_key=f"edge-{n}",
            )
            for n in range(CONCURRENT)
        )
    )
    assert Counter(r.status for r in responses) == {201: 50, 409: 50}
    refusals = {json.loads(r.body)["type"] for r in responses if r.status == 409}
    assert refusals == {"https://vendgate.dev/problems/vendor-float-exhausted"}
    state = await ledger(api_gateway, *meters)
    assert state.balance == -20_000
    assert len(state.vends) == 50
    assert len(state.entries) == 50
    assert min(e.balance_after for e in state.entries) == -20_000
