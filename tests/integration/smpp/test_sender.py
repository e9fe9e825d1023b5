"""SmppSmsSender routing: longest MSISDN prefix among bound links, fallback, none bound."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smpp.client import SmppLink
from smpp.models import LinkState
from smpp.sender import SmppSmsSender
from tests.integration.smpp.conftest import fast_config
from tests.support.fake_smsc import FakeSmsc
from vending_core.service.sms_ports import OutboundSms

LinkFactory = Callable[..., SmppLink]


def _sms(to: str) -> OutboundSms:
    return OutboundSms(to=to, text="hi", reference="r")


async def test_longest_prefix_wins_and_fallback_is_any_bound_link(
    make_link: LinkFactory,
) -> None:
    """Link 'kenya' takes 254, 'safaricom' 25471.

    254712... goes to safaricom (5 digits beat 3), 254733... to kenya, 233... (no match) to
    the first bound link; with safaricom down, 254712... falls back to kenya.
    """
    kenya_smsc, safaricom_smsc = FakeSmsc(), FakeSmsc()
    await kenya_smsc.start()
    await safaricom_smsc.start()
    try:
        kenya = make_link(kenya_smsc.port, name="kenya", prefixes=("254",))
        safaricom = make_link(safaricom_smsc.port, name="safaricom", prefixes=("25471",))
        assert await kenya.wait_bound(3.0)
        assert await safaricom.wait_bound(3.0)
        sender = SmppSmsSender([kenya, safaricom])
        for to in ("254712345678", "254733000000", "233244000000"):
            assert (await sender.send(_sms(to))).accepted
        assert [s.body.destination_addr for s in safaricom_smsc.accepted()] == ["254712345678"]
        assert [s.body.destination_addr for s in kenya_smsc.accepted()] == [
            "254733000000",
            "233244000000",
        ]
        await safaricom_smsc.stop()
        await safaricom_smsc.wait_for(lambda: safaricom.state is not LinkState.BOUND)
        outcome = await sender.send(_sms("254712000001"))
        assert outcome.provider_message_id is not None
        assert outcome.provider_message_id.startswith("kenya:")
    finally:
        await kenya_smsc.stop()
        await safaricom_smsc.stop()


async def test_no_bound_link_is_retry_later(make_link: LinkFactory) -> None:
    """Every link down: the outbox gets retry_later (it keeps the message), no exception."""
    fake = FakeSmsc()
    await fake.start()
    await fake.stop()  # the port is known, and closed
    sender = SmppSmsSender([make_link(fake.port)])
    outcome = await sender.send(_sms("254712345678"))
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, "unbound")
    assert sender.name == "smpp"


def test_links_must_exist_and_have_distinct_names() -> None:
    """An empty sender or two binds with one name would make receipts ambiguous."""
    with pytest.raises(ValueError, match="at least one"):
        SmppSmsSender([])
    twins = [SmppLink(fast_config(1)), SmppLink(fast_config(2))]
    with pytest.raises(ValueError, match="unique"):
        SmppSmsSender(twins)
