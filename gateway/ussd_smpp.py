"""USSD sessions that an operator carries over SMPP, run on the same USSD gateway as HTTP.

The operator's SMSC sends ``deliver_sm`` with ``ussd_service_op`` 1 when the customer dials
the code (PSSR indication) and 18 with each answer (USSR confirm); we answer each with one
``submit_sm`` carrying ``ussd_service_op`` 2 (USSR request: a screen that waits for an answer)
or 17 (PSSR response: the last screen). The operator's session TLV ``its_session_info``
(0x1383: session number, then the hop's sequence) is echoed on the answer and its session
number keys the session; without it, a phone has one session per bind at a time.

This module knows no SMPP library: the composition root hands it the MO's fields and a
``submit`` callable that sends the answer on the MO's bind with the given TLVs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from gateway.ussd import UssdGateway
from ussd_menus.codecs import smpp as codec

__all__ = ["TLV_ITS_SESSION_INFO", "TLV_USSD_SERVICE_OP", "UssdMo", "UssdOverSmpp"]

_log = logging.getLogger(__name__)
TLV_USSD_SERVICE_OP: Final = 0x0501
TLV_ITS_SESSION_INFO: Final = 0x1383
Submit = Callable[[str, str, Mapping[int, bytes]], Awaitable[object]]
"""``submit(msisdn, text, tlvs)``: send the answer on the MO's bind."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UssdMo:
    """The USSD fields of one ``deliver_sm``."""

    bind: str
    msisdn: str  #: international digits
    op: int
    text: str
    session_info: bytes | None = None  #: the its_session_info TLV value, when sent


class UssdOverSmpp:
    """Runs one USSD-over-SMPP hop on the gateway and submits the answer."""

    def __init__(self, gateway: UssdGateway) -> None:
        self.gateway = gateway

    async def hop(self, mo: UssdMo, submit: Submit) -> None:
        """Answer one USSD MO (never raises: a bad MO is logged and dropped)."""
        session = f"{mo.bind}:{mo.msisdn}"
        if mo.session_info:  # octet 1 numbers the session; octet 2 is the hop's sequence
            session += f":{mo.session_info[0]}"
        if mo.op == codec.OP_PSSR_INDICATION:  # a dial always opens a new session
            await self.gateway.store.delete(f"{codec.NAME}:{session}")
        body = json.dumps({"session": session, "msisdn": mo.msisdn, "op": mo.op, "text": mo.text})
        try:
            outcome = await self.gateway.hop(codec.NAME, body.encode())
        except Exception:  # CodecError (an op we do not serve) or a bug: drop it, logged
            _log.exception("ussd over smpp: hop from bind %s failed", mo.bind)
            return
        answer = json.loads(outcome.http.body)
        tlvs = {TLV_USSD_SERVICE_OP: bytes([int(answer["op"])])}
        if mo.session_info is not None:
            tlvs[TLV_ITS_SESSION_INFO] = mo.session_info
        await submit(mo.msisdn, str(answer["text"]), tlvs)
