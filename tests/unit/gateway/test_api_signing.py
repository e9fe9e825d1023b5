import hashlib
import hmac
from pathlib import Path

import pytest

from gateway.api.auth import _timestamp_ok
from gateway.api.signing import signature, signature_matches, string_to_sign
from vending_core.adapters.api_secrets import SecretBox
from vending_core.adapters.errors import KeyStoreError

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
# The worked example of docs/api.md, "Signing a request".
SECRET = b"Jx3sVq0hZ4-demo-secret-not-for-production"
BODY = b'{"meter_number":"01234567897","amount":5000}'
TIMESTAMP = "1795600000"
BODY_HASH = "a41a76a23dc8e29a22a86527924c2b005c70b625b58e9f2e0114f20f5e78a89d"
SIGNATURE = "44eb171d7869722a660cf2ec8485d5ef08a840f221446f9bea41154aac5bcbbb"
KEK = bytes(range(32))


def test_worked_example_recomputed_by_hand() -> None:
    """The doc's body hash and signature are SHA-256 / HMAC-SHA256 of the documented string."""
    assert hashlib.sha256(BODY).hexdigest() == BODY_HASH
    by_hand = b"POST\n/api/v1/vends\n1795600000\n" + BODY_HASH.encode()
    assert hmac.new(SECRET, by_hand, hashlib.sha256).hexdigest() == SIGNATURE
    text = DOC.read_text(encoding="utf-8")
    assert BODY_HASH in text
    assert SIGNATURE in text
    assert BODY.decode() in text


def test_signing_code_agrees_with_the_worked_example() -> None:
    """gateway.api.signing builds the documented string and signature."""
    expected = b"POST\n/api/v1/vends\n1795600000\n" + BODY_HASH.encode()
    assert string_to_sign("post", "/api/v1/vends", TIMESTAMP, BODY) == expected
    assert signature(SECRET, "POST", "/api/v1/vends", TIMESTAMP, BODY) == SIGNATURE


def test_empty_body_hashes_as_the_sha256_of_nothing() -> None:
    """A GET signs the SHA-256 of the empty string (FIPS 180-4 test value e3b0...b855)."""
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert string_to_sign("GET", "/api/v1/vendor/balance", "1", b"").endswith(empty.encode())


@pytest.mark.parametrize(
    ("method", "path", "timestamp", "body"),
    [
        ("GET", "/api/v1/vends", TIMESTAMP, BODY),  # another method
        ("POST", "/api/v1/vends?x=1", TIMESTAMP, BODY),  # another path
        ("POST", "/api/v1/vends", "1795600001", BODY),  # another time
        ("POST", "/api/v1/vends", TIMESTAMP, BODY.replace(b"5000", b"9000")),  # another body
    ],
)
def test_a_signature_covers_every_part(method: str, path: str, timestamp: str, body: bytes) -> None:
    """Changing the method, path, timestamp or body invalidates the example's signature."""
    assert signature_matches(SECRET, "POST", "/api/v1/vends", TIMESTAMP, BODY, SIGNATURE)
    assert not signature_matches(SECRET, method, path, timestamp, body, SIGNATURE)


def test_secret_box_round_trip_is_bound_to_the_key_id() -> None:
    """A sealed secret opens under its key id only, and the sealed text hides the secret."""
    box = SecretBox(KEK)
    sealed = box.seal("vk_a", b"s3cret")
    assert b"s3cret".hex() not in sealed
    assert len(bytes.fromhex(sealed)) == 12 + len(b"s3cret") + 16  # nonce, ciphertext, tag
    assert box.open("vk_a", sealed) == b"s3cret"
    with pytest.raises(KeyStoreError):
        box.open("vk_b", sealed)
    with pytest.raises(KeyStoreError):
        SecretBox(bytes(32)).open("vk_a", sealed)
    assert "s3cret" not in repr(box)


@pytest.mark.parametrize(
    ("sent", "ok"),
    [("1000", True), ("700", True), ("1300", True), ("699", False), ("1301", False), ("", False)],
)
def test_the_replay_window_is_300_seconds_either_way(sent: str, ok: bool) -> None:
    """At server time 1000, timestamps 700..1300 are fresh; 699, 1301 and garbage are stale."""
    assert _timestamp_ok(sent, 1000.0) is ok
