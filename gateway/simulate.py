"""USSD aggregator simulators: play a provider's side of a session over real HTTP.

Each simulator sends what that aggregator sends (messaging.md §1) and reads what it reads:
Africa's Talking posts a form with the cumulative ``text`` and reads ``CON``/``END``;
Hubtel posts JSON with the latest input and echoes ``ClientState``; Nalo and Arkesel post
JSON with a new-session flag and read a continue flag. The end-to-end tests and
``bench/ussd_bench.py`` drive the gateway through these, and they are handy by hand::

    session = simulator("hubtel", http, "http://127.0.0.1:8080", msisdn="+233200000001")
    screen = await session.dial()
    screen = await session.send("1")

A simulator keeps the session's inputs, so :meth:`UssdSession.resend` repeats the last request
exactly (an aggregator's retry).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp

__all__ = ["PROVIDERS", "Screen", "UssdSession", "simulator"]

PROVIDERS: Final = ("africastalking", "hubtel", "nalo", "arkesel")
_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Screen:
    """What the phone shows: the text, and whether the session ended."""

    text: str
    end: bool
    status: int = 200


@dataclass(slots=True)
class UssdSession:
    """One simulated session of ``provider`` against the gateway at ``base_url``."""

    provider: str
    http: aiohttp.ClientSession
    base_url: str
    msisdn: str
    service_code: str = "*384*12#"
    session_id: str = field(default_factory=lambda: f"SIM{next(_IDS):08d}")
    inputs: list[str] = field(default_factory=list)
    client_state: str = ""
    query: str = ""  #: e.g. "?token=secret" for a protected route
    _last: tuple[str, bytes, str] | None = None

    async def dial(self, prefilled: str = "") -> Screen:
        """Open the session (``prefilled``: digits dialled after the code, ``1*100``)."""
        dialled = self.service_code
        if prefilled:
            dialled = f"{self.service_code[:-1]}*{prefilled}#"
            self.inputs = prefilled.split("*")
        return await self._post(self._request(new=True, latest=dialled))

    async def send(self, text: str) -> Screen:
        """Answer the current screen with ``text``."""
        self.inputs.append(text)
        return await self._post(self._request(new=False, latest=text))

    async def resend(self) -> Screen:
        """Send the last request again, byte for byte (the aggregator retried)."""
        if self._last is None:
            raise RuntimeError("nothing sent yet")
        return await self._send_raw(*self._last)

    def _request(self, *, new: bool, latest: str) -> tuple[str, bytes, str]:
        digits = self.msisdn.removeprefix("+")
        if self.provider == "africastalking":
            form = {
                "sessionId": self.session_id,
                "phoneNumber": self.msisdn,
                "serviceCode": self.service_code,
                "networkCode": "63902",
                "text": "*".join(self.inputs),
            }
            return ("application/x-www-form-urlencoded", urlencode(form).encode(), "")
        payload: dict[str, Any]
        if self.provider == "hubtel":
            payload = {
                "Type": "Initiation" if new else "Response",
                "Message": latest,
                "ServiceCode": self.service_code.strip("*#"),
                "Operator": "mtn",
                "ClientState": self.client_state,
                "Mobile": digits,
                "SessionId": self.session_id,
                "Sequence": len(self.inputs) + 1 if not new else 1,
            }
        elif self.provider == "nalo":
            payload = {
                "USERID": "vendgate",
                "MSISDN": digits,
                "USERDATA": latest,
                "MSGTYPE": new,
                "NETWORK": "MTN",
                "SESSIONID": self.session_id,
            }
        elif self.provider == "arkesel":
            payload = {
                "sessionID": self.session_id,
                "userID": "vendgate",
                "newSession": new,
                "msisdn": digits,
                "userData": latest,
                "network": "MTN",
            }
        else:
            raise ValueError(f"no simulator for {self.provider!r}")
        return ("application/json", json.dumps(payload).encode(), "")

    async def _post(self, request: tuple[str, bytes, str]) -> Screen:
        self._last = request
        return await self._send_raw(*request)

    async def _send_raw(self, content_type: str, body: bytes, _: str) -> Screen:
        url = f"{self.base_url}/ussd/{self.provider}{self.query}"
        headers = {"Content-Type": content_type}
        async with self.http.post(url, data=body, headers=headers) as response:
            raw = await response.read()
            if response.status != 200:  # noqa: PLR2004 - HTTP OK
                return Screen(raw.decode("utf-8", "replace"), True, response.status)
            return self._screen(raw)

    def _screen(self, raw: bytes) -> Screen:
        if self.provider == "africastalking":
            text = raw.decode("utf-8")
            return Screen(text[4:], text.startswith("END "))
        data = json.loads(raw)
        if self.provider == "hubtel":
            self.client_state = str(data.get("ClientState", ""))
            return Screen(str(data["Message"]), data["Type"] == "release")
        if self.provider == "nalo":
            return Screen(str(data["MSG"]), not data["MSGTYPE"])
        return Screen(str(data["message"]), not data["continueSession"])


def simulator(
    provider: str, http: aiohttp.ClientSession, base_url: str, *, msisdn: str, **options: Any
) -> UssdSession:
    """A new simulated session (``options``: ``service_code``, ``session_id``, ``query``)."""
    if provider not in PROVIDERS:
        raise ValueError(f"no simulator for {provider!r}; known: {', '.join(PROVIDERS)}")
    return UssdSession(provider, http, base_url.rstrip("/"), msisdn, **options)
