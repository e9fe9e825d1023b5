"""A fake action performer (a stand-in for the vending core) and a hop driver for tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from ussd_menus.actions import (
    Action,
    Balance,
    ConfirmCustomer,
    Customer,
    Done,
    FaultReported,
    GetBalance,
    LastTokens,
    LoadProfile,
    MeterList,
    PaymentStarted,
    Profile,
    Quote,
    QuoteAmount,
    Refused,
    RemoveMeter,
    ReportFault,
    ResendToken,
    Result,
    SavedMeter,
    SaveMeter,
    SetLanguage,
    StartPurchase,
    Tokens,
    TokenSent,
    TokenSummary,
)
from ussd_menus.engine import Engine, NeedAction, Reply
from ussd_menus.model import UssdEvent
from ussd_menus.session import SessionState

DEMO_METER = "01234567897"
TOKEN = "12345678901234567890"


@dataclass
class FakeCore:
    """Answers every action like a small demo database; records what it was asked."""

    language: str | None = "en"
    meters: list[SavedMeter] = field(default_factory=list)
    refuse: dict[type, str] = field(default_factory=dict)
    calls: list[Action] = field(default_factory=list)
    token_ready: bool = False  #: the payment completes while the session waits

    def perform(self, action: Action) -> Result:  # noqa: PLR0911, PLR0912 - one branch per action
        """The result the core would give."""
        self.calls.append(action)
        if type(action) in self.refuse:
            return Refused(code=self.refuse[type(action)])
        match action:
            case LoadProfile():
                return Profile(language=self.language, meters=tuple(self.meters))
            case ConfirmCustomer(meter=meter):
                return self._customer(meter)
            case QuoteAmount(amount=amount):
                return Quote(amount=amount, units_tenths=528, vat=1379, charges=500, debt=0)
            case StartPurchase() if self.token_ready:
                return PaymentStarted(reference="PAY-1", token=TOKEN, units_tenths=528)
            case StartPurchase():
                return PaymentStarted(reference="PAY-1")
            case LastTokens():
                return Tokens(
                    items=(
                        TokenSummary(vend_id=7, date="2025-03-01", amount=10000, units_tenths=528),
                    )
                )
            case ResendToken():
                return TokenSent(token=TOKEN)
            case GetBalance():
                return Balance(
                    debt=2500, last_date="2025-03-01", last_amount=10000, last_units_tenths=528
                )
            case SaveMeter(meter=meter, name=name):
                self.meters = [m for m in self.meters if m.number != meter]
                self.meters.append(SavedMeter(number=meter, name=name))
                return MeterList(meters=tuple(self.meters))
            case RemoveMeter(meter=meter):
                self.meters = [m for m in self.meters if m.number != meter]
                return MeterList(meters=tuple(self.meters))
            case ReportFault():
                return FaultReported(reference="FLT-42")
            case SetLanguage(language=language):
                self.language = language
                return Done()
        raise AssertionError(f"unexpected action {action!r}")  # pragma: no cover

    @staticmethod
    def _customer(meter: str) -> Result:
        if meter != DEMO_METER:
            return Refused(code="meter-unknown")
        return Customer(
            meter=meter,
            name="Amina Njeri",
            address="12 Moi Avenue",
            utility="electricity",
            can_vend=True,
            reason=None,
            min_amount=1000,
            max_amount=5000000,
        )


def drive(engine: Engine, session: SessionState, event: UssdEvent, core: FakeCore) -> Reply:
    """One hop: step, then perform every requested action and resume, until a reply."""
    step = engine.step(session, event)
    while isinstance(step, NeedAction):
        step = engine.resume(step.session, core.perform(step.action))
    return step


def at_event(session_id: str, text: str, msisdn: str = "+254700000001") -> UssdEvent:
    """An Africa's Talking-style hop (cumulative route, no hop counter)."""
    route = tuple(text.split("*")) if text else ()
    return UssdEvent(
        provider="africastalking",
        session_id=session_id,
        msisdn=msisdn,
        service_code="*384#",
        network="63902",
        input=route[-1] if route else "",
        route=route,
        is_new=not route,
    )


class Walker:
    """Plays a session hop by hop as Africa's Talking would (cumulative text)."""

    def __init__(self, engine: Engine, core: FakeCore, session_id: str = "ATUid_1") -> None:
        self.engine, self.core = engine, core
        self.session = SessionState(
            provider="africastalking", session_id=session_id, msisdn="+254700000001"
        )
        self.inputs: list[str] = []
        self.started = False

    def open(self) -> Reply:
        """The first hop (empty text)."""
        self.started = True
        return self._hop(at_event(self.session.session_id, ""))

    def send(self, *inputs: str) -> Reply:
        """Type ``inputs`` (one hop each); the reply to the last one."""
        reply = None
        for text in inputs:
            self.inputs.append(text)
            reply = self._hop(at_event(self.session.session_id, "*".join(self.inputs)))
        assert reply is not None
        return reply

    def _hop(self, event: UssdEvent) -> Reply:
        reply = drive(self.engine, self.session, event, self.core)
        self.session = reply.session
        return reply
