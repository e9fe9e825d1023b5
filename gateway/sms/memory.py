"""An in-memory SMS sender: records what it accepts; can be switched down to fake an outage."""

from __future__ import annotations

import itertools
import secrets

from vending_core.service.sms_ports import OutboundSms, SendOutcome

__all__ = ["MemorySmsSender"]


class MemorySmsSender:
    """``SmsSender`` that keeps accepted messages in :attr:`sent`.

    :meth:`down` makes every send fail as a connection failure would (retryable) until
    :meth:`up`; :meth:`refuse` makes sends to one number fail for good, as a provider refusing
    an invalid number does. Message ids are ``mem-<run>-1``, ``mem-<run>-2``... (``<run>``
    random per sender, so ids stay unique across processes and restarts).
    """

    def __init__(self, name: str = "memory", *, run: str | None = None) -> None:
        self._name = name
        self._run = run or secrets.token_hex(4)
        self._down = False
        self._refused: dict[str, str] = {}
        self._ids = itertools.count(1)
        self.sent: list[OutboundSms] = []
        self.attempts = 0  #: every call to send, accepted or not

    @property
    def name(self) -> str:
        """The provider name on outbox rows."""
        return self._name

    @property
    def is_down(self) -> bool:
        """Whether sends currently fail as an outage."""
        return self._down

    def down(self) -> None:
        """Fail every send (retryable) from now on."""
        self._down = True

    def up(self) -> None:
        """Accept sends again."""
        self._down = False

    def refuse(self, msisdn: str, reason: str = "InvalidPhoneNumber") -> None:
        """Refuse every message to ``msisdn`` (international digits) for good."""
        self._refused[msisdn] = reason

    async def send(self, message: OutboundSms) -> SendOutcome:
        """Accept and record the message, unless down or the number is refused."""
        self.attempts += 1
        if self._down:
            return SendOutcome.retry_later("connection refused (memory sender is down)", "down")
        if message.to in self._refused:
            return SendOutcome.refused(self._refused[message.to], "refused")
        self.sent.append(message)
        return SendOutcome.sent(f"mem-{self._run}-{next(self._ids)}", "Success")
