"""A vending process for multi-process tests: many concurrent vends, results as JSON lines.

Run as ``python -m tests.support.vend_worker URL KEK_HEX METER COUNT [--request-id ID]``
from the repository root. It waits until ``--start-at`` (a Unix time) so that several
workers hit the database together, runs COUNT ``vend_credit`` calls at once, and prints
one line per call: the stored result JSON, or ``{"error": code}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from vending_core.adapters.compose import sql_core
from vending_core.domain.errors import VendingError
from vending_core.service.core import RequestContext
from vending_core.service.vending import vend_credit


async def _run(args: argparse.Namespace) -> list[str]:
    async with sql_core(args.url, bytes.fromhex(args.kek), pool_size=8) as core:
        delay = args.start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(n: int) -> str:
            request_id = args.request_id or f"{os.getpid()}-{n}"
            ctx = RequestContext(client_id="worker", request_id=request_id, channel="test")
            try:
                result = await vend_credit(core, ctx, args.meter, args.amount)
            except VendingError as exc:
                return json.dumps({"error": exc.code, "message": exc.message})
            return result.to_json()

        return list(await asyncio.gather(*(one(n) for n in range(args.count))))


def main() -> None:
    """Parse arguments, vend, print one JSON line per vend."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("kek")
    parser.add_argument("meter")
    parser.add_argument("count", type=int)
    parser.add_argument("--amount", type=int, default=10_000)
    parser.add_argument("--request-id")
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args()
    for line in asyncio.run(_run(args)):
        sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
