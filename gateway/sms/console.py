"""A sender that prints each SMS to a stream: the embedded default's "outbox" on a console.

For the embedded default only (``make run`` on a developer's machine): the text is printed in
full, **token included**, because that console is where the developer reads the token to
type it into a simulated meter. Never configure it in production: there, logs must not hold
tokens (ARCHITECTURE.md rule 7).
"""

from __future__ import annotations

import itertools
import secrets
from typing import TextIO

from vending_core.service.sms_ports import OutboundSms, SendOutcome

__all__ = ["ConsoleSmsSender"]


class ConsoleSmsSender:
    """``SmsSender`` that writes ``SMS to +<number>: <text>`` lines to ``stream``."""

    def __init__(self, stream: TextIO, name: str = "console", *, run: str | None = None) -> None:
        self._stream = stream
        self._name = name
        # Ids must be unique per provider across processes and restarts (the outbox keys
        # delivery reports on them): a random run id, then a counter.
        self._run = run or secrets.token_hex(4)
        self._ids = itertools.count(1)

    @property
    def name(self) -> str:
        """The provider name on outbox rows."""
        return self._name

    async def send(self, message: OutboundSms) -> SendOutcome:
        """Print the message; a stream that cannot be written is a retryable failure."""
        message_id = f"console-{self._run}-{next(self._ids)}"
        try:
            self._stream.write(f"SMS to +{message.to} [{message_id}]: {message.text}\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:  # closed stream, broken pipe
            return SendOutcome.retry_later(f"console not writable: {type(exc).__name__}")
        return SendOutcome.sent(message_id, "Printed")
