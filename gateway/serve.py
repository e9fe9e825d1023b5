"""``vendgate serve``: run the gateway until SIGINT/SIGTERM, then drain and stop.

aiohttp's runner stops accepting connections on the signal, lets in-flight requests finish
(up to ``SHUTDOWN_GRACE`` seconds), then runs the application's cleanup context, which stops
the SMS dispatcher and the payment tasks and closes the database and Redis.

``--workers N`` (N > 1) runs N gateway processes on one port (``SO_REUSEPORT``: the kernel
spreads connections over them), one per core, as a PostgreSQL deployment should: one Python
process is one core at most. The parent migrates the development database and loads the demo
data once, then starts the workers (``vendgate serve --worker``), restarts a worker that dies
(after a second), and on SIGINT/SIGTERM passes the signal on and waits for every worker to
drain. Workers share everything through the database and Redis, so N > 1 needs PostgreSQL
(SQLite's writer is one process: its group commit works inside one) and the Redis session
store (a USSD session's hops may reach different workers). Of the workers (and of all
replicas on the database) only one owns the SMPP binds at a time (gateway/leader.py).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import Final

from aiohttp import web

from config.logging import configure_logging
from config.settings import Environment, Settings
from gateway.app import Overrides, create_app
from vending_core.adapters.compose import sql_core
from vending_core.service.demo_data import load_demo_data

__all__ = ["SHUTDOWN_GRACE", "WorkersRefused", "serve", "serve_workers"]

SHUTDOWN_GRACE: Final = 10.0  #: seconds in-flight requests get after SIGTERM
RESTART_DELAY: Final = 1.0  #: seconds before a worker that died is started again
_POLL: Final = 0.2


class WorkersRefused(ValueError):  # noqa: N818 - reads as the refusal it is
    """``--workers`` > 1 with a configuration that cannot share state between processes."""


_TRY: Final = """\
Vendgate is listening on http://{host}:{port}  (Ctrl-C stops it)
  try a USSD session (Africa's Talking style; send text "" then "1", ...):
    curl -s -d sessionId=demo1 -d phoneNumber=+254700000001 -d serviceCode='*384*12#' \\
         -d text= http://{host}:{port}/ussd/africastalking
  health, readiness and metrics: /healthz  /readyz  /metrics
"""


def serve(
    settings: Settings, *, host: str, port: int, demo_data: bool, worker: int | None = None
) -> None:
    """Run the gateway on ``host:port`` until interrupted.

    ``worker`` is set in the processes :func:`serve_workers` starts: they share the port,
    and leave migrating and the demo data to the parent.
    """
    configure_logging(json_lines=settings.environment is Environment.PRODUCTION)
    app = create_app(
        settings,
        overrides=Overrides(demo_data=demo_data and worker is None, migrate=worker is None),
    )
    if worker is None:
        sys.stderr.write(_TRY.format(host=host, port=port))
    web.run_app(
        app,
        loop=event_loop(),
        host=host,
        port=port,
        shutdown_timeout=SHUTDOWN_GRACE,
        access_log=None,
        print=None,
        handle_signals=True,
        reuse_port=worker is not None,
    )


def event_loop() -> asyncio.AbstractEventLoop:
    """The serving process's event loop: uvloop's where it is installed, else asyncio's.

    uvloop (libuv, in C) cut the replica's CPU per purchase by ~10 % in ``bench/load.py``
    (18.4 -> 16.5 ms for a USSD purchase, same run); it is a dependency except on Windows.
    """
    try:
        import uvloop  # noqa: PLC0415 - optional: not on Windows
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse ``workers`` > 1 where state would not be shared (:class:`WorkersRefused`)."""
    if workers <= 1:
        return
    if settings.database_url.startswith("sqlite"):
        raise WorkersRefused(
            "--workers > 1 needs PostgreSQL: SQLite has one writer process"
            " (set VENDGATE_DATABASE_URL to a postgresql:// URL, or run one worker)"
        )
    if settings.gateway.redis_url is None:
        raise WorkersRefused(
            "--workers > 1 needs the Redis session store: a USSD session's hops may reach"
            " different workers (set VENDGATE_REDIS_URL)"
        )


async def _prepare(settings: Settings, *, demo_data: bool) -> None:
    """Migrate (development) and load the demo data once, before any worker starts."""
    async with sql_core(
        settings.database_url,
        settings.key_encryption_key,
        tz=settings.utility_zone,
        migrate=settings.environment is Environment.DEVELOPMENT,
    ) as core:
        if demo_data:
            await load_demo_data(core)


def _start_worker(host: str, port: int, index: int) -> subprocess.Popen[bytes]:
    """``python -m gateway serve --worker index``: our own interpreter and arguments."""
    return subprocess.Popen(  # noqa: S603 - no outside input: this interpreter, ints, our host
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--worker",
            str(index),
        ]
    )


def serve_workers(
    settings: Settings, *, host: str, port: int, demo_data: bool, workers: int
) -> int:
    """Run ``workers`` gateway processes on ``host:port``; returns the exit status.

    Raises:
        WorkersRefused: The configuration cannot be shared by several processes.
    """
    check_workers(settings, workers)
    configure_logging(json_lines=settings.environment is Environment.PRODUCTION)
    asyncio.run(_prepare(settings, demo_data=demo_data))
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children = {i: _start_worker(host, port, i) for i in range(workers)}
    sys.stderr.write(_TRY.format(host=host, port=port))
    pids = " ".join(str(child.pid) for child in children.values())
    sys.stderr.write(f"  {workers} worker processes: {pids}\n")
    died_at: dict[int, float] = {}
    try:
        while not stopping:
            time.sleep(_POLL)
            for index, child in list(children.items()):
                if child.poll() is None:
                    continue
                since = died_at.setdefault(index, time.monotonic())
                if time.monotonic() - since >= RESTART_DELAY:
                    sys.stderr.write(f"worker {index} exited ({child.returncode}), restarting\n")
                    children[index] = _start_worker(host, port, index)
                    del died_at[index]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(stopping[0] if stopping else signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=SHUTDOWN_GRACE + 5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0
