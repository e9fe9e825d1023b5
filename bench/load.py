"""Mixed purchase load against 1, then 2 gateway replicas on PostgreSQL and Redis (issue 8).

A bounded load generator: loopback only, and it stops by itself after ``--duration`` seconds
a run. For each replica count (``--replicas 1,2`` by default) it creates a fresh PostgreSQL
database (dropped at the end), prepares it once (:func:`gateway.loadgen.prepare_database`:
demo data plus ``--meters`` more meters (1,000: sold to in turn, so vends do not queue on a
dozen meters' row locks as no utility's would), DEMO-POS's float out of reach, an API key, an
administrator), starts that many ``vendgate serve`` processes on free ports (one worker each,
``--connections`` to PostgreSQL shared out among them, in production mode with JSON log lines
appended to a file and a key-encryption key of the run, sharing the database and Redis,
sandbox payments paying after 50 ms, token SMS sent with the real Africa's Talking client to a
small sink in this process that accepts everything), and runs the mix from a second OS process
(this script with ``--client``) so the load's CPU is not the bench's: ``--concurrency`` slots,
each sending its next purchase as soon as the last is answered (:func:`gateway.loadgen.run_for`)
spread over the replicas in turn; with ``--rate R``, R requests a second are started whatever
the answers (open loop, at most ``--concurrency`` in flight: :func:`gateway.loadgen.run_paced`),
for latencies at a given offered load rather than at saturation. The mix
(``--mix ussd=4,sms=3,api=3,report=1``):

* ``ussd``: a whole purchase over one of the four aggregators (6 hops, the last waits for the
  sandbox and the vend and shows the token); its latency is the whole session's.
* ``sms``: ``BUY <meter> <amount>`` to the Africa's Talking inbound route (the answer is
  immediate; the vend follows when the sandbox pays, and its token SMS).
* ``api``: a signed partner API vend with its own Idempotency-Key.
* ``report``: the back office's sales report by channel over two days (not a purchase).

Each run prints per kind: requests, completed per second, p50/p99 latency (ms, as the client
sees it), errors by category; then purchases/s (ussd + sms + api completed), their p99, and the
CPU seconds per purchase of the replicas, of PostgreSQL (every ``postgres`` process on the
machine and the backends that exited meanwhile: other users of the server count too), of Redis,
of the load client, of this process (the SMS sink) and the rest of the machine's busy time
(mostly the kernel moving loopback traffic), read from /proc, i.e. where the time goes. After
the load the SMS purchases still paying are given a few seconds, then ``vendgate
check-ledger`` runs on the database and its verdict is printed. Then the HTTP floor:
``GET /healthz`` from the same client for a few seconds, its CPU per exchange, and the ceiling
that puts on purchases/s given the mix's HTTP exchanges per purchase (client requests plus the
SMS the replicas post); and the database floor: ``SELECT 1`` round trips over asyncpg, the CPU
of PostgreSQL and of the driver per round trip (a purchase makes dozens). Finally the target
of the issue: two replicas sustain at least 500 purchases/s of mixed traffic with p99 under
250 ms, and adding a replica never reduces throughput (the ratio of the last run to the
first).

With ``--url URL`` (repeat it) the load goes to replicas already running instead, on the
database of ``VENDGATE_DATABASE_URL`` (prepared as above, but the float is left alone).

Run with ``.venv/bin/python bench/load.py [--replicas 1,2] [--duration 15] [--concurrency 64]
[--rate R] [--mix ussd=4,sms=3,api=3,report=1] [--meters 1000] [--connections 16]
[--postgres URL] [--redis URL] [--url URL ...] [--profile]``.
The machine may be shared: compare the lines of one run, and run it more than once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import math
import os
import pstats
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import asyncpg
from aiohttp import web
from yarl import URL

from config.settings import Settings
from gateway.loadgen import (
    KINDS,
    Credentials,
    Kind,
    Mix,
    Outcome,
    load_meters,
    prepare_database,
    run_for,
    run_paced,
)
from vending_core.adapters.db import create_engine
from vending_core.service.demo_data import DEMO_METERS

TARGET_PURCHASES_PER_SECOND: Final = 500
TARGET_P99_MS: Final = 250.0
POSTGRES: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS: Final = "redis://127.0.0.1:6379/0"
SANDBOX_DELAY: Final = "0.05"
PURCHASES: Final = ("ussd", "sms", "api")
#: PostgreSQL connections of all the replicas together: 8 per core of the 2-core machine (each
#: replica's VENDGATE_DB_POOL_SIZE and _OVERFLOW; two replicas at 6 + 2 each sold ~10 % more
#: than at the default 10 + 10, PostgreSQL spending ~25 % less CPU per purchase)
CONNECTIONS: Final = 16
METERS: Final = 1_000  #: added to the demo's 12: vends queue on a meter's row lock
FLOOR_SECONDS: Final = 5.0  #: the /healthz run after each mixed run
#: HTTP exchanges of one request of a kind: the client's requests (6 USSD hops), plus the SMS
#: the replica posts to the sink (a USSD purchase's token SMS; an SMS purchase's reply and token)
EXCHANGES: Final = {"ussd": 6 + 1, "sms": 1 + 2, "api": 1, "report": 1}
SETTLE: Final = 10.0  #: seconds SMS purchases still paying may take after the load
CLIENT_GRACE: Final = 60.0  #: seconds the client may run past its duration before it is killed
_SELF: Final = str(Path(__file__).resolve())


# ---------------------------------------------------------------- the load client


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted seconds, in milliseconds (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def summarise(outcomes: Sequence[Outcome], seconds: float) -> dict[str, Any]:
    """Per kind: requests, completed, p50/p99 of the completed ones, errors by category."""
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [o for o in outcomes if o.purchase.kind == kind]
        ok = sorted(o.seconds for o in mine if o.ok)
        kinds[kind] = {
            "requests": len(mine),
            "ok": len(ok),
            "p50": percentile(ok, 0.5),
            "p99": percentile(ok, 0.99),
            "errors": dict(Counter(f"{o.status} {o.detail}" for o in mine if not o.ok)),
        }
    bought = sorted(o.seconds for o in outcomes if o.ok and o.purchase.kind in PURCHASES)
    return {
        "seconds": seconds,
        "kinds": kinds,
        "purchases": len(bought),
        "purchase_p99": percentile(bought, 0.99),
    }


async def client(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job (bases, mix, credentials, duration, concurrency); the summary."""
    credentials = Credentials(**job["credentials"])
    weights = tuple((kind, int(weight)) for kind, weight in job["weights"])
    meters = (*(m.number for m in DEMO_METERS), *load_meters(job["meters"]))
    mix = Mix(
        tuple(job["bases"]), weights, tag=job["tag"], phone_prefix=job["phones"], meters=meters
    )
    connector = aiohttp.TCPConnector(limit=job["concurrency"] + 8)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started, cpu = time.perf_counter(), time.process_time()
        skipped = 0
        if job.get("rate"):
            outcomes, skipped = await run_paced(
                http,
                credentials,
                mix,
                seconds=job["duration"],
                rate=job["rate"],
                concurrency=job["concurrency"],
            )
        else:
            outcomes = await run_for(
                http, credentials, mix, seconds=job["duration"], concurrency=job["concurrency"]
            )
        seconds = time.perf_counter() - started
    return summarise(outcomes, seconds) | {
        "client_cpu": time.process_time() - cpu,
        "rate": job.get("rate"),
        "not_sent": skipped,
    }


# ---------------------------------------------------------------- servers and measurements


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_of(match: str | set[int]) -> float:
    """CPU seconds of the processes named ``match``, or with these pids, and of their dead children.

    user + system time, plus the children's that have exited and been reaped (``cutime`` and
    ``cstime``): PostgreSQL's backends are children of the postmaster, and a backend whose
    connection a pool closed during the run takes its CPU with it unless that is counted.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        chosen = int(stat.parent.name) in match if isinstance(match, set) else name == match
        if chosen:
            fields = raw[raw.rindex(")") + 2 :].split()
            total += sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
    return total / tick


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far (all cores, from /proc/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


@contextlib.asynccontextmanager
async def sms_sink() -> AsyncIterator[str]:
    """An Africa's Talking look-alike on 127.0.0.1 accepting every SMS; yields its base URL."""
    ids = iter(range(1, 10**12))

    async def messaging(request: web.Request) -> web.Response:
        form = await request.post()
        recipients = [
            {"statusCode": 101, "number": n, "status": "Success", "messageId": f"SINK{next(ids)}"}
            for n in str(form.get("to", "")).split(",")
        ]
        return web.json_response({"SMSMessageData": {"Recipients": recipients}}, status=201)

    app = web.Application()
    app.router.add_post("/version1/messaging", messaging)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _admin_sql(url: str, sql: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new PostgreSQL database on the server of ``admin_url`` (dropped at the end)."""
    name = f"vendgate_load_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield str(URL(admin_url).with_path(f"/{name}"))
    finally:
        await _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Replicas:
    """``vendgate serve`` processes (one worker each) on free ports."""

    processes: list[asyncio.subprocess.Process]
    bases: list[str]

    @property
    def pids(self) -> set[int]:
        """Their process ids."""
        return {process.pid for process in self.processes}


@contextlib.asynccontextmanager
async def replicas(
    count: int, env: dict[str, str], log: Path, profile: Path | None = None
) -> AsyncIterator[Replicas]:
    """Start ``count`` replicas (output appended to ``log``), wait until all are ready.

    With ``profile`` the first one runs under cProfile, which writes its statistics there
    when the replica stops (SIGTERM: aiohttp drains and returns, the interpreter exits).
    """
    running = Replicas([], [])
    with log.open("ab") as out:
        try:
            for index in range(count):
                port = free_port()
                command: tuple[str, ...] = ("-m", "gateway", "serve", "--port", str(port))
                if profile is not None and index == 0:
                    command = ("-m", "cProfile", "-o", str(profile), *command)
                process = await asyncio.create_subprocess_exec(
                    sys.executable, *command, env=env, stdout=out, stderr=out
                )
                running.processes.append(process)
                running.bases.append(f"http://127.0.0.1:{port}")
            await asyncio.gather(*(_ready(base) for base in running.bases))
            yield running
        finally:
            for process in running.processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in running.processes:
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _ready(base: str) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/readyz") as response:
                    if response.status == 200:  # noqa: PLR2004
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the replica at {base} did not become ready")


async def in_subprocess(job: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`client` in a second OS process (this script with ``--client``)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, _SELF, "--client",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(
            process.communicate(json.dumps(job).encode()), job["duration"] + CLIENT_GRACE
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"the load client exited with {process.returncode}")
    data: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    return data


async def check_ledger(env: dict[str, str]) -> tuple[int, str]:
    """``vendgate check-ledger`` with ``env`` (database, key): exit status and its verdict."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "check-ledger", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await process.communicate()
    lines = out.decode(errors="replace").strip().splitlines()
    failing = [line for line in lines if line.startswith("FAIL")]
    return process.returncode or 0, "; ".join([*failing, lines[-1] if lines else "no output"])


# ---------------------------------------------------------------- one run


@dataclass(frozen=True, slots=True)
class Run:
    """One run's label, client summary and the CPU seconds spent meanwhile, per party."""

    label: str
    data: dict[str, Any]
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        """Completed purchases per second."""
        return float(self.data["purchases"]) / float(self.data["seconds"])


def cpu_sample(pids: set[int]) -> dict[str, float]:
    """CPU seconds so far per party (see :func:`cpu_spent`)."""
    busy, total = machine_cpu()
    return {
        "replicas": cpu_of(pids) if pids else 0.0,
        "postgres": cpu_of("postgres"),
        "redis": cpu_of("redis-server"),
        "bench": time.process_time(),  # this process: the SMS sink, mostly
        "machine": busy,
        "_total": total,
    }


async def loaded(job: dict[str, Any], pids: set[int]) -> tuple[dict[str, Any], dict[str, float]]:
    """Run the client job; its summary and the CPU seconds each party spent meanwhile.

    The summary gains ``busy`` (the machine's busy share); the parties are the replicas,
    PostgreSQL, Redis, this process, the client and ``other`` (what else the machine did:
    mostly the kernel moving loopback traffic).
    """
    before = cpu_sample(pids)
    data = await in_subprocess(job)
    after = cpu_sample(pids)
    cpu = {party: after[party] - before[party] for party in before}
    cpu["client"] = float(data["client_cpu"])
    busy = cpu.pop("machine")
    data["busy"] = busy / max(cpu.pop("_total"), 1e-9)
    cpu["other"] = max(0.0, busy - sum(cpu.values()))
    return data, cpu


async def measure(label: str, job: dict[str, Any], pids: set[int], env: dict[str, str]) -> Run:
    """Run the client job, reading CPU before and after; then settle and check the ledger."""
    data, cpu = await loaded(job, pids)
    run = Run(label, data, cpu)
    show(run)
    await asyncio.sleep(SETTLE)  # SMS purchases still paying: their vends land first
    status, verdict = await check_ledger(env)
    print(f"{'':12} check-ledger: exit {status}: {verdict}")
    return run


async def http_floor(label: str, job: dict[str, Any], pids: set[int]) -> None:
    """Print what HTTP alone costs: ``GET /healthz`` from the same client, and what it caps.

    Every purchase is at least its HTTP exchanges (the client's requests, and the replica's
    token and reply SMS posted to the SMS sink); the cheapest exchange the gateway answers is
    the floor under each, so 2 cores divided by (its CPU x exchanges per purchase) is a
    ceiling no gateway code can beat on this machine with this HTTP stack.
    """
    floor = {"weights": [("health", 1)], "duration": FLOOR_SECONDS, "rate": None}
    data, cpu = await loaded(job | floor, pids)
    done = data["kinds"]["health"]["ok"]
    if not done:
        print(f"{'':12} HTTP floor: no /healthz answered")
        return
    per = 1e6 / done
    machine = sum(cpu.values()) * per
    where = ", ".join(
        f"{party} {seconds * per:.0f}" for party, seconds in cpu.items() if seconds * per >= 1
    )
    weights = dict(job["weights"])
    purchases = sum(weights.get(kind, 0) for kind in PURCHASES)
    exchanges = sum(weight * EXCHANGES.get(kind, 1) for kind, weight in weights.items())
    each = exchanges / max(purchases, 1)
    cores = os.cpu_count() or 1
    ceiling = cores * 1e6 / (machine * each)
    print(
        f"{label:12} HTTP floor: GET /healthz {done / data['seconds']:,.0f}/s, CPU us per"
        f" exchange: {where} (machine {machine:.0f}); this mix is {each:.1f} HTTP exchanges"
        f" per purchase, so HTTP alone caps {cores} cores at {ceiling:,.0f} purchases/s"
    )


async def database_floor(url: str, connections: int = 16) -> None:
    """Print what one PostgreSQL round trip costs: ``SELECT 1`` over asyncpg, in this process.

    ``connections`` connections in parallel for :data:`FLOOR_SECONDS`; the CPU of PostgreSQL
    and of this process (the driver: asyncpg on asyncio, as in the replicas) per round trip.
    A purchase's statements, BEGIN and COMMIT are each at least that.
    """
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        trips = 0
        deadline = time.perf_counter() + FLOOR_SECONDS

        async def loop(connection: asyncpg.Connection) -> None:
            nonlocal trips
            while time.perf_counter() < deadline:
                await connection.fetchval("SELECT 1")
                trips += 1

        before = (cpu_of("postgres"), time.process_time(), machine_cpu()[0])
        await asyncio.gather(*(loop(connection) for connection in pool))
        after = (cpu_of("postgres"), time.process_time(), machine_cpu()[0])
    finally:
        for connection in pool:
            await connection.close()
    server, driver, machine = (
        1e6 * (b - a) / max(trips, 1) for a, b in zip(before, after, strict=True)
    )
    print(
        f"{'':12} database floor: SELECT 1 {trips / FLOOR_SECONDS:,.0f}/s over {connections}"
        f" connections, CPU us per round trip: postgres {server:.0f}, driver {driver:.0f}"
        f" (machine {machine:.0f})"
    )


def show(run: Run) -> None:
    """Print a run: one line per kind, the purchases, and CPU per purchase."""
    data, seconds = run.data, run.data["seconds"]
    for kind, line in data["kinds"].items():
        if not line["requests"]:
            continue
        errors = ", ".join(f"{k} {v}" for k, v in sorted(line["errors"].items())) or "0"
        print(
            f"{run.label:12} {kind:6} {line['requests']:6,} req {line['ok'] / seconds:7,.1f} ok/s"
            f"  p50 {line['p50']:7.1f}  p99 {line['p99']:7.1f} ms  errors {errors}"
        )
    offered = (
        f" (offered {data['rate']:,.0f} requests/s, {data['not_sent']:,} not sent: too many in"
        " flight)"
        if data.get("rate")
        else ""
    )
    print(
        f"{run.label:12} purchases {data['purchases']:,} in {seconds:.1f} s = "
        f"{run.rate:,.1f}/s, p99 {data['purchase_p99']:.1f} ms{offered}"
    )
    cores = os.cpu_count() or 1
    if not data["purchases"]:  # a mix of reports only: nothing to divide by
        cpu = ", ".join(f"{party} {seconds:.1f} s" for party, seconds in run.cpu.items())
        print(f"{'':12} CPU: {cpu}; the machine was {data['busy']:.0%} busy (no purchases)")
        return
    per = 1000 / data["purchases"]
    where = ", ".join(f"{party} {seconds * per:.1f}" for party, seconds in run.cpu.items())
    print(
        f"{'':12} CPU ms per purchase: {where}; the machine was {data['busy']:.0%} busy"
        f" ({cores} cores = {cores * 1000 / run.rate:.1f} ms per purchase)"
    )


def verdict(runs: Sequence[Run]) -> None:
    """Print the issue's target against the runs: two replicas, and scaling."""
    for first, later in itertools_pairs(runs):
        if first.data.get("rate"):  # paced: every run completes what it is offered
            continue
        print(
            f"scaling: {later.label} / {first.label} = {later.rate / max(first.rate, 1e-9):.2f}"
            f" ({'no loss' if later.rate >= first.rate else 'LESS throughput'})"
        )
    two = [run for run in runs if run.label.startswith("2 ")]
    for run in two:
        met = run.rate >= TARGET_PURCHASES_PER_SECOND and run.data["purchase_p99"] < TARGET_P99_MS
        print(
            f"target: two replicas >= {TARGET_PURCHASES_PER_SECOND} purchases/s with p99 <"
            f" {TARGET_P99_MS:.0f} ms (got {run.rate:,.1f}/s, p99"
            f" {run.data['purchase_p99']:.1f} ms): {'met' if met else 'NOT met'}"
        )


def itertools_pairs(runs: Sequence[Run]) -> list[tuple[Run, Run]]:
    """Each run after the first, paired with the first."""
    return [(runs[0], run) for run in runs[1:]]


def pools(connections: int, replicas: int) -> dict[str, str]:
    """Each replica's pool settings: ``connections`` to PostgreSQL in all, 3/4 kept open."""
    each = max(2, connections // replicas)
    size = max(1, each * 3 // 4)
    return {"VENDGATE_DB_POOL_SIZE": str(size), "VENDGATE_DB_POOL_OVERFLOW": str(each - size)}


def job(args: argparse.Namespace, bases: Sequence[str], credentials: Credentials) -> dict[str, Any]:
    """The client's job (sent on its stdin: the key's secret never on a command line)."""
    return {
        "bases": list(bases),
        "weights": args.mix,
        "tag": f"L{secrets.token_hex(4)}",
        "phones": secrets.randbelow(90) + 10,
        "meters": args.meters,
        "duration": args.duration,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "credentials": {
            "key_id": credentials.key_id,
            "secret": credentials.secret,
            "admin_user": credentials.admin_user,
            "admin_password": credentials.admin_password,
        },
    }


async def main(args: argparse.Namespace) -> None:
    """Every replica count in turn (or the given URLs), then the verdict."""
    print(
        f"{args.concurrency} concurrent clients, {args.duration:.0f} s a run, mix "
        f"{','.join(f'{k}={w}' for k, w in args.mix)}, {os.cpu_count()} cpus; load from a "
        "second process; latencies as the client sees them"
    )
    password = secrets.token_urlsafe(16)
    runs: list[Run] = []
    if args.url:
        if not os.environ.get("VENDGATE_DATABASE_URL", "").startswith("postgresql"):
            raise SystemExit("--url needs VENDGATE_DATABASE_URL: the replicas' PostgreSQL")
        credentials = await prepare_database(
            Settings.from_env(os.environ), admin_password=password, raise_float=False
        )
        args.meters = 0  # the given database's meters beyond the demo's are not known
        load = job(args, args.url, credentials)
        runs.append(await measure(f"{len(args.url)} given", load, set(), dict(os.environ)))
        return
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"vendgate-load-{os.getpid()}.log"  # noqa: S108
    print(f"replica output: {log}")
    async with sms_sink() as sink:
        for number, count in enumerate(args.replicas, start=1):
            last = number == len(args.replicas)
            async with fresh_database(args.postgres) as url:
                kek = secrets.token_bytes(32)
                credentials = await prepare_database(
                    Settings(database_url=url, key_encryption_key=kek),
                    admin_password=password,
                    meters=args.meters,
                )
                env = os.environ | {
                    "VENDGATE_ENVIRONMENT": "production",  # JSON log lines, as deployed
                    "VENDGATE_KEY_ENCRYPTION_KEY": base64.b64encode(kek).decode(),
                    "VENDGATE_DATABASE_URL": url,
                    "VENDGATE_REDIS_URL": args.redis,
                    "VENDGATE_SANDBOX_DELAY": SANDBOX_DELAY,
                    "VENDGATE_SMS_SENDER": "africastalking",
                    "VENDGATE_AT_BASE_URL": sink,
                    "VENDGATE_AT_USERNAME": "load",
                    "VENDGATE_AT_API_KEY": "load",
                    **pools(args.connections, count),
                }
                profile = log.with_suffix(".prof") if args.profile and last else None
                async with replicas(count, env, log, profile) as running:
                    label = f"{count} replica{'s' if count > 1 else ''}"
                    load = job(args, running.bases, credentials)
                    runs.append(await measure(label, load, running.pids, env))
                    await http_floor(label, load, running.pids)
                await database_floor(url)
                if profile is not None:
                    show_profile(profile, label)
    verdict(runs)


def show_profile(path: Path, label: str, top: int = 25) -> None:
    """The profiled replica's top functions by own time (its whole life, start-up included)."""
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    print(f"\nProfile of the first replica of the {label} run (cProfile, top {top} by own time):")
    print("\n".join(line for line in lines[start:] if line.strip()))


def _mix(text: str) -> list[tuple[Kind, int]]:
    weights: list[tuple[Kind, int]] = []
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in KINDS or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(f"not KIND=WEIGHT with KIND in {KINDS}: {part!r}")
        weights.append((kind.strip(), int(weight)))  # type: ignore[arg-type]
    return [(kind, weight) for kind, weight in weights if weight > 0]


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--replicas",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="replica counts to run in turn (default 1,2)",
    )
    parser.add_argument("--url", action="append", default=[], help="an existing replica")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offer this many requests a second (open loop) instead of a closed loop",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        help="PostgreSQL connections of all replicas together (3/4 kept open, 1/4 overflow)",
    )
    parser.add_argument(
        "--meters",
        type=int,
        default=METERS,
        help="meters added to the demo's 12 on each fresh database, sold to in turn",
    )
    parser.add_argument("--mix", type=_mix, default=_mix("ussd=4,sms=3,api=3,report=1"))
    parser.add_argument("--postgres", default=POSTGRES, help="a server's maintenance database")
    parser.add_argument("--redis", default=REDIS)
    parser.add_argument(
        "--profile", action="store_true", help="profile the last run's first replica (cProfile)"
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(argv: Sequence[str] | None = None) -> None:
    """Entry point: the benchmark, or (``--client``, job on stdin) the load client."""
    args = parse(argv)
    if args.client:
        print(json.dumps(asyncio.run(client(json.loads(sys.stdin.read())))))
    else:
        asyncio.run(main(args))


if __name__ == "__main__":
    run()
