"""The SMS outbox: enqueue in the caller's transaction, send later, retry, track delivery.

Delivery has its own status and retries, apart from the vend (vending.md §4 items 5-7): a
vend writes its token SMS with :func:`enqueue_sms` in its own unit of work, so the message
exists exactly when the vend does, and the dispatcher sends it afterwards. A failed SMS is
resent, never re-vended.

Guarantees:

* **Once per key.** ``dedupe_key`` is unique (``vend:123:token``); enqueueing it again returns
  the stored row.
* **At least once, not exactly once.** :func:`dispatch_due` claims due rows under a lease
  and commits the claim, sends *outside* any transaction, then records the outcomes of the
  whole round in one new unit of work (:mod:`vending_core.service.outbox_record`: a handful
  of statements for the round, not five per message). If the process dies between the sends
  and the record, the round's rows stay ``sending`` until their lease expires and are then
  sent again: the customer may get the same SMS twice (the same token twice: harmless),
  never none. The lease must outlast the whole round (the record waits for its slowest
  send, within the sender's timeout), or a slow round is duplicated too.
* **One bad row costs one message.** If the round's record fails, nothing of it is stored
  and each message is recorded alone, as it was before rounds were recorded together; a
  record that fails then leaves that one message to its lease. A database that is down
  fails them all: the round waits for its lease.
* **Never twice at once.** A claim marks the row ``sending`` in the claiming transaction;
  PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` (concurrent dispatchers take different
  rows), SQLite serialises claims with ``BEGIN IMMEDIATE``.
* **Retries** back off exponentially with jitter (:class:`RetryPolicy`); a permanent refusal
  or the last allowed attempt ends in ``failed``.

Delivery reports (:func:`apply_delivery_report`) are idempotent and may arrive in any order,
even before the send they report on was recorded (they are held, then applied when it is;
as a send is recorded with its round, a quick report is held more often than before).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from vending_core.service.messaging_records import HeldReport, OutboxMessage
from vending_core.service.outbox_policy import (
    DeliveryResult,
    Random,
    Retry,
    RetryPolicy,
    after_report,
    is_final_word,
)
from vending_core.service.outbox_record import SendResult, record_round
from vending_core.service.ports import UnitOfWork, UnitOfWorkFactory
from vending_core.service.sms_ports import OutboundSms, SendOutcome, SmsSender

__all__ = [
    "DeliveryResult",
    "OutboxDispatcher",
    "RetryPolicy",
    "apply_delivery_report",
    "dispatch_due",
    "enqueue_sms",
    "normalise_msisdn",
    "resend_sms",
    "token_sms_key",
]

_LOG = logging.getLogger(__name__)

_MSISDN_DIGITS = range(6, 16)  # E.164 allows at most 15 digits
#: Sends in flight at once: a provider's window (SMPP binds take ~10) is used, while the
#: messages of one phone still leave one after the other, in order.
SEND_CONCURRENCY = 10


def token_sms_key(vend_id: int) -> str:
    """The dedupe key of a vend's token SMS."""
    return f"vend:{vend_id}:token"


def normalise_msisdn(msisdn: str) -> str:
    """International digits without ``+`` or spaces; ValueError if it is not a number."""
    digits = msisdn.strip().removeprefix("+").replace(" ", "")
    if not digits.isdigit() or len(digits) not in _MSISDN_DIGITS:
        raise ValueError(f"not an international phone number: {msisdn!r}")
    return digits


async def enqueue_sms(
    uow: UnitOfWork, *, dedupe_key: str, msisdn: str, text: str, kind: str, now: datetime
) -> OutboxMessage:
    """Queue one SMS inside the caller's unit of work (the caller commits).

    Idempotent on ``dedupe_key``: if the key is stored, that row is returned unchanged
    (whatever its text), so the vend that wrote it can be replayed freely.
    """
    if not text:
        raise ValueError("an SMS needs a text")
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        msisdn=normalise_msisdn(msisdn),
        text=text,
        kind=kind,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    stored = await uow.outbox.add(message)
    if stored is None:
        stored = await uow.outbox.get_by_key(dedupe_key)
        if stored is None:  # pragma: no cover - the insert just said it exists
            raise RuntimeError(f"outbox key {dedupe_key} neither inserted nor found")
    return stored


async def resend_sms(
    uow_factory: UnitOfWorkFactory,
    *,
    dedupe_key: str,
    request_key: str,
    now: datetime,
    msisdn: str | None = None,
) -> OutboxMessage | None:
    """Queue the stored message ``dedupe_key`` again, as a new row ("send my token again").

    The new row's key is ``<dedupe_key>:resend:<request_key>``: one resend per request (a
    retried USSD hop passes the same ``request_key`` and gets the same row back). ``msisdn``
    sends the copy to another phone. Returns None when there is no such message. Nothing is
    re-vended: the copy carries the stored text.
    """
    async with uow_factory() as uow:
        original = await uow.outbox.get_by_key(dedupe_key)
        if original is None:
            return None
        copy = await enqueue_sms(
            uow,
            dedupe_key=f"{dedupe_key}:resend:{request_key}",
            msisdn=msisdn or original.msisdn,
            text=original.text,
            kind="resend",
            now=now,
        )
        await uow.commit()
    return copy


async def dispatch_due(
    uow_factory: UnitOfWorkFactory,
    sender: SmsSender,
    now: datetime,
    limit: int = 50,
    *,
    policy: RetryPolicy | None = None,
    rng: Random = random.random,
) -> int:
    """Send up to ``limit`` due messages once; returns how many were claimed.

    Claim (commit) → send each outside any transaction → record every outcome together in
    one unit of work (:func:`~vending_core.service.outbox_record.record_round`). Up to
    :data:`SEND_CONCURRENCY` sends are in flight at once; one phone's messages go one after
    the other in the order they were queued. A sender that raises costs that one message an
    attempt, never the round; so does a row the database refuses (the round is then recorded
    one message at a time). A round cancelled mid-send (``OutboxDispatcher.stop``) records
    the sends that finished; the others wait for their lease. At-least-once: see the module
    docstring.
    """
    retry = Retry(policy or RetryPolicy(), rng)
    async with uow_factory() as uow:
        claimed = await uow.outbox.claim_due(now, now + retry.policy.lease, limit)
        await uow.commit()
    by_phone: dict[str, list[OutboxMessage]] = {}
    for message in claimed:
        by_phone.setdefault(message.msisdn, []).append(message)
    slots = asyncio.Semaphore(SEND_CONCURRENCY)
    outcomes: dict[int, SendOutcome] = {}

    async def send_in_order(messages: list[OutboxMessage]) -> None:
        for message in messages:  # one phone's messages leave in the order they were queued
            async with slots:
                outcomes[_id(message)] = await _send(sender, message)

    try:
        await asyncio.gather(*(send_in_order(group) for group in by_phone.values()))
    finally:  # cancelled or not: what was sent is recorded, in the order it was claimed
        results = [SendResult(m, outcomes[_id(m)]) for m in claimed if _id(m) in outcomes]
        await record_round(uow_factory, results, provider=sender.name, now=now, retry=retry)
    return len(claimed)


async def _send(sender: SmsSender, message: OutboxMessage) -> SendOutcome:
    sms = OutboundSms(to=message.msisdn, text=message.text, reference=message.dedupe_key)
    try:
        return await sender.send(sms)
    except Exception as exc:  # the port says never raise; a bug must not stop the batch
        _LOG.exception("outbox: sender %s raised for message %s", sender.name, message.id)
        return SendOutcome.retry_later(f"sender raised {type(exc).__name__}")


async def apply_delivery_report(  # noqa: PLR0917 - the report's fields, as the brief names them
    uow_factory: UnitOfWorkFactory,
    provider: str,
    provider_message_id: str,
    status: str,
    failure_reason: str,
    now: datetime,
    *,
    policy: RetryPolicy | None = None,
    rng: Random = random.random,
) -> DeliveryResult:
    """Apply one delivery report; idempotent, and safe in any order.

    ``Success`` → ``delivered`` (sticky). ``Failed`` / ``Rejected`` / ``Expired`` →
    ``undeliverable``, or back to ``queued`` with backoff when the failure reason is one the
    policy retries and attempts remain. Intermediate words (``Sent``, ``Submitted``,
    ``Buffered``) only update ``provider_status``. A report for an id no sent message has
    is held and applied when the send is recorded (it may simply have come first).
    """
    retry = Retry(policy or RetryPolicy(), rng)
    async with uow_factory() as uow:
        row = await uow.outbox.get_by_provider_id(provider, provider_message_id, lock=True)
        if row is None:
            await _hold(
                uow,
                HeldReport(
                    provider=provider,
                    provider_message_id=provider_message_id,
                    status=status,
                    failure_reason=failure_reason,
                    received_at=now,
                ),
            )
            await uow.commit()
            return DeliveryResult.HELD
        changed, result = after_report(
            row, status=status, reason=failure_reason, now=now, retry=retry
        )
        if result is DeliveryResult.APPLIED:
            await uow.outbox.update(changed)
            await uow.commit()
    return result


async def _hold(uow: UnitOfWork, report: HeldReport) -> None:
    """Keep the report, unless a final one is held already and this one is not."""
    held = await uow.outbox.held_report(report.provider, report.provider_message_id)
    if held is not None and is_final_word(held.status) and not is_final_word(report.status):
        return
    await uow.outbox.hold_report(report)


def _id(message: OutboxMessage) -> int:
    if message.id is None:  # pragma: no cover - claimed rows are stored rows
        raise ValueError("an outbox message that was never stored")
    return message.id


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxDispatcher:
    """Runs :func:`dispatch_due` in a background task until stopped.

    The loop dispatches a batch, then waits for :meth:`wake` (call it after enqueueing, so a
    token SMS leaves at once) or ``poll_interval`` seconds (retries falling due, messages
    enqueued by other processes). A full batch loops again at once. An error in one round is
    logged and the loop goes on. The gateway starts it and stops it in its cleanup context.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        sender: SmsSender,
        *,
        clock: Callable[[], datetime] = _utc_now,
        policy: RetryPolicy | None = None,
        rng: Random = random.random,
        poll_interval: float = 5.0,
        batch_size: int = 50,
    ) -> None:
        self._uow_factory = uow_factory
        self._sender = sender
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rng = rng
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  #: completed dispatch rounds (for tests and health checks)

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the background task (inside a running event loop)."""
        if self.running:
            raise RuntimeError("the dispatcher is already running")
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sms-outbox")

    def wake(self) -> None:
        """Dispatch now instead of at the next poll."""
        self._wake.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Let the current round finish (up to ``grace`` seconds, then cancel it) and end."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self._wake.set()
        try:
            async with asyncio.timeout(grace):
                await asyncio.shield(task)
        except TimeoutError:
            # A cancelled send leaves its row ``sending``: its lease expires, it is retried.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run_once(self) -> int:
        """One round: dispatch up to a batch of due messages; how many were claimed."""
        return await dispatch_due(
            self._uow_factory,
            self._sender,
            self._clock(),
            self._batch_size,
            policy=self._policy,
            rng=self._rng,
        )

    async def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except Exception:
                _LOG.exception("outbox: dispatch round failed; trying again after the poll")
                claimed = 0
            self.rounds += 1
            if self._stop.is_set():
                break
            if claimed >= self._batch_size:
                await asyncio.sleep(0)  # let others run, then take the next batch
                continue
            try:
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
