"""Tests of DarajaProvider.parse_callback: Daraja's STK callback (vending.md appendix).

No HTTP is needed: parse_callback is a pure function of the body and its content type.
"""

from __future__ import annotations

import json

import pytest

from gateway.payments import DarajaConfig, DarajaProvider, MalformedCallback
from vending_core.service.payment_ports import PaymentOutcome

JSON = "application/json"


def paid(amount: object = 1500) -> dict[str, object]:
    """A success callback shaped like the appendix, with a Balance item that has no Value."""
    items = [
        {"Name": "Amount", "Value": amount},
        {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
        {"Name": "Balance"},
        {"Name": "TransactionDate", "Value": 20231210133416},
        {"Name": "PhoneNumber", "Value": 254708374149},
    ]
    callback = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": "ws_CO_191220191020363925",
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": items},
    }
    return {"Body": {"stkCallback": callback}}


def unpaid(code: int, description: str) -> dict[str, object]:
    """A callback without CallbackMetadata, as Daraja sends for anything but success."""
    callback = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": "ws_CO_191220191020363925",
        "ResultCode": code,
        "ResultDesc": description,
    }
    return {"Body": {"stkCallback": callback}}


@pytest.fixture
def mpesa() -> DarajaProvider:
    """A provider that is never asked to make a request here."""
    config = DarajaConfig(
        base_url="http://127.0.0.1:9",
        consumer_key="k",
        consumer_secret="s",
        shortcode="174379",
        passkey="p",
        callback_url="http://127.0.0.1:9/cb",
    )
    return DarajaProvider(config)


def encode(payload: object) -> bytes:
    """The payload as Daraja would POST it."""
    return json.dumps(payload).encode()


def test_success_callback_gives_paid_amount_and_receipt(mpesa: DarajaProvider) -> None:
    """Amount 1500 (shillings) is 150,000 cents; the receipt is MpesaReceiptNumber."""
    payload = paid()
    result = mpesa.parse_callback(encode(payload), "application/json; charset=utf-8")
    assert (result.provider, result.provider_reference) == ("mpesa", "ws_CO_191220191020363925")
    assert (result.outcome, result.amount, result.receipt) == (
        PaymentOutcome.PAID,
        150_000,
        "NLJ7RT61SV",
    )
    assert result.reason == "The service request is processed successfully."
    assert result.raw == payload


@pytest.mark.parametrize(("value", "cents"), [(1.0, 100), (1500.00, 150_000), (10.5, 1050)])
def test_amount_given_as_a_decimal_number(mpesa: DarajaProvider, value: float, cents: int) -> None:
    """The sandbox sends Amount as 1.00: 1.00 -> 100, 1500.00 -> 150,000, 10.5 -> 1,050 cents."""
    assert mpesa.parse_callback(encode(paid(value)), JSON).amount == cents


@pytest.mark.parametrize(
    ("code", "description", "outcome"),
    [
        (1032, "Request cancelled by user", PaymentOutcome.ABANDONED),
        (1037, "DS timeout user cannot be reached", PaymentOutcome.PENDING),
        (1, "The balance is insufficient for the transaction.", PaymentOutcome.FAILED),
        (2001, "The initiator information is invalid.", PaymentOutcome.FAILED),
        (1025, "An error occurred while sending a push request", PaymentOutcome.FAILED),
    ],
)
def test_unpaid_callbacks_map_result_codes(
    mpesa: DarajaProvider, code: int, description: str, outcome: PaymentOutcome
) -> None:
    """1032 cancelled -> ABANDONED, 1037 no answer -> PENDING, 1, 2001 and others -> FAILED."""
    result = mpesa.parse_callback(encode(unpaid(code, description)), JSON)
    assert (result.outcome, result.amount, result.receipt, result.reason) == (
        outcome,
        None,
        None,
        description,
    )


def _without(path: tuple[str, ...]) -> dict[str, object]:
    payload = paid()
    node: dict[str, object] = payload
    for key in path[:-1]:
        child = node[key]
        assert isinstance(child, dict)
        node = child
    del node[path[-1]]
    return payload


def _with(path: tuple[str, ...], value: object) -> dict[str, object]:
    payload = paid()
    node: dict[str, object] = payload
    for key in path[:-1]:
        child = node[key]
        assert isinstance(child, dict)
        node = child
    node[path[-1]] = value
    return payload


CB = ("Body", "stkCallback")


@pytest.mark.parametrize(
    "path",
    [
        ("Body",),
        (*CB,),
        (*CB, "CheckoutRequestID"),
        (*CB, "MerchantRequestID"),
        (*CB, "ResultCode"),
        (*CB, "ResultDesc"),
        (*CB, "CallbackMetadata"),
        (*CB, "CallbackMetadata", "Item"),
    ],
)
def test_missing_keys_are_malformed(mpesa: DarajaProvider, path: tuple[str, ...]) -> None:
    """Every key of the appendix's callback is required (CallbackMetadata when paid)."""
    with pytest.raises(MalformedCallback):
        mpesa.parse_callback(encode(_without(path)), JSON)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("Body",), []),
        ((*CB,), "callback"),
        ((*CB, "CheckoutRequestID"), 12345),
        ((*CB, "CheckoutRequestID"), ""),
        ((*CB, "ResultCode"), "0"),
        ((*CB, "ResultCode"), 0.0),
        ((*CB, "ResultCode"), False),
        ((*CB, "ResultCode"), None),
        ((*CB, "ResultDesc"), 7),
        ((*CB, "CallbackMetadata"), []),
        ((*CB, "CallbackMetadata", "Item"), {"Name": "Amount"}),
        ((*CB, "CallbackMetadata", "Item"), ["Amount"]),
        ((*CB, "CallbackMetadata", "Item"), [{"Value": 1}]),
        ((*CB, "CallbackMetadata", "Item"), [{"Name": "Amount", "Value": 1}] * 2),
    ],
)
def test_wrong_types_are_malformed(
    mpesa: DarajaProvider, path: tuple[str, ...], value: object
) -> None:
    """Objects where objects belong, strings and integers where the appendix has them."""
    with pytest.raises(MalformedCallback):
        mpesa.parse_callback(encode(_with(path, value)), JSON)


@pytest.mark.parametrize("amount", ["1500", True, None, 0, -5, 10.555, [1500]])
def test_bad_amounts_are_malformed(mpesa: DarajaProvider, amount: object) -> None:
    """A paid callback needs a positive number of at most two decimals as Amount."""
    with pytest.raises(MalformedCallback):
        mpesa.parse_callback(encode(paid(amount)), JSON)


@pytest.mark.parametrize("receipt", [None, "", 123])
def test_paid_callback_needs_a_receipt(mpesa: DarajaProvider, receipt: object) -> None:
    """The receipt is the reconciliation key: a paid callback without one is malformed."""
    payload = paid()
    metadata = payload["Body"]["stkCallback"]["CallbackMetadata"]  # type: ignore[index]
    metadata["Item"][1] = {"Name": "MpesaReceiptNumber", "Value": receipt}
    if receipt is None:
        metadata["Item"][1] = {"Name": "MpesaReceiptNumber"}
    with pytest.raises(MalformedCallback):
        mpesa.parse_callback(encode(payload), JSON)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<xml/>", "application/xml"),
        (encode(paid()), "text/plain"),
        (encode(paid()), ""),
        (b"", JSON),
        (b"{not json", JSON),
        (b"\xc3\x28", JSON),
        (b"[]", JSON),
        (b"null", JSON),
        (encode({**paid(), "padding": "x" * 20_000}), JSON),
        (b"[" * 20_000, JSON),
        (b"{" + b'"a":{' * 5_000 + b"}" * 5_001, JSON),
    ],
)
def test_non_json_and_huge_bodies_are_malformed(
    mpesa: DarajaProvider, body: bytes, content_type: str
) -> None:
    """Anything but a JSON object of at most 16 KiB is MalformedCallback (a PaymentError).

    Other media types, empty, broken, non-UTF-8, non-object, oversized or deeply nested bodies
    never raise another exception.
    """
    with pytest.raises(MalformedCallback):
        mpesa.parse_callback(body, content_type)
