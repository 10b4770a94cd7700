"""Mobile numbers (MSISDNs) as payout methods keep them and MoMo takes them: international,
digits only, no + (233241234567). Pure: what people type in, checked and normalised, or refused
with a message that says what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

GHANA = "233"
DIGITS_MIN, DIGITS_MAX = 7, 15  # an international number (E.164) without its +
SEPARATORS = " -.()/\t"


@dataclass(frozen=True)
class Country:
    """What a country's mobile numbers look like after its code."""

    name: str
    national_digits: int  # the national significant number, without the trunk 0
    networks: dict[str, str]  # mobile prefix of the national number -> the network it was issued to


COUNTRIES: dict[str, Country] = {
    GHANA: Country(
        "Ghana",
        9,
        {
            **dict.fromkeys(("24", "25", "53", "54", "55", "59"), "mtn"),
            **dict.fromkeys(("20", "50"), "telecel"),
            **dict.fromkeys(("26", "27", "56", "57"), "airteltigo"),
            "23": "glo",
        },
    )
}


class InvalidMsisdn(ValueError):
    """A mobile number that cannot be used, with the reason in words."""


def normalize_msisdn(raw: str, country: str = GHANA) -> str:
    """`raw` as an international MSISDN of digits: "024 123 4567" -> "233241234567"; a number
    with + or 00 is taken as international, one starting with a single 0 as national in
    `country`. InvalidMsisdn for anything else."""
    text, country = raw.strip(), country.lstrip("+")
    if not text:
        raise InvalidMsisdn("a mobile number is required")
    plus = text.startswith("+")
    digits = "".join(ch for ch in text[plus:] if ch not in SEPARATORS)
    if not digits:
        raise InvalidMsisdn(f"{raw!r}: no digits")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidMsisdn(
            f"{raw!r}: only digits, spaces, dashes, dots, brackets and a leading + are allowed"
        )
    international = _international(digits, plus, country)
    if not DIGITS_MIN <= len(international) <= DIGITS_MAX or international[0] == "0":
        raise InvalidMsisdn(
            f"{raw!r}: an international number has {DIGITS_MIN} to {DIGITS_MAX} digits"
            " after its country code's +"
        )
    _check_country(raw, international)
    return international


def _international(digits: str, plus: bool, country: str) -> str:
    """The international digits of a number typed as `digits` (after a + if `plus`)."""
    if plus:
        return _without_trunk_zero(digits)
    if digits.startswith("00"):
        return _without_trunk_zero(digits[2:])
    if digits.startswith("0"):
        return country + digits[1:]
    known = COUNTRIES.get(country)
    if known is not None and len(digits) == known.national_digits:
        return country + digits
    return digits


def _without_trunk_zero(digits: str) -> str:
    """+233 (0)24 ...: the national trunk 0 some people write after a known country code."""
    for code, country in COUNTRIES.items():
        rest = digits[len(code) :]
        trunk = rest.startswith("0") and len(rest) == country.national_digits + 1
        if digits.startswith(code) and trunk:
            return code + rest[1:]
    return digits


def _check_country(raw: str, international: str) -> None:
    """InvalidMsisdn unless a number of a known country has its length and a mobile prefix."""
    for code, country in COUNTRIES.items():
        if not international.startswith(code):
            continue
        national = international[len(code) :]
        if len(national) != country.national_digits:
            raise InvalidMsisdn(
                f"{raw!r}: a number in {country.name} has {country.national_digits} digits"
                f" after 0 or +{code}, this one has {len(national)}"
            )
        if national[:2] not in country.networks:
            prefixes = ", ".join(f"0{p}" for p in sorted(country.networks))
            raise InvalidMsisdn(
                f"{raw!r}: not a mobile number in {country.name} (they start {prefixes})"
            )


def network_of(msisdn: str) -> str | None:
    """The network a normalised number's prefix was issued to (mtn, telecel, airteltigo, glo),
    or None outside the known countries. Numbers can be ported between networks: the
    provider's account-holder check is what says a number can be paid."""
    for code, country in COUNTRIES.items():
        if msisdn.startswith(code) and len(msisdn) == len(code) + country.national_digits:
            return country.networks.get(msisdn[len(code) : len(code) + 2])
    return None


def display_msisdn(msisdn: str) -> str:
    """A normalised number as people read it: "+233 24 123 4567" (others: "+" and digits)."""
    if msisdn.startswith(GHANA) and len(msisdn) == len(GHANA) + 9:
        national = msisdn[len(GHANA) :]
        return f"+{GHANA} {national[:2]} {national[2:5]} {national[5:]}"
    return f"+{msisdn}"
