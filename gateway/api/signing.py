"""The request signature of the partner API (pure: used by the server and by clients).

A signed request carries three headers::

    X-Api-Key:   the client's public key id
    X-Timestamp: unix seconds when the request was made (within 300 s of the server's clock)
    X-Signature: hex HMAC-SHA256(secret, METHOD LF PATH_QS LF TIMESTAMP LF SHA256HEX(BODY))

where LF is one newline byte (0x0A), SHA256HEX is lower-case hex,
``PATH_QS`` is the path and query exactly as sent (``/api/v1/vends/last?idempotency_key=a1``),
``METHOD`` is upper case, ``BODY`` the raw body bytes (empty for a GET). See ``docs/api.md``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = [
    "API_KEY_HEADER",
    "REPLAY_WINDOW_S",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "signature",
    "signature_matches",
    "string_to_sign",
]

API_KEY_HEADER: Final = "X-Api-Key"
TIMESTAMP_HEADER: Final = "X-Timestamp"
SIGNATURE_HEADER: Final = "X-Signature"
REPLAY_WINDOW_S: Final = 300  #: a timestamp further than this from the server's clock is stale


def string_to_sign(method: str, path_qs: str, timestamp: str, body: bytes) -> bytes:
    """The exact bytes the signature covers."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path_qs}\n{timestamp}\n{digest}".encode()


def signature(secret: bytes, method: str, path_qs: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 signature of a request."""
    message = string_to_sign(method, path_qs, timestamp, body)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_matches(  # noqa: PLR0917 - the signed parts, in the order they are signed
    secret: bytes, method: str, path_qs: str, timestamp: str, body: bytes, sent: str
) -> bool:
    """Whether ``sent`` is the request's signature (compared in constant time)."""
    expected = signature(secret, method, path_qs, timestamp, body)
    return hmac.compare_digest(expected.encode(), sent.strip().lower().encode())
