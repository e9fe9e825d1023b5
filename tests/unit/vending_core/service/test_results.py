"""The receipt text of a vend (``VendResult.to_json``): what is answered and stored for replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from vending_core.domain.records import TokenKind, VendKind, VendStatus
from vending_core.service.results import ReceiptLine, TokenLine, VendResult

RESULT = VendResult(
    vend_id=7,
    kind=VendKind.CREDIT,
    status=VendStatus.COMPLETED,
    meter_number="00000000125",
    customer_name="Demo",
    created_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    gross=11_500,
    tokens=(TokenLine(kind=TokenKind.CREDIT, token="1" * 20, tid=1, tenths=500, description=""),),
    lines=(ReceiptLine(label="Energy", amount=10_000), ReceiptLine(label="VAT", amount=1_500)),
    steps=("50.0 kWh @ 200.00 c/kWh",),
    credit_tenths=500,
    tariff="BUS-FLAT v1",
)


def test_the_receipt_holds_the_receipt_fields_only() -> None:
    """The text has the 13 receipt fields and neither ``replayed`` nor the cache ``_json``.

    Rendered twice (the second time from the cache) it is the same text, and a replay parsed
    from it renders the same text again.
    """
    text = RESULT.to_json()
    assert set(json.loads(text)) == {
        "vend_id",
        "kind",
        "status",
        "meter_number",
        "customer_name",
        "created_at",
        "gross",
        "tokens",
        "lines",
        "steps",
        "credit_tenths",
        "fbe_tenths",
        "tariff",
    }
    assert json.loads(text)["created_at"] == "2026-11-25T09:00:00+00:00"
    assert RESULT.to_json() == text
    assert VendResult.from_json(text).to_json() == text
