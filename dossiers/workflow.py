"""The one-stop life cycle as data: which action moves a dossier from which
states to which, and which roles may take it. `services.dossier_transition`
is the only code that applies it; tests walk the whole table."""

from dataclasses import dataclass

from gisportal.accounts.models import Role

from .models import OPEN_STATUSES, Status

CITIZEN = Role.CITIZEN
DESK = Role.DESK_OFFICER
PROCESSOR = Role.PROCESSING_OFFICER
LEADER = Role.LEADER


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    label: str
    note_required: bool = False
    needs_agency: bool = False  # a transfer names the agency that takes over
    # A system may make this move on its own word (services.dossier_transition_by_system):
    # the carrier's signed report that a result was delivered by post.
    by_system: bool = False


def _t(action, sources, target, roles, label, **flags) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), label, **flags)


_WORKING = (Status.ASSIGNED, Status.SUPPLEMENTED, Status.TRANSFERRED)
_CANCELLABLE = OPEN_STATUSES - {Status.APPROVED}

TRANSITIONS: tuple[Transition, ...] = (
    _t("assign", [Status.RECEIVED], Status.ASSIGNED, [DESK], "Chuyển cơ quan xử lý / Hand over to the agency"),
    _t("start", _WORKING, Status.PROCESSING, [PROCESSOR, LEADER], "Bắt đầu xử lý / Start processing"),
    _t(
        "request_supplement",
        [Status.RECEIVED, Status.PROCESSING],
        Status.WAITING_SUPPLEMENT,
        [DESK, PROCESSOR],
        "Yêu cầu bổ sung / Ask for a supplement",
        note_required=True,
    ),
    _t(
        "supplement",
        [Status.WAITING_SUPPLEMENT],
        Status.SUPPLEMENTED,
        [CITIZEN, DESK],
        "Đã bổ sung hồ sơ / Supplement handed in",
    ),
    _t(
        "transfer",
        [Status.PROCESSING],
        Status.TRANSFERRED,
        [PROCESSOR, LEADER],
        "Chuyển cơ quan, cấp khác / Transfer to another agency or level",
        note_required=True,
        needs_agency=True,
    ),
    _t("approve", [Status.PROCESSING], Status.APPROVED, [LEADER], "Phê duyệt / Approve"),
    _t(
        "refuse",
        [Status.RECEIVED, Status.PROCESSING],
        Status.REFUSED,
        [DESK, PROCESSOR, LEADER],
        "Từ chối (nêu lý do) / Refuse (with the reason)",
        note_required=True,
    ),
    _t("mark_result_ready", [Status.APPROVED], Status.RESULT_READY, [PROCESSOR, DESK], "Có kết quả / Result ready"),
    _t(
        "return_result",
        [Status.RESULT_READY],
        Status.RESULT_RETURNED,
        [DESK],
        "Trả kết quả / Return the result",
        by_system=True,
    ),
    _t(
        "withdraw",
        _CANCELLABLE,
        Status.WITHDRAWN,
        [CITIZEN, DESK],
        "Rút hồ sơ theo đề nghị của công dân / Withdraw at the applicant's request",
    ),
    _t(
        "stop",
        _CANCELLABLE,
        Status.STOPPED,
        [LEADER],
        "Dừng xử lý / Stop handling",
        note_required=True,
    ),
)

BY_ACTION: dict[str, Transition] = {t.action: t for t in TRANSITIONS}


def transitions_from(status: str, role: str | None) -> list[Transition]:
    """The moves a caller in `role` may take from `status`."""
    return [t for t in TRANSITIONS if status in t.sources and role in t.roles]
