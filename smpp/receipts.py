"""Delivery receipts: parse them, and match them to the message we submitted (messaging.md §3.2).

A receipt is a ``deliver_sm`` with message type "SMSC delivery receipt" (``esm_class`` bits
5-2 = 0001) or "intermediate notification" (1000). Its id and state come from the TLVs
``receipted_message_id`` (0x001E) and ``message_state`` (0x0427) when present, else from the
text ``id:<id> ... stat:<WORD> err:<code>``.

:class:`ReceiptMatcher` is our own correlator (gap 3 of §3.6). Every part of a long message
has its own SMSC ``message_id``; the message is known to the outbox by its **last** part's
id. A receipt whose id we do not know yet (it beat its ``submit_sm_resp``) is *parked* and
released, translated, when :meth:`ReceiptMatcher.remember` learns the id; if that never
happens within ``park_seconds`` it is released unchanged and the outbox holds it
(``apply_delivery_report`` keeps reports for ids it has not seen).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from smpp.pdu import ShortMessageBody, Tlv

__all__ = [
    "MESSAGE_STATES",
    "Receipt",
    "ReceiptMatcher",
    "is_receipt",
    "normalise_message_id",
    "parse_receipt",
]

_TYPE_MASK: Final = 0x3C
_RECEIPT_TYPES: Final = frozenset({0x04, 0x20})
#: message_state TLV values (SMPP 3.4 §5.2.28) as the receipt text's ``stat`` words.
MESSAGE_STATES: Final = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_FAILURES: Final = frozenset({"EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"})
_TEXT: Final = re.compile(
    r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Za-z]+)(?:.*?err:(?P<err>\w+))?", re.DOTALL
)


@dataclass(frozen=True, slots=True)
class Receipt:
    """One receipt: the SMSC's ``message_id`` (normalised), the state word, the error code."""

    message_id: str
    stat: str
    err: str = ""

    @property
    def failed(self) -> bool:
        """Whether the state is a final failure."""
        return self.stat in _FAILURES


def normalise_message_id(message_id: str) -> str:
    """Trimmed, lower case, no leading zeros (``"00A1F"`` and ``"a1f"`` are one id)."""
    trimmed = message_id.strip().strip("\0").lower()
    return trimmed.lstrip("0") or ("0" if trimmed else "")


def is_receipt(esm_class: int) -> bool:
    """Whether a ``deliver_sm`` with this ``esm_class`` is a receipt, not an MO."""
    return esm_class & _TYPE_MASK in _RECEIPT_TYPES


def parse_receipt(body: ShortMessageBody, pattern: re.Pattern[str] = _TEXT) -> Receipt | None:
    """The receipt in ``body`` (TLVs first, then text), or None when it has no id or state."""
    text = body.text_octets().decode("latin-1")
    match = pattern.search(text)
    raw_id = body.tlvs.get(Tlv.RECEIPTED_MESSAGE_ID)
    message_id = raw_id.decode("latin-1") if raw_id else (match["id"] if match else "")
    state = body.tlvs.get(Tlv.MESSAGE_STATE)
    if state:
        stat = MESSAGE_STATES.get(state[0], "UNKNOWN")
    elif match:
        stat = match["stat"].upper()
    else:
        return None
    err = (match["err"] or "") if match else ""
    message_id = normalise_message_id(message_id)
    return Receipt(message_id, stat, err) if message_id else None


class ReceiptMatcher:
    """Maps part ids to their message's id and parks receipts that came too early.

    Bounded: at most ``capacity`` remembered part ids (oldest forgotten first) and at most
    ``capacity`` parked receipts.
    """

    def __init__(
        self,
        *,
        park_seconds: float,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._park_seconds = park_seconds
        self._capacity = capacity
        self._clock = clock
        self._primary: OrderedDict[str, str] = OrderedDict()
        self._parked: OrderedDict[str, tuple[float, Receipt]] = OrderedDict()

    def remember(self, part_ids: Sequence[str], primary: str) -> list[Receipt]:
        """Learn a message's part ids (normalised); returns parked receipts it now explains."""
        released: list[Receipt] = []
        for part in part_ids:
            self._primary[part] = primary
            self._primary.move_to_end(part)
            parked = self._parked.pop(part, None)
            if parked is not None:
                released.extend(self._translate(parked[1]))
        while len(self._primary) > self._capacity:
            self._primary.popitem(last=False)
        return released

    def receive(self, receipt: Receipt) -> list[Receipt]:
        """Receipts to pass on now for this one: translated, parked (none), or dropped."""
        if receipt.message_id in self._primary:
            return self._translate(receipt)
        self._parked[receipt.message_id] = (self._clock() + self._park_seconds, receipt)
        while len(self._parked) > self._capacity:
            self._parked.popitem(last=False)
        return []

    def expired(self) -> list[Receipt]:
        """Parked receipts whose time is up, released unchanged (the outbox holds them)."""
        now = self._clock()
        gone = [key for key, (deadline, _) in self._parked.items() if deadline <= now]
        return [self._parked.pop(key)[1] for key in gone]

    @property
    def parked(self) -> int:
        """How many receipts wait for their id."""
        return len(self._parked)

    def _translate(self, receipt: Receipt) -> list[Receipt]:
        """The message's receipt: the last part's, or any part's failure; else nothing."""
        primary = self._primary[receipt.message_id]
        if receipt.message_id == primary or receipt.failed:
            return [replace(receipt, message_id=primary)]
        return []
