"""Sections other apps add to a dossier's API answer and page (a fee to pay,
a parcel on its way), without the dossier core importing them.

An app registers a `DossierSection` in its `AppConfig.ready()`: `detail`
gives the value of `key` in `GET /api/v1/dossiers/{code}/` for a caller who
may see the dossier (None when there is nothing to show), and `template`,
if any, is included on the dossier page with that value as `section` (the
page's context, CSRF token included, is there too)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DossierSection:
    key: str
    detail: Callable[..., Any]  # (dossier, *, actor) -> JSON-able value or None
    template: str | None = None


_sections: dict[str, DossierSection] = {}


def dossier_section_register(section: DossierSection) -> DossierSection:
    """Registers (or replaces, however often `ready()` runs) a section."""
    _sections[section.key] = section
    return section


def dossier_sections() -> tuple[DossierSection, ...]:
    return tuple(_sections.values())


# Names of the steps other apps record (`dossier_record_event`), "Vietnamese /
# English", for the process control slip and the timeline.
_step_labels: dict[str, str] = {}


def dossier_step_labels_register(labels: dict[str, str]) -> None:
    _step_labels.update(labels)


def dossier_step_label(action: str) -> str | None:
    return _step_labels.get(action)
