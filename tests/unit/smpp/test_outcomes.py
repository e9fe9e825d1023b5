"""submit_sm_resp to the outbox's outcome: the table of messaging.md §3.5."""

from __future__ import annotations

import pytest

from smpp.outcomes import status_name, submit_outcome
from smpp.pdu import Command, Pdu, message_id_body


def _resp(status: int, body: bytes = b"") -> Pdu:
    return Pdu(Command.SUBMIT_SM_RESP, 5, status, body)


def test_accepted_gives_the_normalised_message_id() -> None:
    """ESME_ROK with message_id '000ABC' is the part id 'abc' (normalised for matching)."""
    assert submit_outcome(_resp(0, message_id_body("000ABC"))) == "abc"


def test_accepted_without_an_id_still_counts_as_sent() -> None:
    """Some SMSCs answer ROK with an empty id: recorded as seq<sequence>, not lost."""
    assert submit_outcome(_resp(0)) == "seq5"


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (0x58, "ESME_RTHROTTLED"),
        (0x14, "ESME_RMSGQFUL"),
        (0x08, "ESME_RSYSERR"),
        (0x64, "ESME_RX_T_APPN"),
        (0x04, "ESME_RINVBNDSTS"),
    ],
)
def test_retry_with_backoff_statuses(status: int, name: str) -> None:
    """§3.5 'SMSC says: retry with back-off': not accepted, retryable, status named."""
    outcome = submit_outcome(_resp(status))
    assert not isinstance(outcome, str)
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, name)


@pytest.mark.parametrize("status", [0x0B, 0x0A, 0x01, 0x43, 0x45, 0x400])
def test_permanent_statuses(status: int) -> None:
    """§3.5 'SMSC says: permanent' (bad addresses, length, esm_class, submit failed, unknown)."""
    outcome = submit_outcome(_resp(status))
    assert not isinstance(outcome, str)
    assert (outcome.accepted, outcome.retryable) == (False, False)


def test_generic_nack_is_retryable() -> None:
    """A generic_nack instead of submit_sm_resp: retried by the outbox (§3.6 gap 2)."""
    outcome = submit_outcome(Pdu(Command.GENERIC_NACK, 5, 0x03))
    assert not isinstance(outcome, str)
    assert (outcome.retryable, outcome.status) == (True, "ESME_RINVCMDID")


def test_unknown_codes_are_shown_in_hex() -> None:
    """A vendor code we have no name for is shown as 0x%08X."""
    assert status_name(0x400) == "0x00000400"
