"""Tests of the sandbox payment provider (gateway.payments.sandbox).

Behaviour shared with the M-Pesa provider is pinned down by
tests/contract/test_payment_providers.py; these tests cover what only the sandbox has:
rates, rules, retries, its own callback format.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Callable

import pytest
from structlog.testing import capture_logs

from gateway.payments import (
    MalformedCallback,
    SandboxBehaviour,
    SandboxConfig,
    SandboxProvider,
    SandboxRule,
    parse_rules,
)
from tests.support.fake_daraja import CallbackReceiver, serve
from vending_core.service.payment_ports import (
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)

FAST = {"delay": 0.01, "retry_backoff": 0.01}
JSON = "application/json"


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (at most 5 seconds) until ``condition()`` holds; fail the test otherwise."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the condition did not hold within 5 seconds")


def seeded(seed: int) -> random.Random:
    """A seeded generator: the sandbox draws outcomes, not secrets, from it."""
    return random.Random(seed)  # noqa: S311 - simulated outcomes, not cryptography


def request(msisdn: str = "254712345678", amount: int = 150_000) -> PaymentRequest:
    """A payment request for ``amount`` minor units (default KES 1,500.00)."""
    return PaymentRequest(
        payment_id="pay-1",
        msisdn=msisdn,
        amount=amount,
        currency="KES",
        account_reference="04040404040",
    )


class Inbox:
    """A ``deliver`` callable that queues results and fails its first ``fail_first`` calls."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.results: asyncio.Queue[ProviderResult] = asyncio.Queue()

    async def __call__(self, result: ProviderResult) -> None:
        """Queue ``result``, or raise while the first ``fail_first`` calls last."""
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RuntimeError("apply_payment_result is down")
        await self.results.put(result)

    async def next(self) -> ProviderResult:
        """The next delivered result, waiting at most 2 seconds."""
        async with asyncio.timeout(2.0):
            return await self.results.get()


@pytest.fixture
def inbox() -> Inbox:
    """A deliver callable that works first time."""
    return Inbox()


async def sandbox(inbox: Inbox, **settings: object) -> SandboxProvider:
    """A sandbox with fast timings and ``settings`` overriding them."""
    config = SandboxConfig(**{**FAST, **settings})  # type: ignore[arg-type]
    return SandboxProvider(config, deliver=inbox, rng=seeded(1))


@pytest.fixture
async def paying(inbox: Inbox) -> AsyncIterator[SandboxProvider]:
    """A sandbox whose every payer pays."""
    async with await sandbox(inbox) as provider:
        yield provider


async def test_start_accepts_with_an_sbx_uuid_reference(paying: SandboxProvider) -> None:
    """`start` answers at once with "SBX-" and 32 hex digits, and the status is PENDING then."""
    accepted = await paying.start(request())
    assert re.fullmatch(r"SBX-[0-9a-f]{32}", accepted.provider_reference)
    status = await paying.query(accepted.provider_reference)
    assert status.outcome is PaymentOutcome.PENDING


async def test_paid_result_is_delivered_after_the_delay(
    paying: SandboxProvider, inbox: Inbox
) -> None:
    """A paying payer is reported PAID for the full amount with a receipt; query agrees."""
    accepted = await paying.start(request(amount=150_000))
    result = await inbox.next()
    assert result.provider == "sandbox"
    assert result.provider_reference == accepted.provider_reference
    assert (result.outcome, result.amount) == (PaymentOutcome.PAID, 150_000)
    assert result.receipt
    assert await paying.query(accepted.provider_reference) == result


@pytest.mark.parametrize(
    ("rates", "outcome"),
    [
        ({"failure_rate": 1.0}, PaymentOutcome.FAILED),
        ({"abandon_rate": 1.0}, PaymentOutcome.ABANDONED),
    ],
)
async def test_rate_one_always_gives_that_outcome(
    inbox: Inbox, rates: dict[str, float], outcome: PaymentOutcome
) -> None:
    """A rate of 1 makes every payment end that way, with no amount and no receipt."""
    async with await sandbox(inbox, **rates) as provider:
        for _ in range(3):
            await provider.start(request())
            result = await inbox.next()
            assert (result.outcome, result.amount, result.receipt) == (outcome, None, None)


async def test_silent_payment_is_never_reported(inbox: Inbox) -> None:
    """With silent_rate 1 nothing is delivered and the status stays PENDING."""
    async with await sandbox(inbox, silent_rate=1.0) as provider:
        accepted = await provider.start(request())
        await asyncio.sleep(0.1)  # ten times the delay
        assert inbox.results.empty()
        status = await provider.query(accepted.provider_reference)
        assert status.outcome is PaymentOutcome.PENDING


async def test_seeded_draws_follow_the_documented_bands(inbox: Inbox) -> None:
    """Each draw d of the seeded generator gives: d < .25 FAILED, < .5 ABANDONED, < .75 silent.

    The expected outcomes are worked out here from random.Random(7)'s own draws and the
    documented bands, so a given seed always replays the same story.
    """
    bands = [PaymentOutcome.FAILED, PaymentOutcome.ABANDONED, None, PaymentOutcome.PAID]
    draws = seeded(7)
    expected = [bands[int(draws.random() * 4)] for _ in range(12)]
    config = SandboxConfig(failure_rate=0.25, abandon_rate=0.25, silent_rate=0.25, delay=0.01)
    async with SandboxProvider(config, deliver=inbox, rng=seeded(7)) as provider:
        references = [(await provider.start(request())).provider_reference for _ in range(12)]
        reported = [await inbox.next() for outcome in expected if outcome is not None]
        outcomes = [(await provider.query(ref)).outcome for ref in references]
    assert [o if o is not PaymentOutcome.PENDING else None for o in outcomes] == expected
    assert [r.outcome for r in reported] == [o for o in expected if o is not None]


async def test_msisdn_rule_wins_over_amount_rule(inbox: Inbox) -> None:
    """A rule for the payer's number is applied before a rule for the amount."""
    rules = {
        "by_msisdn": {"254700000001": SandboxRule(behaviour=SandboxBehaviour.ABANDON)},
        "by_amount": {1300: SandboxRule(behaviour=SandboxBehaviour.FAIL)},
    }
    async with await sandbox(inbox, **rules) as provider:
        await provider.start(request("254700000001", 1300))
        assert (await inbox.next()).outcome is PaymentOutcome.ABANDONED
        await provider.start(request("254700000002", 1300))
        assert (await inbox.next()).outcome is PaymentOutcome.FAILED
        await provider.start(request("254700000002", 1400))
        assert (await inbox.next()).outcome is PaymentOutcome.PAID


async def test_refuse_and_unavailable_rules_raise_from_start(inbox: Inbox) -> None:
    """Rules can make start raise PaymentRefused or PaymentUnavailable, reporting nothing."""
    rules = {
        "by_amount": {
            100: SandboxRule(behaviour=SandboxBehaviour.REFUSE),
            200: SandboxRule(behaviour=SandboxBehaviour.UNAVAILABLE),
        }
    }
    async with await sandbox(inbox, **rules) as provider:
        with pytest.raises(PaymentRefused):
            await provider.start(request(amount=100))
        with pytest.raises(PaymentUnavailable):
            await provider.start(request(amount=200))
        await asyncio.sleep(0.05)
    assert inbox.calls == 0


@pytest.mark.parametrize("amount", [0, -100])
async def test_non_positive_amount_is_refused(paying: SandboxProvider, amount: int) -> None:
    """Nobody can be asked for nothing or less."""
    with pytest.raises(PaymentRefused):
        await paying.start(request(amount=amount))


async def test_rule_reports_a_different_amount_several_times(inbox: Inbox) -> None:
    """paid_amount and reports simulate an amount conflict redelivered by the provider."""
    rule = SandboxRule(behaviour=SandboxBehaviour.PAY, paid_amount=999, reports=3)
    async with await sandbox(inbox, by_amount={1000: rule}) as provider:
        await provider.start(request(amount=1000))
        results = [await inbox.next() for _ in range(3)]
    assert results[0].amount == 999
    assert results[0] == results[1] == results[2]


async def test_failing_deliver_is_retried_until_it_works() -> None:
    """A deliver raising twice is logged and retried; the third call delivers the result."""
    inbox = Inbox(fail_first=2)
    with capture_logs() as logs:
        async with await sandbox(inbox) as provider:
            await provider.start(request())
            result = await inbox.next()
    assert result.outcome is PaymentOutcome.PAID
    assert inbox.calls == 3
    assert [e["event"] for e in logs].count("sandbox_report_failed") == 2


async def test_deliver_that_never_works_is_given_up_quietly() -> None:
    """After delivery_attempts failures the sandbox logs and stops; nothing is raised."""
    inbox = Inbox(fail_first=100)
    with capture_logs() as logs:
        async with await sandbox(inbox, delivery_attempts=3) as provider:
            await provider.start(request())
            await eventually(lambda: "sandbox_report_gave_up" in [e["event"] for e in logs])
    assert inbox.calls == 3


async def test_http_callback_is_posted_and_retried() -> None:
    """With callback_url the result is POSTed as JSON; a 500 answer is retried."""
    receiver = CallbackReceiver(fail_first=1)
    async with serve(receiver.app) as url:
        config = SandboxConfig(callback_url=f"{url}/callback", delay=0.01, retry_backoff=0.01)
        async with SandboxProvider(config) as provider:
            accepted = await provider.start(request())
            body, content_type = await receiver.next_body()
            result = provider.parse_callback(body, content_type)
            assert result == await provider.query(accepted.provider_reference)
    assert receiver.attempts == 2
    assert result.outcome is PaymentOutcome.PAID


async def test_unreachable_callback_url_is_given_up_quietly(
    unused_tcp_port: int,
) -> None:
    """Connection refused on every try is logged, not raised; aclose leaves nothing behind."""
    config = SandboxConfig(
        callback_url=f"http://127.0.0.1:{unused_tcp_port}/cb",
        delay=0.0,
        retry_backoff=0.01,
        delivery_attempts=2,
    )
    with capture_logs() as logs:
        async with SandboxProvider(config) as provider:
            await provider.start(request())
            await eventually(lambda: "sandbox_report_gave_up" in [e["event"] for e in logs])
    assert [e["event"] for e in logs].count("sandbox_report_failed") == 2


async def test_aclose_cancels_pending_reports(inbox: Inbox) -> None:
    """Reports still waiting are cancelled by aclose; start afterwards is unavailable."""
    provider = await sandbox(inbox, delay=60.0)
    await provider.start(request())
    await provider.aclose()
    with pytest.raises(PaymentUnavailable):
        await provider.start(request())
    assert inbox.calls == 0


async def test_query_of_unknown_reference_is_unavailable(paying: SandboxProvider) -> None:
    """A reference the sandbox never issued cannot be answered."""
    with pytest.raises(PaymentUnavailable) as caught:
        await paying.query("SBX-" + "0" * 32)
    assert caught.value.code == "payment-unknown-reference"


async def test_only_the_newest_records_are_kept(inbox: Inbox) -> None:
    """With max_records 2 the first of three references is forgotten."""
    async with await sandbox(inbox, max_records=2, delay=60.0) as provider:
        first, second, third = [(await provider.start(request())).provider_reference for _ in "abc"]
        with pytest.raises(PaymentUnavailable):
            await provider.query(first)
        for reference in (second, third):
            assert (await provider.query(reference)).outcome is PaymentOutcome.PENDING


def test_parse_rules_reads_msisdn_and_amount_rules() -> None:
    """The text form gives MSISDN rules, amount rules (minor units) and per-rule delays."""
    by_msisdn, by_amount = parse_rules(" 254700000001=fail, amount:1300=abandon@2.5 ,")
    assert by_msisdn == {"254700000001": SandboxRule(behaviour=SandboxBehaviour.FAIL)}
    assert by_amount == {1300: SandboxRule(behaviour=SandboxBehaviour.ABANDON, delay=2.5)}


@pytest.mark.parametrize(
    "spec", ["254700000001", "2547x=fail", "amount:1.5=pay", "254700000001=win", "1=pay@-1"]
)
def test_parse_rules_refuses_bad_entries(spec: str) -> None:
    """A missing '=', bad key, fractional amount, unknown behaviour or negative delay fails.

    The error names the entry.
    """
    with pytest.raises(ValueError, match="bad sandbox rule"):
        parse_rules(spec)


@pytest.mark.parametrize(
    "settings",
    [{"failure_rate": 0.6, "abandon_rate": 0.5}, {"silent_rate": -0.1}, {"delivery_attempts": 0}],
)
def test_config_refuses_impossible_settings(settings: dict[str, float]) -> None:
    """Rates are probabilities summing to at most 1; at least one delivery attempt."""
    with pytest.raises(ValueError, match="sandbox"):
        SandboxConfig(**settings)  # type: ignore[arg-type]


def test_provider_needs_a_way_to_report() -> None:
    """Without deliver and without callback_url results could go nowhere."""
    with pytest.raises(ValueError, match="deliver or a callback_url"):
        SandboxProvider(SandboxConfig())


GOOD = {
    "reference": "SBX-" + "a" * 32,
    "payment_id": "pay-1",
    "outcome": "paid",
    "amount": 1000,
    "currency": "KES",
    "receipt": "SBR1",
    "reason": "paid (sandbox)",
}


async def test_parse_callback_accepts_a_well_formed_body(paying: SandboxProvider) -> None:
    """Exactly the sandbox's keys with the right types parse to the result they describe."""
    result = paying.parse_callback(json.dumps(GOOD).encode(), "application/json; charset=utf-8")
    assert (result.outcome, result.amount, result.receipt) == (PaymentOutcome.PAID, 1000, "SBR1")
    assert result.raw == GOOD


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(GOOD).encode(), "text/plain"),
        (b"not json", JSON),
        (b"\xff\xfe{}", JSON),
        (b"[1, 2]", JSON),
        (b'{"amount": NaN}', JSON),
        (json.dumps({k: v for k, v in GOOD.items() if k != "reason"}).encode(), JSON),
        (json.dumps({**GOOD, "extra": 1}).encode(), JSON),
        (json.dumps({**GOOD, "amount": "1000"}).encode(), JSON),
        (json.dumps({**GOOD, "amount": True}).encode(), JSON),
        (json.dumps({**GOOD, "outcome": "pending"}).encode(), JSON),
        (json.dumps({**GOOD, "outcome": "stolen"}).encode(), JSON),
        (json.dumps({**GOOD, "receipt": None}).encode(), JSON),
        (json.dumps({**GOOD, "outcome": "failed"}).encode(), JSON),
        (json.dumps({**GOOD, "reference": "ws_CO_1"}).encode(), JSON),
        (b"[" * 100_000, JSON),
        (b"[" * 10_000 + b"]" * 10_000, JSON),
    ],
)
async def test_parse_callback_refuses_anything_else(
    paying: SandboxProvider, body: bytes, content_type: str
) -> None:
    """Every body but exactly the sandbox's own is MalformedCallback.

    Wrong media type, non-JSON, non-UTF-8, not an object, NaN, missing or extra keys, wrong
    types, a non-final or unknown outcome, a paid result without receipt, a failed one with an
    amount, a foreign reference, a huge or deeply nested body.
    """
    with pytest.raises(MalformedCallback):
        paying.parse_callback(body, content_type)
