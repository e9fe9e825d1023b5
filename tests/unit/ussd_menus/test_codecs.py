"""Provider codecs against the field tables of messaging.md §1.2-1.5 (values written by hand)."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ussd_menus.codecs import CODECS, africastalking, arkesel, hubtel, nalo
from ussd_menus.model import CodecError, SessionClosed, UssdEvent, UssdReply

CON = UssdReply(text="Choose:\n1. Buy", end=False)
END = UssdReply(text="Thank you", end=True)


def _event(result: UssdEvent | SessionClosed) -> UssdEvent:
    assert isinstance(result, UssdEvent)
    return result


# ------------------------------------------------------------------ Africa's Talking


AT_BODY = (
    b"sessionId=ATUid_abc&serviceCode=%2A384%2A12%23&phoneNumber=%2B254711082000"
    b"&networkCode=63902&text=1%2A2%2A0%2A3"
)


def test_at_cumulative_text_is_the_route() -> None:
    """AT ``text`` 1*2*0*3 is the whole route (back key kept); input is its last item."""
    event = africastalking.parse(AT_BODY, ("1", "2", "0"))
    assert event.route == ("1", "2", "0", "3")
    assert event.input == "3"
    assert event.session_id == "ATUid_abc"
    assert event.msisdn == "+254711082000"
    assert event.service_code == "*384*12#"
    assert event.network == "63902"
    assert event.is_new is False
    assert event.hop_index is None


def test_at_first_hop_has_empty_text_and_is_new_without_a_stored_route() -> None:
    """First hop: text "" -> empty route; new because we hold no route yet."""
    body = b"sessionId=s&serviceCode=%2A384%23&phoneNumber=%2B254711082000&networkCode=&text="
    event = africastalking.parse(body, None)
    assert event.route == ()
    assert event.input == ""
    assert event.is_new is True


def test_at_prefilled_digits_arrive_as_text() -> None:
    """``*384*12*1*100#`` dialled: AT sends text ``1*100`` on the first hop."""
    fields = {
        "sessionId": "s",
        "serviceCode": "*384*12#",
        "phoneNumber": "+254711082000",
        "networkCode": "63902",
        "text": "1*100",
    }
    assert africastalking.parse(fields, None).route == ("1", "100")


def test_at_render_con_and_end_as_text_plain() -> None:
    """Replies are ``CON ``/``END `` + text, text/plain UTF-8, status 200."""
    assert africastalking.render(CON, None) == (
        200,
        "text/plain; charset=utf-8",
        b"CON Choose:\n1. Buy",
    )
    assert africastalking.render(END, None).body == b"END Thank you"
    arabic = UssdReply(text="شكرا", end=True)
    assert africastalking.render(arabic, None).body == "END شكرا".encode()


def test_at_end_notification_is_a_session_closed() -> None:
    """The end-of-session callback's ``status`` (any case) becomes the reason."""
    body = (
        b"date=2025-03-01&sessionId=ATUid_abc&serviceCode=%2A384%23&networkCode=63902"
        b"&phoneNumber=%2B254711082000&status=Incomplete&cost=KES+0.0&durationInMillis=9000"
        b"&hopsCount=2&input=1&lastAppResponse=CON+x&errorMessage="
    )
    assert africastalking.parse_end(body) == SessionClosed(
        provider="africastalking", session_id="ATUid_abc", reason="incomplete"
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"serviceCode=x&phoneNumber=%2B2547&text=", "sessionId"),
        (b"sessionId=s&serviceCode=x&phoneNumber=hello&text=", "phoneNumber"),
        (b"sessionId=s&phoneNumber=%2B254711082000", "text"),
        (b"sessionId=s&text=%FF%FE&phoneNumber=%2B254711082000", "form"),
        (b"\xff\xfe\xfd", "UTF-8"),
        (b"text=" + b"1" * 9000, "bytes"),
    ],
)
def test_at_malformed_requests_raise_codec_error(body: bytes, words: str) -> None:
    """Missing fields, bad phone, bad percent-encoding, non-UTF-8, > 8 KiB: CodecError naming it."""
    with pytest.raises(CodecError, match=words):
        africastalking.parse(body, None)


# ------------------------------------------------------------------ Hubtel


def _hubtel(kind: str, message: str, sequence: int, state: str = "") -> dict[str, Any]:
    return {
        "Type": kind,
        "Message": message,
        "ServiceCode": "714",
        "Operator": "mtn",
        "ClientState": state,
        "Mobile": "233244123456",
        "SessionId": "3c3b1c1e",
        "Sequence": sequence,
    }


def test_hubtel_initiation_strips_the_service_code_and_keeps_leftover_digits() -> None:
    """Initiation ``*714*5*3#`` with code 714 -> route (5, 3), new, hop 1, E.164 phone."""
    event = _event(hubtel.parse(_hubtel("Initiation", "*714*5*3#", 1), None))
    assert event.route == ("5", "3")
    assert event.input == "3"
    assert event.service_code == "*714#"
    assert event.is_new is True
    assert event.hop_index == 1
    assert event.msisdn == "+233244123456"
    assert event.network == "mtn"


def test_hubtel_latest_input_is_appended_to_the_stored_route() -> None:
    """Response ``2`` after route (1,) -> route (1, 2), input 2; ``Type`` any case."""
    event = _event(hubtel.parse(_hubtel("RESPONSE", "2", 3), ("1",)))
    assert event.route == ("1", "2")
    assert event.input == "2"
    assert event.is_new is False
    assert event.hop_index == 3


def test_hubtel_client_state_round_trip_rebuilds_the_route() -> None:
    """The ClientState we render carries the route; with no stored route it rebuilds it."""
    first = _event(hubtel.parse(_hubtel("initiation", "*714#", 1), None))
    second = _event(hubtel.parse(_hubtel("response", "1", 2), first.route))
    rendered = json.loads(hubtel.render(CON, second).body)
    third = _event(hubtel.parse(_hubtel("Response", "4", 3, rendered["ClientState"]), None))
    assert third.route == ("1", "4")


def test_hubtel_render_response_and_release() -> None:
    """CON -> Type ``response``, input; END -> Type ``release``, display; JSON UTF-8."""
    event = _event(hubtel.parse(_hubtel("Initiation", "*714*1#", 1), None))
    status, content_type, body = hubtel.render(CON, event)
    assert (status, content_type) == (200, "application/json; charset=utf-8")
    assert json.loads(body) == {
        "SessionId": "3c3b1c1e",
        "Type": "response",
        "Message": "Choose:\n1. Buy",
        "Label": "",
        "ClientState": '["1"]',
        "DataType": "input",
        "FieldType": "text",
    }
    ended = json.loads(hubtel.render(END, event).body)
    assert (ended["Type"], ended["DataType"]) == ("release", "display")


def test_hubtel_release_is_a_session_closed() -> None:
    """``Release`` (any case) -> SessionClosed(reason="release")."""
    assert hubtel.parse(_hubtel("release", "", 4), ("1",)) == SessionClosed(
        provider="hubtel", session_id="3c3b1c1e", reason="release"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"Type": "Dance"}, "Type"),
        ({"Sequence": "one"}, "Sequence"),
        ({"Sequence": True}, "Sequence"),
        ({"Mobile": 233244123456}, "Mobile"),
        ({"ClientState": "{not json"}, "ClientState"),
        ({"SessionId": ""}, "SessionId"),
    ],
)
def test_hubtel_malformed_fields_raise_codec_error(change: dict[str, Any], words: str) -> None:
    """Unknown Type, non-numeric Sequence, number-typed Mobile, foreign ClientState, empty id."""
    with pytest.raises(CodecError, match=words):
        hubtel.parse({**_hubtel("Response", "1", 2), **change}, None)


# ------------------------------------------------------------------ Nalo


NALO_NEW = {
    "USERID": "NALOTest",
    "MSISDN": "233244123456",
    "USERDATA": "*384*12*1*100#",
    "MSGTYPE": True,
    "NETWORK": "MTN",
    "SESSIONID": "16590115252429751",
}


def test_nalo_new_session_prefills_leftover_digits_after_the_configured_code() -> None:
    """MSGTYPE true = new; ``*384*12*1*100#`` with code ``*384*12#`` -> route (1, 100)."""
    event = _event(nalo.parse(json.dumps(NALO_NEW).encode(), None, service_code="*384*12#"))
    assert event.route == ("1", "100")
    assert event.is_new is True
    assert event.service_code == "*384*12#"
    assert event.session_id == "16590115252429751"


def test_nalo_continue_appends_latest_input() -> None:
    """MSGTYPE false: USERDATA is the latest input only."""
    body = {**NALO_NEW, "MSGTYPE": False, "USERDATA": "2"}
    event = _event(nalo.parse(body, ("1",), service_code="*384*12#"))
    assert event.route == ("1", "2")
    assert event.is_new is False


def test_nalo_render_msgtype_true_continues_false_ends() -> None:
    """Response echoes USERID/MSISDN; MSGTYPE true = continue, false = end."""
    event = _event(nalo.parse(NALO_NEW, None))
    assert json.loads(nalo.render(CON, event).body) == {
        "USERID": "NALOTest",
        "MSISDN": "233244123456",
        "MSG": "Choose:\n1. Buy",
        "MSGTYPE": True,
    }
    assert json.loads(nalo.render(END, event).body)["MSGTYPE"] is False


def test_nalo_without_configured_code_takes_the_first_number_as_the_code() -> None:
    """No code known: ``*384*12*1*100#`` -> code ``*384#``, route (12, 1, 100)."""
    event = _event(nalo.parse(NALO_NEW, None))
    assert event.service_code == "*384#"
    assert event.route == ("12", "1", "100")


def test_nalo_msgtype_must_be_a_boolean() -> None:
    """MSGTYPE 1 (a number) is not a flag: CodecError."""
    with pytest.raises(CodecError, match="MSGTYPE"):
        nalo.parse({**NALO_NEW, "MSGTYPE": 1}, None)


# ------------------------------------------------------------------ Arkesel


ARKESEL_NEW = {
    "sessionID": "ark-1",
    "userID": "vendgate",
    "newSession": True,
    "msisdn": "233244123456",
    "userData": "*928*01#",
    "network": "MTN",
}


def test_arkesel_new_session_and_continue() -> None:
    """A new session with ``*928*01#``: code ``*928#``, route (01,); then latest input."""
    first = _event(arkesel.parse(json.dumps(ARKESEL_NEW).encode(), None))
    assert (first.service_code, first.route, first.is_new) == ("*928#", ("01",), True)
    body = {**ARKESEL_NEW, "newSession": False, "userData": "3"}
    second = _event(arkesel.parse(body, first.route))
    assert (second.route, second.input, second.is_new) == (("01", "3"), "3", False)


def test_arkesel_render_continue_session_flag() -> None:
    """Response: sessionID, userID, msisdn, message, continueSession."""
    event = _event(arkesel.parse(ARKESEL_NEW, None))
    assert json.loads(arkesel.render(CON, event).body) == {
        "sessionID": "ark-1",
        "userID": "vendgate",
        "msisdn": "233244123456",
        "message": "Choose:\n1. Buy",
        "continueSession": True,
    }
    assert json.loads(arkesel.render(END, event).body)["continueSession"] is False


@pytest.mark.parametrize("name", ["hubtel", "nalo", "arkesel"])
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[1, 2]", "object"),
        (b"{", "JSON"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b'{"x": "' + b"a" * 9000 + b'"}', "bytes"),
        (b"{}", "missing"),
    ],
)
def test_json_codecs_reject_malformed_bodies(name: str, body: bytes, words: str) -> None:
    """Every JSON codec: non-object, broken JSON, non-UTF-8, > 8 KiB, empty object."""
    with pytest.raises(CodecError, match=words):
        CODECS[name].parse(body, None)


# ------------------------------------------------------------------ properties

_FIELD_NAMES = sorted(
    {
        *AT_BODY.decode().replace("&", "=").split("=")[::2],
        *_hubtel("x", "", 1),
        *NALO_NEW,
        *ARKESEL_NEW,
        "status",
    }
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_OBJECTS = st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=8), _JSON, max_size=10)
_ROUTES = st.none() | st.lists(st.text(max_size=4), max_size=3).map(tuple)


@settings(max_examples=150)
@given(name=st.sampled_from(sorted(CODECS)), body=st.binary(max_size=300), route=_ROUTES)
def test_any_bytes_parse_or_raise_codec_error(
    name: str, body: bytes, route: tuple[str, ...] | None
) -> None:
    """Arbitrary bytes to any codec: an event/closure, or CodecError, nothing else."""
    with contextlib.suppress(CodecError):
        CODECS[name].parse(body, route)


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(CODECS)), obj=_OBJECTS, route=_ROUTES, as_bytes=st.booleans())
def test_any_json_object_parses_or_raises_codec_error(
    name: str, obj: dict[str, Any], route: tuple[str, ...] | None, as_bytes: bool
) -> None:
    """Arbitrary JSON objects (bytes or decoded) parse to something that renders, or CodecError.

    Field names are drawn mostly from the real ones so the parsers get past the first checks.
    """
    body = json.dumps(obj).encode() if as_bytes else obj
    try:
        result = CODECS[name].parse(body, route)
    except CodecError:
        return
    if isinstance(result, UssdEvent):
        assert CODECS[name].render(CON, result).status == 200


@settings(max_examples=150)
@given(fields=st.dictionaries(st.sampled_from(_FIELD_NAMES), st.text(max_size=30), max_size=8))
def test_any_at_form_parses_or_raises_codec_error(fields: dict[str, str]) -> None:
    """Arbitrary AT-like form fields (hop and end notification): parsed or CodecError."""
    body = urlencode(fields).encode()
    for parse in (lambda: africastalking.parse(body, None), lambda: africastalking.parse_end(body)):
        with contextlib.suppress(CodecError):
            parse()
