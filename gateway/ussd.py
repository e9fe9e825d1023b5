"""USSD over HTTP: one hop in, one screen out, whatever the aggregator.

:class:`UssdGateway` runs a hop end to end: the provider codec reads the request, the session
store gives the session (under its lock, so concurrent hops of one session run one after the
other), the pure engine decides, the :class:`~gateway.ussd_actions.Performer` runs the actions
the engine asks for (vending core, payments, profiles), the new state is stored, and the codec
renders the reply. A retried hop gets the stored reply and runs nothing.

Failure never reaches the customer as an HTTP error: a request the codec cannot read is a 400
(the aggregator's bug, not the customer's), anything else — the session store down, a bug —
ends the session politely in the customer's language ("service unavailable").

Resume: while a session is open, the phone's last screen is also kept for
``resume_window`` seconds under ``resume:<msisdn>``. A new session from that phone within
the window starts on that screen ("Welcome back"), unless the old session ended normally.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

import structlog

from config.logging import hash_msisdn
from gateway.ussd_actions import Performer
from ussd_menus.codecs import CODECS, Codec, HttpReply
from ussd_menus.engine import Engine, NeedAction, Reply, hop_key
from ussd_menus.model import CodecError, SessionClosed, UssdEvent, UssdReply
from ussd_menus.session import Held, SessionState, SessionStore
from ussd_menus.texts import render_text

__all__ = ["UnknownProvider", "UssdGateway", "UssdOutcome"]

_log = logging.getLogger(__name__)
_RESUME: Final = "resume:"
_UNAVAILABLE: Final = "err.unavailable"
_MAX_ACTIONS: Final = 16  #: a pre-filled route chains a few actions; more means a loop


class UnknownProvider(LookupError):  # noqa: N818 - names what happened, like the domain
    """No codec has that name (the route answers 404)."""


@dataclass(frozen=True, slots=True)
class UssdOutcome:
    """What the route sends back, and what it logs and counts."""

    http: HttpReply
    kind: str  #: hop | duplicate | closed | unavailable
    end: bool = False


class UssdGateway:
    """Runs hops for every provider on one engine, store and performer."""

    def __init__(
        self,
        engine: Engine,
        store: SessionStore,
        performer: Performer,
        *,
        session_ttl: float = 180.0,
        resume_window: float = 120.0,
        service_code: str | None = None,
        codecs: Mapping[str, Codec] = CODECS,
    ) -> None:
        self.engine = engine
        self.store = store
        self.performer = performer
        self.session_ttl = session_ttl
        self.resume_window = resume_window
        self.service_code = service_code  #: for providers that do not send it (Nalo, Arkesel)
        self.codecs = codecs

    def codec(self, provider: str) -> Codec:
        """The provider's codec; UnknownProvider if there is none."""
        try:
            return self.codecs[provider]
        except KeyError:
            raise UnknownProvider(provider) from None

    async def hop(self, provider: str, body: bytes) -> UssdOutcome:
        """One request of ``provider``; CodecError if the request is malformed."""
        codec = self.codec(provider)
        first = codec.parse(body, None, service_code=self.service_code)
        if isinstance(first, SessionClosed):
            await self.close(first)
            return UssdOutcome(HttpReply(200, "text/plain; charset=utf-8", b"OK"), "closed")
        key = f"{provider}:{first.session_id}"
        structlog.contextvars.bind_contextvars(
            channel="ussd", session=first.session_id[:64], phone=hash_msisdn(first.msisdn)
        )
        peek = _RESUME + first.msisdn if self.resume_window > 0 and not first.route else None
        try:
            async with self.store.hold(key, peek=peek) as held:
                return await self._locked_hop(codec, key, body, first, held)
        except CodecError:
            raise
        except Exception:  # the store, the performer or a bug: end politely, never a 5xx
            _log.exception("ussd hop failed", extra={"provider": provider})
            return self._unavailable(codec, first)

    async def close(self, closed: SessionClosed) -> None:
        """The provider ended the session: forget it (keep the phone's resume point if dropped)."""
        key = f"{closed.provider}:{closed.session_id}"
        async with self.store.hold(key) as held:
            held.delete(key)
            if held.state is not None and closed.reason in {"success", "release"}:
                held.delete(_RESUME + held.state.msisdn)

    async def _locked_hop(
        self, codec: Codec, key: str, body: bytes, first: UssdEvent, held: Held
    ) -> UssdOutcome:
        state = held.state
        event = first
        if state is not None:
            parsed = codec.parse(body, state.seen, service_code=self.service_code)
            if isinstance(parsed, SessionClosed):  # cannot happen after `first`; be safe
                return self._unavailable(codec, first)
            event = parsed
            if event.is_new and state.reply_end:
                state = None  # the provider opens a new session under an ended one's id
        if state is None:
            state, resumed = self._opening(event, held.peeked)
            if resumed:
                step: Reply | NeedAction = self._resumed(state, event)
            else:
                step = self.engine.step(state, event)
        else:
            step = self.engine.step(state, event)
        for _ in range(_MAX_ACTIONS):
            if isinstance(step, Reply):
                break
            step = await self._perform(step)
        else:
            raise RuntimeError("the menu asked for too many actions in one hop")
        assert isinstance(step, Reply)  # noqa: S101 - the loop above ends only on a Reply
        self._store(held, key, step)
        kind = "duplicate" if step.duplicate else "hop"
        return UssdOutcome(codec.render(step.reply, event), kind, end=step.reply.end)

    async def _perform(self, need: NeedAction) -> Reply | NeedAction:
        result = await self.performer.perform(need.action, need.session)
        return self.engine.resume(need.session, result)

    def _resumed(self, state: SessionState, event: UssdEvent) -> Reply:
        """The first hop of a resumed session: its old screen, with "Welcome back"."""
        state = replace(state, notice="notice.resumed", seen=event.route, last_hop=hop_key(event))
        reply = self.engine.render(state)
        return Reply(reply, replace(state, reply_text=reply.text, reply_end=reply.end))

    def _opening(self, event: UssdEvent, old: SessionState | None) -> tuple[SessionState, bool]:
        """A new session: fresh, or resumed from the phone's dropped one (``old``, if any)."""
        fresh = SessionState(
            provider=event.provider, session_id=event.session_id, msisdn=event.msisdn
        )
        if self.resume_window <= 0 or event.route or old is None:
            return fresh, False
        if old.reply_end or old.pending or not old.screen:
            return fresh, False
        if old.screen == self.engine.menu.root:
            return fresh, False
        resumed = replace(
            old,
            provider=event.provider,
            session_id=event.session_id,
            seen=(),
            last_hop="",
            reply_text=None,
            queue=(),
        )
        return resumed, True

    def _store(self, held: Held, key: str, step: Reply) -> None:
        """Stage the hop's writes: made with the lock's release, when the hop ends well."""
        if step.duplicate:
            return
        state = step.session
        held.set(key, state, self.session_ttl)
        pointer = _RESUME + state.msisdn
        if state.reply_end:
            held.delete(pointer)
        elif self.resume_window > 0:
            held.set(pointer, state, self.resume_window)

    def _unavailable(self, codec: Codec, event: UssdEvent) -> UssdOutcome:
        text = render_text("en", _UNAVAILABLE, {})
        reply = UssdReply(text=text, end=True, hints={"DataType": "display"})
        return UssdOutcome(codec.render(reply, event), "unavailable", end=True)
