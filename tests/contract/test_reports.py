"""One contract for the report repository (``uow.reports``): memory, SQLite, PostgreSQL.

A small seeded November 2026 (period ``[2026-11-01, 2026-12-01)``), every expected figure
added up by hand below from the seed. Receipts are real ``Breakdown``s (their lines sum to
the gross), stored as the vending core stores them (``to_dict`` plus the receipt ``lines``).

Vends (meters A: SGC 600727 TI 7; B: 600728 TI 2; C: 600727 TI 7):

====  =====  ================  =======  ======  ======  =====  ====  ===========================
name  meter  created (UTC)     channel  vendor  gross   VAT    comm  other
====  =====  ================  =======  ======  ======  =====  ====  ===========================
V1    A      11-25 08:00       pos      POS-1   11 500  1 500  115   625 tenths, operator amina
V2    A      11-26 09:00       ussd     -        2 300    300    0   87 t, FBE 500, debt 7: 460
                                                                     (VAT 60); payment pay-2
V3    B      12-01 00:00       pos      POS-1    5 000    652    0   outside (``to`` exclusive)
V4    C      11-27 10:00       pos      POS-1    4 600    600   46   250 t, reversed 11-28 12:00
                                                                     by manager1
V5    B      11-27 11:00       ussd     -            0      0    0   free basic, FBE 500
V6    C      10-31 23:59:59    pos      POS-1    1 150    150    0   outside (before ``from``)
V7    C      11-25 13:00       pos      POS-2    3 680    450   34   150 t, operator amina, debt
                                                                     7: 690 (VAT 90), 9: 230
V8    B      11-28 07:00       sms      -        1 000    130    0   54 t, payment pay-ghost
                                                                     (no such payment)
====  =====  ================  =======  ======  ======  =====  ====  ===========================

VAT per receipt: V2 = energy 210 + fixed 30 + debt 60 = 300; V7 = energy 360 + debt 90 = 450.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.contract.conftest import Backend, make_meter
from vending_core.domain.breakdown import Breakdown, DebtLine
from vending_core.domain.model import Customer, MeterStatus, SupplyGroup
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.domain.records import (
    MaintenanceRequest,
    MaintenanceStatus,
    Vend,
    VendKind,
    VendStatus,
)
from vending_core.service.admin_records import AdminLevel, AdminUser, AuditEntry
from vending_core.service.report_records import (
    DebtRecoveryLine,
    FreeIssueLine,
    MaintenanceLine,
    ReconciliationLine,
    ReprintLine,
    ReversalLine,
    VendingLine,
)

START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def _at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def _receipt(
    gross: int,
    *,
    energy_vat: int,
    credit: int,
    fbe: int = 0,
    fixed: tuple[int, int] = (0, 0),
    debts: tuple[DebtLine, ...] = (),
) -> dict[str, Any]:
    """A stored receipt: energy net is what is left of ``gross`` (the lines must sum)."""
    energy_net = gross - energy_vat - sum(fixed) - sum(d.amount for d in debts)
    breakdown = Breakdown(
        gross=gross,
        energy_net=energy_net,
        energy_vat=energy_vat,
        fixed_net=fixed[0],
        fixed_vat=fixed[1],
        service_net=0,
        service_vat=0,
        debt_lines=debts,
        credit_tenths=credit,
        fbe_tenths=fbe,
        steps=(),
        residue=Decimal(0),
        month="2026-11",
        month_tenths_after=credit + fbe,
        charged_up_to_after=None,
        charges_owing_after=0,
        tariff_code="RES",
        tariff_version=1,
    )
    return {**breakdown.to_dict(), "lines": [list(line) for line in breakdown.lines()]}


def _vend(meter: int, when: datetime, gross: int, receipt: dict[str, Any], **fields: Any) -> Vend:
    values: dict[str, Any] = {
        "client_id": "pos",
        "request_id": f"r-{when.isoformat()}",
        "kind": VendKind.CREDIT,
        "meter_id": meter,
        "meter_number": str(meter),
        "channel": "pos",
        "vendor_code": "POS-1",
        "gross": gross,
        "breakdown": receipt,
        "created_at": when,
    }
    return Vend(**(values | fields))


def _payment(
    pid: str, status: PaymentStatus, amount: int, when: datetime, **fields: Any
) -> Payment:
    values: dict[str, Any] = {
        "id": pid,
        "provider": "sandbox",
        "provider_reference": f"ref-{pid}",
        "msisdn": "254700000001",
        "meter_number": "04040404040",
        "amount": amount,
        "currency": "KES",
        "channel": "ussd",
        "client_id": "ussd",
        "request_id": f"q-{pid}",
        "status": status,
        "receipt": f"R-{pid}",
        "created_at": when,
        "updated_at": when,
        "expires_at": when + timedelta(minutes=10),
    }
    return Payment(**(values | fields))


async def _meters(backend: Backend) -> tuple[int, int, int]:
    async with backend.new_uow() as uow:
        for sgc in ("600727", "600728"):
            group = SupplyGroup(
                sgc=sgc, name=sgc, key_ref=f"k-{sgc}", dkga=4, key_revision=2, base_date=2014
            )
            await uow.supply_groups.add(group)
        owner = await uow.customers.add(Customer(account_number="ACC-1", name="Amina Juma"))
        a = await uow.meters.add(replace(make_meter(), customer_id=owner))
        meter_b = make_meter("05050505050", "600728050505050505")
        b = await uow.meters.add(replace(meter_b, sgc="600728", ti=2, last_purchase_at=None))
        meter_c = make_meter("06060606060", "600727060606060606")
        c = await uow.meters.add(replace(meter_c, last_purchase_at=_at(11, 20)))
        await uow.commit()
    return a, b, c


async def _seed(backend: Backend) -> None:
    """The table of the module docstring, plus payments, maintenance and audited reprints."""
    a, b, c = await _meters(backend)
    async with backend.new_uow() as uow:
        add = uow.vends.add
        await add(
            _vend(
                a,
                _at(11, 25, 8),
                11_500,
                _receipt(11_500, energy_vat=1_500, credit=625),
                commission=115,
                operator="amina",
            )
        )
        debt7 = DebtLine(debt_id=7, amount=460, vat=60, outstanding_after=0)
        receipt2 = _receipt(
            2_300, energy_vat=210, credit=87, fbe=500, fixed=(200, 30), debts=(debt7,)
        )
        v2 = await add(
            _vend(
                a,
                _at(11, 26, 9),
                2_300,
                receipt2,
                channel="ussd",
                vendor_code=None,
                client_id="payment",
                request_id="pay-2",
            )
        )
        await add(_vend(b, _at(12, 1), 5_000, _receipt(5_000, energy_vat=652, credit=271)))
        await add(
            _vend(
                c,
                _at(11, 27, 10),
                4_600,
                _receipt(4_600, energy_vat=600, credit=250),
                commission=46,
                status=VendStatus.REVERSED,
                reversed_at=_at(11, 28, 12),
                reversed_by="manager1",
            )
        )
        await add(
            _vend(
                b,
                _at(11, 27, 11),
                0,
                _receipt(0, energy_vat=0, credit=0, fbe=500),
                kind=VendKind.FREE_BASIC,
                channel="ussd",
                vendor_code=None,
            )
        )
        await add(
            _vend(c, _at(10, 31, 23, 59, 59), 1_150, _receipt(1_150, energy_vat=150, credit=62))
        )
        debts7 = (DebtLine(7, 690, 90, 0), DebtLine(9, 230, 0, 0))
        await add(
            _vend(
                c,
                _at(11, 25, 13),
                3_680,
                _receipt(3_680, energy_vat=360, credit=150, debts=debts7),
                vendor_code="POS-2",
                commission=34,
                operator="amina",
            )
        )
        await add(
            _vend(
                b,
                _at(11, 28, 7),
                1_000,
                _receipt(1_000, energy_vat=130, credit=54),
                channel="sms",
                vendor_code=None,
                client_id="payment",
                request_id="pay-ghost",
            )
        )
        payments = uow.payments
        await payments.add(
            _payment("pay-2", PaymentStatus.VENDED, 2_350, _at(11, 26, 8, 59), vend_id=v2)
        )
        await payments.add(_payment("pay-paid", PaymentStatus.PAID, 5_000, _at(11, 27)))
        await payments.add(
            _payment("pay-conf", PaymentStatus.CONFLICT, 700, _at(11, 29), channel="sms")
        )
        await payments.add(_payment("pay-old", PaymentStatus.PAID, 900, _at(10, 15)))
        await _maintenance(uow.maintenance, a)
        await _reprints(uow)
        await uow.commit()


async def _maintenance(repository: Any, meter: int) -> None:
    """R1 11-02..11-03 resolved, R2 11-03 open, R3 10-30..11-02 resolved, R4 11-30 assigned."""
    done, still = MaintenanceStatus.RESOLVED, MaintenanceStatus.OPEN
    for opened, status, resolved in (
        (_at(11, 2), done, _at(11, 3)),
        (_at(11, 3), still, None),
        (_at(10, 30), done, _at(11, 2)),
        (_at(11, 30), MaintenanceStatus.ASSIGNED, None),
    ):
        request = MaintenanceRequest(
            meter_id=meter, description="no power", opened_at=opened, status=status
        )
        request.resolved_at = resolved
        await repository.add(request)


async def _reprints(uow: Any) -> None:
    """Reprints: amina 11-25 and 11-26, badru 11-26, amina 12-01 (out); one pos.vend."""
    ids = {}
    for name in ("amina", "badru"):
        user = AdminUser(
            username=name, level=AdminLevel.OPERATOR, password_hash="x", created_at=START
        )
        ids[name] = await uow.admin.add_user(user)
    for name, when, action in (
        ("amina", _at(11, 25, 10), "pos.reprint"),
        ("amina", _at(11, 26, 10), "pos.reprint"),
        ("badru", _at(11, 26, 11), "pos.reprint"),
        ("amina", _at(12, 1), "pos.reprint"),
        ("amina", _at(11, 26, 12), "pos.vend"),
    ):
        entry = AuditEntry(
            at=when, user_id=ids[name], remote="10.0.0.1", action=action, entity="meter",
            entity_id="04040404040",
        )  # fmt: skip
        await uow.admin.add_audit(entry)


@pytest.fixture
async def seeded(backend: Backend) -> Backend:
    """The backend with the seed stored."""
    await _seed(backend)
    return backend


async def test_vending_groups_vat_net_commission_and_units(seeded: Backend) -> None:
    """Completed credit sales only (V1, V2, V7, V8): V3/V6 are outside, V4 reversed, V5 free.

    11-25: V1 + V7 = 2 sales, gross 11 500 + 3 680 = 15 180, VAT 1 500 + 450 = 1 950,
    net 13 230, commission 115 + 34 = 149, units 625 + 150 = 775.
    Month: gross 11 500 + 2 300 + 3 680 + 1 000 = 18 480; VAT 1 500 + 300 + 450 + 130 =
    2 380; net 16 100; commission 149; units 625 + 87 + 150 + 54 = 916.
    SGC 600727 (A, C: V1, V2, V7): gross 17 480, VAT 2 250, units 862; 600728 (B: V8).
    """
    async with seeded.new_uow() as uow:
        reports = uow.reports
        assert await reports.vending(START, END, "day") == [
            VendingLine("2026-11-25", 2, 15_180, 1_950, 13_230, 149, 775),
            VendingLine("2026-11-26", 1, 2_300, 300, 2_000, 0, 87),
            VendingLine("2026-11-28", 1, 1_000, 130, 870, 0, 54),
        ]
        month = VendingLine("2026-11", 4, 18_480, 2_380, 16_100, 149, 916)
        assert await reports.vending(START, END, "month") == [month]
        assert await reports.vending(START, END, "year") == [replace(month, key="2026")]
        assert await reports.vending(START, END, "vendor") == [
            VendingLine("", 2, 3_300, 430, 2_870, 0, 141),
            VendingLine("POS-1", 1, 11_500, 1_500, 10_000, 115, 625),
            VendingLine("POS-2", 1, 3_680, 450, 3_230, 34, 150),
        ]
        assert [(x.key, x.sales) for x in await reports.vending(START, END, "channel")] == [
            ("pos", 2),
            ("sms", 1),
            ("ussd", 1),
        ]
        assert [(x.key, x.gross) for x in await reports.vending(START, END, "operator")] == [
            ("", 3_300),
            ("amina", 15_180),
        ]
        assert await reports.vending(START, END, "sgc") == [
            VendingLine("600727", 3, 17_480, 2_250, 15_230, 149, 862),
            VendingLine("600728", 1, 1_000, 130, 870, 0, 54),
        ]
        assert [(x.key, x.sales) for x in await reports.vending(START, END, "ti")] == [
            ("2", 1),
            ("7", 3),
        ]


async def test_free_issue_debt_and_reversals(seeded: Backend) -> None:
    """FBE: V2 (with a sale, 500) and V5 (claimed alone, 500). Debt: V2 and V7's lines.

    Debt 7: 460 + 690 = 1 150, VAT 60 + 90 = 150, net 1 000 (2 lines); debt 9: 230, no VAT.
    By day: 11-25 (V7) 690 + 230 = 920, VAT 90; 11-26 (V2) 460, VAT 60.
    Reversals: V4 only, on its reversal day 11-28 (created 11-27), by manager1.
    """
    async with seeded.new_uow() as uow:
        reports = uow.reports
        assert await reports.free_issue(START, END, "day") == [
            FreeIssueLine("2026-11-26", 1, 500, 0),
            FreeIssueLine("2026-11-27", 1, 500, 1),
        ]
        assert await reports.free_issue(START, END, "sgc") == [
            FreeIssueLine("600727", 1, 500, 0),
            FreeIssueLine("600728", 1, 500, 1),
        ]
        assert await reports.debt_recovery(START, END, "debt") == [
            DebtRecoveryLine("7", 2, 1_150, 150, 1_000),
            DebtRecoveryLine("9", 1, 230, 0, 230),
        ]
        assert await reports.debt_recovery(START, END, "day") == [
            DebtRecoveryLine("2026-11-25", 2, 920, 90, 830),
            DebtRecoveryLine("2026-11-26", 1, 460, 60, 400),
        ]
        undone = ReversalLine("2026-11-28", 1, 4_600, 600, 46)
        assert await reports.reversals(START, END, "day") == [undone]
        assert await reports.reversals(START, END, "operator") == [replace(undone, key="manager1")]
        assert await reports.reversals(START, _at(11, 28), "day") == []


async def test_reprints_and_maintenance(seeded: Backend) -> None:
    """Reprints: 11-25 one, 11-26 two (amina 2, badru 1); 12-01 and the pos.vend are out.

    Maintenance by day: 11-02 R1 opened, R3 resolved; 11-03 R2 opened, R1 resolved; 11-30 R4
    opened. By current status: assigned R4 (1, 0); open R2 (1, 0); resolved R1 (opened and
    resolved) and R3 (resolved): (1, 2).
    """
    async with seeded.new_uow() as uow:
        reports = uow.reports
        assert await reports.reprints(START, END, "day") == [
            ReprintLine("2026-11-25", 1),
            ReprintLine("2026-11-26", 2),
        ]
        assert await reports.reprints(START, END, "operator") == [
            ReprintLine("amina", 2),
            ReprintLine("badru", 1),
        ]
        assert await reports.maintenance(START, END, "day") == [
            MaintenanceLine("2026-11-02", 1, 1),
            MaintenanceLine("2026-11-03", 1, 1),
            MaintenanceLine("2026-11-30", 1, 0),
        ]
        assert await reports.maintenance(START, END, "status") == [
            MaintenanceLine("assigned", 1, 0),
            MaintenanceLine("open", 1, 0),
            MaintenanceLine("resolved", 1, 2),
        ]


async def test_reconciliation_finds_each_kind_of_disagreement(seeded: Backend) -> None:
    """Each disagreement in its group; matching payments and vends are not listed.

    pay-2 paid 2 350 for V2's 2 300 (mismatch +50, 11-26); pay-paid 5 000 not vended
    (11-27); V8 vended 1 000 for pay-ghost, which does not exist (11-28, sms); pay-conf 700 in
    conflict (11-29, sms). pay-old is before the period.
    """
    zero = (0, 0, 0, 0, 0, 0, 0, 0)
    async with seeded.new_uow() as uow:
        by_day = await uow.reports.reconciliation(START, END, "day")
        by_channel = await uow.reports.reconciliation(START, END, "channel")
    assert by_day == [
        ReconciliationLine("2026-11-26", 0, 0, 0, 0, 1, 50, 0, 0),
        ReconciliationLine("2026-11-27", 1, 5_000, *zero[:6]),
        ReconciliationLine("2026-11-28", 0, 0, 1, 1_000, 0, 0, 0, 0),
        ReconciliationLine("2026-11-29", *zero[:6], 1, 700),
    ]
    assert by_channel == [
        ReconciliationLine("sms", 0, 0, 1, 1_000, 0, 0, 1, 700),
        ReconciliationLine("ussd", 1, 5_000, 0, 0, 1, 50, 0, 0),
    ]


async def test_idle_meters_never_bought_first_with_customer(seeded: Backend) -> None:
    """Before 11-01: B never bought (first), A last bought 03-01 (with Amina); C bought 11-20."""
    async with seeded.new_uow() as uow:
        idle = await uow.reports.idle_meters(START, limit=10, offset=0)
        page = await uow.reports.idle_meters(START, limit=1, offset=1)
    assert [(m.meter_number, m.customer_name, m.ti) for m in idle] == [
        ("05050505050", None, 2),
        ("04040404040", "Amina Juma", 7),
    ]
    assert idle[1].account_number == "ACC-1"
    assert idle[1].last_purchase_at == datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    assert idle[0].last_purchase_at is None
    assert [m.meter_number for m in page] == ["04040404040"]


#: The abnormal report's "now": history ``[2025-12-01, 2026-12-01)`` (12 whole months before
#: December), last 30 days ``[2026-11-15 10:00, 2026-12-15 10:00)``, idle (90 days) before
#: 2026-09-16 10:00.
NOW = datetime(2026, 12, 15, 10, tzinfo=UTC)
IDLE_SINCE = NOW - timedelta(days=90)


async def _history(backend: Backend) -> dict[str, int]:
    """Meters A, B, C, D, E and their vends (credit tenths ``c``, FBE ``f``).

    * A, active, last purchase 12-01: 1 005 c on 2025-12-01 00:00 (first instant of the
      history), 1 000 c on the 5th of each month 2026-01..2026-11 (11 vends); outside or not
      counted: 9 999 c on 2025-11-30 23:00 (before the history), 5 000 c on 2026-06-10
      reversed, 100 c + 500 f on 2026-12-01 (after the history, in the last 30 days).
      History 1 005 + 11 x 1 000 = 12 005, average 12 005 // 12 = 1 000; last 30 days 100
      (the 11-05 vend is before 11-15). 100 < 50 % of 1 000 = 500: below.
    * B, active, never bought: free-basic vends 2026-10-02 and 2026-11-20 (500 f each).
      Average 0, last 30 days 0, FBE only; idle.
    * C, blocked, last purchase 2026-05-10: 600 c that day. Average 600 // 12 = 50, last 30
      days 0: idle (and under 50 % of 50, but idle wins).
    * D, active, last purchase 12-10: 300 c on 2026-01-20, 07-20 and 11-25; 200 c on 12-10.
      History 900, average 75; last 30 days 300 + 200 = 500: never below.
    * E, active, last purchase 12-02: 2 411 c on 2026-03-03, 100 c on 12-02. Average
      2 411 // 12 = 200; last 30 days 100: 100 x 100 = 10 000 is not < 50 x 200 = 10 000
      (exactly half: not below 50), but is < 51 x 200 = 10 200.
    """
    active = MeterStatus.ACTIVE
    plan = {
        "A": ("04040404040", active, _at(12, 1)),
        "B": ("05050505050", active, None),
        "C": ("06060606060", MeterStatus.BLOCKED, _at(5, 10)),
        "D": ("07070707070", active, _at(12, 10)),
        "E": ("08080808080", active, _at(12, 2)),
    }
    ids: dict[str, int] = {}
    async with backend.new_uow() as uow:
        group = SupplyGroup(
            sgc="600727", name="600727", key_ref="k", dkga=4, key_revision=2, base_date=2014
        )
        await uow.supply_groups.add(group)
        for name, (number, status, last) in plan.items():
            meter = replace(
                make_meter(number, f"600727{number}0"), status=status, last_purchase_at=last
            )
            ids[name] = await uow.meters.add(meter)
        await uow.commit()
    a, b, c, d, e = (ids[name] for name in "ABCDE")
    credits: list[tuple[int, datetime, int, dict[str, Any]]] = [
        (a, datetime(2025, 12, 1, tzinfo=UTC), 1_005, {}),
        *((a, _at(month, 5), 1_000, {}) for month in range(1, 12)),
        (a, datetime(2025, 11, 30, 23, tzinfo=UTC), 9_999, {}),
        (a, _at(6, 10), 5_000, {"status": VendStatus.REVERSED, "reversed_at": _at(6, 11)}),
        (a, _at(12, 1), 100, {"fbe": 500}),
        (c, _at(5, 10), 600, {}),
        (d, _at(1, 20), 300, {}),
        (d, _at(7, 20), 300, {}),
        (d, _at(11, 25), 300, {}),
        (d, _at(12, 10), 200, {}),
        (e, _at(3, 3), 2_411, {}),
        (e, _at(12, 2), 100, {}),
    ]
    async with backend.new_uow() as uow:
        for owner, when, tenths, extra in credits:
            fbe = extra.pop("fbe", 0)
            receipt = _receipt(1_150, energy_vat=150, credit=tenths, fbe=fbe)
            vend = _vend(owner, when, 1_150, receipt, request_id=f"h-{owner}-{when}", **extra)
            await uow.vends.add(vend)
        for when in (_at(10, 2), _at(11, 20)):
            receipt = _receipt(0, energy_vat=0, credit=0, fbe=500)
            free = _vend(b, when, 0, receipt, kind=VendKind.FREE_BASIC, request_id=f"f-{when}")
            await uow.vends.add(free)
        await uow.commit()
    return ids


async def test_abnormal_meters_history_flags_and_below_average(backend: Backend) -> None:
    """The figures of ``_history``'s docstring on every backend, and who each ``below`` adds.

    Without ``below`` (0): exactly the idle meters, B (never bought, first) then C, as
    ``idle_meters`` lists them. ``below`` 50 adds A (12-01); 51 adds E too (12-02, after A);
    D is never listed. A page of ``below`` 51 from offset 2: A, E.
    """
    await _history(backend)
    async with backend.new_uow() as uow:
        idle = await uow.reports.abnormal_meters(NOW, IDLE_SINCE, below=0, limit=10, offset=0)
        plain = await uow.reports.idle_meters(IDLE_SINCE, limit=10, offset=0)
        half = await uow.reports.abnormal_meters(NOW, IDLE_SINCE, below=50, limit=10, offset=0)
        more = await uow.reports.abnormal_meters(NOW, IDLE_SINCE, below=51, limit=10, offset=0)
        page = await uow.reports.abnormal_meters(NOW, IDLE_SINCE, below=51, limit=2, offset=2)
    columns = [
        (m.meter_number, m.avg_month_tenths, m.last_month_tenths, m.fbe_only, m.blocked, m.reason)
        for m in more
    ]
    assert columns == [
        ("05050505050", 0, 0, True, False, "idle"),
        ("06060606060", 50, 0, False, True, "idle"),
        ("04040404040", 1_000, 100, False, False, "below-average"),
        ("08080808080", 200, 100, False, False, "below-average"),
    ]
    assert [m.meter_number for m in idle] == [m.meter_number for m in plain]
    assert [m.meter_number for m in idle] == ["05050505050", "06060606060"]
    assert [m.meter_number for m in half] == ["05050505050", "06060606060", "04040404040"]
    assert [m.meter_number for m in page] == ["04040404040", "08080808080"]
    assert more[0].last_purchase_at is None
    assert more[1].status == "blocked"
    assert more[2].last_purchase_at == _at(12, 1)
    assert half[:2] == idle
