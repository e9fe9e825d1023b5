"""M-Pesa Daraja STK push ("Lipa na M-Pesa Online"): request, callback and status query.

:class:`DarajaProvider` (name ``mpesa``) implements the
:class:`~vending_core.service.payment_ports.PaymentProvider` port over Safaricom's Daraja API
(wire facts: vending.md, appendix "M-Pesa Daraja STK push"). The base URL is configurable
(``https://sandbox.safaricom.co.ke``, ``https://api.safaricom.co.ke`` or a local fake).

Decisions (each pinned by a test):

* **Amounts.** M-Pesa takes whole shillings. A request whose minor units are not a multiple of
  ``10 ** currency_exponent`` is refused (PaymentRefused, code ``mpesa-amount-not-whole``):
  rounding up would charge more than the quote the customer confirmed, rounding down would make
  the callback's Amount differ from the intent (a conflict, never a vend). A currency other
  than ``config.currency`` is refused too. Callback amounts are converted back to minor units.
* **AccountReference** is the meter number, shown to the payer; Daraja allows 12 characters.
  A longer one is refused (code ``mpesa-account-reference``), never truncated: the payer would
  approve a payment for a number that is not their meter. ``TransactionDesc`` is free text and
  is cut to Daraja's 13 characters.
* **Timestamp** is ``YYYYMMDDHHMMSS`` in Kenyan local time (EAT, ``Africa/Nairobi``, UTC+3):
  Daraja's documentation describes the format only, and integration guides state it is EAT;
  ``Password`` is base64(shortcode + passkey + timestamp) with that same timestamp.
* **OAuth token** (HTTP Basic, consumer key and secret) is cached until
  ``expires_in - min(token_refresh_margin, expires_in / 2)`` seconds after it was fetched; one
  fetch at a time (a lock), so concurrent starts share it; a 401 drops it and the call is
  retried once with a new one.
* **start**: ``ResponseCode`` "0" -> PaymentAccepted(CheckoutRequestID). Another ResponseCode or
  HTTP 4xx -> PaymentRefused with Daraja's description. Timeouts, connection errors, HTTP 5xx,
  unparseable answers, a 401 that survives a fresh token or an OAuth failure ->
  PaymentUnavailable (nothing is known about the push).
* **query** (STK push query) and **parse_callback** map ``ResultCode``: 0 PAID, 1032 ABANDONED,
  1037 PENDING (no answer from the phone: unknown, not failed), anything else (1 insufficient
  funds, 2001 wrong PIN, ...) FAILED. Daraja's "The transaction is being processed" error is
  PENDING; any other query error is PaymentUnavailable.
* **Callbacks** must be Daraja's JSON; a success must carry ``Amount`` and
  ``MpesaReceiptNumber`` (the reconciliation key) or it is malformed (MalformedCallback): the
  status query is the fallback. Items without ``Value`` (``Balance``) are allowed.

Secrets (consumer key and secret, passkey, Password, access token) are never logged, never put in
exception messages and never in ``ProviderResult.raw`` (which holds only Daraja's answers).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import aiohttp
import structlog

from config.gateway import MpesaSettings
from gateway.payments._body import (
    MAX_CALLBACK_BYTES,
    MalformedCallback,
    decode_json_object,
    require,
)
from vending_core.service.payment_ports import (
    PaymentAccepted,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)

__all__ = [
    "DarajaConfig",
    "DarajaProvider",
    "TransactionType",
    "daraja_from_settings",
    "result_outcome",
]

NAIROBI = ZoneInfo("Africa/Nairobi")
_OAUTH = "/oauth/v1/generate"
_STK_PUSH = "/mpesa/stkpush/v1/processrequest"
_STK_QUERY = "/mpesa/stkpushquery/v1/query"
_MAX_ACCOUNT_REFERENCE = 12
_MAX_DESCRIPTION = 13
_HTTP_OK = 200
_HTTP_UNAUTHORIZED = 401
_HTTP_CLIENT_ERRORS = range(400, 500)
_CANCELLED = 1032
_NO_ANSWER = 1037


class TransactionType(enum.StrEnum):
    """Daraja's ``TransactionType``: a pay bill number or a till (Buy Goods)."""

    PAYBILL = "CustomerPayBillOnline"
    BUY_GOODS = "CustomerBuyGoodsOnline"


@dataclass(frozen=True, slots=True, kw_only=True)
class DarajaConfig:
    """One Daraja app and shortcode. Secrets are left out of ``repr``."""

    base_url: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    shortcode: str  #: BusinessShortCode (pay bill, or the store number for Buy Goods)
    passkey: str = field(repr=False)
    callback_url: str  #: where Daraja POSTs results: the gateway's /payments/mpesa/callback
    transaction_type: TransactionType = TransactionType.PAYBILL
    party_b: str | None = None  #: the till number for Buy Goods; default: the shortcode
    currency: str = "KES"
    currency_exponent: int = 2  #: minor units per shilling = 10 ** exponent
    connect_timeout: float = 5.0
    request_timeout: float = 10.0  #: total seconds for one HTTP call
    token_refresh_margin: float = 60.0  #: refresh this long before the token expires
    max_callback_bytes: int = MAX_CALLBACK_BYTES

    def __post_init__(self) -> None:
        if self.currency_exponent < 0 or self.request_timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("Daraja exponent is not negative and its timeouts are positive")


def daraja_from_settings(
    settings: MpesaSettings, session: aiohttp.ClientSession | None = None
) -> DarajaProvider:
    """The provider for ``settings.gateway.mpesa`` (pay bill), on the app's HTTP client."""
    config = DarajaConfig(
        base_url=settings.base_url,
        consumer_key=settings.consumer_key,
        consumer_secret=settings.consumer_secret,
        shortcode=settings.shortcode,
        passkey=settings.passkey,
        callback_url=settings.callback_url,
    )
    return DarajaProvider(config, session=session)


def result_outcome(code: int) -> PaymentOutcome:
    """Daraja's ``ResultCode`` as an outcome (vending.md appendix)."""
    if code == 0:
        return PaymentOutcome.PAID
    if code == _CANCELLED:
        return PaymentOutcome.ABANDONED
    if code == _NO_ANSWER:
        return PaymentOutcome.PENDING
    return PaymentOutcome.FAILED


def _digits(value: object) -> int | None:
    """A number Daraja sends as a JSON number or a digit string (ResultCode, expires_in)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _description(body: object, default: str) -> str:
    """Daraja's human text from an answer or error body."""
    if isinstance(body, dict):
        for key in ("ResponseDescription", "errorMessage", "ResultDesc"):
            text = body.get(key)
            if isinstance(text, str) and text:
                return text
    return default


class DarajaProvider:
    """The M-Pesa STK push provider (see the module docstring).

    Args:
        config: the Daraja app, shortcode and timeouts.
        session: the HTTP client; when None the provider makes one on first use and
            closes it in :meth:`aclose`.
        clock: UTC-aware now, for the Timestamp (tests fix it).
        monotonic: seconds for token expiry (tests advance it).
    """

    def __init__(
        self,
        config: DarajaConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._config = config
        self._session = session
        self._owns_session = session is None
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._monotonic = monotonic if monotonic is not None else time.monotonic
        self._timeout = aiohttp.ClientTimeout(
            total=config.request_timeout, connect=config.connect_timeout
        )
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._token_lock = asyncio.Lock()
        self._log = structlog.get_logger(__name__)

    @property
    def name(self) -> str:
        """Always ``mpesa``."""
        return "mpesa"

    async def aclose(self) -> None:
        """Close the HTTP client if the provider made it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> DarajaProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ the port

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Send an STK push; PaymentRefused or PaymentUnavailable per the module docstring."""
        config = self._config
        units = self._whole_units(request.amount, request.currency)
        reference = request.account_reference.strip()
        if not 0 < len(reference) <= _MAX_ACCOUNT_REFERENCE:
            raise PaymentRefused(
                f"M-Pesa shows at most {_MAX_ACCOUNT_REFERENCE} characters of account reference",
                code="mpesa-account-reference",
            )
        payload = {
            **self._credentials(),
            "TransactionType": config.transaction_type.value,
            "Amount": units,
            "PartyA": request.msisdn,
            "PartyB": config.party_b or config.shortcode,
            "PhoneNumber": request.msisdn,
            "CallBackURL": config.callback_url,
            "AccountReference": reference,
            "TransactionDesc": request.description[:_MAX_DESCRIPTION],
        }
        status, body = await self._call(_STK_PUSH, payload)
        accepted = self._accepted(status, body)
        self._log.info(
            "mpesa_stk_push_accepted",
            payment_id=request.payment_id,
            checkout_request_id=accepted.provider_reference,
        )
        return accepted

    async def query(self, provider_reference: str) -> ProviderResult:
        """STK push query: the status now (PENDING while being processed)."""
        payload = {**self._credentials(), "CheckoutRequestID": provider_reference}
        status, body = await self._call(_STK_QUERY, payload)
        if isinstance(body, dict) and "being processed" in _description(body, "").lower():
            return self._result(provider_reference, PaymentOutcome.PENDING, body)
        code = _digits(body.get("ResultCode")) if isinstance(body, dict) else None
        if status != _HTTP_OK or not isinstance(body, dict) or code is None:
            self._log.warning("mpesa_query_failed", reference=provider_reference, status=status)
            raise PaymentUnavailable(
                f"M-Pesa status query failed (HTTP {status}): {_description(body, 'no answer')}",
                code="mpesa-query-failed",
            )
        if body.get("CheckoutRequestID", provider_reference) != provider_reference:
            raise PaymentUnavailable("M-Pesa answered about another request")
        return self._result(provider_reference, result_outcome(code), body)

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """Daraja's STK callback as a result; MalformedCallback if it is not one."""
        payload = decode_json_object(body, content_type, limit=self._config.max_callback_bytes)
        envelope = require(payload, "Body", dict, "callback")
        callback = require(envelope, "stkCallback", dict, "callback.Body")
        where = "callback.Body.stkCallback"
        checkout_id = require(callback, "CheckoutRequestID", str, where)
        require(callback, "MerchantRequestID", str, where)
        outcome = result_outcome(require(callback, "ResultCode", int, where))
        reason = require(callback, "ResultDesc", str, where)
        if not checkout_id:
            raise MalformedCallback(f"{where}.CheckoutRequestID is empty")
        amount: int | None = None
        receipt: str | None = None
        if outcome is PaymentOutcome.PAID:
            items = _metadata(callback, where)
            amount = self._minor_units(items.get("Amount"))
            number = items.get("MpesaReceiptNumber")
            if not isinstance(number, str) or not number:
                raise MalformedCallback("a paid callback without MpesaReceiptNumber")
            receipt = number
        return ProviderResult(
            provider=self.name,
            provider_reference=checkout_id,
            outcome=outcome,
            amount=amount,
            receipt=receipt,
            reason=reason,
            raw=payload,
        )

    # ------------------------------------------------------------------ amounts and answers

    def _whole_units(self, amount: int, currency: str) -> int:
        config = self._config
        if currency != config.currency:
            raise PaymentRefused(
                f"M-Pesa here takes {config.currency}, not {currency}", code="mpesa-currency"
            )
        scale: int = 10**config.currency_exponent
        units, remainder = divmod(amount, scale)
        if amount <= 0 or remainder:
            raise PaymentRefused(
                f"M-Pesa takes whole {config.currency} amounts only",
                code="mpesa-amount-not-whole",
            )
        return units

    def _minor_units(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MalformedCallback("a paid callback without a numeric Amount")
        minor = Decimal(str(value)).scaleb(self._config.currency_exponent)
        if minor <= 0 or minor != minor.to_integral_value():
            raise MalformedCallback(f"callback Amount {value!r} is not a positive amount")
        return int(minor)

    def _accepted(self, status: int, body: object) -> PaymentAccepted:
        description = _description(body, f"HTTP {status}")
        if status in _HTTP_CLIENT_ERRORS:
            self._log.info("mpesa_stk_push_refused", status=status, description=description)
            raise PaymentRefused(f"M-Pesa refused: {description}", code="mpesa-refused")
        if status != _HTTP_OK or not isinstance(body, dict):
            self._log.warning("mpesa_stk_push_unclear", status=status)
            raise PaymentUnavailable(f"M-Pesa answered HTTP {status}: {description}")
        if "ResponseCode" not in body:
            raise PaymentUnavailable("M-Pesa answered without a ResponseCode")
        if str(body["ResponseCode"]) != "0":
            self._log.info("mpesa_stk_push_refused", status=status, description=description)
            raise PaymentRefused(f"M-Pesa refused: {description}", code="mpesa-refused")
        checkout_id = body.get("CheckoutRequestID")
        if not isinstance(checkout_id, str) or not checkout_id:
            raise PaymentUnavailable("M-Pesa accepted the push without a CheckoutRequestID")
        return PaymentAccepted(provider_reference=checkout_id)

    def _result(
        self, reference: str, outcome: PaymentOutcome, body: Mapping[str, object]
    ) -> ProviderResult:
        return ProviderResult(
            provider=self.name,
            provider_reference=reference,
            outcome=outcome,
            reason=_description(body, ""),
            raw=dict(body),
        )

    # ------------------------------------------------------------------ HTTP and the token

    def _credentials(self) -> dict[str, object]:
        """BusinessShortCode, Password and Timestamp (Kenyan local time) for one call."""
        config = self._config
        timestamp = self._clock().astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")
        secret = f"{config.shortcode}{config.passkey}{timestamp}".encode()
        password = base64.b64encode(secret).decode("ascii")
        return {"BusinessShortCode": config.shortcode, "Password": password, "Timestamp": timestamp}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _call(self, path: str, payload: Mapping[str, object]) -> tuple[int, object]:
        """POST with the Bearer token; once more with a fresh token after a 401."""
        token = await self._access_token()
        status, body = await self._post(path, payload, token)
        if status == _HTTP_UNAUTHORIZED:
            self._log.info("mpesa_token_rejected", path=path)
            self._forget(token)
            status, body = await self._post(path, payload, await self._access_token())
            if status == _HTTP_UNAUTHORIZED:
                raise PaymentUnavailable(
                    "M-Pesa rejected a fresh access token", code="mpesa-auth-failed"
                )
        return status, body

    async def _post(
        self, path: str, payload: Mapping[str, object], token: str
    ) -> tuple[int, object]:
        """Status and JSON body (None if not JSON); PaymentUnavailable if no answer."""
        url = self._config.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._client().post(
                url, json=payload, headers=headers, timeout=self._timeout
            ) as response:
                return response.status, _json_or_none(await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._log.warning("mpesa_unreachable", path=path, error=type(exc).__name__)
            raise PaymentUnavailable(
                f"M-Pesa did not answer ({type(exc).__name__})", code="mpesa-unreachable"
            ) from exc

    def _forget(self, token: str) -> None:
        """Drop ``token`` unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _access_token(self) -> str:
        if self._token is not None and self._monotonic() < self._token_valid_until:
            return self._token
        async with self._token_lock:
            if self._token is not None and self._monotonic() < self._token_valid_until:
                return self._token
            token, lifetime = await self._fetch_token()
            margin = min(self._config.token_refresh_margin, lifetime / 2)
            self._token, self._token_valid_until = token, self._monotonic() + lifetime - margin
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        config = self._config
        url = config.base_url.rstrip("/") + _OAUTH
        pair = f"{config.consumer_key}:{config.consumer_secret}".encode()
        headers = {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
        params = {"grant_type": "client_credentials"}
        try:
            async with self._client().get(
                url, params=params, headers=headers, timeout=self._timeout
            ) as response:
                status, body = response.status, _json_or_none(await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._log.warning("mpesa_unreachable", path=_OAUTH, error=type(exc).__name__)
            raise PaymentUnavailable(
                f"M-Pesa OAuth did not answer ({type(exc).__name__})", code="mpesa-unreachable"
            ) from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = _digits(body.get("expires_in")) if isinstance(body, dict) else None
        if status != _HTTP_OK or not isinstance(token, str) or not token or not lifetime:
            self._log.error("mpesa_oauth_failed", status=status)
            raise PaymentUnavailable(
                f"M-Pesa OAuth failed (HTTP {status})", code="mpesa-auth-failed"
            )
        self._log.info("mpesa_token_fetched", expires_in=lifetime)
        return token, float(lifetime)


def _json_or_none(data: bytes) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _metadata(callback: Mapping[str, object], where: str) -> dict[str, object]:
    """CallbackMetadata.Item as ``{Name: Value}``; items without Value are left out."""
    metadata = require(callback, "CallbackMetadata", dict, where)
    items = require(metadata, "Item", list, f"{where}.CallbackMetadata")
    values: dict[str, object] = {}
    names: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise MalformedCallback("a CallbackMetadata item without a Name")
        if item["Name"] in names:
            raise MalformedCallback(f"CallbackMetadata item {item['Name']!r} appears twice")
        names.add(item["Name"])
        if "Value" in item:
            values[item["Name"]] = item["Value"]
    return values
