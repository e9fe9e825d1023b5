"""Every agent refusal has a short text in every language (USSD END / SMS reply)."""

from __future__ import annotations

import pytest

from ussd_menus.texts import CATALOGS, LANGUAGES
from vending_core.domain import agents
from vending_core.domain.errors import VendingError

CODES = sorted(
    cls.code
    for cls in vars(agents).values()
    if isinstance(cls, type) and issubclass(cls, VendingError) and cls is not VendingError
)


def test_the_agent_refusal_codes() -> None:
    """The six stable codes the agent use cases refuse with."""
    assert CODES == [
        "agent-blocked",
        "agent-exists",
        "agent-invalid",
        "agent-locked",
        "agent-pin-wrong",
        "agent-unknown",
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_agent_refusal_has_a_text(language: str) -> None:
    """err.<code> exists, is non-empty and fits one UCS-2 SMS segment part (< 80 chars)."""
    for code in CODES:
        text = CATALOGS[language][f"err.{code}"]
        assert 0 < len(text) < 80, (language, code, text)
