"""Use cases (``vend_credit``, ``reissue_token``, ...), unit of work, idempotency and ports."""
