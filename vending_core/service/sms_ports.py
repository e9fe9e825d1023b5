"""The outbound-SMS port: hand one message to a provider, learn whether it took it.

An :class:`SmsSender` (Africa's Talking HTTP, SMPP, memory, console) is driven by the outbox
dispatcher (:mod:`vending_core.service.outbox`), never by a request handler directly: the
token SMS is written to the outbox in the vend's own transaction and sent afterwards, so a
provider outage delays a message but never loses it, and a resend never re-vends.

Contract of :meth:`SmsSender.send`:

* It **raises nothing** for anything the provider or the network does. A refusal comes back
  as ``SendOutcome(accepted=False, retryable=False)`` (bad number, blacklisted, invalid
  sender id); a failure worth trying again later as ``accepted=False, retryable=True``
  (connection refused or reset, timeout, HTTP 5xx, the provider's own temporary errors such
  as "insufficient balance"). ``accepted=True`` means the provider queued the message and
  gave it ``provider_message_id``; delivery reports later refer to that id.
* A timeout after the request went out is reported as retryable although the provider may
  have taken the message: the outbox is at-least-once, and a token SMS sent twice carries
  the same token twice, which is harmless.
* Secrets (API keys, passwords) stay inside the adapter; they are never logged, never put in
  ``error`` and never shown by ``repr``.

Delivery reports (the provider calling us back) are parsed by the adapter into a
:class:`DeliveryReport` and applied by ``outbox.apply_delivery_report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["DeliveryReport", "OutboundSms", "SendOutcome", "SmsSender"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundSms:
    """One text to one phone.

    ``to`` is the recipient in international digits without ``+`` (``254712345678``);
    adapters add what their provider wants. ``reference`` is ours (the outbox row's dedupe
    key): adapters may pass it on for tracing, it is never shown to the customer.
    """

    to: str
    text: str
    reference: str
    sender_id: str | None = None  #: short code / alphanumeric sender; None: the adapter's own


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOutcome:
    """What the provider said about one message (see the module docstring)."""

    accepted: bool
    provider_message_id: str | None = None
    status: str = ""  #: the provider's own status word or code (``Success``, ``403``...)
    retryable: bool = False  #: only meaningful when not accepted
    error: str = ""  #: why not accepted, for logs and the outbox row (never a secret)

    @classmethod
    def sent(cls, provider_message_id: str, status: str = "") -> SendOutcome:
        """The provider took the message."""
        return cls(accepted=True, provider_message_id=provider_message_id, status=status)

    @classmethod
    def refused(cls, error: str, status: str = "") -> SendOutcome:
        """The provider refused the message for good."""
        return cls(accepted=False, status=status, retryable=False, error=error)

    @classmethod
    def retry_later(cls, error: str, status: str = "") -> SendOutcome:
        """Not sent now; worth trying again later."""
        return cls(accepted=False, status=status, retryable=True, error=error)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReport:
    """A provider's delivery report about one message it accepted earlier.

    ``status`` is the provider's word (Africa's Talking: ``Sent``, ``Submitted``,
    ``Buffered``, ``Success``, ``Failed``, ``Rejected``, ``Expired``).
    """

    provider: str
    provider_message_id: str
    status: str
    failure_reason: str = ""
    phone_number: str = ""
    network_code: str = ""
    retry_count: int = 0


class SmsSender(Protocol):
    """One way out for SMS. Implementations: Africa's Talking, SMPP, memory, console."""

    @property
    def name(self) -> str:
        """The provider's name, stored on the outbox row (delivery reports match on it)."""
        ...

    async def send(self, message: OutboundSms) -> SendOutcome:
        """Hand the message to the provider; never raises for provider or network trouble."""
        ...
