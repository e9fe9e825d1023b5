"""Tests of the M-Pesa Daraja provider's requests (gateway.payments.mpesa) against the fake.

Wire facts come from vending.md (appendix "M-Pesa Daraja STK push") and Safaricom's published
sample request; callback parsing is in test_mpesa_callback.py, the shared behaviour in
tests/contract/test_payment_providers.py.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
import pytest
from structlog.testing import capture_logs

from config.gateway import MpesaSettings
from gateway.payments import DarajaConfig, DarajaProvider, TransactionType
from gateway.payments.mpesa import daraja_from_settings, result_outcome
from tests.support.fake_daraja import CallbackReceiver, FakeDaraja, Script, serve
from vending_core.service.payment_ports import (
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
)

# Safaricom's sandbox shortcode and passkey, published with its sample STK push request.
SHORTCODE = "174379"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
PHONE = "254708374149"


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """Seconds since the test started, as the test says."""
        return self.now


def purchase(amount: int = 150_000, reference: str = "04040404040") -> PaymentRequest:
    """KES 1,500.00 by default: 150,000 cents."""
    return PaymentRequest(
        payment_id="pay-1",
        msisdn=PHONE,
        amount=amount,
        currency="KES",
        account_reference=reference,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDaraja]:
    """A fake Daraja that answers but sends no callback during the test (60 s delay)."""
    daraja = FakeDaraja(shortcode=SHORTCODE, passkey=PASSKEY, callback_delay=60.0)
    await daraja.start()
    yield daraja
    await daraja.stop()


@pytest.fixture
def ticker() -> Ticker:
    """The provider's monotonic clock."""
    return Ticker()


@pytest.fixture
def config(fake: FakeDaraja) -> DarajaConfig:
    """A pay bill configuration for the fake."""
    return DarajaConfig(
        base_url=fake.url,
        consumer_key=fake.consumer_key,
        consumer_secret=fake.consumer_secret,
        shortcode=SHORTCODE,
        passkey=PASSKEY,
        callback_url="http://127.0.0.1:9/unused",
    )


@pytest.fixture
async def mpesa(config: DarajaConfig, ticker: Ticker) -> AsyncIterator[DarajaProvider]:
    """The provider under test, with a hand-driven monotonic clock."""
    async with DarajaProvider(config, monotonic=ticker) as provider:
        yield provider


async def test_provider_from_gateway_settings_pushes_with_them(fake: FakeDaraja) -> None:
    """VENDGATE_MPESA_* settings give a pay bill provider on the app's HTTP client."""
    settings = MpesaSettings(
        base_url=fake.url,
        consumer_key=fake.consumer_key,
        consumer_secret=fake.consumer_secret,
        shortcode=SHORTCODE,
        passkey=PASSKEY,
        callback_url="https://vend.example/payments/mpesa/callback",
    )
    async with aiohttp.ClientSession() as http:
        provider = daraja_from_settings(settings, http)
        await provider.start(purchase())
        await provider.aclose()  # the app's client is not the provider's to close
        assert not http.closed
    body = fake.pushes[0].body
    assert (body["CallBackURL"], body["TransactionType"]) == (
        "https://vend.example/payments/mpesa/callback",
        "CustomerPayBillOnline",
    )


async def test_password_matches_safaricoms_published_sample(
    fake: FakeDaraja, config: DarajaConfig
) -> None:
    """Timestamp 20160216165627 (EAT) gives Safaricom's sample Password.

    The sample decodes to "174379" + passkey + "20160216165627": base64(shortcode + passkey +
    timestamp). 13:56:27 UTC is 16:56:27 in Nairobi (UTC+3).
    """
    fake.check_clock = False
    clock = lambda: datetime(2016, 2, 16, 13, 56, 27, tzinfo=UTC)  # noqa: E731
    async with DarajaProvider(config, clock=clock) as provider:
        await provider.start(purchase())
    body = fake.pushes[0].body
    assert body["Timestamp"] == "20160216165627"
    assert body["Password"] == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGEx"
        "ZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    )
    assert (
        base64.b64decode(str(body["Password"])).decode() == SHORTCODE + PASSKEY + "20160216165627"
    )


async def test_timestamp_is_nairobi_local_time_across_midnight(
    fake: FakeDaraja, config: DarajaConfig
) -> None:
    """21:30 UTC on 25 November is 00:30 on 26 November in Nairobi: 20261126003000."""
    fake.check_clock = False
    clock = lambda: datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # noqa: E731
    async with DarajaProvider(config, clock=clock) as provider:
        await provider.start(purchase())
    assert fake.pushes[0].body["Timestamp"] == "20261126003000"


async def test_push_fields_follow_the_wire_format(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """KES 1,500.00 is Amount 1500, the payer PartyA and PhoneNumber, the meter the reference.

    TransactionDesc is cut to Daraja's 13 characters ("Prepaid electricity" -> "Prepaid elect").
    """
    accepted = await mpesa.start(purchase(150_000))
    body = fake.pushes[0].body
    assert accepted.provider_reference == fake.pushes[0].checkout_id
    assert {k: body[k] for k in ("Amount", "PartyA", "PhoneNumber", "PartyB")} == {
        "Amount": 1500,
        "PartyA": PHONE,
        "PhoneNumber": PHONE,
        "PartyB": SHORTCODE,
    }
    assert body["TransactionType"] == "CustomerPayBillOnline"
    assert (body["AccountReference"], body["TransactionDesc"]) == ("04040404040", "Prepaid elect")


async def test_buy_goods_pays_the_till(fake: FakeDaraja, config: DarajaConfig) -> None:
    """For a till, TransactionType is CustomerBuyGoodsOnline and PartyB the till number."""
    till = replace(config, transaction_type=TransactionType.BUY_GOODS, party_b="600000")
    async with DarajaProvider(till) as provider:
        await provider.start(purchase())
    body = fake.pushes[0].body
    assert (body["TransactionType"], body["PartyB"]) == ("CustomerBuyGoodsOnline", "600000")


@pytest.mark.parametrize(("amount", "currency"), [(150_050, "KES"), (0, "KES"), (150_000, "UGX")])
async def test_amounts_it_cannot_charge_exactly_are_refused(
    fake: FakeDaraja, mpesa: DarajaProvider, amount: int, currency: str
) -> None:
    """Amounts M-Pesa cannot charge exactly are refused before any push.

    KES 1,500.50 is not whole shillings, zero is nothing, UGX is not this shortcode's currency.
    """
    with pytest.raises(PaymentRefused):
        await mpesa.start(replace(purchase(amount), currency=currency))
    assert fake.pushes == []


async def test_account_reference_of_twelve_characters_is_the_limit(
    fake: FakeDaraja, mpesa: DarajaProvider
) -> None:
    """A 12-character meter number is sent whole; a 13-character one is refused, not cut."""
    await mpesa.start(purchase(reference="123456789012"))
    with pytest.raises(PaymentRefused) as caught:
        await mpesa.start(purchase(reference="1234567890123"))
    assert caught.value.code == "mpesa-account-reference"
    assert [p.body["AccountReference"] for p in fake.pushes] == ["123456789012"]


async def test_twenty_concurrent_starts_share_one_token(
    fake: FakeDaraja, mpesa: DarajaProvider
) -> None:
    """One OAuth call serves 20 concurrent pushes (one refresh in flight at a time)."""
    await asyncio.gather(*(mpesa.start(purchase()) for _ in range(20)))
    assert fake.oauth_calls == 1
    assert len(fake.pushes) == 20


async def test_token_is_refreshed_shortly_before_it_expires(
    fake: FakeDaraja, config: DarajaConfig, ticker: Ticker
) -> None:
    """expires_in 100 s: the margin is min(60, 100 / 2) = 50 s, so the token serves until 50 s."""
    fake.token_ttl = 100
    async with DarajaProvider(config, monotonic=ticker) as provider:
        await provider.start(purchase())
        ticker.now = 49.0
        await provider.start(purchase())
        assert fake.oauth_calls == 1
        ticker.now = 50.0
        await provider.start(purchase())
    assert fake.oauth_calls == 2


async def test_rejected_token_is_refreshed_once(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """A 401 drops the cached token; the push is retried with a new one and succeeds."""
    await mpesa.start(purchase())
    fake.revoke_tokens()
    await mpesa.start(purchase())
    assert fake.oauth_calls == 2
    assert len(fake.pushes) == 2


async def test_token_rejected_twice_is_unavailable(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """If a fresh token is refused too, the provider stops after one retry: unavailable."""
    fake.reject_tokens = True
    with pytest.raises(PaymentUnavailable) as caught:
        await mpesa.start(purchase())
    assert caught.value.code == "mpesa-auth-failed"
    assert fake.oauth_calls == 2


async def test_answer_without_response_code_is_unavailable(
    fake: FakeDaraja, mpesa: DarajaProvider
) -> None:
    """HTTP 200 with JSON that is not Daraja's answer says nothing clear: unavailable."""
    fake.push_answer = {"status": "ok"}
    with pytest.raises(PaymentUnavailable):
        await mpesa.start(purchase())


async def test_wrong_credentials_are_unavailable_without_the_secret(
    fake: FakeDaraja, config: DarajaConfig
) -> None:
    """Failed OAuth is PaymentUnavailable (mpesa-auth-failed); its message hides the secret."""
    wrong = replace(config, consumer_secret="not-the-secret")
    async with DarajaProvider(wrong) as provider:
        with pytest.raises(PaymentUnavailable) as caught:
            await provider.start(purchase())
    assert caught.value.code == "mpesa-auth-failed"
    assert "not-the-secret" not in str(caught.value)
    assert fake.pushes == []


async def test_non_zero_response_code_is_refused(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """ResponseCode other than "0" is a refusal carrying Daraja's description."""
    fake.push_answer = {"ResponseCode": "1", "ResponseDescription": "Rejected: limit reached"}
    with pytest.raises(PaymentRefused, match="limit reached"):
        await mpesa.start(purchase())


async def test_client_error_is_refused_with_its_message(mpesa: DarajaProvider) -> None:
    """HTTP 400 "Invalid PhoneNumber" (not a Safaricom number) is a refusal naming the field."""
    with pytest.raises(PaymentRefused, match="PhoneNumber"):
        await mpesa.start(replace(purchase(), msisdn="254812345678"))


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_is_unavailable(
    fake: FakeDaraja, mpesa: DarajaProvider, status: int
) -> None:
    """HTTP 5xx says nothing about the push: PaymentUnavailable."""
    await mpesa.start(purchase())  # the token is fetched before the failures start
    fake.fail_status = status
    with pytest.raises(PaymentUnavailable):
        await mpesa.start(purchase())


async def test_non_json_answer_is_unavailable(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """An HTML page with status 200 (a proxy's error page) is an unclear answer."""
    fake.push_answer = b"<html>gateway timeout</html>"
    with pytest.raises(PaymentUnavailable):
        await mpesa.start(purchase())


async def test_slow_answer_is_unavailable(fake: FakeDaraja, config: DarajaConfig) -> None:
    """An answer later than request_timeout (0.2 s here, the fake waits 1 s) is unavailable."""
    fake.response_delay = 1.0
    async with DarajaProvider(replace(config, request_timeout=0.2)) as provider:
        with pytest.raises(PaymentUnavailable) as caught:
            await provider.start(purchase())
    assert caught.value.code == "mpesa-unreachable"


async def test_refused_connection_is_unavailable(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """Nothing listening at the base URL: PaymentUnavailable."""
    await fake.stop()
    with pytest.raises(PaymentUnavailable) as caught:
        await mpesa.start(purchase())
    assert caught.value.code == "mpesa-unreachable"


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        (Script.PAID, PaymentOutcome.PAID),
        (Script.CANCELLED, PaymentOutcome.ABANDONED),
        (Script.TIMEOUT, PaymentOutcome.PENDING),
        (Script.INSUFFICIENT, PaymentOutcome.FAILED),
        (Script.WRONG_PIN, PaymentOutcome.FAILED),
    ],
)
async def test_query_maps_each_result_code(
    fake: FakeDaraja, mpesa: DarajaProvider, script: Script, outcome: PaymentOutcome
) -> None:
    """Query ResultCode 0 PAID, 1032 ABANDONED, 1037 PENDING (unknown), 1 and 2001 FAILED."""
    fake.script = script
    accepted = await mpesa.start(purchase())
    fake.decide(accepted.provider_reference)
    result = await mpesa.query(accepted.provider_reference)
    assert (result.provider_reference, result.outcome) == (accepted.provider_reference, outcome)
    assert "Password" not in result.raw


async def test_query_while_being_processed_is_pending(
    fake: FakeDaraja, mpesa: DarajaProvider
) -> None:
    """Daraja's 500 "The transaction is being processed" means the payer has not answered."""
    accepted = await mpesa.start(purchase())
    result = await mpesa.query(accepted.provider_reference)
    assert result.outcome is PaymentOutcome.PENDING
    assert fake.queries[0]["CheckoutRequestID"] == accepted.provider_reference


async def test_query_server_error_is_unavailable(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """Any other query error ("System is busy") is PaymentUnavailable, not an outcome."""
    accepted = await mpesa.start(purchase())
    fake.fail_status = 500
    with pytest.raises(PaymentUnavailable):
        await mpesa.query(accepted.provider_reference)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (0, PaymentOutcome.PAID),
        (1032, PaymentOutcome.ABANDONED),
        (1037, PaymentOutcome.PENDING),
        (1, PaymentOutcome.FAILED),
        (2001, PaymentOutcome.FAILED),
        (1025, PaymentOutcome.FAILED),
        (1001, PaymentOutcome.FAILED),
        (9999, PaymentOutcome.FAILED),
    ],
)
def test_result_codes_of_the_appendix(code: int, outcome: PaymentOutcome) -> None:
    """ResultCode 0 paid, 1032 cancelled, 1037 timeout (unknown), anything else failed.

    vending.md appendix: 1 insufficient funds and 2001 wrong PIN fail; "others are failures".
    """
    assert result_outcome(code) is outcome


async def test_secrets_never_reach_the_logs(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """Through a refresh after 401, a refusal and an outage, no log line holds a secret."""
    with capture_logs() as logs:
        await mpesa.start(purchase())
        fake.revoke_tokens()
        await mpesa.start(purchase())
        with pytest.raises(PaymentRefused):
            await mpesa.start(purchase(150_050))
        fake.fail_status = 500
        with pytest.raises(PaymentUnavailable):
            await mpesa.start(purchase())
    text = repr(logs)
    passwords = [str(p.body["Password"]) for p in fake.pushes]
    for secret in [fake.consumer_key, fake.consumer_secret, PASSKEY, *fake.issued, *passwords]:
        assert secret not in text
    assert len(logs) >= 4


@pytest.mark.parametrize(
    ("script", "callbacks", "amount"),
    [(Script.TWICE, 2, 150_000), (Script.WRONG_AMOUNT, 1, 150_100)],
)
async def test_fake_scripts_redelivery_and_wrong_amount(
    config: DarajaConfig, script: Script, callbacks: int, amount: int
) -> None:
    """The fake can send a callback twice, or report KES 1,501 for KES 1,500 asked."""
    receiver = CallbackReceiver()
    fake = FakeDaraja(shortcode=SHORTCODE, passkey=PASSKEY, callback_delay=0.01)
    fake.script = script
    async with serve(receiver.app) as url:
        await fake.start()
        wired = replace(config, base_url=fake.url, callback_url=f"{url}/callback")
        async with DarajaProvider(wired) as provider:
            await provider.start(purchase())
            results = [
                provider.parse_callback(*await receiver.next_body()) for _ in "x" * callbacks
            ]
        await fake.stop()
    assert [r.amount for r in results] == [amount] * callbacks
    assert receiver.bodies.empty()


async def test_lost_callback_is_recovered_by_query(fake: FakeDaraja, mpesa: DarajaProvider) -> None:
    """Script NEVER: the payer paid but no callback comes; the status query says PAID."""
    fake.script = Script.NEVER
    fake.callback_delay = 0.01
    accepted = await mpesa.start(purchase())
    for _ in range(500):  # the payer answers within 5 seconds
        if fake.pushes[0].decided:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # time enough for a callback that should not come
    assert fake.pushes[0].callbacks == []
    assert (await mpesa.query(accepted.provider_reference)).outcome is PaymentOutcome.PAID
