"""The ledger invariants checker behind ``vendgate check-ledger`` (issue 8).

:func:`check_ledger` proves from the database, read-only, that:

``payment-vends``
    every successful payment has exactly one vend: a ``vended`` payment has exactly one
    vend made for it (client ``payment``, request id = payment id) and records that vend's
    id; a ``paid`` payment has at most one (none: it waits in the paid-not-vended retry
    queue, counted in the note, not a breach); no vend is made for a payment that is not
    paid or vended, or that does not exist.
``vend-tokens``
    every vend has its tokens, numbered 1..n (every vend kind issues at least one token).
``unique-tids``
    no two tokens of a meter share a TID (the meter of the tokens' *vends*), and every token
    row is filed under its vend's meter, which is what the unique index
    ``uq_vend_tokens_meter_id_tid`` relies on.
``vendor-ledgers``
    vendor floats equal their ledger: each entry's ``balance_after`` is the previous entry's
    plus its amount, and the vendor's balance is its last entry's ``balance_after``. The
    balance before the first entry (the opening float, which the demo data and vendor
    set-up write without an entry) is not checked; a vendor without entries holds trivially.
``tokens-load``
    every token decodes with its meter's decoder key (CRC right), is the STS class/subclass
    its kind says, carries the stored TID and the stored tenths (``tenths`` is stored as the
    encoded value: STS rounds transfer amounts up, see ``sts.amount``, so the comparison is
    exact), and is accepted, in issue order, by a fresh reference meter (``sts.Meter``) per
    meter, credit tokens loading exactly their tenths.

The first four are aggregates the database computes (``uow.ledger_audit``,
:mod:`vending_core.service.ledger_ports`). The token check streams the vends in pages by id
(keyset pagination, one read-only unit of work per page) and keeps one reference meter per
meter seen. A meter's tokens are entered in issue order (vend id, then sequence), which is
TID order between key changes; key change tokens re-key the reference meter as they re-key a
real one. The reference meter starts with the key data the meter had before its first key
change, read back from its ``key_changed`` events (DKGA: that supply group's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

import sts
from vending_core.domain.errors import KeyDataError
from vending_core.domain.model import Meter
from vending_core.domain.records import IssuedToken, MeterEvent, TokenKind
from vending_core.service.core import Core
from vending_core.service.ledger_ports import (
    Findings,
    LedgerAuditRepository,
    LedgerBreach,
    MisfiledToken,
    PaymentVendBreach,
    TidBreach,
    TokenSetBreach,
    VendTokens,
)
from vending_core.service.payments import PAYMENT_CLIENT_ID
from vending_core.service.ports import UnitOfWork

__all__ = ["CheckResult", "LedgerReport", "Progress", "check_ledger"]

#: Called with the number of vends whose tokens were checked so far, after each page.
Progress = Callable[[int], None]

_KINDS: Final[dict[TokenKind, tuple[type[Any], ...]]] = {
    TokenKind.CREDIT: (sts.TransferCredit,),
    TokenKind.FREE_BASIC: (sts.TransferCredit,),
    TokenKind.KEY_CHANGE: (sts.KeyChange1, sts.KeyChange2, sts.KeyChange3, sts.KeyChange4),
    TokenKind.CLEAR_CREDIT: (sts.ClearCredit,),
    TokenKind.CLEAR_TAMPER: (sts.ClearTamperCondition,),
    TokenKind.SET_POWER_LIMIT: (sts.SetMaximumPowerLimit,),
    TokenKind.SET_PHASE_UNBALANCE_LIMIT: (sts.SetMaximumPhasePowerUnbalanceLimit,),
}
# What ``operations.change_key`` writes in a ``key_changed`` event's detail.
_KEY_CHANGED = re.compile(
    r"SGC (?P<sgc>\d+)->\d+, KRN (?P<krn>\d+)->\d+, TI (?P<ti>\d+)->\d+, "
    r"base date (?P<base_date>\d+)->\d+"
)
_NO_CREDIT_LIMIT = 10**15  # the reference meter never consumes: it must not overflow


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One invariant: how many things were checked, how many break it, the first few."""

    name: str
    title: str
    checked: int
    unit: str  #: what ``checked`` counts (payments, vends, tokens, vendors)
    violations: int
    examples: tuple[str, ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the invariant holds."""
        return self.violations == 0

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready values."""
        return {
            "name": self.name,
            "title": self.title,
            "ok": self.ok,
            "checked": self.checked,
            "unit": self.unit,
            "violations": self.violations,
            "examples": list(self.examples),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """Every invariant's result; ``ok`` when none is violated."""

    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """Whether every invariant holds."""
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> CheckResult:
        """The result of the invariant called ``name`` (KeyError if it was not run)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready values."""
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}


async def check_ledger(
    core: Core,
    *,
    decode_tokens: bool = True,
    progress: Progress | None = None,
    examples: int = 5,
    batch: int = 500,
) -> LedgerReport:
    """Check every ledger invariant (module docstring); ``examples`` per invariant at most.

    ``decode_tokens=False`` leaves out the token check (the only one that reads every
    token). Nothing is written. Raises what the database raises (unreachable, no schema).
    """
    async with core.read_uow() as uow:
        checks = [
            await _payment_vends(uow.ledger_audit, examples),
            _vend_tokens(await uow.ledger_audit.token_sets(limit=examples)),
            await _unique_tids(uow.ledger_audit, examples),
            _vendor_ledgers(await uow.ledger_audit.vendor_ledgers(limit=examples)),
        ]
    if decode_tokens:
        checks.append(await _TokenCheck(core=core, examples=examples, progress=progress).run(batch))
    return LedgerReport(tuple(checks))


def _result(
    name: str, title: str, unit: str, findings: Findings[Any], examples: list[str]
) -> CheckResult:
    return CheckResult(
        name=name,
        title=title,
        checked=findings.checked,
        unit=unit,
        violations=findings.violations,
        examples=tuple(examples),
    )


async def _payment_vends(audit: LedgerAuditRepository, limit: int) -> CheckResult:
    findings = await audit.payment_vends(PAYMENT_CLIENT_ID, limit=limit)
    awaiting = await audit.paid_awaiting_vend(PAYMENT_CLIENT_ID)
    result = _result(
        "payment-vends",
        "every successful payment has exactly one vend",
        "payments",
        findings,
        [_payment_example(b) for b in findings.examples],
    )
    if awaiting:
        note = f"{awaiting} paid payment(s) await their vend (the retry queue)"
        result = replace(result, note=note)
    return result


def _payment_example(breach: PaymentVendBreach) -> str:
    first = "" if breach.first_vend_id is None else f" (first: vend {breach.first_vend_id})"
    recorded = "none" if breach.recorded_vend_id is None else str(breach.recorded_vend_id)
    return (
        f"payment {breach.payment_id} ({breach.status or 'no such payment'}):"
        f" {breach.vends} vend(s){first}, recorded vend {recorded}"
    )


def _vend_tokens(findings: Findings[TokenSetBreach]) -> CheckResult:
    return _result(
        "vend-tokens",
        "every vend has its tokens",
        "vends",
        findings,
        [_token_set_example(b) for b in findings.examples],
    )


def _token_set_example(breach: TokenSetBreach) -> str:
    text = f"vend {breach.vend_id} ({breach.kind}, meter {breach.meter_number}):"
    if not breach.tokens:
        return f"{text} no tokens"
    return (
        f"{text} {breach.tokens} token(s) numbered {breach.first_sequence}..{breach.last_sequence}"
    )


async def _unique_tids(audit: LedgerAuditRepository, limit: int) -> CheckResult:
    duplicates = await audit.duplicate_tids(limit=limit)
    misfiled = await audit.misfiled_tokens(limit=limit)
    examples = [_tid_example(b) for b in duplicates.examples]
    examples += [_misfiled_example(m) for m in misfiled.examples]
    total: Findings[TidBreach] = Findings(
        duplicates.checked, duplicates.violations + misfiled.violations
    )
    return _result(
        "unique-tids", "no two tokens of a meter share a TID", "tokens", total, examples[:limit]
    )


def _tid_example(breach: TidBreach) -> str:
    return (
        f"meter {breach.meter_number}: TID {breach.tid} on {breach.tokens} tokens"
        f" (vends {breach.first_vend_id}..{breach.last_vend_id})"
    )


def _misfiled_example(token: MisfiledToken) -> str:
    return (
        f"vend {token.vend_id} token {token.sequence}: filed under meter id"
        f" {token.token_meter_id}, its vend's meter id is {token.vend_meter_id}"
    )


def _vendor_ledgers(findings: Findings[LedgerBreach]) -> CheckResult:
    return _result(
        "vendor-ledgers",
        "vendor balances equal their ledger",
        "vendors",
        findings,
        [_ledger_example(b) for b in findings.examples],
    )


def _ledger_example(breach: LedgerBreach) -> str:
    if breach.entry is None:
        return (
            f"vendor {breach.vendor_code}: balance {breach.found},"
            f" its last entry's balance_after {breach.expected}"
        )
    return (
        f"vendor {breach.vendor_code} entry {breach.entry}: balance_after {breach.found},"
        f" previous balance_after + amount = {breach.expected}"
    )


@dataclass(slots=True)
class _Reference:
    """A meter's reference meter, or why there is none (every token of it then fails)."""

    meter: sts.Meter | None
    error: str = ""


@dataclass(slots=True, kw_only=True)
class _TokenCheck:
    """The streaming token check: one reference meter per meter, tokens in issue order."""

    core: Core
    examples: int
    progress: Progress | None
    references: dict[int, _Reference] = field(default_factory=dict)
    checked: int = 0
    violations: int = 0
    found: list[str] = field(default_factory=list)

    async def run(self, batch: int) -> CheckResult:
        after, vends = 0, 0
        while True:
            async with self.core.read_uow() as uow:
                page = await uow.ledger_audit.vend_page(after=after, limit=batch)
                for vend in page:
                    await self._vend(uow, vend)
            if not page:
                break
            after, vends = page[-1].vend_id, vends + len(page)
            if self.progress is not None:
                self.progress(vends)
        return CheckResult(
            name="tokens-load",
            title="every token decodes and loads on the reference meter",
            checked=self.checked,
            unit="tokens",
            violations=self.violations,
            examples=tuple(self.found),
        )

    async def _vend(self, uow: UnitOfWork, vend: VendTokens) -> None:
        reference = self.references.get(vend.meter_id)
        if reference is None:
            reference = await self._reference(uow, vend.meter_id)
            self.references[vend.meter_id] = reference
        for token in vend.tokens:
            self.checked += 1
            problems = _enter(reference, token)
            if problems:
                self.violations += 1
                if len(self.found) < self.examples:
                    self.found.append(
                        f"vend {vend.vend_id} token {token.sequence} ({token.kind.value},"
                        f" meter {vend.meter_number}): {'; '.join(problems)}"
                    )

    async def _reference(self, uow: UnitOfWork, meter_id: int) -> _Reference:
        meter = await uow.meters.get(meter_id)
        if meter is None:
            return _Reference(None, f"meter id {meter_id} does not exist")
        try:
            first = await _first_key_data(uow, meter, await uow.meters.events(meter_id))
            key = await self.core.decoder_key(first)
            return _Reference(
                sts.Meter(
                    key,
                    sgc=first.sgc,
                    ti=first.ti,
                    krn=first.krn,
                    kt=first.kt,
                    ken=first.ken,
                    base_date=first.base_date,
                    pan=sts.Pan.parse(first.pan),
                    utility=first.utility,
                    max_credit_tenths=_NO_CREDIT_LIMIT,
                )
            )
        except (KeyDataError, sts.StsError) as exc:
            return _Reference(None, f"no reference meter: {exc}")


async def _first_key_data(uow: UnitOfWork, meter: Meter, events: list[MeterEvent]) -> Meter:
    """The meter as it was before its first key change (itself if it never changed)."""
    changes = [event for event in events if event.kind == "key_changed"]
    if not changes:
        return meter
    first = replace(meter)
    for event in reversed(changes):
        match = _KEY_CHANGED.search(event.detail)
        if match is None:
            raise KeyDataError(f"unreadable key change history: {event.detail!r}")
        first.sgc, first.krn = match["sgc"], int(match["krn"])
        first.ti, first.base_date = int(match["ti"]), int(match["base_date"])
    group = await uow.supply_groups.get(first.sgc)
    if group is not None:
        first.dkga = group.dkga
    return first


def _enter(reference: _Reference, token: IssuedToken) -> list[str]:
    """What is wrong with ``token`` on the meter (entering it there); empty if nothing."""
    meter = reference.meter
    if meter is None:
        return [reference.error]
    before = meter.credit_tenths()
    entry = meter.enter(token.token)
    decoded = entry.token
    if decoded is None:
        return [f"does not decode with the meter's key ({entry.result.name})"]
    problems = []
    if not isinstance(decoded, _KINDS.get(token.kind, ())):
        problems.append(f"decodes as {type(decoded).__name__}")
    tid = getattr(decoded, "tid", None)
    if tid != token.tid:
        problems.append(f"carries TID {tid}, stored {token.tid}")
    value = decoded.value_tenths if isinstance(decoded, sts.TransferCredit) else None
    if value != token.tenths:
        problems.append(f"carries {value} tenths, stored {token.tenths}")
    if not entry.accepted:
        problems.append(f"refused by the reference meter ({entry.result.name})")
    elif value is not None and meter.credit_tenths() - before != value:
        problems.append(f"loaded {meter.credit_tenths() - before} tenths, not {value}")
    return problems
