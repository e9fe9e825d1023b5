"""The canonical USSD model: what every provider codec produces and consumes.

The engine never sees provider fields (messaging.md §1.7). A codec turns one provider
request into a :class:`UssdEvent` (a hop) or a :class:`SessionClosed` (the provider ended
the session), and renders a :class:`UssdReply` back into that provider's HTTP response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["CodecError", "SessionClosed", "UssdEvent", "UssdReply"]


class CodecError(ValueError):
    """A provider request the codec cannot read (missing fields, wrong types, bad bytes).

    The only exception a codec's ``parse`` raises; the HTTP route answers it with a 4xx.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class UssdEvent:
    """One hop of a USSD session, whatever the provider.

    Attributes:
        provider: codec name (``africastalking``, ``hubtel``, ``nalo``, ``arkesel``).
        session_id: the provider's session id (hops of one session share it).
        msisdn: the phone number, E.164 with ``+`` when the provider gives the country.
        service_code: the dialled code, e.g. ``*384*12#``.
        network: the provider's network/operator code or name ("" when not sent).
        input: the latest input only ("" on a first hop without pre-filled digits).
        route: every input of the session so far, oldest first, as the provider sent them
            (back/home keys included); rebuilt by the codec for latest-input providers.
        is_new: the provider says this hop opens the session.
        hop_index: the provider's hop counter when it has one (Hubtel ``Sequence``).
        raw: the request fields as received (for rendering and logs).
    """

    provider: str
    session_id: str
    msisdn: str
    service_code: str
    network: str
    input: str
    route: tuple[str, ...]
    is_new: bool
    hop_index: int | None = None
    raw: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class UssdReply:
    """What to show: ``end`` closes the session (AT ``END``, Hubtel ``release``).

    ``hints`` carry provider-specific rendering hints, e.g. Hubtel ``DataType``/``FieldType``.
    """

    text: str
    end: bool
    hints: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed:
    """The provider ended the session (AT end notification, Hubtel ``Release``)."""

    provider: str
    session_id: str
    reason: str
