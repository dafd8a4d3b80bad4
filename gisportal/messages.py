"""The portal's bilingual message format. A module of its own, with no
imports, so that modules DRF loads from its settings (parsers, throttles)
may use it without importing `rest_framework.views` (an import cycle)."""


def message(vi: str, en: str) -> str:
    return f"{vi} / {en}"


def in_language(label: str, language: str | None = None) -> str:
    """The half of a "Tiếng Việt / English" label in `language` (by default
    the active one); the Vietnamese half when the English one is empty, the
    whole text when it has no halves."""
    if language is None:
        from django.utils.translation import get_language  # here: this module imports nothing at load

        language = get_language() or "vi"
    vietnamese, _, english = str(label).partition(" / ")
    return english if language.startswith("en") and english else vietnamese
