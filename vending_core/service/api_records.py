"""The record of a partner API client (a bank, ATM network or POS system selling for a vendor).

A client is identified by its public ``key_id`` (sent as ``X-Api-Key``). Its HMAC secret is
kept only sealed (``sealed_secret``: AES-256-GCM under the key-encryption key, hex), because
verifying a signature needs the secret itself, not a hash of it. ``allowed_ips`` holds
addresses or CIDR networks the client may call from (empty: any address).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ApiClient"]


@dataclass(slots=True, kw_only=True)
class ApiClient:
    """One API key of a vendor: who it sells for and where it may call from."""

    key_id: str
    vendor_code: str
    name: str
    sealed_secret: str  #: hex of nonce + ciphertext + tag; never returned to anyone
    allowed_ips: tuple[str, ...] = ()
    active: bool = True
    created_at: datetime
