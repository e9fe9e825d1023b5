"""SmppLink: one ``bind_transceiver`` to one SMSC, kept up, behind our own small interface.

Our own PDU layer on asyncio streams (:mod:`smpp.pdu`), not aiosmpplib: see the package
docstring for why. One background task per link connects, binds, serves the session and,
when anything ends it, waits (exponential backoff with jitter) and starts again.

* :meth:`SmppLink.submit` sends only while bound; every failure is a
  :class:`~vending_core.service.sms_ports.SendOutcome`, never an exception (mapping in
  docs/smpp.md). The persistent outbox does the retrying; nothing here is durable.
* Inbound ``deliver_sm``: a receipt goes through the :class:`~smpp.receipts.ReceiptMatcher`
  to ``on_receipt``; anything else to ``on_mo``. The ``deliver_sm_resp`` is sent after the
  callback returns: ``ESME_ROK``, or ``ESME_RX_T_APPN`` (the SMSC retries) when it raised or
  no callback is set. A callback's exception is logged and never ends the session.
* Malformed PDUs get ``generic_nack`` (``ESME_RINVCMDLEN``; unknown commands
  ``ESME_RINVCMDID``); an unframeable length also drops the connection, which reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from smpp.config import BindConfig
from smpp.encoding import ESM_UDHI, split_text
from smpp.errors import BindRefused, LinkDown, PduDecodeError
from smpp.inbound import inbound_message
from smpp.limits import RateLimiter
from smpp.models import InboundMessage, LinkState
from smpp.outcomes import REBIND_STATUSES, THROTTLE_STATUSES, status_name, submit_outcome
from smpp.pdu import (
    BindBody,
    Command,
    Pdu,
    ShortMessageBody,
    Status,
    is_response,
    message_id_body,
)
from smpp.receipts import Receipt, ReceiptMatcher, is_receipt, parse_receipt
from smpp.wire import read_pdu
from vending_core.service.sms_ports import DeliveryReport, OutboundSms, SendOutcome

__all__ = ["MoHandler", "ReceiptHandler", "SmppLink"]

MoHandler: TypeAlias = Callable[[InboundMessage], Awaitable[object]]
ReceiptHandler: TypeAlias = Callable[[DeliveryReport], Awaitable[object]]

_LOG = logging.getLogger(__name__)
_MAX_SEQUENCE: Final = 0x7FFFFFFF
_TICK_S: Final = 1.0


class SmppLink:
    """One bind (see the module docstring). Create inside the composition root, then start().

    Args:
        config: The bind.
        on_mo: Called with every MO; set it (or assign ``link.on_mo``) before start().
        on_receipt: Called with every matched receipt; ``provider_message_id`` is the
            id :meth:`submit` returned (``<bind name>:<normalised SMSC id>``).
        provider: The ``provider`` written into each DeliveryReport (the sender's name).
        rng: Draws in [0, 1) for backoff jitter and UDH references.
    """

    def __init__(
        self,
        config: BindConfig,
        *,
        on_mo: MoHandler | None = None,
        on_receipt: ReceiptHandler | None = None,
        provider: str = "smpp",
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.on_mo = on_mo
        self.on_receipt = on_receipt
        self._provider = provider
        self._rng = rng
        self._state = LinkState.DOWN
        self._bound = asyncio.Event()
        self._stopping = asyncio.Event()
        self._window = asyncio.Semaphore(config.window)
        self._rate = RateLimiter(config.tps)
        self._matcher = ReceiptMatcher(park_seconds=config.receipt_park_s)
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._sequence = 0
        self._reference = int(rng() * 256)
        self._writer: asyncio.StreamWriter | None = None
        self._last_rx = 0.0
        self._task: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[object]] = set()
        self.binds = 0  #: successful binds so far (health checks, tests)
        self.last_error = ""  #: why the link last went down (never a secret)

    def __repr__(self) -> str:
        cfg = self.config
        return f"SmppLink({cfg.name!r}, {cfg.host}:{cfg.port}, {self._state})"

    @property
    def state(self) -> LinkState:
        """connecting, bound or down."""
        return self._state

    @property
    def parked_receipts(self) -> int:
        """Receipts waiting for their submit_sm_resp."""
        return self._matcher.parked

    def start(self) -> None:
        """Start connecting in the background (inside a running event loop)."""
        if self._task is not None and not self._task.done():
            raise RuntimeError(f"link {self.config.name} is already running")
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"smpp-{self.config.name}"
        )

    async def stop(self, grace: float = 2.0) -> None:
        """Unbind cleanly (waiting up to ``grace`` s for unbind_resp), close, end the task."""
        self._stopping.set()
        if self._state is LinkState.BOUND:
            with contextlib.suppress(TimeoutError, LinkDown, OSError):
                await self._request(Command.UNBIND, b"", grace)
        self._close()
        task, self._task = self._task, None
        if task is not None:
            try:
                async with asyncio.timeout(grace):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        self._state = LinkState.DOWN

    async def wait_bound(self, within: float) -> bool:
        """Wait up to ``within`` seconds for the link to be bound; whether it is."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._bound.wait()
        return self._state is LinkState.BOUND

    async def submit(
        self, message: OutboundSms, *, tlvs: Mapping[int, bytes] | None = None
    ) -> SendOutcome:
        """Send one SMS (split into parts as needed); never raises for SMSC or network trouble.

        ``tlvs`` go on every part (a USSD-over-SMPP reply: ``ussd_service_op`` 17 and the
        MO's ``its_session_info``).
        """
        if self._state is not LinkState.BOUND:
            return SendOutcome.retry_later(f"bind {self.config.name} is {self._state}", "unbound")
        try:
            segmented = split_text(message.text, self._next_reference())
        except ValueError as exc:
            return SendOutcome.refused(str(exc), "too-long")
        ids: list[str] = []
        for part in segmented.parts:
            body = ShortMessageBody(
                source_addr=message.sender_id or self.config.source_addr,
                source_addr_ton=self.config.source_addr_ton,
                source_addr_npi=self.config.source_addr_npi,
                destination_addr=message.to,
                dest_addr_ton=self.config.dest_addr_ton,
                dest_addr_npi=self.config.dest_addr_npi,
                esm_class=ESM_UDHI if segmented.concatenated else 0,
                registered_delivery=self.config.registered_delivery,
                data_coding=segmented.data_coding,
                short_message=part,
                tlvs=dict(tlvs or {}),
            )
            result = await self._submit_part(body)
            if isinstance(result, SendOutcome):
                return result
            ids.append(result)
        self._release(self._matcher.remember(ids, ids[-1]))
        return SendOutcome.sent(self._public_id(ids[-1]), "ESME_ROK")

    async def _submit_part(self, body: ShortMessageBody) -> str | SendOutcome:
        """The part's normalised SMSC message id, or the outcome that stops the message."""
        async with self._window:
            await self._rate.acquire()
            try:
                resp = await self._request(
                    Command.SUBMIT_SM, body.encode(), self.config.response_timeout_s
                )
            except TimeoutError:
                return SendOutcome.retry_later(
                    "no submit_sm_resp in time (the message may have been sent)", "timeout"
                )
            except (LinkDown, OSError) as exc:
                return SendOutcome.retry_later(f"link lost: {exc}", "link-down")
        return self._judge(resp)

    def _judge(self, resp: Pdu) -> str | SendOutcome:
        if resp.command_id != Command.GENERIC_NACK:
            if resp.status in THROTTLE_STATUSES:
                self._rate.pause(self.config.throttle_pause_s)
            elif resp.status in REBIND_STATUSES:
                self._close()  # the SMSC thinks we are not bound: bind again
        return submit_outcome(resp)

    def _public_id(self, message_id: str) -> str:
        return f"{self.config.name}:{message_id}"

    # ------------------------------------------------------------------ the connection

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._state = LinkState.CONNECTING
            delay: float | None = None
            binds_before = self.binds
            try:
                await self._connect_and_serve()
            except BindRefused as exc:
                self.last_error = str(exc)
                delay = self.config.bind_refused_backoff_s
                _LOG.error("smpp %s: %s", self.config.name, exc)
            except (OSError, TimeoutError, LinkDown, asyncio.IncompleteReadError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not self._stopping.is_set():
                    _LOG.warning("smpp %s: link down: %s", self.config.name, self.last_error)
            except Exception as exc:  # a bug must cost a reconnect, never the link's task
                self.last_error = f"{type(exc).__name__}: {exc}"
                _LOG.exception("smpp %s: session failed unexpectedly", self.config.name)
            finally:
                self._down()
            failures = 1 if self.binds > binds_before else failures + 1
            if delay is None:
                delay = self.config.backoff(failures, self._rng())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _connect_and_serve(self) -> None:
        cfg = self.config
        async with asyncio.timeout(cfg.connect_timeout_s):
            reader, self._writer = await asyncio.open_connection(cfg.host, cfg.port)
        ack = _ack_at_once(self._writer)
        reading = asyncio.get_running_loop().create_task(self._read_loop(reader, ack))
        keeping: asyncio.Task[None] | None = None
        try:
            await self._bind()
            self._state = LinkState.BOUND
            self._bound.set()
            self.binds += 1
            _LOG.info("smpp %s: bound to %s:%s", cfg.name, cfg.host, cfg.port)
            keeping = asyncio.get_running_loop().create_task(self._keepalive())
            done, _ = await asyncio.wait({reading, keeping}, return_when="FIRST_COMPLETED")
            for task in done:
                task.result()  # re-raise why the session ended
        finally:
            tasks = [reading] if keeping is None else [reading, keeping]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _bind(self) -> None:
        cfg = self.config
        body = BindBody(system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type)
        resp = await self._request(Command.BIND_TRANSCEIVER, body.encode(), cfg.response_timeout_s)
        if resp.status != Status.ROK or resp.command_id != Command.BIND_TRANSCEIVER_RESP:
            raise BindRefused(resp.status)

    def _down(self) -> None:
        self._bound.clear()
        self._state = LinkState.DOWN
        self._close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkDown("the connection closed"))
        self._pending.clear()

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    async def _keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_rx = loop.time()
        while True:
            await asyncio.sleep(_TICK_S)
            self._release(self._matcher.expired())
            if loop.time() - self._last_rx >= self.config.enquire_link_s:
                try:
                    await self._request(Command.ENQUIRE_LINK, b"", self.config.response_timeout_s)
                except TimeoutError as exc:
                    raise LinkDown("enquire_link unanswered") from exc

    # ------------------------------------------------------------------ requests and replies

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) % 256
        return self._reference

    async def _send(self, pdu: Pdu) -> None:
        writer = self._writer
        if writer is None:
            raise LinkDown("not connected")
        writer.write(pdu.encode())
        await writer.drain()

    async def _request(self, command: int, body: bytes, wait_s: float) -> Pdu:
        """Send a request and wait up to ``wait_s`` s for its response (or generic_nack)."""
        sequence = self._next_sequence()
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        try:
            await self._send(Pdu(command, sequence, 0, body))
            async with asyncio.timeout(wait_s):
                return await future
        finally:
            self._pending.pop(sequence, None)

    async def _read_loop(self, reader: asyncio.StreamReader, ack: Callable[[], None]) -> None:
        while True:
            try:
                pdu = await read_pdu(reader)
            except PduDecodeError as exc:
                await self._send(Pdu(Command.GENERIC_NACK, exc.sequence, exc.status))
                raise LinkDown(f"unframeable PDU from the SMSC: {exc}") from exc
            except asyncio.IncompleteReadError as exc:
                raise LinkDown("the SMSC closed the connection") from exc
            self._last_rx = asyncio.get_running_loop().time()
            ack()
            if not await self._dispatch(pdu):
                return

    async def _dispatch(self, pdu: Pdu) -> bool:
        """Handle one PDU from the SMSC; False when the session must end (peer unbind)."""
        if is_response(pdu.command_id):
            future = self._pending.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
            elif pdu.command_id == Command.GENERIC_NACK:
                _LOG.warning("smpp %s: generic_nack %s", self.config.name, status_name(pdu.status))
        elif pdu.command_id == Command.ENQUIRE_LINK:
            await self._send(pdu.response())
        elif pdu.command_id == Command.DELIVER_SM and self._state is not LinkState.BOUND:
            await self._send(pdu.response(Status.RINVBNDSTS, message_id_body("")))
        elif pdu.command_id == Command.DELIVER_SM:
            self._spawn(self._deliver(pdu))
        elif pdu.command_id == Command.UNBIND:
            await self._send(pdu.response())
            self.last_error = "the SMSC unbound"
            return False
        else:
            await self._send(Pdu(Command.GENERIC_NACK, pdu.sequence, Status.RINVCMDID))
        return True

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        job = asyncio.get_running_loop().create_task(work)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _deliver(self, pdu: Pdu) -> None:
        """Answer one deliver_sm on the connection it came in on (never on a newer one)."""
        writer = self._writer
        try:
            body = ShortMessageBody.decode(pdu.body, pdu.sequence)
        except PduDecodeError as exc:
            await self._answer(writer, Pdu(Command.GENERIC_NACK, pdu.sequence, exc.status))
            return
        status = await self._handle(body)
        await self._answer(writer, pdu.response(status, message_id_body("")))

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter | None, pdu: Pdu) -> None:
        if writer is None or writer.is_closing():
            return  # that session is gone: the SMSC redelivers
        with contextlib.suppress(OSError):
            writer.write(pdu.encode())
            await writer.drain()

    async def _handle(self, body: ShortMessageBody) -> int:
        """The deliver_sm_resp status for one MO or receipt (see the module docstring)."""
        if is_receipt(body.esm_class):
            receipt = parse_receipt(body)
            if receipt is None:
                _LOG.warning("smpp %s: unreadable receipt ignored", self.config.name)
                return Status.ROK
            ok = [await self._report(r) for r in self._matcher.receive(receipt)]
            return Status.ROK if all(ok) else Status.RX_T_APPN
        if self.on_mo is None:
            return Status.RX_T_APPN
        try:
            await self.on_mo(inbound_message(self.config.name, body, datetime.now(UTC)))
        except Exception:
            _LOG.exception("smpp %s: on_mo failed; the SMSC will redeliver", self.config.name)
            return Status.RX_T_APPN
        return Status.ROK

    def _release(self, receipts: list[Receipt]) -> None:
        for receipt in receipts:
            self._spawn(self._report(receipt))

    async def _report(self, receipt: Receipt) -> bool:
        """Hand one receipt to on_receipt; False when there is none or it raised."""
        if self.on_receipt is None:
            return False
        report = DeliveryReport(
            provider=self._provider,
            provider_message_id=self._public_id(receipt.message_id),
            status=receipt.stat,
            failure_reason=receipt.err if receipt.failed else "",
        )
        try:
            await self.on_receipt(report)
        except Exception:
            _LOG.exception("smpp %s: on_receipt failed", self.config.name)
            return False
        return True


def _ack_at_once(writer: asyncio.StreamWriter) -> Callable[[], None]:
    """A call that makes Linux send a pending TCP ACK now (TCP_QUICKACK; a no-op elsewhere).

    An SMSC that leaves Nagle on (smpp34 does) holds its next PDU until its last one is
    ACKed, and Linux delays a bare ACK by 40 ms: every MO after a submit_sm_resp would wait
    40 ms (bench/smpp_bench.py: 44 ms round trips at one MO in flight). TCP_QUICKACK resets
    itself, so it is set again after every PDU read: one cheap setsockopt per PDU.
    """
    sock = writer.get_extra_info("socket")
    option: int | None = getattr(socket, "TCP_QUICKACK", None)
    if sock is None or option is None:
        return lambda: None

    def ack() -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    return ack
