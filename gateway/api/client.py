"""A small signing client for the partner API, for integrators and for the tests.

Usage::

    async with aiohttp.ClientSession() as http:
        api = SigningClient(http, "https://vend.example.com", key_id="vk_...", secret="...")
        response = await api.request("POST", "/api/v1/vends", {"meter_number": "...",
                                     "amount": 5000}, idempotency_key="atm42-000187")
        receipt = await response.json()

The body is serialised once and those exact bytes are signed and sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

import aiohttp
from yarl import URL

from gateway.api.signing import API_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

__all__ = ["Response", "SigningClient"]


class Response:
    """What came back: status, headers and the raw body (so tests can compare bytes)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = dict(headers)
        self.body = body

    def json(self) -> object:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, body={self.body[:200]!r})"


class SigningClient:
    """Signs and sends requests with one API key (``clock`` gives unix seconds)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        key_id: str,
        secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._base = URL(base_url)
        self._key_id = key_id
        self._secret = secret.encode()
        self._clock = clock

    def __repr__(self) -> str:
        return f"SigningClient(base_url={str(self._base)!r}, key_id={self._key_id!r})"

    def headers(self, method: str, path_qs: str, body: bytes) -> dict[str, str]:
        """The three auth headers for a request."""
        timestamp = str(int(self._clock()))
        return {
            API_KEY_HEADER: self._key_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._secret, method, path_qs, timestamp, body),
        }

    async def request(
        self,
        method: str,
        path_qs: str,
        payload: object | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Response:
        """Send a signed request; ``path_qs`` is e.g. ``/api/v1/vends/last?idempotency_key=k``."""
        body = b"" if payload is None else json.dumps(payload).encode()
        url = self._base.join(URL(path_qs, encoded=True))
        headers = self.headers(method, url.raw_path_qs, body)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        async with self._http.request(method, url, data=body, headers=headers) as response:
            return Response(response.status, response.headers, await response.read())
