"""SmppSmsSender: the ``SmsSender`` port over one or more SMPP binds, routed by MSISDN prefix."""

from __future__ import annotations

from collections.abc import Sequence

from smpp.client import SmppLink
from smpp.models import LinkState
from vending_core.service.sms_ports import OutboundSms, SendOutcome

__all__ = ["REPLY_PREFIX", "SmppSmsSender", "channel_of"]

REPLY_PREFIX = "mo:smpp:"  #: outbox keys of replies to MOs: ``mo:smpp:<bind>:<message id>``


def channel_of(bind: str) -> str:
    """The SMS channel name of an MO that came in on ``bind`` (``smpp:<bind>``)."""
    return f"smpp:{bind}"


class SmppSmsSender:
    """Sends each message on a bound link: the longest matching prefix wins, else any bound link.

    With no bound link the outcome is ``retry_later`` and the outbox keeps the message until a
    link is back. The links are started and stopped by their owner (the composition root),
    not by the sender.
    """

    def __init__(self, links: Sequence[SmppLink], *, name: str = "smpp") -> None:
        if not links:
            raise ValueError("an SMPP sender needs at least one link")
        names = [link.config.name for link in links]
        if len(set(names)) != len(names):
            raise ValueError(f"bind names must be unique: {names}")
        self._links = tuple(links)
        self._name = name

    def __repr__(self) -> str:
        return f"SmppSmsSender({[link.config.name for link in self._links]})"

    @property
    def name(self) -> str:
        """The provider name on outbox rows (each link reports receipts under it)."""
        return self._name

    @property
    def links(self) -> tuple[SmppLink, ...]:
        """The links, in configuration order."""
        return self._links

    def link(self, name: str) -> SmppLink | None:
        """The link of the bind called ``name`` (an MO's ``bind``: reply on the same bind)."""
        return next((link for link in self._links if link.config.name == name), None)

    def _reply_link(self, reference: str) -> SmppLink | None:
        if not reference.startswith(REPLY_PREFIX):
            return None
        bind = reference.removeprefix(REPLY_PREFIX).partition(":")[0]
        link = self.link(bind)
        return link if link is not None and link.state is LinkState.BOUND else None

    def route(self, msisdn: str) -> SmppLink | None:
        """The bound link for ``msisdn``: longest matching prefix, else the first bound one."""
        bound = [link for link in self._links if link.state is LinkState.BOUND]
        best: tuple[int, SmppLink] | None = None
        for link in bound:
            for prefix in link.config.prefixes:
                if msisdn.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), link)
        if best is not None:
            return best[1]
        return bound[0] if bound else None

    async def send(self, message: OutboundSms) -> SendOutcome:
        """Submit on the routed link; ``retry_later`` when no link is bound.

        A reply to an MO goes back on the bind the MO came in on while that bind is up: its
        outbox key (``message.reference``) starts with ``mo:smpp:<bind>:`` (see
        :func:`reply_key`). Otherwise the MSISDN prefix decides.
        """
        link = self._reply_link(message.reference) or self.route(message.to)
        if link is None:
            return SendOutcome.retry_later("no SMPP bind is up", "unbound")
        return await link.submit(message)
