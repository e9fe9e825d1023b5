"""An asyncio fake SMSC on 127.0.0.1 for deterministic SMPP failure scenarios (messaging.md §3.7a).

Scenarios are switches on :class:`FakeSmsc`, after Jasmin's simulator: happy (defaults),
``black_hole`` (answers nothing after the bind), ``no_response_on_submit``,
``generic_nack_on_submit`` (with or without the sequence number), ``submit_status``
(error on submit), ``unbind_on_submit``, ``bind_status`` (bind error; wrong credentials
get RINVSYSID / RINVPASWD anyway), ``receipt_before_resp``, ``auto_receipt`` (a receipt
after each accepted submit), ``max_per_second`` (ESME_RTHROTTLED 0x58 above it),
``strict_radio`` (RINVMSGLEN for any part over 140 octets on the air),
``deliver_before_bind_resp`` (an MO sent before the bind is answered), ``reverse_responses``
(hold N submit_sm_resp and send them in reverse order). Garbage is sent with
:meth:`FakeSmsc.send_raw`; MO and receipts with :meth:`FakeSmsc.deliver` and
:meth:`FakeSmsc.trigger_dlr`.

It uses the package's PDU codec (smpp/pdu.py) for framing; the independent check of that
codec is the smpp34 peer (tests/support/smpp34_peer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from smpp.encoding import ESM_UDHI, radio_octets
from smpp.errors import PduDecodeError
from smpp.pdu import (
    BindBody,
    Command,
    Pdu,
    ShortMessageBody,
    Status,
    Tlv,
    is_response,
    message_id_body,
)
from smpp.wire import read_pdu

RADIO_LIMIT = 140
SYSTEM_ID = "vendgate"
PASSWORD = "secret"  #: the fake's credentials (test data)


@dataclass
class SubmitRecord:
    """One submit_sm the fake received and what it answered."""

    body: ShortMessageBody
    status: int
    message_id: str


@dataclass
class _Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    bound: bool = False
    sequence: int = 0
    pending: dict[int, asyncio.Future[Pdu]] = field(default_factory=dict)
    held: list[Pdu] = field(default_factory=list)

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    async def send(self, pdu: Pdu) -> None:
        self.writer.write(pdu.encode())
        await self.writer.drain()


class FakeSmsc:
    """The fake server; see the module docstring for the switches."""

    def __init__(self, *, system_id: str = SYSTEM_ID, password: str = PASSWORD) -> None:
        self.system_id = system_id
        self.password = password
        self.bind_status: int | None = None
        self.black_hole = False
        self.no_response_on_submit = False
        self.generic_nack_on_submit = False
        self.generic_nack_with_seq = True
        self.submit_status = 0
        self.unbind_on_submit = False
        self.receipt_before_resp = False
        self.auto_receipt: str | None = None
        self.max_per_second: int | None = None
        self.strict_radio = False
        self.deliver_before_bind_resp = False
        self.reverse_responses = 0
        self.submits: list[SubmitRecord] = []
        self.from_esme: list[Pdu] = []  #: every PDU the ESME sent, in order
        self.binds = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: list[_Session] = []
        self._accepted_at: deque[float] = deque()
        self._next_id = 0x0A00
        self._handlers: set[asyncio.Task[None]] = set()  # one per connection; end on close
        self._jobs: set[asyncio.Task[None]] = set()  # receipts in flight; cancelled on stop

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time, the same port afterwards)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the port and every session (the link sees the connection drop)."""
        if self._server is not None:
            self._server.close()
        for session in self._sessions:
            session.writer.close()
        for task in list(self._jobs):
            task.cancel()
        await asyncio.gather(*self._jobs, *self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._sessions.clear()

    def accepted(self) -> list[SubmitRecord]:
        """The submits answered ESME_ROK."""
        return [s for s in self.submits if s.status == Status.ROK and s.message_id]

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Poll ``condition`` every 10 ms until true; TimeoutError after ``within`` s."""
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 - polls plain state the tests read
                await asyncio.sleep(0.01)

    async def send_raw(self, data: bytes) -> None:
        """Write raw octets to the bound session (garbage-PDU tests)."""
        session = self._bound_session()
        session.writer.write(data)
        await session.writer.drain()

    async def deliver(self, body: ShortMessageBody, within: float = 5.0) -> Pdu:
        """Send a deliver_sm on the bound session; returns the ESME's answer to it."""
        return await self._request(self._bound_session(), Command.DELIVER_SM, body, within)

    async def trigger_dlr(
        self, message_id: str, stat: str = "DELIVRD", *, to: str = "254712345678"
    ) -> Pdu:
        """Send a text receipt (``esm_class`` 0x04) for ``message_id``; the ESME's answer."""
        return await self.deliver(receipt_body(message_id, stat, to=to))

    def _bound_session(self) -> _Session:
        for session in reversed(self._sessions):
            if session.bound and not session.writer.is_closing():
                return session
        raise RuntimeError("no bound session")

    async def _request(
        self, session: _Session, command: int, body: ShortMessageBody, within: float
    ) -> Pdu:
        sequence = session.next_sequence()
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        session.pending[sequence] = future
        await session.send(Pdu(command, sequence, 0, body.encode()))
        async with asyncio.timeout(within):
            return await future

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        session = _Session(reader, writer)
        self._sessions.append(session)
        try:
            while True:
                try:
                    pdu = await read_pdu(reader)
                except PduDecodeError as exc:
                    await session.send(Pdu(Command.GENERIC_NACK, exc.sequence, exc.status))
                    return
                self.from_esme.append(pdu)
                if not await self._on_pdu(session, pdu):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _on_pdu(self, session: _Session, pdu: Pdu) -> bool:
        if is_response(pdu.command_id):
            future = session.pending.pop(pdu.sequence, None)
            if future is not None and not future.done():
                future.set_result(pdu)
            return True
        if pdu.command_id == Command.BIND_TRANSCEIVER:
            if self.deliver_before_bind_resp:
                early = ShortMessageBody(source_addr="254712345678", destination_addr="1")
                await session.send(Pdu(Command.DELIVER_SM, 9999, 0, early.encode()))
            await session.send(pdu.response(self._bind(session, pdu), message_id_body("FAKESMSC")))
        elif self.black_hole and session.bound:
            pass
        elif pdu.command_id == Command.ENQUIRE_LINK:
            await session.send(pdu.response())
        elif pdu.command_id == Command.UNBIND:
            await session.send(pdu.response())
            return False
        elif pdu.command_id == Command.SUBMIT_SM:
            await self._submit(session, pdu)
        else:
            await session.send(Pdu(Command.GENERIC_NACK, pdu.sequence, Status.RINVCMDID))
        return True

    def _bind(self, session: _Session, pdu: Pdu) -> int:
        try:
            bind = BindBody.decode(pdu.body, pdu.sequence)
        except PduDecodeError as exc:
            return exc.status
        if bind.system_id != self.system_id:
            return Status.RINVSYSID
        if bind.password != self.password:
            return Status.RINVPASWD
        if self.bind_status is not None:
            return self.bind_status
        session.bound = True
        self.binds += 1
        return Status.ROK

    async def _submit(self, session: _Session, pdu: Pdu) -> None:
        if not session.bound:
            await session.send(pdu.response(Status.RINVBNDSTS))
            return
        try:
            body = ShortMessageBody.decode(pdu.body, pdu.sequence)
        except PduDecodeError:
            await session.send(pdu.response(Status.RINVMSGLEN))
            return
        if self.unbind_on_submit:
            await session.send(Pdu(Command.UNBIND, session.next_sequence()))
            return
        if self.no_response_on_submit:
            self.submits.append(SubmitRecord(body, -1, ""))
            return
        if self.generic_nack_on_submit:
            sequence = pdu.sequence if self.generic_nack_with_seq else 0
            await session.send(Pdu(Command.GENERIC_NACK, sequence, Status.RSYSERR))
            return
        status = self._judge(body)
        message_id = self._new_id() if status == Status.ROK else ""
        self.submits.append(SubmitRecord(body, status, message_id))
        resp = pdu.response(status, message_id_body(message_id) if message_id else b"")
        if message_id and self.receipt_before_resp:
            self._spawn_receipt(message_id, "DELIVRD", body.destination_addr, then=resp)
            return
        await self._answer(session, resp)
        if message_id and self.auto_receipt:
            self._spawn_receipt(message_id, self.auto_receipt, body.destination_addr)

    async def _answer(self, session: _Session, resp: Pdu) -> None:
        """Send the submit_sm_resp, or hold it until ``reverse_responses`` are held."""
        if not self.reverse_responses:
            await session.send(resp)
            return
        session.held.append(resp)
        if len(session.held) >= self.reverse_responses:
            for held in reversed(session.held):
                await session.send(held)
            session.held.clear()

    def _judge(self, body: ShortMessageBody) -> int:
        if self.submit_status:
            return self.submit_status
        if not body.destination_addr.isdigit():
            return Status.RINVDSTADR
        udhi = bool(body.esm_class & ESM_UDHI)
        radio = radio_octets(body.short_message, body.data_coding, udhi=udhi)
        if self.strict_radio and radio > RADIO_LIMIT:
            return Status.RINVMSGLEN
        if self.max_per_second is not None:
            now = time.monotonic()
            while self._accepted_at and now - self._accepted_at[0] >= 1.0:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self.max_per_second:
                return Status.RTHROTTLED
            self._accepted_at.append(now)
        return Status.ROK

    def _new_id(self) -> str:
        self._next_id += 1
        return f"{self._next_id:08X}"  # leading zeros, upper case: receipts use "a01"

    def _spawn_receipt(self, message_id: str, stat: str, to: str, then: Pdu | None = None) -> None:
        """Send a receipt (its id written 'a01' for 00000A01); ``then`` after its response."""

        async def send() -> None:
            with contextlib.suppress(TimeoutError, RuntimeError, ConnectionError):
                await self.trigger_dlr(message_id.lower().lstrip("0"), stat, to=to)
                if then is not None:
                    await self._bound_session().send(then)

        task = asyncio.get_running_loop().create_task(send())
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)


def receipt_body(
    message_id: str, stat: str, *, to: str = "254712345678", tlvs: bool = False
) -> ShortMessageBody:
    """A receipt deliver_sm body in the common text layout (messaging.md §3.2)."""
    text = (
        f"id:{message_id} sub:001 dlvrd:001 submit date:2611250800 done date:2611250801 "
        f"stat:{stat} err:000 text:"
    )
    extra: dict[int, bytes] = (
        {Tlv.RECEIPTED_MESSAGE_ID: message_id.encode() + b"\0"} if tlvs else {}
    )
    return ShortMessageBody(
        source_addr=to,
        destination_addr="VENDGATE",
        esm_class=0x04,
        short_message=text.encode("latin-1"),
        tlvs=extra,
    )
