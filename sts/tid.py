"""Token identifiers (TID): minutes since a base date, in 24 bits.

A TID is the number of whole minutes from 00:00 on 1 January of the base date
(1993, 2014 or 2035) to the issue time. The 24-bit field rolls over after
2**24 - 1 minutes, about 31.9 years (2024-11-24 20:15 for base date 1993), so
meters are moved to the next base date by key change tokens before then.

The minute 00:01 of every day (TID mod 1440 == 1) is reserved: a token asked
for at 00:01 carries the TID of 00:02.

A meter rejects a TID it has already seen, so a vending system issues
``max(now, last + 1)`` per meter (:func:`next_tid`), skipping the reserved
minute.

Clock policy: naive datetimes are taken as readings of the vending clock (the
compliance vectors are naive); aware datetimes are converted to UTC first, so
every vending point of one system agrees. Base dates are on the same clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sts.errors import TidError

__all__ = [
    "BASE_DATES",
    "MAX_TID",
    "MINUTES_PER_DAY",
    "datetime_of",
    "is_reserved",
    "next_tid",
    "rollover_at",
    "tid_at",
]

BASE_DATES = (1993, 2014, 2035)
MAX_TID = (1 << 24) - 1
MINUTES_PER_DAY = 1440
_RESERVED = 1  # 00:01
_MINUTE = timedelta(minutes=1)


def _base(base_date: int) -> datetime:
    if base_date not in BASE_DATES:
        raise TidError(f"base date must be one of 1993, 2014, 2035; got {base_date!r}")
    return datetime(base_date, 1, 1)  # noqa: DTZ001 - naive vending-clock time, see module doc


def _naive(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when
    return when.astimezone(UTC).replace(tzinfo=None)


def is_reserved(tid: int) -> bool:
    """Whether ``tid`` falls on the reserved minute 00:01 of a day."""
    return tid % MINUTES_PER_DAY == _RESERVED


def tid_at(when: datetime, base_date: int) -> int:
    """Return the TID for a token issued at ``when`` (seconds are ignored).

    A time on the reserved minute 00:01 gives the TID of 00:02.
    """
    delta = _naive(when) - _base(base_date)
    minutes = delta // _MINUTE
    if minutes < 0:
        raise TidError(f"{when:%Y-%m-%d %H:%M} is before base date {base_date}")
    if is_reserved(minutes):
        minutes += 1
    if minutes > MAX_TID:
        raise TidError(
            f"{when:%Y-%m-%d %H:%M} is past the TID rollover of base date {base_date} "
            f"({rollover_at(base_date):%Y-%m-%d %H:%M}); re-key the meter to a later base date"
        )
    return minutes


def datetime_of(tid: int, base_date: int) -> datetime:
    """Return the (naive, vending-clock) minute a TID stands for."""
    if not 0 <= tid <= MAX_TID:
        raise TidError(f"TID must be 0..{MAX_TID}, got {tid}")
    return _base(base_date) + tid * _MINUTE


def rollover_at(base_date: int) -> datetime:
    """The last minute a TID of ``base_date`` can express."""
    return datetime_of(MAX_TID, base_date)


def next_tid(now_tid: int, last_tid: int | None) -> int:
    """Return the TID to issue now for a meter whose last issued TID is ``last_tid``.

    This is ``max(now, last + 1)``, moved off the reserved minute, so two tokens
    for one meter in the same minute both load.
    """
    if now_tid < 0 or (last_tid is not None and last_tid < 0):
        raise TidError("TIDs are never negative")
    tid = now_tid if last_tid is None else max(now_tid, last_tid + 1)
    if is_reserved(tid):
        tid += 1
    if tid > MAX_TID:
        raise TidError("no TID left before rollover; re-key the meter to a later base date")
    return tid
