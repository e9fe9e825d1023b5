"""A real gateway on 127.0.0.1 for end-to-end tests: HTTP over TCP, SQLite, sandbox payments.

Only the SMS sender is replaced (by the memory sender, so a test can read the token SMS);
the sandbox provider runs with a short delay and scripted outcomes per phone number.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.gateway import GatewaySettings, MpesaSettings, SmsSettings
from config.settings import Settings
from gateway.app import Overrides, create_app
from gateway.payments.sandbox import SandboxConfig, SandboxProvider, parse_rules
from gateway.sms.memory import MemorySmsSender
from tests.support.fake_daraja import FakeDaraja
from tests.support.smpp34_peer import Smpp34Peer, free_port
from vending_core.service.outbox_policy import RetryPolicy
from vending_core.service.payment_ports import Deliver, PaymentProvider

TOKEN_RE = re.compile(r"\b(\d{4} \d{4} \d{4} \d{4} \d{4})\b")
#: Phones with scripted sandbox outcomes (see gateway.payments.sandbox.parse_rules).
SANDBOX_RULES = "254700000666=fail, 254700000777=silent, 254700000888=pay@1.5, 254700000999=pay@0"


@dataclass
class LiveGateway:
    """The running gateway and what a test reads from it."""

    app: web.Application
    base_url: str
    http: aiohttp.ClientSession
    sms: MemorySmsSender

    async def sms_to(self, msisdn: str, *, count: int = 1, wait: float = 5.0) -> list[str]:
        """The texts sent to ``msisdn`` once there are ``count`` of them (fails after ``wait``)."""
        digits = msisdn.removeprefix("+")
        async with asyncio.timeout(wait):
            while True:
                texts = [m.text for m in self.sms.sent if m.to == digits]
                if len(texts) >= count:
                    return texts
                await asyncio.sleep(0.02)


def _sandbox(delay: float) -> Callable[[Deliver, aiohttp.ClientSession], PaymentProvider]:
    by_msisdn, by_amount = parse_rules(SANDBOX_RULES)

    def build(deliver: Deliver, http: aiohttp.ClientSession) -> PaymentProvider:
        config = SandboxConfig(delay=delay, by_msisdn=by_msisdn, by_amount=by_amount)
        return SandboxProvider(config, deliver=deliver, session=http)

    return build


GatewayFactory = Callable[..., Awaitable[LiveGateway]]


@pytest.fixture
async def start_gateway(sqlite_url: str) -> AsyncIterator[GatewayFactory]:
    """Start gateways on the test's SQLite database; all are stopped at the end."""
    servers: list[TestServer] = []
    async with aiohttp.ClientSession() as http:

        async def start(**gateway: object) -> LiveGateway:
            options: dict[str, object] = {"ussd_token_wait": 3.0, **gateway}
            settings = Settings(database_url=sqlite_url, gateway=GatewaySettings(**options))  # type: ignore[arg-type]
            sms = MemorySmsSender()
            overrides = Overrides(
                sms_sender=sms,
                providers={"sandbox": _sandbox(0.05)},
                demo_data=True,
                outbox_poll_interval=0.1,
                outbox_policy=RetryPolicy(base_delay=timedelta(seconds=0.2), jitter=0.0),
                maintenance_interval=0.2,
            )
            app = create_app(settings, overrides=overrides)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            return LiveGateway(app, str(server.make_url("")).rstrip("/"), http, sms)

        yield start
        for server in servers:
            await server.close()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> LiveGateway:
    """One gateway with the default test settings."""
    return await start_gateway()


# ---------------------------------------------------------------------------------------------
# M-Pesa through the gateway: the fake Daraja, a movable clock, a gateway on a pre-bound socket.


@dataclass
class MovableClock:
    """UTC now plus an offset a test moves forward (given to the gateway as Overrides.clock)."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        """The moved UTC now."""
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` into the future (everything the gateway stamps moves with it)."""
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
async def fake_daraja() -> AsyncIterator[FakeDaraja]:
    """A fake Daraja on 127.0.0.1 that calls back 50 ms after each STK push."""
    fake = FakeDaraja(callback_delay=0.05)
    await fake.start()
    yield fake
    await fake.stop()


def _bound_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1 (so the URL is known before the app)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def start_mpesa_gateway(
    sqlite_url: str, fake_daraja: FakeDaraja
) -> AsyncIterator[GatewayFactory]:
    """Start gateways whose default payment provider is M-Pesa on the fake Daraja.

    The listening socket is bound first, so the gateway's own callback URL goes into
    ``MpesaSettings.callback_url`` and ``create_app`` builds the provider from settings, as in
    production. ``start(callback_query="?token=...", clock=MovableClock(), **gateway options)``.
    """
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession() as http:

        async def start(
            *, callback_query: str = "", clock: MovableClock | None = None, **gateway: object
        ) -> LiveGateway:
            sock = _bound_socket()
            base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            mpesa = MpesaSettings(
                base_url=fake_daraja.url,
                consumer_key=fake_daraja.consumer_key,
                consumer_secret=fake_daraja.consumer_secret,
                shortcode=fake_daraja.shortcode,
                passkey=fake_daraja.passkey,
                callback_url=f"{base_url}/payments/mpesa/callback{callback_query}",
            )
            options: dict[str, object] = {"payment_provider": "mpesa", "mpesa": mpesa, **gateway}
            settings = Settings(database_url=sqlite_url, gateway=GatewaySettings(**options))  # type: ignore[arg-type]
            sms = MemorySmsSender()
            overrides = Overrides(
                sms_sender=sms,
                clock=clock,
                demo_data=True,
                outbox_poll_interval=0.1,
                outbox_policy=RetryPolicy(base_delay=timedelta(seconds=0.2), jitter=0.0),
                maintenance_interval=0.2,
            )
            app = create_app(settings, overrides=overrides)
            runner = web.AppRunner(app, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            await web.SockSite(runner, sock).start()
            return LiveGateway(app, base_url, http, sms)

        yield start
        for runner in runners:
            await runner.cleanup()


async def eventually(condition: Callable[[], bool], *, wait: float = 5.0) -> None:
    """Return once ``condition()`` is true, checking every 20 ms (fails after ``wait``)."""
    async with asyncio.timeout(wait):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# SMPP through the gateway: the smpp34 peer as the operator's SMSC, one bind to it, sender smpp.

BIND_NAME = "mno1"  #: the bind's name: SMPP MOs arrive on channel ``smpp:mno1``
SHORT_CODE = "20880"  #: where customers send their MOs (the deliver_sm's destination)
_NOT_BOUND_YET = 0x04  #: ESME_RINVBNDSTS: the deliver_sm beat our handling of bind_resp


@dataclass
class SmppGateway:
    """A running gateway bound to the smpp34 peer, and what a test reads from both."""

    app: web.Application
    peer: Smpp34Peer

    def texts_to(self, msisdn: str) -> list[str]:
        """The texts of every submit_sm the peer accepted for ``msisdn`` (all lifetimes)."""
        submits = [s for s in self.peer.submits() if s["to"] == msisdn and s["status"] == 0]
        assert all(s["data_coding"] == 0 and s["esm_class"] == 0 for s in submits)
        return [gsm7_text(bytes.fromhex(s["hex"])) for s in submits]

    async def wait_texts(self, msisdn: str, count: int, *, wait: float = 8.0) -> list[str]:
        """The texts to ``msisdn`` once there are at least ``count`` (fails after ``wait``)."""
        await self.peer.wait_for(lambda: len(self.texts_to(msisdn)) >= count, within=wait)
        return self.texts_to(msisdn)

    async def mo(self, msisdn: str, text: str, *, wait: float = 8.0) -> None:
        """The peer delivers ``text`` from ``msisdn`` until the gateway answers it 0 (ESME_ROK).

        A deliver_sm answered 0x04 (it arrived between our bind_transceiver_resp and the
        link's switch to bound) is delivered again, as an SMSC does; anything else fails.
        """
        async with asyncio.timeout(wait):
            while True:
                ident = await self.peer.deliver(msisdn, SHORT_CODE, text.encode("ascii"))
                status = await self._deliver_status(ident)
                if status != _NOT_BOUND_YET:
                    assert status == 0, f"deliver_sm of {text!r} answered {status:#x}"
                    return
                await asyncio.sleep(0.02)

    async def _deliver_status(self, ident: int) -> int | str:
        def answer() -> dict[str, object] | None:
            for event in self.peer.events:
                if event["event"] == "deliver_resp" and event["id"] == ident:
                    return event
            return None

        await self.peer.wait_for(lambda: answer() is not None, within=10.0)
        event = answer()
        assert event is not None
        return event.get("status", str(event.get("error")))  # type: ignore[return-value]


def gsm7_text(septets: bytes) -> str:
    """Unpacked GSM 03.38 septets (data_coding 0) of our replies as text.

    Letters, digits, space, LF and ``.,:<>/()-`` have the same codes in GSM 03.38 as in ASCII;
    ``|`` is the extension table's ``1B 40``. Our replies use no other characters.
    """
    assert not set(septets) & {0x00, 0x02, 0x11}, "@, $ or _ would differ from ASCII"
    return septets.replace(b"\x1b\x40", b"|").decode("ascii")


def smpp_bind(port: int, **changes: object) -> dict[str, object]:
    """One VENDGATE_SMPP_BINDS entry for the peer on ``port``, with test-sized timers."""
    return {
        "name": BIND_NAME,
        "host": "127.0.0.1",
        "port": port,
        "system_id": "vendgate",
        "password": "secret",  # test data: the smpp34 peer accepts any credentials
        "tps": 1000.0,
        "window": 10,
        "response_timeout_s": 2.0,
        "reconnect_base_s": 0.05,
        "reconnect_cap_s": 0.2,
        "reconnect_jitter": 0.0,
        **changes,
    }


SmppGatewayFactory = Callable[..., Awaitable[SmppGateway]]


@pytest.fixture
async def start_smpp_gateway(sqlite_url: str, tmp_path: Path) -> AsyncIterator[SmppGatewayFactory]:
    """Start the smpp34 peer (``start(*peer options, sandbox_delay=0.05)``), then a gateway.

    The gateway is the production wiring (sender ``smpp``, one bind from the settings); only
    the sandbox payment provider is sped up (``sandbox_delay`` s) and the outbox retries
    every 0.2 s.
    Returns once the peer has seen our bind. Gateway and peer are stopped at the end.
    """
    runners: list[web.AppRunner] = []
    peers: list[Smpp34Peer] = []

    async def start(*peer_options: str, sandbox_delay: float = 0.05) -> SmppGateway:
        peer = Smpp34Peer(free_port(), tmp_path / "smpp34-events.jsonl", *peer_options)
        await peer.start()
        peers.append(peer)
        sms = SmsSettings(sender="smpp", smpp_binds=(smpp_bind(peer.port),))
        settings = Settings(database_url=sqlite_url, gateway=GatewaySettings(sms=sms))
        overrides = Overrides(
            providers={"sandbox": _sandbox(sandbox_delay)},
            demo_data=True,
            outbox_poll_interval=0.1,
            outbox_policy=RetryPolicy(base_delay=timedelta(seconds=0.2), jitter=0.0),
            maintenance_interval=0.2,
        )
        runner = web.AppRunner(create_app(settings, overrides=overrides), handle_signals=False)
        await runner.setup()  # runs create_app's cleanup_ctx: core, outbox, links
        runners.append(runner)
        await peer.wait_for(lambda: any(e["event"] == "bind" for e in peer.events), within=5.0)
        return SmppGateway(runner.app, peer)

    yield start
    for runner in runners:
        await runner.cleanup()
    for peer in peers:
        await peer.kill()
