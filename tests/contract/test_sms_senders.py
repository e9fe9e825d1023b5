"""Contract of ``SmsSender`` (vending_core/service/sms_ports.py), for every sender.

Run against :class:`MemorySmsSender`, :class:`AfricasTalkingSms` talking to the fake AT
server on 127.0.0.1 (tests/support/fake_africastalking.py), and :class:`SmppSmsSender` bound
to the smpp34 peer subprocess (tests/support/smpp34_peer.py). The contract: accepted messages
get distinct provider ids; an outage is a retryable failure, not an exception; a number the
provider refuses is a permanent failure; sending works again once the outage ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import pytest

from gateway.sms.africastalking import AfricasTalkingSms
from gateway.sms.memory import MemorySmsSender
from smpp.client import SmppLink
from smpp.config import BindConfig
from smpp.encoding import decode_user_data
from smpp.models import LinkState
from smpp.sender import SmppSmsSender
from tests.support.fake_africastalking import FakeAfricasTalking
from tests.support.smpp34_peer import REFUSED_PREFIX, Smpp34Peer, free_port
from vending_core.service.sms_ports import OutboundSms, SmsSender

PHONE = "254712345678"


class Harness(Protocol):
    """A sender plus the levers to break it the way its provider breaks."""

    sender: SmsSender

    async def down(self) -> None:
        """Make the provider unreachable."""

    async def up(self) -> None:
        """Make it reachable again."""

    def refuse(self, msisdn: str) -> None:
        """Make the provider refuse that number for good."""

    def delivered(self) -> list[tuple[str, str]]:
        """(number, text) of every accepted message, in order."""
        ...


class MemoryHarness:
    """The memory sender and its switches."""

    def __init__(self) -> None:
        self.memory = MemorySmsSender()
        self.sender: SmsSender = self.memory

    async def down(self) -> None:
        """Outage."""
        self.memory.down()

    async def up(self) -> None:
        """Back."""
        self.memory.up()

    def refuse(self, msisdn: str) -> None:
        """Refuse a number for good."""
        self.memory.refuse(msisdn)

    def delivered(self) -> list[tuple[str, str]]:
        """(number, text) of accepted messages, international digits."""
        return [(m.to, m.text) for m in self.memory.sent]


class AtHarness:
    """The AT client against the fake server."""

    def __init__(self, fake: FakeAfricasTalking, client: AfricasTalkingSms) -> None:
        self.fake = fake
        self.sender: SmsSender = client

    async def down(self) -> None:
        """Close the fake's port."""
        await self.fake.stop()

    async def up(self) -> None:
        """Reopen it."""
        await self.fake.start()

    def refuse(self, msisdn: str) -> None:
        """Make the fake answer 403 InvalidPhoneNumber for that recipient."""
        self.fake.recipient_status["+" + msisdn] = (403, "InvalidPhoneNumber")

    def delivered(self) -> list[tuple[str, str]]:
        """(number, text) of accepted requests, as international digits."""
        return [(r.form["to"].removeprefix("+"), r.form["message"]) for r in self.fake.accepted]


class SmppHarness:
    """The SMPP sender on one bind to the smpp34 peer; an outage is a killed peer."""

    def __init__(self, peer: Smpp34Peer, link: SmppLink) -> None:
        self.peer = peer
        self.link = link
        self.sender: SmsSender = SmppSmsSender([link])

    async def down(self) -> None:
        """SIGKILL the peer and wait until the link has noticed."""
        await self.peer.kill()
        await self.peer.wait_for(lambda: self.link.state is not LinkState.BOUND)

    async def up(self) -> None:
        """Restart the peer on its port and wait until the link has bound again."""
        await self.peer.start()
        assert await self.link.wait_bound(5.0)

    def refuse(self, msisdn: str) -> None:
        """The peer refuses a fixed range (ESME_RINVDSTADR); only numbers in it can be used."""
        assert msisdn.startswith(REFUSED_PREFIX)

    def delivered(self) -> list[tuple[str, str]]:
        """(number, text) of submits the peer accepted."""
        return [
            (s["to"], decode_user_data(bytes.fromhex(s["hex"]), s["data_coding"]))
            for s in self.peer.submits()
            if s["status"] == 0
        ]


async def _smpp_harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    tmp_path = request.getfixturevalue("tmp_path")
    peer = Smpp34Peer(free_port(), tmp_path / "smpp34.jsonl", "--refuse-prefix", REFUSED_PREFIX)
    await peer.start()
    config = BindConfig(
        name="contract",
        host="127.0.0.1",
        port=peer.port,
        system_id="vendgate",
        password="secret",
        reconnect_base_s=0.05,
        reconnect_cap_s=0.2,
    )
    link = SmppLink(config)
    link.start()
    try:
        assert await link.wait_bound(5.0)
        yield SmppHarness(peer, link)
    finally:
        await link.stop()
        await peer.kill()


@pytest.fixture(params=["memory", "africastalking", "smpp"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """Each sender in turn."""
    if request.param == "memory":
        yield MemoryHarness()
        return
    if request.param == "smpp":
        async for smpp in _smpp_harness(request):
            yield smpp
        return
    fake = FakeAfricasTalking()
    await fake.start()
    client = AfricasTalkingSms(
        username="sandbox", api_key=fake.api_key, base_url=fake.base_url, timeout=5.0
    )
    try:
        yield AtHarness(fake, client)
    finally:
        await client.aclose()
        await fake.stop()


def _sms(text: str, to: str = PHONE) -> OutboundSms:
    return OutboundSms(to=to, text=text, reference=f"ref-{text}")


async def test_accepted_messages_get_distinct_provider_ids(harness: Harness) -> None:
    """Two sends are both accepted, each with its own non-empty id, and both arrive."""
    first = await harness.sender.send(_sms("one"))
    second = await harness.sender.send(_sms("two"))
    assert first.accepted
    assert second.accepted
    assert first.provider_message_id
    assert second.provider_message_id
    assert first.provider_message_id != second.provider_message_id
    assert harness.delivered() == [(PHONE, "one"), (PHONE, "two")]


async def test_an_outage_is_a_retryable_failure_and_recovery_works(harness: Harness) -> None:
    """While the provider is down a send fails retryably (no exception); afterwards it works."""
    await harness.down()
    outcome = await harness.sender.send(_sms("during"))
    assert (outcome.accepted, outcome.retryable) == (False, True)
    assert outcome.error
    await harness.up()
    again = await harness.sender.send(_sms("after"))
    assert again.accepted
    assert harness.delivered() == [(PHONE, "after")]


async def test_a_refused_number_is_a_permanent_failure(harness: Harness) -> None:
    """A number the provider refuses gives accepted=False, retryable=False; others still go."""
    harness.refuse("254700000001")
    refused = await harness.sender.send(_sms("x", to="254700000001"))
    assert (refused.accepted, refused.retryable) == (False, False)
    assert refused.provider_message_id is None
    assert (await harness.sender.send(_sms("y"))).accepted
    assert harness.delivered() == [(PHONE, "y")]


async def test_the_sender_has_a_stable_name(harness: Harness) -> None:
    """Outbox rows store the name; delivery reports are matched on it."""
    assert harness.sender.name == harness.sender.name
    assert harness.sender.name in {"memory", "africastalking", "smpp"}
