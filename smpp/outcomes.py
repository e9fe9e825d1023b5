"""What a ``submit_sm_resp`` means for the outbox (messaging.md §3.5), as a pure function."""

from __future__ import annotations

from typing import Final

from smpp.errors import PduDecodeError
from smpp.pdu import Command, Pdu, Status, read_message_id
from smpp.receipts import normalise_message_id
from vending_core.service.sms_ports import SendOutcome

__all__ = ["REBIND_STATUSES", "THROTTLE_STATUSES", "status_name", "submit_outcome"]

THROTTLE_STATUSES: Final = frozenset({Status.RTHROTTLED, Status.RMSGQFUL})
REBIND_STATUSES: Final = frozenset({Status.RINVBNDSTS})
_RETRY_STATUSES: Final = frozenset({Status.RSYSERR, Status.RX_T_APPN, Status.RINVBNDSTS})


def status_name(status: int) -> str:
    """``ESME_RTHROTTLED`` for 0x58; ``0x000000FF`` for a code we have no name for."""
    try:
        return f"ESME_{Status(status).name}"
    except ValueError:
        return f"0x{status:08X}"


def submit_outcome(resp: Pdu) -> str | SendOutcome:
    """The part's normalised SMSC message id when accepted, else the message's outcome.

    ``generic_nack``, throttling (0x58, 0x14), 0x08, 0x64 and 0x04 are worth retrying;
    every other non-zero status is a refusal. An accepted resp without an id (seen on
    some SMSCs) gets ``seq<sequence>`` so the send is still recorded.
    """
    name = status_name(resp.status)
    if resp.command_id == Command.GENERIC_NACK:
        return SendOutcome.retry_later(f"generic_nack {name} to submit_sm", name)
    if resp.status == Status.ROK:
        try:
            message_id = normalise_message_id(read_message_id(resp.body, resp.sequence))
        except PduDecodeError:
            message_id = ""
        return message_id or f"seq{resp.sequence}"
    if resp.status in THROTTLE_STATUSES:
        return SendOutcome.retry_later(f"SMSC is throttling: {name}", name)
    if resp.status in _RETRY_STATUSES:
        return SendOutcome.retry_later(f"SMSC temporary error {name}", name)
    return SendOutcome.refused(f"submit_sm refused with {name}", name)
