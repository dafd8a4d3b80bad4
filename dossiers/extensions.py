"""What other apps add to the dossier core's timeline, pages and prints,
without the core importing them (DESIGN.md: dependencies point one way).
Apps register in their `AppConfig.ready()`:

- the steps they record with `services.dossier_record_event`
  (`recorded_steps_register`): the label the timeline, the public lookup and
  the process control slip print, and who takes the dossier at that step
  (the slip's "receiver" column: a hand-over names its receiver);
- a section of the public lookup (`lookup_sections_register`): the app's
  own public facts about a dossier (status steps and dates, never names,
  phones or addresses), added to the lookup API's answer under its key and
  shown on the lookup page;
- a section of the dossier page (`page_sections_register`), shown to those
  who may see the dossier, with the app's own buttons;
- a demo loader (`demo_loaders_register`): `load_demo` runs it after the
  dossier history, to add the app's own demo rows (it must be idempotent).

A contributor reads through its own app's selectors; it must not write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .workflow import BY_ACTION

# Steps of the core that are not moves of the workflow table.
_CORE_STEPS = {
    "receive": "Tiếp nhận hồ sơ / Dossier received",
    "apologize": "Xin lỗi, hẹn lại ngày trả / Apology and new date",
}

# Who takes the dossier at a recorded step, when not a named office.
TO_APPLICANT = "applicant"
TO_DESK = "desk"


@dataclass(frozen=True)
class RecordedStep:
    action: str
    label: str  # "Tiếng Việt / English"
    # TO_APPLICANT, TO_DESK (the desk that received the dossier), or the
    # name of whoever takes it ("Bưu điện / Vietnam Post"); empty: nobody new.
    hands_to: str = ""


@dataclass(frozen=True)
class Section:
    """A block an app adds to a page: `template` is rendered with `context`
    (plus `section` = this object); `data` is what the lookup API answers
    under `key` (None on the dossier page)."""

    key: str
    template: str
    context: dict = field(default_factory=dict)
    data: Any = None


LookupContributor = Callable[[Any], Section | None]  # (dossier) -> section
PageContributor = Callable[[Any, Any, Any], Section | None]  # (request, dossier, actor) -> section

_steps: dict[str, RecordedStep] = {}
_lookup: list[LookupContributor] = []
_page: list[PageContributor] = []
_demo: list[Callable[[], object]] = []


def recorded_steps_register(*steps: RecordedStep) -> None:
    for step in steps:
        _steps[step.action] = step


def recorded_step(action: str) -> RecordedStep | None:
    return _steps.get(action)


def step_label(action: str) -> str:
    """The "Tiếng Việt / English" name of a timeline step: a workflow move, a
    step of the core, or one another app registered; '' when unknown."""
    transition = BY_ACTION.get(action)
    if transition is not None:
        return transition.label
    recorded = _steps.get(action)
    return recorded.label if recorded is not None else _CORE_STEPS.get(action, "")


def lookup_sections_register(contributor: LookupContributor) -> LookupContributor:
    if contributor not in _lookup:
        _lookup.append(contributor)
    return contributor


def page_sections_register(contributor: PageContributor) -> PageContributor:
    if contributor not in _page:
        _page.append(contributor)
    return contributor


def lookup_sections(dossier) -> list[Section]:
    return [section for contributor in tuple(_lookup) if (section := contributor(dossier)) is not None]


def page_sections(request, dossier, actor) -> list[Section]:
    return [section for contributor in tuple(_page) if (section := contributor(request, dossier, actor)) is not None]


def demo_loaders_register(loader: Callable[[], object]) -> Callable[[], object]:
    if loader not in _demo:
        _demo.append(loader)
    return loader


def demo_loaders() -> list[Callable[[], object]]:
    return list(_demo)
