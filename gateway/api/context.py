"""Typed keys of the API sub-application and of its requests."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from gateway.api.keycache import CredentialCache
from vending_core.adapters.api_secrets import SecretBox
from vending_core.service.api_clients import ApiCredentials

__all__ = ["CLIENT", "CREDENTIALS", "SECRETS", "VOUCHER_SALT"]

SECRETS: Final = web.AppKey("api_secrets", SecretBox)
#: Found API keys, reused for a few seconds (see :mod:`gateway.api.keycache`).
CREDENTIALS: Final = web.AppKey("api_credentials", CredentialCache)
CLIENT: Final = web.RequestKey("api_client", ApiCredentials)
#: The voucher PIN hashing salt (``gateway.app.voucher_salt``), never stored.
VOUCHER_SALT: Final = web.AppKey("api_voucher_salt", bytes)
