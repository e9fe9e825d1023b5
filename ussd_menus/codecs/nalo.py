"""Nalo Solutions: JSON with boolean flags, LATEST input only.

Request (messaging.md §1.4): ``USERID``, ``MSISDN``, ``USERDATA`` (the dialled string on a
new session, then the latest input), ``MSGTYPE`` (true = new session), ``NETWORK``,
``SESSIONID``. Response: ``USERID``, ``MSISDN``, ``MSG``, ``MSGTYPE`` (true = continue,
false = end). Nalo sends no service code: pass the configured one as ``service_code``.
"""

from __future__ import annotations

from ussd_menus.codecs._fields import Fields, HttpReply
from ussd_menus.codecs._flag_json import FlagJsonShape, parse_flag_json, render_flag_json
from ussd_menus.model import SessionClosed, UssdEvent, UssdReply

__all__ = ["NAME", "parse", "render"]

NAME = "nalo"
SHAPE = FlagJsonShape(
    provider=NAME,
    data="USERDATA",
    new_session="MSGTYPE",
    user_id="USERID",
    session_id="SESSIONID",
    msisdn="MSISDN",
    network="NETWORK",
    reply_text="MSG",
    reply_continue="MSGTYPE",
    echo_session_id=False,
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
