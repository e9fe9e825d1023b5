"""Reading and writing PDUs on asyncio streams (the only I/O next to the pure codec)."""

from __future__ import annotations

import asyncio

from smpp.pdu import HEADER, Pdu, decode_header

__all__ = ["read_pdu"]


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    """The next PDU on the stream.

    Raises PduDecodeError (``RINVCMDLEN``) for an impossible ``command_length`` (the stream
    can no longer be framed: the caller answers ``generic_nack`` and drops the connection),
    and asyncio.IncompleteReadError when the peer closes.
    """
    length, command_id, status, sequence = decode_header(await reader.readexactly(HEADER))
    body = await reader.readexactly(length - HEADER) if length > HEADER else b""
    return Pdu(command_id, sequence, status, body)
