"""Provider codecs: each aggregator's request to one canonical event, and the reply back.

Each module has ``NAME``, ``parse(body, previous_route, *, service_code=None)`` and
``render(reply, event)``. ``parse`` raises only :class:`~ussd_menus.model.CodecError`.
``previous_route`` is the route held in the session store (None when there is no session):
latest-input providers (Hubtel, Nalo, Arkesel) append the new input to it; Africa's
Talking sends the whole route itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from ussd_menus.codecs import africastalking, arkesel, hubtel, nalo
from ussd_menus.codecs._fields import MAX_BODY, Fields, HttpReply
from ussd_menus.model import SessionClosed, UssdEvent, UssdReply

__all__ = ["CODECS", "MAX_BODY", "Codec", "HttpReply"]


class Codec(Protocol):
    """What the gateway needs from a provider codec module."""

    NAME: str

    def parse(
        self,
        body: Fields | bytes,
        previous_route: tuple[str, ...] | None,
        *,
        service_code: str | None = None,
    ) -> UssdEvent | SessionClosed:
        """Read one request; raise CodecError if it is malformed."""

    def render(self, reply: UssdReply, event: UssdEvent) -> HttpReply:
        """The HTTP response for ``reply`` to ``event``."""


CODECS: Mapping[str, Codec] = MappingProxyType(
    {m.NAME: m for m in (africastalking, hubtel, nalo, arkesel)}
)
