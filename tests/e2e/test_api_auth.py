import json
import time

import pytest

from gateway import keys
from gateway.api.client import SigningClient
from gateway.api.signing import API_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.e2e.conftest import LiveGateway
from tests.support.api_world import METER, ledger, new_client

FLOAT = 1_000_000  # DEMO-POS's demo float, untouched by every refused request
PAYLOAD = {"meter_number": METER, "amount": 5_000}
BODY = json.dumps(PAYLOAD).encode()
PROBLEM_JSON = "application/problem+json"


async def _post_raw(
    gateway: LiveGateway, headers: dict[str, str], body: bytes
) -> tuple[int, str, dict[str, object]]:
    """POST /api/v1/vends with exactly these headers (plus JSON type and an idempotency key)."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k1", **headers}
    url = gateway.base_url + "/api/v1/vends"
    async with gateway.http.post(url, data=body, headers=headers) as reply:
        return (
            reply.status,
            reply.headers["Content-Type"].split(";")[0],
            await reply.json(content_type=None),
        )


async def _nothing_recorded(gateway: LiveGateway, key_id: str) -> None:
    """No sale, no float movement, no stored response under the key's idempotency key."""
    state = await ledger(gateway, METER)
    assert state.balance == FLOAT
    assert state.entries == []
    assert state.vends == []
    async with gateway.app[keys.CORE].uow() as uow:
        assert await uow.requests.get(key_id, "k1") is None


def _signed(client: SigningClient, body: bytes = BODY) -> dict[str, str]:
    return client.headers("POST", "/api/v1/vends", body)


async def test_a_correctly_signed_request_is_accepted(gateway: LiveGateway) -> None:
    """Baseline for the refusals below: the same request, correctly signed, sells (201)."""
    client, _ = await new_client(gateway)
    status, _, body = await _post_raw(gateway, _signed(client), BODY)
    assert status == 201, body
    assert (await ledger(gateway)).balance == FLOAT - 5_000


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({SIGNATURE_HEADER: "0" * 64}, "signature-invalid"),
        ({API_KEY_HEADER: "vk_000000000000000000000000"}, "api-key-unknown"),
        ({TIMESTAMP_HEADER: str(int(time.time()) - 3_600)}, "timestamp-stale"),
        ({TIMESTAMP_HEADER: str(int(time.time()) + 3_600)}, "timestamp-stale"),
        ({TIMESTAMP_HEADER: "soon"}, "timestamp-stale"),
        ({SIGNATURE_HEADER: ""}, "credentials-missing"),
    ],
)
async def test_bad_credentials_are_401_and_record_nothing(
    gateway: LiveGateway, change: dict[str, str], code: str
) -> None:
    """Wrong signature, unknown key, a timestamp an hour off or missing headers: 401 problem."""
    client, created = await new_client(gateway)
    status, content_type, body = await _post_raw(gateway, _signed(client) | change, BODY)
    assert status == 401
    assert content_type == PROBLEM_JSON
    assert body["type"] == f"https://vendgate.dev/problems/{code}"
    await _nothing_recorded(gateway, created.key_id)


async def test_a_signature_over_another_body_is_401(gateway: LiveGateway) -> None:
    """Headers signed for R50.00 sent with a body for R90.00: the body is covered, 401."""
    client, created = await new_client(gateway)
    tampered = json.dumps({"meter_number": METER, "amount": 9_000}).encode()
    status, _, body = await _post_raw(gateway, _signed(client), tampered)
    assert (status, body["type"]) == (401, "https://vendgate.dev/problems/signature-invalid")
    await _nothing_recorded(gateway, created.key_id)


async def test_an_address_outside_the_allow_list_is_403(gateway: LiveGateway) -> None:
    """A key limited to 10.0.0.0/8 called from 127.0.0.1, correctly signed: 403 problem."""
    client, created = await new_client(gateway, allowed_ips=("10.0.0.0/8",))
    status, content_type, body = await _post_raw(gateway, _signed(client), BODY)
    assert (status, content_type) == (403, PROBLEM_JSON)
    assert body["type"] == "https://vendgate.dev/problems/ip-not-allowed"
    await _nothing_recorded(gateway, created.key_id)


async def test_an_address_inside_the_allow_list_is_let_through(gateway: LiveGateway) -> None:
    """A key limited to 127.0.0.0/8 may call from 127.0.0.1."""
    client, _ = await new_client(gateway, allowed_ips=("127.0.0.0/8",))
    status, _, _ = await _post_raw(gateway, _signed(client), BODY)
    assert status == 201


async def test_an_oversized_body_is_413(gateway: LiveGateway) -> None:
    """A correctly signed body of 64 KiB + 1 byte is refused with 413 problem JSON."""
    client, created = await new_client(gateway)
    big = b" " * (64 * 1024 + 1)
    status, content_type, body = await _post_raw(gateway, _signed(client, big), big)
    assert (status, content_type) == (413, PROBLEM_JSON)
    assert body["status"] == 413
    await _nothing_recorded(gateway, created.key_id)


async def test_malformed_json_is_400(gateway: LiveGateway) -> None:
    """A signed body that is not JSON: 400 malformed-json."""
    client, created = await new_client(gateway)
    broken = b'{"meter_number": '
    status, content_type, body = await _post_raw(gateway, _signed(client, broken), broken)
    assert (status, content_type) == (400, PROBLEM_JSON)
    assert body["type"] == "https://vendgate.dev/problems/malformed-json"
    await _nothing_recorded(gateway, created.key_id)


async def test_invalid_fields_are_400_with_field_errors(gateway: LiveGateway) -> None:
    """A float amount, a missing meter and an unknown field are each named in ``errors``."""
    client, created = await new_client(gateway)
    wrong = json.dumps({"amount": 50.5, "colour": "red"}).encode()
    status, _, body = await _post_raw(gateway, _signed(client, wrong), wrong)
    assert status == 400
    assert body["type"] == "https://vendgate.dev/problems/invalid-request"
    errors = body["errors"]
    assert isinstance(errors, list)
    assert sorted(e["field"] for e in errors) == ["amount", "colour", "meter_number"]
    await _nothing_recorded(gateway, created.key_id)


async def test_a_vend_without_idempotency_key_is_400(gateway: LiveGateway) -> None:
    """POST /vends needs an Idempotency-Key: without one, 400 and nothing sold."""
    client, created = await new_client(gateway)
    response = await client.request("POST", "/api/v1/vends", PAYLOAD)
    assert response.status == 400
    assert response.json() == {
        "type": "https://vendgate.dev/problems/idempotency-key-missing",
        "title": "idempotency key missing",
        "status": 400,
        "detail": "Send an Idempotency-Key header of 1 to 100 letters, digits, '.', '_' or '-'.",
    }
    await _nothing_recorded(gateway, created.key_id)


async def test_core_refusals_are_problems_with_stable_codes(gateway: LiveGateway) -> None:
    """Unknown meter 404, amount under the R5.00 tariff minimum 422 with its limits."""
    client, created = await new_client(gateway)
    # 0000000999 + Luhn digit 3 (9*2->9, 9, 9*2->9: sum 27, 10 - 7 = 3): valid, not registered
    unknown = await client.request(
        "POST", "/api/v1/vends", {**PAYLOAD, "meter_number": "00000009993"}, idempotency_key="k1"
    )
    assert unknown.status == 404
    assert unknown.json()["type"] == "https://vendgate.dev/problems/meter-unknown"  # type: ignore[index]
    small = await client.request(
        "POST", "/api/v1/vends", {**PAYLOAD, "amount": 499}, idempotency_key="k2"
    )
    assert small.status == 422
    problem = small.json()
    assert isinstance(problem, dict)
    assert problem["type"] == "https://vendgate.dev/problems/amount-out-of-range"
    assert (problem["minimum"], problem["maximum"]) == (500, 500_000)  # RES-BLOCK's limits
    await _nothing_recorded(gateway, created.key_id)
