"""The portal's bilingual message format. A module of its own, with no
imports, so that modules DRF loads from its settings (parsers, throttles)
may use it without importing `rest_framework.views` (an import cycle)."""


def message(vi: str, en: str) -> str:
    return f"{vi} / {en}"
