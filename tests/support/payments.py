"""Payments to store in tests: payment ``n`` of one purchase, keyed by its number."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from vending_core.domain.payments import Payment

__all__ = ["pending_payment"]


def pending_payment(number: int, *, at: datetime, **changes: object) -> Payment:
    """Payment ``number``, PENDING: 10,000 minor units (KES) by M-Pesa for meter 00000000000.

    Its keys come from the number: id ``number`` in 32 hex digits, provider reference
    ``ws_CO_<number>``, purchase request ``ussd-at`` / ``s<number>`` (channel ``ussd``,
    phone 254712345678). Created and updated ``at``, expiring 10 minutes later; every other
    field has its default. ``changes`` replace fields.
    """
    base = Payment(
        id=f"{number:032x}",
        provider="mpesa",
        provider_reference=f"ws_CO_{number}",
        msisdn="254712345678",
        meter_number="00000000000",
        amount=10_000,
        currency="KES",
        channel="ussd",
        client_id="ussd-at",
        request_id=f"s{number}",
        created_at=at,
        updated_at=at,
        expires_at=at + timedelta(minutes=10),
    )
    return replace(base, **changes)  # type: ignore[arg-type]
