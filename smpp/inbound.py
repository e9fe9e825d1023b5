"""A ``deliver_sm`` that is not a receipt, as an :class:`~smpp.models.InboundMessage` (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from smpp.encoding import ESM_UDHI, decode_user_data
from smpp.models import InboundMessage
from smpp.pdu import ShortMessageBody, Tlv

__all__ = ["inbound_message", "udh_concat"]

_IEI_CONCAT_8: Final = 0x00
_IEI_CONCAT_16: Final = 0x08


def udh_concat(user_data: bytes) -> tuple[int, int, int] | None:
    """``(reference, total, sequence)`` from a UDH's concatenation element, if it has one."""
    if not user_data:
        return None
    udh = user_data[1 : 1 + user_data[0]]
    at = 0
    while at + 2 <= len(udh):
        iei, size = udh[at], udh[at + 1]
        value = udh[at + 2 : at + 2 + size]
        if iei == _IEI_CONCAT_8 and len(value) == 3:  # noqa: PLR2004 - ref, total, seq
            return value[0], value[1], value[2]
        if iei == _IEI_CONCAT_16 and len(value) == 4:  # noqa: PLR2004 - ref(2), total, seq
            return int.from_bytes(value[:2], "big"), value[2], value[3]
        at += 2 + size
    return None


def inbound_message(bind: str, body: ShortMessageBody, received_at: datetime) -> InboundMessage:
    """The MO in ``body``; ``received_at`` is a UTC-aware datetime."""
    udhi = bool(body.esm_class & ESM_UDHI)
    data = body.text_octets()
    op = body.tlvs.get(Tlv.USSD_SERVICE_OP)
    return InboundMessage(
        bind=bind,
        source_addr=body.source_addr,
        destination_addr=body.destination_addr,
        text=decode_user_data(data, body.data_coding, udhi=udhi),
        data_coding=body.data_coding,
        esm_class=body.esm_class,
        received_at=received_at,
        ussd_service_op=op[0] if op else None,
        concat=udh_concat(data) if udhi else None,
        tlvs=tuple(sorted(body.tlvs.items())),
    )
