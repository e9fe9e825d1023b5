"""The payment state machine (vending.md §4): transitions, stickiness, at most one vend.

Expected states are read off the rules in vending.md §4 and the module docstring's table,
not computed by the code under test.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vending_core.domain.payments import (
    Decision,
    IllegalPaymentTransition,
    Outcome,
    Payment,
    PaymentStatus,
    Report,
    accept,
    apply,
    expire,
    new_payment,
    record_vend,
    record_vend_failure,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
AMOUNT = 10_000


def _payment() -> Payment:
    return new_payment(
        payment_id="p1",
        provider="mpesa",
        msisdn="254712345678",
        meter_number="00000000000",
        amount=AMOUNT,
        currency="KES",
        channel="ussd",
        client_id="ussd-at",
        request_id="s1",
        now=T0,
        expires_at=T0 + timedelta(minutes=10),
    )


PAID = Report(outcome=Outcome.PAID, amount=AMOUNT, receipt="RCP1", raw={"ResultCode": 0})
LATER = T0 + timedelta(seconds=5)


def test_new_payment_is_pending_and_checks_its_inputs() -> None:
    """A fresh intent is PENDING with no reference; bad amount, channel or TTL are refused."""
    payment = _payment()
    assert (payment.status, payment.provider_reference, payment.vend_id) == (
        PaymentStatus.PENDING,
        None,
        None,
    )
    fields = {
        "payment_id": "p",
        "provider": "x",
        "msisdn": "1",
        "meter_number": "2",
        "currency": "KES",
        "client_id": "c",
        "request_id": "r",
        "now": T0,
    }
    with pytest.raises(ValueError, match="positive"):
        new_payment(**fields, amount=0, channel="ussd", expires_at=LATER)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channel"):
        new_payment(**fields, amount=1, channel="fax", expires_at=LATER)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expire"):
        new_payment(**fields, amount=1, channel="sms", expires_at=T0)  # type: ignore[arg-type]


def test_paid_with_the_asked_amount_is_paid_and_vends() -> None:
    """PENDING + PAID(10000) -> PAID, receipt and raw payload kept, decision VEND."""
    paid, decision = apply(_payment(), PAID, LATER)
    assert (paid.status, decision) == (PaymentStatus.PAID, Decision.VEND)
    assert (paid.receipt, paid.raw, paid.updated_at) == ("RCP1", {"ResultCode": 0}, LATER)


def test_paid_without_an_amount_is_taken_as_the_amount_asked() -> None:
    """An in-process provider may not state the amount: PAID."""
    paid, decision = apply(_payment(), Report(outcome=Outcome.PAID), LATER)
    assert (paid.status, decision) == (PaymentStatus.PAID, Decision.VEND)


def test_amount_mismatch_is_a_conflict() -> None:
    """PAID 9999 on a 10000 intent: CONFLICT, decision REVIEW, the reason names both."""
    report = Report(outcome=Outcome.PAID, amount=9_999, receipt="RCP2")
    conflict, decision = apply(_payment(), report, LATER)
    assert (conflict.status, decision) == (PaymentStatus.CONFLICT, Decision.REVIEW)
    assert "9999" in conflict.reason
    assert "10000" in conflict.reason


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(Outcome.FAILED, PaymentStatus.FAILED), (Outcome.ABANDONED, PaymentStatus.ABANDONED)],
)
def test_failure_and_cancel_close_the_payment(outcome: Outcome, status: PaymentStatus) -> None:
    """FAILED (e.g. M-Pesa 1, 2001) and ABANDONED (1032) close it with the reason."""
    closed, decision = apply(_payment(), Report(outcome=outcome, reason="code 1032"), LATER)
    assert (closed.status, closed.reason, decision) == (status, "code 1032", Decision.CLOSED)


def test_pending_report_changes_nothing() -> None:
    """A timeout (M-Pesa 1037 while still processing) is unknown, not failed."""
    payment = _payment()
    same, decision = apply(payment, Report(outcome=Outcome.PENDING), LATER)
    assert same is payment
    assert decision is Decision.NONE


def test_expiry_only_after_expires_at_and_only_when_pending() -> None:
    """Ten-minute TTL: unchanged at 9:59, EXPIRED at 10:00; a paid payment never expires."""
    payment = _payment()
    same, _ = expire(payment, T0 + timedelta(minutes=9, seconds=59))
    assert same is payment
    expired, decision = expire(payment, T0 + timedelta(minutes=10))
    assert (expired.status, decision) == (PaymentStatus.EXPIRED, Decision.CLOSED)
    paid, _ = apply(payment, PAID, LATER)
    assert expire(paid, T0 + timedelta(hours=1))[0] is paid


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.ABANDONED])
def test_paid_after_giving_up_is_a_conflict(outcome: Outcome) -> None:
    """FAILED/ABANDONED/EXPIRED then PAID: CONFLICT for review, never a vend."""
    closed, _ = apply(_payment(), Report(outcome=outcome), LATER)
    expired, _ = expire(_payment(), T0 + timedelta(hours=1))
    for gave_up in (closed, expired):
        late, decision = apply(gave_up, PAID, LATER)
        assert (late.status, decision) == (PaymentStatus.CONFLICT, Decision.REVIEW)
        assert late.receipt == "RCP1"


def test_vend_is_recorded_once() -> None:
    """PAID -> VENDED with the vend id; the same id again is a no-op; another id is refused."""
    paid, _ = apply(_payment(), PAID, LATER)
    vended = record_vend(paid, 7, LATER)
    assert (vended.status, vended.vend_id) == (PaymentStatus.VENDED, 7)
    assert record_vend(vended, 7, LATER) is vended
    with pytest.raises(IllegalPaymentTransition):
        record_vend(vended, 8, LATER)
    with pytest.raises(IllegalPaymentTransition):
        record_vend(_payment(), 7, LATER)


def test_vend_failure_keeps_it_paid_and_counts() -> None:
    """A refused vend: PAID, code recorded, attempts 1 then 2; a vend clears the code."""
    paid, _ = apply(_payment(), PAID, LATER)
    once = record_vend_failure(paid, "meter-blocked", LATER)
    twice = record_vend_failure(once, "meter-blocked", LATER)
    assert (twice.status, twice.vend_error, twice.vend_attempts) == (
        PaymentStatus.PAID,
        "meter-blocked",
        2,
    )
    assert record_vend(twice, 3, LATER).vend_error is None
    with pytest.raises(IllegalPaymentTransition):
        record_vend_failure(_payment(), "x", LATER)


def test_reference_is_set_once() -> None:
    """The provider reference is stored once; the same again is a no-op, another is refused."""
    accepted = accept(_payment(), "ws_CO_1", LATER)
    assert accepted.provider_reference == "ws_CO_1"
    assert accept(accepted, "ws_CO_1", LATER) is accepted
    with pytest.raises(IllegalPaymentTransition):
        accept(accepted, "ws_CO_2", LATER)


# --------------------------------------------------------------------------- properties

_reports = st.builds(
    Report,
    outcome=st.sampled_from(Outcome),
    amount=st.one_of(st.none(), st.just(AMOUNT), st.integers(1, 2 * AMOUNT)),
    receipt=st.one_of(st.none(), st.just("RCP1")),
)
# A step is a provider report, an expiry run, or the vend job storing its vend.
_steps = st.lists(st.one_of(_reports, st.just("expire"), st.just("vend")), min_size=1, max_size=25)
_GAVE_UP = {PaymentStatus.FAILED, PaymentStatus.ABANDONED, PaymentStatus.EXPIRED}


def _run(steps: list[Report | str]) -> tuple[list[PaymentStatus], int]:
    """Drive a payment through ``steps``; the statuses after each and the vends stored.

    The vend job is modelled as the service runs it: it stores a vend only when the last
    decision was VEND and the payment has none yet.
    """
    payment, decision, vends = _payment(), Decision.NONE, 0
    statuses = [payment.status]
    now = T0
    for step in steps:
        now += timedelta(minutes=1)
        if step == "expire":
            payment, decision = expire(payment, now)
        elif step == "vend":
            if decision is Decision.VEND and payment.vend_id is None:
                vends += 1
                payment = record_vend(payment, vends, now)
        else:
            assert isinstance(step, Report)
            payment, decision = apply(payment, step, now)
        statuses.append(payment.status)
    return statuses, vends


@given(_steps)
def test_final_states_are_sticky(steps: list[Report | str]) -> None:
    """VENDED and CONFLICT never change; FAILED/ABANDONED/EXPIRED only become CONFLICT."""
    statuses, _ = _run(steps)
    for before, after in itertools.pairwise(statuses):
        if before in {PaymentStatus.VENDED, PaymentStatus.CONFLICT}:
            assert after is before
        if before in _GAVE_UP:
            assert after in {before, PaymentStatus.CONFLICT}
        if before is PaymentStatus.PAID:
            assert after in {PaymentStatus.PAID, PaymentStatus.VENDED}


@given(_steps)
def test_at_most_one_vend_and_only_for_a_clean_payment(steps: list[Report | str]) -> None:
    """At most one vend; a vend only if PENDING went straight to PAID with the right amount."""
    statuses, vends = _run(steps)
    assert vends <= 1
    if vends:
        first_move = next(s for s in statuses if s is not PaymentStatus.PENDING)
        assert first_move is PaymentStatus.PAID
        assert statuses[-1] is PaymentStatus.VENDED


@given(_reports)
def test_any_report_on_a_vended_payment_changes_nothing(report: Report) -> None:
    """Replayed or late reports after the vend return the same payment and no decision."""
    paid, _ = apply(_payment(), PAID, LATER)
    vended = record_vend(paid, 1, LATER)
    same, decision = apply(vended, report, LATER + timedelta(days=1))
    assert same is vended
    assert decision is Decision.NONE
