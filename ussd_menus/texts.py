"""Screen texts by language: ``render_text(language, key, params)``.

The catalogues live in :mod:`ussd_menus.catalog` (one module per language, same keys and
placeholders). Placeholder values on GSM-7 screens are folded to GSM-7 (``Ọkọ`` -> ``Oko``)
so a customer's name never switches a screen to UCS-2 and its 80-character budget.
Rendering never raises: an unknown language falls back to English, an unknown key to the
English text or the key itself, a missing placeholder to "".
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType

from ussd_menus.catalog import ar, en, fr, sw
from ussd_menus.charset import fold_gsm7

__all__ = ["CATALOGS", "LANGUAGES", "UCS2_LANGUAGES", "render_text"]

LANGUAGES = ("en", "fr", "sw", "ar")
UCS2_LANGUAGES = frozenset({"ar"})  #: screens written in a script GSM-7 lacks
CATALOGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": en.TEXTS, "fr": fr.TEXTS, "sw": sw.TEXTS, "ar": ar.TEXTS}
)
_FORMATTER = string.Formatter()


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render_text(language: str, key: str, params: Mapping[str, str]) -> str:
    """The text of ``key`` in ``language`` with ``params`` filled in."""
    catalog = CATALOGS.get(language, en.TEXTS)
    template = catalog.get(key) or en.TEXTS.get(key) or key
    if language in UCS2_LANGUAGES:
        values = _Values(params)
    else:
        values = _Values({k: fold_gsm7(v) for k, v in params.items()})
    try:
        return _FORMATTER.vformat(template, (), values)
    except (ValueError, IndexError, AttributeError, KeyError):  # a malformed template
        return template
