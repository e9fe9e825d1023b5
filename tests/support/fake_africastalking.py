"""A fake Africa's Talking SMS API on 127.0.0.1 (an ephemeral port), for tests only.

It answers ``POST /version1/messaging`` the way messaging.md §2.1 describes the real one:
form fields ``username``, ``to`` (comma-separated), ``message``, ``from``; header ``apiKey``;
JSON only with ``Accept: application/json`` (XML otherwise). What a test can make it do:

* ``recipient_status[number] = (code, status)``: answer that recipient with that code;
* ``http_status = 500``: answer every request with that HTTP status and a plain body;
* ``delay = 2.0``: wait before answering (client timeouts);
* ``reply_xml = True``: answer XML although JSON was asked for;
* ``await stop()``: close the port (connections are refused), ``await start()`` again
  reopens the same port.

A wrong ``apiKey`` gets HTTP 401 as the real API does. Every request that reached the
handler is recorded in :attr:`received` (form and headers), accepted or not.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from aiohttp import web

__all__ = ["FakeAfricasTalking", "Received"]

_ACCEPTED = (101, "Success")


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake got."""

    form: dict[str, str]
    api_key: str | None
    accept: str | None


class FakeAfricasTalking:
    """The fake server (see the module docstring)."""

    def __init__(self, *, api_key: str = "fake-api-key", username: str = "sandbox") -> None:
        self.api_key = api_key
        self.username = username
        self.received: list[Received] = []
        #: requests answered 2xx with every recipient accepted (what the phones got)
        self.accepted: list[Received] = []
        self.recipient_status: dict[str, tuple[int, str]] = {}
        self.http_status: int | None = None
        self.delay = 0.0
        self.reply_xml = False  #: answer XML even when JSON is asked for
        self.port = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The URL to give the client as its base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on 127.0.0.1 (the same port as before after a stop)."""
        app = web.Application()
        app.router.add_post("/version1/messaging", self._messaging)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the port: clients get connection refused until :meth:`start`."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _messaging(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        api_key = request.headers.get("apiKey")
        received = Received(form, api_key, request.headers.get("Accept"))
        self.received.append(received)
        if self.delay:
            await asyncio.sleep(self.delay)
        if api_key != self.api_key or form.get("username") != self.username:
            return web.Response(status=401, text="The supplied authentication is invalid")
        if self.http_status is not None:
            return web.Response(status=self.http_status, text="Internal Server Error")
        recipients = [self._recipient(number) for number in form.get("to", "").split(",")]
        if all(r["statusCode"] in {100, 101, 102} for r in recipients):
            self.accepted.append(received)
        if self.reply_xml or received.accept != "application/json":
            return web.Response(text=_xml(recipients), content_type="application/xml")
        sent = sum(1 for r in recipients if r["statusCode"] in {100, 101, 102})
        body = {
            "SMSMessageData": {
                "Message": f"Sent to {sent}/{len(recipients)} Total Cost: KES 0.8000",
                "Recipients": recipients,
            }
        }
        return web.json_response(body, status=201)

    def _recipient(self, number: str) -> dict[str, object]:
        code, status = self.recipient_status.get(number.strip(), _ACCEPTED)
        accepted = code in {100, 101, 102}
        return {
            "statusCode": code,
            "number": number.strip(),
            "status": status,
            "cost": "KES 0.8000" if accepted else "0",
            "messageId": f"ATXid_{next(self._ids)}" if accepted else "None",
        }


def _xml(recipients: list[dict[str, object]]) -> str:
    items = "".join(
        f"<Recipient><number>{r['number']}</number><status>{r['status']}</status>"
        f"<statusCode>{r['statusCode']}</statusCode><messageId>{r['messageId']}</messageId>"
        "</Recipient>"
        for r in recipients
    )
    return f"<AfricasTalkingResponse><SMSMessageData><Recipients>{items}</Recipients>" + (
        "</SMSMessageData></AfricasTalkingResponse>"
    )
