"""Receipt parsing and our own correlator (messaging.md §3.2 and §3.6 gap 3)."""

from __future__ import annotations

from smpp.pdu import ShortMessageBody, Tlv
from smpp.receipts import Receipt, ReceiptMatcher, is_receipt, normalise_message_id, parse_receipt

TEXT = (
    b"id:00A1F sub:001 dlvrd:001 submit date:2611250800 done date:2611250801 "
    b"stat:DELIVRD err:000 text:Token"
)


def _body(text: bytes = b"", tlvs: dict[Tlv, bytes] | None = None) -> ShortMessageBody:
    return ShortMessageBody(
        source_addr="254712345678",
        destination_addr="V",
        esm_class=0x04,
        short_message=text,
        tlvs={int(tag): value for tag, value in (tlvs or {}).items()},
    )


def test_esm_class_message_type_tells_receipts_from_mo() -> None:
    """Bits 5-2: 0001 (0x04) receipt, 1000 (0x20) intermediate; 0x00 / 0x40 (UDHI) are MO."""
    assert is_receipt(0x04)
    assert is_receipt(0x20)
    assert is_receipt(0x44)  # receipt with UDHI set
    assert not is_receipt(0x00)
    assert not is_receipt(0x40)


def test_message_ids_are_normalised() -> None:
    """Leading zeros, case and padding do not make a different id."""
    assert normalise_message_id(" 00A1F\0") == "a1f"
    assert normalise_message_id("a1f") == "a1f"
    assert normalise_message_id("000") == "0"
    assert normalise_message_id("") == ""


def test_text_receipt_is_parsed() -> None:
    """id, stat and err from the common text layout."""
    assert parse_receipt(_body(TEXT)) == Receipt("a1f", "DELIVRD", "000")


def test_tlvs_win_over_the_text() -> None:
    """receipted_message_id + message_state 5 (UNDELIVERABLE) override the text."""
    tlvs = {Tlv.RECEIPTED_MESSAGE_ID: b"B2\0", Tlv.MESSAGE_STATE: bytes([5])}
    receipt = parse_receipt(_body(TEXT, tlvs))
    assert receipt == Receipt("b2", "UNDELIV", "000")
    assert receipt.failed


def test_tlv_only_receipt_is_parsed() -> None:
    """No text at all: message_state 2 is DELIVERED (SMPP 3.4 §5.2.28)."""
    tlvs = {Tlv.RECEIPTED_MESSAGE_ID: b"77\0", Tlv.MESSAGE_STATE: bytes([2])}
    assert parse_receipt(_body(b"", tlvs)) == Receipt("77", "DELIVRD", "")


def test_unreadable_receipt_is_none() -> None:
    """No id or no state: nothing to match."""
    assert parse_receipt(_body(b"hello")) is None
    assert parse_receipt(_body(b"", {Tlv.MESSAGE_STATE: bytes([2])})) is None


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_receipt_before_its_response_is_parked_then_released() -> None:
    """Unknown id: parked (nothing passed on); remember() of that id releases it."""
    matcher = ReceiptMatcher(park_seconds=60)
    assert matcher.receive(Receipt("a1", "DELIVRD")) == []
    assert matcher.parked == 1
    assert matcher.remember(["a1"], "a1") == [Receipt("a1", "DELIVRD")]
    assert matcher.parked == 0


def test_a_parked_receipt_is_released_unchanged_when_its_time_is_up() -> None:
    """After park_seconds the receipt goes on as it is (the outbox holds it)."""
    clock = _Clock()
    matcher = ReceiptMatcher(park_seconds=60, clock=clock)
    matcher.receive(Receipt("zz", "DELIVRD"))
    clock.now = 59.9
    assert matcher.expired() == []
    clock.now = 60.0
    assert matcher.expired() == [Receipt("zz", "DELIVRD")]
    assert matcher.parked == 0


def test_parts_map_to_the_last_part_and_only_failures_of_others_pass() -> None:
    """Message = parts p1, p2, p3 (last). p1 delivered: dropped; p2 failed: passed as p3."""
    matcher = ReceiptMatcher(park_seconds=60)
    matcher.remember(["p1", "p2", "p3"], "p3")
    assert matcher.receive(Receipt("p1", "DELIVRD")) == []
    assert matcher.receive(Receipt("p2", "UNDELIV", "001")) == [Receipt("p3", "UNDELIV", "001")]
    assert matcher.receive(Receipt("p3", "DELIVRD")) == [Receipt("p3", "DELIVRD")]


def test_the_matcher_is_bounded() -> None:
    """Capacity 2: the oldest part id is forgotten, so its receipt is parked again."""
    matcher = ReceiptMatcher(park_seconds=60, capacity=2)
    matcher.remember(["a"], "a")
    matcher.remember(["b"], "b")
    matcher.remember(["c"], "c")
    assert matcher.receive(Receipt("a", "DELIVRD")) == []
    assert matcher.receive(Receipt("c", "DELIVRD")) == [Receipt("c", "DELIVRD")]
