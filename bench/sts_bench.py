"""STS codec throughput on one core: tokens, derivations and the STA speed-up.

Prints tokens generated and decoded per second for EA07 and EA11, decoder-key
derivations per second for DKGA02 and DKGA04, and the ratio of the table-driven
STA to the bit-by-bit reference STA, both measured in this run. Each figure is
the best of several timed rounds (the least disturbed by other work on the
machine). Run with ``make bench`` or ``.venv/bin/python bench/sts_bench.py``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

from sts import DecoderKey, KeyType, Pan, TransferCredit, Utility, decode, encode
from sts.dkga import dkga02, dkga04
from sts.sta import Sta, encrypt_reference

TARGET_EA07_PER_SECOND = 25_000
ROUNDS = 5
SECONDS_PER_ROUND = 0.4


def rate(work: Callable[[int], object], seconds: float = SECONDS_PER_ROUND) -> float:
    """Best operations per second of ``work(i)`` over ROUNDS rounds of ~``seconds`` each."""
    best = 0.0
    for _ in range(ROUNDS):
        count, start = 0, time.perf_counter()
        deadline = start + seconds
        while True:
            for i in range(count, count + 200):
                work(i)
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def token_rates(key: DecoderKey) -> tuple[float, float, float]:
    """(generated/s with a ready key, generated/s with key set-up per token, decoded/s)."""
    raw = key.key

    def generate(i: int) -> str:
        return encode(TransferCredit.of(Utility.ELECTRICITY, 100 + i % 5000, tid=i, rnd=5), key)

    def generate_cold(i: int) -> str:
        fresh = DecoderKey(raw)
        return encode(TransferCredit.of(Utility.ELECTRICITY, 100 + i % 5000, tid=i, rnd=5), fresh)

    tokens = [generate(i) for i in range(1000)]

    def decode_one(i: int) -> object:
        return decode(tokens[i % 1000], key)

    return rate(generate), rate(generate_cold), rate(decode_one)


def main() -> None:
    """Measure and print every figure."""
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    ea07 = DecoderKey.from_hex("E653341F9D5BF36F")
    ea11 = DecoderKey.from_hex("929BD3A415C9420A05EC5EE9F3CE91C3")
    for name, key in (("EA07", ea07), ("EA11", ea11)):
        warm, cold, decoded = token_rates(key)
        print(f"{name} credit tokens generated/s: {warm:10,.0f}  (new key each token: {cold:,.0f})")
        print(f"{name} credit tokens decoded/s:   {decoded:10,.0f}")
        if name == "EA07":
            verdict = "met" if warm >= TARGET_EA07_PER_SECOND else "NOT met"
            print(f"EA07 target {TARGET_EA07_PER_SECOND:,}/s: {verdict}")

    pan = Pan.parse("600727000000000009")
    vk02, vk04 = bytes.fromhex("ABABABABABABABAB"), bytes.fromhex("AB" * 8 + "94" * 8 + "01234567")
    d02 = rate(lambda _: dkga02(vk02, pan, sgc="123456", ti=1, krn=1, kt=KeyType.DUTK))
    d04 = rate(
        lambda _: dkga04(
            vk04, pan, sgc="123456", ti=1, krn=1, kt=KeyType.DUTK, base_date=2014, ea=7
        )
    )
    print(f"DKGA02 derivations/s: {d02:10,.0f}")
    print(f"DKGA04 derivations/s: {d04:10,.0f}")

    block, raw = 0x05599863000119E6, ea07.key
    fast = Sta(raw)
    fast_rate = rate(lambda i: fast.encrypt(block ^ i))
    reference_rate = rate(lambda i: encrypt_reference(block ^ i, raw), seconds=0.2)
    print(f"STA blocks/s: table-driven {fast_rate:,.0f}, reference {reference_rate:,.0f}")
    print(f"STA speed-up (table-driven / reference): {fast_rate / reference_rate:.1f}x")


if __name__ == "__main__":
    main()
