"""TID policy: every token for a meter gets a new, increasing token identifier.

A meter rejects a TID it has seen, so TIDs are allocated per meter as
``max(now, last + 1)`` in minutes since the meter's base date, skipping the reserved
minute 00:01 (vending.md section 5; :func:`sts.tid.next_tid`). Time is UTC: the caller
passes an aware UTC ``now``; the domain never reads a clock. Credit, FBE, free and
engineering tokens all go through :func:`allocate_tids`, which leaves the meter unchanged
when it raises. The caller holds the meter's row lock while allocating.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sts.errors import TidError
from sts.tid import BASE_DATES, next_tid, tid_at
from vending_core.domain.errors import KeyDataError, TidExhausted
from vending_core.domain.model import Meter

__all__ = ["allocate_tid", "allocate_tids", "ensure_utc"]


def ensure_utc(when: datetime) -> None:
    """Refuse a naive datetime or one not at UTC (ARCHITECTURE.md: aware UTC inside).

    Raises:
        ValueError: ``when`` is naive or has a non-zero UTC offset.
    """
    if when.tzinfo is None or when.utcoffset() != timedelta(0):
        raise ValueError(f"expected a timezone-aware UTC datetime, got {when!r}")


def _rekey(meter: Meter) -> TidExhausted:
    return TidExhausted(
        f"meter {meter.number} has no TID left on base date {meter.base_date}: "
        "re-key it (key change tokens to a later base date) before issuing tokens"
    )


def _now_tid(meter: Meter, now: datetime) -> int:
    if meter.base_date not in BASE_DATES or now < datetime(meter.base_date, 1, 1, tzinfo=UTC):
        raise KeyDataError(
            f"meter {meter.number}: base date {meter.base_date} cannot give a TID at {now:%Y-%m-%d}"
        )
    try:
        return tid_at(now, meter.base_date)
    except TidError as exc:
        raise _rekey(meter) from exc


def allocate_tids(meter: Meter, now: datetime, count: int) -> tuple[int, ...]:
    """Allocate ``count`` distinct, increasing TIDs for tokens issued together at ``now``.

    Sets ``meter.last_tid`` to the last one. Nothing changes if it raises.

    Raises:
        ValueError: ``now`` is not aware UTC, or ``count`` is below 1.
        TidExhausted: the meter's base date has rolled over (re-key the meter).
        KeyDataError: the meter's base date is not an STS base date or is after ``now``.
    """
    ensure_utc(now)
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    now_tid = _now_tid(meter, now)
    tids: list[int] = []
    last = meter.last_tid
    try:
        for _ in range(count):
            last = next_tid(now_tid, last)
            tids.append(last)
    except TidError as exc:
        raise _rekey(meter) from exc
    meter.last_tid = last
    return tuple(tids)


def allocate_tid(meter: Meter, now: datetime) -> int:
    """Allocate the TID for one token issued at ``now`` and record it on the meter.

    ``next_tid(tid_at(now, base date), meter.last_tid)``: the current minute, or one past
    the last TID when that is ahead, never the reserved minute 00:01.

    Raises:
        ValueError: ``now`` is not aware UTC.
        TidExhausted: the meter's base date has rolled over (re-key the meter).
        KeyDataError: the meter's base date is not an STS base date or is after ``now``.
    """
    (tid,) = allocate_tids(meter, now, 1)
    return tid
