"""USSD carried over SMPP (``ussd_service_op``, SMPP 3.4 §5.3.2.44): one codec, no HTTP.

The SMPP adapter turns a ``deliver_sm`` carrying ``ussd_service_op`` into the small JSON
object this codec reads, and submits what :func:`render` returns. Fields:

``session``  the session key (bind, phone and ``its_session_info`` when the SMSC sends it)
``msisdn``   the phone, international digits
``op``       1 (PSSR indication: the customer dialled the code; ``text`` is the dialled
             string) or 18 (USSR confirm: the answer to our last screen; ``text`` is it)
``text``     as above

Like Hubtel, later hops carry only the latest input: the route is the stored one plus it.
The reply is ``{"op": 2, "text": ...}`` (USSR request: show and wait for an answer) or
``{"op": 17, "text": ...}`` (PSSR response: the last screen, the session ends).
"""

from __future__ import annotations

import json
from typing import Final

from ussd_menus.codecs._fields import Fields, HttpReply, dialled_route, load_json, msisdn, req_str
from ussd_menus.model import CodecError, UssdEvent, UssdReply

__all__ = [
    "NAME",
    "OP_PSSR_INDICATION",
    "OP_PSSR_RESPONSE",
    "OP_USSR_CONFIRM",
    "OP_USSR_REQUEST",
    "parse",
    "render",
]

NAME: Final = "smpp"
OP_PSSR_INDICATION: Final = 1
OP_USSR_REQUEST: Final = 2
OP_PSSR_RESPONSE: Final = 17
OP_USSR_CONFIRM: Final = 18


def _op(fields: Fields) -> int:
    value = fields.get("op")
    if isinstance(value, bool) or value not in {OP_PSSR_INDICATION, OP_USSR_CONFIRM}:
        raise CodecError(
            f"field 'op' must be 1 (PSSR indication) or 18 (USSR confirm): {value!r:.9}"
        )
    assert isinstance(value, int)  # noqa: S101 - narrowed by the set test above
    return value


def parse(
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    *,
    service_code: str | None = None,
) -> UssdEvent:
    """One hop: a new session on a PSSR indication, else the latest input of one."""
    fields = load_json(body)
    op = _op(fields)
    text = req_str(fields, "text", empty=True).strip()
    if op == OP_PSSR_INDICATION:
        code, route = dialled_route(text, service_code)
        latest = route[-1] if route else ""
    else:
        code, latest = service_code or "", text
        route = (*(previous_route or ()), text)
    return UssdEvent(
        provider=NAME,
        session_id=req_str(fields, "session"),
        msisdn=msisdn(fields, "msisdn"),
        service_code=code,
        network="",
        input=latest,
        route=route,
        is_new=op == OP_PSSR_INDICATION,
        hop_index=None,
        raw=fields,
    )


def render(reply: UssdReply, event: UssdEvent | None = None) -> HttpReply:
    """The ``ussd_service_op`` and text to submit."""
    del event
    op = OP_PSSR_RESPONSE if reply.end else OP_USSR_REQUEST
    body = json.dumps({"op": op, "text": reply.text}, ensure_ascii=False).encode("utf-8")
    return HttpReply(200, "application/json; charset=utf-8", body)
