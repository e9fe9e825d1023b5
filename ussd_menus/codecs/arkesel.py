"""Arkesel: JSON, LATEST input only.

Request (messaging.md §1.5): ``sessionID``, ``userID``, ``newSession`` (bool), ``msisdn``,
``userData`` (the dialled string on a new session, then the latest input), ``network``.
Response: ``sessionID``, ``userID``, ``msisdn``, ``message``, ``continueSession`` (bool).
Arkesel sends no service code: pass the configured one as ``service_code``.
"""

from __future__ import annotations

from ussd_menus.codecs._fields import Fields, HttpReply
from ussd_menus.codecs._flag_json import FlagJsonShape, parse_flag_json, render_flag_json
from ussd_menus.model import SessionClosed, UssdEvent, UssdReply

__all__ = ["NAME", "parse", "render"]

NAME = "arkesel"
SHAPE = FlagJsonShape(
    provider=NAME,
    data="userData",
    new_session="newSession",
    user_id="userID",
    session_id="sessionID",
    msisdn="msisdn",
    network="network",
    reply_text="message",
    reply_continue="continueSession",
    echo_session_id=True,
)


def parse(
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    *,
    service_code: str | None = None,
) -> UssdEvent | SessionClosed:
    """One hop; the route is ``previous_route`` plus the latest input."""
    return parse_flag_json(SHAPE, body, previous_route, service_code)


def render(reply: UssdReply, event: UssdEvent) -> HttpReply:
    """The JSON response (see :func:`~ussd_menus.codecs._flag_json.render_flag_json`)."""
    return render_flag_json(SHAPE, reply, event)
