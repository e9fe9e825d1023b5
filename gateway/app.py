"""The composition root: ``create_app(settings)`` builds the whole gateway.

Nothing is created at import time. :func:`create_app` returns an application whose
``cleanup_ctx`` (:func:`_resources`) builds, in order, the vending core on the configured
database (migrated first on the embedded SQLite default), the demo data when asked, the USSD
session store (memory, or Redis when ``VENDGATE_REDIS_URL`` is set), the HTTP client, the
SMS sender and its outbox dispatcher, the scheduled backups (when
``VENDGATE_BACKUP_DIR`` is set), the payment providers, the purchase coordinator and its
maintenance task, and the USSD gateway — and tears them down in reverse order when the
application stops (after aiohttp has drained in-flight requests).

Tests and benchmarks replace parts through :class:`Overrides` (an SMS sender they can read,
a sandbox with scripted outcomes, a fixed clock) and keep everything else real.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.engine import make_url

from admin_api.app import create_admin_app
from admin_api.context import ADMIN_CORE
from admin_api.vouchers import VOUCHER_ISSUER, VoucherIssuer
from config.errors import ConfigError
from config.settings import Environment, Settings
from gateway import keys
from gateway.api import create_api_app
from gateway.backups import BackupScheduler
from gateway.forwarded import trust_forwarded
from gateway.leader import SMPP_BINDS_LOCK, Leadership, asyncpg_dsn
from gateway.metrics import Metrics
from gateway.payments.sandbox import SandboxConfig, SandboxProvider
from gateway.problems import observe
from gateway.purchases import Purchases
from gateway.routes import add_routes
from gateway.sms.console import ConsoleSmsSender
from gateway.sms_service import InboundSms, SmsService
from gateway.ussd import UssdGateway
from gateway.ussd_actions import Performer
from gateway.ussd_smpp import TLV_ITS_SESSION_INFO, UssdMo, UssdOverSmpp
from smpp.client import SmppLink
from smpp.config import BindConfig
from smpp.models import InboundMessage
from smpp.sender import SmppSmsSender, channel_of
from ussd_menus.codecs import CODECS
from ussd_menus.codecs import smpp as smpp_codec
from ussd_menus.menus import build_engine
from ussd_menus.ratelimit import MemoryRateLimiter, RatePolicy, RedisRateLimiter
from ussd_menus.redis_store import RedisSessionStore
from ussd_menus.session import MemorySessionStore, SessionStore
from vending_core.adapters.compose import sql_core
from vending_core.adapters.payments_voucher import VoucherProvider
from vending_core.adapters.payments_wallet import WalletProvider
from vending_core.service.core import Core
from vending_core.service.demo_data import load_demo_data
from vending_core.service.outbox import OutboxDispatcher
from vending_core.service.outbox_policy import RetryPolicy
from vending_core.service.payment_ports import Deliver, PaymentProvider, ProviderResult
from vending_core.service.sms_ports import OutboundSms, SmsSender

__all__ = ["MAX_BODY", "Overrides", "agent_salt", "create_app", "voucher_salt"]

_log = logging.getLogger(__name__)
MAX_BODY: Final = 64 * 1024  #: bytes; larger requests get 413 before any handler reads them
REDIS_CONNECTIONS: Final = 64  #: per process; hops wait for one when all are busy
SLOW_DOWN_WINDOW: Final = 300.0  #: seconds: a phone over its SMS limit is told once per window
ProviderFactory = Callable[[Deliver, aiohttp.ClientSession], PaymentProvider]


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """Parts a test or benchmark supplies instead of the configured ones."""

    sms_sender: SmsSender | None = None
    providers: Mapping[str, ProviderFactory] = field(default_factory=dict)
    session_store: SessionStore | None = None
    clock: Callable[[], datetime] | None = None
    demo_data: bool = False
    migrate: bool = True  #: migrate a development database at startup (workers: the parent did)
    maintenance_interval: float = 5.0
    outbox_poll_interval: float = 2.0
    outbox_policy: RetryPolicy | None = None


def create_app(settings: Settings, *, overrides: Overrides | None = None) -> web.Application:
    """The gateway application for ``settings`` (start it with aiohttp's runner)."""
    middlewares: list[Middleware] = [observe]
    if settings.gateway.trusted_proxies:  # first: every later check sees the client's address
        middlewares.insert(0, trust_forwarded(settings.gateway.trusted_proxies))
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    chosen = overrides or Overrides()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await _build(app, settings, chosen, stack)
            yield

    app.cleanup_ctx.append(resources)
    add_routes(app)
    app.add_subapp("/api/v1", create_api_app(settings))
    app.add_subapp("/admin/v1", create_admin_app())
    # Batches are issued with the salt the voucher provider redeems with, in the currency sold.
    app[VOUCHER_ISSUER] = VoucherIssuer(voucher_salt(settings), settings.gateway.currency)
    return app


async def _build(
    app: web.Application, settings: Settings, overrides: Overrides, stack: AsyncExitStack
) -> None:
    core = await stack.enter_async_context(
        sql_core(
            settings.database_url,
            settings.key_encryption_key,
            tz=settings.utility_zone,
            migrate=overrides.migrate and settings.environment is Environment.DEVELOPMENT,
            pool_size=settings.db_pool_size,
            pool_overflow=settings.db_pool_overflow,
            clock=overrides.clock,
        )
    )
    app[keys.CORE] = core
    app[ADMIN_CORE] = core
    if overrides.demo_data:
        await load_demo_data(core)
    clock = overrides.clock or _utc_now
    http = await stack.enter_async_context(aiohttp.ClientSession())
    store, redis = await _session_store(settings, overrides, stack)
    links = _smpp_links(settings)
    sender = overrides.sms_sender or _sms_sender(settings, http, links)
    dispatcher = OutboxDispatcher(
        core.uow,
        sender,
        policy=overrides.outbox_policy,
        poll_interval=overrides.outbox_poll_interval,
        clock=clock,
    )
    # Replicas on PostgreSQL share the SMPP binds through a leader (gateway/leader.py): only
    # the owner binds and, when it is the SMS sender, submits (runs the dispatcher).
    led = bool(links) and make_url(settings.database_url).get_backend_name() == "postgresql"
    dispatcher_led = led and isinstance(sender, SmppSmsSender)
    if not dispatcher_led:
        dispatcher.start()
        stack.push_async_callback(dispatcher.stop)
    if settings.gateway.backup.enabled:  # VENDGATE_BACKUP_DIR: gateway/backups.py
        backups = BackupScheduler(
            settings.database_url, settings.gateway.backup, metrics=app[keys.METRICS]
        )
        backups.start()
        stack.push_async_callback(backups.stop)
    # The providers report to Purchases, which needs the providers: bound once both exist.
    holder: list[Purchases] = []

    async def deliver(result: ProviderResult) -> None:
        await holder[0].apply(result)

    providers = _providers(core, settings, overrides, deliver, http)
    for provider in providers.values():
        closer = getattr(provider, "aclose", None)
        if closer is not None:
            stack.push_async_callback(closer)
    purchases = Purchases(
        core=core,
        providers=providers,
        default_provider=settings.gateway.payment_provider,
        currency=settings.gateway.currency,
        payment_ttl=settings.gateway.payment_ttl,
        token_wait=settings.gateway.ussd_token_wait,
        metrics=app[keys.METRICS],
        wake_outbox=dispatcher.wake,
        clock=clock,
    )
    holder.append(purchases)
    maintenance = asyncio.get_running_loop().create_task(
        purchases.run_maintenance(overrides.maintenance_interval), name="payments-maintenance"
    )
    stack.push_async_callback(_cancel, maintenance)
    app[keys.PURCHASES] = purchases
    app[keys.USSD] = UssdGateway(
        build_engine(),
        store,
        Performer(core, purchases),
        session_ttl=settings.gateway.ussd_session_ttl,
        resume_window=settings.gateway.ussd_resume_window,
        service_code=settings.gateway.ussd_service_code,
        codecs={**CODECS, smpp_codec.NAME: smpp_codec},
    )
    app[keys.SMS] = SmsService(
        purchases,
        allow=_limiter(settings.gateway.sms_rate_limit, settings.gateway.sms_rate_window, redis),
        slow_down=_limiter(1, SLOW_DOWN_WINDOW, redis, prefix="vendgate:rate:slow:"),
        clock=clock,
        agent_salt=agent_salt(settings),
    )
    _wire_links(links, app[keys.SMS], purchases, app[keys.USSD])
    if led:
        leadership = _smpp_leadership(settings, links, dispatcher if dispatcher_led else None)
        leadership.start()
        stack.push_async_callback(leadership.stop)
        app[keys.SMPP_LEADERSHIP] = leadership
    else:
        for link in links:
            link.start()
            stack.push_async_callback(link.stop)
    app[keys.READINESS] = _readiness(core, redis)


async def _session_store(
    settings: Settings, overrides: Overrides, stack: AsyncExitStack
) -> tuple[SessionStore, Redis | None]:
    if overrides.session_store is not None:
        return overrides.session_store, None
    if settings.gateway.redis_url is None:
        return MemorySessionStore(time.monotonic), None
    # A blocking pool: at peak every hop waits for a free connection (up to 5 s) instead of
    # failing at once when the default pool's connections are all busy.
    pool = BlockingConnectionPool.from_url(
        settings.gateway.redis_url, max_connections=REDIS_CONNECTIONS, timeout=5
    )
    client: Redis = Redis.from_pool(pool)
    stack.push_async_callback(client.aclose)
    return RedisSessionStore(client), client


def _limiter(
    limit: int, window: float, redis: Redis | None, *, prefix: str = "vendgate:rate:sms:"
) -> Callable[[str], Awaitable[bool]]:
    policy = RatePolicy(limit=limit, window=window)
    if redis is None:
        return MemoryRateLimiter(policy, time.monotonic).allow
    return RedisRateLimiter(redis, policy, prefix=prefix).allow


def _smpp_links(settings: Settings) -> list[SmppLink]:
    """One link per configured bind (not started yet); ConfigError on a bad bind."""
    links = []
    for number, raw in enumerate(settings.gateway.sms.smpp_binds, start=1):
        try:
            config = BindConfig(**{k: tuple(v) if k == "prefixes" else v for k, v in raw.items()})  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"VENDGATE_SMPP_BINDS: bind {number} is not usable: {exc}") from None
        links.append(SmppLink(config))
    return links


def _smpp_leadership(
    settings: Settings, links: list[SmppLink], dispatcher: OutboxDispatcher | None
) -> Leadership:
    """Bind (and dispatch through the binds) only while this replica owns the SMPP lock."""

    async def acquired() -> None:
        for link in links:
            link.start()
        if dispatcher is not None:
            dispatcher.start()

    async def lost() -> None:
        if dispatcher is not None:
            await dispatcher.stop()
        await asyncio.gather(*(link.stop() for link in links))

    return Leadership(
        asyncpg_dsn(settings.database_url),
        SMPP_BINDS_LOCK,
        on_acquired=acquired,
        on_lost=lost,
    )


def _wire_links(
    links: list[SmppLink], sms: SmsService, purchases: Purchases, ussd: UssdGateway
) -> None:
    """MOs to the SMS service (USSD ones to the USSD gateway), receipts to the outbox."""
    by_name = {link.config.name: link for link in links}
    ussd_over_smpp = UssdOverSmpp(ussd)

    async def on_mo(message: InboundMessage) -> None:
        if message.ussd_service_op is None:
            await sms.handle(inbound_of(message))
            return
        link = by_name[message.bind]

        async def submit(msisdn: str, text: str, tlvs: Mapping[int, bytes]) -> None:
            await link.submit(OutboundSms(to=msisdn, text=text, reference="ussd"), tlvs=tlvs)

        mo = UssdMo(
            bind=message.bind,
            msisdn=message.source_addr.removeprefix("+"),
            op=message.ussd_service_op,
            text=message.text,
            session_info=dict(message.tlvs).get(TLV_ITS_SESSION_INFO),
        )
        await ussd_over_smpp.hop(mo, submit)

    for link in links:
        link.on_mo = on_mo
        link.on_receipt = purchases.delivery_report


def inbound_of(message: InboundMessage) -> InboundSms:
    """An SMPP MO as an SMS command, with an id of our own (SMPP gives an MO none).

    The id is the sender, the text and the minute it arrived: the same text from the same
    phone within a minute is one message, so an MO the SMSC redelivers (after we answered
    0x64) or a customer's accidental double send gets one reply and at most one purchase.
    """
    minute = message.received_at.strftime("%Y%m%d%H%M")
    digest = hashlib.sha256(f"{message.source_addr}|{message.text}|{minute}".encode())
    return InboundSms(
        channel=channel_of(message.bind),
        message_id=digest.hexdigest()[:24],
        msisdn=message.source_addr,
        text=message.text,
        received_at=message.received_at,
    )


def _sms_sender(
    settings: Settings, http: aiohttp.ClientSession, links: list[SmppLink]
) -> SmsSender:
    sms = settings.gateway.sms
    if sms.sender == "smpp":
        if not links:
            raise ConfigError("VENDGATE_SMS_SENDER is smpp but VENDGATE_SMPP_BINDS is empty")
        return SmppSmsSender(links)
    if sms.sender == "africastalking":
        from gateway.sms.africastalking import AfricasTalkingSms  # noqa: PLC0415 - optional

        return AfricasTalkingSms(
            username=sms.at_username,
            api_key=sms.at_api_key,
            sender_id=sms.at_sender_id or None,
            base_url=sms.at_base_url,
            session=http,
        )
    if sms.sender == "memory":
        from gateway.sms.memory import MemorySmsSender  # noqa: PLC0415 - optional

        return MemorySmsSender()
    return ConsoleSmsSender(sys.stdout)


def voucher_salt(settings: Settings) -> bytes:
    """The voucher PIN hashing salt: derived from the key-encryption key, never stored."""
    return hmac.new(settings.key_encryption_key, b"vendgate voucher pins", "sha256").digest()


def agent_salt(settings: Settings) -> bytes:
    """The agent PIN hashing salt: derived from the key-encryption key, never stored."""
    return hmac.new(settings.key_encryption_key, b"vendgate agent pins", "sha256").digest()


def _providers(
    core: Core,
    settings: Settings,
    overrides: Overrides,
    deliver: Deliver,
    http: aiohttp.ClientSession,
) -> dict[str, PaymentProvider]:
    gateway = settings.gateway
    providers: dict[str, PaymentProvider] = {
        "sandbox": SandboxProvider(
            SandboxConfig(delay=gateway.sandbox_delay, failure_rate=gateway.sandbox_failure_rate),
            deliver=deliver,
            rng=random.Random(),  # noqa: S311 - simulated outcomes, not security
            session=http,
        )
    }
    providers["wallet"] = WalletProvider(core.uow, deliver)
    providers["voucher"] = VoucherProvider(core.uow, voucher_salt(settings), deliver)
    if gateway.mpesa.consumer_key:
        from gateway.payments.mpesa import daraja_from_settings  # noqa: PLC0415 - optional

        providers["mpesa"] = daraja_from_settings(gateway.mpesa, http)
    for name, factory in overrides.providers.items():
        providers[name] = factory(deliver, http)
    return providers


def _readiness(core: Core, redis: Redis | None) -> keys.Readiness:
    async def check() -> dict[str, bool]:
        checks = {"database": await _ping_database(core)}
        if redis is not None:
            try:
                checks["redis"] = bool(await asyncio.wait_for(redis.ping(), timeout=1.0))
            except Exception:
                checks["redis"] = False
        return checks

    return check


async def _ping_database(core: Core) -> bool:
    try:
        async with asyncio.timeout(2.0), core.read_uow() as uow:
            await uow.meters.get(0)  # any answer, even "no such meter", means it is up
    except Exception:
        return False
    return True


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
