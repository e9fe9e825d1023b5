"""One contract for the ledger audit queries (``uow.ledger_audit``): memory, SQLite, PostgreSQL.

The rows are written through the ordinary repositories, with the breaches those allow (a
payment's vend stored twice, a vend without tokens, a vendor entry whose ``balance_after``
does not follow, a balance moved without an entry); every backend must count them alike and
list the same first examples in the same order. TIDs cannot repeat through any backend (the
unique index, the memory twin's check), so here the TID queries only count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.contract.conftest import AddMeter, Backend
from vending_core.domain.model import Vendor
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.domain.records import IssuedToken, TokenKind, Vend, VendKind, VendorEntry
from vending_core.service import ports
from vending_core.service.ledger_ports import (
    LedgerBreach,
    PaymentVendBreach,
    TokenSetBreach,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _payment(number: int, status: PaymentStatus, vend_id: int | None = None) -> Payment:
    """Payment ``number`` (id: the number in 32 hex digits) in ``status``."""
    return Payment(
        id=f"{number:032x}",
        provider="mpesa",
        msisdn="254712345678",
        meter_number="04040404040",
        amount=10_000,
        currency="KES",
        channel="ussd",
        client_id="ussd-at",
        request_id=f"s{number}",
        status=status,
        vend_id=vend_id,
        created_at=T0,
        updated_at=T0,
        expires_at=T0 + timedelta(minutes=10),
    )


def _pid(number: int) -> str:
    return f"{number:032x}"


def _token(sequence: int, tid: int) -> IssuedToken:
    return IssuedToken(
        sequence=sequence, kind=TokenKind.CREDIT, token=f"{tid:020d}", tid=tid, tenths=100
    )


async def _vend(
    uow: ports.UnitOfWork,
    meter_id: int,
    request_id: str,
    *tokens: IssuedToken,
    client_id: str = "payment",
) -> int:
    return await uow.vends.add(
        Vend(
            client_id=client_id,
            request_id=request_id,
            kind=VendKind.CREDIT if tokens else VendKind.ENGINEERING,
            meter_id=meter_id,
            meter_number="04040404040",
            channel="ussd",
            gross=10_000,
            created_at=T0,
            tokens=tokens,
        )
    )


@dataclass
class Ledger:
    """The ids of what :func:`_store` wrote."""

    v1: int
    v2: int
    v3: int
    v4: int
    v5: int
    v6: int
    v8: int
    v9: int


async def _store(uow: ports.UnitOfWork, add_meter: AddMeter) -> Ledger:
    """Meters A and B, eight vends, six payments, three vendors (see the test docstrings)."""
    a = await add_meter(uow)
    b = await add_meter(uow, number="05050505050", pan="600727050505050505")
    v1 = await _vend(uow, a, _pid(1), _token(1, 100))
    v2 = await _vend(uow, a, _pid(2), _token(1, 101))
    v3 = await _vend(uow, a, _pid(2), _token(1, 102))
    v4 = await _vend(uow, a, _pid(4), _token(1, 103))
    v5 = await _vend(uow, b, _pid(9), _token(1, 100))
    v6 = await _vend(uow, b, _pid(6), _token(1, 101))
    v8 = await _vend(uow, b, "till-8", client_id="pos")
    v9 = await _vend(uow, b, "till-9", _token(1, 200), _token(3, 201), client_id="pos")
    for stored in (
        _payment(1, PaymentStatus.VENDED, v1),
        _payment(2, PaymentStatus.VENDED, v2),
        _payment(3, PaymentStatus.PAID),
        _payment(4, PaymentStatus.PAID),
        _payment(5, PaymentStatus.PENDING),
        _payment(6, PaymentStatus.FAILED),
    ):
        assert await uow.payments.add(stored)
    vendors = {}
    for code, balance in (("A-POS", 1000), ("B-POS", 0), ("C-POS", 7)):
        vendors[code] = await uow.vendors.add(
            Vendor(code=code, name=code, channel="pos", balance=balance)
        )
    for code, amount, after in (
        ("A-POS", -100, 900),
        ("A-POS", -50, 850),
        ("A-POS", 25, 880),  # 850 + 25 = 875: the chain breaks here
        ("B-POS", 500, 500),
    ):
        await uow.vendors.add_entry(
            VendorEntry(
                vendor_id=vendors[code], at=T0, amount=amount, balance_after=after, kind="top_up"
            )
        )
    await uow.vendors.update(
        Vendor(id=vendors["A-POS"], code="A-POS", name="A-POS", channel="pos", balance=870)
    )
    await uow.vendors.update(
        Vendor(id=vendors["B-POS"], code="B-POS", name="B-POS", channel="pos", balance=500)
    )
    await uow.commit()
    return Ledger(v1, v2, v3, v4, v5, v6, v8, v9)


async def test_payment_vends_counts_and_lists_the_same(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Payment 2 (vended) has two vends; vends exist for failed 6 and for missing 9.

    Checked: the paid/vended payments 1, 2, 3, 4 = 4. Breaches: payment 2, then the orphan
    vends by payment id (6, then 9) = 3. Payment 3 (paid, no vend) only waits: 1 awaiting.
    Payment 4 (paid, one vend not yet recorded) and 5 (pending) are fine.
    """
    async with backend.new_uow() as uow:
        ids = await _store(uow, add_meter)
    async with backend.new_uow() as uow:
        found = await uow.ledger_audit.payment_vends("payment", limit=5)
        short = await uow.ledger_audit.payment_vends("payment", limit=2)
        awaiting = await uow.ledger_audit.paid_awaiting_vend("payment")
        other_client = await uow.ledger_audit.payment_vends("nobody", limit=5)
    two = PaymentVendBreach(
        payment_id=_pid(2), status="vended", recorded_vend_id=ids.v2, vends=2, first_vend_id=ids.v2
    )
    failed = PaymentVendBreach(
        payment_id=_pid(6), status="failed", recorded_vend_id=None, vends=1, first_vend_id=ids.v6
    )
    missing = PaymentVendBreach(
        payment_id=_pid(9), status=None, recorded_vend_id=None, vends=1, first_vend_id=ids.v5
    )
    assert (found.checked, found.violations, found.examples) == (4, 3, (two, failed, missing))
    assert (short.violations, short.examples) == (3, (two, failed))
    assert awaiting == 1
    # No vend is anyone else's: payments 1 and 2 (vended) then have no vend: 2 breaches.
    assert (other_client.checked, other_client.violations) == (4, 2)


async def test_token_sets_find_a_vend_without_tokens_and_a_gap(
    backend: Backend, add_meter: AddMeter
) -> None:
    """8 vends; vend 8 has no token, vend 9 has sequences 1 and 3 (2 tokens, no 2)."""
    async with backend.new_uow() as uow:
        ids = await _store(uow, add_meter)
    async with backend.new_uow() as uow:
        found = await uow.ledger_audit.token_sets(limit=5)
        short = await uow.ledger_audit.token_sets(limit=1)
    none = TokenSetBreach(
        vend_id=ids.v8,
        kind="engineering",
        meter_number="04040404040",
        tokens=0,
        first_sequence=None,
        last_sequence=None,
    )
    gap = TokenSetBreach(
        vend_id=ids.v9,
        kind="credit",
        meter_number="04040404040",
        tokens=2,
        first_sequence=1,
        last_sequence=3,
    )
    assert (found.checked, found.violations, found.examples) == (8, 2, (none, gap))
    assert (short.violations, short.examples) == (2, (none,))


async def test_tid_queries_count_tokens(backend: Backend, add_meter: AddMeter) -> None:
    """Vends 1-6 carry one token each and vend 9 two: 8 tokens, all with a TID, none repeated.

    Meter A uses TIDs 100-103 and meter B 100, 101, 200, 201: the same TID on two meters is
    no breach.
    """
    async with backend.new_uow() as uow:
        await _store(uow, add_meter)
    async with backend.new_uow() as uow:
        duplicates = await uow.ledger_audit.duplicate_tids(limit=5)
        misfiled = await uow.ledger_audit.misfiled_tokens(limit=5)
    assert (duplicates.checked, duplicates.violations, duplicates.examples) == (8, 0, ())
    assert (misfiled.checked, misfiled.violations, misfiled.examples) == (8, 0, ())


async def test_vendor_ledgers_find_a_broken_link_and_a_moved_balance(
    backend: Backend, add_meter: AddMeter
) -> None:
    """A-POS: 900, 850, then 880 where 850 + 25 = 875; balance 870, last entry 880.

    B-POS (one entry, 500, balance 500) holds; C-POS has no entry (opening float only).
    Checked: 3 vendors; 2 breaches, A-POS entry 3 before its balance.
    """
    async with backend.new_uow() as uow:
        await _store(uow, add_meter)
    async with backend.new_uow() as uow:
        found = await uow.ledger_audit.vendor_ledgers(limit=5)
        short = await uow.ledger_audit.vendor_ledgers(limit=1)
    link = LedgerBreach(vendor_code="A-POS", entry=3, expected=875, found=880)
    balance = LedgerBreach(vendor_code="A-POS", entry=None, expected=880, found=870)
    assert (found.checked, found.violations, found.examples) == (3, 2, (link, balance))
    assert (short.violations, short.examples) == (2, (link,))


async def test_vend_page_walks_the_vends_by_id(backend: Backend, add_meter: AddMeter) -> None:
    """Pages of 3 after id 0: vends 1-3, 4-6, then 8-9, then nothing; tokens in sequence."""
    async with backend.new_uow() as uow:
        ids = await _store(uow, add_meter)
    pages = []
    after = 0
    async with backend.new_uow() as uow:
        while page := await uow.ledger_audit.vend_page(after=after, limit=3):
            pages.append([v.vend_id for v in page])
            after = page[-1].vend_id
        last = await uow.ledger_audit.vend_page(after=ids.v8, limit=3)
    assert pages == [[ids.v1, ids.v2, ids.v3], [ids.v4, ids.v5, ids.v6], [ids.v8, ids.v9]]
    (v9,) = last
    assert (v9.vend_id, v9.kind, v9.meter_number) == (ids.v9, "credit", "04040404040")
    assert v9.tokens == (_token(1, 200), _token(3, 201))
