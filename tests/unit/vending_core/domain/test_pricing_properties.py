"""Property tests for :mod:`vending_core.domain.pricing` over random tariffs and meter state.

The checks are independent of the pricing code: sums of the lines, the STS amount codec
for representability, and the cost of the delivered steps at their printed rates.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sts import Utility
from sts.amount import decode_amount, encode_amount
from vending_core.domain.errors import NothingToBuy
from vending_core.domain.model import Block, ChargePeriod, Debt, DebtMode, FixedCharge, Tariff
from vending_core.domain.pricing import Breakdown, PurchaseInput, price_purchase

TODAY = date(2025, 3, 15)
VAT_RATES = (Decimal(0), Decimal("0.075"), Decimal("0.15"), Decimal("0.16"), Decimal("0.2"))


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    """Random block tariffs: up to 3 bounded blocks, rates 0.01..1000.00 cents per kWh."""
    bounds = sorted(draw(st.sets(st.integers(1, 6000), max_size=3)))
    rates = draw(
        st.lists(st.integers(1, 100_000), min_size=len(bounds) + 1, max_size=len(bounds) + 1)
    )
    uppers: list[int | None] = [*bounds, None]
    fixed = draw(
        st.none()
        | st.builds(FixedCharge, amount=st.integers(0, 2000), period=st.sampled_from(ChargePeriod))
    )
    return Tariff(
        code="T",
        version=1,
        name="random",
        utility=Utility.ELECTRICITY,
        blocks=tuple(
            Block(up_to_tenths=up, rate=Decimal(rate) / 100)
            for up, rate in zip(uppers, rates, strict=True)
        ),
        vat_rate=draw(st.sampled_from(VAT_RATES)),
        fixed_charge=fixed,
        service_charge=draw(st.integers(0, 1000)),
        fbe_counts_toward_blocks=draw(st.booleans()),
    )


@st.composite
def debts(draw: st.DrawFn) -> tuple[Debt, ...]:
    """Up to three debt items, percent (0-100 %) or fixed (0-200.00), taxed or not."""
    items = []
    for index in range(draw(st.integers(0, 3))):
        mode = draw(st.sampled_from(DebtMode))
        if mode is DebtMode.PERCENT:
            value = Decimal(draw(st.integers(0, 100))) / 100
        else:
            value = Decimal(draw(st.integers(0, 20_000)))
        items.append(
            Debt(
                id=index,
                description="debt",
                outstanding=draw(st.integers(0, 50_000)),
                mode=mode,
                value=value,
                taxed=draw(st.booleans()),
            )
        )
    return tuple(items)


@st.composite
def purchases(draw: st.DrawFn) -> PurchaseInput:
    """A purchase of 0..R20 000 on a random tariff and meter state, on 15 March 2025."""
    charged = st.none() | st.dates(date(2024, 12, 1), TODAY)
    return PurchaseInput(
        gross=draw(st.integers(0, 2_000_000)),
        tariff=draw(tariffs()),
        today=TODAY,
        month=draw(st.sampled_from(["2025-02", "2025-03", None])),
        month_tenths=draw(st.integers(0, 8000)),
        charged_up_to=draw(charged),
        charges_owing=draw(st.integers(0, 5000)),
        debts=draw(debts()),
        fbe_tenths=draw(st.sampled_from([0, 500])),
    )


def _price(purchase: PurchaseInput) -> Breakdown | None:
    try:
        return price_purchase(purchase)
    except NothingToBuy:
        return None


@given(purchases())
def test_lines_sum_to_gross(purchase: PurchaseInput) -> None:
    """Energy, VAT, fixed, service and debt lines always sum exactly to the gross."""
    breakdown = _price(purchase)
    if breakdown is None:
        return
    assert sum(amount for _, amount in breakdown.lines()) == purchase.gross
    assert all(amount >= 0 for _, amount in breakdown.lines())
    assert Breakdown.from_dict(breakdown.to_dict()) == breakdown


@given(purchases(), st.integers(1, 200_000))
def test_more_money_never_buys_fewer_units(purchase: PurchaseInput, extra: int) -> None:
    """With the same meter state, a larger gross buys at least as many units (and is sold)."""
    smaller = _price(purchase)
    if smaller is None:
        return
    larger = price_purchase(replace(purchase, gross=purchase.gross + extra))
    assert larger.credit_tenths >= smaller.credit_tenths


@given(purchases())
def test_credit_is_representable_and_paid_for(purchase: PurchaseInput) -> None:
    """The credit is a value the STS codec carries exactly, and costs no more than paid."""
    breakdown = _price(purchase)
    if breakdown is None:
        return
    credit = breakdown.credit_tenths
    assert credit > 0
    assert decode_amount(encode_amount(credit)) == credit
    assert sum(step.tenths for step in breakdown.steps) == credit
    cost = sum(Decimal(step.tenths) * step.rate / 10 for step in breakdown.steps)
    assert cost <= breakdown.energy_net
    assert breakdown.residue >= 0


@given(purchases())
def test_month_counter_moves_by_fbe_and_credit(purchase: PurchaseInput) -> None:
    """Counter after = counter this month (0 if another month) + counted FBE + credit."""
    breakdown = _price(purchase)
    if breakdown is None:
        return
    counter = purchase.month_tenths if purchase.month == "2025-03" else 0
    fbe = purchase.fbe_tenths if purchase.tariff.fbe_counts_toward_blocks else 0
    assert breakdown.month == "2025-03"
    assert breakdown.month_tenths_after == counter + fbe + breakdown.credit_tenths
