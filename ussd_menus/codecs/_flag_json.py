"""The shared shape of JSON aggregators with boolean session flags (Nalo, Arkesel).

Both send the dialled string on a new session and then only the latest input, mark a new
session with a boolean, and read a boolean "continue" flag in the reply; only the field
names differ. Neither sends the service code: pass the configured one as ``service_code``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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
from ussd_menus.model import UssdEvent, UssdReply

__all__ = ["FlagJsonShape", "parse_flag_json", "render_flag_json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagJsonShape:
    """One provider's field names."""

    provider: str
    data: str  #: the dialled string (new session) or the latest input
    new_session: str  #: true on the first hop
    user_id: str
    session_id: str
    msisdn: str
    network: str
    reply_text: str
    reply_continue: str  #: true = continue, false = end
    echo_session_id: bool  #: the reply repeats the session id


def parse_flag_json(
    shape: FlagJsonShape,
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    service_code: str | None,
) -> UssdEvent:
    """One hop; the route is ``previous_route`` plus the latest input."""
    fields = load_json(body)
    data = req_str(fields, shape.data, empty=True)
    is_new = req_bool(fields, shape.new_session)
    if is_new:
        code, route = dialled_route(data, service_code)
        latest = route[-1] if route else ""
    else:
        code, route, latest = service_code or "", (*(previous_route or ()), data), data
    req_str(fields, shape.user_id)
    return UssdEvent(
        provider=shape.provider,
        session_id=req_str(fields, shape.session_id),
        msisdn=msisdn(fields, shape.msisdn),
        service_code=code,
        network=opt_str(fields, shape.network),
        input=latest,
        route=route,
        is_new=is_new,
        hop_index=None,
        raw=fields,
    )


def render_flag_json(shape: FlagJsonShape, reply: UssdReply, event: UssdEvent) -> HttpReply:
    """The JSON response, echoing the user id and MSISDN (and session id) as received."""
    payload: dict[str, object] = {}
    if shape.echo_session_id:
        payload[shape.session_id] = event.session_id
    payload[shape.user_id] = event.raw.get(shape.user_id, "")
    payload[shape.msisdn] = event.raw.get(shape.msisdn, event.msisdn)
    payload[shape.reply_text] = reply.text
    payload[shape.reply_continue] = not reply.end
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return HttpReply(200, "application/json; charset=utf-8", body)
