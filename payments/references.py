"""Payment references: `LP` + 10 digits + 2 check digits (ISO 7064 MOD
97-10, as in IBANs), e.g. `LP000000012320`. Letters and digits only, so a
bank keeps them intact in a transfer's memo; the check digits catch a
mistyped reference before it matches someone else's request."""

import re

from django.db import connection

PREFIX = "LP"
_IN_MEMO = re.compile(r"LP(\d{12})")


def check_digits(number: int) -> str:
    return f"{98 - (number * 100) % 97:02d}"


def reference_for(number: int) -> str:
    return f"{PREFIX}{number:010d}{check_digits(number)}"


def reference_valid(reference: str) -> bool:
    match = re.fullmatch(r"LP(\d{10})(\d{2})", reference)
    return bool(match) and check_digits(int(match.group(1))) == match.group(2)


def reference_next() -> str:
    """A new reference from the database sequence (never reused)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('payments_reference_seq')")
        (number,) = cursor.fetchone()
    return reference_for(number)


def reference_in_memo(memo: str) -> str:
    """The first valid reference in a transfer memo, whatever the bank did to
    spacing and punctuation ("CK LP 0000000123 89 NGUYEN VAN A"); '' if none."""
    squeezed = re.sub(r"[^A-Z0-9]", "", memo.upper())
    for match in _IN_MEMO.finditer(squeezed):
        candidate = "LP" + match.group(1)
        if reference_valid(candidate):
            return candidate
    return ""
