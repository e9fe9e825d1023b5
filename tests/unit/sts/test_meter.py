"""Tests for :mod:`sts.meter`, the reference meter that accepts or rejects tokens.

Tokens are made with the codec (``sts.encode`` and the token classes) or taken from the
public compliance vectors; expected results come from SPEC §6-§7, the vectors, or a hand
calculation written next to them, never from the meter under test.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    DecoderKey,
    ExtendedSet,
    IdentifierError,
    InitiateMeterTest,
    KeyChange,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    KeyType,
    Pan,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    StsError,
    Token,
    TransferCredit,
    Utility,
    derive,
    encode,
    next_tid,
    tid_at,
)
from sts.amount import MAX_TRANSFER_VALUE
from sts.codec import format_token, join_class
from sts.crc import token_crc
from sts.meter import EntryResult, Meter, MeterResult

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "sts" / "vectors"

PAN = Pan.parse("600727000000000009")
VK_DKGA04 = bytes.fromhex("ABABABABABABABAB949494949494949401234567")
# group_a A/CTSA01-1: DKGA02, VK ABAB..AB, SGC 123456, TI 1, KRN 1, KT 2 -> E653341F9D5BF36F.
KEY_A = DecoderKey.from_hex("E653341F9D5BF36F")
# group_d: a key given directly; any key other than KEY_A works as "another meter's key".
OTHER_KEY = DecoderKey.from_hex("0ABC12DEF3456789")
ELECTRICITY, WATER = Utility.ELECTRICITY, Utility.WATER
R = MeterResult


# ---------------------------------------------------------------------------- helpers


def _read(name: str) -> list[dict[str, Any]]:
    """Return the lines of a vector file; a missing file fails the test, never skips it."""
    path = VECTORS / name
    assert path.is_file(), f"vector file missing: {path}"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _by_id(name: str) -> dict[str, dict[str, Any]]:
    return {line["id"]: line for line in _read(name)}


def _group_a_pan9() -> list[dict[str, Any]]:
    """group_a's class 0/2 lines for PAN 600727000000000009, in file order."""
    lines = [
        line
        for line in _read("group_a.jsonl")
        if line["pan"] == "600727000000000009" and line["token_class"] in (0, 2)
    ]
    assert len(lines) == 121, "group_a should hold 121 class 0/2 lines for PAN ...0009"
    return lines


def _provision(line: dict[str, Any], **kwargs: Any) -> Meter:
    """A meter provisioned from a vector line's vending key and identity."""
    meter = Meter.provision(
        vending_key=bytes.fromhex(line["vending_key"]),
        dkga=line["dkga"],
        pan=Pan.parse(line["pan"]),
        sgc=line["sgc"],
        ti=line["ti"],
        krn=line["krn"],
        kt=KeyType(line["kt"]),
        base_date=line["base_date"],
        ea=line["ea"],
        **kwargs,
    )
    assert meter.key == DecoderKey.from_hex(line["decoder_key"]), line["id"]
    return meter


def _meter(**kwargs: Any) -> Meter:
    """The group_a meter (key E653341F9D5BF36F, base date 1993) with optional settings."""
    settings_: dict[str, Any] = {"sgc": "123456", "ti": 1, "krn": 1, "base_date": 1993} | kwargs
    return Meter(KEY_A, **settings_)


def _credit(tenths: int, tid: int, key: DecoderKey = KEY_A, utility: Utility = ELECTRICITY) -> str:
    return encode(TransferCredit.of(utility, tenths, tid=tid), key)


def _kct(change: KeyChange, key: DecoderKey) -> list[str]:
    """The key change set's tokens, section 1 first, encrypted under the current key."""
    return [encode(section, key) for section in change.sections()]


def _enter_all(meter: Meter, texts: list[str]) -> list[MeterResult]:
    return [meter.enter(text).result for text in texts]


def _raw_token(token_class: int, subclass: int, payload: int, key: DecoderKey | None) -> str:
    """A token with a correct CRC for any class, subclass and 44-bit payload (SPEC §3.3).

    The codec's token classes cannot build reserved subclasses; this can.
    """
    data = (subclass << 44) | payload
    currency = token_class == 0 and 4 <= subclass <= 7  # CRC_C, SPEC §3.7
    block = (data << 16) | token_crc((token_class << 48) | data, currency=currency)
    if key is not None:
        block = key.encrypt(block)
    return format_token(join_class(token_class, block))


# ---------------------------------------------------------------------------- vectors


def test_group_a_each_line_loads_on_a_meter_provisioned_from_it() -> None:
    """Every group_a credit/management line for PAN ...0009 loads on a fresh meter of its key.

    Credit lines credit exactly ``value_tenths``; MPL/MPPUL set ``watts``; ClearCredit
    clears its register; ClearTamper clears a tamper. The register limit is raised to the
    largest token value, since CTSA10-s*-9 carry 1 820 162.4 units.
    """
    for line in _group_a_pan9():
        kind, token = line["kind"], line["expected"]["token"]
        if kind == "kct":
            continue
        utility = Utility(line["subclass"]) if kind == "credit" else ELECTRICITY
        meter = _provision(line, utility=utility, max_credit_tenths=MAX_TRANSFER_VALUE)
        if kind == "clear_credit":
            assert meter.enter(_credit(500, line["tid"] - 1, meter.key)).accepted
        if kind == "clear_tamper":
            meter.tamper()
        outcome = meter.enter(token)
        assert outcome.result is R.ACCEPT, (line["id"], outcome)
        assert meter.tid_memory[-1] == line["tid"], line["id"]
        if kind == "credit":
            assert meter.credit_tenths(utility) == line["value_tenths"], line["id"]
        elif kind == "set_max_power_limit":
            assert meter.max_power_watts == line["watts"], line["id"]
        elif kind == "set_mppul":
            assert meter.max_phase_unbalance_watts == line["watts"], line["id"]
        elif kind == "clear_credit":
            # 500 tenths were loaded into register 0; registers 4-7 are currency registers.
            cleared = line["register"] in (0, 0xFFFF)
            assert meter.credit_tenths() == (0 if cleared else 500), line["id"]
        else:
            assert kind == "clear_tamper", line["id"]
            assert not meter.tampered


# Hand check of group_a in file order: CTSA21-12 (2006-04-24T11:00, TID 7000500) reuses the
# TID of CTSA21-5 (also 2006-04-24T11:00), which the water meter has already loaded.
FILE_ORDER_EXCEPTIONS = {(WATER, "A/CTSA21-12"): R.USED}


@pytest.mark.parametrize("utility", [Utility.ELECTRICITY, Utility.WATER, Utility.GAS])
def test_group_a_in_file_order(utility: Utility) -> None:
    """group_a entered in file order: each line goes to the meter whose key encrypts it.

    One meter per key in use (a new one is provisioned from the first line of a key not yet
    seen), all measuring ``utility``; credit for other utilities is left out. Key change
    sections re-key their meter (KCT1 then KCT2), so later lines under the new key reach it.
    Everything loads except the reused TID noted above.
    """
    meters: list[Meter] = []
    for line in _group_a_pan9():
        if line["kind"] == "credit" and line["subclass"] != utility:
            continue
        wanted = DecoderKey.from_hex(line["decoder_key"])
        meter = next((meter for meter in meters if meter.key == wanted), None)
        if meter is None:
            meter = _provision(line, utility=utility, max_credit_tenths=10**9)
            meters.append(meter)
        before = meter.credit_tenths()
        result = meter.enter(line["expected"]["token"]).result
        if line["kind"] == "kct":
            expected = R.KCT1_ACCEPTED if line["kct_section"] == 1 else R.KCT2_ACCEPTED
        else:
            expected = FILE_ORDER_EXCEPTIONS.get((utility, line["id"]), R.ACCEPT)
        assert result is expected, line["id"]
        if line["kind"] == "credit":
            loaded = line["value_tenths"] if result is R.ACCEPT else 0
            assert meter.credit_tenths() == before + loaded, line["id"]
    assert len(meters) == 7  # keys E653, 060B, F469, 2A61, AA4B, 9DC0, B082


def _group_a_kct_sets() -> dict[str, list[dict[str, Any]]]:
    sets: dict[str, list[dict[str, Any]]] = {}
    for line in _group_a_pan9():
        if line["kind"] == "kct":
            sets.setdefault(line["id"][:-1], []).append(line)
    assert sorted(sets) == [
        "A/CTSA05-1",
        "A/CTSA05-2",
        "A/CTSA19-1",
        "A/CTSA19-2",
        "A/CTSA19-3",
        "A/CTSA19-4",
        "A/CTSA26-1",
    ]
    return sets


@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["1-2", "2-1"])
def test_group_a_key_change_pairs_in_either_order(order: tuple[int, int]) -> None:
    """Each group_a 2-token KCT pair, in either order, re-keys the meter with its parameters.

    The first section entered gives KCT1_ACCEPTED, the second KCT2_ACCEPTED; then the key,
    KRN, KT, TI and KEN (KENHO << 4 | KENLO) are the new ones, RO=1 clears the TID memory,
    and the vector's credit line under the new key (CTSA19-*c) loads.
    """
    credits = {line["id"]: line for line in _group_a_pan9() if line["kind"] == "credit"}
    for name, (first, second) in _group_a_kct_sets().items():
        meter = _provision(first)
        assert meter.enter(_credit(10, 1000, meter.key)).accepted  # something in TID memory
        tokens = [(first, second)[index]["expected"]["token"] for index in order]
        assert _enter_all(meter, tokens) == [R.KCT1_ACCEPTED, R.KCT2_ACCEPTED], name
        assert meter.key == DecoderKey.from_hex(first["new_decoder_key"]), name
        assert (meter.krn, meter.kt, meter.ti) == (
            first["new_krn"],
            first["new_kt"],
            first["new_ti"],
        )
        assert meter.ken == first["kenho"] << 4 | first["kenlo"], name
        assert meter.tid_memory == (() if first["ro"] else (1000,)), name
        assert meter.pending_key_change == ()
        if f"{name}c" in credits:
            assert meter.enter(credits[f"{name}c"]["expected"]["token"]).result is R.ACCEPT


def test_group_a_rollover_key_change_moves_to_the_next_base_date() -> None:
    """CTSA26 (RO=1, BD2014 -> BD2035, SPEC §6): base date 2035, TID memory cleared.

    Then CTSA25-9, a 2035-based credit (TID 480) under the new key B08205E074AFC5D6, loads.
    """
    lines = _by_id("group_a.jsonl")
    meter = _provision(lines["A/CTSA25-5"])  # BD2014 key 9DC0722C29A6CC0C, TID 480
    assert meter.enter(lines["A/CTSA25-5"]["expected"]["token"]).result is R.ACCEPT
    kct = [lines[f"A/CTSA26-1{part}"]["expected"]["token"] for part in "ab"]
    assert _enter_all(meter, kct) == [R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    assert (meter.base_date, meter.krn, meter.tid_memory) == (2035, 5, ())
    # Without RO the same TID 480 would now be USED.
    assert meter.enter(lines["A/CTSA25-9"]["expected"]["token"]).result is R.ACCEPT


def test_largest_token_overflows_a_seven_digit_register() -> None:
    """CTSA10-s0-9 carries 18 201 624 tenths; a default meter holds 9 999 999: OVERFLOW."""
    line = _by_id("group_a.jsonl")["A/CTSA10-s0-9"]
    meter = _provision(line)
    before = meter.state
    outcome = meter.enter(line["expected"]["token"])
    assert outcome.result is R.OVERFLOW
    assert outcome.token == TransferCredit(
        utility=ELECTRICITY, tid=5915634, rnd=5, amount_field=0xFFFF
    )
    assert meter.state == before


def test_group_a_test_tokens_are_accepted_and_remember_their_control_bits() -> None:
    """Every group_a class 1 line (manufacturer code 0, the generic code) is accepted.

    This holds on a meter of any manufacturer (here code 0x2A); last_test holds the
    line's control bits (CTSA02-1: all 36 ones = 68 719 476 735).
    """
    tests = [line for line in _read("group_a.jsonl") if line["token_class"] == 1]
    assert len(tests) == 34
    meter = _meter(manufacturer_code=0x2A)
    for line in tests:
        assert meter.enter(line["expected"]["token"]).result is R.ACCEPT, line["id"]
        assert meter.last_test == line["control"], line["id"]
    assert meter.tid_memory == ()
    assert meter.enter(_by_id("group_a.jsonl")["A/CTSA02-1"]["expected"]["token"]).accepted
    assert meter.last_test == 2**36 - 1


def test_foreign_manufacturer_code_is_refused() -> None:
    """A class 1 token for another manufacturer gives MANUFACTURER_CODE; the own code loads."""
    meter = _meter(manufacturer_code=0x2A)
    foreign = encode(InitiateMeterTest.build(0x3, 0x17), None)
    assert meter.enter(foreign).result is R.MANUFACTURER_CODE
    assert meter.last_test is None
    own = encode(InitiateMeterTest.build(0x3, 0x2A, subclass=1), None)
    assert meter.enter(own).result is R.ACCEPT
    assert meter.last_test == 0x3


def test_class_1_subclass_2_is_not_supported() -> None:
    """gh_public POS07-CTSA24-6 (class 1 subclass 2, meaning unpublished) gives FUNCTION."""
    line = _by_id("gh_public.jsonl")["G/POS07-CTSA24-6"]
    outcome = _meter().enter(line["expected"]["token"])
    assert outcome.result is R.FUNCTION
    assert outcome.token == InitiateMeterTest(subclass=2, data=line["payload"])


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_ea07_three_token_vector_set_in_any_order(order: tuple[int, ...]) -> None:
    """gh_public POS07-CTSA05-4 (EA07 3-token set) re-keys the meter in all 6 orders.

    The first two sections give KCT1_ACCEPTED, the last KCT2_ACCEPTED; new key
    7F78CDD220BE39B8, TI 2, and the SGC 201457 carried in section 3.
    """
    lines = [_by_id("gh_public.jsonl")[f"G/POS07-CTSA05-4{part}"] for part in "abc"]
    meter = _provision(lines[0])
    tokens = [lines[index]["expected"]["token"] for index in order]
    assert _enter_all(meter, tokens) == [R.KCT1_ACCEPTED, R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    assert meter.key == DecoderKey.from_hex("7F78CDD220BE39B8")
    assert (meter.sgc, meter.ti, meter.krn) == ("201457", 2, 1)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_ea07_three_token_set_changes_the_sgc(order: tuple[int, ...]) -> None:
    """An EA07 3-token set carrying SGC 654321 moves the meter to it, in any order."""
    new_key = DecoderKey.from_hex("0123456789ABCDEF")
    change = KeyChange(new_key=new_key.key, krn=2, kt=KeyType.DUTK, ti=7, sgc="654321")
    tokens = _kct(change, KEY_A)
    meter = _meter()
    results = _enter_all(meter, [tokens[index] for index in order])
    assert results == [R.KCT1_ACCEPTED, R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    assert (meter.key, meter.sgc, meter.krn, meter.ti) == (new_key, "654321", 2, 7)
    assert meter.enter(_credit(5, 100, new_key)).result is R.ACCEPT


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_ea11_four_token_vector_set_in_any_order(order: tuple[int, ...]) -> None:
    """group_b CTSA19_04-4 (EA11 4-token set) re-keys in all 24 orders, reversed included.

    New 128-bit key 62C1F3B0F96EAC42AD670F20F52D7746, SGC 123457 -> 123461, TI 1; credit
    under the new key loads and credit under the old one is a CRC error.
    """
    lines = [_by_id("group_b.jsonl")[f"B/CTSA19_04-4{part}"] for part in "abcd"]
    meter = _provision(lines[0])
    old_key = meter.key
    tokens = [lines[index]["expected"]["token"] for index in order]
    assert _enter_all(meter, tokens) == [R.KCT1_ACCEPTED] * 3 + [R.KCT2_ACCEPTED]
    new_key = DecoderKey.from_hex("62C1F3B0F96EAC42AD670F20F52D7746")
    assert (meter.key, meter.sgc, meter.ti) == (new_key, "123461", 1)
    assert meter.enter(_credit(5, 100, new_key)).result is R.ACCEPT
    assert meter.enter(_credit(5, 101, old_key)).result is R.CRC


def test_currency_vectors_load_signed_amounts() -> None:
    """Currency tokens add their signed units to the currency register of their utility.

    group_f ZG-5 adds +10 000 624; H/POS11-CTSA20-14 adds -18 021 442 624 (a negative
    amount may take the register below zero); ZG-6 (water) on an electricity meter is
    FUNCTION.
    """
    line = _by_id("group_f.jsonl")["F/ZG-5"]
    meter = Meter(DecoderKey.from_hex(line["decoder_key"]), sgc="123456", ti=1, krn=1)
    assert meter.enter(line["expected"]["token"]).result is R.ACCEPT
    assert meter.currency_units == 10_000_624
    negative = _by_id("gh_public.jsonl")["H/POS11-CTSA20-14"]
    meter = _provision(negative)
    assert meter.enter(negative["expected"]["token"]).result is R.ACCEPT
    assert meter.currency_units == -18_021_442_624
    water = _by_id("group_f.jsonl")["F/ZG-6"]  # currency for water on an electricity meter
    assert (
        Meter(DecoderKey.from_hex(water["decoder_key"]), sgc="123456", ti=1, krn=1)
        .enter(water["expected"]["token"])
        .result
        is R.FUNCTION
    )


def test_extended_set_vector_stores_its_value() -> None:
    """Vector H/POS11-CTSA24-2 (class 2/10, index 63, value 1) is stored as setting 63 = 1."""
    line = _by_id("gh_public.jsonl")["H/POS11-CTSA24-2"]
    meter = _provision(line)
    assert meter.enter(line["expected"]["token"]).result is R.ACCEPT
    assert meter.extended_settings == {63: 1}


# ---------------------------------------------------------------------------- TIDs


def test_duplicate_tid_is_used() -> None:
    """The same token twice: ACCEPT, then USED with the message "Token already used"."""
    meter = _meter()
    token = _credit(100, 5_871_715)
    assert meter.enter(token).result is R.ACCEPT
    again = meter.enter(token)
    assert (again.result, again.message, again.accepted) == (R.USED, "Token already used", False)
    assert meter.credit_tenths() == 100


def test_two_tokens_in_the_same_minute_both_load() -> None:
    """Two tokens bought in one minute get TIDs from next_tid (now, then now + 1): both load."""
    now = tid_at(datetime(2004, 3, 1, 13, 55, tzinfo=UTC), 1993)  # 5 871 715 (vector A/CTSA01-1)
    first = next_tid(now, None)
    second = next_tid(now, first)
    assert (first, second) == (5_871_715, 5_871_716)
    meter = _meter()
    assert _enter_all(meter, [_credit(10, first), _credit(20, second)]) == [R.ACCEPT] * 2
    assert meter.credit_tenths() == 30


def test_reserved_minute_token_loads_and_the_next_moves_on() -> None:
    """A token asked for at 00:01 carries the TID of 00:02 and loads; the next moves on.

    The next token, bought at 00:02, gets the TID of 00:03 from next_tid and loads too
    (vectors A/CTSA09-2 and -3a).
    """
    at_0001 = tid_at(datetime(2004, 3, 29, 0, 1, tzinfo=UTC), 1993)
    assert at_0001 == 5_911_202  # 00:00 is 5 911 200 (A/CTSA09-1); 00:02 is + 2
    at_0002 = next_tid(tid_at(datetime(2004, 3, 29, 0, 2, tzinfo=UTC), 1993), at_0001)
    assert at_0002 == 5_911_203  # the TID of 00:03 (A/CTSA09-3a)
    meter = _meter()
    assert _enter_all(meter, [_credit(1, at_0001), _credit(1, at_0002)]) == [R.ACCEPT] * 2
    assert meter.tid_memory == (5_911_202, 5_911_203)


def test_old_rule_with_a_small_tid_memory() -> None:
    """With room for 3 TIDs, once full, a TID below the smallest is OLD.

    A TID above the smallest loads and evicts it; a remembered TID is USED.
    """
    meter = _meter(tid_memory_depth=3)
    assert _enter_all(meter, [_credit(1, tid) for tid in (200, 100, 300)]) == [R.ACCEPT] * 3
    assert meter.tid_memory == (100, 200, 300)
    assert meter.enter(_credit(1, 50)).result is R.OLD  # 50 < 100, memory full
    assert meter.enter(_credit(1, 150)).result is R.ACCEPT  # not below 100: loads
    assert meter.tid_memory == (150, 200, 300)  # 100 evicted
    assert meter.enter(_credit(1, 100)).result is R.OLD  # now below 150
    assert meter.enter(_credit(1, 200)).result is R.USED


def test_old_tids_load_while_the_memory_has_room() -> None:
    """A TID older than every remembered one loads while the memory is not full."""
    meter = _meter(tid_memory_depth=3)
    assert _enter_all(meter, [_credit(1, tid) for tid in (300, 200, 100)]) == [R.ACCEPT] * 3


@pytest.mark.parametrize(
    ("tid", "expected"),
    [
        (100 << 16, R.ACCEPT),  # 6 553 600: top 8 bits 100 = KEN
        ((100 << 16) | 0xFFFF, R.ACCEPT),  # 6 619 135: still 100
        (101 << 16, R.KEY_EXPIRED),  # 6 619 136: 101 > KEN
    ],
)
def test_key_expiry_number(tid: int, expected: MeterResult) -> None:
    """KEN 100: a token whose TID >> 16 is 101 is KEY_EXPIRED, 100 still loads (SPEC §7)."""
    assert _meter(ken=100).enter(_credit(1, tid)).result is expected


def test_ken_255_never_expires() -> None:
    """KEN 255 disables the check: the largest TID (0xFFFFFF, top bits 255) loads."""
    assert _meter(ken=255).enter(_credit(1, 0xFFFFFF)).result is R.ACCEPT


# ---------------------------------------------------------------------------- key changes


def test_vector_kct_pair_in_both_orders_then_credit_under_new_key_only() -> None:
    """After the CTSA05-1 pair (either order) only credit under the new key loads.

    The pair moves E653341F9D5BF36F to 060B8643C59A27F1; credit under the old key is then a
    CRC error (a wrong key looks like a typo).
    """
    lines = _by_id("group_a.jsonl")
    pair = [lines[f"A/CTSA05-1{part}"]["expected"]["token"] for part in "ab"]
    new_key = DecoderKey.from_hex("060B8643C59A27F1")
    for tokens in (pair, pair[::-1]):
        meter = _meter()
        assert _enter_all(meter, tokens) == [R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
        assert (meter.key, meter.ti) == (new_key, 2)
        assert meter.enter(_credit(5, 100, new_key)).result is R.ACCEPT
        wrong = meter.enter(_credit(5, 101, KEY_A))
        assert (wrong.result, wrong.token) == (R.CRC, None)


def test_rollover_key_change_lets_2014_tids_load() -> None:
    """TID rollover: after a key change with RO=1 a 2014-based TID loads; without RO, OLD.

    The BD1993 meter's memory is full of late-2024 TIDs (about 16.77 million); it is
    re-keyed to its DKGA04 BD2014 key; the credit then carries TID 5 733 120.
    """
    # 2024-11-20 00:00 is 4 d 20 h 15 min = 6 975 min before the rollover TID 2^24 - 1.
    start = tid_at(datetime(2024, 11, 20, tzinfo=UTC), 1993)
    assert start == 16_777_215 - 6_975
    # BD2014, KRN 4: the key of vector A/CTSA25-5.
    new_key = derive(4, VK_DKGA04, PAN, sgc="123457", ti=1, krn=4, kt=2, base_date=2014, ea=7)
    assert new_key == bytes.fromhex("9DC0722C29A6CC0C")
    credit_2014 = _credit(100, 5_733_120, DecoderKey(new_key))  # 2024-11-25 08:00 on BD2014
    for ro, expected in ((True, R.ACCEPT), (False, R.OLD)):
        meter = Meter.provision(
            vending_key=VK_DKGA04,
            dkga=4,
            pan=PAN,
            sgc="123457",
            ti=1,
            krn=1,
            kt=KeyType.DUTK,
            base_date=1993,
            ea=7,
        )
        assert meter.key == DecoderKey.from_hex("AA4BAA8749C10D27")  # vector A/CTSA24-1
        fill = [_credit(1, start + 10 * n, meter.key) for n in range(50)]
        assert _enter_all(meter, fill) == [R.ACCEPT] * 50
        change = KeyChange(new_key=new_key, krn=4, kt=KeyType.DUTK, ti=1, ro=ro)
        assert _enter_all(meter, _kct(change, meter.key)) == [R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
        assert meter.enter(credit_2014).result is expected, ro
        assert meter.base_date == (2014 if ro else 1993)
        assert len(meter.tid_memory) == (1 if ro else 50)


def test_key_change_to_an_initialisation_key_is_refused() -> None:
    """A complete set whose new key type is DITK gives KEY_TYPE and drops the held section."""
    change = KeyChange(new_key=bytes(8), krn=2, kt=KeyType.DITK, ti=1)
    meter = _meter()
    assert _enter_all(meter, _kct(change, KEY_A)) == [R.KCT1_ACCEPTED, R.KEY_TYPE]
    assert (meter.key, meter.kt, meter.krn, meter.pending_key_change) == (KEY_A, 2, 1, ())


def test_inconsistent_three_token_set_is_a_format_error() -> None:
    """An EA07 section 3 whose 20 padding bits are not zero gives FORMAT; the set is dropped."""
    change = KeyChange(new_key=bytes(8), krn=2, kt=KeyType.DUTK, ti=1, sgc="654321")
    first, second, _ = _kct(change, KEY_A)
    bad_third = encode(KeyChange3(high=654321 >> 12, key_bits=((654321 & 0xFFF) << 20) | 1), KEY_A)
    meter = _meter()
    assert _enter_all(meter, [first, bad_third]) == [R.KCT1_ACCEPTED, R.KCT1_ACCEPTED]
    assert meter.enter(second).result is R.FORMAT
    assert (meter.key, meter.pending_key_change) == (KEY_A, ())


def test_key_change_with_a_krn_out_of_range_is_a_range_error() -> None:
    """A set carrying KRN 0 (valid KRNs are 1-9) gives RANGE; the meter keeps its key."""
    first = KeyChange1(kenho=15, krn=0, ro=0, res=0, kt=2, key_bits=0)
    second = KeyChange2(kenlo=15, ti=1, key_bits=0)
    meter = _meter()
    results = _enter_all(meter, [encode(first, KEY_A), encode(second, KEY_A)])
    assert results == [R.KCT1_ACCEPTED, R.RANGE]
    assert (meter.key, meter.krn, meter.pending_key_change) == (KEY_A, 1, ())


def test_section_4_on_an_ea07_meter_is_refused() -> None:
    """EA07 sets have 2 or 3 sections: a 4th section gives FUNCTION and is not held."""
    meter = _meter()
    assert meter.enter(encode(KeyChange4(high=1, key_bits=2), KEY_A)).result is R.FUNCTION
    assert meter.pending_key_change == ()


def test_a_later_section_replaces_an_earlier_one_of_the_same_number() -> None:
    """Sections are held by number: a second section 1 replaces the first one."""
    old = KeyChange(new_key=bytes(8), krn=3, kt=KeyType.DUTK, ti=1)
    new = KeyChange(new_key=bytes(range(8)), krn=4, kt=KeyType.DUTK, ti=1)
    meter = _meter()
    results = _enter_all(meter, [_kct(old, KEY_A)[0], *_kct(new, KEY_A)])
    assert results == [R.KCT1_ACCEPTED, R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    assert (meter.key, meter.krn) == (DecoderKey(bytes(range(8))), 4)


# ---------------------------------------------------------------------------- rejections


def test_wrong_key_is_a_crc_error() -> None:
    """A token for another meter (another key) decrypts to garbage: CRC, nothing decoded."""
    outcome = _meter().enter(_credit(100, 1000, OTHER_KEY))
    assert (outcome.result, outcome.token) == (R.CRC, None)


def test_credit_overflow() -> None:
    """Register limit 1000 tenths: 600 loads, 401 more would be 1001 (OVERFLOW), 400 loads."""
    meter = _meter(max_credit_tenths=1000)
    results = _enter_all(meter, [_credit(600, 1), _credit(401, 2), _credit(400, 3)])
    assert results == [R.ACCEPT, R.OVERFLOW, R.ACCEPT]
    assert (meter.credit_tenths(), meter.tid_memory) == (1000, (1, 3))


def test_default_key_meter_refuses_credit_but_not_management() -> None:
    """A meter on a DDTK refuses class 0 tokens (DDTK) but takes class 2 tokens."""
    meter = _meter(kt=KeyType.DDTK)
    assert meter.enter(_credit(100, 1)).result is R.DDTK
    assert meter.enter(encode(SetMaximumPowerLimit.of(5000, tid=2), KEY_A)).result is R.ACCEPT


def test_function_errors() -> None:
    """FUNCTION for water credit on an electricity meter, class 3, reserved subclasses."""
    meter = _meter()
    assert meter.enter(_credit(100, 1, utility=WATER)).result is R.FUNCTION
    assert meter.enter(format_token(join_class(3, 0x0123456789ABCDEF))).result is R.FUNCTION
    assert meter.enter(_raw_token(2, 11, 0x5_00_1234_0001, KEY_A)).result is R.FUNCTION
    assert meter.enter(_raw_token(1, 3, 0x5_00_1234_0001, None)).result is R.FUNCTION
    assert meter.state == _meter().state


FULLWIDTH = "".join(chr(0xFF10 + int(digit)) for digit in "23716100501183194197")


@pytest.mark.parametrize(
    "text",
    ["", "1234", "2371610050118319419", "237161005011831941977", "2371 6100 5011 8319 419x",
     "99999999999999999999", "73786976294838206464", FULLWIDTH],
)  # fmt: skip
def test_format_errors(text: str) -> None:
    """Not 20 ASCII digits, or 2^66 (73 786 976 294 838 206 464) or more: FORMAT."""
    outcome = _meter().enter(text)
    assert (outcome.result, outcome.token) == (R.FORMAT, None)


def test_spaces_and_dashes_between_groups_are_allowed() -> None:
    """A token typed in groups (spaces or dashes) is the same token (vector A/CTSA01-1)."""
    assert _meter().enter("2371-6100-5011 8319 4197").result is R.ACCEPT


def test_every_rejection_leaves_the_state_unchanged() -> None:
    """Every kind of rejection leaves every part of the meter's state as it was.

    USED, OLD, CRC, FORMAT, FUNCTION, OVERFLOW, RANGE, KEY_EXPIRED, MANUFACTURER_CODE and
    DDTK; the held key change section is kept too. (A refused complete key change set drops
    its sections: see the KEY_TYPE test.)
    """
    cases = {
        R.USED: _credit(1, 500),
        R.OLD: _credit(1, 100),
        R.CRC: _credit(1, 700, OTHER_KEY),
        R.FORMAT: "12345",
        R.FUNCTION: _credit(1, 701, utility=WATER),
        R.OVERFLOW: _credit(10_000, 702),
        R.RANGE: encode(ClearCredit(tid=703, register=8), KEY_A),
        R.KEY_EXPIRED: _credit(1, 0xFFFFFF),
        R.MANUFACTURER_CODE: encode(InitiateMeterTest.build(1, 0x17), None),
    }
    for expected, text in cases.items():
        meter = _busy_meter()
        before = meter.state
        assert meter.enter(text).result is expected
        assert meter.state == before, expected
    ddtk = _meter(kt=KeyType.DDTK)
    before = ddtk.state
    assert ddtk.enter(_credit(1, 1)).result is R.DDTK
    assert ddtk.state == before


def _busy_meter() -> Meter:
    """A meter with credit, a full 3-TID memory (200, 300, 500), settings and a held section."""
    meter = _meter(tid_memory_depth=3, max_credit_tenths=5000, ken=200, manufacturer_code=1)
    tokens: list[Token] = [
        TransferCredit.of(ELECTRICITY, 1000, tid=200),
        SetMaximumPowerLimit.of(2500, tid=300),
        ExtendedSet(index=1, value=2, tid=500),
    ]
    assert _enter_all(meter, [encode(token, KEY_A) for token in tokens]) == [R.ACCEPT] * 3
    meter.tamper()
    change = KeyChange(new_key=bytes(8), krn=2, kt=KeyType.DUTK, ti=1)
    assert meter.enter(_kct(change, KEY_A)[0]).result is R.KCT1_ACCEPTED
    return meter


# ---------------------------------------------------------------------------- management


def test_clear_credit_registers() -> None:
    """ClearCredit clears one register by number, or all with 0xFFFF; others are RANGE.

    Register 0 is electricity units, 4 electricity currency, 1 (water) is empty on an
    electricity meter, 8 and 0xFFFE do not exist.
    """
    meter = _meter()
    loads = [_credit(500, 1), encode(CurrencyTransfer.of(ELECTRICITY, 16_000, tid=2), KEY_A)]
    assert _enter_all(meter, loads) == [R.ACCEPT] * 2
    assert meter.registers == (500, 0, 0, 0, 16_000, 0, 0, 0)

    def clear(register: int, tid: int) -> MeterResult:
        return meter.enter(encode(ClearCredit(tid=tid, register=register), KEY_A)).result

    assert [clear(1, 3), clear(8, 4), clear(0xFFFE, 5)] == [R.ACCEPT, R.RANGE, R.RANGE]
    assert (meter.credit_tenths(), meter.currency_units) == (500, 16_000)
    assert clear(0, 6) is R.ACCEPT
    assert (meter.credit_tenths(), meter.currency_units) == (0, 16_000)
    assert clear(4, 7) is R.ACCEPT
    assert meter.currency_units == 0
    assert meter.enter(_credit(70, 8)).accepted
    assert clear(0xFFFF, 9) is R.ACCEPT
    assert meter.registers == (0,) * 8
    assert meter.tid_memory == (1, 2, 3, 6, 7, 8, 9)  # RANGE tokens 4 and 5 not remembered


def test_power_limits_and_raw_settings() -> None:
    """MPL and MPPUL set watts; tariff rate, water meter factor, extended set are stored raw.

    Limits are amount-encoded: 20 000 W is sent as 20 004 W (SPEC §3.4).
    """
    meter = _meter()
    tokens: list[Token] = [
        SetMaximumPowerLimit.of(20_000, tid=1),
        SetMaximumPhasePowerUnbalanceLimit.of(1000, tid=2),
        SetTariffRate(tid=3, rate=0x1234),
        SetWaterMeterFactor(tid=4, factor=77),
        ExtendedSet(tid=5, index=3, value=1000),
        ExtendedSet(tid=6, index=3, value=7),
    ]
    assert _enter_all(meter, [encode(token, KEY_A) for token in tokens]) == [R.ACCEPT] * 6
    assert (meter.max_power_watts, meter.max_phase_unbalance_watts) == (20_004, 1000)
    assert (meter.tariff_rate, meter.water_meter_factor) == (0x1234, 77)
    assert meter.extended_settings == {3: 7}


def test_clear_tamper() -> None:
    """A tamper event sets the condition; a ClearTamperCondition token clears it."""
    meter = _meter()
    meter.tamper()
    assert meter.tampered
    assert meter.enter(encode(ClearTamperCondition(tid=1), KEY_A)).result is R.ACCEPT
    assert not meter.tampered


# ---------------------------------------------------------------------------- lockout


def test_lockout_after_consecutive_bad_entries_and_unlock() -> None:
    """Three CRC/FORMAT entries in a row lock a meter with lockout_after=3, until unlocked.

    While locked even a good token gets LOCKOUT and loads nothing.
    """
    meter = _meter(lockout_after=3)
    bad = [_credit(1, 1, OTHER_KEY), "123", _credit(1, 2, OTHER_KEY)]
    assert _enter_all(meter, bad) == [R.CRC, R.FORMAT, R.CRC]
    locked = meter.enter(_credit(1, 3))
    assert (meter.locked_out, locked.result, locked.token) == (True, R.LOCKOUT, None)
    assert meter.credit_tenths() == 0
    meter.unlock()
    unlocked = meter.enter(_credit(1, 3))
    assert (meter.locked_out, unlocked.result, meter.credit_tenths()) == (False, R.ACCEPT, 1)


def test_lockout_counts_only_consecutive_bad_entries() -> None:
    """An accepted entry (or any result that is not CRC/FORMAT) restarts the count."""
    meter = _meter(lockout_after=3)
    entries = ["1", "2", _credit(1, 1), "3", "4", _credit(1, 1), "5", "6"]
    results = _enter_all(meter, entries)
    assert results == [R.FORMAT, R.FORMAT, R.ACCEPT, R.FORMAT, R.FORMAT, R.USED, R.FORMAT, R.FORMAT]
    assert not meter.locked_out
    assert meter.enter("7").result is R.FORMAT
    assert meter.locked_out


def test_no_lockout_by_default() -> None:
    """Without lockout_after a meter never locks."""
    meter = _meter()
    assert _enter_all(meter, ["1"] * 20) == [R.FORMAT] * 20
    assert not meter.locked_out


# ---------------------------------------------------------------------------- construction


def test_entry_result_accepted() -> None:
    """Only ACCEPT, KCT1_ACCEPTED and KCT2_ACCEPTED count as accepted."""
    accepted = {result for result in R if EntryResult(result, None, "").accepted}
    assert accepted == {R.ACCEPT, R.KCT1_ACCEPTED, R.KCT2_ACCEPTED}
    assert [int(result) for result in R] == list(range(1, 16))  # BEC62 numbering, SPEC §7


@pytest.mark.parametrize(
    "kwargs",
    [{"sgc": "12345"}, {"ti": 100}, {"krn": 0}, {"ken": 256}, {"base_date": 2000},
     {"tid_memory_depth": 0}, {"lockout_after": 0}, {"manufacturer_code": 0x10000}],
)  # fmt: skip
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    """Identifiers and limits out of range raise an StsError when the meter is built."""
    with pytest.raises(StsError):
        _meter(**kwargs)
    if "sgc" in kwargs:
        with pytest.raises(IdentifierError):
            _meter(**kwargs)


def test_repr_hides_the_key() -> None:
    """Neither the meter's repr nor its state's shows key material."""
    meter = _busy_meter()
    text = repr(meter) + repr(meter.state)
    assert "E653341F9D5BF36F" not in text.upper()
    assert "key_bits" not in text


# ---------------------------------------------------------------------------- properties


@given(st.text())
def test_enter_never_raises_for_any_text(text: str) -> None:
    """Any text at all gives an EntryResult, never an exception."""
    assert isinstance(_meter().enter(text), EntryResult)


def _assert_unchanged_unless_accepted(meter: Meter, text: str) -> None:
    """Enter ``text``; a rejection must leave the state as it was.

    The one documented exception: a complete key change set that is refused drops the
    sections the meter held, and nothing else.
    """
    before = meter.state
    outcome = meter.enter(text)
    if outcome.accepted:
        return
    refused_set = outcome.result in {R.KEY_TYPE, R.FORMAT, R.RANGE}
    if refused_set and isinstance(outcome.token, KeyChange1 | KeyChange2 | KeyChange3):
        before = replace(before, pending_key_change=())
    assert meter.state == before, outcome


@settings(max_examples=300)
@given(st.from_regex(r"[0-9]{20}", fullmatch=True))
def test_rejected_twenty_digit_entries_change_nothing(text: str) -> None:
    """Any 20 digits: the meter answers, and a rejected entry changes no state."""
    _assert_unchanged_unless_accepted(_busy_meter(), text)


@settings(max_examples=500)
@given(st.integers(0, 2), st.integers(0, 15), st.integers(0, (1 << 44) - 1))
def test_any_well_formed_block_is_answered_without_changing_state_unless_accepted(
    token_class: int, subclass: int, payload: int
) -> None:
    """Every class/subclass/payload with a correct CRC under the meter's key is answered.

    Random 20-digit strings almost never pass the CRC; these always do, so every kind of
    token (reserved subclasses, key change sections, test tokens) reaches the later checks.
    """
    key = None if token_class == 1 else KEY_A
    _assert_unchanged_unless_accepted(
        _busy_meter(), _raw_token(token_class, subclass, payload, key)
    )


_tokens = st.one_of(
    st.builds(
        TransferCredit.of,
        st.sampled_from(Utility),
        st.integers(0, MAX_TRANSFER_VALUE),
        tid=st.integers(0, 0xFFFFFF),
    ),
    st.builds(ClearCredit, tid=st.integers(0, 0xFFFFFF), register=st.integers(0, 0xFFFF)),
    st.builds(SetMaximumPowerLimit.of, st.integers(0, 20_000), tid=st.integers(0, 0xFFFFFF)),
    st.builds(ClearCredit, tid=st.sampled_from([200, 300, 500]), register=st.just(0)),
)


@given(_tokens)
def test_rejected_tokens_change_nothing(
    token: TransferCredit | ClearCredit | SetMaximumPowerLimit,
) -> None:
    """Valid tokens rejected for any reason leave the state unchanged.

    Reasons: USED, OLD, OVERFLOW, RANGE, FUNCTION, KEY_EXPIRED. Accepted tokens remember
    their TID.
    """
    meter = _busy_meter()
    before = meter.state
    outcome = meter.enter(encode(token, KEY_A))
    assert outcome.token == token
    if outcome.accepted:
        assert token.tid in meter.tid_memory
    else:
        assert meter.state == before


@given(
    st.lists(
        st.tuples(st.integers(0, 0xFFFFFF), st.integers(0, MAX_TRANSFER_VALUE)),
        max_size=50,
        unique_by=lambda pair: pair[0],
    )
)
def test_credit_sum_for_distinct_tids(credits: list[tuple[int, int]]) -> None:
    """Up to 50 credit tokens with distinct TIDs, in any order, credit exactly their sum.

    The sum is of the values their amount fields carry (SPEC §3.4 rounds each request up).
    """
    meter = _meter(max_credit_tenths=50 * MAX_TRANSFER_VALUE)
    tokens = [TransferCredit.of(ELECTRICITY, tenths, tid=tid) for tid, tenths in credits]
    results = _enter_all(meter, [encode(token, KEY_A) for token in tokens])
    assert results == [R.ACCEPT] * len(tokens)
    assert meter.credit_tenths() == sum(token.value_tenths for token in tokens)
    assert meter.tid_memory == tuple(sorted(tid for tid, _ in credits))
