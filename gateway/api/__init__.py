"""The partner vending API, mounted at ``/api/v1`` (issue 7; see ``docs/api.md``).

Banks, ATM networks and POS systems sell for a vendor with signed requests
(:mod:`gateway.api.signing`, checked by :mod:`gateway.api.auth`), idempotent vends and
XMLVend-style advice (:mod:`gateway.api.routes`); refusals are RFC 9457 problem JSON
(:mod:`gateway.api.errors`). :mod:`gateway.api.client` is a small signing client.
"""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from gateway.api.auth import authenticate
from gateway.api.context import SECRETS
from gateway.api.routes import add_api_routes, refusals
from vending_core.adapters.api_secrets import SecretBox

__all__ = ["create_api_app"]


def create_api_app(settings: Settings) -> web.Application:
    """The ``/api/v1`` sub-application (the parent app supplies ``keys.CORE`` at startup)."""
    app = web.Application(middlewares=[authenticate, refusals])
    app[SECRETS] = SecretBox(settings.key_encryption_key)
    add_api_routes(app)
    return app
