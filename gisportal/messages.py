"""The portal's bilingual message format. A module of its own, with no
imports, so that modules DRF loads from its settings (parsers, throttles)
may use it without importing `rest_framework.views` (an import cycle)."""


def message(vi: str, en: str) -> str:
    return f"{vi} / {en}"


def in_language(label: str) -> str:
    """The half of a "Tiếng Việt / English" label in the active language
    (the whole text when it has no halves)."""
    from django.utils.translation import get_language  # here: this module imports nothing at load

    vietnamese, separator, english = str(label).partition(" / ")
    if not separator:
        return str(label)
    return english if (get_language() or "vi").startswith("en") else vietnamese
