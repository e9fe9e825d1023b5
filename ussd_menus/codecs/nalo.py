"""Nalo Solutions: JSON with boolean flags, LATEST input only.

Request (messaging.md §1.4): ``USERID``, ``MSISDN``, ``USERDATA`` (the dialled string on a
new session, then the latest input), ``MSGTYPE`` (true = new session), ``NETWORK``,
``SESSIONID``. Response: ``USERID``, ``MSISDN``, ``MSG``, ``MSGTYPE`` (true = continue,
false = end). Nalo sends no service code: pass the configured one as ``service_code``.
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

NAME = "nalo"


def parse(
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    *,
    service_code: str | None = None,
) -> UssdEvent | SessionClosed:
    """One hop; the route is ``previous_route`` plus ``USERDATA``."""
    fields = load_json(body)
    data = req_str(fields, "USERDATA", empty=True)
    is_new = req_bool(fields, "MSGTYPE")
    if is_new:
        code, route = dialled_route(data, service_code)
        latest = route[-1] if route else ""
    else:
        code, route, latest = service_code or "", (*(previous_route or ()), data), data
    req_str(fields, "USERID")
    return UssdEvent(
        provider=NAME,
        session_id=req_str(fields, "SESSIONID"),
        msisdn=msisdn(fields, "MSISDN"),
        service_code=code,
        network=opt_str(fields, "NETWORK"),
        input=latest,
        route=route,
        is_new=is_new,
        hop_index=None,
        raw=fields,
    )


def render(reply: UssdReply, event: UssdEvent) -> HttpReply:
    """The JSON response, echoing ``USERID`` and ``MSISDN`` as received."""
    payload = {
        "USERID": event.raw.get("USERID", ""),
        "MSISDN": event.raw.get("MSISDN", event.msisdn),
        "MSG": reply.text,
        "MSGTYPE": not reply.end,
    }
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return HttpReply(200, "application/json; charset=utf-8", body)
