"""One contract for every gateway payment provider (the PaymentProvider port).

Run against the sandbox reporting in process (``deliver``), the sandbox POSTing its own
callbacks over HTTP, and the M-Pesa Daraja provider against the local fake Daraja
(tests/support/fake_daraja.py), whose callbacks a small aiohttp receiver captures. Each
harness arranges outcomes by payer number: 254700000011 pays, ...12 fails (insufficient
funds), ...13 cancels.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from gateway.payments import (
    DarajaConfig,
    DarajaProvider,
    SandboxBehaviour,
    SandboxConfig,
    SandboxProvider,
    SandboxRule,
)
from tests.support.fake_daraja import CallbackReceiver, FakeDaraja, Script, serve
from vending_core.service.payment_ports import (
    PaymentError,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    ProviderResult,
)

PAYS, FAILS, CANCELS = "254700000011", "254700000012", "254700000013"
SANDBOX_REFUSES, SANDBOX_DOWN = "254700000014", "254700000015"
NOT_SAFARICOM = "254812345678"  # a number Daraja rejects as PhoneNumber
PHONES = {PaymentOutcome.PAID: PAYS, PaymentOutcome.FAILED: FAILS}
PHONES[PaymentOutcome.ABANDONED] = CANCELS
DELAY = 0.4  # seconds before the payer "answers": long enough to see PENDING first


def purchase(msisdn: str, amount: int = 150_000) -> PaymentRequest:
    """KES 1,500.00 (150,000 cents) for meter 04040404040 from ``msisdn``."""
    return PaymentRequest(
        payment_id="pay-contract",
        msisdn=msisdn,
        amount=amount,
        currency="KES",
        account_reference="04040404040",
    )


class Harness:
    """A provider under test and the means to arrange and observe its outcomes."""

    provider: SandboxProvider | DarajaProvider

    def __init__(self, name: str) -> None:
        self.name = name
        self.inbox: asyncio.Queue[ProviderResult] = asyncio.Queue()
        self.receiver: CallbackReceiver | None = None
        self.fake: FakeDaraja | None = None

    async def deliver(self, result: ProviderResult) -> None:
        """The in-process report path."""
        await self.inbox.put(result)

    async def next_report(self) -> tuple[ProviderResult, bytes, str]:
        """The next report as a result, with the callback body it came in (or would have)."""
        async with asyncio.timeout(5.0):
            if self.receiver is not None:
                body, content_type = await self.receiver.next_body()
                return self.provider.parse_callback(body, content_type), body, content_type
            result = await self.inbox.get()
        assert isinstance(self.provider, SandboxProvider)
        return result, self.provider.encode_callback(result), "application/json"

    def refused_request(self) -> PaymentRequest:
        """A request the provider refuses at once."""
        return purchase(NOT_SAFARICOM if self.fake is not None else SANDBOX_REFUSES)

    def unavailable_request(self) -> PaymentRequest:
        """A request the provider cannot complete (the fake answers 500)."""
        if self.fake is not None:
            self.fake.fail_status = 500
            return purchase(PAYS)
        return purchase(SANDBOX_DOWN)


def sandbox_config(callback_url: str | None = None) -> SandboxConfig:
    """Rules giving each contract phone its outcome."""
    rules = {
        PAYS: SandboxBehaviour.PAY,
        FAILS: SandboxBehaviour.FAIL,
        CANCELS: SandboxBehaviour.ABANDON,
        SANDBOX_REFUSES: SandboxBehaviour.REFUSE,
        SANDBOX_DOWN: SandboxBehaviour.UNAVAILABLE,
    }
    return SandboxConfig(
        delay=DELAY,
        retry_backoff=0.01,
        callback_url=callback_url,
        by_msisdn={phone: SandboxRule(behaviour=b) for phone, b in rules.items()},
    )


async def _daraja(stack: AsyncExitStack) -> Harness:
    fake = FakeDaraja(callback_delay=DELAY)
    fake.scripts_by_phone = {
        PAYS: Script.PAID,
        FAILS: Script.INSUFFICIENT,
        CANCELS: Script.CANCELLED,
    }
    base_url = await fake.start()
    stack.push_async_callback(fake.stop)
    receiver = CallbackReceiver()
    receiver_url = await stack.enter_async_context(serve(receiver.app))
    config = DarajaConfig(
        base_url=base_url,
        consumer_key=fake.consumer_key,
        consumer_secret=fake.consumer_secret,
        shortcode=fake.shortcode,
        passkey=fake.passkey,
        callback_url=f"{receiver_url}/callback",
    )
    harness = Harness("mpesa")
    harness.provider = await stack.enter_async_context(DarajaProvider(config))
    harness.fake, harness.receiver = fake, receiver
    return harness


@pytest.fixture(params=["sandbox-deliver", "sandbox-http", "mpesa-fake"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """Each provider in turn, wired to report to the test."""
    async with AsyncExitStack() as stack:
        if request.param == "mpesa-fake":
            yield await _daraja(stack)
            return
        receiver = None
        callback_url = None
        if request.param == "sandbox-http":
            receiver = CallbackReceiver()
            callback_url = f"{await stack.enter_async_context(serve(receiver.app))}/callback"
        harness = Harness("sandbox")
        harness.provider = SandboxProvider(sandbox_config(callback_url), deliver=harness.deliver)
        harness.receiver = receiver
        await stack.enter_async_context(harness.provider)
        yield harness


async def test_name_is_the_providers_url_name(harness: Harness) -> None:
    """The name used in /payments/{provider}/callback and in records."""
    assert harness.provider.name == harness.name


async def test_start_returns_a_reference_that_is_pending_at_first(harness: Harness) -> None:
    """`start` does not wait for the payer: the status right after it is PENDING."""
    accepted = await harness.provider.start(purchase(PAYS))
    assert accepted.provider_reference
    status = await harness.provider.query(accepted.provider_reference)
    assert status.provider_reference == accepted.provider_reference
    assert status.outcome is PaymentOutcome.PENDING


@pytest.mark.parametrize(
    "outcome", [PaymentOutcome.PAID, PaymentOutcome.FAILED, PaymentOutcome.ABANDONED]
)
async def test_final_result_arrives_and_query_agrees(
    harness: Harness, outcome: PaymentOutcome
) -> None:
    """The reported result names the request and its outcome, and a later query agrees.

    A payment reports the requested 150,000 minor units and a receipt; a failure or a
    cancellation reports neither.
    """
    accepted = await harness.provider.start(purchase(PHONES[outcome]))
    result, _, _ = await harness.next_report()
    assert (result.provider, result.provider_reference, result.outcome) == (
        harness.name,
        accepted.provider_reference,
        outcome,
    )
    if outcome is PaymentOutcome.PAID:
        assert result.amount == 150_000
        assert result.receipt
    else:
        assert (result.amount, result.receipt) == (None, None)
    status = await harness.provider.query(accepted.provider_reference)
    assert (status.provider_reference, status.outcome) == (accepted.provider_reference, outcome)


async def test_own_callback_body_round_trips(harness: Harness) -> None:
    """Parsing the provider's callback body (again, as on a redelivery) gives the same result."""
    await harness.provider.start(purchase(PAYS))
    result, body, content_type = await harness.next_report()
    assert harness.provider.parse_callback(body, content_type) == result


async def test_immediate_refusal_is_payment_refused(harness: Harness) -> None:
    """A request the provider rejects outright raises PaymentRefused and reports nothing."""
    with pytest.raises(PaymentRefused):
        await harness.provider.start(harness.refused_request())


async def test_unreachable_provider_is_payment_unavailable(harness: Harness) -> None:
    """A provider that cannot take the request raises PaymentUnavailable."""
    with pytest.raises(PaymentUnavailable):
        await harness.provider.start(harness.unavailable_request())


async def test_query_of_unknown_reference_is_unavailable(harness: Harness) -> None:
    """A reference the provider never issued has no status: PaymentUnavailable."""
    with pytest.raises(PaymentUnavailable):
        await harness.provider.query("ws_CO_000000000000000000")


@pytest.mark.parametrize("body", [b"{}", b"not json", b'{"Body": null}'])
async def test_foreign_callback_is_a_payment_error(harness: Harness, body: bytes) -> None:
    """A body that is not the provider's callback raises a PaymentError, never anything else."""
    with pytest.raises(PaymentError):
        harness.provider.parse_callback(body, "application/json")
