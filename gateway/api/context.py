"""Typed keys of the API sub-application and of its requests."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from vending_core.adapters.api_secrets import SecretBox
from vending_core.service.api_clients import ApiCredentials

__all__ = ["CLIENT", "SECRETS"]

SECRETS: Final = web.AppKey("api_secrets", SecretBox)
CLIENT: Final = web.RequestKey("api_client", ApiCredentials)
