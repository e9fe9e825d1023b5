"""Strict decoding of provider callback bodies, shared by the providers of this package."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from vending_core.service.payment_ports import PaymentError

__all__ = ["MAX_CALLBACK_BYTES", "MalformedCallback", "decode_json_object", "require"]

_T = TypeVar("_T")

MAX_CALLBACK_BYTES = 16 * 1024
"""Callbacks are a few hundred bytes; anything larger is refused before it is parsed."""


class MalformedCallback(PaymentError):  # noqa: N818 - names what happened, like PaymentRefused
    """A callback body that is not what the provider sends (wrong type, shape or size)."""

    code = "payment-callback-malformed"


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def decode_json_object(
    body: bytes, content_type: str, *, limit: int = MAX_CALLBACK_BYTES
) -> dict[str, object]:
    """The body as a JSON object, or MalformedCallback.

    The media type must be ``application/json`` (parameters such as ``charset`` allowed), the
    body at most ``limit`` bytes of UTF-8, without NaN/Infinity, nested no deeper than Python's
    parser allows.
    """
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise MalformedCallback(f"callback content type is not JSON: {media_type!r}")
    if len(body) > limit:
        raise MalformedCallback(f"callback body is {len(body)} bytes, over {limit}")
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedCallback("callback body is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedCallback("callback body is not a JSON object")
    return value


def require(mapping: Mapping[str, object], key: str, kind: type[_T], where: str) -> _T:
    """``mapping[key]`` when it is a ``kind`` (never a bool standing in for an int)."""
    value = mapping.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedCallback(f"{where}.{key} is missing or not a {kind.__name__}")
    return value
