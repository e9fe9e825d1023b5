"""The PDU codec against octets written out by hand from SMPP 3.4 (§3.2 header, §4 bodies)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpp.errors import PduDecodeError
from smpp.pdu import (
    BindBody,
    Command,
    Pdu,
    ShortMessageBody,
    Status,
    decode_header,
    message_id_body,
    read_message_id,
)


def test_enquire_link_is_a_bare_16_octet_header() -> None:
    """enquire_link seq 1: length 16, id 0x15, status 0, sequence 1, each 4 octets big-endian."""
    wire = Pdu(Command.ENQUIRE_LINK, 1).encode()
    assert wire == bytes.fromhex("00000010000000150000000000000001")


def test_a_response_keeps_the_sequence_and_sets_the_high_bit() -> None:
    """The response to deliver_sm 7 is deliver_sm_resp (0x80000005) with sequence 7."""
    resp = Pdu(Command.DELIVER_SM, 7).response(Status.RX_T_APPN, message_id_body(""))
    assert resp.encode() == bytes.fromhex("0000001180000005000000640000000700")


def test_bind_body_layout() -> None:
    """system_id, password, system_type as C-strings, then version 0x34, ton, npi, range."""
    body = BindBody(system_id="ab", password="pw", system_type="")
    assert body.encode() == b"ab\0pw\0\0" + bytes([0x34, 0, 0]) + b"\0"
    assert BindBody.decode(body.encode()) == body


def test_bind_body_repr_hides_the_password() -> None:
    """A bind body in a log line never shows the password."""
    assert "hunter2" not in repr(BindBody(system_id="ab", password="hunter2"))


def test_submit_sm_body_layout() -> None:
    """The submit_sm body follows the field order of SMPP 3.4 §4.4.1.

    service_type, src ton/npi/addr, dst ton/npi/addr, esm, pid, prio, two times,
    registered_delivery, replace, data_coding, default id, sm_length, text, TLVs.
    """
    body = ShortMessageBody(
        source_addr="V",
        source_addr_ton=5,
        destination_addr="2547",
        esm_class=0x40,
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x00A",
        tlvs={0x0501: b"\x01"},
    )
    expected = (
        b"\0"  # service_type
        + b"\x05\x00V\0"  # source ton 5, npi 0, "V"
        + b"\x01\x012547\0"  # dest ton 1, npi 1
        + b"\x40\x00\x00"  # esm_class, protocol_id, priority
        + b"\0\0"  # schedule, validity
        + b"\x01\x00\x08\x00"  # registered_delivery, replace, data_coding 8, default id
        + b"\x02\x00A"  # sm_length 2, text
        + b"\x05\x01\x00\x01\x01"  # TLV 0x0501 length 1 value 1
    )
    assert body.encode() == expected
    assert ShortMessageBody.decode(expected) == body


def test_short_message_over_254_octets_is_refused() -> None:
    """sm_length is one octet and at most 254: longer text must be split first."""
    with pytest.raises(ValueError, match="254"):
        ShortMessageBody(source_addr="", destination_addr="1", short_message=b"x" * 255).encode()


@pytest.mark.parametrize("length", [0, 15, 64 * 1024 + 1, 0xFFFFFFFF])
def test_impossible_command_length_is_rinvcmdlen(length: int) -> None:
    """A length below the header or above 64 KiB cannot be framed: generic_nack 0x02."""
    header = length.to_bytes(4, "big") + bytes.fromhex("000000040000000000000009")
    with pytest.raises(PduDecodeError) as caught:
        decode_header(header)
    assert (caught.value.status, caught.value.sequence) == (0x02, 9)


def test_a_truncated_body_is_rinvcmdlen_with_the_sequence() -> None:
    """A submit_sm body that ends inside a C-string fails with 0x02 and keeps the sequence."""
    with pytest.raises(PduDecodeError) as caught:
        ShortMessageBody.decode(b"\0\x05\x00VEND", sequence=42)
    assert (caught.value.status, caught.value.sequence) == (0x02, 42)


def test_sm_length_past_the_end_is_rinvcmdlen() -> None:
    """sm_length 10 with only 2 octets left is malformed, not silently short."""
    good = ShortMessageBody(source_addr="", destination_addr="1", short_message=b"ab").encode()
    bad = good[:-3] + b"\x0a" + b"ab"
    with pytest.raises(PduDecodeError):
        ShortMessageBody.decode(bad)


def test_message_id_of_an_error_response_may_be_empty() -> None:
    """submit_sm_resp with an error status may carry no body (§4.4.2): id ''."""
    assert read_message_id(b"") == ""
    assert read_message_id(b"A1\0") == "A1"


@given(st.binary(max_size=300))
def test_any_body_decodes_or_fails_with_pdu_decode_error(data: bytes) -> None:
    """Garbage bodies never raise anything but PduDecodeError (generic_nack 0x02)."""
    failures: list[PduDecodeError] = []
    for decode in (ShortMessageBody.decode, BindBody.decode):
        try:
            decode(data, 3)
        except PduDecodeError as exc:
            failures.append(exc)
    assert all((f.status, f.sequence) == (Status.RINVCMDLEN, 3) for f in failures)


@given(
    st.builds(
        ShortMessageBody,
        source_addr=st.text("0123456789", max_size=20),
        destination_addr=st.text("0123456789", max_size=20),
        short_message=st.binary(max_size=254),
        esm_class=st.integers(0, 255),
        data_coding=st.integers(0, 255),
        tlvs=st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=20), max_size=3),
    )
)
def test_submit_body_round_trips(body: ShortMessageBody) -> None:
    """Whatever we can encode decodes back to the same fields."""
    assert ShortMessageBody.decode(body.encode()) == body
