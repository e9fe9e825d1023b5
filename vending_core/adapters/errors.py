"""The storage adapters' exception tree; database errors are translated at this boundary.

::

    RepositoryError
    ├── ConstraintViolation   (also a ValueError) the database refused a row: a duplicate
    │   │                     number/PAN/code/account/version, or a missing referenced row
    │   └── DuplicateTid      two tokens of one meter would share a TID
    ├── RowNotFound           (also a LookupError) ``update`` of a row that is not stored
    └── GroupCommitError      SQLite: the shared COMMIT of a batch failed; nothing was stored
    KeyStoreError             a stored vending key cannot be decrypted (wrong KEK, tampering)

On PostgreSQL a ``ConstraintViolation`` aborts the transaction: the unit of work must be left
(rolled back) after one. The driver's integrity errors (``sqlite3.IntegrityError``, asyncpg's
SQLSTATE class 23) never leave the adapter untranslated; the original is chained as
``__cause__``. Other driver errors (a lost connection, a lock timeout) propagate as they are.
"""

from __future__ import annotations

__all__ = [
    "ConstraintViolation",
    "DuplicateTid",
    "GroupCommitError",
    "KeyStoreError",
    "RepositoryError",
    "RowNotFound",
]


class RepositoryError(Exception):
    """A repository could not do what was asked."""


class ConstraintViolation(RepositoryError, ValueError):
    """The database refused the row (unique, foreign key or not-null constraint)."""


class DuplicateTid(ConstraintViolation):
    """A token repeats a TID already issued to the same meter (``uq_vend_tokens_meter_id_tid``)."""


class RowNotFound(RepositoryError, LookupError):
    """An update named a row that is not stored."""


class KeyStoreError(Exception):
    """A stored vending key cannot be decrypted: wrong key encryption key or a tampered row."""


class GroupCommitError(RepositoryError):
    """The ``COMMIT`` of a SQLite batch failed: this unit of work's changes were not stored."""
