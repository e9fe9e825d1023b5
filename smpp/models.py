"""What the SMPP link hands to the rest of the system, and its state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["InboundMessage", "LinkState"]


class LinkState(StrEnum):
    """Where a link is: dialling/binding, bound (can submit), or down (waiting to retry)."""

    CONNECTING = "connecting"
    BOUND = "bound"
    DOWN = "down"


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """A mobile-originated message (``deliver_sm`` that is not a receipt).

    ``text`` is decoded from GSM-7 / UCS-2 / Latin-1 per ``data_coding`` with any UDH
    removed; ``concat`` is ``(reference, total, sequence)`` when the message is one part of
    a concatenated MO (the caller reassembles). ``ussd_service_op`` is the TLV 0x0501 value
    when the operator carries USSD over SMPP (None for plain SMS).
    """

    bind: str  #: the BindConfig name it came in on (replies go back on the same bind)
    source_addr: str  #: the customer's number as the SMSC wrote it
    destination_addr: str  #: our short code / number
    text: str
    data_coding: int
    esm_class: int
    received_at: datetime
    ussd_service_op: int | None = None
    concat: tuple[int, int, int] | None = None
    tlvs: tuple[tuple[int, bytes], ...] = ()
