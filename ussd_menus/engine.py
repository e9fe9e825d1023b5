"""The USSD engine: pure functions of (menu, session state, event) to reply and new state.

h11-style: the menus are tables (:class:`Screen` rows with prompts, choices, input
validation and transitions); the engine walks them. It performs no I/O: a transition that
needs the vending core returns :class:`NeedAction`; the caller runs the action and feeds
the result to :meth:`Engine.resume`, which may ask for another action (pre-filled routes
can chain several) or return the :class:`Reply`. Callers store only sessions that come
with a :class:`Reply`.

Conventions on every screen: ``0`` back (previous page, then previous screen), ``00``
home, ``98`` next page of a long list. A retried hop (same ``hop_index``, or the same
route when the provider has no hop counter) gets the cached reply and asks for nothing,
and so does any hop after the session has ended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from ussd_menus.actions import Action, Result
from ussd_menus.charset import budget, fits
from ussd_menus.model import UssdEvent, UssdReply
from ussd_menus.screens import Ask, Choice, Field, Go, Item, Menu, Outcome, Screen, Stay
from ussd_menus.session import SessionState

__all__ = [
    "BACK",
    "HOME",
    "MORE",
    "Ask",
    "Choice",
    "Engine",
    "EngineError",
    "Field",
    "Go",
    "Item",
    "Menu",
    "NeedAction",
    "Outcome",
    "Reply",
    "Screen",
    "Stay",
    "Step",
    "hop_key",
]

BACK, HOME, MORE = "0", "00", "98"


class EngineError(Exception):
    """The caller broke the protocol (e.g. ``resume`` with no action awaited)."""


# ------------------------------------------------------------------ steps


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``reply``; store ``session``. ``duplicate``: a retried or late hop, nothing ran."""

    reply: UssdReply
    session: SessionState
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class NeedAction:
    """Perform ``action``, then call ``Engine.resume(session, result)``."""

    action: Action
    session: SessionState


Step = Reply | NeedAction


def hop_key(event: UssdEvent) -> str:
    """The dedupe key of a hop within its session: the hop counter, else the route."""
    if event.hop_index is not None:
        return f"#{event.hop_index}"
    return json.dumps(list(event.route), ensure_ascii=False)


def _new_inputs(session: SessionState, event: UssdEvent) -> tuple[str, ...]:
    if not session.screen:
        return event.route
    seen, route = session.seen, event.route
    if len(route) > len(seen) and route[: len(seen)] == seen:
        return route[len(seen) :]
    return (event.input,)


def _params(session: SessionState) -> dict[str, str]:
    return {k: str(v) for k, v in session.data.items() if isinstance(v, str | int)}


class Engine:
    """Runs one :class:`Menu`. Holds no per-session state: safe to share."""

    def __init__(self, menu: Menu) -> None:
        self.menu = menu

    # -------------------------------------------------------------- public API

    def step(self, session: SessionState, event: UssdEvent) -> Step:
        """Apply one hop: the reply and new state, or the action to perform first."""
        key = hop_key(event)
        if session.reply_text is not None and (key == session.last_hop or self._ended(session)):
            return Reply(self._cached(session), session, duplicate=True)
        inputs = _new_inputs(session, event)
        session = replace(
            session,
            seen=event.route,
            last_hop=key,
            hops=session.hops + 1,
            notice="",
            pending="",
            pending_input="",
            queue=inputs,
        )
        if not session.screen:
            session = replace(session, screen=self.menu.root)
            if self.menu.on_open is not None:
                outcome = self._apply(session, self.menu.on_open(session), "")
                if isinstance(outcome, NeedAction):
                    return outcome
                session = outcome
        return self._run(session)

    def resume(self, session: SessionState, result: Result) -> Step:
        """Feed the result of the awaited action back; EngineError if none is awaited."""
        if not session.pending:
            raise EngineError("resume() called but the session awaits no action")
        screen = self.screen(session)
        if screen.on_result is None:
            outcome: Outcome = Go(self.menu.failed, notice="err.unavailable")
        else:
            outcome = screen.on_result(session, result)
        done = replace(session, pending="", pending_input="")
        applied = self._apply(done, outcome, session.pending_input)
        if isinstance(applied, NeedAction):
            return applied
        return self._run(applied)

    def screen(self, session: SessionState) -> Screen:
        """The session's current screen (the root before the first hop)."""
        return self.menu.screens[session.screen or self.menu.root]

    def render(self, session: SessionState) -> UssdReply:
        """The current screen as text, in the session's language.

        When the full screen would not fit, it degrades in this order: the short back line
        (``0`` only), then a notice replaces the prompt instead of preceding it.
        """
        screen = self.screen(session)
        params = _params(session)  # once per screen: every text of it uses the same values
        notice = self._text(session, session.notice, params)
        prompt = self._text(session, screen.prompt, params)
        body = [self._choice(session, c.key, c.label, params) for c in screen.choices]
        if screen.items is not None:
            pages = self._pages(session, params)
            page = min(session.page, len(pages) - 1)
            body += pages[page]
            if page + 1 < len(pages):
                body.append(self._choice(session, MORE, self.menu.more, params))
        footers = [""]
        if not screen.end and screen.name != self.menu.root:
            footers = [
                self._text(session, self.menu.back, params),
                self._text(session, self.menu.back_short, params),
            ]
        heads = [[notice, prompt], [notice]] if notice else [[prompt]]
        text = ""
        for head in heads:
            for footer in footers:
                text = "\n".join(x for x in (*head, *body, footer) if x)
                if fits(text):
                    break
            else:
                continue
            break
        hints = {"DataType": "display" if screen.end else "input"}
        return UssdReply(text=text, end=screen.end, hints=hints)

    def pages(self, session: SessionState) -> list[list[str]]:
        """The current list screen's rows, split so each page fits one screen.

        Room is kept for the longer of the prompt and the longest notice the screen can show
        (a notice replaces the prompt when both do not fit) and for the ``98`` and short ``0``
        lines, so a page never overflows whatever is shown with it.
        """
        return self._pages(session, _params(session))

    def _pages(self, session: SessionState, params: dict[str, str]) -> list[list[str]]:
        screen = self.screen(session)
        rows = [
            f"{n}. {self.menu.text(session.language, item.key, item.params)}"
            for n, item in enumerate(screen.items(session) if screen.items else (), start=1)
        ]
        notices = [self._text(session, e, params) for e in screen.errors] or [""]
        frame = [
            max([*notices, self._text(session, screen.prompt, params)], key=lambda t: budget(t)[0]),
            self._choice(session, MORE, self.menu.more, params),
            self._text(session, self.menu.back_short, params),
        ]
        pages: list[list[str]] = [[]]
        for row in rows:
            if pages[-1] and not fits("\n".join([*frame, *pages[-1], row])):
                pages.append([])
            pages[-1].append(row)
        return pages

    # -------------------------------------------------------------- internals

    def _text(self, session: SessionState, key: str, params: dict[str, str] | None = None) -> str:
        if not key:
            return ""
        return self.menu.text(session.language, key, _params(session) if params is None else params)

    def _choice(
        self, session: SessionState, key: str, label: str, params: dict[str, str] | None = None
    ) -> str:
        return f"{key}. {self._text(session, label, params)}"

    def _ended(self, session: SessionState) -> bool:
        return self.screen(session).end

    def _cached(self, session: SessionState) -> UssdReply:
        hints = {"DataType": "display" if session.reply_end else "input"}
        return UssdReply(text=session.reply_text or "", end=session.reply_end, hints=hints)

    def _run(self, session: SessionState) -> Step:
        while session.queue and not self._ended(session):
            head, session = session.queue[0], replace(session, queue=session.queue[1:])
            applied = self._input(session, head)
            if isinstance(applied, NeedAction):
                return applied
            session = applied
        reply = self.render(session)
        session = replace(session, queue=(), reply_text=reply.text, reply_end=reply.end)
        return Reply(reply, session)

    def _apply(
        self, session: SessionState, outcome: Outcome, entered: str
    ) -> SessionState | NeedAction:
        session = session.with_data(**outcome.data)
        if isinstance(outcome, Ask):
            kind = type(outcome.action).__name__
            return NeedAction(outcome.action, replace(session, pending=kind, pending_input=entered))
        if isinstance(outcome, Stay):
            return replace(session, notice=outcome.notice)
        if outcome.screen not in self.menu.screens:
            raise EngineError(f"menu has no screen {outcome.screen!r}")
        stack = () if outcome.reset else (*session.stack, session.screen)
        path = () if outcome.reset else (*session.path, entered)
        return replace(
            session, screen=outcome.screen, stack=stack, path=path, page=0, notice=outcome.notice
        )

    def _back(self, session: SessionState) -> SessionState:
        if session.page > 0:
            return replace(session, page=session.page - 1, notice="")
        if not session.stack:
            return replace(session, notice="")
        return replace(
            session,
            screen=session.stack[-1],
            stack=session.stack[:-1],
            path=session.path[:-1],
            page=0,
            notice="",
        )

    def _input(self, session: SessionState, entered: str) -> SessionState | NeedAction:
        if entered == HOME:
            return replace(session, screen=self.menu.root, stack=(), path=(), page=0, notice="")
        if entered == BACK:
            return self._back(session)
        session = replace(session, notice="")
        screen = self.screen(session)
        for handler in (self._choose, self._pick, self._type):
            done = handler(session, screen, entered)
            if done is not None:
                return done
        return replace(session, notice=self.menu.invalid)

    def _choose(
        self, session: SessionState, screen: Screen, entered: str
    ) -> SessionState | NeedAction | None:
        for choice in screen.choices:
            if choice.key == entered:
                then = choice.then
                return self._apply(session, then(session) if callable(then) else then, entered)
        return None

    def _type(
        self, session: SessionState, screen: Screen, entered: str
    ) -> SessionState | NeedAction | None:
        if screen.field is None:
            return None
        value = screen.field.validate(entered, session)
        if isinstance(value, Stay):
            return self._apply(session, value, entered)
        return self._apply(session, screen.field.then(session, value), entered)

    def _pick(
        self, session: SessionState, screen: Screen, entered: str
    ) -> SessionState | NeedAction | None:
        if screen.items is None or screen.on_item is None:
            return None
        pages = self.pages(session)
        page = min(session.page, len(pages) - 1)
        if entered == MORE and page + 1 < len(pages):
            return replace(session, page=page + 1)
        first = 1 + sum(len(p) for p in pages[:page])
        numbers = {str(n): n - 1 for n in range(first, first + len(pages[page]))}
        if entered not in numbers:
            return None
        value = screen.items(session)[numbers[entered]].value
        return self._apply(session, screen.on_item(session, value), entered)
