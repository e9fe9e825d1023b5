"""API client secrets at rest: AES-256-GCM under the key-encryption key (KEK).

As :mod:`vending_core.adapters.keystore` does for vending keys: a random 12-byte nonce, the
ciphertext and the 16-byte tag, with the key id as associated data (a sealed secret copied to
another key id does not open). The sealed form is hex text, stored in ``api_clients``.
The box's ``repr`` shows nothing of the KEK.
"""

from __future__ import annotations

from typing import Final

from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes

from vending_core.adapters.errors import KeyStoreError
from vending_core.adapters.keystore import KEK_BYTES

__all__ = ["SecretBox"]

_NONCE: Final = 12
_TAG: Final = 16


class SecretBox:
    """Seal and open API secrets with the KEK (``ValueError`` if it is not 32 bytes)."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise ValueError(f"the key encryption key must be {KEK_BYTES} bytes (AES-256)")
        self._kek = bytes(kek)

    def __repr__(self) -> str:
        return "SecretBox()"

    def seal(self, key_id: str, secret: bytes) -> str:
        """The hex of nonce + ciphertext + tag of ``secret``, bound to ``key_id``."""
        nonce = get_random_bytes(_NONCE)
        cipher = AES.new(self._kek, AES.MODE_GCM, nonce=nonce)
        cipher.update(key_id.encode())
        ciphertext, tag = cipher.encrypt_and_digest(secret)
        return (nonce + ciphertext + tag).hex()

    def open(self, key_id: str, sealed: str) -> bytes:
        """The secret; ``KeyStoreError`` if it does not decrypt (wrong KEK, altered row)."""
        try:
            raw = bytes.fromhex(sealed)
            nonce, ciphertext, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
            cipher = AES.new(self._kek, AES.MODE_GCM, nonce=nonce)
            cipher.update(key_id.encode())
            return cipher.decrypt_and_verify(ciphertext, tag)
        except ValueError:
            raise KeyStoreError(
                f"the secret of API key {key_id!r} does not decrypt: wrong key encryption key,"
                " or the stored row was altered"
            ) from None
