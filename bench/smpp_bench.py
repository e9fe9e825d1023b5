"""MO->MT round trips per second over one SMPP bind (window 10), and round-trip latency.

The independent ``smpp34`` server is the operator's SMSC, run as a second OS process (this
script with ``--peer PORT``, one smpp34 worker thread). The gateway runs in this process with
the production SMPP wiring: ``create_app`` with sender ``smpp`` and one bind (window 10, TPS
high enough not to limit) from the settings, a fresh SQLite file with the demo data, the
memory session store, sandbox payments with no delay, JSON log lines into a file.

The peer plays ``--concurrency`` customers at once (closed loop): each sends an MO
(``deliver_sm``) from a fresh number, waits for the gateway's reply ``submit_sm`` to that
number, then the next. A round trip is the time, on the peer's clock, from sending the
``deliver_sm`` to receiving that reply ``submit_sm``; the peer accepts every submit at once.

Runs, each bounded by ``--messages`` and ``--duration`` (whichever ends first):

* ``echo``: the baseline: a bare ``SmppLink`` (no gateway, no database) bound to the same peer
  that answers every MO with a ``submit_sm`` at once: the SMPP floor of this machine.
* ``help/bal``: HELP and ``BAL <meter>`` in turn through the gateway (replies need no payment).
* ``buy`` (with ``--buy``): ``BUY <meter> 100``: round trip to the "Approve..." reply, and apart
  the time to the token SMS (the sandbox pays at once; each purchase mints a real STS token).

Each prints round trips, round trips/s, p50/p90/p99/max (ms), lost MOs (no reply in 10 s)
and the ratio to the echo baseline, and for echo and help/bal a ``deliver_sm_resp`` line: the
same statistics for deliver_sm -> deliver_sm_resp (how long the ESME took to take the MO).
``--profile`` adds a cProfile of the gateway during one more help/bal run (top functions by
cumulative and own time). The target (issue 5) is at least 300 round trips/s on a 2-core
machine. The machine may be shared: run it more than once.

Run with ``.venv/bin/python bench/smpp_bench.py [--messages 3000] [--duration 10]
[--concurrency 10] [--buy] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from config.gateway import GatewaySettings, SmsSettings
from config.logging import configure_logging
from config.settings import Settings
from gateway.app import Overrides, create_app
from gateway.payments.sandbox import SandboxConfig, SandboxProvider
from smpp.client import SmppLink
from smpp.config import BindConfig
from smpp.models import InboundMessage
from vending_core.service.demo_data import DEMO_METERS
from vending_core.service.payment_ports import Deliver, PaymentProvider
from vending_core.service.sms_ports import OutboundSms

TARGET_ROUND_TRIPS_PER_SECOND: Final = 300
SHORT_CODE: Final = "20880"
REPLY_WAIT: Final = 10.0  #: seconds: an MO without its reply by then is counted lost
BIND: Final[dict[str, Any]] = {
    "name": "bench",
    "host": "127.0.0.1",
    "system_id": "vendgate",
    "password": "bench",  # the smpp34 peer accepts any credentials
    "window": 10,
    "tps": 100_000.0,  # never the limit here
}
BUY_METERS: Final = [m for m in DEMO_METERS if not m.fbe]


# --------------------------------------------------------------------------- the peer process


async def peer_main(port: int) -> None:  # the subprocess: smpp34 server + simulated customers
    """Serve on 127.0.0.1:port; print ``ready``, ``bound`` per bind, one JSON line per run."""
    import smpp34  # noqa: PLC0415 - only the peer process needs the Rust extension

    server = smpp34.Server(host="127.0.0.1", port=port, system_id="BENCHSMSC")
    await server.start()
    state: dict[str, Any] = {"esme": None, "waiting": {}, "count": 0, "resp": []}
    state["commands"] = asyncio.ensure_future(peer_commands(state))  # kept: not collected
    print("ready", flush=True)
    while True:
        event = await server.next()
        if isinstance(event, smpp34.Esme):
            state["esme"] = event
            print("bound", flush=True)
        elif isinstance(event, smpp34.Unbound):
            state["esme"] = None
        elif isinstance(event, smpp34.SubmitSmEvent):
            state["count"] += 1
            event.accept(message_id=f"B{state['count']}")
            waiting = state["waiting"].get(event.destination_addr)
            if waiting is not None:
                times, replies, done = waiting
                times.append(time.perf_counter())
                if len(times) > replies and not done.done():
                    done.set_result(None)


async def peer_commands(state: dict[str, Any]) -> None:
    """Read ``run`` commands (JSON) on stdin; answer each with its result line on stdout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        result = await peer_run(state, json.loads(line))
        print(json.dumps(result), flush=True)


async def peer_run(state: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """``job["concurrency"]`` customers in a closed loop until messages or duration end."""
    numbers = iter(range(job["messages"]))
    first: list[float] = []
    last: list[float] = []
    resp: list[float] = []
    state["resp"] = resp  # deliver_sm -> deliver_sm_resp times, filled by peer_exchange
    lost = 0
    start = time.perf_counter()
    deadline = start + job["duration"]

    async def customer() -> None:
        nonlocal lost
        for n in numbers:
            if time.perf_counter() > deadline:
                return
            times = await peer_exchange(state, job, n)
            if len(times) < job["replies"] + 1:
                lost += 1
                continue
            first.append(times[1] - times[0])
            last.append(times[job["replies"]] - times[0])

    await asyncio.gather(*(customer() for _ in range(job["concurrency"])))
    elapsed = time.perf_counter() - start
    result = {"count": len(first), "lost": lost, "elapsed": elapsed, "first": first, "last": last}
    return result | {"resp": resp}


async def peer_exchange(state: dict[str, Any], job: dict[str, Any], n: int) -> list[float]:
    """One MO from a fresh number; [sent, reply times...] once ``replies`` came (or 10 s)."""
    number = f"{job['prefix']}{n:07d}"
    text: str = job["texts"][n % len(job["texts"])]
    times = [time.perf_counter()]
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    state["waiting"][number] = (times, job["replies"], done)
    try:
        await state["esme"].deliver_sm(SHORT_CODE, text.encode(), source_addr=number)
        state["resp"].append(time.perf_counter() - times[0])
        await asyncio.wait_for(done, REPLY_WAIT)
    except TimeoutError:
        pass
    finally:
        del state["waiting"][number]
    return times


# --------------------------------------------------------------------------- this process


class Peer:
    """The peer subprocess seen from here: start, wait for binds, run jobs, stop."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        if process.stdin is None or process.stdout is None:
            raise RuntimeError("the peer needs its stdin and stdout as pipes")
        self.process = process
        self.port = port
        self.stdin = process.stdin
        self.stdout = process.stdout

    @classmethod
    async def start(cls) -> Peer:
        """Spawn ``--peer`` on a free port and wait for ``ready``."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--peer",
            str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "SMPP34_WORKER_THREADS": "1"},
            limit=1 << 24,  # one result line carries every latency of a run
        )
        peer = cls(process, port)
        await peer.expect("ready")
        return peer

    async def expect(self, word: str) -> None:
        """Read stdout lines until ``word`` (fails after 10 s)."""
        async with asyncio.timeout(10.0):
            while (line := await self.stdout.readline()).decode().strip() != word:
                if not line:
                    raise RuntimeError("the smpp34 peer exited")

    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Send a job; its result (skipping ``bound`` lines)."""
        self.stdin.write(json.dumps(job).encode() + b"\n")
        await self.stdin.drain()
        while True:
            line = await self.stdout.readline()
            if line.startswith(b"{"):
                result: dict[str, Any] = json.loads(line)
                return result
            if not line:
                raise RuntimeError("the smpp34 peer exited")

    async def stop(self) -> None:
        """Kill and reap the subprocess."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


@contextlib.asynccontextmanager
async def echo_link(peer: Peer) -> AsyncIterator[None]:
    """The baseline ESME: a bare SmppLink that answers every MO with one submit_sm at once."""
    jobs: set[asyncio.Task[object]] = set()
    link = SmppLink(BindConfig(port=peer.port, **BIND))

    async def on_mo(message: InboundMessage) -> None:
        reply = OutboundSms(to=message.source_addr, text="ok", reference="echo")
        job: asyncio.Task[object] = asyncio.get_running_loop().create_task(link.submit(reply))
        jobs.add(job)
        job.add_done_callback(jobs.discard)

    link.on_mo = on_mo
    link.start()
    try:
        await peer.expect("bound")
        yield
    finally:
        await link.stop()


def _sandbox(deliver: Deliver, http: Any) -> PaymentProvider:
    return SandboxProvider(SandboxConfig(delay=0.0), deliver=deliver, session=http)


@contextlib.asynccontextmanager
async def gateway(peer: Peer, folder: Path) -> AsyncIterator[None]:
    """The gateway in this process with one bind to the peer (sender smpp)."""
    sms = SmsSettings(sender="smpp", smpp_binds=({**BIND, "port": peer.port},))
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'smpp-bench.sqlite3'}",
        gateway=GatewaySettings(sms=sms, sms_rate_limit=1_000_000),
    )
    overrides = Overrides(providers={"sandbox": _sandbox}, demo_data=True)
    runner = web.AppRunner(create_app(settings, overrides=overrides), access_log=None)
    await runner.setup()  # builds the core, the outbox dispatcher and the link
    try:
        await peer.expect("bound")
        yield
    finally:
        await runner.cleanup()


_PREFIXES: Final = {"echo": "254710", "help/bal": "254711", "buy": "254712", "profiled": "254713"}


def job(label: str, texts: list[str], args: argparse.Namespace, replies: int = 1) -> dict[str, Any]:
    """A peer job: fresh numbers per label, ``replies`` submits expected per MO."""
    prefix = _PREFIXES[label]  # + 7 digits: 13-digit numbers, never reused within one run
    return {
        "label": label,
        "texts": texts,
        "prefix": prefix,
        "replies": replies,
        "messages": args.messages,
        "duration": args.duration,
        "concurrency": args.concurrency,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) in milliseconds."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1] * 1000


def report(label: str, result: dict[str, Any], key: str, baseline: float | None) -> float:
    """Print one line; returns round trips per second."""
    values: list[float] = result[key]
    rate = len(values) / float(result["elapsed"])
    if not values:
        print(f"{label:<22} no round trips, {result['lost']} lost")
        return 0.0
    figures = " ".join(f"p{q}={percentile(values, q):6.1f}" for q in (50, 90, 99))
    ratio = f" ({rate / baseline:5.1%} of echo)" if baseline else ""
    print(
        f"{label:<22} {len(values):6d} in {result['elapsed']:5.2f} s = {rate:7.1f}/s{ratio}"
        f"  ms: {figures} max={max(values) * 1000:6.1f}  lost={result['lost']}"
    )
    return rate


async def bench(args: argparse.Namespace, folder: Path) -> None:
    """The echo baseline, then the gateway runs."""
    peer = await Peer.start()
    try:
        async with echo_link(peer):
            echo = await peer.run(job("echo", ["HELP"], args))
        baseline = report("echo (bare SmppLink)", echo, "first", None)
        report("echo: deliver_sm_resp", echo, "resp", None)
        meter = DEMO_METERS[0].number
        async with gateway(peer, folder):
            result = await peer.run(job("help/bal", ["HELP", f"BAL {meter}"], args))
            rate = report("gateway help/bal", result, "first", baseline)
            report("gateway: deliver_sm_resp", result, "resp", None)
            if args.buy:
                texts = [f"BUY {m.number} 100" for m in BUY_METERS]
                bought = await peer.run(job("buy", texts, args, replies=2))
                report("gateway buy: approve", bought, "first", baseline)
                report("gateway buy: token", bought, "last", baseline)
            verdict = "met" if rate >= TARGET_ROUND_TRIPS_PER_SECOND else "MISSED"
            print(f"target {TARGET_ROUND_TRIPS_PER_SECOND} round trips/s: {verdict}")
            if args.profile:
                await profile(peer, args)
    finally:
        await peer.stop()


async def profile(peer: Peer, args: argparse.Namespace) -> None:
    """One more help/bal run under cProfile (this process's main thread)."""
    profiler = cProfile.Profile()
    profiler.enable()
    await peer.run(job("profiled", ["HELP", f"BAL {DEMO_METERS[1].number}"], args))
    profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(25)
        print(f"--- profile by {order} ---")
        print("\n".join(out.getvalue().splitlines()[6:40]))


async def main(args: argparse.Namespace) -> None:
    """Set up logging into a temporary file and run the benchmark."""
    print(
        f"one bind, window {BIND['window']}, {args.concurrency} customers at once, "
        f"<= {args.messages} MOs or {args.duration:.0f} s a run, {os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory() as name, (Path(name) / "gateway.log").open("w") as log:
        with contextlib.redirect_stderr(log):
            configure_logging(json_lines=True)  # production's format, into a file
        await bench(args, Path(name))


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000, help="MOs per run at most")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run at most")
    parser.add_argument("--concurrency", type=int, default=10, help="customers at once")
    parser.add_argument("--buy", action="store_true", help="also a BUY run (mints tokens)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more run")
    parser.add_argument("--peer", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse()
    if options.peer:
        asyncio.run(peer_main(options.peer))
    else:
        asyncio.run(main(options))
