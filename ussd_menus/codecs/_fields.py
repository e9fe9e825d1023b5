"""Reading provider requests safely: size limit, UTF-8, JSON/form decoding, typed fields.

Every failure becomes one :class:`~ussd_menus.model.CodecError` with a message that names
the field, so a route can answer 400 with a reason and never a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from ussd_menus.model import CodecError

__all__ = [
    "MAX_BODY",
    "Fields",
    "HttpReply",
    "dialled_route",
    "load_form",
    "load_json",
    "msisdn",
    "opt_str",
    "req_bool",
    "req_str",
]

MAX_BODY = 8 * 1024  #: bytes; a USSD request is a few hundred
_MAX_FIELDS = 64
_MSISDN = re.compile(r"\+?[0-9]{5,15}")
_DIALLED = re.compile(r"\*[0-9*]*#?")

Fields = Mapping[str, object]


class HttpReply(NamedTuple):
    """A rendered reply: HTTP status, ``Content-Type`` and body bytes."""

    status: int
    content_type: str
    body: bytes


def _text(body: bytes) -> str:
    if len(body) > MAX_BODY:
        raise CodecError(f"request body is {len(body)} bytes, more than {MAX_BODY}")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"request body is not UTF-8: {exc.reason} at byte {exc.start}") from exc


def _checked(fields: Mapping[Any, object]) -> dict[str, object]:
    if len(fields) > _MAX_FIELDS:
        raise CodecError(f"request has {len(fields)} fields, more than {_MAX_FIELDS}")
    size = sum(len(v) for v in fields.values() if isinstance(v, str | bytes))
    if size > MAX_BODY:
        raise CodecError(f"request fields hold {size} characters, more than {MAX_BODY}")
    if not all(isinstance(k, str) for k in fields):
        raise CodecError("request field names must be strings")
    return {str(k): v for k, v in fields.items()}


def load_json(body: Fields | bytes) -> dict[str, object]:
    """A JSON object request (bytes, or a mapping already decoded by the web framework)."""
    if not isinstance(body, bytes | bytearray):
        return _checked(body)
    try:
        data = json.loads(_text(bytes(body)))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CodecError(f"request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CodecError(f"request body must be a JSON object, not {type(data).__name__}")
    return _checked(data)


def load_form(body: Fields | bytes) -> dict[str, object]:
    """An ``application/x-www-form-urlencoded`` request (bytes, or decoded fields)."""
    if not isinstance(body, bytes | bytearray):
        return _checked(body)
    text = _text(bytes(body))
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except (ValueError, UnicodeDecodeError) as exc:  # UnicodeDecodeError is a ValueError
        raise CodecError(f"request body is not a form: {exc}") from exc
    return _checked(dict(pairs))


def req_str(fields: Fields, name: str, *, empty: bool = False) -> str:
    """A required string field (non-empty unless ``empty``)."""
    if name not in fields:
        raise CodecError(f"field {name!r} is missing")
    value = fields[name]
    if not isinstance(value, str):
        raise CodecError(f"field {name!r} must be a string, not {type(value).__name__}")
    if not empty and not value.strip():
        raise CodecError(f"field {name!r} is empty")
    return value


def opt_str(fields: Fields, name: str) -> str:
    """An optional string field ("" when absent or null)."""
    if fields.get(name) is None:
        return ""
    return req_str(fields, name, empty=True)


def req_bool(fields: Fields, name: str) -> bool:
    """A required boolean (JSON ``true``/``false``, or the strings, any case)."""
    if name not in fields:
        raise CodecError(f"field {name!r} is missing")
    value = fields[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise CodecError(f"field {name!r} must be true or false, not {value!r:.40}")


def msisdn(fields: Fields, name: str) -> str:
    """The phone number, E.164 with ``+`` unless it is a national number (leading 0)."""
    text = req_str(fields, name).strip().replace(" ", "")
    if not _MSISDN.fullmatch(text):
        raise CodecError(f"field {name!r} is not a phone number: {text!r:.40}")
    return text if text.startswith(("+", "0")) else f"+{text}"


def _parts(code: str) -> list[str]:
    return [p for p in code.strip().strip("*#").split("*") if p]


def dialled_route(dialled: str, service_code: str | None) -> tuple[str, tuple[str, ...]]:
    """Split a dialled string into the service code and the pre-filled route.

    ``*384*12*1*100#`` with service code ``*384*12#`` gives ``("*384*12#", ("1", "100"))``.
    Without a known service code (Nalo, Arkesel), the first number is the code. Text that
    is not a dialled string (no leading ``*``) pre-fills nothing.
    """
    text = dialled.strip()
    code = _parts(service_code or "")
    if not _DIALLED.fullmatch(text):
        return (f"*{'*'.join(code)}#" if code else ""), ()
    parts = _parts(text)
    if not parts:
        return (f"*{'*'.join(code)}#" if code else ""), ()
    if not code or parts[: len(code)] != code:
        code = parts[:1]
    return f"*{'*'.join(code)}#", tuple(parts[len(code) :])
