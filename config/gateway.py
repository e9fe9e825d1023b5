"""The gateway's settings: USSD sessions, payments, outbound SMS and callback protection.

Part of :class:`config.settings.Settings` (``settings.gateway``), read from the same
``VENDGATE_*`` environment. With nothing set, the gateway runs on its embedded defaults:
in-memory USSD sessions, the sandbox payment provider, SMS printed on the console.

=================================== ============================================ ==============
variable                            meaning                                      default
=================================== ============================================ ==============
VENDGATE_REDIS_URL                  USSD sessions and locks in Redis (else       (memory)
                                    in this process's memory)
VENDGATE_USSD_SERVICE_CODE          the USSD code customers dial                 ``*384*12#``
VENDGATE_USSD_SESSION_TTL           seconds a USSD session is kept between hops  ``180``
VENDGATE_USSD_TOKEN_WAIT            seconds the final hop waits for the token    ``4``
                                    (in-process providers; never M-Pesa, whose
                                    PIN prompt needs the USSD session closed)
VENDGATE_USSD_RESUME_WINDOW         seconds a dropped session can be resumed     ``120``
VENDGATE_SMS_RATE_LIMIT             SMS commands a phone may send per window     ``10``
VENDGATE_SMS_RATE_WINDOW            that window, in seconds                      ``60``
VENDGATE_CURRENCY                   ISO 4217 code of the utility's money         ``KES``
VENDGATE_PAYMENT_PROVIDER           ``sandbox``, ``wallet`` or ``mpesa``         ``sandbox``
VENDGATE_PAYMENT_TTL                seconds before an unpaid request expires     ``300``
VENDGATE_SANDBOX_DELAY              seconds the sandbox takes to "pay"           ``0.3``
VENDGATE_SANDBOX_FAILURE_RATE       share of sandbox payments that fail (0-1)    ``0``
VENDGATE_MPESA_BASE_URL             Daraja base URL                              sandbox URL
VENDGATE_MPESA_CONSUMER_KEY         Daraja app credentials (secret)              (unset)
VENDGATE_MPESA_CONSUMER_SECRET
VENDGATE_MPESA_SHORTCODE            paybill / till number                        (unset)
VENDGATE_MPESA_PASSKEY              Lipa na M-Pesa passkey (secret)              (unset)
VENDGATE_MPESA_CALLBACK_URL         public URL of ``/payments/mpesa/callback``   (unset)
VENDGATE_SMS_SENDER                 ``console``, ``memory``, ``africastalking``  ``console``
                                    or ``smpp``
VENDGATE_SMPP_BINDS                 JSON list of SMPP binds (docs/smpp.md):      (none)
                                    ``[{"name": "mno1", "host": ..., "port":
                                    2775, "system_id": ..., "password": ...}]``
VENDGATE_AT_BASE_URL                Africa's Talking API base URL                live URL
VENDGATE_AT_USERNAME                Africa's Talking username                    (unset)
VENDGATE_AT_API_KEY                 Africa's Talking API key (secret)            (unset)
VENDGATE_AT_SENDER_ID               registered sender id / short code            (unset)
VENDGATE_<P>_CALLBACK_SECRET        shared secret provider ``<P>`` must send     (unset: off)
VENDGATE_<P>_CALLBACK_IPS           comma-separated addresses/networks allowed   (unset: any)
VENDGATE_TRUSTED_PROXIES            comma-separated load balancers/proxies whose (none)
                                    ``X-Forwarded-For`` names the client
VENDGATE_BACKUP_DIR                 scheduled backups into this directory        (off)
VENDGATE_BACKUP_INTERVAL            time between backups: seconds, or with a     ``24h``
                                    unit: ``90m``, ``24h``, ``7d``
VENDGATE_BACKUP_KEEP                backup files kept (the newest)               ``7``
=================================== ============================================ ==============

``<P>`` is ``AFRICASTALKING``, ``HUBTEL``, ``NALO``, ``ARKESEL``, ``MPESA`` or ``SANDBOX``.
A provider with a secret must send it as the ``X-Callback-Token`` header or the ``token``
query parameter of its callback URL (most aggregators can only do the latter).
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from config.backup import BackupSettings, backup_from_env
from config.errors import ConfigError

__all__ = [
    "CALLBACK_PROVIDERS",
    "CallbackGuard",
    "GatewaySettings",
    "MpesaSettings",
    "SmsSettings",
    "gateway_from_env",
]

_PREFIX = "VENDGATE_"
CALLBACK_PROVIDERS = ("africastalking", "hubtel", "nalo", "arkesel", "mpesa", "sandbox")
PAYMENT_PROVIDERS = ("sandbox", "wallet", "mpesa")
SMS_SENDERS = ("console", "memory", "africastalking", "smpp")
DARAJA_SANDBOX = "https://sandbox.safaricom.co.ke"
AT_LIVE = "https://api.africastalking.com"

_T = TypeVar("_T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ANY: Network = ipaddress.ip_network("0.0.0.0/0")


@dataclass(frozen=True, slots=True)
class CallbackGuard:
    """How one provider's callbacks are checked: a shared secret and/or source networks."""

    secret: str | None = field(default=None, repr=False)
    networks: tuple[Network, ...] = ()

    def allows_ip(self, address: str | None) -> bool:
        """True when no networks are set or ``address`` is in one of them."""
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


@dataclass(frozen=True, slots=True, kw_only=True)
class MpesaSettings:
    """M-Pesa Daraja STK push (all secrets hidden from repr)."""

    base_url: str = DARAJA_SANDBOX
    consumer_key: str = field(default="", repr=False)
    consumer_secret: str = field(default="", repr=False)
    shortcode: str = ""
    passkey: str = field(default="", repr=False)
    callback_url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsSettings:
    """Outbound SMS: which sender, and Africa's Talking credentials."""

    sender: str = "console"
    at_base_url: str = AT_LIVE
    at_username: str = ""
    at_api_key: str = field(default="", repr=False)
    at_sender_id: str = ""
    #: SMPP binds as given (field names of smpp.config.BindConfig); secrets inside.
    smpp_binds: tuple[Mapping[str, object], ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySettings:
    """Everything the gateway process needs beyond the vending core's settings."""

    redis_url: str | None = field(default=None, repr=False)
    ussd_service_code: str = "*384*12#"
    ussd_session_ttl: float = 180.0
    ussd_token_wait: float = 4.0
    ussd_resume_window: float = 120.0
    sms_rate_limit: int = 10
    sms_rate_window: float = 60.0
    currency: str = "KES"
    payment_provider: str = "sandbox"
    payment_ttl: float = 300.0
    sandbox_delay: float = 0.3
    sandbox_failure_rate: float = 0.0
    mpesa: MpesaSettings = field(default_factory=MpesaSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    callbacks: Mapping[str, CallbackGuard] = field(default_factory=lambda: MappingProxyType({}))
    backup: BackupSettings = field(default_factory=BackupSettings)  #: config.backup
    #: Peers (load balancers) trusted to name the client in ``X-Forwarded-For``.
    trusted_proxies: tuple[Network, ...] = ()

    def guard(self, provider: str) -> CallbackGuard:
        """The provider's callback guard (an open one when none is configured)."""
        return self.callbacks.get(provider, CallbackGuard())


def gateway_from_env(environ: Mapping[str, str]) -> GatewaySettings:
    """Build :class:`GatewaySettings` from ``VENDGATE_*`` variables (ConfigError if bad)."""

    def get(name: str) -> str | None:
        value = environ.get(_PREFIX + name, "").strip()
        return value or None

    def seconds(name: str, default: float) -> float:
        return _parse(get(name), default, name, _positive_float, "a number of seconds >= 0")

    return GatewaySettings(
        redis_url=get("REDIS_URL"),
        ussd_service_code=_parse(
            get("USSD_SERVICE_CODE"),
            "*384*12#",
            "USSD_SERVICE_CODE",
            _service_code,
            "like *384*12#",
        ),
        ussd_session_ttl=seconds("USSD_SESSION_TTL", 180.0),
        ussd_token_wait=seconds("USSD_TOKEN_WAIT", 4.0),
        ussd_resume_window=seconds("USSD_RESUME_WINDOW", 120.0),
        sms_rate_limit=_parse(
            get("SMS_RATE_LIMIT"), 10, "SMS_RATE_LIMIT", _count, "a whole number >= 1"
        ),
        sms_rate_window=seconds("SMS_RATE_WINDOW", 60.0),
        currency=_parse(get("CURRENCY"), "KES", "CURRENCY", _currency, "an ISO 4217 code"),
        payment_provider=_choice(get("PAYMENT_PROVIDER"), "sandbox", "PAYMENT_PROVIDER"),
        payment_ttl=seconds("PAYMENT_TTL", 300.0),
        sandbox_delay=seconds("SANDBOX_DELAY", 0.3),
        sandbox_failure_rate=_parse(
            get("SANDBOX_FAILURE_RATE"), 0.0, "SANDBOX_FAILURE_RATE", _rate, "a number 0-1"
        ),
        mpesa=MpesaSettings(
            base_url=get("MPESA_BASE_URL") or DARAJA_SANDBOX,
            consumer_key=get("MPESA_CONSUMER_KEY") or "",
            consumer_secret=get("MPESA_CONSUMER_SECRET") or "",
            shortcode=get("MPESA_SHORTCODE") or "",
            passkey=get("MPESA_PASSKEY") or "",
            callback_url=get("MPESA_CALLBACK_URL") or "",
        ),
        sms=SmsSettings(
            sender=_choice(get("SMS_SENDER"), "console", "SMS_SENDER"),
            at_base_url=get("AT_BASE_URL") or AT_LIVE,
            at_username=get("AT_USERNAME") or "",
            at_api_key=get("AT_API_KEY") or "",
            at_sender_id=get("AT_SENDER_ID") or "",
            smpp_binds=_parse(
                get("SMPP_BINDS"), (), "SMPP_BINDS", _binds, "a JSON list of objects"
            ),
        ),
        backup=backup_from_env(environ),
        trusted_proxies=_networks(get, "TRUSTED_PROXIES"),
        callbacks=MappingProxyType(
            {p: g for p in CALLBACK_PROVIDERS if (g := _guard(get, p)) != CallbackGuard()}
        ),
    )


def _networks(get: Callable[[str], str | None], name: str) -> tuple[Network, ...]:
    """A comma-separated list of addresses or networks (ConfigError naming ``name``)."""
    what = "addresses or networks like 10.0.0.0/8"
    return tuple(
        _parse(part.strip(), _ANY, name, _network, what)
        for part in (get(name) or "").split(",")
        if part.strip()
    )


def _guard(get: Callable[[str], str | None], provider: str) -> CallbackGuard:
    return CallbackGuard(
        secret=get(f"{provider.upper()}_CALLBACK_SECRET"),
        networks=_networks(get, f"{provider.upper()}_CALLBACK_IPS"),
    )


def _parse(
    value: str | None,
    default: _T,
    name: str,
    parse: Callable[[str], _T],
    what: str,
    *,
    secret: bool = False,
) -> _T:
    if value is None:
        return default
    try:
        return parse(value)
    except ValueError:
        shown = "" if secret else f"; got {value!r:.60}"
        raise ConfigError(f"{_PREFIX}{name} must be {what}{shown}") from None


def _choice(value: str | None, default: str, name: str) -> str:
    allowed = {"PAYMENT_PROVIDER": PAYMENT_PROVIDERS, "SMS_SENDER": SMS_SENDERS}[name]
    if value is None:
        return default
    if value.lower() not in allowed:
        raise ConfigError(f"{_PREFIX}{name} must be one of {', '.join(allowed)}; got {value!r:.60}")
    return value.lower()


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _binds(text: str) -> tuple[Mapping[str, object], ...]:
    value = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise ValueError(text)
    names = [b.get("name") for b in value]
    if len(set(names)) != len(names):
        raise ValueError(text)
    return tuple(MappingProxyType(b) for b in value)


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _rate(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise ValueError(text)
    return value


def _currency(text: str) -> str:
    if len(text) != 3 or not text.isascii() or not text.isalpha():  # noqa: PLR2004 - ISO 4217
        raise ValueError(text)
    return text.upper()


def _service_code(text: str) -> str:
    parts = text.removeprefix("*").removesuffix("#").split("*")
    if not text.startswith("*") or not text.endswith("#") or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return text


def _network(text: str) -> Network:
    return ipaddress.ip_network(text, strict=False)
