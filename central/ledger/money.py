"""Money as integer minor units of a currency: currencies, parsing, formatting, exact splits."""

from __future__ import annotations

import re
from collections.abc import Sequence

from central.ledger.errors import InvalidTransfer

DEFAULT_CURRENCY = "GHS"
# ISO 4217 minor-unit exponents of the currencies the ledger accepts (1 GHS = 100 pesewas).
CURRENCY_EXPONENTS = {
    "GHS": 2,
    "NGN": 2,
    "KES": 2,
    "ZAR": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "XOF": 0,
}
AMOUNT_MINOR_MAX = 10**15  # one leg; 10 trillion GHS, far below BigInteger overflow when summed
SPLIT_PARTS_MAX = 1_000_000  # a blanket month shares a pool over every play: ~15,000 a station
_DECIMAL = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")


def check_currency(currency: str) -> None:
    """Raise InvalidTransfer unless `currency` is one the ledger keeps."""
    if currency not in CURRENCY_EXPONENTS:
        known = ", ".join(sorted(CURRENCY_EXPONENTS))
        raise InvalidTransfer(f"currency {currency!r}: not one of {known}")


def format_minor(amount_minor: int, currency: str) -> str:
    """'GHS 12.50' for 1250 pesewas; 'GHS -0.05' for -5."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    units, minor = divmod(abs(amount_minor), 10**exponent)
    fraction = f".{minor:0{exponent}d}" if exponent else ""
    return f"{currency} {sign}{units:,}{fraction}"


def parse_minor(text: str, currency: str) -> int:
    """Minor units from '12.50' (GHS: 1250); more decimals than the currency has is an error."""
    check_currency(currency)
    exponent = CURRENCY_EXPONENTS[currency]
    match = _DECIMAL.match(text.strip().replace(",", ""))
    if not match or len(match.group(3) or "") > exponent:
        raise InvalidTransfer(
            f"amount {text!r}: not a {currency} amount with <= {exponent} decimals"
        )
    sign, units, fraction = match.group(1), match.group(2), match.group(3) or ""
    value = int(units) * 10**exponent + int(fraction.ljust(exponent, "0") or 0)
    return -value if sign else value


def split_minor(total_minor: int, weights: Sequence[int]) -> list[int]:
    """`total_minor` split in proportion to integer `weights`, summing exactly to the total.

    Largest remainder: each part gets floor(total * w / W), and the pesewas left over go one
    each to the parts with the largest remainders, ties to the earlier part, so the result does
    not depend on anything but its inputs. 100 split 1:1:1 is [34, 33, 33].
    """
    if total_minor < 0 or not 1 <= len(weights) <= SPLIT_PARTS_MAX:
        raise ValueError(f"split of {total_minor} into {len(weights)} parts")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"split weights must be >= 0 with a positive sum: {list(weights)}")
    weight_total = sum(weights)
    parts = [total_minor * w // weight_total for w in weights]
    remainders = [total_minor * w % weight_total for w in weights]
    left_over = total_minor - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left_over]:
        parts[i] += 1
    return parts
