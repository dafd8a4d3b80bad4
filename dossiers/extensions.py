"""What other apps add to a dossier's API answer, pages, timeline and
prints (a fee to pay, a parcel on its way), without the dossier core
importing them. Apps register in their `AppConfig.ready()`:

- a `DossierSection`: `detail` gives the value of `key` in
  `GET /api/v1/dossiers/{code}/` for a caller who may see the dossier (None
  when there is nothing to show), and `template`, if any, is included on the
  dossier page with that value as `section` (the page's context, CSRF token
  included, is there too);
- the names of the steps they record with `services.dossier_record_event`
  (`dossier_step_labels_register`), "Vietnamese / English", for the
  timeline, the public lookup and the process control slip, and who takes
  the dossier at a hand-over (`dossier_step_receivers_register`: the slip's
  "receiver" column);
- a section of the public lookup (`lookup_sections_register`): the app's
  own public facts about a dossier (status steps and dates, never names,
  phones or addresses), added to the lookup API's answer under its key and
  shown on the lookup page.

A contributor reads through its own app's selectors; it must not write.
- its share of the demo history (`demo_history_part_register`), kept here
  so that registering it does not load the generator and its libraries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .workflow import BY_ACTION


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


# --- steps other apps record ----------------------------------------------------------

# Steps of the core that are not moves of the workflow table.
_CORE_STEPS = {
    "receive": "Tiếp nhận hồ sơ / Dossier received",
    "submit": "Nộp hồ sơ trực tuyến, chờ tiếp nhận / Submitted online, waiting for receipt",
    "apologize": "Xin lỗi, hẹn lại ngày trả / Apology and new date",
    "assign_officer": "Giao cán bộ xử lý / Assigned to an officer",
    "result_attach": "Đính kèm kết quả điện tử / Electronic result attached",
}
# Who takes the dossier at a recorded step, when not a named office.
TO_APPLICANT = "applicant"
TO_DESK = "desk"

_step_labels: dict[str, str] = {}
_step_receivers: dict[str, str] = {}


def dossier_step_labels_register(labels: dict[str, str]) -> None:
    _step_labels.update(labels)


def dossier_step_label(action: str) -> str | None:
    return _step_labels.get(action)


def dossier_step_receivers_register(receivers: dict[str, str]) -> None:
    """action -> TO_APPLICANT, TO_DESK (the desk that received the dossier),
    or the name of whoever takes it ("Bưu điện / Vietnam Post")."""
    _step_receivers.update(receivers)


def dossier_step_receiver(action: str) -> str:
    return _step_receivers.get(action, "")


def step_label(action: str) -> str:
    """The "Tiếng Việt / English" name of a timeline step: a workflow move, a
    step of the core, or one another app registered; '' when unknown."""
    transition = BY_ACTION.get(action)
    if transition is not None:
        return transition.label
    return _step_labels.get(action) or _CORE_STEPS.get(action, "")


# --- the public lookup ----------------------------------------------------------------


@dataclass(frozen=True)
class LookupSection:
    """A block of the public lookup: `data` is what the lookup API answers
    under `key` (never replacing a field of the core); `template` is
    rendered on the lookup page with `section` = this object."""

    key: str
    template: str
    data: Any
    context: dict = field(default_factory=dict)


LookupContributor = Callable[[Any], LookupSection | None]  # (dossier) -> section
_lookup: list[LookupContributor] = []


def lookup_sections_register(contributor: LookupContributor) -> LookupContributor:
    if contributor not in _lookup:
        _lookup.append(contributor)
    return contributor


def lookup_sections(dossier) -> list[LookupSection]:
    return [section for contributor in tuple(_lookup) if (section := contributor(dossier)) is not None]


@dataclass(frozen=True)
class DemoHistoryPart:
    """Another app's share of the demo history (`demo_history`) (payments: fee requests and
    payments; the post: shipments), registered in its AppConfig.ready() so
    that the dossier core never imports it. Both run on the loading cursor,
    inside the history's transaction:
    - `delete(cursor)` removes the app's rows that point at demo dossiers,
      before the demo dossiers go;
    - `generate(cursor, with_events=...)` writes the app's demo rows for the
      new dossiers (and their events on the dossiers' timelines), after the
      dossiers and events are written and before the counts are rebuilt."""

    name: str
    delete: Callable
    generate: Callable
    # () -> bool: whether the demo history already has the app's rows (a
    # history loaded before the app existed has not: load_demo regenerates it).
    present: Callable[[], bool] = lambda: True


_demo_parts: dict[str, DemoHistoryPart] = {}


def demo_history_parts_present() -> bool:
    return all(part.present() for part in _demo_parts.values())


def demo_history_part_register(part: DemoHistoryPart) -> DemoHistoryPart:
    _demo_parts[part.name] = part
    return part


def demo_history_parts() -> tuple[DemoHistoryPart, ...]:
    return tuple(_demo_parts.values())
