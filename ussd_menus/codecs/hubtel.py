"""Hubtel Programmable Services: JSON, LATEST input only, ``ClientState`` echoed back.

Request (messaging.md §1.3): ``Type`` (Initiation / Response / Release / Timeout; any case),
``Message`` (the whole dialled string on Initiation, then the latest input), ``ServiceCode``,
``Operator``, ``ClientState``, ``Mobile``, ``SessionId``, ``Sequence``.
Response: ``SessionId``, ``Type`` (``response`` continues, ``release`` ends), ``Message``,
``Label``, ``ClientState``, ``DataType``, ``FieldType``.

We return the route as ``ClientState`` (a JSON list); it rebuilds the route only when the
session store has none (``previous_route`` is None on a non-initial hop).
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
    req_str,
)
from ussd_menus.model import CodecError, SessionClosed, UssdEvent, UssdReply

__all__ = ["NAME", "parse", "render"]

NAME = "hubtel"
_CLOSING = {"release": "release", "timeout": "timeout"}


def _sequence(fields: Fields) -> int | None:
    value = fields.get("Sequence")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise CodecError(f"field 'Sequence' must be a number, not {type(value).__name__}")
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:  # noqa: PLR2004 - sane cap
        raise CodecError(f"field 'Sequence' must be a small whole number, not {text!r:.40}")
    return int(text)


def _client_state(fields: Fields) -> tuple[str, ...]:
    text = opt_str(fields, "ClientState")
    if not text:
        return ()
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodecError(f"field 'ClientState' is not ours: {exc}") from exc
    if not isinstance(state, list) or not all(isinstance(s, str) for s in state):
        raise CodecError("field 'ClientState' is not ours: expected a list of inputs")
    return tuple(state)


def parse(
    body: Fields | bytes,
    previous_route: tuple[str, ...] | None,
    *,
    service_code: str | None = None,
) -> UssdEvent | SessionClosed:
    """One hop, or :class:`SessionClosed` for ``Release``/``Timeout``."""
    fields = load_json(body)
    kind = req_str(fields, "Type").strip().lower()
    session_id = req_str(fields, "SessionId")
    if kind in _CLOSING:
        return SessionClosed(provider=NAME, session_id=session_id, reason=_CLOSING[kind])
    if kind not in {"initiation", "response"}:
        raise CodecError(f"field 'Type' is not Initiation, Response or Release: {kind!r:.40}")
    message = req_str(fields, "Message", empty=True)
    code = opt_str(fields, "ServiceCode") or service_code
    is_new = kind == "initiation"
    if is_new:
        code, route = dialled_route(message, code)
        latest = route[-1] if route else ""
    else:
        before = previous_route if previous_route is not None else _client_state(fields)
        route, latest = (*before, message), message
    return UssdEvent(
        provider=NAME,
        session_id=session_id,
        msisdn=msisdn(fields, "Mobile"),
        service_code=code or "",
        network=opt_str(fields, "Operator"),
        input=latest,
        route=route,
        is_new=is_new,
        hop_index=_sequence(fields),
        raw=fields,
    )


def render(reply: UssdReply, event: UssdEvent) -> HttpReply:
    """The JSON response; ``hints`` may set ``Label``, ``DataType`` and ``FieldType``."""
    hints = reply.hints
    payload = {
        "SessionId": event.session_id,
        "Type": "release" if reply.end else "response",
        "Message": reply.text,
        "Label": hints.get("Label", ""),
        "ClientState": json.dumps(list(event.route), separators=(",", ":")),
        "DataType": hints.get("DataType", "display" if reply.end else "input"),
        "FieldType": hints.get("FieldType", "text"),
    }
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return HttpReply(200, "application/json; charset=utf-8", body)
