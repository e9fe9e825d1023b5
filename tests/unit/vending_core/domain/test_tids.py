"""Tests for :mod:`vending_core.domain.tids`: per-meter TID allocation.

TIDs are minutes since the meter's base date. Written out for base date 2014:
2014-01-01 -> 2025-01-01 is 11 years with leap days 2016, 2020, 2024 = 4018 days, plus
January (31) and February (28) = 4077 days to 2025-03-01; 4077 x 1440 = 5 870 880 minutes.
So 2025-03-01 00:00 is 5 870 880 and 10:30 is 5 870 880 + 630 = 5 871 510.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vending_core.domain.errors import KeyDataError, TidExhausted
from vending_core.domain.model import Meter
from vending_core.domain.tids import allocate_tid, allocate_tids

MIDNIGHT = 5_870_880  # 2025-03-01 00:00 on base date 2014
MAX_TID = 16_777_215  # 2**24 - 1


def _meter(last_tid: int | None = None, base_date: int = 2014) -> Meter:
    return Meter(
        number="01234567890",
        pan="600727000001234567",
        sgc="123456",
        ti=1,
        krn=1,
        tariff_code="RES",
        base_date=base_date,
        last_tid=last_tid,
    )


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2025, 3, 1, hour, minute, second, tzinfo=UTC)


def test_first_tid_is_the_current_minute() -> None:
    """A meter with no TID yet gets the minute of ``now``; the meter records it."""
    meter = _meter()
    assert allocate_tid(meter, _at(10, 30, 5)) == MIDNIGHT + 630
    assert meter.last_tid == MIDNIGHT + 630


def test_same_minute_gives_now_and_now_plus_one() -> None:
    """Two tokens in the same minute get consecutive TIDs, so the meter takes both."""
    meter = _meter()
    assert allocate_tid(meter, _at(10, 30, 5)) == 5_871_510
    assert allocate_tid(meter, _at(10, 30, 50)) == 5_871_511


def test_fbe_and_credit_in_one_vend() -> None:
    """Several tokens of one vend get distinct increasing TIDs (the 2021 Breede Valley bug)."""
    meter = _meter()
    assert allocate_tids(meter, _at(10, 30), 2) == (5_871_510, 5_871_511)
    assert meter.last_tid == 5_871_511


def test_reserved_minute_is_skipped() -> None:
    """00:01 (TID mod 1440 == 1) is never issued: it becomes 00:02."""
    assert allocate_tid(_meter(), _at(0, 1)) == MIDNIGHT + 2
    assert allocate_tid(_meter(last_tid=MIDNIGHT), _at(0, 0, 30)) == MIDNIGHT + 2


def test_last_tid_ahead_of_now() -> None:
    """When the last TID is ahead of the clock, the next is last + 1, never backwards."""
    meter = _meter(last_tid=5_871_600)
    assert allocate_tid(meter, _at(10, 30)) == 5_871_601


def test_rollover_is_tid_exhausted() -> None:
    """No TID left after the last one: TidExhausted tells staff to re-key; meter unchanged."""
    meter = _meter(last_tid=MAX_TID)
    with pytest.raises(TidExhausted, match="re-key"):
        allocate_tid(meter, _at(10, 30))
    assert meter.last_tid == MAX_TID


def test_base_1993_rolled_over_in_2024() -> None:
    """A 1993-base meter in 2025 is past its 24 Nov 2024 rollover: TidExhausted."""
    with pytest.raises(TidExhausted):
        allocate_tid(_meter(base_date=1993), _at(10, 30))


def test_several_tokens_all_or_nothing() -> None:
    """If the second TID of a vend does not exist, the first is not taken either."""
    meter = _meter(last_tid=MAX_TID - 1)
    with pytest.raises(TidExhausted):
        allocate_tids(meter, _at(10, 30), 2)
    assert meter.last_tid == MAX_TID - 1


def test_naive_and_non_utc_datetimes_refused() -> None:
    """``now`` must be aware UTC: a naive time or another offset is a ValueError."""
    meter = _meter()
    with pytest.raises(ValueError, match="UTC"):
        allocate_tid(meter, datetime(2025, 3, 1, 10, 30))  # noqa: DTZ001
    with pytest.raises(ValueError, match="UTC"):
        allocate_tid(meter, datetime(2025, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))))
    assert meter.last_tid is None


def test_bad_base_date_is_key_data_error() -> None:
    """A base date that is not 1993/2014/2035, or is still in the future, cannot make TIDs."""
    with pytest.raises(KeyDataError):
        allocate_tid(_meter(base_date=2000), _at(10, 30))
    with pytest.raises(KeyDataError):
        allocate_tid(_meter(base_date=2035), _at(10, 30))


def test_count_must_be_positive() -> None:
    """Asking for no TIDs is a programming error."""
    with pytest.raises(ValueError, match="at least 1"):
        allocate_tids(_meter(), _at(10, 30), 0)
