"""Arkesel: JSON, LATEST input only.

Request (messaging.md §1.5): ``sessionID``, ``userID``, ``newSession`` (bool), ``msisdn``,
``userData`` (the dialled string on a new session, then the latest input), ``network``.
Response: ``sessionID``, ``userID``, ``msisdn``, ``message``, ``continueSession`` (bool).
Arkesel sends no service code: pass the configured one as ``service_code``.
"""

from __future__ import annotations

import json

from ussd_menus.codecs._fields import (
    Fields,
    HttpReply,
    dialled_route,
    load_json,
    msisdn,
    opt_str,
    req_bool,
    req_str,
)
from ussd_menus.model import SessionClosed, UssdEvent, UssdReply

__all__ = ["NAME", "parse", "render"]

NAME = "arkesel"


def parse(
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    *,
    service_code: str | None = None,
) -> UssdEvent | SessionClosed:
    """One hop; the route is ``previous_route`` plus ``userData``."""
    fields = load_json(body)
    data = req_str(fields, "userData", empty=True)
    is_new = req_bool(fields, "newSession")
    if is_new:
        code, route = dialled_route(data, service_code)
        latest = route[-1] if route else ""
    else:
        code, route, latest = service_code or "", (*(previous_route or ()), data), data
    req_str(fields, "userID")
    return UssdEvent(
        provider=NAME,
        session_id=req_str(fields, "sessionID"),
        msisdn=msisdn(fields, "msisdn"),
        service_code=code,
        network=opt_str(fields, "network"),
        input=latest,
        route=route,
        is_new=is_new,
        hop_index=None,
        raw=fields,
    )


def render(reply: UssdReply, event: UssdEvent) -> HttpReply:
    """The JSON response, echoing ``sessionID``, ``userID`` and ``msisdn`` as received."""
    payload = {
        "sessionID": event.session_id,
        "userID": event.raw.get("userID", ""),
        "msisdn": event.raw.get("msisdn", event.msisdn),
        "message": reply.text,
        "continueSession": not reply.end,
    }
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return HttpReply(200, "application/json; charset=utf-8", body)
