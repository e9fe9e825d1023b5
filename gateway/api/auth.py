"""The signature check in front of every ``/api/v1`` route but the OpenAPI document.

Order: the body is read first (a body over the gateway's 64 KiB limit is a 413 before
anything else), then the key id (401 ``api-key-unknown``), the timestamp (401
``timestamp-stale`` outside 300 s of the server's clock), the signature (401
``signature-invalid``, compared in constant time) and last the key's IP allow-list (403
``ip-not-allowed``). A refused request reaches no handler: nothing is recorded. The secret
and the sent signature are never logged. Found keys are reused for a few seconds
(:mod:`gateway.api.keycache`).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import keys
from gateway.api.context import CLIENT, CREDENTIALS, SECRETS
from gateway.api.signing import (
    API_KEY_HEADER,
    REPLAY_WINDOW_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_matches,
)
from gateway.problems import problem
from vending_core.service.api_clients import ApiCredentials, load_api_client

__all__ = ["PUBLIC_ROUTES", "authenticate"]

PUBLIC_ROUTES: Final = frozenset({"api-openapi"})
_MAX_KEY_ID: Final = 64
_MAX_TIMESTAMP: Final = 12


def _unauthorised(code: str, detail: str) -> web.Response:
    response = problem(401, code, detail)
    response.headers["WWW-Authenticate"] = 'HMAC-SHA256 realm="vendgate"'
    return response


def _timestamp_ok(sent: str, now: float) -> bool:
    if not sent.isdigit() or len(sent) > _MAX_TIMESTAMP:
        return False
    return abs(int(sent) - now) <= REPLAY_WINDOW_S


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let a correctly signed request from an allowed address through; refuse the rest."""
    if request.match_info.route.name in PUBLIC_ROUTES:
        return await handler(request)
    body = await request.read()  # HTTPRequestEntityTooLarge (413) past client_max_size
    checked = await _check(request, body)
    if isinstance(checked, web.Response):
        return checked
    request[CLIENT] = checked
    return await handler(request)


async def _check(request: web.Request, body: bytes) -> ApiCredentials | web.Response:
    """The caller's credentials, or the refusal to send."""
    key_id = request.headers.get(API_KEY_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    sent = request.headers.get(SIGNATURE_HEADER, "")
    if not (key_id and timestamp and sent):
        return _unauthorised(
            "credentials-missing",
            f"Send {API_KEY_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}.",
        )
    core = request.config_dict[keys.CORE]
    credentials = None
    if len(key_id) <= _MAX_KEY_ID:
        box = request.app[SECRETS]
        credentials = await request.app[CREDENTIALS].get(
            key_id, lambda key: load_api_client(core, box, key)
        )
    if credentials is None:
        return _unauthorised("api-key-unknown", "No active API key has that id.")
    if not _timestamp_ok(timestamp, core.now().timestamp()):
        return _unauthorised(
            "timestamp-stale", f"{TIMESTAMP_HEADER} must be within {REPLAY_WINDOW_S} s of now."
        )
    if not signature_matches(
        credentials.secret, request.method, request.raw_path, timestamp, body, sent
    ):
        return _unauthorised("signature-invalid", "The request signature does not match.")
    if not credentials.allows(request.remote):
        return problem(403, "ip-not-allowed", "This API key may not be used from this address.")
    return credentials
