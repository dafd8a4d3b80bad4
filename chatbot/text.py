"""Vietnamese as people type it in a chat: with or without accents, any case."""

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case without diacritics, spaces collapsed, like PostgreSQL's
    `unaccent(lower(...))`: "Tra cứu HỒ SƠ" and "tra cuu ho so" fold alike.
    Đ/đ (a letter of its own, not a d with a mark) folds to d."""
    text = (text or "").replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", plain.lower()).strip()


def has_phrase(folded: str, phrases: tuple[str, ...]) -> bool:
    """Whether `folded` contains one of `phrases` as whole words."""
    padded = f" {re.sub(r'[^a-z0-9.-]+', ' ', folded)} "
    return any(f" {phrase} " in padded for phrase in phrases)
