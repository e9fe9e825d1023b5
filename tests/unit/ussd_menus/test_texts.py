"""Texts: the GSM-7 check, complete catalogues, and every screen within its budget."""

from __future__ import annotations

import importlib
import pkgutil
import string
from dataclasses import replace

import pytest

import vending_core.domain
import vending_core.service
from ussd_menus.charset import budget, fits, fold_gsm7, is_gsm7, septets
from ussd_menus.engine import Engine
from ussd_menus.menus import MENU, build_engine
from ussd_menus.session import Json, SessionState
from ussd_menus.texts import CATALOGS, LANGUAGES, render_text
from vending_core.domain import errors

# Worst cases, by hand: an 18-digit PAN, every formatted width at its cap (menu_kit).
WORST: dict[str, Json] = {
    "meter": "600727000001234567",
    "who": "Wwwwwwwwwwwwwwwwwwwwwwwwwwwwww",  # 30 = WHO_MAX
    "unit": "kWh",
    "min": "9999999",
    "max": "9999999",
    "amount": "9999999",
    "units": "99999.9",
    "vat": "99999.99",
    "charges": "99999.99",
    "debt": "99999.99",
    "token": "1234 5678 9012 3456 7890",
    "reference": "REF-12345678",  # 12 = REFERENCE_MAX
    "label": "Llllllllllll",  # 12 = LABEL_MAX
    "date": "2025-12-31",
    "meters": [[f"6007270000012345{n:02d}", "Llllllllllll"] for n in range(20)],
    "tokens": [[str(n), "2025-12-31", "9999999", "99999.9"] for n in range(10)],
}
ARABIC_WHO = "م" * 30  # an Arabic name stays Arabic on Arabic screens (no folding)


def test_gsm7_basic_and_extension_sets() -> None:
    """GSM 03.38: the basic set and the extension table (2 septets); ç ê â, Arabic are not.

    Written out from the 23.038 table: @ £ $ ¥ è é Ç Ä ß ¿ à basic; € [ ] ^ extension.
    """
    assert is_gsm7("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r")
    assert is_gsm7("€[]^{}|~\\")
    assert septets("€[") == 4
    for text in ("ç", "ê", "â", "î", "ô", "û", "`", "العربية", "😀"):
        assert not is_gsm7(text), text


def test_budget_picks_the_encoding() -> None:
    """182 septets for GSM-7 text, 80 UTF-16 units once one character needs UCS-2."""
    assert budget("a" * 182) == (182, 182)
    assert not fits("a" * 183)
    assert budget("ê" + "a" * 79) == (80, 80)
    assert not fits("ê" + "a" * 80)
    assert budget("€" * 91) == (182, 182)


def test_fold_keeps_gsm_and_strips_accents() -> None:
    """Names on GSM-7 screens: Ọkọ -> Oko, ç -> c, é kept, CJK -> ?."""
    assert fold_gsm7("Ngozi Ọkọ, Français, é, 東") == "Ngozi Oko, Francais, é, ?"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_has_every_key_with_the_same_placeholders(language: str) -> None:
    """Every language has exactly the English keys, each with the English placeholders."""
    english, other = CATALOGS["en"], CATALOGS[language]
    assert set(other) == set(english)
    for key, text in english.items():
        assert _placeholders(other[key]) == _placeholders(text), key


def _all_codes(cls: type[errors.VendingError]) -> set[str]:
    """The codes of ``cls`` and its subclasses, but not of back-office refusals."""
    if issubclass(cls, errors.BackOfficeRefusal):
        return set()
    return {cls.code}.union(*(_all_codes(sub) for sub in cls.__subclasses__()))


def _import_every_core_module() -> None:
    for package in (vending_core.domain, vending_core.service):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")


def test_every_vending_refusal_has_a_message() -> None:
    """Each VendingError code a customer can meet has an ``err.<code>`` text.

    Every module of the core's domain and service layers is imported first, so the check
    does not depend on which other tests ran. Back-office refusals (shifts, maintenance,
    voucher batches) are answered to staff as problem JSON and have no customer text.
    """
    _import_every_core_module()
    codes = _all_codes(errors.VendingError)
    assert "meter-unknown" in codes
    assert {f"err.{c}" for c in codes} <= set(CATALOGS["en"])


def test_every_key_the_menu_uses_exists() -> None:
    """Prompts, choice labels, notices and list rows of every screen are in the catalogue."""
    keys = {MENU.invalid, MENU.back, MENU.more, "item.meter", "item.token"}
    for screen in MENU.screens.values():
        keys |= {screen.prompt, *screen.errors, *(c.label for c in screen.choices)}
    assert keys <= set(CATALOGS["en"])


def _renders(engine: Engine, language: str, name: str) -> list[str]:
    screen = MENU.screens[name]
    data = {**WORST, "lang": language}
    if language == "ar":
        data["who"] = ARABIC_WHO
    session = SessionState(provider="t", session_id="s", msisdn="+1", screen=name, data=data)
    texts = []
    for notice in ("", *screen.errors):
        noticed = replace(session, notice=notice)
        for page in range(len(engine.pages(noticed)) if screen.items else 1):
            texts.append(engine.render(replace(noticed, page=page)).text)
    return texts


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(MENU.screens))
def test_every_screen_fits_in_every_language(language: str, name: str) -> None:
    """Every screen fits: <= 182 GSM-7 septets, or <= 80 characters when it needs UCS-2.

    Rendered with worst-case values, with each notice it can show and on every page.
    """
    engine = build_engine()
    for text in _renders(engine, language, name):
        length, limit = budget(text)
        assert length <= limit, f"{length} > {limit}:\n{text}"


def test_list_pages_show_every_saved_meter_once() -> None:
    """Paging the worst-case list of 20 meters in Arabic shows rows 1-20, each once."""
    engine = build_engine()
    session = SessionState(
        provider="t", session_id="s", msisdn="+1", screen="buy_meter", data={**WORST, "lang": "ar"}
    )
    rows = [row for page in engine.pages(session) for row in page]
    assert [row.split(".")[0] for row in rows] == [str(n) for n in range(1, 21)]


def test_missing_placeholder_and_unknown_language_never_raise() -> None:
    """Unknown language -> English; missing placeholder -> empty."""
    assert render_text("xx", "err.amount_min", {}) == "The minimum amount is ."
