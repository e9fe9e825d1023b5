"""The money split of one purchase (vending.md section 1), as pure functions.

Money is integer minor units (cents), tariff rates are ``Decimal`` minor units per unit
excluding VAT, energy is integer tenths of a unit. Arithmetic is exact (``Fraction``);
money lines and VAT round to the cent half-up. VAT is inclusive: a VAT-inclusive amount
gives ``vat = round(incl * r / (1 + r))`` and ``net = incl - vat``, so the lines of a
:class:`Breakdown` always sum to the gross. Charges stored without VAT get
``vat = round(net * r)``.

Order of the split (:func:`price_purchase`): limits, fixed charges owing and accrued
since ``charged_up_to`` plus the per-vend service charge, debt recovery item by item,
then energy: units through the tariff blocks by the marginal method from the month
counter, quantized down to a value an STS token carries exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sts.amount import MAX_TRANSFER_VALUE, decode_amount, encode_amount
from vending_core.domain.breakdown import Breakdown, ChargeSplit, DebtLine, StepLine
from vending_core.domain.errors import AmountOutOfRange, FreeBasicNotDue, NothingToBuy
from vending_core.domain.model import ChargePeriod, Debt, DebtMode, FixedCharge, Meter, Tariff
from vending_core.domain.tids import ensure_utc

__all__ = [
    "Breakdown",
    "ChargeSplit",
    "DebtLine",
    "PurchaseInput",
    "StepLine",
    "accrued_periods",
    "apply_debt_lines",
    "collect_charges",
    "deliverable_tenths",
    "fbe_due_tenths",
    "month_key",
    "price_free_basic",
    "price_purchase",
    "record_purchase",
    "recover_debts",
    "round_half_up",
    "vat_exclusive",
    "vat_inclusive",
]

_MAX_TOKEN_TENTHS: int = MAX_TRANSFER_VALUE  #: 1 820 162.4 units
_RESIDUE_QUANTUM = Decimal("0.000001")  #: residues are recorded to a millionth of a unit


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseInput:
    """Everything one purchase is priced from: the amount, the tariff and the meter's state.

    ``month``/``month_tenths`` are the meter's monthly counter (reset when ``month`` is not
    the month of ``today``); ``charged_up_to``/``charges_owing`` its fixed-charge state
    (``charges_owing`` excludes VAT); ``fbe_tenths`` the FBE issued with this purchase.
    """

    gross: int
    tariff: Tariff
    today: date
    month: str | None
    month_tenths: int
    charged_up_to: date | None
    charges_owing: int = 0
    debts: Sequence[Debt] = ()
    fbe_tenths: int = 0


# --------------------------------------------------------------------------- arithmetic


def round_half_up(value: Fraction) -> int:
    """Round a non-negative exact value to a whole number, halves up (2.5 -> 3)."""
    # floor(n/d + 1/2) == (2n + d) // 2d, in integers.
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def vat_inclusive(incl: int, rate: Decimal) -> int:
    """The VAT inside a VAT-inclusive amount: ``round_half_up(incl * r / (1 + r))``."""
    r = Fraction(rate)
    return round_half_up(incl * r / (1 + r))


def vat_exclusive(net: int, rate: Decimal) -> int:
    """The VAT to add to an amount stored without VAT: ``round_half_up(net * r)``."""
    return round_half_up(net * Fraction(rate))


def month_key(day: date) -> str:
    """The calendar month of ``day`` as ``"YYYY-MM"`` (the block counter's month)."""
    return f"{day.year:04d}-{day.month:02d}"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def deliverable_tenths(paid: int) -> int:
    """The largest value an STS credit token carries exactly that is not above ``paid``.

    Tenths up to 16 383 are exact; above, tokens step by 1, 10 and 100 units (SPEC 3.4).
    The STS encoder rounds up, so its field for ``paid`` is the smallest value at or above
    it, and the field just below is the largest value below it (fields rise with value).
    Above the largest token value (1 820 162.4 units) the token carries that maximum.
    """
    if paid < 0:
        raise ValueError(f"paid units must not be negative, got {paid}")
    if paid >= _MAX_TOKEN_TENTHS:
        return _MAX_TOKEN_TENTHS
    field = encode_amount(paid)
    value = decode_amount(field)
    return value if value == paid else decode_amount(field - 1)


# --------------------------------------------------------------------------- charges and debt


def accrued_periods(charge: FixedCharge, charged_up_to: date | None, today: date) -> int:
    """Periods of ``charge`` due between ``charged_up_to`` and ``today``.

    DAY: whole days between the two dates. MONTH: calendar months started since the month
    of ``charged_up_to`` (that month is paid). None (never charged) or a date not before
    ``today`` accrue nothing.
    """
    if charged_up_to is None or today <= charged_up_to:
        return 0
    if charge.period is ChargePeriod.DAY:
        return (today - charged_up_to).days
    return _month_index(today) - _month_index(charged_up_to)


def _collect(available: int, net: int, vat_rate: Decimal) -> tuple[int, int, int]:
    """Collect ``net`` plus VAT from ``available``, or as much as it covers.

    Returns (net collected, VAT collected, net left owing). A partial collection is
    VAT-inclusive: the VAT is extracted from what was available.
    """
    vat = vat_exclusive(net, vat_rate)
    if net + vat <= available:
        return net, vat, 0
    paid = min(available - vat_inclusive(available, vat_rate), net)
    return paid, available - paid, net - paid


def collect_charges(available: int, *, owing: int, service: int, vat_rate: Decimal) -> ChargeSplit:
    """Collect fixed charges (``owing``, excl. VAT) then the service charge from ``available``.

    What ``available`` cannot cover stays owing (excl. VAT, fixed and service together).
    """
    fixed_net, fixed_vat, fixed_left = _collect(available, owing, vat_rate)
    rest = available - fixed_net - fixed_vat
    service_net, service_vat, service_left = _collect(rest, service, vat_rate)
    return ChargeSplit(fixed_net, fixed_vat, service_net, service_vat, fixed_left + service_left)


def recover_debts(
    debts: Sequence[Debt], *, gross: int, available: int, vat_rate: Decimal
) -> tuple[DebtLine, ...]:
    """Recover debt from ``available``: one line per item, in order.

    PERCENT takes ``min(round(value * gross), outstanding, remainder)``, FIXED
    ``min(value, outstanding, remainder)``. Taxed items carry VAT extracted as inclusive;
    untaxed ones are taken at face value.
    """
    lines = []
    for debt in debts:
        if debt.mode is DebtMode.PERCENT:
            claim = round_half_up(Fraction(debt.value) * gross)
        else:
            claim = int(debt.value)
        amount = min(claim, max(debt.outstanding, 0), available)
        vat = vat_inclusive(amount, vat_rate) if debt.taxed else 0
        lines.append(DebtLine(debt.id, amount, vat, debt.outstanding - amount))
        available -= amount
    return tuple(lines)


# --------------------------------------------------------------------------- energy


def _segments(tariff: Tariff, counter: int) -> list[tuple[int | None, Decimal]]:
    """The blocks still open above ``counter``: (tenths left in the block or None, rate)."""
    segments: list[tuple[int | None, Decimal]] = []
    position = counter
    for block in tariff.blocks:
        if block.up_to_tenths is None:
            segments.append((None, block.rate))
        elif block.up_to_tenths > position:
            segments.append((block.up_to_tenths - position, block.rate))
            position = block.up_to_tenths
    return segments


def _paid_tenths(net: int, tariff: Tariff, counter: int) -> Fraction:
    """Exact tenths ``net`` buys from ``counter`` on, each tenth at the block it falls in."""
    money = Fraction(net)
    bought = Fraction(0)
    for capacity, rate in _segments(tariff, counter):
        per_tenth = Fraction(rate) / 10
        if capacity is None or money < capacity * per_tenth:
            return bought + money / per_tenth
        money -= capacity * per_tenth
        bought += capacity
    raise AssertionError("a checked tariff ends with an unbounded block")  # pragma: no cover


def _steps(tariff: Tariff, counter: int, tenths: int) -> tuple[StepLine, ...]:
    """Receipt steps for ``tenths`` delivered from ``counter`` on (quantization off the last)."""
    steps = []
    left = tenths
    for capacity, rate in _segments(tariff, counter):
        if left == 0:
            break
        take = left if capacity is None else min(left, capacity)
        steps.append(StepLine(take, rate))
        left -= take
    return tuple(steps)


def _units(tenths: Fraction) -> Decimal:
    exact = Decimal(tenths.numerator) / Decimal(tenths.denominator * 10)
    return exact.quantize(_RESIDUE_QUANTUM, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- checks


def _check_tariff(tariff: Tariff) -> None:
    blocks = tariff.blocks
    if not blocks or blocks[-1].up_to_tenths is not None or blocks[-1].rate <= 0:
        raise ValueError(f"tariff {tariff.code}: the last block must be unbounded and priced")
    previous = 0
    for block in blocks[:-1]:
        if block.up_to_tenths is None or block.up_to_tenths <= previous or block.rate < 0:
            raise ValueError(f"tariff {tariff.code}: blocks must rise and rates be >= 0")
        previous = block.up_to_tenths
    if tariff.vat_rate < 0:
        raise ValueError(f"tariff {tariff.code}: VAT rate must not be negative")


def _check_purchase(purchase: PurchaseInput) -> None:
    _check_tariff(purchase.tariff)
    counts = (purchase.gross, purchase.month_tenths, purchase.charges_owing, purchase.fbe_tenths)
    if min(counts) < 0:
        raise ValueError("gross, month_tenths, charges_owing and fbe_tenths must be >= 0")
    for debt in purchase.debts:
        if debt.mode is DebtMode.PERCENT:
            valid = 0 <= debt.value <= 1
        else:
            valid = debt.value >= 0 and debt.value == debt.value.to_integral_value()
        if not valid:
            raise ValueError(f"debt {debt.id}: bad recovery value {debt.value} ({debt.mode})")
    tariff, gross = purchase.tariff, purchase.gross
    too_much = tariff.max_purchase is not None and gross > tariff.max_purchase
    if gross < tariff.min_purchase or too_much:
        top = "no maximum" if tariff.max_purchase is None else _money(tariff.max_purchase)
        raise AmountOutOfRange(
            f"amount {_money(gross)} is outside the limits {_money(tariff.min_purchase)} to {top}",
            minimum=tariff.min_purchase,
            maximum=tariff.max_purchase,
        )


# --------------------------------------------------------------------------- purchases


def price_purchase(purchase: PurchaseInput) -> Breakdown:
    """Split ``purchase.gross`` into charges, debt and energy (vending.md section 1.1).

    Raises:
        AmountOutOfRange: the gross is below the tariff minimum or above its maximum.
        NothingToBuy: charges and debt leave less than 0.1 unit of energy (offer pay account).
        ValueError: inconsistent input (negative counts, malformed tariff or debt).
    """
    _check_purchase(purchase)
    tariff, gross, today = purchase.tariff, purchase.gross, purchase.today
    month = month_key(today)
    counter = purchase.month_tenths if purchase.month == month else 0
    owing = purchase.charges_owing
    if tariff.fixed_charge is not None:
        periods = accrued_periods(tariff.fixed_charge, purchase.charged_up_to, today)
        owing += periods * tariff.fixed_charge.amount
    charges = collect_charges(
        gross, owing=owing, service=tariff.service_charge, vat_rate=tariff.vat_rate
    )
    debts = recover_debts(
        purchase.debts, gross=gross, available=gross - charges.total, vat_rate=tariff.vat_rate
    )
    energy_incl = gross - charges.total - sum(line.amount for line in debts)
    energy_vat = vat_inclusive(energy_incl, tariff.vat_rate)
    start = counter + (purchase.fbe_tenths if tariff.fbe_counts_toward_blocks else 0)
    paid = _paid_tenths(energy_incl - energy_vat, tariff, start)
    credit = deliverable_tenths(paid.numerator // paid.denominator)
    if credit == 0:
        debt = gross - charges.total - energy_incl
        raise NothingToBuy(
            f"charges of {_money(charges.total)} and debt of {_money(debt)} leave "
            f"{_money(energy_incl)} for energy, less than 0.1 unit: pay the account instead"
        )
    charged_up_to = purchase.charged_up_to
    return Breakdown(
        gross=gross,
        energy_net=energy_incl - energy_vat,
        energy_vat=energy_vat,
        fixed_net=charges.fixed_net,
        fixed_vat=charges.fixed_vat,
        service_net=charges.service_net,
        service_vat=charges.service_vat,
        debt_lines=debts,
        credit_tenths=credit,
        fbe_tenths=purchase.fbe_tenths,
        steps=_steps(tariff, start, credit),
        residue=_units(paid - credit),
        month=month,
        month_tenths_after=start + credit,
        charged_up_to_after=today if charged_up_to is None else max(charged_up_to, today),
        charges_owing_after=charges.owing_after,
        tariff_code=tariff.code,
        tariff_version=tariff.version,
    )


def fbe_due_tenths(
    *, registered: bool, last_fbe_month: str | None, tariff: Tariff, today: date
) -> int:
    """The FBE a meter may claim today: the tariff's monthly allocation once a month, else 0."""
    if not registered or last_fbe_month == month_key(today):
        return 0
    return max(tariff.fbe_monthly_tenths, 0)


def price_free_basic(
    *, tariff: Tariff, today: date, month: str | None, month_tenths: int, fbe_tenths: int
) -> Breakdown:
    """FBE claimed alone: gross 0, no charges, no debt, the counter moves if the tariff says.

    Raises:
        FreeBasicNotDue: ``fbe_tenths`` is 0 (nothing is due).
        ValueError: ``fbe_tenths`` is not a value a token carries exactly.
    """
    if fbe_tenths <= 0:
        raise FreeBasicNotDue("no free basic electricity is due for this meter this month")
    if deliverable_tenths(fbe_tenths) != fbe_tenths:
        raise ValueError(f"FBE of {fbe_tenths} tenths is not a value a token carries exactly")
    key = month_key(today)
    counter = month_tenths if month == key else 0
    return Breakdown(
        gross=0,
        energy_net=0,
        energy_vat=0,
        fixed_net=0,
        fixed_vat=0,
        service_net=0,
        service_vat=0,
        debt_lines=(),
        credit_tenths=0,
        fbe_tenths=fbe_tenths,
        steps=(),
        residue=Decimal(0),
        month=key,
        month_tenths_after=counter + (fbe_tenths if tariff.fbe_counts_toward_blocks else 0),
        charged_up_to_after=None,
        charges_owing_after=None,
        tariff_code=tariff.code,
        tariff_version=tariff.version,
    )


def record_purchase(meter: Meter, breakdown: Breakdown, *, now: datetime) -> None:
    """Move the meter's counters as ``breakdown`` says (call once, when the vend commits).

    Month counter always; fixed-charge state unless the breakdown leaves it (FBE alone);
    ``last_fbe_month`` when FBE was issued; ``last_purchase_at`` only for paid purchases, so
    FBE-only meters still show as not purchasing. ``now`` must be aware UTC.
    """
    ensure_utc(now)
    meter.month = breakdown.month
    meter.month_tenths = breakdown.month_tenths_after
    if breakdown.charged_up_to_after is not None:
        meter.charged_up_to = breakdown.charged_up_to_after
    if breakdown.charges_owing_after is not None:
        meter.charges_owing = breakdown.charges_owing_after
    if breakdown.fbe_tenths > 0:
        meter.last_fbe_month = breakdown.month
    if breakdown.gross > 0:
        meter.last_purchase_at = now


def apply_debt_lines(debts: Sequence[Debt], breakdown: Breakdown) -> tuple[Debt, ...]:
    """Take each debt line off its debt item; returns the items that changed.

    ``debts`` must be the items the breakdown was priced with, in the same order and still
    at the same outstanding amounts; otherwise ValueError and nothing changes (price again).
    """
    lines = breakdown.debt_lines
    if len(debts) != len(lines) or any(
        debt.id != line.debt_id or debt.outstanding - line.amount != line.outstanding_after
        for debt, line in zip(debts, lines, strict=True)
    ):
        raise ValueError("debt items changed since the purchase was priced; price it again")
    changed = []
    for debt, line in zip(debts, lines, strict=True):
        if line.amount:
            debt.outstanding = line.outstanding_after
            changed.append(debt)
    return tuple(changed)
