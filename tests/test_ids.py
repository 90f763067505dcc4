"""Identifier vectors from GB 32100-2015 / GB 11643 (the standards' check-character rules)."""

import pytest

from xinyong.ids import (
    ChecksumException,
    IdScheme,
    InvalidIdentifier,
    make_ric,
    make_uscc,
    org_code_check,
    validate,
)


@pytest.mark.parametrize("code", ["91110000600037341L", "91350100M000100Y43"])
def test_documented_usccs_are_valid(code: str) -> None:
    assert validate("cn-uscc", code).value == code


def test_uscc_separators_are_compacted() -> None:
    assert validate("cn-uscc", "9111 0000 6000 3734 1L").value == "91110000600037341L"


def test_wrong_uscc_check_names_identifier_and_expected_character() -> None:
    # same body as the documented valid code, whose check character is L
    with pytest.raises(InvalidIdentifier) as e:
        validate("cn-uscc", "91110000600037341M")
    assert e.value.expected_check == "L"
    assert "91110000600037341M" in str(e.value)
    assert "'L' was expected" in str(e.value)


def test_legacy_pilot_code_needs_an_explicit_exception() -> None:
    legacy = "91350100M0001TGQXM"  # an early Fuzhou pilot code: fails the checksum, still legal
    with pytest.raises(InvalidIdentifier):
        validate("cn-uscc", legacy)
    allowed = ChecksumException(IdScheme.USCC, legacy, "early Fuzhou pilot code", "registry")
    assert validate("cn-uscc", legacy, [allowed]).value == legacy
    # an exception for one code lets no other through
    with pytest.raises(InvalidIdentifier):
        validate("cn-uscc", "91110000600037341M", [allowed])


def test_documented_ric_is_valid_and_a_wrong_check_is_named() -> None:
    assert validate("cn-ric", "360426199101010071").value == "360426199101010071"
    with pytest.raises(InvalidIdentifier) as e:
        validate("cn-ric", "360426199101010072")
    assert e.value.expected_check == "1"


def test_ric_check_x_for_ten() -> None:
    # ISO 7064 MOD 11-2 worked by hand for 11010519491231002: weighted sum mod 11 = 2 -> 'X'
    assert validate("cn-ric", "11010519491231002X").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("scheme", "value", "fragment"),
    [
        ("cn-uscc", "9111000060003734", "16 characters"),
        ("cn-ric", "36042619910101007", "17 characters"),
        ("cn-uscc", "A1110000600037341L", "format"),
        ("passport", "C01X00T47", "ISSUER:NUMBER"),
        ("ssn", "123", "unknown identifier scheme"),
    ],
)
def test_malformed_identifiers_say_why(scheme: str, value: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentifier) as e:
        validate(scheme, value)
    assert fragment.lower() in str(e.value).lower()


def test_passport_with_issuer() -> None:
    assert validate("passport", "deu:c01x00t47").value == "DEU:C01X00T47"


def test_org_code_check_digit() -> None:
    # GB 11714 example D2143569: weights 3,7,9,10,5,8,4,2 → Σ = 13·3+2·7+1·9+4·10+3·5+5·8+6·4+9·2
    # = 39+14+9+40+15+40+24+18 = 199; 11 − 199 mod 11 = 11 − 1 = 10 → 'X'
    assert org_code_check("D2143569") == "X"


def test_built_identifiers_validate() -> None:
    assert validate("cn-uscc", make_uscc("9", "1", "110101", "MA01B2C3")).value.startswith(
        "91110101MA01B2C3"
    )
    assert validate("cn-ric", make_ric("110101", "19800101", 123)).value.startswith(
        "11010119800101123"
    )


def test_policy_carries_the_audited_exception_list(policy) -> None:  # type: ignore[no-untyped-def]
    assert policy.identifier("cn-uscc", "91350100M0001TGQXM").value == "91350100M0001TGQXM"
    with pytest.raises(InvalidIdentifier) as e:
        policy.identifier("cn-uscc", "91350100M0001TGQXL")
    assert e.value.expected_check == _documented_uscc_check("91350100M0001TGQX")


def _documented_uscc_check(body: str) -> str:
    """GB 32100-2015: 31 symbols 0-9A-Z minus I O S V Z; weights 3^i mod 31; check (31 − Σ)
    mod 31."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return alphabet[(31 - total % 31) % 31]


def test_documented_formula_agrees_on_the_valid_examples() -> None:
    assert _documented_uscc_check("91110000600037341") == "L"
    assert _documented_uscc_check("91350100M000100Y4") == "3"
