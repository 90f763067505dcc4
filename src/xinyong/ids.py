"""Identifiers: Unified Social Credit Code, resident identity number, passport.

Validation is python-stdnum's. Checksum failures name the identifier and the
check character that was expected; the only way past a failed checksum is an
explicit, audited exception list (early pilot codes that are still legal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, ValidationError


class IdScheme(StrEnum):
    USCC = "cn-uscc"
    """统一社会信用代码, GB 32100-2015."""
    RIC = "cn-ric"
    """居民身份证号码, GB 11643."""
    PASSPORT = "passport"


class InvalidIdentifier(ValueError):
    """An identifier failed validation; the message says which and why."""

    def __init__(self, scheme: str, value: str, reason: str, expected_check: str | None = None):
        self.scheme, self.value, self.reason, self.expected_check = (
            scheme,
            value,
            reason,
            expected_check,
        )
        super().__init__(f"{scheme} {value!r}: {reason}")


@dataclass(frozen=True, slots=True)
class ChecksumException:
    """A code that fails its checksum but is legal, with who allowed it and why."""

    scheme: IdScheme
    value: str
    reason: str
    approved_by: str


@dataclass(frozen=True, slots=True)
class Identifier:
    scheme: IdScheme
    value: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


_PASSPORT = re.compile(r"^[A-Z]{3}:[A-Z0-9<]{5,20}$")


def _check_char(scheme: IdScheme, body: str) -> str | None:
    try:
        if scheme is IdScheme.USCC:
            return uscc.calc_check_digit(body)
        if scheme is IdScheme.RIC:
            return ric.calc_check_digit(body + "0")  # stdnum drops the last character
    except (ValueError, IndexError):
        return None
    return None


def validate(
    scheme: IdScheme | str,
    value: str,
    exceptions: Iterable[ChecksumException] = (),
) -> Identifier:
    """Validate ``value`` as an identifier of ``scheme``; raise :class:`InvalidIdentifier`.

    Passports are written ``ISSUER:NUMBER`` with the ICAO alpha-3 issuing state,
    since a passport number is unique only within its issuer.
    """
    try:
        scheme = IdScheme(scheme)
    except ValueError:
        known = ", ".join(s.value for s in IdScheme)
        raise InvalidIdentifier(
            str(scheme), value, f"unknown identifier scheme; use one of {known}"
        ) from None
    raw = value
    if scheme is IdScheme.PASSPORT:
        value = value.strip().upper()
        if not _PASSPORT.match(value):
            raise InvalidIdentifier(
                scheme, raw, "a passport is written ISSUER:NUMBER, e.g. 'DEU:C01X00T47'"
            )
        return Identifier(scheme, value)
    module = uscc if scheme is IdScheme.USCC else ric
    try:
        return Identifier(scheme, module.validate(value))  # validate compacts as it checks
    except InvalidChecksum:
        value = module.compact(value)
        for exc in exceptions:
            if exc.scheme is scheme and exc.value == value:
                return Identifier(scheme, value)
        expected = _check_char(scheme, value[:-1])
        raise InvalidIdentifier(
            scheme,
            raw,
            f"check character is {value[-1]!r} but {expected!r} was expected "
            f"(legacy codes are accepted only through the audited exception list)",
            expected,
        ) from None
    except ValidationError as e:
        value = module.compact(value)
        length = 18
        reason = str(e)
        if len(value) != length:
            reason = f"has {len(value)} characters; {length} are required"
        raise InvalidIdentifier(scheme, raw, reason) from None


# --- telling the scheme of an unlabelled identifier -------------------------------

_USCC_SHAPE = re.compile(r"^[1-9ANY][0-9A-HJ-NP-RTUWXY]\d{6}[0-9A-HJ-NP-RTUWXY]{10}$")
_RIC_SHAPE = re.compile(r"^\d{17}[\dX]$")
# GB/T 2260 province-level codes (the first two digits of a resident identity number).
_PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
})
_SEPARATORS = re.compile(r"[\s-]")


# GB 32100-2015 Table 1: registration authority -> the entity types it registers.
_USCC_TYPES = {
    "1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129",
    "7": "129", "8": "19", "9": "123", "A": "19", "N": "1239", "Y": "1",
}


def _not_uscc(value: str) -> str | None:
    """Why ``value`` cannot be a USCC by its structure (GB 32100-2015), or None if it can."""
    if len(value) != 18:
        return f"a cn-uscc has 18 characters, this has {len(value)}"
    if not _USCC_SHAPE.match(value):
        return ("a cn-uscc is a registration authority (1-9, A, N or Y), an entity type, six "
                "region digits and ten characters without I, O, S, V or Z")
    if value[1] not in _USCC_TYPES[value[0]]:
        return f"registration authority {value[0]} registers no entity type {value[1]}"
    org = value[8:17]
    if not org[:8].isalnum() or org_code_check(org[:8]) != org[8]:
        return (f"characters 9-17 of a cn-uscc are an organisation code (GB 11714) whose check "
                f"character would be {org_code_check(org[:8])!r}, not {org[8]!r}")
    return None


def _not_ric(value: str) -> str | None:
    """Why ``value`` cannot be a resident identity number by its structure (GB 11643-1999),
    or None if it can."""
    if len(value) != 18:
        return f"a cn-ric has 18 characters, this has {len(value)}"
    if not _RIC_SHAPE.match(value):
        return "a cn-ric is 17 digits and a check digit or X"
    if value[:2] not in _PROVINCES:
        return f"a cn-ric starts with a province code; {value[:2]} is none"
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return f"a cn-ric carries a birth date in characters 7-14; {value[6:14]} is no date"
    if born.year < 1900:
        return f"a cn-ric carries a birth date in characters 7-14; {value[6:14]} is before 1900"
    return None


def readings(value: str, exceptions: Iterable[ChecksumException] = ()) -> tuple[Identifier, ...]:
    """Every identifier an unlabelled ``value`` validly is, decided by its length and each
    scheme's structure, never by trying schemes until a checksum happens to fit.

    ``SCHEME:VALUE`` (e.g. ``cn-ric:110105194912310021``) names the scheme; ``ISSUER:NUMBER``
    is a passport. When the structure fits both Chinese schemes the checksums decide, and a
    value valid under both has two readings. Raise :class:`InvalidIdentifier`, naming every
    scheme tried, when there is none.
    """
    exceptions = tuple(exceptions)
    label, sep, rest = value.partition(":")
    if sep and label.strip().lower() in {s.value for s in IdScheme}:
        return (validate(label.strip().lower(), rest, exceptions),)
    if sep:
        return (validate(IdScheme.PASSPORT, value, exceptions),)
    compact = _SEPARATORS.sub("", value).upper()
    for exc in exceptions:  # an audited exception names its scheme
        if exc.value == compact:
            return (Identifier(exc.scheme, compact),)
    why_not = {IdScheme.USCC: _not_uscc(compact), IdScheme.RIC: _not_ric(compact)}
    fits = [s for s, why in why_not.items() if why is None]
    if not fits:
        raise InvalidIdentifier(
            "identifier", value, f"{_TRIED}: {why_not[IdScheme.USCC]}; "
            f"{why_not[IdScheme.RIC]}; a passport is written ISSUER:NUMBER")
    if len(fits) == 1:
        other = next(s for s in why_not if s is not fits[0])
        try:
            return (validate(fits[0], compact, exceptions),)
        except InvalidIdentifier as e:
            raise InvalidIdentifier(
                fits[0], value, f"{e.reason}; by its structure it is a {fits[0]}, not a "
                f"{other} ({why_not[other]})", e.expected_check) from None
    valid: list[Identifier] = []
    errors: list[InvalidIdentifier] = []
    for scheme in fits:
        try:
            valid.append(validate(scheme, compact, exceptions))
        except InvalidIdentifier as e:
            errors.append(e)
    if not valid:
        raise InvalidIdentifier(
            "identifier", value, f"{_TRIED}: its structure fits both and it is valid as "
            "neither: " + "; ".join(f"as {e.scheme}, {e.reason}" for e in errors))
    return tuple(valid)


def identify(value: str, exceptions: Iterable[ChecksumException] = ()) -> Identifier:
    """The one identifier ``value`` is (see :func:`readings`); a value valid under two schemes
    is refused as ambiguous rather than guessed."""
    found = readings(value, exceptions)
    if len(found) > 1:
        raise InvalidIdentifier(
            "identifier", value, f"{_TRIED}: it is valid as both, so its scheme cannot be "
            "told; write it as cn-uscc:VALUE or cn-ric:VALUE (in a feed: its id_scheme)")
    return found[0]


_TRIED = "tried cn-uscc and cn-ric"


def looks_like_identifier(key: str) -> bool:
    """Whether a lookup key is meant as an identifier (18 characters, or ``SCHEME:VALUE`` /
    ``ISSUER:NUMBER``) rather than a subject id, so a bad one is diagnosed, not just missed."""
    return len(key.strip()) >= 15 or ":" in key


def held_by(key: str, exceptions: Iterable[ChecksumException],
            owner: Callable[[Identifier], str | None]) -> str | None:
    """The one subject (``owner`` of a reading) holding an identifier ``key`` validly is, or
    None if nobody does. :class:`InvalidIdentifier` if the key is no valid identifier (naming
    the schemes tried), or if its two readings are held by two subjects."""
    held = {sid for i in readings(key, exceptions) if (sid := owner(i)) is not None}
    if len(held) > 1:
        raise InvalidIdentifier("identifier", key, "valid as both cn-uscc and cn-ric and names "
                                "two subjects; give the subject id, or cn-ric:VALUE")
    return held.pop() if held else None


# --- building valid identifiers (used by the synthetic population) -----------------

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check(body: str) -> str:
    """Check character of a GB 11714 organisation code (8 characters + 1)."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def make_uscc(authority: str, entity_type: str, region: str, org_body: str) -> str:
    """Build a valid USCC from its parts (org_body: 8 characters of an organisation code)."""
    body = authority + entity_type + region + org_body + org_code_check(org_body)
    return body + uscc.calc_check_digit(body)


def make_ric(region: str, birth: str, sequence: int) -> str:
    """Build a valid resident identity number (birth as YYYYMMDD, sequence 0–999)."""
    body = f"{region}{birth}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum drops the last character
