"""Run STS test vectors (schema: ``shared/sts/vectors/README.md``) against this codec.

Pure: no file I/O. :func:`check_line` takes one parsed JSON object of any vector file and
returns its mismatches (an empty list is a pass); :func:`run_lines` runs raw text lines and
counts them. A line's kind is recognised by its keys: ``kind`` (token vector), ``rounds``
(EA07 STA trace), ``crc_input_hex`` (CRC), ``plaintext`` + ``ciphertext`` (MISTY1),
``scheme`` / ``input_block`` (vendor meter-key scheme: an EA07 STA known answer) and
``dkga`` + ``decoder_key`` (DKGA02/DKGA04 derivation).

Token vectors run both directions of the README's "Running a vector": *encode* derives the
key, computes the TID from ``issued_at``, encodes the requested amount, builds the token and
compares plain64, enc64 and the token; *decode* takes the token and ``decoder_key`` and
compares every field the line gives. A malformed line (missing key, wrong type, unknown
kind) and any error the codec raises are reported as mismatches, never raised.

Modules: :mod:`sts.vectors.runner` (lines in, report out), :mod:`sts.vectors._schema`
(typed access to a line, the report types), :mod:`sts.vectors.known_answers` (derivation,
CRC, MISTY1, vendor meter key, STA trace), :mod:`sts.vectors.token_lines` (token vectors,
both directions) and :mod:`sts.vectors.token_builders` (tokens built from a line's fields).
"""

from sts.vectors._schema import Failure, VectorReport
from sts.vectors.runner import check_line, run_lines, vector_lines
from sts.vectors.token_lines import KIND_NAMES

__all__ = [
    "KIND_NAMES",
    "Failure",
    "VectorReport",
    "check_line",
    "run_lines",
    "vector_lines",
]
