"""The partner vending API, mounted at ``/api/v1`` (issue 7; see ``docs/api.md``).

Banks, ATM networks and POS systems sell for a vendor with signed requests
(:mod:`gateway.api.signing`, checked by :mod:`gateway.api.auth`), idempotent vends and
XMLVend-style advice (:mod:`gateway.api.routes`); refusals are RFC 9457 problem JSON
(:mod:`gateway.api.errors`). :mod:`gateway.api.client` is a small signing client.
"""

from __future__ import annotations

import time

from aiohttp import web

from config.settings import Settings
from gateway.api.auth import authenticate
from gateway.api.context import CREDENTIALS, SECRETS, VOUCHER_SALT
from gateway.api.keycache import CredentialCache
from gateway.api.routes import add_api_routes, refusals
from vending_core.adapters.api_secrets import SecretBox

__all__ = ["create_api_app"]


def create_api_app(settings: Settings) -> web.Application:
    """The ``/api/v1`` sub-application (the parent app supplies ``keys.CORE`` at startup)."""
    app = web.Application(middlewares=[authenticate, refusals])
    from gateway.app import voucher_salt  # noqa: PLC0415 - gateway.app imports this package

    app[SECRETS] = SecretBox(settings.key_encryption_key)
    app[VOUCHER_SALT] = voucher_salt(settings)
    app[CREDENTIALS] = CredentialCache(time.monotonic)
    add_api_routes(app)
    return app
