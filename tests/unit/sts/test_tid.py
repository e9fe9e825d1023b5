"""Tests for :mod:`sts.tid`: token identifiers (minutes since a base date, 24 bits).

Expected values come from SPEC.md sections 3.6 and 10, the shared vector files, or day
counts written out in comments, never from the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.errors import TidError
from sts.tid import (
    BASE_DATES,
    MAX_TID,
    MINUTES_PER_DAY,
    datetime_of,
    is_reserved,
    next_tid,
    rollover_at,
    tid_at,
)

# tests/unit/sts/test_tid.py -> parents[3] is the repository root; `shared` sits beside it.
VECTORS_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"

ISSUED_AT_FILES = ("group_a.jsonl", "group_b.jsonl", "gh_public.jsonl")

# SPEC 3.6 offsets between base dates, in minutes:
# 1993-01-01 -> 2014-01-01: 21 years, leap days 1996 2000 2004 2008 2012 = 5;
#   (21 * 365 + 5) days = 7 670 days * 1440 = 11 044 800 minutes.
# 1993-01-01 -> 2035-01-01: 42 years, leap days 1996 .. 2032 = 10;
#   (42 * 365 + 10) days = 15 340 days * 1440 = 22 089 600 minutes.
OFFSET_2014 = 11_044_800
OFFSET_2035 = 22_089_600


def _read_jsonl(name: str) -> list[dict[str, Any]]:
    """Return the JSON objects of one vector file; fail (never skip) if it is missing."""
    path = VECTORS_DIR / name
    assert path.is_file(), f"vector file missing: {path}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _at(text: str) -> datetime:
    """A naive vending-clock datetime from ISO text (the vectors' `issued_at` format)."""
    return datetime.fromisoformat(text)


def test_constants() -> None:
    """24-bit TIDs, 1440 minutes a day, base dates 1993/2014/2035 (SPEC 3.6)."""
    assert MAX_TID == 2**24 - 1 == 16_777_215
    assert MINUTES_PER_DAY == 1440
    assert BASE_DATES == (1993, 2014, 2035)


def test_spec_worked_example_tid() -> None:
    """1996-03-25 13:55 with base 1993 is TID 0x19EB23 (SPEC 3.7 / 10, IEC worked example).

    Days: 1993, 1994, 1995 = 3 * 365 = 1 095; 1996: Jan 31 + Feb 29 + 24 = 84 -> 1 179 days.
    1 179 * 1440 = 1 697 760; + 13 * 60 + 55 = 835 -> 1 698 595 = 0x19EB23.
    """
    assert tid_at(_at("1996-03-25T13:55"), 1993) == 0x19EB23  # = 1 698 595


def test_ctsa01_1_tid() -> None:
    """A/CTSA01-1: 2004-03-01 13:55 with base 1993 is TID 5 871 715.

    Days: 1993..2003 = 11 * 365 + 2 (1996, 2000) = 4 017; 2004: Jan 31 + Feb 29 = 60
    -> 4 077 days * 1440 = 5 870 880; + 835 -> 5 871 715.
    """
    assert tid_at(_at("2004-03-01T13:55"), 1993) == 5_871_715


def test_reserved_minute_example() -> None:
    """A/CTSA09-2: 2004-03-29 00:01 (base 1993) is reserved and gets 00:02's TID 5 911 202.

    Days: 4 017 + 31 + 29 + 28 = 4 105 -> 5 911 200; 00:01 -> 5 911 201 = 1 mod 1440,
    reserved, so 5 911 202.
    """
    assert tid_at(_at("2004-03-29T00:01"), 1993) == 5_911_202
    assert tid_at(_at("2004-03-29T00:02"), 1993) == 5_911_202
    assert tid_at(_at("2004-03-29T00:00"), 1993) == 5_911_200


@pytest.mark.parametrize("name", ISSUED_AT_FILES)
def test_vector_tids(name: str) -> None:
    """Every line with issued_at: tid_at gives `tid`, and the shift flag matches the rule.

    reserved_minute_shift is true exactly when issued_at is at 00:01 and tid is 00:02's TID.
    """
    lines = [line for line in _read_jsonl(name) if line["issued_at"] is not None]
    assert lines
    wrong = []
    for line in lines:
        when = _at(line["issued_at"])
        tid = tid_at(when, line["base_date"])
        if tid != line["tid"]:
            wrong.append(f"{line['id']}: got {tid}, expected {line['tid']}")
        at_0001 = (when.hour, when.minute) == (0, 1)
        shifted = at_0001 and line["tid"] % 1440 == 2
        if line["reserved_minute_shift"] != shifted:
            wrong.append(f"{line['id']}: reserved_minute_shift {line['reserved_minute_shift']}")
    assert wrong == []


def test_vector_files_hold_reserved_minute_lines() -> None:
    """The reserved-minute rule is exercised by the vectors: one shifted line in A and in B."""
    shifted = [
        line["id"]
        for name in ISSUED_AT_FILES
        for line in _read_jsonl(name)
        if line["reserved_minute_shift"]
    ]
    assert sorted(shifted) == ["A/CTSA09-2", "B/CTSA09_04-2"]


@pytest.mark.parametrize(
    ("base_date", "last_minute"),
    [
        (1993, "2024-11-24T20:15"),
        (2014, "2045-11-24T20:15"),
        (2035, "2066-11-24T20:15"),
    ],
)
def test_rollover(base_date: int, last_minute: str) -> None:
    """SPEC 3.6: the last minute of each base date is TID 2**24 - 1; the next is a TidError."""
    last = _at(last_minute)
    assert tid_at(last, base_date) == MAX_TID
    assert tid_at(last.replace(second=59), base_date) == MAX_TID
    with pytest.raises(TidError):
        tid_at(last + timedelta(minutes=1), base_date)
    assert rollover_at(base_date) == last


def test_base_date_offsets() -> None:
    """SPEC 3.6: 2014-01-01 is 11 044 800 minutes after 1993-01-01; 2035-01-01 is 22 089 600."""
    assert tid_at(_at("2014-01-01T00:00"), 1993) == OFFSET_2014
    # 2035-01-01 is past the 1993 rollover (22 089 600 > 2**24 - 1), so the 1993 -> 2035
    # offset is checked as the sum of 1993 -> 2014 and 2014 -> 2035 (also 7 670 days).
    assert tid_at(_at("2035-01-01T00:00"), 2014) == OFFSET_2035 - OFFSET_2014 == OFFSET_2014
    with pytest.raises(TidError):
        tid_at(_at("2035-01-01T00:00"), 1993)
    for base_date in BASE_DATES:
        assert tid_at(datetime(base_date, 1, 1, tzinfo=UTC), base_date) == 0


@settings(max_examples=200, deadline=None, database=None)
@given(when=st.datetimes(min_value=_at("2035-01-01T00:00"), max_value=_at("2045-11-24T20:15")))
def test_tid_difference_2014_2035(when: datetime) -> None:
    """For a time between 2035 and the 2014 rollover: tid(2014) - tid(2035) == 11 044 800.

    2014-01-01 -> 2035-01-01 is 21 years with 5 leap days (2016 .. 2032), the same
    7 670 days as 1993 -> 2014. The offset is whole days, so a reserved-minute shift applies
    to both base dates alike. Base date 1993 is past its rollover there.
    """
    assert tid_at(when, 2014) - tid_at(when, 2035) == OFFSET_2035 - OFFSET_2014
    with pytest.raises(TidError):
        tid_at(when, 1993)


@settings(max_examples=200, deadline=None, database=None)
@given(when=st.datetimes(min_value=_at("2014-01-01T00:00"), max_value=_at("2024-11-24T20:15")))
def test_tid_difference_1993_2014(when: datetime) -> None:
    """For a time between 2014 and the 1993 rollover: tid(1993) - tid(2014) == 11 044 800.

    The offset is whole days (7 670 * 1440), so a reserved-minute shift applies to both.
    """
    assert tid_at(when, 1993) - tid_at(when, 2014) == OFFSET_2014


@pytest.mark.parametrize(
    ("when", "base_date"),
    [
        ("1992-12-31T23:59", 1993),
        ("1992-12-31T23:59:59", 1993),
        ("2013-12-31T23:59", 2014),
        ("2024-06-01T12:00", 2035),
        ("1900-01-01T00:00", 1993),
    ],
)
def test_before_base_date_raises(when: str, base_date: int) -> None:
    """A time before 00:00 on 1 January of the base date has no TID."""
    with pytest.raises(TidError):
        tid_at(_at(when), base_date)


@pytest.mark.parametrize("base_date", [1992, 1994, 2000, 2024, 2056, 93, 0])
def test_unknown_base_date_raises(base_date: int) -> None:
    """Only 1993, 2014 and 2035 are base dates: others raise TidError everywhere."""
    with pytest.raises(TidError):
        tid_at(_at("2030-01-01T12:00"), base_date)
    with pytest.raises(TidError):
        datetime_of(0, base_date)
    with pytest.raises(TidError):
        rollover_at(base_date)


def test_aware_datetimes_are_converted_to_utc() -> None:
    """An aware time counts as its UTC instant: 03:00+03:00 is 00:00 naive (UTC clock)."""
    plus3 = timezone(timedelta(hours=3))
    assert tid_at(datetime(1993, 1, 1, 3, 0, tzinfo=plus3), 1993) == 0
    assert tid_at(datetime(1996, 3, 25, 16, 55, tzinfo=plus3), 1993) == 0x19EB23
    minus5 = timezone(timedelta(hours=-5))
    assert tid_at(datetime(1996, 3, 25, 8, 55, tzinfo=minus5), 1993) == 0x19EB23
    assert tid_at(datetime(1996, 3, 25, 13, 55, tzinfo=UTC), 1993) == 0x19EB23


def test_aware_datetime_before_base_in_utc_raises() -> None:
    """02:59+03:00 on 1993-01-01 is 23:59 UTC the day before: before the base date."""
    plus3 = timezone(timedelta(hours=3))
    with pytest.raises(TidError):
        tid_at(datetime(1993, 1, 1, 2, 59, tzinfo=plus3), 1993)


def test_aware_datetime_on_reserved_minute_in_utc() -> None:
    """The reserved minute is judged on the UTC clock: 03:01+03:00 is 00:01 UTC, shifted."""
    plus3 = timezone(timedelta(hours=3))
    # 2004-03-29 00:01 UTC -> 5 911 201, reserved -> 5 911 202 (see the CTSA09 test).
    assert tid_at(datetime(2004, 3, 29, 3, 1, tzinfo=plus3), 1993) == 5_911_202


@pytest.mark.parametrize("second", [0, 1, 30, 59])
def test_seconds_are_ignored(second: int) -> None:
    """Seconds and microseconds do not change the TID: whole minutes only."""
    when = _at("1996-03-25T13:55").replace(second=second, microsecond=999_999 if second else 0)
    assert tid_at(when, 1993) == 0x19EB23


@pytest.mark.parametrize(
    "tid",
    [1, 1441, 2881, 1440 * 1000 + 1, 5_911_201],
)
def test_is_reserved_true(tid: int) -> None:
    """TID mod 1440 == 1 is the reserved minute 00:01."""
    assert is_reserved(tid)


@pytest.mark.parametrize("tid", [0, 2, 1440, 1442, 5_911_202, MAX_TID])
def test_is_reserved_false(tid: int) -> None:
    """Any other TID is not reserved (MAX_TID = 16 777 215 = 1 215 mod 1440)."""
    assert not is_reserved(tid)


@pytest.mark.parametrize(
    ("now", "last", "expected"),
    [
        (1000, None, 1000),  # no previous token: now
        (1000, 500, 1000),  # last < now: now
        (1000, 999, 1000),
        (1000, 1000, 1001),  # same minute: last + 1
        (1000, 2000, 2001),  # last ahead of the clock: last + 1
        (1441, None, 1442),  # now on the reserved minute: moved to 00:02
        (1441, 100, 1442),
        (1000, 1440, 1442),  # last + 1 on the reserved minute: moved on
        (1441, 1441, 1442),
        (MAX_TID, None, MAX_TID),
        (0, MAX_TID - 1, MAX_TID),
        (0, None, 0),
    ],
)
def test_next_tid(now: int, last: int | None, expected: int) -> None:
    """next_tid is max(now, last + 1), moved off the reserved minute (SPEC 3.6)."""
    assert next_tid(now, last) == expected


@pytest.mark.parametrize(("now", "last"), [(0, MAX_TID), (MAX_TID, MAX_TID), (MAX_TID + 1, None)])
def test_next_tid_overflow_raises(now: int, last: int | None) -> None:
    """No TID above 2**24 - 1: the meter must be re-keyed to a later base date."""
    with pytest.raises(TidError):
        next_tid(now, last)


@pytest.mark.parametrize(
    ("tid", "base_date", "expected"),
    [
        (0, 1993, "1993-01-01T00:00"),
        (0x19EB23, 1993, "1996-03-25T13:55"),
        (5_871_715, 1993, "2004-03-01T13:55"),
        (OFFSET_2014, 1993, "2014-01-01T00:00"),
        (0, 2014, "2014-01-01T00:00"),
        (0, 2035, "2035-01-01T00:00"),
        (MAX_TID, 1993, "2024-11-24T20:15"),
        (MAX_TID, 2014, "2045-11-24T20:15"),
        (MAX_TID, 2035, "2066-11-24T20:15"),
    ],
)
def test_datetime_of_examples(tid: int, base_date: int, expected: str) -> None:
    """datetime_of gives the naive minute a TID stands for."""
    result = datetime_of(tid, base_date)
    assert result == _at(expected)
    assert result.tzinfo is None


@pytest.mark.parametrize("tid", [-1, MAX_TID + 1, 2**32])
def test_datetime_of_rejects_out_of_range(tid: int) -> None:
    """A TID outside 0..2**24 - 1 raises TidError."""
    with pytest.raises(TidError):
        datetime_of(tid, 1993)


@settings(max_examples=200, deadline=None, database=None)
@given(
    tid=st.integers(0, MAX_TID).filter(lambda t: t % 1440 != 1),
    base_date=st.sampled_from(BASE_DATES),
)
def test_datetime_of_inverts_tid_at(tid: int, base_date: int) -> None:
    """Any non-reserved TID: tid_at(datetime_of(t)) == t, and the minute is base + t minutes."""
    when = datetime_of(tid, base_date)
    assert when == _at(f"{base_date}-01-01T00:00") + timedelta(minutes=tid)
    assert tid_at(when, base_date) == tid
    assert tid_at(when + timedelta(seconds=59), base_date) == tid


@settings(max_examples=200, deadline=None, database=None)
@given(
    when=st.datetimes(min_value=_at("1993-01-01T00:00"), max_value=_at("2024-11-24T20:15:59")),
)
def test_tid_at_is_the_truncated_minute(when: datetime) -> None:
    """Any time: datetime_of(tid_at(t)) is t truncated to the minute, or 00:02 for 00:01."""
    minute = when.replace(second=0, microsecond=0)
    if (minute.hour, minute.minute) == (0, 1):
        minute += timedelta(minutes=1)
    assert datetime_of(tid_at(when, 1993), 1993) == minute


def test_rollover_at_values() -> None:
    """rollover_at: 20:15 on 24 November 2024 / 2045 / 2066 (SPEC 3.6), naive."""
    assert rollover_at(1993) == _at("2024-11-24T20:15")
    assert rollover_at(2014) == _at("2045-11-24T20:15")
    assert rollover_at(2035) == _at("2066-11-24T20:15")
