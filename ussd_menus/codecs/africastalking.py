"""Africa's Talking USSD: form POST with CUMULATIVE ``text``; reply ``CON ``/``END `` text.

Request fields (messaging.md §1.2): ``sessionId``, ``serviceCode``, ``phoneNumber``,
``networkCode``, ``text`` (all inputs so far joined by ``*``; "" on the first hop, or the
digits dialled after the code). AT has no new-session flag: a hop is new when we hold no
route for the session. The end-of-session notification is read by :func:`parse_end`.
"""

from __future__ import annotations

from ussd_menus.codecs._fields import (
    Fields,
    HttpReply,
    load_form,
    msisdn,
    opt_str,
    req_str,
)
from ussd_menus.model import CodecError, SessionClosed, UssdEvent, UssdReply

__all__ = ["NAME", "parse", "parse_end", "render"]

NAME = "africastalking"
_END_STATUSES = {"success": "success", "incomplete": "incomplete", "failed": "failed"}


def parse(
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    *,
    service_code: str | None = None,
) -> UssdEvent:
    """One hop: the route is ``text`` split on ``*`` (back/home keys stay in it)."""
    fields = load_form(body)
    text = req_str(fields, "text", empty=True)
    route = tuple(text.split("*")) if text else ()
    return UssdEvent(
        provider=NAME,
        session_id=req_str(fields, "sessionId"),
        msisdn=msisdn(fields, "phoneNumber"),
        service_code=opt_str(fields, "serviceCode") or (service_code or ""),
        network=opt_str(fields, "networkCode"),
        input=route[-1] if route else "",
        route=route,
        is_new=previous_route is None,
        hop_index=None,
        raw=fields,
    )


def parse_end(body: Fields | bytes) -> SessionClosed:
    """The end-of-session notification: ``status`` Success / Incomplete / Failed."""
    fields = load_form(body)
    status = req_str(fields, "status").strip().lower()
    if status not in _END_STATUSES:
        raise CodecError(f"field 'status' is not Success, Incomplete or Failed: {status!r:.40}")
    return SessionClosed(provider=NAME, session_id=req_str(fields, "sessionId"), reason=status)


def render(reply: UssdReply, event: UssdEvent | None = None) -> HttpReply:
    """``CON text`` or ``END text`` as UTF-8 ``text/plain``."""
    del event  # AT needs nothing from the request to answer it
    prefix = "END " if reply.end else "CON "
    return HttpReply(200, "text/plain; charset=utf-8", (prefix + reply.text).encode("utf-8"))
