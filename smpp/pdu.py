"""SMPP 3.4 PDUs: a pure codec (no I/O), shared by the ESME client and the test SMSC.

A PDU is a 16-octet header (``command_length``, ``command_id``, ``command_status``,
``sequence_number``, all big-endian 32-bit) and a body. :class:`Pdu` keeps the body as bytes;
the typed bodies (:class:`BindBody`, :class:`ShortMessageBody`) encode and decode it.
Anything malformed raises :class:`~smpp.errors.PduDecodeError` with the ``command_status``
a peer must answer (``generic_nack`` ESME_RINVCMDLEN / ESME_RINVCMDID, messaging.md §3.5).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from smpp.errors import PduDecodeError

__all__ = [
    "HEADER",
    "MAX_PDU_LENGTH",
    "BindBody",
    "Command",
    "Pdu",
    "ShortMessageBody",
    "Status",
    "Tlv",
    "decode_header",
    "message_id_body",
    "read_message_id",
]

HEADER: Final = 16
MAX_PDU_LENGTH: Final = 64 * 1024  #: longer ones are refused (a garbage length, not an SMS)
_RESP: Final = 0x80000000
_HEAD = struct.Struct(">IIII")


class Command(IntEnum):
    """``command_id`` values (SMPP 3.4 §5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_TRANSMITTER = 0x00000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status(IntEnum):
    """``command_status`` values we send or act on (SMPP 3.4 §5.1.3, messaging.md §3.5)."""

    ROK = 0x00
    RINVMSGLEN = 0x01
    RINVCMDLEN = 0x02
    RINVCMDID = 0x03
    RINVBNDSTS = 0x04
    RALYBND = 0x05
    RSYSERR = 0x08
    RINVSRCADR = 0x0A
    RINVDSTADR = 0x0B
    RBINDFAIL = 0x0D
    RINVPASWD = 0x0E
    RINVSYSID = 0x0F
    RMSGQFUL = 0x14
    RINVESMCLASS = 0x43
    RSUBMITFAIL = 0x45
    RTHROTTLED = 0x58
    RX_T_APPN = 0x64


class Tlv(IntEnum):
    """Optional parameter tags we read or write."""

    RECEIPTED_MESSAGE_ID = 0x001E
    USER_MESSAGE_REFERENCE = 0x0204
    MESSAGE_STATE = 0x0427
    MESSAGE_PAYLOAD = 0x0424
    USSD_SERVICE_OP = 0x0501


def is_response(command_id: int) -> bool:
    """Whether ``command_id`` names a response (the high bit is set)."""
    return bool(command_id & _RESP)


def decode_header(header: bytes) -> tuple[int, int, int, int]:
    """``(command_length, command_id, command_status, sequence_number)`` of 16 octets.

    Raises PduDecodeError(RINVCMDLEN) when the length is below 16 or above
    :data:`MAX_PDU_LENGTH` (the stream cannot be framed any more).
    """
    length, command_id, status, sequence = _HEAD.unpack(header)
    if length < HEADER or length > MAX_PDU_LENGTH:
        raise PduDecodeError(f"command_length {length}", Status.RINVCMDLEN, sequence)
    return length, command_id, status, sequence


@dataclass(frozen=True, slots=True)
class Pdu:
    """One PDU: header fields and the raw body."""

    command_id: int
    sequence: int
    status: int = 0
    body: bytes = b""

    def encode(self) -> bytes:
        """The PDU on the wire."""
        head = _HEAD.pack(HEADER + len(self.body), self.command_id, self.status, self.sequence)
        return head + self.body

    def response(self, status: int = 0, body: bytes = b"") -> Pdu:
        """The response to this request, with the same sequence number."""
        return Pdu(self.command_id | _RESP, self.sequence, status, body)


class _Reader:
    """A cursor over a body; every short read raises PduDecodeError(RINVCMDLEN)."""

    def __init__(self, data: bytes, sequence: int) -> None:
        self._data = data
        self._at = 0
        self._sequence = sequence

    def fail(self, what: str) -> PduDecodeError:
        return PduDecodeError(what, Status.RINVCMDLEN, self._sequence)

    def u8(self) -> int:
        if self._at >= len(self._data):
            raise self.fail("body ends inside an integer")
        self._at += 1
        return self._data[self._at - 1]

    def cstring(self, limit: int) -> str:
        end = self._data.find(b"\0", self._at, self._at + limit)
        if end < 0:
            raise self.fail(f"C-string without NUL within {limit} octets")
        raw = self._data[self._at : end]
        self._at = end + 1
        return raw.decode("latin-1")

    def take(self, count: int) -> bytes:
        if self._at + count > len(self._data):
            raise self.fail("body ends inside a field")
        self._at += count
        return self._data[self._at - count : self._at]

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while self._at < len(self._data):
            tag, size = struct.unpack(">HH", self.take(4))
            found[tag] = self.take(size)
        return found


def _cstring(text: str, limit: int) -> bytes:
    raw = text.encode("latin-1")
    if len(raw) >= limit:
        raise ValueError(f"{text!r} does not fit a C-string of {limit} octets")
    return raw + b"\0"


def _tlv_bytes(tlvs: dict[int, bytes]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(v)) + v for tag, v in sorted(tlvs.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class BindBody:
    """The body of ``bind_transceiver`` (and the other binds): SMPP 3.4 §4.1.1."""

    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def encode(self) -> bytes:
        """The body octets."""
        return (
            _cstring(self.system_id, 16)
            + _cstring(self.password, 9)
            + _cstring(self.system_type, 13)
            + bytes([self.interface_version, self.addr_ton, self.addr_npi])
            + _cstring(self.address_range, 41)
        )

    @classmethod
    def decode(cls, body: bytes, sequence: int = 0) -> BindBody:
        """Parse a bind body; PduDecodeError(RINVCMDLEN) when it is malformed."""
        r = _Reader(body, sequence)
        return cls(
            system_id=r.cstring(16),
            password=r.cstring(9),
            system_type=r.cstring(13),
            interface_version=r.u8(),
            addr_ton=r.u8(),
            addr_npi=r.u8(),
            address_range=r.cstring(41),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortMessageBody:
    """The body of ``submit_sm`` and ``deliver_sm`` (same layout, SMPP 3.4 §4.4.1 / §4.6.1)."""

    source_addr: str
    destination_addr: str
    short_message: bytes = b""
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The body octets (``sm_length`` from ``short_message``, at most 254 octets)."""
        if len(self.short_message) > 254:  # noqa: PLR2004 - sm_length is one octet, max 254
            raise ValueError("short_message over 254 octets: use message_payload")
        return (
            _cstring(self.service_type, 6)
            + bytes([self.source_addr_ton, self.source_addr_npi])
            + _cstring(self.source_addr, 21)
            + bytes([self.dest_addr_ton, self.dest_addr_npi])
            + _cstring(self.destination_addr, 21)
            + bytes([self.esm_class, self.protocol_id, self.priority_flag])
            + _cstring(self.schedule_delivery_time, 17)
            + _cstring(self.validity_period, 17)
            + bytes([self.registered_delivery, self.replace_if_present_flag, self.data_coding])
            + bytes([self.sm_default_msg_id, len(self.short_message)])
            + self.short_message
            + _tlv_bytes(self.tlvs)
        )

    @classmethod
    def decode(cls, body: bytes, sequence: int = 0) -> ShortMessageBody:
        """Parse the body; PduDecodeError(RINVCMDLEN) when it is malformed."""
        r = _Reader(body, sequence)
        service_type = r.cstring(6)
        src_ton, src_npi, src = r.u8(), r.u8(), r.cstring(21)
        dst_ton, dst_npi, dst = r.u8(), r.u8(), r.cstring(21)
        esm, pid, prio = r.u8(), r.u8(), r.u8()
        schedule, validity = r.cstring(17), r.cstring(17)
        reg, replace, dc, default_id = r.u8(), r.u8(), r.u8(), r.u8()
        text = r.take(r.u8())
        return cls(
            service_type=service_type,
            source_addr_ton=src_ton,
            source_addr_npi=src_npi,
            source_addr=src,
            dest_addr_ton=dst_ton,
            dest_addr_npi=dst_npi,
            destination_addr=dst,
            esm_class=esm,
            protocol_id=pid,
            priority_flag=prio,
            schedule_delivery_time=schedule,
            validity_period=validity,
            registered_delivery=reg,
            replace_if_present_flag=replace,
            data_coding=dc,
            sm_default_msg_id=default_id,
            short_message=text,
            tlvs=r.tlvs(),
        )

    def text_octets(self) -> bytes:
        """The user data: ``short_message``, or the ``message_payload`` TLV when that is empty."""
        return self.short_message or self.tlvs.get(Tlv.MESSAGE_PAYLOAD, b"")


def message_id_body(message_id: str) -> bytes:
    """The body of ``submit_sm_resp`` / ``deliver_sm_resp`` / ``bind_*_resp``: one C-string."""
    return _cstring(message_id, 65)


def read_message_id(body: bytes, sequence: int = 0) -> str:
    """The C-string at the start of a response body ('' for an empty body, as on errors)."""
    if not body:
        return ""
    return _Reader(body, sequence).cstring(65)
