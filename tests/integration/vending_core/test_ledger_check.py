"""``check_ledger`` on SQLite and PostgreSQL: a clean ledger passes, each corruption is named.

The demo utility is loaded and sold to through the core (vendor sales, a paid mobile-money
purchase, an engineering token, a key change and a sale after it, a reversal). Then, one test
at a time, the database is corrupted with raw SQL and the checker must report exactly that
invariant, with the example that names the broken row.

The scenario, on a clock that moves one minute per operation from 2026-11-25 09:00 UTC:

====  ==================================================  ===============================
vend  what                                                tokens
====  ==================================================  ===============================
1     DEMO-POS sells R100.00 to meter 1 (FBE due)         2 (free basic, credit)
2     DEMO-POS sells R100.00 to meter 10                  1
3     DEMO-POS sells R20.00 to meter 1 (FBE taken)        1
4     a paid purchase of R100.00 for meter 5              1
5     clear tamper on meter 2                             1
6     key change of meter 11 (EA11) to TI 2               4 key change tokens, no TID
7     a sale of R100.00 to meter 11 (no vendor)           1
====  ==================================================  ===============================

Then vend 3 is reversed. Totals: 7 vends, 11 tokens of which 7 carry a TID, 1 payment, 1
vendor. DEMO-POS (opening float 1,000,000, no commission) moves
1,000,000 - 10,000 = 990,000; - 10,000 = 980,000; - 2,000 = 978,000; + 2,000 (reversal)
= 980,000.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from gateway.ledger_command import format_report
from tests.support.core_world import Clock
from vending_core.adapters.compose import sql_core
from vending_core.adapters.db import create_engine
from vending_core.service.core import Core, RequestContext
from vending_core.service.demo_data import DEMO_METERS, load_demo_data
from vending_core.service.ledger_check import LedgerReport, check_ledger
from vending_core.service.operations import (
    EngineeringKind,
    change_key,
    issue_engineering_token,
    reverse,
)
from vending_core.service.payment_ports import (
    PaymentAccepted,
    PaymentOutcome,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)
from vending_core.service.payments import PAYMENT_CLIENT_ID, apply_payment_result, start_purchase
from vending_core.service.vending import vend_credit

KEK = bytes(range(32))
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CHECKS = ("payment-vends", "vend-tokens", "unique-tids", "vendor-ledgers", "tokens-load")
M1, M2, M5, M10, M11 = (DEMO_METERS[i].number for i in (0, 1, 4, 9, 10))


class FakeProvider:
    """A provider that accepts every request (the test reports the payment itself)."""

    name = "fake"

    async def start(self, request: PaymentRequest) -> PaymentAccepted:
        """Accept with our id as the reference."""
        return PaymentAccepted(provider_reference=f"ref-{request.payment_id}")

    async def query(self, provider_reference: str) -> ProviderResult:
        """Never asked in these tests."""
        raise PaymentUnavailable("no status queries here")

    def parse_callback(self, body: bytes, content_type: str) -> ProviderResult:
        """Never asked in these tests."""
        raise PaymentUnavailable("no callbacks here")


@dataclass
class World:
    """The core on the database, its URL, and the ids of the scenario's vends."""

    core: Core
    url: str
    clock: Clock
    sale1: int
    sale2: int
    sale3: int
    paid: int
    key_change: int
    payment_id: str

    async def sql(self, statement: str, **params: object) -> None:
        """Run raw SQL on the database (a corruption), committed."""
        engine = create_engine(self.url, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement), params)
        finally:
            await engine.dispose()

    async def scalar(self, statement: str, **params: object) -> object:
        """One value read with raw SQL."""
        engine = create_engine(self.url, pool_size=1)
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(statement), params)).scalar_one()
        finally:
            await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    request.getfixturevalue("postgres_engine")  # empties the database (TRUNCATE)
    return str(request.getfixturevalue("migrated_postgres_url"))


async def _scenario(core: Core, clock: Clock) -> dict[str, int | str]:
    counter = iter(range(1, 100))

    def ctx(vendor: str | None = None) -> RequestContext:
        clock.advance(minutes=1)
        return RequestContext(
            client_id="pos", request_id=f"r{next(counter)}", channel="pos", vendor_code=vendor
        )

    ids: dict[str, int | str] = {}
    ids["sale1"] = (await vend_credit(core, ctx("DEMO-POS"), M1, 10_000)).vend_id
    ids["sale2"] = (await vend_credit(core, ctx("DEMO-POS"), M10, 10_000)).vend_id
    ids["sale3"] = (await vend_credit(core, ctx("DEMO-POS"), M1, 2_000)).vend_id
    clock.advance(minutes=1)
    pending = await start_purchase(
        core,
        FakeProvider(),
        msisdn="254700000005",
        meter=M5,
        amount=10_000,
        channel="ussd",
        client_id="ussd",
        request_id="s1",
        ttl=timedelta(minutes=5),
    )
    result = ProviderResult(
        provider="fake",
        provider_reference=f"ref-{pending.id}",
        outcome=PaymentOutcome.PAID,
        amount=10_000,
    )
    paid = await apply_payment_result(core, result)
    assert paid.vend_id is not None
    ids["paid"], ids["payment_id"] = paid.vend_id, paid.id
    await issue_engineering_token(core, ctx(), M2, EngineeringKind.CLEAR_TAMPER)
    ids["key_change"] = (await change_key(core, ctx(), M11, ti=2)).vend_id
    await vend_credit(core, ctx(), M11, 10_000)
    await reverse(core, ctx(), int(ids["sale3"]), reason="sold twice", authorised_by="chief")
    return ids


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    """The scenario of the module docstring, sold through the core."""
    clock = Clock(START)
    async with sql_core(database_url, KEK, clock=clock) as core:
        core.random_nibble = lambda: 7  # the same tokens every run
        await load_demo_data(core)
        ids = await _scenario(core, clock)
        yield World(core=core, url=database_url, clock=clock, **ids)  # type: ignore[arg-type]


def _broken(report: LedgerReport) -> list[str]:
    return [check.name for check in report.checks if not check.ok]


async def test_a_clean_ledger_holds(world: World) -> None:
    """Every invariant holds; counted: 1 payment, 7 vends, 7 TID tokens, 1 vendor, 11 tokens."""
    report = await check_ledger(world.core)
    assert report.ok, format_report(report)
    assert [c.name for c in report.checks] == list(CHECKS)
    counted = {c.name: (c.checked, c.violations) for c in report.checks}
    assert counted == {
        "payment-vends": (1, 0),
        "vend-tokens": (7, 0),
        "unique-tids": (7, 0),
        "vendor-ledgers": (1, 0),
        "tokens-load": (11, 0),
    }


async def test_progress_is_reported_per_page(world: World) -> None:
    """Pages of 3 vends: progress after 3, 6 and 7 vends; --no-tokens leaves the check out."""
    seen: list[int] = []
    report = await check_ledger(world.core, progress=seen.append, batch=3)
    assert seen == [3, 6, 7]
    assert report.ok
    quick = await check_ledger(world.core, decode_tokens=False, progress=seen.append)
    assert [c.name for c in quick.checks] == list(CHECKS[:4])
    assert seen == [3, 6, 7]


async def test_a_second_vend_for_a_paid_payment_is_reported(world: World) -> None:
    """The payment's idempotency key is lost and its vend runs again: 2 vends, 1 recorded."""
    await world.sql(
        "DELETE FROM requests WHERE client_id = :client AND request_id = :payment",
        client=PAYMENT_CLIENT_ID,
        payment=world.payment_id,
    )
    again = RequestContext(client_id=PAYMENT_CLIENT_ID, request_id=world.payment_id, channel="ussd")
    second = await vend_credit(world.core, again, M5, 10_000)
    assert second.vend_id > world.paid
    report = await check_ledger(world.core)
    assert _broken(report) == ["payment-vends"]
    check = report.check("payment-vends")
    assert (check.checked, check.violations) == (1, 1)
    assert check.examples == (
        f"payment {world.payment_id} (vended): 2 vend(s) (first: vend {world.paid}),"
        f" recorded vend {world.paid}",
    )


async def test_a_vend_for_a_failed_payment_is_reported(world: World) -> None:
    """A payment marked failed after its vend: a token was given for money not taken."""
    await world.sql("UPDATE payments SET status = 'failed', vend_id = NULL")
    report = await check_ledger(world.core, decode_tokens=False)
    assert _broken(report) == ["payment-vends"]
    check = report.check("payment-vends")
    # No payment is paid or vended any more: 0 checked, the one vend is an orphan.
    assert (check.checked, check.violations) == (0, 1)
    assert check.examples == (
        f"payment {world.payment_id} (failed): 1 vend(s) (first: vend {world.paid}),"
        " recorded vend none",
    )


async def test_a_vend_without_tokens_is_reported(world: World) -> None:
    """Vend 2's only token is deleted: vend-tokens names it; 10 tokens are left to load."""
    await world.sql("DELETE FROM vend_tokens WHERE vend_id = :vend", vend=world.sale2)
    report = await check_ledger(world.core)
    assert _broken(report) == ["vend-tokens"]
    check = report.check("vend-tokens")
    assert (check.checked, check.violations) == (7, 1)
    assert check.examples == (f"vend {world.sale2} (credit, meter {M10}): no tokens",)
    assert report.check("tokens-load").checked == 11 - 1


async def test_the_unique_index_refuses_a_repeated_tid(world: World) -> None:
    """Giving vend 3's token the TID of vend 1's credit token breaks uq_vend_tokens_meter_id_tid."""
    tid = await world.scalar(
        "SELECT tid FROM vend_tokens WHERE vend_id = :vend AND sequence = 2", vend=world.sale1
    )
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        await world.sql(
            "UPDATE vend_tokens SET tid = :tid WHERE vend_id = :vend", tid=tid, vend=world.sale3
        )


async def test_a_repeated_tid_hidden_from_the_index_is_reported(world: World) -> None:
    """The index is keyed on the token row's meter_id: file the repeat under meter 2 instead.

    Vend 3 (meter 1) gets the TID of vend 1's credit token and meter 2's id on its token row.
    The check groups tokens by their vend's meter, so meter 1 has that TID twice, and the row
    is reported as misfiled: 2 violations of unique-tids and nothing else. With the token
    check on, the token itself also carries a TID other than the stored one.
    """
    tid = await world.scalar(
        "SELECT tid FROM vend_tokens WHERE vend_id = :vend AND sequence = 2", vend=world.sale1
    )
    old_tid = await world.scalar("SELECT tid FROM vend_tokens WHERE vend_id = :v", v=world.sale3)
    meter1 = await world.scalar("SELECT id FROM meters WHERE number = :n", n=M1)
    meter2 = await world.scalar("SELECT id FROM meters WHERE number = :n", n=M2)
    await world.sql(
        "UPDATE vend_tokens SET tid = :tid, meter_id = :meter WHERE vend_id = :vend",
        tid=tid,
        meter=meter2,
        vend=world.sale3,
    )
    report = await check_ledger(world.core, decode_tokens=False)
    assert _broken(report) == ["unique-tids"]
    check = report.check("unique-tids")
    assert (check.checked, check.violations) == (7, 2)
    assert check.examples == (
        f"meter {M1}: TID {tid} on 2 tokens (vends {world.sale1}..{world.sale3})",
        f"vend {world.sale3} token 1: filed under meter id {meter2},"
        f" its vend's meter id is {meter1}",
    )
    tokens = (await check_ledger(world.core)).check("tokens-load")
    assert tokens.examples == (
        f"vend {world.sale3} token 1 (credit, meter {M1}): carries TID {old_tid}, stored {tid}",
    )


async def test_a_vendor_balance_moved_without_an_entry_is_reported(world: World) -> None:
    """DEMO-POS's balance becomes 980,001; its last entry says 980,000 (module docstring)."""
    await world.sql("UPDATE vendors SET balance = 980001 WHERE code = 'DEMO-POS'")
    report = await check_ledger(world.core)
    assert _broken(report) == ["vendor-ledgers"]
    check = report.check("vendor-ledgers")
    assert (check.checked, check.violations) == (1, 1)
    assert check.examples == (
        "vendor DEMO-POS: balance 980001, its last entry's balance_after 980000",
    )


async def test_an_altered_entry_amount_breaks_the_chain_there(world: World) -> None:
    """Entry 2's amount -10,000 becomes -10,005: 990,000 - 10,005 = 979,995, not 980,000."""
    await world.sql(
        "UPDATE vendor_entries SET amount = -10005"
        " WHERE id = (SELECT id FROM vendor_entries ORDER BY id LIMIT 1 OFFSET 1)"
    )
    report = await check_ledger(world.core, decode_tokens=False)
    assert _broken(report) == ["vendor-ledgers"]
    assert report.check("vendor-ledgers").examples == (
        "vendor DEMO-POS entry 2: balance_after 980000, previous balance_after + amount = 979995",
    )


async def test_an_altered_token_is_reported(world: World) -> None:
    """Vend 2's token with its last digit changed no longer decodes (CRC) with meter 10's key."""
    token = str(
        await world.scalar("SELECT token FROM vend_tokens WHERE vend_id = :v", v=world.sale2)
    )
    altered = token[:-1] + str((int(token[-1]) + 1) % 10)
    await world.sql(
        "UPDATE vend_tokens SET token = :token WHERE vend_id = :v", token=altered, v=world.sale2
    )
    report = await check_ledger(world.core)
    assert _broken(report) == ["tokens-load"]
    check = report.check("tokens-load")
    assert (check.checked, check.violations) == (11, 1)
    assert check.examples == (
        f"vend {world.sale2} token 1 (credit, meter {M10}):"
        " does not decode with the meter's key (CRC)",
    )


async def test_altered_tenths_are_reported(world: World) -> None:
    """Vend 2's stored tenths + 1: the token carries (and loads) one tenth less than stored."""
    tenths = await world.scalar("SELECT tenths FROM vend_tokens WHERE vend_id = :v", v=world.sale2)
    assert isinstance(tenths, int)
    await world.sql("UPDATE vend_tokens SET tenths = tenths + 1 WHERE vend_id = :v", v=world.sale2)
    report = await check_ledger(world.core)
    assert _broken(report) == ["tokens-load"]
    assert report.check("tokens-load").examples == (
        f"vend {world.sale2} token 1 (credit, meter {M10}):"
        f" carries {tenths} tenths, stored {tenths + 1}",
    )


async def test_the_key_history_is_what_decodes_the_key_change(world: World) -> None:
    """Without its key_changed event meter 11 starts on its new key (TI 2).

    The 4 key change tokens were encrypted under the old key (TI 1), so none decodes; the
    sale after them was made with the new key and still loads: 4 violations.
    """
    await world.sql("DELETE FROM meter_events WHERE kind = 'key_changed'")
    report = await check_ledger(world.core, examples=1)
    assert _broken(report) == ["tokens-load"]
    check = report.check("tokens-load")
    assert (check.checked, check.violations) == (11, 4)
    assert check.examples == (
        f"vend {world.key_change} token 1 (key_change, meter {M11}):"
        " does not decode with the meter's key (CRC)",
    )
