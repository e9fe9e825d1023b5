"""A reference STS meter: the state a real meter keeps, and what it says to each entry.

The vending system uses this model to prove that the tokens it issues really load: it
decodes a token the way a meter's firmware does (with only the meter's own key and
memory), not by running the encoder backwards. It is pure: no I/O, clock, randomness
or logging. :meth:`Meter.enter` never raises for any text; it returns an
:class:`EntryResult` whose :class:`MeterResult` uses the Conlog BEC62 numbering (SPEC §7).
The meter's state changes only when an entry is accepted, with two exceptions: a key
change set refused when complete drops the held sections, and failed entries count
towards a lockout when one is configured.

Order of checks (SPEC §7):

1. Locked out -> ``LOCKOUT``. Not 20 digits below 2^66 -> ``FORMAT``. Class 3 -> ``FUNCTION``.
2. Class 1 (not encrypted): CRC -> ``CRC``; the manufacturer code must be the meter's own
   or 0 -> ``MANUFACTURER_CODE``; accepted tests remember their control bits. No TID.
3. Class 0/2: decrypt with the current key; CRC mismatch (mistyped or wrong key) -> ``CRC``;
   reserved subclass -> ``FUNCTION``.
4. Key change sections: no TID or KEN check. Held until the set is complete (any order),
   then applied at once -> ``KCT1_ACCEPTED`` / ``KCT2_ACCEPTED``. RO = 1 clears the TID
   memory. Sections that do not fit together -> ``FORMAT`` (or ``RANGE`` for a KRN/SGC out
   of range) and the held set is dropped.
5. Other tokens: ``DDTK`` (class 0 under a default key), ``KEY_EXPIRED`` (TID >> 16 > KEN,
   KEN 255 never expires), ``USED`` (TID in memory), ``OLD`` (memory full and TID below
   its smallest), ``FUNCTION`` (credit for another utility); then the token is applied
   (``OVERFLOW`` above ``max_credit_tenths``, ``RANGE`` for an unknown register) and only
   then its TID is stored, evicting the smallest -> ``ACCEPT``.

Interpretations (marked [uncertain] in SPEC or not covered by it):

* Manufacturer code 0 is the generic code every meter accepts (the compliance vectors use 0).
* Class 1 subclass 2 is refused with ``FUNCTION``: its meaning is not published.
* A key change to key type DITK (initialisation key) is refused with ``KEY_TYPE``.
* A key change section 4 on an EA07 meter is refused with ``FUNCTION`` (EA07 sets have 2 or 3).
* Credit registers (the ClearCredit register number): 0-3 hold the units of electricity,
  water, gas and time, 4-7 the currency of the same utilities; 0xFFFF clears all, any other
  number is ``RANGE``. A meter only loads its own utility, so the other registers stay 0.
  The currency registers have no overflow limit and may go negative.
* RO = 1 moves :attr:`Meter.base_date` to the next base date (RO is sent with a base-date
  change; no token carries the new base date).
* Lockout: ``lockout_after`` consecutive ``CRC``/``FORMAT`` results lock the meter until
  :meth:`Meter.unlock`; any other result ends the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Generic, TypeVar, cast

from sts.codec import DecoderKey, decode_block, parse_token, split_class
from sts.dkga import derive
from sts.errors import (
    CrcError,
    FieldError,
    IdentifierError,
    StsError,
    TokenFormatError,
    UnsupportedTokenError,
)
from sts.identifiers import KeyType, Pan, check_ken, check_krn, check_sgc, check_ti
from sts.keychange import KeyChange
from sts.tid import BASE_DATES
from sts.tokens import (
    ClearCredit,
    ClearTamperCondition,
    CurrencyTransfer,
    ExtendedSet,
    InitiateMeterTest,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    KeyChangeSection,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TokenClass,
    TransferCredit,
    Utility,
)

__all__ = ["EntryResult", "Meter", "MeterResult", "MeterState"]

ALL_REGISTERS = 0xFFFF
_CURRENCY = 4  # register of the currency of Utility(n) is 4 + n
_NEVER_EXPIRES = 255
_T = TypeVar("_T")

_TidToken = (
    TransferCredit
    | CurrencyTransfer
    | SetMaximumPowerLimit
    | SetMaximumPhasePowerUnbalanceLimit
    | ClearCredit
    | SetTariffRate
    | ClearTamperCondition
    | SetWaterMeterFactor
    | ExtendedSet
)


class MeterResult(IntEnum):
    """What a meter shows after an entry (SPEC §7, Conlog BEC62 numbering)."""

    ACCEPT = 1
    KCT1_ACCEPTED = 2
    KCT2_ACCEPTED = 3
    OVERFLOW = 4
    KEY_TYPE = 5
    FORMAT = 6
    RANGE = 7
    FUNCTION = 8
    OLD = 9
    USED = 10
    KEY_EXPIRED = 11
    DDTK = 12
    CRC = 13
    MANUFACTURER_CODE = 14
    LOCKOUT = 15


_MESSAGES = {
    MeterResult.ACCEPT: "Token accepted",
    MeterResult.KCT1_ACCEPTED: "Key change token accepted; enter the rest of the key change set",
    MeterResult.KCT2_ACCEPTED: "Key change complete; the meter now uses its new key",
    MeterResult.OVERFLOW: "Token refused: the credit would exceed what the meter can hold",
    MeterResult.KEY_TYPE: "Key change refused: the meter does not accept that key type",
    MeterResult.FORMAT: "Not a valid token: a token has exactly 20 digits",
    MeterResult.RANGE: "Token refused: a value in it is out of range for this meter",
    MeterResult.FUNCTION: "Token refused: this meter does not support that kind of token",
    MeterResult.OLD: "Token is too old for this meter (older than every token it remembers)",
    MeterResult.USED: "Token already used",
    MeterResult.KEY_EXPIRED: "Token refused: the meter's key has expired (it needs re-keying)",
    MeterResult.DDTK: "Credit tokens are not accepted while the meter has its default key",
    MeterResult.CRC: "Token is wrong: mistyped, or made for another meter",
    MeterResult.MANUFACTURER_CODE: "Test token is for another manufacturer's meters",
    MeterResult.LOCKOUT: "Meter locked after too many wrong tokens; a technician must unlock it",
}
_ACCEPTED = frozenset({MeterResult.ACCEPT, MeterResult.KCT1_ACCEPTED, MeterResult.KCT2_ACCEPTED})
_FAILED_ENTRY = frozenset({MeterResult.CRC, MeterResult.FORMAT})


@dataclass(frozen=True, slots=True)
class EntryResult:
    """The meter's answer to one entry: its result, the token it decoded, a plain message."""

    result: MeterResult
    token: Token | None
    message: str

    @property
    def accepted(self) -> bool:
        """Whether the meter took the token (ACCEPT or either KCT acceptance)."""
        return self.result in _ACCEPTED


def _entry(result: MeterResult, token: Token | None = None, message: str = "") -> EntryResult:
    return EntryResult(result, token, message or _MESSAGES[result])


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterState:
    """Everything a meter remembers, as one value: equal states mean nothing changed."""

    key: DecoderKey
    sgc: str
    ti: int
    krn: int
    kt: KeyType
    ken: int
    base_date: int
    tid_memory: tuple[int, ...] = ()
    registers: tuple[int, ...] = (0,) * 8
    max_power_watts: int | None = None
    max_phase_unbalance_watts: int | None = None
    tariff_rate: int | None = None
    water_meter_factor: int | None = None
    tampered: bool = False
    extended_settings: tuple[tuple[int, int], ...] = ()
    pending_key_change: tuple[KeyChangeSection, ...] = field(default=(), repr=False)  # secret
    last_test: int | None = None


def _decode(text: str, key: DecoderKey) -> Token | MeterResult:
    """Decode an entry as firmware does: parse, split the class, decrypt, check the CRC."""
    try:
        token_class, block = split_class(parse_token(text))
        if token_class == 3:  # class 3 is reserved (proprietary)
            return MeterResult.FUNCTION
        if token_class != TokenClass.METER_TEST:
            block = key.decrypt(block)
        return decode_block(token_class, block)
    except TokenFormatError:
        return MeterResult.FORMAT
    except CrcError:
        return MeterResult.CRC
    except UnsupportedTokenError:
        return MeterResult.FUNCTION
    except StsError:  # any other undecodable entry: a meter shows an error, it never crashes
        return MeterResult.FORMAT


def _with(values: tuple[int, ...], index: int, value: int) -> tuple[int, ...]:
    return (*values[:index], value, *values[index + 1 :])


def _clear(registers: tuple[int, ...], register: int) -> tuple[int, ...] | None:
    """Registers after ClearCredit of ``register``, or None if there is no such register."""
    if register == ALL_REGISTERS:
        return (0,) * len(registers)
    if 0 <= register < len(registers):
        return _with(registers, register, 0)
    return None


def _next_base_date(base_date: int) -> int:
    later = [date for date in BASE_DATES if date > base_date]
    return later[0] if later else base_date


def _rekey(state: MeterState, change: KeyChange) -> MeterState:
    """Apply a complete key change set at once (SPEC §6)."""
    return replace(
        state,
        key=DecoderKey(change.new_key, ea=state.key.ea, tables=state.key.tables),
        krn=change.krn,
        kt=change.kt,
        ken=change.ken,
        ti=change.ti,
        sgc=change.sgc if change.sgc is not None else state.sgc,
        pending_key_change=(),
        tid_memory=() if change.ro else state.tid_memory,
        base_date=_next_base_date(state.base_date) if change.ro else state.base_date,
    )


class _StateField(Generic[_T]):
    """A read-only :class:`Meter` attribute showing the same-named :class:`MeterState` field."""

    def __set_name__(self, owner: type[Meter], name: str) -> None:
        self._name = name

    def __get__(self, meter: Meter, owner: type[Meter] | None = None) -> _T:
        return cast("_T", getattr(meter.state, self._name))


class Meter:
    """A prepayment meter: its key, identifiers, TID memory, registers and settings.

    Args:
        key: The decoder key (EA07 or EA11) the meter decrypts with.
        sgc: Supply group code of the key.
        ti: Tariff index of the key.
        krn: Key revision number.
        kt: Key type.
        ken: Key expiry number (255 never expires).
        base_date: Base date of the TIDs the meter expects (1993, 2014, 2035).
        pan: The meter number, for reference only (the key already binds it).
        utility: What the meter measures; credit for another utility is refused.
        manufacturer_code: Accepted in class 1 test tokens besides the generic code 0.
        tid_memory_depth: How many TIDs the meter remembers.
        max_credit_tenths: The largest value the unit credit register holds.
        lockout_after: Consecutive CRC/FORMAT entries that lock the meter (None: never).
    """

    def __init__(
        self,
        key: DecoderKey,
        *,
        sgc: str,
        ti: int,
        krn: int,
        kt: KeyType = KeyType.DUTK,
        ken: int = 255,
        base_date: int = 2014,
        pan: Pan | None = None,
        utility: Utility = Utility.ELECTRICITY,
        manufacturer_code: int = 0,
        tid_memory_depth: int = 50,
        max_credit_tenths: int = 9_999_999,
        lockout_after: int | None = None,
    ) -> None:
        if kt not in tuple(KeyType) or base_date not in BASE_DATES:
            raise IdentifierError(f"key type must be 0-3 and base date one of {BASE_DATES}")
        if not 0 <= manufacturer_code <= 0xFFFF:
            raise FieldError(f"manufacturer code must fit 16 bits, got {manufacturer_code}")
        if (
            tid_memory_depth < 1
            or max_credit_tenths < 0
            or (lockout_after is not None and lockout_after < 1)
        ):
            raise StsError("TID memory depth and lockout count must be >= 1, credit limit >= 0")
        self._state = MeterState(
            key=key,
            sgc=check_sgc(sgc),
            ti=check_ti(ti),
            krn=check_krn(krn),
            kt=KeyType(kt),
            ken=check_ken(ken),
            base_date=base_date,
        )
        self._pan, self._utility = pan, Utility(utility)
        self._manufacturer_code, self._depth = manufacturer_code, tid_memory_depth
        self._max_credit, self._lockout_after = max_credit_tenths, lockout_after
        self._failures, self._locked = 0, False

    @classmethod
    def provision(
        cls,
        *,
        vending_key: bytes,
        dkga: int,
        pan: Pan,
        sgc: str,
        ti: int,
        krn: int,
        kt: KeyType,
        base_date: int,
        ea: int,
        **kwargs: Any,
    ) -> Meter:
        """Build a meter whose key is derived from ``vending_key`` with DKGA02 or DKGA04.

        ``kwargs`` are the other keyword arguments of :class:`Meter` (``ken``, ``utility``...).
        """
        ids: dict[str, Any] = {"sgc": sgc, "ti": ti, "krn": krn, "kt": kt, "base_date": base_date}
        key = derive(dkga, vending_key, pan, ea=ea, **ids)
        return cls(DecoderKey(key, ea=ea), pan=pan, **ids, **kwargs)

    # ------------------------------------------------------------------ entering tokens

    def enter(self, text: str) -> EntryResult:
        """Enter a token as a customer types it; never raises."""
        if self._locked:
            return _entry(MeterResult.LOCKOUT)
        outcome, state = self._evaluate(text)
        if state is not None:
            self._state = state
        if self._lockout_after is not None:
            self._failures = self._failures + 1 if outcome.result in _FAILED_ENTRY else 0
            self._locked = self._failures >= self._lockout_after
        return outcome

    def tamper(self) -> None:
        """Simulate a tamper event (cleared by a ClearTamperCondition token)."""
        self._state = replace(self._state, tampered=True)

    def unlock(self) -> None:
        """A technician clears a lockout."""
        self._failures, self._locked = 0, False

    def _evaluate(self, text: str) -> tuple[EntryResult, MeterState | None]:
        """Return the answer to ``text`` and the new state (None: unchanged)."""
        token = _decode(text, self._state.key)
        match token:
            case MeterResult():
                return _entry(token), None
            case InitiateMeterTest():
                return self._test(token)
            case KeyChange1() | KeyChange2() | KeyChange3() | KeyChange4():
                return self._key_change(token)
            case _:
                return self._tid_token(token)

    def _test(self, token: InitiateMeterTest) -> tuple[EntryResult, MeterState | None]:
        if token.subclass == 2:  # meaning not published (module doc)
            return _entry(MeterResult.FUNCTION, token), None
        if token.manufacturer_code not in (0, self._manufacturer_code):
            return _entry(MeterResult.MANUFACTURER_CODE, token), None
        return _entry(MeterResult.ACCEPT, token), replace(self._state, last_test=token.control)

    def _key_change(self, section: KeyChangeSection) -> tuple[EntryResult, MeterState | None]:
        state = self._state
        if isinstance(section, KeyChange4) and state.key.ea == 7:  # EA07 sets have 2 or 3
            return _entry(MeterResult.FUNCTION, section), None
        kept = [old for old in state.pending_key_change if old.subclass != section.subclass]
        pending = tuple(sorted([*kept, section], key=lambda each: each.subclass))
        dropped = replace(state, pending_key_change=())
        try:
            change = KeyChange.assemble(pending, ea=state.key.ea)
        except FieldError:
            message = "Key change tokens do not belong together; enter the whole set again"
            return _entry(MeterResult.FORMAT, section, message), dropped
        except StsError:  # a new KRN, KEN, TI or SGC out of range
            return _entry(MeterResult.RANGE, section), dropped
        if change is None:
            return _entry(MeterResult.KCT1_ACCEPTED, section), replace(
                state, pending_key_change=pending
            )
        if change.kt == KeyType.DITK:  # interpretation: never re-key to an initialisation key
            return _entry(MeterResult.KEY_TYPE, section), dropped
        return _entry(MeterResult.KCT2_ACCEPTED, section), _rekey(state, change)

    def _tid_token(self, token: _TidToken) -> tuple[EntryResult, MeterState | None]:
        refused = self._check(token)
        if refused is not None:
            return _entry(refused, token), None
        applied = self._apply(token)
        if isinstance(applied, MeterResult):
            return _entry(applied, token), None
        memory = tuple(sorted((*applied.tid_memory, token.tid))[-self._depth :])
        return _entry(MeterResult.ACCEPT, token), replace(applied, tid_memory=memory)

    def _check(self, token: _TidToken) -> MeterResult | None:
        """The checks before a TID token is applied: key type, KEN, TID, utility."""
        state, tid = self._state, token.tid
        if token.token_class == TokenClass.TRANSFER and state.kt == KeyType.DDTK:
            return MeterResult.DDTK
        if state.ken != _NEVER_EXPIRES and tid >> 16 > state.ken:
            return MeterResult.KEY_EXPIRED
        if tid in state.tid_memory:
            return MeterResult.USED
        if len(state.tid_memory) >= self._depth and tid < state.tid_memory[0]:
            return MeterResult.OLD
        if isinstance(token, TransferCredit | CurrencyTransfer) and token.utility != self._utility:
            return MeterResult.FUNCTION
        return None

    def _apply(self, token: _TidToken) -> MeterState | MeterResult:  # noqa: PLR0911 - by kind
        """The state after ``token`` takes effect, or why the meter cannot apply it."""
        state, registers = self._state, self._state.registers
        match token:
            case TransferCredit():
                total = registers[token.utility] + token.value_tenths
                if total > self._max_credit:
                    return MeterResult.OVERFLOW
                return replace(state, registers=_with(registers, token.utility, total))
            case CurrencyTransfer():
                index = _CURRENCY + token.utility
                return replace(
                    state, registers=_with(registers, index, registers[index] + token.units)
                )
            case SetMaximumPowerLimit():
                return replace(state, max_power_watts=token.watts)
            case SetMaximumPhasePowerUnbalanceLimit():
                return replace(state, max_phase_unbalance_watts=token.watts)
            case ClearCredit():
                cleared = _clear(registers, token.register)
                return MeterResult.RANGE if cleared is None else replace(state, registers=cleared)
            case SetTariffRate():
                return replace(state, tariff_rate=token.rate)
            case SetWaterMeterFactor():
                return replace(state, water_meter_factor=token.factor)
            case ClearTamperCondition():
                return replace(state, tampered=False)
            case ExtendedSet():
                settings = dict(state.extended_settings) | {token.index: token.value}
                return replace(state, extended_settings=tuple(sorted(settings.items())))

    # ------------------------------------------------------------------ read-only state

    @property
    def state(self) -> MeterState:
        """Everything the meter remembers, as one comparable value (a snapshot)."""
        return self._state

    #: The current decoder key, and the identifiers that go with it.
    key: _StateField[DecoderKey] = _StateField()
    sgc: _StateField[str] = _StateField()
    ti: _StateField[int] = _StateField()
    krn: _StateField[int] = _StateField()
    kt: _StateField[KeyType] = _StateField()
    #: The key expiry number (255: never expires).
    ken: _StateField[int] = _StateField()
    #: The base date of the TIDs the meter expects.
    base_date: _StateField[int] = _StateField()
    #: The TIDs the meter remembers, ascending.
    tid_memory: _StateField[tuple[int, ...]] = _StateField()
    #: Registers 0-7 by ClearCredit number: units of Utility(n), then currency of Utility(n - 4).
    registers: _StateField[tuple[int, ...]] = _StateField()
    #: Limits and raw settings from management tokens (None until set).
    max_power_watts: _StateField[int | None] = _StateField()
    max_phase_unbalance_watts: _StateField[int | None] = _StateField()
    tariff_rate: _StateField[int | None] = _StateField()
    water_meter_factor: _StateField[int | None] = _StateField()
    #: Whether a tamper condition is active.
    tampered: _StateField[bool] = _StateField()
    #: Key change sections held until their set is complete, by section.
    pending_key_change: _StateField[tuple[KeyChangeSection, ...]] = _StateField()
    #: Control bits of the last accepted class 1 test token.
    last_test: _StateField[int | None] = _StateField()

    @property
    def pan(self) -> Pan | None:
        """The meter number, if known."""
        return self._pan

    @property
    def utility(self) -> Utility:
        """What the meter measures."""
        return self._utility

    def credit_tenths(self, utility: Utility | None = None) -> int:
        """Unit credit in tenths for ``utility`` (default: the meter's own)."""
        return self._state.registers[self._utility if utility is None else utility]

    @property
    def currency_units(self) -> int:
        """Currency credit of the meter's utility in 10**-5 units (may be negative)."""
        return self._state.registers[_CURRENCY + self._utility]

    @property
    def extended_settings(self) -> dict[int, int]:
        """Extended-set values by index (a copy)."""
        return dict(self._state.extended_settings)

    @property
    def locked_out(self) -> bool:
        """Whether the meter refuses every entry until a technician unlocks it."""
        return self._locked

    def __repr__(self) -> str:
        return (
            f"Meter({self._state.key!r}, sgc={self.sgc}, ti={self.ti}, krn={self.krn}, "
            f"kt={self.kt.name}, ken={self.ken}, base_date={self.base_date}, "
            f"utility={self._utility.name})"
        )
