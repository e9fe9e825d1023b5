"""The ``smpp`` package's exception tree (see the package docstring)."""

from __future__ import annotations

__all__ = ["BindRefused", "LinkDown", "PduDecodeError", "SmppError"]


class SmppError(Exception):
    """Base of every error the ``smpp`` package raises."""


class PduDecodeError(SmppError):
    """A PDU that cannot be parsed; ``status`` is the ``generic_nack`` status to answer with."""

    def __init__(self, message: str, status: int, sequence: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.sequence = sequence


class BindRefused(SmppError):  # noqa: N818 - named for what happened, like the domain's refusals
    """The SMSC answered our bind with a non-zero ``command_status`` (kept in ``status``)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with command_status 0x{status:08X}")
        self.status = status


class LinkDown(SmppError):  # noqa: N818 - named for what happened
    """The TCP connection closed or failed while a request was outstanding."""
