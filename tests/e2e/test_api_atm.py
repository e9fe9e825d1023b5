import asyncio
import json

from gateway.api.client import Response, SigningClient
from gateway.api.signing import API_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.e2e.conftest import GatewayFactory, LiveGateway
from tests.support.api_world import METER, ledger, new_client

FLOAT = 1_000_000  # DEMO-POS's demo float: R10,000.00, commission 0
AMOUNT = 5_000  # R50.00


async def _send_and_never_read(
    gateway: LiveGateway, headers: dict[str, str], body: bytes
) -> asyncio.StreamWriter:
    """Send POST /api/v1/vends over a raw socket; the caller never reads the answer."""
    host, port = gateway.base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"POST /api/v1/vends HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        f"{head}\r\n".encode()
        + body
    )
    await writer.drain()
    return writer


async def _last_response(client: SigningClient, key: str) -> Response:
    """Ask for the last response until the sale is stored (the ATM's retry loop)."""
    async with asyncio.timeout(10):
        while True:
            response = await client.request("GET", f"/api/v1/vends/last?idempotency_key={key}")
            if response.status == 200:
                return response
            assert response.status == 404, response
            await asyncio.sleep(0.05)


async def test_the_atm_story(gateway: LiveGateway) -> None:
    """Answer lost -> last response gives the token; resend -> same bytes; reversal -> refund.

    Exactly one vend is stored for the meter, and the float moves out once (sale) and back
    once (reversal): 1,000,000 - 5,000 + 5,000.
    """
    client, _ = await new_client(gateway)
    body = json.dumps({"meter_number": METER, "amount": AMOUNT}).encode()
    headers = client.headers("POST", "/api/v1/vends", body)
    headers |= {"Content-Type": "application/json", "Idempotency-Key": "atm42-000187"}
    connection = await _send_and_never_read(gateway, headers, body)
    last = await _last_response(client, "atm42-000187")
    connection.close()  # the link drops: the first answer never reaches the ATM
    await connection.wait_closed()
    receipt = json.loads(last.body)
    assert receipt["gross"] == AMOUNT
    assert receipt["meter_number"] == METER
    [token] = [t["token"] for t in receipt["tokens"] if t["kind"] == "credit"]
    assert len(token) == 20
    assert token.isdigit()
    assert (await ledger(gateway)).balance == FLOAT - AMOUNT

    again = await client.request(
        "POST",
        "/api/v1/vends",
        {"meter_number": METER, "amount": AMOUNT},
        idempotency_key="atm42-000187",
    )
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == last.body  # byte for byte

    reversed_ = await client.request(
        "POST", f"/api/v1/vends/{receipt['vend_id']}/reversal", {"reason": "cash not dispensed"}
    )
    assert reversed_.status == 200, reversed_
    assert json.loads(reversed_.body)["status"] == "reversed"

    state = await ledger(gateway, METER)
    assert state.balance == FLOAT
    assert [v.id for v in state.vends] == [receipt["vend_id"]]
    assert [(e.kind, e.amount) for e in state.entries] == [
        ("sale", -AMOUNT),
        ("reversal", AMOUNT),
    ]


async def test_a_fresh_vend_answers_201_with_the_bytes_last_response_replays(
    gateway: LiveGateway,
) -> None:
    """The first answer and the last-response advice are the same bytes (stored response)."""
    client, _ = await new_client(gateway)
    first = await client.request(
        "POST", "/api/v1/vends", {"meter_number": METER, "amount": AMOUNT}, idempotency_key="k1"
    )
    assert first.status == 201, first
    assert "Idempotent-Replayed" not in first.headers
    last = await client.request("GET", "/api/v1/vends/last?idempotency_key=k1")
    assert last.status == 200
    assert last.body == first.body


async def test_unknown_idempotency_key_is_transaction_not_found(gateway: LiveGateway) -> None:
    """Last response of a key never used: 404 problem transaction-not-found (retry as new)."""
    client, _ = await new_client(gateway)
    response = await client.request("GET", "/api/v1/vends/last?idempotency_key=never-sent")
    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert isinstance(problem, dict)
    assert problem["type"] == "https://vendgate.dev/problems/transaction-not-found"


async def test_same_key_with_another_body_is_a_conflict(gateway: LiveGateway) -> None:
    """Reusing an Idempotency-Key for a different amount is refused; nothing more is sold."""
    client, _ = await new_client(gateway)
    payload = {"meter_number": METER, "amount": AMOUNT}
    assert (
        await client.request("POST", "/api/v1/vends", payload, idempotency_key="k")
    ).status == 201
    other = await client.request(
        "POST", "/api/v1/vends", {**payload, "amount": 6_000}, idempotency_key="k"
    )
    assert other.status == 422
    assert other.json() == {
        "type": "https://vendgate.dev/problems/idempotency-conflict",
        "title": "idempotency conflict",
        "status": 422,
        "detail": "request id k was already used for a different request",
    }
    assert (await ledger(gateway)).balance == FLOAT - AMOUNT


async def test_a_confirmed_vend_cannot_be_reversed(gateway: LiveGateway) -> None:
    """Confirmation advice closes the sale: a later reversal is 409 reversal-refused."""
    client, _ = await new_client(gateway)
    sold = await client.request(
        "POST", "/api/v1/vends", {"meter_number": METER, "amount": AMOUNT}, idempotency_key="c1"
    )
    vend_id = json.loads(sold.body)["vend_id"]
    assert (await client.request("POST", f"/api/v1/vends/{vend_id}/confirm")).status == 200
    refused = await client.request(
        "POST", f"/api/v1/vends/{vend_id}/reversal", {"reason": "changed my mind"}
    )
    assert refused.status == 409
    assert refused.json()["type"].endswith("/reversal-refused")  # type: ignore[index]
    assert (await ledger(gateway)).balance == FLOAT - AMOUNT


async def test_another_client_cannot_see_or_reverse_the_sale(gateway: LiveGateway) -> None:
    """Keys are separate namespaces: another key gets 404 for the vend and for its key."""
    seller, _ = await new_client(gateway)
    other, _ = await new_client(gateway)
    sold = await seller.request(
        "POST", "/api/v1/vends", {"meter_number": METER, "amount": AMOUNT}, idempotency_key="s1"
    )
    vend_id = json.loads(sold.body)["vend_id"]
    mine = await seller.request("GET", f"/api/v1/vends/{vend_id}")
    assert mine.status == 200
    assert mine.body == sold.body  # same receipt, same canonical JSON
    assert (await other.request("GET", f"/api/v1/vends/{vend_id}")).status == 404
    assert (await other.request("GET", "/api/v1/vends/last?idempotency_key=s1")).status == 404
    reversal = await other.request(
        "POST", f"/api/v1/vends/{vend_id}/reversal", {"reason": "not mine"}
    )
    assert reversal.status == 404
    assert (await ledger(gateway)).balance == FLOAT - AMOUNT


async def test_quote_meter_balance_reprint_and_openapi(start_gateway: GatewayFactory) -> None:
    """The read routes answer for the demo data; openapi.json needs no signature."""
    gateway = await start_gateway()
    client, _ = await new_client(gateway)
    meter = (await client.request("GET", f"/api/v1/meters/{METER}")).json()
    assert meter == {
        "meter_number": METER,
        "utility": "electricity",
        "name": "Fatima Bello",
        "address": "3 Demo Street",
        "can_vend": True,
        "reason": None,
        "fbe_due_tenths": 0,
        "min_amount": 500,
        "max_amount": 500_000,
        "language": "en",
    }
    quote = await client.request("POST", "/api/v1/quotes", {"meter_number": METER, "amount": 5000})
    assert quote.status == 200
    assert quote.json()["breakdown"]["gross"] == 5000  # type: ignore[index]
    assert (await ledger(gateway)).balance == FLOAT  # a quote stores nothing
    balance = (await client.request("GET", "/api/v1/vendor/balance")).json()
    assert balance == {
        "vendor_code": "DEMO-POS",
        "balance": FLOAT,
        "credit_limit": 0,
        "available": FLOAT,
    }
    sold = await client.request(
        "POST", "/api/v1/vends", {"meter_number": METER, "amount": AMOUNT}, idempotency_key="r1"
    )
    reprint = (await client.request("POST", "/api/v1/reprints", {"meter_number": METER})).json()
    assert isinstance(reprint, dict)
    assert [v["tokens"] for v in reprint["vends"]] == [json.loads(sold.body)["tokens"]]
    async with gateway.http.get(f"{gateway.base_url}/api/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert "/vends/last" in document["paths"]
    assert set(document["components"]["securitySchemes"]) == {
        API_KEY_HEADER,
        TIMESTAMP_HEADER,
        SIGNATURE_HEADER,
    }
