"""Tests for :mod:`vending_core.domain.pricing`: the money split of one purchase.

Expected values come from vending.md section 1.2 (the two worked examples) or from hand
calculations written out next to them, never from the code under test. Money is in
cents, energy in tenths of a kWh, rates in cents per kWh excluding VAT.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from sts import Utility
from vending_core.domain.errors import AmountOutOfRange, FreeBasicNotDue, NothingToBuy
from vending_core.domain.model import (
    Block,
    ChargePeriod,
    Debt,
    DebtMode,
    FixedCharge,
    Meter,
    Tariff,
)
from vending_core.domain.pricing import (
    Breakdown,
    ChargeSplit,
    DebtLine,
    PurchaseInput,
    StepLine,
    apply_debt_lines,
    collect_charges,
    deliverable_tenths,
    fbe_due_tenths,
    month_key,
    price_free_basic,
    price_purchase,
    record_purchase,
)

# vending.md 1.2: VAT 15 %; blocks 0-100 kWh @ R1.60, 100-350 @ R2.00, above @ R2.40 (excl.
# VAT); fixed R2.00/day excl. VAT; FBE 50 kWh counted toward the blocks.
EXAMPLE_TARIFF = Tariff(
    code="RES-IBT",
    version=1,
    name="Residential inclining block",
    utility=Utility.ELECTRICITY,
    blocks=(
        Block(up_to_tenths=1000, rate=Decimal("160")),
        Block(up_to_tenths=3500, rate=Decimal("200")),
        Block(up_to_tenths=None, rate=Decimal("240")),
    ),
    vat_rate=Decimal("0.15"),
    fixed_charge=FixedCharge(amount=200, period=ChargePeriod.DAY),
    fbe_monthly_tenths=500,
    fbe_counts_toward_blocks=True,
)

FLAT_TARIFF = Tariff(
    code="FLAT",
    version=3,
    name="Flat rate",
    utility=Utility.ELECTRICITY,
    blocks=(Block(up_to_tenths=None, rate=Decimal("250")),),
    vat_rate=Decimal("0.15"),
)


def _debt(outstanding: int, *, mode: DebtMode = DebtMode.PERCENT, value: str = "0.25") -> Debt:
    return Debt(
        id=7, description="arrears", outstanding=outstanding, mode=mode, value=Decimal(value)
    )


def _example_1(**changes: Any) -> PurchaseInput:
    """vending.md Example 1: 1 March, last purchase 24 Feb, debt R150 at 25 %, G = R300."""
    purchase = PurchaseInput(
        gross=30000,
        tariff=EXAMPLE_TARIFF,
        today=date(2025, 3, 1),
        month="2025-02",
        month_tenths=0,
        charged_up_to=date(2025, 2, 24),
        debts=(_debt(15000),),
        fbe_tenths=500,
    )
    return replace(purchase, **changes)


def _example_2(**changes: Any) -> PurchaseInput:
    """vending.md Example 2: 20 March, counter 152.8 kWh, debt R75 at 25 %, G = R700."""
    purchase = PurchaseInput(
        gross=70000,
        tariff=EXAMPLE_TARIFF,
        today=date(2025, 3, 20),
        month="2025-03",
        month_tenths=1528,
        charged_up_to=date(2025, 3, 1),
        debts=(_debt(7500),),
    )
    return replace(purchase, **changes)


def _flat(gross: int, tariff: Tariff = FLAT_TARIFF) -> PurchaseInput:
    return PurchaseInput(
        gross=gross,
        tariff=tariff,
        today=date(2025, 3, 10),
        month="2025-03",
        month_tenths=0,
        charged_up_to=None,
    )


class TestWorkedExamples:
    def test_example_1_every_line(self) -> None:
        """Example 1: fixed 10.00+1.50, debt 75.00, energy 185.65+27.85, FBE 50, credit 102.8."""
        # 24 Feb -> 1 Mar 2025 is 5 days: 5 x 200 = 1000, VAT 150. Debt min(7500, 15000, 28850).
        # Energy 30000 - 1150 - 7500 = 21350; VAT 21350 x 15/115 = 2784.78 -> 2785; net 18565.
        # FBE puts the counter at 500: block 1 has 500 tenths left = 50 kWh x 160 = 8000,
        # 10565 left / 200 = 52.825 kWh. 102.825 kWh -> 102.8 kWh (1028 tenths), residue 0.025.
        assert price_purchase(_example_1()) == Breakdown(
            gross=30000,
            energy_net=18565,
            energy_vat=2785,
            fixed_net=1000,
            fixed_vat=150,
            service_net=0,
            service_vat=0,
            debt_lines=(DebtLine(7, 7500, 0, 7500),),
            credit_tenths=1028,
            fbe_tenths=500,
            steps=(StepLine(500, Decimal("160")), StepLine(528, Decimal("200"))),
            residue=Decimal("0.025"),
            month="2025-03",
            month_tenths_after=1528,
            charged_up_to_after=date(2025, 3, 1),
            charges_owing_after=0,
            tariff_code="RES-IBT",
            tariff_version=1,
        )

    def test_example_1_receipt_lines(self) -> None:
        """The receipt shows energy 185.65, VAT 29.35, fixed 10.00, debt 75.00: total 300.00."""
        breakdown = price_purchase(_example_1())
        assert breakdown.lines() == (
            ("energy", 18565),
            ("vat", 2935),
            ("fixed charges", 1000),
            ("service charge", 0),
            ("debt", 7500),
        )
        assert breakdown.vat_total == 2935
        assert breakdown.debt_total == 7500

    def test_example_1_without_fbe(self) -> None:
        """Without FBE the token is 100 + 12.825 -> 112.8 kWh (vending.md)."""
        # 18565 net: block 1 whole = 100 kWh x 160 = 16000, 2565 / 200 = 12.825 kWh.
        breakdown = price_purchase(_example_1(fbe_tenths=0))
        assert breakdown.credit_tenths == 1128
        assert breakdown.steps == (StepLine(1000, Decimal("160")), StepLine(128, Decimal("200")))
        assert breakdown.month_tenths_after == 1128
        assert breakdown.residue == Decimal("0.025")

    def test_fbe_not_counted_toward_blocks(self) -> None:
        """With the tariff flag off, FBE leaves the blocks alone: credit as without FBE."""
        tariff = replace(EXAMPLE_TARIFF, fbe_counts_toward_blocks=False)
        breakdown = price_purchase(_example_1(tariff=tariff))
        assert (breakdown.fbe_tenths, breakdown.credit_tenths) == (500, 1128)
        assert breakdown.month_tenths_after == 1128

    def test_example_2_every_line(self) -> None:
        """Example 2: 19 days fixed, debt capped at 75.00 and cleared, credit 243.4 kWh."""
        # 19 x 200 = 3800, VAT 570 -> 4370. Debt min(17500, 7500, 65630) = 7500, 0 left.
        # Energy 70000 - 4370 - 7500 = 58130; VAT 58130 x 15/115 = 7582.17 -> 7582; net 50548.
        # Block 2 from 1528: 1972 tenths x 20 = 39440; 11108 / 240 = 46.28333 kWh.
        # 243.48333 kWh -> 243.4 (2434 tenths), residue 0.083333; counter 1528 + 2434 = 3962.
        assert price_purchase(_example_2()) == Breakdown(
            gross=70000,
            energy_net=50548,
            energy_vat=7582,
            fixed_net=3800,
            fixed_vat=570,
            service_net=0,
            service_vat=0,
            debt_lines=(DebtLine(7, 7500, 0, 0),),
            credit_tenths=2434,
            fbe_tenths=0,
            steps=(StepLine(1972, Decimal("200")), StepLine(462, Decimal("240"))),
            residue=Decimal("0.083333"),
            month="2025-03",
            month_tenths_after=3962,
            charged_up_to_after=date(2025, 3, 20),
            charges_owing_after=0,
            tariff_code="RES-IBT",
            tariff_version=1,
        )

    def test_example_2_fixed_per_vend_debt(self) -> None:
        """A fixed R50 per vend takes min(50, 75, 656.30) = 50.00 and leaves 25.00 owing."""
        # Energy 70000 - 4370 - 5000 = 60630; VAT 60630 x 15/115 = 7908.26 -> 7908; net 52722.
        # Block 2: 39440; 13282 / 240 = 55.341666 kWh; 252.541666 kWh -> 252.5 (2525 tenths).
        debt = _debt(7500, mode=DebtMode.FIXED, value="5000")
        breakdown = price_purchase(_example_2(debts=(debt,)))
        assert breakdown.debt_lines == (DebtLine(7, 5000, 0, 2500),)
        assert (breakdown.energy_vat, breakdown.energy_net) == (7908, 52722)
        assert breakdown.credit_tenths == 2525
        assert breakdown.steps == (StepLine(1972, Decimal("200")), StepLine(553, Decimal("240")))
        assert breakdown.month_tenths_after == 4053
        assert breakdown.residue == Decimal("0.041667")

    def test_examples_in_sequence_on_a_meter(self) -> None:
        """Recording Example 1 on a meter gives exactly the state Example 2 starts from."""
        meter = Meter(number="1", pan="1", sgc="123456", ti=1, krn=1, tariff_code="RES-IBT")
        meter.month, meter.charged_up_to, meter.fbe_registered = "2025-02", date(2025, 2, 24), True
        debts = [_debt(15000)]
        first = price_purchase(_example_1(debts=tuple(debts)))
        assert apply_debt_lines(debts, first) == (debts[0],)
        record_purchase(meter, first, now=datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
        assert (meter.month, meter.month_tenths, meter.charged_up_to) == (
            "2025-03",
            1528,
            date(2025, 3, 1),
        )
        assert (meter.last_fbe_month, debts[0].outstanding) == ("2025-03", 7500)
        assert meter.last_purchase_at == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
        second = price_purchase(
            _example_2(
                month=meter.month,
                month_tenths=meter.month_tenths,
                charged_up_to=meter.charged_up_to,
                charges_owing=meter.charges_owing,
                debts=tuple(debts),
            )
        )
        assert (second.credit_tenths, second.month_tenths_after) == (2434, 3962)


class TestCounterAndCharges:
    def test_month_rollover_resets_the_counter(self) -> None:
        """A counter from February does not count in March: blocks start again at 0."""
        # No charges, G = 11500: VAT 1500, net 10000; block 1 from 0: 10000 / 160 = 62.5 kWh.
        tariff = replace(EXAMPLE_TARIFF, fixed_charge=None)
        purchase = _example_1(tariff=tariff, gross=11500, debts=(), fbe_tenths=0)
        breakdown = price_purchase(replace(purchase, month="2025-02", month_tenths=3000))
        assert breakdown.steps == (StepLine(625, Decimal("160")),)
        assert (breakdown.month, breakdown.month_tenths_after) == ("2025-03", 625)

    def test_same_month_keeps_the_counter(self) -> None:
        """Within the month the counter carries: 300 kWh bought puts 10000 net in block 2."""
        # From 3000 tenths: block 2 has 500 left = 50 kWh x 200 = 10000 exactly.
        tariff = replace(EXAMPLE_TARIFF, fixed_charge=None)
        purchase = _example_1(tariff=tariff, gross=11500, debts=(), fbe_tenths=0)
        breakdown = price_purchase(replace(purchase, month="2025-03", month_tenths=3000))
        assert breakdown.steps == (StepLine(500, Decimal("200")),)
        assert breakdown.month_tenths_after == 3500

    def test_tariff_and_vat_change_mid_month(self) -> None:
        """A new tariff version mid-month prices from the same counter and is recorded."""
        # VAT 16 %: G 70000 - fixed (3800 + 608) - debt 7500 = 58092; VAT 58092 x 16/116 =
        # 8012.69 -> 8013; net 50079. Block 2 (now R2.10) from 1528: 1972 x 21 = 41412;
        # 8667 / 250 = 34.668 kWh. 197.2 + 34.668 = 231.868 -> 231.8 kWh.
        blocks = (
            Block(up_to_tenths=1000, rate=Decimal("170")),
            Block(up_to_tenths=3500, rate=Decimal("210")),
            Block(up_to_tenths=None, rate=Decimal("250")),
        )
        tariff = replace(EXAMPLE_TARIFF, version=2, vat_rate=Decimal("0.16"), blocks=blocks)
        breakdown = price_purchase(_example_2(tariff=tariff))
        assert (breakdown.fixed_net, breakdown.fixed_vat) == (3800, 608)
        assert (breakdown.energy_vat, breakdown.energy_net) == (8013, 50079)
        assert breakdown.steps == (StepLine(1972, Decimal("210")), StepLine(346, Decimal("250")))
        assert (breakdown.tariff_version, breakdown.month_tenths_after) == (2, 3846)

    def test_monthly_fixed_charge_across_two_months(self) -> None:
        """A monthly charge last paid in January is charged twice by a purchase in March."""
        # 2 x 5000 = 10000, VAT 1500. Flat R2.50: G 50000 - 11500 = 38500; VAT 5021.74 ->
        # 5022; net 33478 / 250 = 133.912 kWh -> 133.9.
        tariff = replace(
            FLAT_TARIFF, fixed_charge=FixedCharge(amount=5000, period=ChargePeriod.MONTH)
        )
        purchase = replace(_flat(50000, tariff), charged_up_to=date(2025, 1, 15))
        breakdown = price_purchase(replace(purchase, today=date(2025, 3, 2)))
        assert (breakdown.fixed_net, breakdown.fixed_vat) == (10000, 1500)
        assert (breakdown.credit_tenths, breakdown.charged_up_to_after) == (1339, date(2025, 3, 2))
        later = price_purchase(replace(purchase, charged_up_to=date(2025, 3, 2)))
        assert (later.fixed_net, later.fixed_vat) == (0, 0)

    def test_monthly_fixed_charge_over_new_year(self) -> None:
        """31 Dec to 1 Jan starts one new month: one period."""
        tariff = replace(
            FLAT_TARIFF, fixed_charge=FixedCharge(amount=5000, period=ChargePeriod.MONTH)
        )
        purchase = replace(_flat(50000, tariff), charged_up_to=date(2024, 12, 31))
        assert price_purchase(replace(purchase, today=date(2025, 1, 1))).fixed_net == 5000

    def test_first_purchase_starts_charging_from_today(self) -> None:
        """No ``charged_up_to`` yet: nothing accrues and the meter is charged up to today."""
        purchase = _example_1(charged_up_to=None)
        breakdown = price_purchase(purchase)
        assert (breakdown.fixed_net, breakdown.charged_up_to_after) == (0, date(2025, 3, 1))

    def test_owing_charges_and_service_charge(self) -> None:
        """Earlier charges owing join the fixed line; the service charge has its own line."""
        # Fixed 1000 accrued + 2000 owing = 3000, VAT 450. Service 500, VAT 75.
        tariff = replace(EXAMPLE_TARIFF, service_charge=500)
        breakdown = price_purchase(_example_1(tariff=tariff, charges_owing=2000))
        assert (breakdown.fixed_net, breakdown.fixed_vat) == (3000, 450)
        assert (breakdown.service_net, breakdown.service_vat) == (500, 75)
        assert breakdown.charges_owing_after == 0
        assert sum(amount for _, amount in breakdown.lines()) == 30000

    def test_fixed_charges_above_gross_refused(self) -> None:
        """Charges larger than G leave nothing for energy: NothingToBuy (offer pay account)."""
        # 20 days x 200 = 4000 + VAT 600 = 4600 > 3000.
        purchase = _example_1(gross=3000, debts=(), charged_up_to=date(2025, 2, 9))
        with pytest.raises(NothingToBuy):
            price_purchase(purchase)

    def test_under_a_tenth_left_refused(self) -> None:
        """One cent left after charges buys 1/160 kWh, under 0.1 kWh: NothingToBuy."""
        purchase = _example_1(gross=4601, debts=(), fbe_tenths=0, charged_up_to=date(2025, 2, 9))
        with pytest.raises(NothingToBuy):
            price_purchase(purchase)

    def test_partial_charge_collection_keeps_the_rest_owing(self) -> None:
        """R30.00 against R40.00 + VAT of charges: collect 30.00 incl., 13.91 stays owing."""
        # 3000 x 15/115 = 391.30 -> 391 VAT; net 2609; owing 4000 - 2609 = 1391.
        split = collect_charges(3000, owing=4000, service=0, vat_rate=Decimal("0.15"))
        assert split == ChargeSplit(2609, 391, 0, 0, 1391)

    def test_partial_service_charge_joins_the_owing(self) -> None:
        """Fixed charges paid in full; the 4.00 left pays part of the service charge."""
        # Fixed 4000 + 600. 400 left: VAT 400 x 15/115 = 52.17 -> 52, net 348; 1000 - 348 = 652.
        split = collect_charges(5000, owing=4000, service=1000, vat_rate=Decimal("0.15"))
        assert split == ChargeSplit(4000, 600, 348, 52, 652)
        assert split.total == 5000


class TestRoundingAndDebt:
    def test_inclusive_vat_half_cent_rounds_up(self) -> None:
        """VAT 20 % inside 15 cents is exactly 2.5 cents: half-up gives 3 (half-even 2)."""
        tariff = replace(
            FLAT_TARIFF,
            vat_rate=Decimal("0.20"),
            blocks=(Block(up_to_tenths=None, rate=Decimal("1")),),
        )
        breakdown = price_purchase(_flat(15, tariff))
        assert (breakdown.energy_vat, breakdown.energy_net) == (3, 12)
        assert breakdown.credit_tenths == 120  # 12 cents at 1 cent/kWh = 12.0 kWh

    def test_exclusive_vat_half_cent_rounds_up(self) -> None:
        """15 % on a 30-cent daily charge is exactly 4.5 cents: half-up gives 5 (half-even 4)."""
        # Energy 1000 - 35 = 965; VAT 125.87 -> 126; net 839 at R1.00 = 8.39 kWh -> 8.3.
        tariff = replace(
            FLAT_TARIFF,
            blocks=(Block(up_to_tenths=None, rate=Decimal("100")),),
            fixed_charge=FixedCharge(amount=30, period=ChargePeriod.DAY),
        )
        breakdown = price_purchase(replace(_flat(1000, tariff), charged_up_to=date(2025, 3, 9)))
        assert (breakdown.fixed_net, breakdown.fixed_vat) == (30, 5)
        assert (breakdown.energy_vat, breakdown.energy_net) == (126, 839)
        assert (breakdown.credit_tenths, breakdown.residue) == (83, Decimal("0.09"))

    def test_taxed_debt_carries_inclusive_vat(self) -> None:
        """A taxed debt item's 75.00 holds 9.78 VAT; the receipt moves it to the VAT line."""
        # 7500 x 15/115 = 978.26 -> 978. Lines: 18565 + (2785 + 150 + 978) + 1000 + 6522.
        debt = replace(_debt(15000), taxed=True)
        breakdown = price_purchase(_example_1(debts=(debt,)))
        assert breakdown.debt_lines == (DebtLine(7, 7500, 978, 7500),)
        assert breakdown.lines() == (
            ("energy", 18565),
            ("vat", 3913),
            ("fixed charges", 1000),
            ("service charge", 0),
            ("debt", 6522),
        )

    def test_debts_recovered_in_order_from_the_remainder(self) -> None:
        """Each debt item takes from what the earlier ones left; a cleared item takes 0."""
        # G 30000 - 1150 = 28850. 60 % of 30000 = 18000; 50 % = 15000 capped at 10850 left.
        first = Debt(
            id=1, description="a", outstanding=90000, mode=DebtMode.PERCENT, value=Decimal("0.6")
        )
        second = Debt(
            id=2, description="b", outstanding=90000, mode=DebtMode.PERCENT, value=Decimal("0.5")
        )
        cleared = Debt(
            id=3, description="c", outstanding=0, mode=DebtMode.FIXED, value=Decimal(100)
        )
        with pytest.raises(NothingToBuy):
            price_purchase(_example_1(debts=(first, second, cleared)))
        breakdown = price_purchase(_example_1(debts=(first, cleared), fbe_tenths=0))
        assert breakdown.debt_lines == (DebtLine(1, 18000, 0, 72000), DebtLine(3, 0, 0, 0))

    def test_min_and_max_purchase(self) -> None:
        """Below the minimum or above the maximum is refused with both limits; the ends pass."""
        tariff = replace(FLAT_TARIFF, min_purchase=1000, max_purchase=500000)
        for gross in (999, 500001):
            with pytest.raises(AmountOutOfRange) as caught:
                price_purchase(_flat(gross, tariff))
            assert (caught.value.minimum, caught.value.maximum) == (1000, 500000)
        assert price_purchase(_flat(1000, tariff)).gross == 1000
        assert price_purchase(_flat(500000, tariff)).gross == 500000

    def test_flat_tariff(self) -> None:
        """One unbounded block: R100.00 incl. is 86.96 net / R2.50 = 34.784 kWh -> 34.7."""
        # VAT 10000 x 15/115 = 1304.35 -> 1304.
        breakdown = price_purchase(_flat(10000))
        assert (breakdown.energy_vat, breakdown.energy_net) == (1304, 8696)
        assert breakdown.steps == (StepLine(347, Decimal("250")),)
        assert (breakdown.residue, breakdown.tariff_code, breakdown.tariff_version) == (
            Decimal("0.084"),
            "FLAT",
            3,
        )


class TestQuantization:
    def test_representable_values(self) -> None:
        """SPEC 3.4: exact to 16383 tenths, then steps of 10 from 16384, 100 from 180224."""
        # e=1 values are 16384 + 10m: 20004 = 16384 + 3620 is one, 20003 is not (20004 - 10
        # = 19994). 180214 is the e=1 top; 180215..180223 fall in the gap before 180224.
        assert deliverable_tenths(0) == 0
        assert deliverable_tenths(16383) == 16383
        assert deliverable_tenths(16393) == 16384
        assert deliverable_tenths(20004) == 20004
        assert deliverable_tenths(20003) == 19994
        assert deliverable_tenths(180223) == 180214
        assert deliverable_tenths(180224) == 180224
        assert deliverable_tenths(18201624) == 18201624
        assert deliverable_tenths(99_999_999) == 18201624

    def test_large_purchase_quantized_down(self) -> None:
        """2000.35 kWh paid gives a 1999.4 kWh token (2000.3 is not representable)."""
        # VAT 0, R2.00/kWh: 400070 / 200 = 2000.35 kWh; residue 2000.35 - 1999.4 = 0.95.
        tariff = replace(
            FLAT_TARIFF,
            vat_rate=Decimal(0),
            blocks=(Block(up_to_tenths=None, rate=Decimal("200")),),
        )
        breakdown = price_purchase(_flat(400070, tariff))
        assert (breakdown.credit_tenths, breakdown.residue) == (19994, Decimal("0.95"))
        assert breakdown.steps == (StepLine(19994, Decimal("200")),)
        exact = price_purchase(_flat(400080, tariff))  # 2000.4 kWh is representable
        assert (exact.credit_tenths, exact.residue) == (20004, Decimal(0))


class TestFreeBasicAndRecording:
    def test_fbe_due_once_a_month(self) -> None:
        """FBE is due to registered meters once per calendar month, from the tariff."""

        def due(registered: bool, last: str | None, tariff: Tariff = EXAMPLE_TARIFF) -> int:
            return fbe_due_tenths(
                registered=registered, last_fbe_month=last, tariff=tariff, today=date(2025, 3, 1)
            )

        assert due(True, None) == 500
        assert due(True, "2025-02") == 500
        assert due(True, "2025-03") == 0
        assert due(False, None) == 0
        assert due(True, None, FLAT_TARIFF) == 0  # the flat tariff gives no FBE

    def test_fbe_claimed_alone(self) -> None:
        """FBE alone: gross 0, no lines, counter (reset for the new month) moves by the FBE."""
        breakdown = price_free_basic(
            tariff=EXAMPLE_TARIFF,
            today=date(2025, 3, 5),
            month="2025-02",
            month_tenths=800,
            fbe_tenths=500,
        )
        assert (breakdown.gross, breakdown.credit_tenths, breakdown.fbe_tenths) == (0, 0, 500)
        assert (breakdown.month, breakdown.month_tenths_after) == ("2025-03", 500)
        assert breakdown.lines() == (
            ("energy", 0),
            ("vat", 0),
            ("fixed charges", 0),
            ("service charge", 0),
            ("debt", 0),
        )
        uncounted = replace(EXAMPLE_TARIFF, fbe_counts_toward_blocks=False)
        same_month = price_free_basic(
            tariff=uncounted,
            today=date(2025, 3, 5),
            month="2025-03",
            month_tenths=800,
            fbe_tenths=500,
        )
        assert same_month.month_tenths_after == 800

    def test_fbe_alone_nothing_due(self) -> None:
        """Claiming 0 tenths of FBE is FreeBasicNotDue."""
        with pytest.raises(FreeBasicNotDue):
            price_free_basic(
                tariff=EXAMPLE_TARIFF,
                today=date(2025, 3, 5),
                month=None,
                month_tenths=0,
                fbe_tenths=0,
            )

    def test_recording_fbe_alone_leaves_charges_and_last_purchase(self) -> None:
        """An FBE claim moves the counter and FBE month only: charges and last purchase stay."""
        meter = Meter(number="1", pan="1", sgc="123456", ti=1, krn=1, tariff_code="RES-IBT")
        meter.charged_up_to, meter.charges_owing = date(2025, 2, 24), 300
        breakdown = price_free_basic(
            tariff=EXAMPLE_TARIFF,
            today=date(2025, 3, 5),
            month=None,
            month_tenths=0,
            fbe_tenths=500,
        )
        record_purchase(meter, breakdown, now=datetime(2025, 3, 5, 9, 0, tzinfo=UTC))
        assert (meter.month, meter.month_tenths, meter.last_fbe_month) == (
            "2025-03",
            500,
            "2025-03",
        )
        assert (meter.charged_up_to, meter.charges_owing) == (date(2025, 2, 24), 300)
        assert meter.last_purchase_at is None

    def test_record_purchase_needs_aware_utc(self) -> None:
        """A naive ``now`` is refused before anything on the meter changes."""
        meter = Meter(number="1", pan="1", sgc="123456", ti=1, krn=1, tariff_code="RES-IBT")
        with pytest.raises(ValueError, match="UTC"):
            record_purchase(meter, price_purchase(_example_1()), now=datetime(2025, 3, 1))  # noqa: DTZ001
        assert meter.month is None

    def test_apply_debt_lines_refuses_changed_debts(self) -> None:
        """Debts that moved since pricing are refused and left unchanged."""
        breakdown = price_purchase(_example_1())
        moved = _debt(14000)
        with pytest.raises(ValueError, match="price it again"):
            apply_debt_lines([moved], breakdown)
        assert moved.outstanding == 14000

    def test_month_key(self) -> None:
        """Months are keyed "YYYY-MM"."""
        assert month_key(date(2025, 3, 1)) == "2025-03"
        assert month_key(date(999, 12, 31)) == "0999-12"


class TestStorage:
    def test_to_dict_is_json_and_round_trips(self) -> None:
        """The stored form is JSON text-safe (Decimals, dates as strings) and rebuilds equal."""
        breakdown = price_purchase(_example_1())
        data = json.loads(json.dumps(breakdown.to_dict()))
        assert data["steps"] == [{"tenths": 500, "rate": "160"}, {"tenths": 528, "rate": "200"}]
        assert data["debt_lines"] == [
            {"debt_id": 7, "amount": 7500, "vat": 0, "outstanding_after": 7500}
        ]
        assert (data["residue"], data["charged_up_to_after"]) == ("0.025000", "2025-03-01")
        assert Breakdown.from_dict(data) == breakdown

    def test_fbe_alone_round_trips(self) -> None:
        """A breakdown with no charge state (FBE alone) stores None and rebuilds equal."""
        breakdown = price_free_basic(
            tariff=EXAMPLE_TARIFF,
            today=date(2025, 3, 5),
            month=None,
            month_tenths=0,
            fbe_tenths=500,
        )
        data = json.loads(json.dumps(breakdown.to_dict()))
        assert (data["charged_up_to_after"], data["charges_owing_after"]) == (None, None)
        assert Breakdown.from_dict(data) == breakdown

    def test_lines_must_sum_to_gross(self) -> None:
        """A breakdown whose parts do not add up to the gross cannot exist."""
        data = price_purchase(_example_1()).to_dict()
        data["energy_net"] += 1
        with pytest.raises(ValueError, match="sum"):
            Breakdown.from_dict(data)
