"""Partner API commands: ``vendgate api create-client`` and ``vendgate vend --url``.

``create-client`` prints the key id and the secret. The secret is shown this once: only its
sealed form (AES-GCM under the key-encryption key) is stored, so it cannot be read back.

``vend --url URL --key KEY_ID --secret-file PATH METER AMOUNT`` (the CLI reads the file)
sells through a running gateway's ``/api/v1`` as a bank integrator would: a signed
``POST /vends`` with an idempotency key, and on a network error or timeout the last-response
advice for that key.
"""

from __future__ import annotations

import secrets
import sys
from http import HTTPStatus

import aiohttp

from config.settings import Environment, Settings
from gateway.api.client import Response, SigningClient
from gateway.vending_commands import print_receipt
from vending_core.adapters.api_secrets import SecretBox
from vending_core.adapters.compose import sql_core
from vending_core.service.api_clients import ApiRefusal, create_api_client
from vending_core.service.results import VendResult

__all__ = ["create_client", "remote_vend"]

_TIMEOUT_S = 30.0  #: seconds for the whole request, as a bank host would allow


async def create_client(
    settings: Settings,
    vendor_code: str,
    *,
    name: str = "",
    allowed_ips: tuple[str, ...] = (),
) -> int:
    """Create the client and print its credentials; exit status 1 if it is refused."""
    async with sql_core(
        settings.database_url,
        settings.key_encryption_key,
        migrate=settings.environment is Environment.DEVELOPMENT,
    ) as core:
        try:
            created = await create_api_client(
                core,
                SecretBox(settings.key_encryption_key),
                vendor_code=vendor_code,
                name=name,
                allowed_ips=allowed_ips,
            )
        except ApiRefusal as exc:
            print(f"vendgate: {exc.message}", file=sys.stderr)
            return 1
    print(f"key id:  {created.key_id}")
    print(f"secret:  {created.secret}")
    print(f"vendor:  {created.vendor_code}")
    print(f"allowed: {', '.join(created.allowed_ips) or 'any address'}")
    print("Store the secret now: it is not shown again.")
    return 0


async def _vend_or_last_response(
    client: SigningClient, meter: str, amount: int, request_id: str
) -> Response:
    payload = {"meter_number": meter, "amount": amount}
    try:
        return await client.request("POST", "/api/v1/vends", payload, idempotency_key=request_id)
    except (aiohttp.ClientError, TimeoutError):
        # The answer was lost: ask for the stored one (never sell again under a new key here).
        return await client.request("GET", f"/api/v1/vends/last?idempotency_key={request_id}")


async def remote_vend(  # noqa: PLR0917 - the command line's arguments, in its order
    url: str,
    key_id: str,
    secret: str,
    meter: str,
    amount: int,
    request_id: str | None = None,
) -> int:
    """Sell through a gateway's API and print the receipt; 1 with the problem if refused."""
    request_id = request_id or "cli-" + secrets.token_hex(8)
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        client = SigningClient(http, url, key_id, secret)
        response = await _vend_or_last_response(client, meter, amount, request_id)
    if response.status in {HTTPStatus.OK, HTTPStatus.CREATED}:
        replayed = response.status != HTTPStatus.CREATED
        print_receipt(VendResult.from_json(response.body.decode(), replayed=replayed))
        return 0
    try:
        problem = response.json()
    except ValueError:  # not JSON: a proxy's error page, say
        problem = None
    detail = problem.get("detail", "") if isinstance(problem, dict) else ""
    print(f"refused ({response.status}): {detail}", file=sys.stderr)
    return 1
