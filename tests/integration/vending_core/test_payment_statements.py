"""How many statements a payment's state change costs, on real SQLite and PostgreSQL.

A state change locks the payment, then stores it with its history event: on PostgreSQL the
UPDATE and the event's INSERT are one statement (a data-modifying CTE), on SQLite two.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.payments import pending_payment
from vending_core.adapters.memory import MemoryKeyStore
from vending_core.adapters.sql import sql_uow_factory
from vending_core.domain.payments import PaymentStatus
from vending_core.service.core import Core
from vending_core.service.payment_ports import PaymentOutcome, ProviderResult
from vending_core.service.payments import apply_payment_result, expire_payments

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
_DATABASES = [
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=_DATABASES)
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Each real database in turn (fresh: SQLite per test, PostgreSQL emptied)."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


async def _core(engine: AsyncEngine, statements: list[str]) -> Core:
    """A core observing every statement, with payments #1 and #2 stored PENDING."""
    core = Core(
        uow=sql_uow_factory(engine, observe=statements.append),
        keys=MemoryKeyStore(),
        clock=lambda: T0 + timedelta(minutes=11),
    )
    async with core.uow() as uow:
        for number in (1, 2):
            payment = pending_payment(
                number, at=T0, provider="scripted", provider_reference=f"REF-{number}"
            )
            await uow.payments.add(payment)
        await uow.commit()
    statements.clear()
    return core


def _heads(statements: list[str]) -> list[str]:
    return [" ".join(sql.split()[:3]) for sql in statements]


async def test_a_report_that_changes_a_payment_costs_one_write_on_postgresql(
    engine: AsyncEngine,
) -> None:
    """A FAILED report: lock, store the payment with its event, commit.

    From the steps of ``apply_payment_result``: BEGIN; the payment locked by its provider
    reference (one SELECT); the FAILED payment with its "report" event (PostgreSQL: one
    ``WITH updated AS (UPDATE ...) INSERT`` statement; SQLite: UPDATE, then INSERT); COMMIT.
    PostgreSQL: 4 statements (5 with the UPDATE and INSERT apart), SQLite: 5.
    """
    statements: list[str] = []
    core = await _core(engine, statements)
    report = ProviderResult(
        provider="scripted",
        provider_reference="REF-1",
        outcome=PaymentOutcome.FAILED,
        reason="insufficient funds",
    )
    failed = await apply_payment_result(core, report)
    assert failed.status is PaymentStatus.FAILED
    lock = "SELECT payments.id, payments.provider,"
    if engine.dialect.name == "postgresql":
        assert _heads(statements) == ["BEGIN", lock, "WITH updated AS", "COMMIT"]
        assert statements[1].rstrip().endswith("FOR UPDATE OF payments")
    else:
        assert _heads(statements) == [
            "BEGIN",
            lock,
            "UPDATE payments SET",
            "INSERT INTO payment_events",
            "COMMIT",
        ]
    async with core.uow() as uow:
        assert [e.kind for e in await uow.payments.events(failed.id)] == ["report"]


async def test_expiring_two_payments_costs_two_writes_on_postgresql(engine: AsyncEngine) -> None:
    """Both payments expired (10 min TTL, now 11 min on): one unit of work, one write each.

    From the steps of ``expire_payments``: BEGIN; the expiring payments (one SELECT); for
    each of the two, the lock (SELECT) and the EXPIRED payment with its "expired" event
    (PostgreSQL: one statement; SQLite: UPDATE, INSERT); COMMIT. PostgreSQL: 1 + 1 + 2 * 2
    + 1 = 7 statements (9 with the UPDATE and INSERT apart); SQLite: 1 + 1 + 2 * 3 + 1 = 9.
    """
    statements: list[str] = []
    core = await _core(engine, statements)
    expired = await expire_payments(core)
    assert [p.status for p in expired] == [PaymentStatus.EXPIRED] * 2
    select = "SELECT payments.id, payments.provider,"
    if engine.dialect.name == "postgresql":
        each = [select, "WITH updated AS"]
    else:
        each = [select, "UPDATE payments SET", "INSERT INTO payment_events"]
    assert _heads(statements) == ["BEGIN", select, *each, *each, "COMMIT"]
    async with core.uow() as uow:
        for payment in expired:
            assert [e.kind for e in await uow.payments.events(payment.id)] == ["expired"]
