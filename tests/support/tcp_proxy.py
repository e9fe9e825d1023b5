"""A small asyncio TCP proxy on 127.0.0.1 that a test can cut and restore.

Put it between a client and a server (PostgreSQL, in the scale-out tests) and point the
client at :attr:`TcpProxy.port`. :meth:`TcpProxy.cut` closes the listening socket (new
connections are refused) and aborts every piped connection at once, both sides, as a network
partition or a server restart looks to the client; :meth:`TcpProxy.restore` listens again on
the same port. Bytes are copied unchanged in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["TcpProxy"]

_CHUNK = 65536


@dataclass
class TcpProxy:
    """Forwards 127.0.0.1:``port`` (0: a free one, fixed at the first start) to the upstream."""

    upstream_host: str
    upstream_port: int
    port: int = 0
    connections: int = 0  #: connections accepted, in all
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        """Listen (again) on 127.0.0.1:``port``."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and abort every open one (clients see a reset)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        """Accept connections again on the same port."""
        await self.start()

    async def stop(self) -> None:
        """Cut everything for good."""
        await self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until EOF, then close the other side's writing half."""
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
