"""Menu tables: screens as data (prompt keys, choices, lists, input validation, transitions).

A transition is an :data:`Outcome`: :class:`Go` to another screen, :class:`Stay` with a
reason (re-prompt), or :class:`Ask` the caller to perform an action first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ussd_menus.actions import Action, Result
from ussd_menus.session import Json, SessionState

__all__ = ["Ask", "Choice", "Field", "Go", "Item", "Menu", "Outcome", "Screen", "Stay", "TextFn"]


# ------------------------------------------------------------------ outcomes


@dataclass(frozen=True, slots=True)
class Go:
    """Move to ``screen`` (pushing the current one), or to it alone with ``reset``."""

    screen: str
    data: Mapping[str, Json] = field(default_factory=dict)
    notice: str = ""
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Stay:
    """Stay on the screen; show ``notice`` (a re-prompt reason) above it."""

    notice: str = ""
    data: Mapping[str, Json] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask the caller to perform ``action``; the screen's ``on_result`` gets the answer."""

    action: Action
    data: Mapping[str, Json] = field(default_factory=dict)


Outcome = Go | Stay | Ask


# ------------------------------------------------------------------ menu tables


@dataclass(frozen=True, slots=True)
class Choice:
    """A numbered option: ``key`` typed, ``label`` text key, ``then`` what happens."""

    key: str
    label: str
    then: Outcome | Callable[[SessionState], Outcome]


@dataclass(frozen=True, slots=True)
class Item:
    """One row of a dynamic list: ``value`` for the handler, ``key``+``params`` shown."""

    value: str
    key: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Field:
    """Free input: ``validate`` gives the clean value or a :class:`Stay` with the reason."""

    validate: Callable[[str, SessionState], str | Stay]
    then: Callable[[SessionState, str], Outcome]


@dataclass(frozen=True, slots=True, kw_only=True)
class Screen:
    """One state of a menu.

    ``errors`` lists every notice key the screen can show, so budget tests can render them
    all; ``end`` screens close the session.
    """

    name: str
    prompt: str
    choices: tuple[Choice, ...] = ()
    items: Callable[[SessionState], Sequence[Item]] | None = None
    on_item: Callable[[SessionState, str], Outcome] | None = None
    field: Field | None = None
    on_result: Callable[[SessionState, Result], Outcome] | None = None
    errors: tuple[str, ...] = ()
    end: bool = False


TextFn = Callable[[str, str, Mapping[str, str]], str]  #: (language, key, params) -> text


@dataclass(frozen=True, slots=True, kw_only=True)
class Menu:
    """A whole menu: screens by name, the root, and the texts of the conventions."""

    screens: Mapping[str, Screen]
    root: str
    text: TextFn
    on_open: Callable[[SessionState], Outcome] | None = None
    invalid: str = "err.choice"  #: notice for input no row accepts
    failed: str = "failed"  #: end screen when a result has no handler
    back: str = "nav.back"  #: footer line on every non-root, non-end screen
    back_short: str = "nav.back_short"  #: the footer when the long one does not fit
    more: str = "nav.more"  #: label of the ``98`` line
