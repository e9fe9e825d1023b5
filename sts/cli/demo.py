"""``demo``: issue tokens for a demo meter and enter them into the reference meter model.

A credit (accepted, then refused as used), a key change to a new key revision, and a credit
under the new key. The demo meter's keys come from the public vectors' DKGA04 vending key.
"""

from __future__ import annotations

import argparse
import secrets
from datetime import UTC, datetime
from typing import Any

from sts.amount import tenths
from sts.cli.output import grouped
from sts.codec import DecoderKey, encode
from sts.dkga import derive
from sts.identifiers import KeyType, Pan
from sts.keychange import KeyChange
from sts.meter import EntryResult, Meter, MeterResult
from sts.tid import next_tid, tid_at
from sts.tokens import TransferCredit, Utility

_DEMO_PAN = "600727000000000009"
_DEMO_VENDING_KEY = "ABABABABABABABAB949494949494949401234567"  # DKGA04 key of the public vectors
_DEMO_IDS: dict[str, Any] = {"sgc": "201457", "ti": 1, "kt": KeyType.DUTK, "base_date": 2014}


def _demo_key(krn: int) -> DecoderKey:
    """The demo meter's decoder key of revision ``krn``, as the vending system derives it."""
    vending_key, pan = bytes.fromhex(_DEMO_VENDING_KEY), Pan.parse(_DEMO_PAN)
    return DecoderKey(derive(4, vending_key, pan, krn=krn, ea=7, **_DEMO_IDS), ea=7)


def _credit(key: DecoderKey, amount: int, tid: int) -> str:
    token = TransferCredit.of(Utility.ELECTRICITY, amount, tid=tid, rnd=secrets.randbelow(16))
    return encode(token, key)


def _enter(meter: Meter, token: str) -> EntryResult:
    """Type ``token`` into the meter and show what it says."""
    entry, credit = meter.enter(token), meter.credit_tenths()
    print(f"     {grouped(token)}")
    kwh = f"{credit // 10}.{credit % 10} kWh"
    print(f"       meter: {entry.message} [{entry.result.name}]; credit {kwh}")
    return entry


def _demo(args: argparse.Namespace) -> int:
    vending_key, pan = bytes.fromhex(_DEMO_VENDING_KEY), Pan.parse(_DEMO_PAN)
    meter = Meter.provision(vending_key=vending_key, dkga=4, pan=pan, krn=1, ea=7, **_DEMO_IDS)
    key, new_key = _demo_key(krn=1), _demo_key(krn=2)
    print("STS demo: the vending side issues 20-digit tokens; a reference meter model checks them.")
    print(f"Demo meter {pan}: SGC 201457, TI 01, KRN 1, KT 2, base date 2014, EA07 (STA).")
    print(f"Its decoder key comes from the demo vending key by DKGA04 ({key!r}).\n")
    tid = tid_at(datetime.now(UTC), 2014)
    token = _credit(key, tenths("25.0"), tid)
    print(f"1. Sell 25.0 kWh now (TID {tid}: minutes since 2014-01-01) and enter the token:")
    first = _enter(meter, token)
    print("2. Enter the same token a second time: a meter takes each token only once.")
    again = _enter(meter, token)
    change = KeyChange(new_key=new_key.key, krn=2, kt=KeyType.DUTK, ti=1)
    print(f"3. Re-key the meter to KRN 2: a {change.set_size}-token key change, under the old key.")
    rekeyed = [_enter(meter, encode(section, key)) for section in change.sections()]
    tid = next_tid(tid_at(datetime.now(UTC), 2014), tid)
    print(f"4. Sell 10.0 kWh under the new key (TID {tid}) and enter it:")
    last = _enter(meter, _credit(new_key, 100, tid))
    steps = (first.accepted, again.result == MeterResult.USED, last.accepted)
    if all(steps) and all(entry.accepted for entry in rekeyed):
        print("\nDone: each new token loaded once, the repeat was refused as used.")
        return 0
    print("\nThe meter did not answer as expected: see the results above.")
    return 1
