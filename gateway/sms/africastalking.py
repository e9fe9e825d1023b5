"""Africa's Talking SMS over its HTTP API: a small aiohttp client, not the official SDK.

Why not the SDK (messaging.md §2.4): blocking ``requests``, module-global state, hosts
hard-coded. This client takes the base URL (live :data:`LIVE_BASE_URL`, sandbox
:data:`SANDBOX_BASE_URL` with username ``sandbox``, or a fake on 127.0.0.1 in tests).

Send: ``POST {base}/version1/messaging``, form fields ``username``, ``to`` (E.164 with ``+``),
``message`` and ``from`` (sender id / short code, when set); headers ``apiKey`` and
``Accept: application/json`` (without it the reply is XML). HTTP 2xx does not mean accepted:
**every recipient's** ``statusCode`` is checked. The mapping to the port's outcome:

=========================================  ==========================================
AT answer                                  :class:`SendOutcome`
=========================================  ==========================================
recipient 100 Processed, 101 Sent,         accepted, ``provider_message_id`` =
102 Queued                                 ``messageId``
recipient 405 InsufficientBalance,         not accepted, **retryable** (our balance;
500 InternalServerError, 501 GatewayError, AT's or a gateway's trouble)
502 RejectedByGateway
recipient 401 RiskHold, 402                not accepted, permanent (this message will
InvalidSenderId, 403 InvalidPhoneNumber,   never go through as it is)
404 UnsupportedNumberType, 406
UserInBlacklist, 407 CouldNotRoute, 409
DoNotDisturbRejection, any other code
no recipients in a 2xx reply               permanent (AT's ``Message`` says why)
HTTP 5xx, connection refused/reset,        retryable
timeout, an unreadable 2xx body
HTTP 401 (API key or username refused)     retryable: our configuration, not the
                                           message, is wrong; the outbox keeps it
other HTTP 4xx                             permanent
=========================================  ==========================================

After a timeout the message may have gone out; retrying it is the outbox's at-least-once
choice (a token SMS twice is harmless). The API key is sent in a header only: it is never
logged, never in an outcome's ``error`` and not in ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import aiohttp

from gateway.sms.errors import MalformedDeliveryReport
from vending_core.service.sms_ports import DeliveryReport, OutboundSms, SendOutcome

__all__ = [
    "ACCEPTED_CODES",
    "LIVE_BASE_URL",
    "PERMANENT_CODES",
    "RETRYABLE_CODES",
    "SANDBOX_BASE_URL",
    "AfricasTalkingSms",
    "parse_delivery_report",
]

LIVE_BASE_URL: Final = "https://api.africastalking.com"
SANDBOX_BASE_URL: Final = "https://api.sandbox.africastalking.com"
ACCEPTED_CODES: Final = {100: "Processed", 101: "Sent", 102: "Queued"}
RETRYABLE_CODES: Final = {
    405: "InsufficientBalance",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
PERMANENT_CODES: Final = {
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
}
_PATH: Final = "/version1/messaging"
_HTTP_UNAUTHORISED: Final = 401
_HTTP_SERVER_ERROR: Final = 500
_HTTP_OK_RANGE: Final = range(200, 300)
_ERROR_TEXT_LIMIT: Final = 200


class AfricasTalkingSms:
    """``SmsSender`` for Africa's Talking (see the module docstring for the status mapping).

    Args:
        username: The AT application's username (``sandbox`` on the sandbox).
        api_key: The API key (a secret: sent as a header, never logged or shown).
        sender_id: Registered short code or alphanumeric sender; None: AT's default.
        base_url: API root without the path; defaults to the live host.
        session: An aiohttp session to use (its owner closes it); None: one is made on
            first use and closed by :meth:`aclose`.
        timeout: Seconds for the whole request; keep it below the outbox lease.
        name: The provider name stored on outbox rows (delivery reports match on it).
    """

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        base_url: str = LIVE_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        name: str = "africastalking",
    ) -> None:
        self._username = username
        self._api_key = api_key
        self._sender_id = sender_id
        self._url = base_url.rstrip("/") + _PATH
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._name = name

    def __repr__(self) -> str:
        return f"AfricasTalkingSms(username={self._username!r}, url={self._url!r})"

    @property
    def name(self) -> str:
        """The provider name on outbox rows."""
        return self._name

    async def send(self, message: OutboundSms) -> SendOutcome:
        """POST one message; never raises for network or provider trouble."""
        form = {"username": self._username, "to": "+" + message.to, "message": message.text}
        sender_id = message.sender_id or self._sender_id
        if sender_id:
            form["from"] = sender_id
        headers = {"apiKey": self._api_key, "Accept": "application/json"}
        try:
            async with self._client().post(
                self._url, data=form, headers=headers, timeout=self._timeout
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            return SendOutcome.retry_later("timeout (the message may have been sent)", "timeout")
        except aiohttp.ClientError as exc:
            return SendOutcome.retry_later(f"connection failed: {type(exc).__name__}", "network")
        return _outcome(status, body)

    async def aclose(self) -> None:
        """Close the session this client made (a session passed in is left alone)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def _outcome(status: int, body: bytes) -> SendOutcome:
    """The port's outcome of one HTTP reply (see the module docstring)."""
    if status >= _HTTP_SERVER_ERROR:
        return SendOutcome.retry_later(f"HTTP {status}", str(status))
    if status == _HTTP_UNAUTHORISED:
        return SendOutcome.retry_later("HTTP 401: username or API key refused", str(status))
    if status not in _HTTP_OK_RANGE:
        return SendOutcome.refused(f"HTTP {status}: {_short(body)}", str(status))
    try:
        data = json.loads(body)["SMSMessageData"]
        recipients: list[dict[str, Any]] = data["Recipients"]
        codes = [int(r["statusCode"]) for r in recipients]
    except (ValueError, KeyError, TypeError) as exc:
        return SendOutcome.retry_later(f"unreadable reply ({type(exc).__name__})", str(status))
    if not recipients:
        text = str(data.get("Message", "no recipients"))
        return SendOutcome.refused(text[:_ERROR_TEXT_LIMIT], "no-recipients")
    return _recipients_outcome(codes, recipients)


def _recipients_outcome(codes: list[int], recipients: list[dict[str, Any]]) -> SendOutcome:
    """Accepted only if every recipient was; retryable only if every failure is."""
    failed = [
        (code, r) for code, r in zip(codes, recipients, strict=True) if code not in ACCEPTED_CODES
    ]
    if not failed:
        first = recipients[0]
        return SendOutcome.sent(str(first.get("messageId", "")), str(first.get("status", "")))
    error = "; ".join(f"{code} {r.get('status', '')}".strip() for code, r in failed)
    if all(code in RETRYABLE_CODES for code, _ in failed):
        return SendOutcome.retry_later(error, str(failed[0][0]))
    return SendOutcome.refused(error, str(failed[0][0]))


def _short(body: bytes) -> str:
    return body.decode("utf-8", "replace").strip()[:_ERROR_TEXT_LIMIT]


def parse_delivery_report(
    form: Mapping[str, str], *, provider: str = "africastalking"
) -> DeliveryReport:
    """A delivery-report callback's form fields as a :class:`DeliveryReport`.

    Fields (messaging.md §2.3): ``id`` (the send's ``messageId``), ``status``,
    ``phoneNumber``, ``networkCode``, ``failureReason`` (failures only, not on every
    network), ``retryCount``. Raises MalformedDeliveryReport without ``id`` or ``status``.
    """
    message_id = form.get("id", "").strip()
    status = form.get("status", "").strip()
    if not message_id or not status:
        raise MalformedDeliveryReport("a delivery report needs 'id' and 'status'")
    retries = form.get("retryCount", "").strip()
    return DeliveryReport(
        provider=provider,
        provider_message_id=message_id,
        status=status,
        failure_reason=form.get("failureReason", "").strip(),
        phone_number=form.get("phoneNumber", "").strip(),
        network_code=form.get("networkCode", "").strip(),
        retry_count=int(retries) if retries.isdigit() else 0,
    )
