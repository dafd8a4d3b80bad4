"""Citizen ID numbers (căn cước công dân, 12 digits).

Layout (Circular 59/2021/TT-BCA, Art. 7): three digits for the province of
birth registration (001-096), one for century and sex (0-9: 0/1 twentieth
century male/female, 2/3 twenty-first, ...), two for the year of birth, six
random digits."""

import re

from django.core.exceptions import ValidationError

_CITIZEN_ID = re.compile(r"\d{12}")
# Province codes of the ID scheme: 001-096 with gaps where no province is.
_PROVINCE_CODE_TABLE = (
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 "
    "037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 077 079 "
    "080 082 083 084 086 087 089 091 092 093 094 095 096"
)
_PROVINCE_CODES = frozenset(int(c) for c in _PROVINCE_CODE_TABLE.split())


def citizen_id_problem(value: str) -> tuple[str, str] | None:
    """(Vietnamese, English) description of what is wrong, or None."""
    if not _CITIZEN_ID.fullmatch(value or ""):
        return "Số CCCD phải gồm đúng 12 chữ số.", "A citizen ID number has exactly 12 digits."
    if int(value[:3]) not in _PROVINCE_CODES:
        return "Ba số đầu không phải mã tỉnh hợp lệ.", "The first three digits are not a valid province code."
    return None


def validate_citizen_id(value: str) -> None:
    problem = citizen_id_problem(value)
    if problem:
        raise ValidationError(f"{problem[0]} / {problem[1]}", code="invalid_citizen_id")
