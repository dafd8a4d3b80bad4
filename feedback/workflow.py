"""The life of a feedback report as data: which action moves it from which
statuses to which, and who may take it. `services.feedback_transition` is
the only code that applies it; the tests walk the whole table.

Roles: processing officers and leaders of the agency the report is routed
to act on it (leaders alone publish an answer); the citizen who reported it
(signed in) gives the information asked for and closes a published report.
Desk officers read their agency's reports; administrators read all; neither
acts.

| action | from | to | who |
|---|---|---|---|
| accept | received | in_progress | processing officer, leader |
| refuse (note: the reason, public) | received | refused | processing officer, leader |
| request_info (note: the question, public) | received, in_progress | needs_info | processing officer, leader |
| provide_info (note) | needs_info | in_progress | the reporter, processing officer, leader |
| transfer (note, agency) | received, in_progress | received (at the other agency) | processing officer, leader |
| answer (note: the answer) | in_progress | answered | processing officer, leader |
| publish (public_text optional) | answered | published | leader |
| close | published | closed | the reporter, leader |
"""

from dossiers.workflow import Transition
from gisportal.accounts.models import Role

from .models import Status

REPORTER = Role.CITIZEN
PROCESSOR = Role.PROCESSING_OFFICER
LEADER = Role.LEADER


def _t(action, sources, target, roles, label, **flags) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), label, **flags)


TRANSITIONS: tuple[Transition, ...] = (
    _t("accept", [Status.RECEIVED], Status.IN_PROGRESS, [PROCESSOR, LEADER], "Tiếp nhận xử lý / Accept"),
    _t(
        "refuse",
        [Status.RECEIVED],
        Status.REFUSED,
        [PROCESSOR, LEADER],
        "Từ chối (nêu lý do) / Refuse (with the reason)",
        note_required=True,
    ),
    _t(
        "request_info",
        [Status.RECEIVED, Status.IN_PROGRESS],
        Status.NEEDS_INFO,
        [PROCESSOR, LEADER],
        "Đề nghị bổ sung thông tin / Ask for more information",
        note_required=True,
    ),
    _t(
        "provide_info",
        [Status.NEEDS_INFO],
        Status.IN_PROGRESS,
        [REPORTER, PROCESSOR, LEADER],
        "Bổ sung thông tin / Information given",
        note_required=True,
    ),
    _t(
        "transfer",
        [Status.RECEIVED, Status.IN_PROGRESS],
        Status.RECEIVED,
        [PROCESSOR, LEADER],
        "Chuyển cơ quan có thẩm quyền / Transfer to the competent agency",
        note_required=True,
        needs_agency=True,
    ),
    _t(
        "answer",
        [Status.IN_PROGRESS],
        Status.ANSWERED,
        [PROCESSOR, LEADER],
        "Trả lời / Answer",
        note_required=True,
    ),
    _t("publish", [Status.ANSWERED], Status.PUBLISHED, [LEADER], "Công khai trả lời / Publish the answer"),
    _t("close", [Status.PUBLISHED], Status.CLOSED, [REPORTER, LEADER], "Đóng / Close"),
)

BY_ACTION: dict[str, Transition] = {t.action: t for t in TRANSITIONS}


def transitions_from(status: str, role: str | None) -> list[Transition]:
    """The moves a caller in `role` may take from `status`."""
    return [t for t in TRANSITIONS if status in t.sources and role in t.roles]
