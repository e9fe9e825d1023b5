"""Configuration of one SMPP bind (one TCP connection to one operator SMSC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["BindConfig"]

_SYSTEM_ID_MAX: Final = 15  # SMPP 3.4 §4.1.1: C-Octet Strings of 16 / 9 / 13 octets
_PASSWORD_MAX: Final = 8
_SYSTEM_TYPE_MAX: Final = 12
_ADDR_MAX: Final = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class BindConfig:
    """One ``bind_transceiver`` and how to keep it up (docs/smpp.md explains each field).

    ``password`` never appears in ``repr``. ``prefixes`` are the MSISDN prefixes
    (international digits, ``2547``) routed to this bind; the longest match wins.
    Backoff after a failed connect or a lost link: ``min(cap, base * 2**n)`` scaled by a
    random factor in ``[1 - jitter, 1]``; a refused bind (bad credentials) waits
    ``bind_refused_backoff_s`` instead, since retrying soon only fills the SMSC's logs.
    """

    name: str
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    tps: float = 50.0  #: submit_sm per second at most (token spacing, whole bind)
    window: int = 10  #: submit_sm awaiting their response at most
    source_addr: str = ""
    source_addr_ton: int = 5  #: 5 alphanumeric; 1 international number; 3 network specific
    source_addr_npi: int = 0
    dest_addr_ton: int = 1  #: international
    dest_addr_npi: int = 1  #: E.164
    registered_delivery: int = 1  #: ask for a receipt of the final outcome
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0  #: for each submit_sm_resp, bind and enquire_link
    connect_timeout_s: float = 5.0
    reconnect_base_s: float = 1.0
    reconnect_cap_s: float = 60.0
    reconnect_jitter: float = 0.5
    bind_refused_backoff_s: float = 300.0
    throttle_pause_s: float = 1.0  #: no submit for this long after ESME_RTHROTTLED / RMSGQFUL
    receipt_park_s: float = 60.0  #: how long a receipt waits for its submit_sm_resp
    prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_length("system_id", self.system_id, _SYSTEM_ID_MAX)
        _check_length("password", self.password, _PASSWORD_MAX, show=False)
        _check_length("system_type", self.system_type, _SYSTEM_TYPE_MAX)
        _check_length("source_addr", self.source_addr, _ADDR_MAX)
        if not self.name:
            raise ValueError("a bind needs a name")
        if self.window < 1 or self.tps <= 0:
            raise ValueError("window must be >= 1 and tps > 0")
        if not 0 <= self.reconnect_jitter <= 1:
            raise ValueError("reconnect_jitter must be within [0, 1]")
        if any(not p.isdigit() for p in self.prefixes):
            raise ValueError("prefixes are international digits without '+'")

    def backoff(self, failures: int, draw: float) -> float:
        """Seconds to wait after ``failures`` (>= 1) failures in a row; ``draw`` in [0, 1)."""
        exponent = min(max(failures - 1, 0), 30)
        delay: float = min(self.reconnect_cap_s, self.reconnect_base_s * 2.0**exponent)
        return delay * (1 - self.reconnect_jitter * draw)


def _check_length(what: str, value: str, limit: int, *, show: bool = True) -> None:
    if len(value.encode("latin-1", "replace")) > limit:
        shown = f" {value!r}" if show else ""
        raise ValueError(f"{what}{shown} is longer than {limit} characters")
