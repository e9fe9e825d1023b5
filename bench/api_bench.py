"""Partner API vends per second and vend latency with 64 concurrent clients, SQLite and PostgreSQL.

The gateway runs in this process on 127.0.0.1 (aiohttp runner, random port) on a fresh
database with the demo data: a new SQLite file, or a new PostgreSQL database
(``CREATE DATABASE`` on ``--postgres``, migrated at startup, dropped at the end). One API key
of the demo vendor DEMO-POS, whose float is raised so that it never runs out. The load comes
from a second OS process (this script run with ``--client``, its job — with the key's secret
— read from stdin, never from argv), so the client's CPU is not counted as server latency.

Runs per database, each ``--clients`` concurrent clients for ``--duration`` seconds, every
client sending its next request as soon as the last one is answered (but in ``paced``):

* ``healthz``: ``GET /healthz``, the HTTP floor (no auth, no database).
* ``balance``: signed ``GET /api/v1/vendor/balance``, the authenticated floor (key lookup
  and signature check, one read).
* ``vends``: signed ``POST /api/v1/vends`` of R10.00, every request with its own
  ``Idempotency-Key``, the twelve demo meters in turn (each vend locks its meter's row to
  allocate the token id, so meters are spread over the clients).
* ``vends-m``: the same over ``--spread`` (default 512) extra flat-tariff meters added for
  the benchmark: sixty-four clients on twelve meters queue on the meters' row locks, which
  real traffic over a utility's many meters does not; this run separates that queueing from
  the rest (every vend of one vendor also locks the vendor's float row).
* ``paced``: vends on the demo meters with the clients together offering ``--rate`` vends/s
  (default 300, the issue's target). The runs above are closed loops at saturation, where by
  Little's law the mean latency is 64 / throughput (64 clients at 300 vends/s wait 213 ms on
  average whatever the server does), so the latency target is judged on this run: 300 vends/s
  offered, at least 95 % of them served, with p99 under 200 ms.

Each line prints requests, requests/s, p50/p90/p99/max latency (ms, as the client sees it),
errors (non-2xx by status and problem code, transport errors) and the ratio to the same
database's ``balance`` rate. Finally (unless ``--no-profile``) the server's event-loop
thread is profiled (cProfile) during one more vends run on the last database and the top
functions by cumulative and own time are printed. The machine may be
shared: compare lines of one run, and run it more than once.

Run with ``.venv/bin/python bench/api_bench.py [--clients 64] [--duration 10]
[--db sqlite|postgres|both] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
[--spread 512] [--rate 300] [--no-profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import secrets
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web
from yarl import URL

import sts
from config.logging import configure_logging
from config.settings import Settings
from gateway import keys
from gateway.api.client import SigningClient
from gateway.app import Overrides, create_app
from gateway.loadgen import VENDOR, raise_demo_float
from gateway.sms.memory import MemorySmsSender
from vending_core.adapters.api_secrets import SecretBox
from vending_core.adapters.compose import sql_core
from vending_core.adapters.db import create_engine
from vending_core.domain.model import Meter
from vending_core.service.api_clients import create_api_client
from vending_core.service.core import Core
from vending_core.service.demo_data import DEMO_METERS, load_demo_data

TARGET_VENDS_PER_SECOND: Final = 300
TARGET_P99_MS: Final = 200.0
AMOUNT: Final = 1_000  #: R10.00: above every demo tariff's R5.00 minimum
POSTGRES: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
_SELF: Final = str(Path(__file__).resolve())  #: run again with --client for the load
CLIENT_GRACE: Final = 60.0  #: seconds a client may run past its duration before it is killed
_OK: Final = frozenset({200, 201})
_SPREAD_BASE: Final = 5_000_000  #: extra meters are numbered from here


# ---------------------------------------------------------------- the load generator (client)


@dataclass(slots=True)
class Recorder:
    """Latencies (seconds) and error counts of one client run."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def percentiles(latencies: Sequence[float]) -> dict[str, float]:
    """Nearest-rank p50/p90/p99 and max, in milliseconds (zeros when empty)."""
    ordered = sorted(latencies)
    if not ordered:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    return {"p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": ordered[-1] * 1000}


def _problem_code(body: bytes) -> str:
    try:
        kind = json.loads(body).get("type", "")
    except (ValueError, AttributeError):
        return "not-json"
    return str(kind).rsplit("/", 1)[-1]


async def _one(
    client: SigningClient, http: aiohttp.ClientSession, job: dict[str, Any], n: int
) -> str | None:
    """One request of the job's kind; None when it succeeded, else the error's category."""
    kind = job["kind"]
    if kind == "healthz":
        async with http.get(f"{job['base']}/healthz") as response:
            await response.read()
            return None if response.status == 200 else f"http-{response.status}"  # noqa: PLR2004
    if kind == "balance":
        answer = await client.request("GET", "/api/v1/vendor/balance")
    else:
        meter = job["meters"][n % len(job["meters"])]
        answer = await client.request(
            "POST",
            "/api/v1/vends",
            {"meter_number": meter, "amount": AMOUNT},
            idempotency_key=f"{job['tag']}-{n}",
        )
    if answer.status in _OK:
        return None
    return f"{answer.status} {_problem_code(answer.body)}"


async def _slot(http: aiohttp.ClientSession, job: dict[str, Any], slot: int, rec: Recorder) -> None:
    """One client: requests back to back until the deadline."""
    client = SigningClient(http, job["base"], job["key_id"], job["secret"])
    number = slot  # slot s sends s, s + clients, ...: distinct keys, meters in turn
    interval = job["clients"] / job["rate"] if job["rate"] else 0.0
    next_at = time.perf_counter() + interval * slot / job["clients"]  # slots out of step
    while time.perf_counter() < job["deadline"]:
        if interval:  # paced: wait for this slot's turn; a late slot goes at once, no burst
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at = max(next_at + interval, time.perf_counter())
            if time.perf_counter() >= job["deadline"]:
                break
        started = time.perf_counter()
        try:
            error = await _one(client, http, job, number)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"transport-{type(exc).__name__}"
        rec.latencies.append(time.perf_counter() - started)
        if error is not None:
            rec.errors[error] += 1
        number += job["clients"]


async def run_load(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` (base URL, kind, clients, duration, credentials) and summarise it."""
    rec = Recorder()
    connector = aiohttp.TCPConnector(limit=job["clients"] + 8)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started, cpu = time.perf_counter(), time.process_time()
        job = {**job, "deadline": started + job["duration"]}
        await asyncio.gather(*(_slot(http, job, n, rec) for n in range(job["clients"])))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "requests": len(rec.latencies),
        "seconds": seconds,
        "client_cpu": cpu,
        "latency": percentiles(rec.latencies),
        "errors": dict(rec.errors),
    }


# ---------------------------------------------------------------- the server and the runs


@dataclass(frozen=True, slots=True)
class Result:
    """One client run's summary (:func:`run_load`) and the server's CPU seconds meanwhile."""

    label: str
    data: dict[str, Any]
    cpu: float = 0.0  #: the server process, all threads (SQLite runs in aiosqlite's threads)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return float(self.data["requests"]) / float(self.data["seconds"])

    @property
    def ok_rate(self) -> float:
        """Successful requests per second."""
        failed = sum(self.data["errors"].values())
        return float(self.data["requests"] - failed) / float(self.data["seconds"])


@dataclass(frozen=True, slots=True)
class Server:
    """A running gateway: its base URL and the benchmark's API key."""

    base: str
    key_id: str
    secret: str
    pid: int | None = None  #: the ``vendgate serve --workers`` parent, if not in this process


async def _admin(url: str, sql: str) -> None:
    """Run CREATE/DROP DATABASE (no transaction: autocommit) on the server of ``url``."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def database(folder: Path, db: str, admin_url: str) -> AsyncIterator[str]:
    """A fresh database URL: a new SQLite file, or a new PostgreSQL database (then dropped)."""
    if db == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / f'api-{secrets.token_hex(3)}.sqlite3'}"
        return
    name = f"vendgate_bench_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield str(URL(admin_url).with_path(f"/{name}"))
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def spread_meters(count: int) -> list[str]:
    """Numbers of ``count`` extra meters (11 digits with the Luhn digit, beyond the demo's)."""
    numbers = []
    for n in range(_SPREAD_BASE, _SPREAD_BASE + count):
        base = f"{n:010d}"
        numbers.append(base + str(sts.identifiers.luhn_digit(base)))
    return numbers


async def _prepare(core: Core, kek: bytes, spread: int) -> tuple[str, str]:
    """Raise DEMO-POS's float out of reach, add ``spread`` meters, make an API key.

    The extra meters are on the demo's DKGA02 supply group and flat tariff, without a
    customer. Returns the key (id, secret).
    """
    async with core.uow() as uow:
        await raise_demo_float(uow)
        for number in spread_meters(spread):
            await uow.meters.add(_flat_meter(number))
        await uow.commit()
    created = await create_api_client(core, SecretBox(kek), vendor_code=VENDOR, name="api_bench")
    return created.key_id, created.secret


def _flat_meter(number: str) -> Meter:
    return Meter(
        number=number,
        pan=sts.Pan.parse(number).digits,
        sgc="123456",
        ti=1,
        krn=1,
        base_date=2014,
        ea=7,
        dkga=2,
        tariff_code="BUS-FLAT",
    )


@contextlib.asynccontextmanager
async def gateway(url: str, spread: int) -> AsyncIterator[Server]:
    """A gateway on 127.0.0.1 (random port) on the database at ``url``, with the demo data."""
    overrides = Overrides(sms_sender=MemorySmsSender(), demo_data=True)
    app = create_app(Settings(database_url=url), overrides=overrides)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        key_id, secret = await _prepare(
            app[keys.CORE], app[keys.SETTINGS].key_encryption_key, spread
        )
        yield Server(f"http://{host}:{port}", key_id, secret)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def gateway_workers(
    url: str, spread: int, workers: int, redis_url: str
) -> AsyncIterator[Server]:
    """``vendgate serve --workers N`` on 127.0.0.1 (a free port) on ``url``, with the demo data.

    The database is prepared here first (migrated, demo data, float, meters, key); the
    server's CPU is read from /proc for its worker processes (:func:`workers_cpu`).
    """
    settings = Settings(database_url=url)
    async with sql_core(url, settings.key_encryption_key, migrate=True) as core:
        await load_demo_data(core)
        key_id, secret = await _prepare(core, settings.key_encryption_key, spread)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"VENDGATE_DATABASE_URL": url, "VENDGATE_REDIS_URL": redis_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", str(workers),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_healthy(base, process)
        yield Server(base, key_id, secret, pid=process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def _until_healthy(base: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline and process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:  # noqa: PLR2004
                        await asyncio.sleep(1.0)  # every worker listening
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError("the gateway workers did not become healthy")


def workers_cpu(parent: int) -> float:
    """CPU seconds (user + system) of ``parent`` and its child processes, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(stat.parent.name) == parent or int(fields[1]) == parent:
            total += int(fields[11]) + int(fields[12])
    return total / tick


async def in_subprocess(label: str, job: dict[str, Any], server: Server | None = None) -> Result:
    """Run :func:`run_load` in a second OS process (this script with ``--client``)."""
    pid = server.pid if server else None
    server_cpu = time.process_time if pid is None else (lambda: workers_cpu(pid))
    cpu = server_cpu()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        _SELF,
        "--client",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
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
    return Result(label, data, server_cpu() - cpu)


def _job(
    server: Server,
    kind: str,
    args: argparse.Namespace,
    meters: Sequence[str] = (),
    rate: float = 0.0,
) -> dict[str, Any]:
    return {
        "rate": rate,  #: requests/s offered in all (0: every client goes as fast as it can)
        "base": server.base,
        "key_id": server.key_id,
        "secret": server.secret,
        "kind": kind,
        "clients": args.clients,
        "duration": args.duration,
        "meters": list(meters) or [meter.number for meter in DEMO_METERS],
        "tag": f"b{secrets.token_hex(4)}",  # fresh idempotency keys per run
    }


def show(db: str, result: Result, floor: float | None) -> None:
    """Print one run's line and its CPU cost per request."""
    data, lat = result.data, result.data["latency"]
    ratio = f"  {result.rate / floor:.2f} x balance" if floor else ""
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(data["errors"].items())) or "0"
    print(
        f"{db:10} {result.label:8} {data['requests']:7,} req {result.rate:7,.0f}/s  "
        f"p50 {lat['p50']:6.1f}  p90 {lat['p90']:6.1f}  p99 {lat['p99']:6.1f}  "
        f"max {lat['max']:7.1f} ms  errors {errors}{ratio}"
    )
    per = 1e6 / max(data["requests"], 1)
    print(
        f"{'':19} server CPU {result.cpu * per:6.0f} us a request (all threads), "
        f"load client CPU {data['client_cpu'] * per:.0f} us"
    )


def verdict(result: Result, offered: float) -> None:
    """Print whether a paced vends run met the issue's target (and served what was offered)."""
    p99, served = result.data["latency"]["p99"], result.ok_rate
    met = offered >= TARGET_VENDS_PER_SECOND and served >= 0.95 * offered and p99 < TARGET_P99_MS
    print(
        f"{'':19} target: {TARGET_VENDS_PER_SECOND} vends/s with p99 < {TARGET_P99_MS:.0f} ms "
        f"(offered {offered:,.0f}/s, served {served:,.0f} vends/s, p99 {p99:.1f} ms): "
        f"{'met' if met else 'NOT met'}"
    )


async def bench_db(folder: Path, db: str, args: argparse.Namespace, *, profile: bool) -> None:
    """healthz, balance and vends on a fresh gateway and database; the profile when asked."""
    workers = args.workers if db == "postgres" else 1
    label = db if workers == 1 else f"{db}x{workers}"
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(database(folder, db, args.postgres))
        if workers == 1:
            server = await stack.enter_async_context(gateway(url, args.spread))
        else:
            server = await stack.enter_async_context(
                gateway_workers(url, args.spread, workers, args.redis)
            )

        async def load(name: str, job: dict[str, Any]) -> Result:
            return await in_subprocess(name, job, server)

        floor = await load("healthz", _job(server, "healthz", args))
        show(label, floor, None)
        balance = await load("balance", _job(server, "balance", args))
        show(label, balance, None)
        vends = await load("vends", _job(server, "vends", args))
        show(label, vends, balance.rate)
        if args.spread:
            meters = spread_meters(args.spread)
            spread = await load("vends-m", _job(server, "vends", args, meters))
            show(label, spread, balance.rate)
        if args.rate:
            paced = await load("paced", _job(server, "vends", args, rate=args.rate))
            show(label, paced, balance.rate)
            verdict(paced, args.rate)
        if profile and workers == 1:
            await profile_vends(server, db, args)


async def profile_vends(server: Server, db: str, args: argparse.Namespace, top: int = 15) -> None:
    """Profile the server's event-loop thread during a vends run; print the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = await in_subprocess("profiled", _job(server, "vends", args))
    finally:
        profiler.disable()
    print(
        f"\nProfile of the server during a {db} vends run ({result.data['requests']:,} "
        f"requests, {result.rate:,.0f}/s under cProfile; database driver threads not seen):"
    )
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        print(f"top {top} by {order} time:")
        print("\n".join(line for line in lines[start:] if line.strip()))


def postgres_reachable(url: str) -> bool:
    """True when something listens where ``url`` points."""
    parsed = URL(url)
    try:
        socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1).close()
    except OSError:
        return False
    return True


async def main(args: argparse.Namespace) -> None:
    """Run every chosen database, then the profile on the last one."""
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not postgres_reachable(args.postgres):
        print("postgres: not reachable, skipped")
        dbs.remove("postgres")
    print(
        f"{args.clients} concurrent clients, {args.duration:.0f} s a run, {os.cpu_count()} cpus;"
        " load from a second process; latencies as the client sees them"
    )
    with tempfile.TemporaryDirectory() as name, (Path(name) / "server.log").open("w") as log:
        with contextlib.redirect_stderr(log):
            configure_logging(json_lines=True)  # production's format, into a file
        for index, db in enumerate(dbs):
            last = index == len(dbs) - 1
            await bench_db(Path(name), db, args, profile=args.profile and last)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres", default=POSTGRES, help="an admin URL on the server")
    parser.add_argument(
        "--spread",
        type=int,
        default=512,
        help="extra meters for the vends-m run (0: skip it)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(TARGET_VENDS_PER_SECOND),
        help="vends/s offered in the paced run (0: skip it)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="PostgreSQL: run the gateway as `vendgate serve --workers N` (N > 1; default 1:"
        " in this process)",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/14",
        help="with --workers > 1: the Redis the workers share (USSD sessions)",
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(argv: Sequence[str] | None = None) -> None:
    """Entry point: the benchmark, or (``--client``, job on stdin) the load generator's side."""
    args = parse(argv)
    if args.client:
        print(json.dumps(asyncio.run(run_load(json.loads(sys.stdin.read())))))
    else:
        asyncio.run(main(args))


if __name__ == "__main__":
    run()
