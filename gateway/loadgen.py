"""Mixed purchase traffic over real HTTP against one or more gateway replicas (issue 8).

Five kinds of request, four as the channels send them:

* ``ussd``: a purchase over one of the four aggregators in turn (:mod:`gateway.simulate`):
  dial, 1 (buy), meter, 1 (confirm), amount, 1 (pay); complete when the last screen ends the
  session showing the token.
* ``sms``: ``BUY <meter> <amount>`` posted to ``/sms/africastalking/inbound`` as Africa's
  Talking posts it; complete (for the client) when the gateway answers 200: the payment is
  recorded and the token comes later by SMS.
* ``api``: a signed ``POST /api/v1/vends`` with its own ``Idempotency-Key``; complete on 201
  (or 200, a replay) with the token.
* ``report``: ``GET /admin/v1/reports/sales`` with an administrator's bearer token.
* ``health``: ``GET /healthz``, the cheapest exchange a replica answers: not a purchase, the
  floor that HTTP alone puts under every other kind (``bench/load.py`` measures it).

Every purchase is planned from its number ``n`` alone (:meth:`Mix.plan`): its kind (the weights
interleaved), its replica, meter, amount, phone and keys. Phones are distinct per purchase
(the SMS rate limit is per phone; a USSD phone never resumes another session), keys carry the
run's ``tag`` so runs never replay each other. :func:`run_purchases` plays a list of planned
purchases, :func:`run_for` plays purchases ``0, 1, 2...`` until a deadline; both with a fixed
number of concurrent slots, each sending its next purchase when the last one is answered.
:func:`run_paced` starts them at a fixed rate instead (open loop), for latencies at a given
offered load.

Each answer is classified (:class:`Outcome`): ``ok``; ``declined`` (a clean refusal: a USSD
session ended politely without a token, an RFC 9457 problem, a pending payment); ``transport``
(connection refused or reset, timeout: the replica died or did not answer); ``broken`` (what
must never happen: a 5xx that is not problem JSON, a traceback, an unreadable answer).

:func:`prepare_database` readies a database for the load: the demo data once, DEMO-POS's float
raised out of reach (on a fresh database), an API key and an administrator (the credentials in
:class:`Credentials`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import aiohttp

from config.settings import Settings
from gateway.api.client import SigningClient
from gateway.simulate import PROVIDERS, simulator
from vending_core.adapters.api_secrets import SecretBox
from vending_core.adapters.compose import sql_core
from vending_core.domain.model import Customer
from vending_core.service.admin_accounts import create_user
from vending_core.service.admin_records import AdminLevel, AdminUser
from vending_core.service.api_clients import create_api_client
from vending_core.service.demo_data import DEMO_METERS, drn, load_demo_data
from vending_core.service.ports import UnitOfWork

__all__ = [
    "KINDS",
    "Credentials",
    "Kind",
    "Mix",
    "Outcome",
    "Purchase",
    "add_load_meters",
    "admin_token",
    "load_meters",
    "prepare_database",
    "raise_demo_float",
    "run_for",
    "run_paced",
    "run_purchases",
]

Kind = Literal["ussd", "sms", "api", "report", "health"]
Status = Literal["ok", "declined", "transport", "broken"]
_Answer = tuple[Status, str, tuple[str, ...]]  #: status, detail, tokens
KINDS: Final[tuple[Kind, ...]] = ("ussd", "sms", "api", "report", "health")
VENDOR: Final = "DEMO-POS"
BIG_FLOAT: Final = 10**12  #: minor units: DEMO-POS's float, never exhausted by a run
TOKEN_RE: Final = re.compile(r"\b\d{4} \d{4} \d{4} \d{4} \d{4}\b")
_TOKEN_LINE: Final = "Token:"  # noqa: S105 - the label of the final screen, not a secret


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the load needs besides URLs: the API key and the administrator's password."""

    key_id: str
    secret: str = field(repr=False)
    admin_user: str
    admin_password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Purchase:
    """One planned request (amounts in currency units for USSD and SMS, minor for the API)."""

    n: int
    kind: Kind
    base: str
    meter: str
    amount: int  #: currency units (the API is sent ``amount * 100`` minor units)
    msisdn: str  #: +254...
    provider: str  #: the USSD aggregator (``""`` for the other kinds)
    key: str  #: session id, SMS message id or idempotency key


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the client saw of one purchase."""

    purchase: Purchase
    status: Status
    detail: str  #: the error category, or ``""``
    seconds: float
    tokens: tuple[str, ...] = ()  #: the tokens the client was shown (20 digits each)

    @property
    def ok(self) -> bool:
        """Whether the client saw the purchase complete."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class Mix:
    """How purchase ``n`` is planned (see the module docstring)."""

    bases: tuple[str, ...]
    weights: tuple[tuple[Kind, int], ...] = (("ussd", 4), ("sms", 3), ("api", 3))
    tag: str = "L0"  #: letters and digits; makes keys unique per run
    phone_prefix: int = 10  #: two digits after +2547: phones of different runs differ
    meters: tuple[str, ...] = tuple(m.number for m in DEMO_METERS)

    def pattern(self) -> tuple[Kind, ...]:
        """The kinds of one cycle, interleaved (weights 2:1 give ussd, api, ussd)."""
        counts = dict(self.weights)
        total = sum(counts.values())
        if total <= 0:
            raise ValueError("the mix's weights add up to nothing")
        slots: list[tuple[float, int, Kind]] = []
        for order, (kind, weight) in enumerate(self.weights):
            slots += [((i + 0.5) / weight, order, kind) for i in range(weight)]
        return tuple(kind for _, _, kind in sorted(slots))

    def plan(self, n: int, pattern: Sequence[Kind] | None = None) -> Purchase:
        """Purchase number ``n``."""
        kinds = pattern or self.pattern()
        kind = kinds[n % len(kinds)]
        cycle = n // len(kinds)
        base = self.bases[(n + cycle) % len(self.bases)]  # kinds move over the replicas
        provider = PROVIDERS[cycle % len(PROVIDERS)] if kind == "ussd" else ""
        return Purchase(
            n=n,
            kind=kind,
            base=base,
            meter=self.meters[n % len(self.meters)],
            amount=50 + 10 * (n % 16),  # 50..200 currency units
            msisdn=f"+2547{self.phone_prefix % 100:02d}{n % 1_000_000:06d}",
            provider=provider,
            key=f"{self.tag}-{n}",
        )


# ---------------------------------------------------------------- one purchase of each kind


@dataclass(frozen=True, slots=True)
class _Clients:
    http: aiohttp.ClientSession
    credentials: Credentials
    admin_tokens: dict[str, str]  #: base URL -> bearer token


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(token.replace(" ", "") for token in TOKEN_RE.findall(text))


async def _ussd(clients: _Clients, p: Purchase) -> _Answer:
    session = simulator(p.provider, clients.http, p.base, msisdn=p.msisdn, session_id=p.key)
    steps = ("1", p.meter, "1", str(p.amount), "1")
    screen = await session.dial()
    for step in steps:
        if screen.status != 200:  # noqa: PLR2004 - HTTP OK
            return "broken", f"ussd-http-{screen.status}", ()
        if screen.end:
            return "declined", "ussd-ended-early", ()
        screen = await session.send(step)
    if screen.status != 200:  # noqa: PLR2004
        return "broken", f"ussd-http-{screen.status}", ()
    if not screen.end:  # the session went off script (it was lost, say): a menu again
        return "declined", "ussd-off-script", ()
    if _TOKEN_LINE in screen.text:
        return "ok", "", _tokens(screen.text)
    return "declined", "ussd-no-token", ()


async def _sms(clients: _Clients, p: Purchase) -> _Answer:
    form = {
        "from": p.msisdn,
        "to": "20880",
        "text": f"BUY {p.meter} {p.amount}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "id": p.key,
    }
    url = f"{p.base}/sms/africastalking/inbound"
    async with clients.http.post(url, data=form) as response:
        body = await response.read()
        return _answer("sms", response.status, response.content_type, body)


async def _api(clients: _Clients, p: Purchase) -> _Answer:
    creds = clients.credentials
    client = SigningClient(clients.http, p.base, creds.key_id, creds.secret)
    answer = await client.request(
        "POST",
        "/api/v1/vends",
        {"meter_number": p.meter, "amount": p.amount * 100},
        idempotency_key=p.key,
    )
    if answer.status in {200, 201}:
        receipt = json.loads(answer.body)
        tokens = tuple(str(t["token"]).replace(" ", "") for t in receipt.get("tokens", []))
        return "ok", "", tokens
    return _answer("api", answer.status, answer.headers.get("Content-Type", ""), answer.body)


async def _report(clients: _Clients, p: Purchase) -> _Answer:
    token = clients.admin_tokens.get(p.base)
    if token is None:
        token = await admin_token(clients.http, p.base, clients.credentials)
        clients.admin_tokens[p.base] = token
    now = datetime.now(UTC)
    query = {
        "from": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "by": "channel",
    }
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{p.base}/admin/v1/reports/sales"
    async with clients.http.get(url, params=query, headers=headers) as response:
        body = await response.read()
        return _answer("report", response.status, response.content_type, body)


async def _health(clients: _Clients, p: Purchase) -> _Answer:
    async with clients.http.get(f"{p.base}/healthz") as response:
        body = await response.read()
        return _answer("health", response.status, response.content_type, body)


def _answer(kind: str, status: int, content_type: str, body: bytes) -> _Answer:
    """200 is ``ok``; a refusal is ``declined`` when it is problem JSON, else ``broken``."""
    if status == 200:  # noqa: PLR2004 - HTTP OK
        return "ok", "", ()
    if b"Traceback" in body:
        return "broken", f"{kind}-{status}-traceback", ()
    if content_type.startswith("application/problem+json"):
        try:
            code = str(json.loads(body).get("type", "")).rsplit("/", 1)[-1]
        except (ValueError, AttributeError):
            return "broken", f"{kind}-{status}-bad-problem", ()
        return "declined", f"{kind}-{status}-{code}", ()
    return "broken", f"{kind}-{status}-not-problem-json", ()


_PLAYERS: Final = {
    "ussd": _ussd,
    "sms": _sms,
    "api": _api,
    "report": _report,
    "health": _health,
}


async def _play(clients: _Clients, p: Purchase) -> Outcome:
    started = time.perf_counter()
    try:
        status, detail, tokens = await _PLAYERS[p.kind](clients, p)
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        status, detail, tokens = "transport", f"{p.kind}-{type(exc).__name__}", ()
    except ValueError as exc:  # an unreadable answer (JSON, UTF-8)
        status, detail, tokens = "broken", f"{p.kind}-{type(exc).__name__}", ()
    return Outcome(p, status, detail, time.perf_counter() - started, tokens)


async def admin_token(http: aiohttp.ClientSession, base: str, credentials: Credentials) -> str:
    """Log the load's administrator in at ``base``; its bearer token."""
    body = {"username": credentials.admin_user, "password": credentials.admin_password}
    async with http.post(f"{base}/admin/v1/login", json=body) as response:
        answer = await response.json(content_type=None)
        if response.status != 200:  # noqa: PLR2004
            raise RuntimeError(f"the load's administrator cannot log in: {answer}")
        return str(answer["token"])


# ---------------------------------------------------------------- running many


async def run_purchases(
    http: aiohttp.ClientSession,
    credentials: Credentials,
    purchases: Sequence[Purchase],
    *,
    concurrency: int,
) -> list[Outcome]:
    """Play ``purchases`` with ``concurrency`` slots; their outcomes in the same order."""
    clients = _Clients(http, credentials, {})
    outcomes: list[Outcome | None] = [None] * len(purchases)
    numbers = iter(range(len(purchases)))

    async def slot() -> None:
        for index in numbers:  # one shared iterator: each purchase is taken once
            outcomes[index] = await _play(clients, purchases[index])

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return [outcome for outcome in outcomes if outcome is not None]


async def run_for(
    http: aiohttp.ClientSession,
    credentials: Credentials,
    mix: Mix,
    *,
    seconds: float,
    concurrency: int,
) -> list[Outcome]:
    """Play purchases ``0, 1, 2...`` of ``mix`` until ``seconds`` have passed; all outcomes."""
    clients = _Clients(http, credentials, {})
    pattern = mix.pattern()
    counter = itertools.count()
    deadline = time.perf_counter() + seconds
    outcomes: list[Outcome] = []

    async def slot() -> None:
        while time.perf_counter() < deadline:
            outcomes.append(await _play(clients, mix.plan(next(counter), pattern)))

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return outcomes


async def run_paced(
    http: aiohttp.ClientSession,
    credentials: Credentials,
    mix: Mix,
    *,
    seconds: float,
    rate: float,
    concurrency: int,
) -> tuple[list[Outcome], int]:
    """Start purchase ``n`` at ``n / rate`` seconds (open loop) until ``seconds`` have passed.

    Unlike :func:`run_for`, a slow answer does not slow the offered load, so latencies are
    those of a gateway offered ``rate`` requests a second. At most ``concurrency`` are in
    flight: a purchase due while that many wait is not sent, and counted. Returns the
    outcomes and that count.
    """
    clients = _Clients(http, credentials, {})
    pattern = mix.pattern()
    slots = asyncio.Semaphore(concurrency)
    outcomes: list[Outcome] = []
    skipped = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        try:
            outcomes.append(await _play(clients, mix.plan(n, pattern)))
        finally:
            slots.release()

    started = time.perf_counter()
    for n in itertools.count():
        due = started + n / rate
        if due >= started + seconds:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if slots.locked():
            skipped += 1
            continue
        await slots.acquire()
        task = asyncio.create_task(one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return outcomes, skipped


# ---------------------------------------------------------------- the database


async def raise_demo_float(uow: UnitOfWork) -> None:
    """Set DEMO-POS's float out of a benchmark's reach (``BIG_FLOAT``), in ``uow``."""
    vendor = await uow.vendors.get_by_code(VENDOR, lock=True)
    if vendor is None:
        raise RuntimeError(f"the demo data has no vendor {VENDOR}")
    vendor.balance = BIG_FLOAT
    await uow.vendors.update(vendor)


def load_meters(count: int) -> tuple[str, ...]:
    """The numbers of the ``count`` meters :func:`add_load_meters` adds (after the demo's 12)."""
    first = len(DEMO_METERS) + 1
    return tuple(drn(n) for n in range(first, first + count))


async def add_load_meters(uow: UnitOfWork, count: int) -> None:
    """Add :func:`load_meters` ``(count)``, each with a customer, in ``uow``.

    The demo has 12 meters: a load spread over them queues on their row locks (every vend
    locks its meter), which a utility's millions of meters never do. These copy the demo
    meters' supply groups, keys, tariffs and key data in turn, so their tokens decode with
    the demo's keys (``check-ledger`` decodes every one).
    """
    for index, number in enumerate(load_meters(count)):
        like = DEMO_METERS[index % len(DEMO_METERS)]
        customer_id = await uow.customers.add(
            Customer(
                account_number=f"LOAD-{index + 1:06d}",
                name=f"Load customer {index + 1}",
                address=f"{index + 1} Load Street",
                phones=(),
            )
        )
        await uow.meters.add(like.to_meter(customer_id, number=number))


async def prepare_database(
    settings: Settings, *, admin_password: str, raise_float: bool = True, meters: int = 0
) -> Credentials:
    """Migrate, load the demo data (unless there), raise DEMO-POS's float, add a key, an admin.

    With ``meters``, that many more meters (:func:`add_load_meters`) on a fresh database.

    Raise the float only on a fresh database: raised before any vend, the vendor's ledger
    starts from it (the opening float is not an entry, ``check-ledger`` does not check it);
    raised after sales, it would no longer equal the ledger. The administrator's name is
    ``loadgen-<random>``, new on every call.
    """
    async with sql_core(settings.database_url, settings.key_encryption_key, migrate=True) as core:
        fresh = await load_demo_data(core)
        if raise_float or (fresh and meters):
            async with core.uow() as uow:
                if raise_float:
                    await raise_demo_float(uow)
                if fresh and meters:
                    await add_load_meters(uow, meters)
                await uow.commit()
        key = await create_api_client(
            core, SecretBox(settings.key_encryption_key), vendor_code=VENDOR, name="loadgen"
        )
        admin = AdminUser(
            username=f"loadgen-{secrets.token_hex(4)}",
            level=AdminLevel.ADMINISTRATOR,
            password_hash="",
            created_at=datetime.now(UTC),
        )
        await create_user(core, None, "loadgen", admin, admin_password)
    return Credentials(key.key_id, key.secret, admin.username, admin_password)
