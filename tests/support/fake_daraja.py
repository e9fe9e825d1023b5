"""Local HTTP stand-ins for payment tests: a callback receiver and a fake M-Pesa Daraja.

* :func:`serve` runs an aiohttp app on 127.0.0.1 port 0 and yields its base URL.
* :class:`CallbackReceiver` records the bodies POSTed to it (a provider's callbacks); it can be
  told to fail the first N with HTTP 500.
* :class:`FakeDaraja` answers like Safaricom's Daraja (vending.md, appendix "M-Pesa Daraja STK
  push, the wire facts"): ``GET /oauth/v1/generate`` checks HTTP Basic and issues short-lived
  tokens, ``POST /mpesa/stkpush/v1/processrequest`` checks the Bearer token, the Password formula
  and the fields, records the request and, after ``callback_delay``, POSTs the scripted
  :class:`Script` outcome to the request's ``CallBackURL``; ``POST /mpesa/stkpushquery/v1/query``
  reports "being processed" until the outcome is decided. It can be made to fail
  (``fail_status``), be slow (``response_delay``) or refuse connections (``stop`` it).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import re
import secrets
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

__all__ = ["CallbackReceiver", "FakeDaraja", "Script", "serve"]

NAIROBI = ZoneInfo("Africa/Nairobi")


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port; yield ``http://127.0.0.1:PORT``."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class CallbackReceiver:
    """Records every POST body with its content type; answers 500 to the first ``fail_first``."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.bodies: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
        self.app = web.Application()
        self.app.router.add_post("/callback", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if self.attempts <= self.fail_first:
            return web.Response(status=500, text="receiver down")
        await self.bodies.put((body, request.headers.get("Content-Type", "")))
        return web.json_response({"ok": True})

    async def next_body(self) -> tuple[bytes, str]:
        """The next body received (with its content type), waiting at most 5 seconds."""
        async with asyncio.timeout(5.0):
            return await self.bodies.get()


class Script(enum.StrEnum):
    """How the fake's payer answers an STK push."""

    PAID = "paid"  #: callback ResultCode 0 with metadata
    CANCELLED = "cancelled"  #: 1032
    TIMEOUT = "timeout"  #: 1037
    INSUFFICIENT = "insufficient"  #: 1
    WRONG_PIN = "wrong_pin"  #: 2001
    NEVER = "never"  #: paid, but the callback is never sent (only the query tells)
    TWICE = "twice"  #: paid, the callback is sent twice
    WRONG_AMOUNT = "wrong_amount"  #: paid one unit more than asked


_RESULTS: dict[Script, tuple[int, str]] = {
    Script.PAID: (0, "The service request is processed successfully."),
    Script.NEVER: (0, "The service request is processed successfully."),
    Script.TWICE: (0, "The service request is processed successfully."),
    Script.WRONG_AMOUNT: (0, "The service request is processed successfully."),
    Script.CANCELLED: (1032, "Request cancelled by user"),
    Script.TIMEOUT: (1037, "DS timeout user cannot be reached"),
    Script.INSUFFICIENT: (1, "The balance is insufficient for the transaction."),
    Script.WRONG_PIN: (2001, "The initiator information is invalid."),
}
_PHONE = re.compile(r"2547\d{8}|2541\d{8}")
_PUSH_FIELDS = (
    "BusinessShortCode",
    "Password",
    "Timestamp",
    "TransactionType",
    "Amount",
    "PartyA",
    "PartyB",
    "PhoneNumber",
    "CallBackURL",
    "AccountReference",
    "TransactionDesc",
)


@dataclass
class _Push:
    body: dict[str, object]
    checkout_id: str
    merchant_id: str
    script: Script
    decided: bool = False
    callbacks: list[dict[str, object]] = field(default_factory=list)


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"requestId": secrets.token_hex(6), "errorCode": code, "errorMessage": message}
    return web.json_response(body, status=status)


class FakeDaraja:
    """A fake Daraja server (see the module docstring); attributes are the test's knobs."""

    def __init__(
        self,
        *,
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",  # noqa: S107 - a fake's test credential
        shortcode: str = "174379",
        passkey: str = "fake-passkey",
        token_ttl: int = 3599,
        callback_delay: float = 0.05,
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = shortcode
        self.passkey = passkey
        self.token_ttl = token_ttl
        self.callback_delay = callback_delay
        self.script = Script.PAID  #: the default outcome
        self.scripts_by_phone: dict[str, Script] = {}
        self.fail_status: int | None = None  #: answer every M-Pesa call with this status
        self.response_delay = 0.0  #: seconds before answering any request
        self.push_answer: dict[str, object] | bytes | None = None  #: answer pushes with this
        self.reject_tokens = False  #: answer 401 even to fresh tokens
        self.check_clock = True  #: refuse a Timestamp more than 5 minutes from Nairobi now
        self.oauth_calls = 0
        self.tokens: set[str] = set()  #: valid tokens
        self.issued: list[str] = []  #: every token ever issued
        self.pushes: list[_Push] = []
        self.queries: list[dict[str, object]] = []
        self.problems: list[str] = []  #: what the fake refused, for assertions
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Listen on 127.0.0.1 port 0; return the base URL (also in ``url``)."""
        app = web.Application()
        app.router.add_get("/oauth/v1/generate", self._oauth)
        app.router.add_post("/mpesa/stkpush/v1/processrequest", self._push)
        app.router.add_post("/mpesa/stkpushquery/v1/query", self._query)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        """Stop listening (later connections are refused) and cancel pending callbacks."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def revoke_tokens(self) -> None:
        """Forget every issued token: the next call with one gets 401."""
        self.tokens.clear()

    def password_for(self, timestamp: str) -> str:
        """Daraja's formula: base64(shortcode + passkey + timestamp)."""
        return base64.b64encode(f"{self.shortcode}{self.passkey}{timestamp}".encode()).decode()

    def decide(self, checkout_id: str) -> None:
        """Mark a push as answered by the payer now (no callback sent)."""
        self._find(checkout_id).decided = True

    # ------------------------------------------------------------------ handlers

    async def _oauth(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.response_delay)
        self.oauth_calls += 1
        expected = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode())
        header = request.headers.get("Authorization", "")
        if request.query.get("grant_type") != "client_credentials" or (
            header != f"Basic {expected.decode()}"
        ):
            self.problems.append("oauth: bad credentials or grant_type")
            return _error(400, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        self.issued.append(token)
        return web.json_response({"access_token": token, "expires_in": str(self.token_ttl)})

    async def _guard(self, request: web.Request) -> tuple[dict[str, object] | None, web.Response]:
        """The JSON body when the call may proceed, else None and the error response."""
        await asyncio.sleep(self.response_delay)
        if self.fail_status is not None:
            return None, _error(self.fail_status, "500.003.02", "System is busy")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens or self.reject_tokens:
            return None, _error(401, "404.001.04", "Invalid Access Token")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return None, _error(400, "400.002.05", "Invalid Request Payload")
        if not isinstance(body, dict):
            return None, _error(400, "400.002.05", "Invalid Request Payload")
        problem = self._check_password(body)
        if problem:
            self.problems.append(problem)
            return None, _error(400, "400.002.02", f"Bad Request - {problem}")
        return body, web.Response()

    def _check_password(self, body: dict[str, object]) -> str:
        timestamp = body.get("Timestamp")
        if not isinstance(timestamp, str) or not re.fullmatch(r"\d{14}", timestamp):
            return "Invalid Timestamp"
        local = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        skew = abs((datetime.now(UTC) - local).total_seconds())
        if self.check_clock and skew > 300:  # five minutes
            return "Timestamp is not Nairobi time now"
        if body.get("BusinessShortCode") != self.shortcode:
            return "Invalid BusinessShortCode"
        if body.get("Password") != self.password_for(timestamp):
            return "Invalid Password"
        return ""

    async def _push(self, request: web.Request) -> web.Response:
        body, error = await self._guard(request)
        if body is None:
            return error
        problem = self._check_push(body)
        if problem:
            self.problems.append(problem)
            return _error(400, "400.002.02", f"Bad Request - Invalid {problem}")
        if isinstance(self.push_answer, bytes):
            return web.Response(body=self.push_answer, content_type="text/html")
        if self.push_answer is not None:
            return web.json_response(self.push_answer)
        phone = str(body["PhoneNumber"])
        push = _Push(
            body=body,
            checkout_id=f"ws_CO_{secrets.token_hex(8)}",
            merchant_id=f"{secrets.randbelow(10**5)}-{secrets.randbelow(10**8)}-1",
            script=self.scripts_by_phone.get(phone, self.script),
        )
        self.pushes.append(push)
        self._spawn(self._callback_later(push))
        return web.json_response(
            {
                "MerchantRequestID": push.merchant_id,
                "CheckoutRequestID": push.checkout_id,
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        )

    @staticmethod
    def _check_push(body: dict[str, object]) -> str:
        missing = [name for name in _PUSH_FIELDS if name not in body]
        if missing:
            return missing[0]
        amount = body["Amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            return "Amount"
        for name in ("PhoneNumber", "PartyA"):
            if not _PHONE.fullmatch(str(body[name])):
                return name
        if body["TransactionType"] not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            return "TransactionType"
        reference = body["AccountReference"]
        if not isinstance(reference, str) or not 0 < len(reference) <= 12:
            return "AccountReference"
        return ""

    async def _query(self, request: web.Request) -> web.Response:
        body, error = await self._guard(request)
        if body is None:
            return error
        self.queries.append(body)
        try:
            push = self._find(str(body.get("CheckoutRequestID")))
        except KeyError:
            return _error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        if not push.decided:
            return _error(500, "500.001.1001", "The transaction is being processed")
        code, description = _RESULTS[push.script]
        return web.json_response(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": push.merchant_id,
                "CheckoutRequestID": push.checkout_id,
                "ResultCode": str(code),
                "ResultDesc": description,
            }
        )

    # ------------------------------------------------------------------ callbacks

    def _find(self, checkout_id: str) -> _Push:
        for push in self.pushes:
            if push.checkout_id == checkout_id:
                return push
        raise KeyError(checkout_id)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def callback_body(self, push: _Push) -> dict[str, object]:
        """The callback Daraja sends for ``push`` (as in the vending.md appendix)."""
        code, description = _RESULTS[push.script]
        callback: dict[str, object] = {
            "MerchantRequestID": push.merchant_id,
            "CheckoutRequestID": push.checkout_id,
            "ResultCode": code,
            "ResultDesc": description,
        }
        if code == 0:
            amount = push.body["Amount"]
            assert isinstance(amount, int)
            if push.script is Script.WRONG_AMOUNT:
                amount += 1
            items: list[dict[str, object]] = [
                {"Name": "Amount", "Value": amount},
                {"Name": "MpesaReceiptNumber", "Value": f"NLJ{secrets.token_hex(4).upper()}"},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20231210133416},
                {"Name": "PhoneNumber", "Value": int(str(push.body["PhoneNumber"]))},
            ]
            callback["CallbackMetadata"] = {"Item": items}
        return {"Body": {"stkCallback": callback}}

    async def _callback_later(self, push: _Push) -> None:
        await asyncio.sleep(self.callback_delay)
        push.decided = True
        if push.script is Script.NEVER:
            return
        body = self.callback_body(push)
        for _ in range(2 if push.script is Script.TWICE else 1):
            push.callbacks.append(body)
            assert self._session is not None
            try:
                async with self._session.post(str(push.body["CallBackURL"]), json=body) as resp:
                    await resp.read()
            except aiohttp.ClientError as exc:
                self.problems.append(f"callback failed: {exc!r}")
