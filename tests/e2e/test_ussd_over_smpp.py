"""USSD carried over SMPP (ussd_service_op) runs the same menus and sells the same tokens.

The SMPP link is replaced by the function it would call (``UssdOverSmpp.hop``) and a
``submit`` that records the answers; the gateway behind it is the real one.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from gateway import keys
from gateway.ussd_smpp import TLV_ITS_SESSION_INFO, TLV_USSD_SERVICE_OP, UssdMo, UssdOverSmpp
from tests.e2e.conftest import TOKEN_RE, LiveGateway
from ussd_menus.codecs import smpp as codec
from ussd_menus.model import CodecError
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[6]
Answer = tuple[str, str, dict[int, bytes]]


async def test_a_purchase_over_smpp_ends_with_a_pssr_response_carrying_the_token(
    gateway: LiveGateway,
) -> None:
    """Dial (op 1), then five answers (op 18): one USSR request per screen, a PSSR response last.

    Every answer echoes the session number of its_session_info; the last carries the token.
    """
    answers: list[Answer] = []

    async def submit(msisdn: str, text: str, tlvs: Mapping[int, bytes]) -> None:
        answers.append((msisdn, text, dict(tlvs)))

    over = UssdOverSmpp(gateway.app[keys.USSD])
    session = bytes([7, 0])
    await over.hop(
        UssdMo(bind="mno1", msisdn="254700555001", op=1, text="*384*12#", session_info=session),
        submit,
    )
    for n, text in enumerate(("1", METER.number, "1", "100", "1"), start=1):
        await over.hop(
            UssdMo(
                bind="mno1", msisdn="254700555001", op=18, text=text, session_info=bytes([7, n * 2])
            ),
            submit,
        )
    ops = [a[2][TLV_USSD_SERVICE_OP] for a in answers]
    assert ops == [bytes([codec.OP_USSR_REQUEST])] * 5 + [bytes([codec.OP_PSSR_RESPONSE])]
    assert answers[0][1].startswith("Vendgate\n1. Buy electricity")
    assert all(a[2][TLV_ITS_SESSION_INFO][0] == 7 for a in answers)
    assert all(a[0] == "254700555001" for a in answers)
    assert len(TOKEN_RE.findall(answers[-1][1])) == 1


async def test_dialling_again_mid_session_resumes_it(gateway: LiveGateway) -> None:
    """A new dial (op 1) opens a new session, which resumes the dropped one ("Welcome back.")."""
    answers: list[Answer] = []

    async def submit(msisdn: str, text: str, tlvs: Mapping[int, bytes]) -> None:
        answers.append((msisdn, text, dict(tlvs)))

    over = UssdOverSmpp(gateway.app[keys.USSD])
    await over.hop(UssdMo(bind="mno1", msisdn="254700555002", op=1, text="*384*12#"), submit)
    await over.hop(UssdMo(bind="mno1", msisdn="254700555002", op=18, text="1"), submit)
    await over.hop(UssdMo(bind="mno1", msisdn="254700555002", op=1, text="*384*12#"), submit)
    assert answers[1][1].startswith("Choose a meter")
    assert answers[2][1] == "Welcome back.\n" + answers[1][1]


@pytest.mark.parametrize(
    "body",
    [
        b'{"session": "s", "msisdn": "254700555003", "op": 0, "text": ""}',
        b'{"session": "s", "msisdn": "254700555003", "op": true, "text": ""}',
        b'{"session": "s", "msisdn": "not a phone", "op": 1, "text": "*384#"}',
        b'{"msisdn": "254700555003", "op": 18, "text": "1"}',
    ],
)
def test_codec_refuses_what_it_does_not_serve(body: bytes) -> None:
    """Ops other than 1 and 18, a bad phone or a missing session: CodecError, nothing runs."""
    with pytest.raises(CodecError):
        codec.parse(body, None, service_code="*384*12#")
