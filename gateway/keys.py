"""Typed application keys: what the composition root puts on the app for the routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from config.settings import Settings
from gateway.leader import Leadership
from gateway.metrics import CONTENT_TYPE, Metrics
from gateway.purchases import Purchases
from gateway.sms_service import SmsService
from gateway.ussd import UssdGateway
from vending_core.service.core import Core

__all__ = [
    "CORE",
    "METRICS",
    "METRICS_CONTENT_TYPE",
    "PURCHASES",
    "READINESS",
    "SETTINGS",
    "SMPP_LEADERSHIP",
    "SMS",
    "USSD",
]

Readiness = Callable[[], Awaitable[dict[str, bool]]]

SETTINGS: Final = web.AppKey("settings", Settings)
METRICS: Final = web.AppKey("metrics", Metrics)
USSD: Final = web.AppKey("ussd", UssdGateway)
PURCHASES: Final = web.AppKey("purchases", Purchases)
SMS: Final = web.AppKey("sms", SmsService)
READINESS: Final = web.AppKey[Readiness]("readiness")
#: Set when replicas share the SMPP binds through a leader (PostgreSQL with binds configured).
SMPP_LEADERSHIP: Final = web.AppKey("smpp_leadership", Leadership)
CORE: Final = web.AppKey("core", Core)  #: the vending core (the /api/v1 sub-app uses it)
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE
