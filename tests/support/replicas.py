"""Real ``vendgate serve`` processes, a private Redis server and ``vendgate check-ledger``.

For the scale-out tests (tests/e2e/test_scale_out.py): each :class:`Replica` is one gateway
process (``python -m gateway serve --port P``, one worker) started with its own environment;
it can be killed with SIGKILL and started again on the same port. Its output goes to a log
file in the test's temporary directory (read by :meth:`Replica.log` when a test fails).
:class:`RedisServer` is a ``redis-server`` on a free port that a test may kill and restart.
:func:`check_ledger` runs the invariants checker as the operator would, in a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

__all__ = ["RedisServer", "Replica", "check_ledger", "free_port", "wait_until"]

READY_TIMEOUT = 30.0  #: seconds a replica may take to answer /readyz with 200


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_until(what: str, seconds: float, condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``condition`` (an async callable returning bool) every 0.1 s; fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


@dataclass
class Replica:
    """One gateway process on ``port`` with ``env`` (started by :meth:`start`)."""

    name: str
    port: int
    env: dict[str, str]
    folder: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        """The replica's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the replica's output goes (every start appends)."""
        return self.folder / f"{self.name}.log"

    async def start(self, *, ready: bool = True) -> None:
        """Start the process (and, with ``ready``, wait until /readyz answers 200)."""
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.starts += 1
        self._log.write(f"--- start {self.starts}\n".encode())
        self._log.flush()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "serve", "--port", str(self.port),
            env=self.env, stdout=self._log, stderr=self._log,
        )  # fmt: skip
        if ready:
            await self.wait_ready()

    async def wait_ready(self, seconds: float = READY_TIMEOUT) -> None:
        """Wait until /readyz answers 200 (fails if the process exits first)."""

        async def ready() -> bool:
            if self.process is None or self.process.returncode is not None:
                raise AssertionError(f"{self.name} exited; its log:\n{self.log()}")
            return await self.is_ready()

        await wait_until(f"{self.name} ready", seconds, ready)

    async def is_ready(self) -> bool:
        """Whether /readyz answers 200 now."""
        timeout = aiohttp.ClientTimeout(total=2)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(f"{self.base}/readyz") as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def kill(self) -> None:
        """SIGKILL the process and reap it."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM (drain, then exit) and wait; SIGKILL after 20 s. The exit status."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                await self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode

    def log(self, tail: int = 4000) -> str:
        """The end of the replica's output."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-tail:]
        return ""


@dataclass
class RedisServer:
    """A private ``redis-server`` on ``port``: no persistence, killed and restarted at will."""

    port: int
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Its URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

        async def accepting() -> bool:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.close()
            await writer.wait_closed()
            return True

        await wait_until("redis-server accepting", 10, accepting)

    async def kill(self) -> None:
        """SIGKILL it (every key is lost: it keeps nothing on disk)."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


async def check_ledger(env: dict[str, str], *, tokens: bool = True) -> tuple[int, str]:
    """``vendgate check-ledger`` with ``env`` (database URL, key): exit status and output."""
    args = ["check-ledger"] + ([] if tokens else ["--no-tokens"])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")
