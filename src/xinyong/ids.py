"""Identifiers: Unified Social Credit Code, resident identity number, passport.

Validation is python-stdnum's. Checksum failures name the identifier and the
check character that was expected; the only way past a failed checksum is an
explicit, audited exception list (early pilot codes that are still legal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
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
