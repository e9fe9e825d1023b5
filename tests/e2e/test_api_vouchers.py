import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

import sts
from config.settings import Settings
from gateway import keys
from gateway.api.client import Response, SigningClient
from gateway.app import Overrides, create_app, voucher_salt
from gateway.sms.memory import MemorySmsSender
from tests.e2e.conftest import LiveGateway
from tests.support.api_world import ledger, new_client
from vending_core.adapters.payments_voucher import create_vouchers
from vending_core.service.demo_data import DEMO_METERS

REDEEM = "/api/v1/vouchers/redeem"
FLOAT = 1_000_000  # DEMO-POS's demo float (R10,000.00): a voucher vend never touches it
FACE = 10_000  # R100.00 cards
#: Demo meter 6: BUS-FLAT (R2.00/kWh, VAT 15 %, no fixed charge, no FBE, no debt).
FLAT = DEMO_METERS[5]
#: R100.00 incl. 15 % VAT is R86.9565 net; at R2.00/kWh that is 43.478 kWh -> 434 tenths.
FLAT_CREDIT_TENTHS = 434
WRONG_PIN = "0000 0000 0000 0001"  # one in 10**16: never one of a test's few cards


async def _cards(gateway: LiveGateway, count: int = 1, batch: str = "T1") -> list[str]:
    """The clear PINs of ``count`` new R100.00 cards (hashed with the gateway's salt)."""
    core = gateway.app[keys.CORE]
    salt = voucher_salt(gateway.app[keys.SETTINGS])
    cards = await create_vouchers(core.uow, batch, count, FACE, salt, datetime.now(UTC))
    return [pin for _, pin in cards]


async def _redeem(client: SigningClient, pin: str, key: str, meter: str = FLAT.number) -> Response:
    return await client.request(
        "POST", REDEEM, {"pin": pin, "meter_number": meter}, idempotency_key=key
    )


def _code(response: Response) -> str:
    body = response.json()
    assert isinstance(body, dict)
    assert response.headers["Content-Type"].startswith("application/problem+json")
    kind = body["type"]
    assert isinstance(kind, str)
    return kind.rsplit("/", 1)[-1]


async def test_a_redeemed_voucher_token_loads_on_the_reference_meter(gateway: LiveGateway) -> None:
    """Redeem once: 201 with a credit token the meter accepts for R100.00 of flat-tariff units.

    43.4 kWh (hand calculation above) reach the meter; the vendor's float is untouched (the
    card paid); the same request again is a byte-identical replay (200), not a second vend.
    """
    (pin,) = await _cards(gateway)
    client, _ = await new_client(gateway)
    first = await _redeem(client, pin, "card-1")
    assert first.status == 201, first
    receipt = json.loads(first.body)
    assert receipt["gross"] == FACE
    assert receipt["meter_number"] == FLAT.number
    [token] = [t["token"] for t in receipt["tokens"] if t["kind"] == "credit"]
    meter = FLAT.reference_meter()
    assert meter.enter(token).result is sts.MeterResult.ACCEPT
    assert meter.credit_tenths() == FLAT_CREDIT_TENTHS

    again = await _redeem(client, pin, "card-1")
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == first.body
    state = await ledger(gateway, FLAT.number)
    assert [v.id for v in state.vends] == [receipt["vend_id"]]
    assert state.balance == FLOAT
    assert state.entries == []


async def test_a_second_redemption_is_voucher_used(gateway: LiveGateway) -> None:
    """The same PIN under a new Idempotency-Key: 409 voucher-used, still one vend."""
    (pin,) = await _cards(gateway)
    client, _ = await new_client(gateway)
    assert (await _redeem(client, pin, "first")).status == 201
    second = await _redeem(client, pin, "second")
    assert second.status == 409
    assert _code(second) == "voucher-used"
    assert len((await ledger(gateway, FLAT.number)).vends) == 1


async def test_a_stored_key_with_another_card_or_meter_is_a_conflict(gateway: LiveGateway) -> None:
    """A key reused for a different card or meter: 422 idempotency-conflict, nothing redeemed.

    The second card stays unspent (it redeems later under a new key).
    """
    first_pin, second_pin = await _cards(gateway, 2)
    client, _ = await new_client(gateway)
    assert (await _redeem(client, first_pin, "k1")).status == 201
    other_card = await _redeem(client, second_pin, "k1")
    assert other_card.status == 422
    assert _code(other_card) == "idempotency-conflict"
    other_meter = await _redeem(client, first_pin, "k1", meter=DEMO_METERS[2].number)
    assert _code(other_meter) == "idempotency-conflict"
    assert (await _redeem(client, second_pin, "k2")).status == 201


async def test_an_unknown_pin_is_voucher_invalid_and_sells_nothing(gateway: LiveGateway) -> None:
    """A PIN of no card: 422 voucher-invalid, no vend, the float untouched; the PIN not echoed."""
    client, _ = await new_client(gateway)
    response = await _redeem(client, WRONG_PIN, "guess")
    assert response.status == 422
    assert _code(response) == "voucher-invalid"
    assert b"0001" not in response.body
    state = await ledger(gateway, FLAT.number)
    assert state.vends == []
    assert state.balance == FLOAT


async def test_redeem_needs_an_idempotency_key(gateway: LiveGateway) -> None:
    """Without the Idempotency-Key header: 400 idempotency-key-missing, the card unspent."""
    (pin,) = await _cards(gateway)
    client, _ = await new_client(gateway)
    response = await client.request("POST", REDEEM, {"pin": pin, "meter_number": FLAT.number})
    assert response.status == 400
    assert _code(response) == "idempotency-key-missing"
    assert (await _redeem(client, pin, "later")).status == 201


async def test_five_wrong_pins_lock_that_api_key_only(gateway: LiveGateway) -> None:
    """The default policy: 5 failures in 15 min lock for 30 min, counted per API client key.

    After five wrong PINs even a good card is 429 voucher-locked for that key; another key of
    the same vendor still redeems it.
    """
    (pin,) = await _cards(gateway)
    guesser, _ = await new_client(gateway)
    other, _ = await new_client(gateway)
    for attempt in range(5):
        wrong = await _redeem(guesser, WRONG_PIN, f"guess-{attempt}")
        assert _code(wrong) == "voucher-invalid"
    locked = await _redeem(guesser, pin, "good-card")
    assert locked.status == 429
    assert _code(locked) == "voucher-locked"
    assert (await _redeem(other, pin, "good-card")).status == 201


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


async def test_concurrent_redemptions_of_one_pin_make_one_vend(api_gateway: LiveGateway) -> None:
    """Eight terminals (eight keys) redeem one card at once: exactly one 201 and one vend.

    Every other answer is voucher-used (409), the float is untouched.
    """
    (pin,) = await _cards(api_gateway)
    clients = [(await new_client(api_gateway))[0] for _ in range(8)]
    responses = await asyncio.gather(
        *(_redeem(client, pin, f"term-{n}") for n, client in enumerate(clients))
    )
    assert Counter(r.status for r in responses) == {201: 1, 409: 7}
    assert {_code(r) for r in responses if r.status == 409} == {"voucher-used"}
    state = await ledger(api_gateway, FLAT.number)
    assert len(state.vends) == 1
    assert state.balance == FLOAT


async def test_concurrent_copies_of_one_request_make_one_vend(api_gateway: LiveGateway) -> None:
    """Ten copies of one request (same key, same PIN) at once: one vend, one receipt.

    A copy answers 201 (the sale), 200 (a replay of the same bytes) or 409
    duplicate-in-flight (the sale is still running: retry with the same key); never
    voucher-used, since it is the same redemption.
    """
    (pin,) = await _cards(api_gateway)
    client, _ = await new_client(api_gateway)
    responses = await asyncio.gather(*(_redeem(client, pin, "same") for _ in range(10)))
    statuses = Counter(r.status for r in responses)
    assert set(statuses) <= {200, 201, 409}
    assert {_code(r) for r in responses if r.status == 409} <= {"duplicate-in-flight"}
    assert len({r.body for r in responses if r.status in {200, 201}}) == 1
    settled = await _redeem(client, pin, "same")
    assert settled.status == 200
    assert len((await ledger(api_gateway, FLAT.number)).vends) == 1


async def test_the_openapi_document_describes_redeem(gateway: LiveGateway) -> None:
    """GET /openapi.json lists POST /vouchers/redeem with its body (pin, meter_number)."""
    async with gateway.http.get(gateway.base_url + "/api/v1/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/vouchers/redeem"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"Idempotency-Key"}
    schema = document["components"]["schemas"]["VoucherRedeemRequest"]
    assert set(schema["required"]) == {"pin", "meter_number"}
