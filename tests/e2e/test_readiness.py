"""End to end over real HTTP: liveness and readiness, with and without Redis.

``/healthz`` says the process is alive; ``/readyz`` checks the database and, when Redis is
configured, Redis (200 when all answer, 503 otherwise). A gateway whose Redis is down still
starts and ends USSD sessions politely instead of failing with a 5xx.
"""

from __future__ import annotations

from gateway.simulate import simulator
from tests.e2e.conftest import GatewayFactory, LiveGateway

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # port 1: nothing listens there


async def get_json(gateway: LiveGateway, path: str) -> tuple[int, object]:
    """GET ``path``; the status and JSON body."""
    async with gateway.http.get(gateway.base_url + path) as response:
        return response.status, await response.json()


async def test_healthz_is_200(gateway: LiveGateway) -> None:
    """The liveness probe answers 200 {"status": "ok"}."""
    assert await get_json(gateway, "/healthz") == (200, {"status": "ok"})


async def test_readyz_checks_the_database(gateway: LiveGateway) -> None:
    """Without Redis configured, readiness checks the database only: 200, database true."""
    status, body = await get_json(gateway, "/readyz")
    assert status == 200
    assert body == {"status": "ready", "checks": {"database": True}}


async def test_readyz_checks_redis_when_configured(
    start_gateway: GatewayFactory, redis_url: str
) -> None:
    """With a reachable Redis configured, readiness reports both checks true: 200."""
    gateway = await start_gateway(redis_url=redis_url)
    status, body = await get_json(gateway, "/readyz")
    assert status == 200
    assert body == {"status": "ready", "checks": {"database": True, "redis": True}}


async def test_redis_down_the_gateway_starts_but_is_not_ready(
    start_gateway: GatewayFactory,
) -> None:
    """Redis configured at a closed port: the gateway starts, is alive, and /readyz is 503."""
    gateway = await start_gateway(redis_url=CLOSED_REDIS)
    assert await get_json(gateway, "/healthz") == (200, {"status": "ok"})
    status, body = await get_json(gateway, "/readyz")
    assert status == 503
    assert body == {"status": "not-ready", "checks": {"database": True, "redis": False}}


async def test_redis_down_ussd_ends_politely(start_gateway: GatewayFactory) -> None:
    """Redis down: a USSD dial gets a 200 END "Service unavailable" screen, never a 5xx."""
    gateway = await start_gateway(redis_url=CLOSED_REDIS)
    for provider in ("africastalking", "hubtel"):
        session = simulator(provider, gateway.http, gateway.base_url, msisdn="+254711700001")
        screen = await session.dial()
        assert screen.status == 200
        assert screen.end
        assert screen.text == "Service unavailable. Please try again later."
