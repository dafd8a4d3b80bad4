"""The one-stop life cycle as data: which action moves a dossier from which
states to which, and which roles may take it. `services.dossier_transition`
is the only code that applies it; tests walk the whole table."""

from dataclasses import dataclass

from gisportal.accounts.models import Role

from .models import OPEN_STATUSES, PRE_RECEIPT_STATUSES, Status

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
    # Narrower roles from some sources: (source, roles) pairs. Before receipt
    # only the desk refuses; the agency has not seen the dossier yet.
    roles_from: tuple[tuple[str, frozenset[str]], ...] = ()

    def roles_at(self, status: str) -> frozenset[str]:
        """The roles that may take this move from `status`."""
        for source, roles in self.roles_from:
            if source == status:
                return roles
        return self.roles

    def permits(self, status: str, role: str | None) -> bool:
        return status in self.sources and role in self.roles_at(status)


def _t(action, sources, target, roles, label, **flags) -> Transition:
    if "roles_from" in flags:
        flags["roles_from"] = tuple((source, frozenset(r)) for source, r in flags["roles_from"].items())
    return Transition(action, frozenset(sources), target, frozenset(roles), label, **flags)


_WORKING = (Status.ASSIGNED, Status.SUPPLEMENTED, Status.TRANSFERRED)
_CANCELLABLE = OPEN_STATUSES - {Status.APPROVED}

TRANSITIONS: tuple[Transition, ...] = (
    # An online submission waits for a desk officer of the service point it
    # was sent to: receive it (receipt time and deadline start now), ask for
    # it to be completed, or refuse it. Desk submissions are received at once.
    _t("receive", [Status.WAITING_RECEIPT], Status.RECEIVED, [DESK], "Tiếp nhận hồ sơ / Receive the dossier"),
    _t(
        "request_completion",
        [Status.WAITING_RECEIPT],
        Status.WAITING_COMPLETION,
        [DESK],
        "Yêu cầu bổ sung, hoàn thiện trước khi tiếp nhận / Ask to complete before receipt",
        note_required=True,
    ),
    _t(
        "complete",
        [Status.WAITING_COMPLETION],
        Status.WAITING_RECEIPT,
        [CITIZEN],
        "Đã bổ sung, hoàn thiện hồ sơ / Completed, back to the desk",
    ),
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
        [Status.WAITING_RECEIPT, Status.RECEIVED, Status.PROCESSING],
        Status.REFUSED,
        [DESK, PROCESSOR, LEADER],
        "Từ chối (nêu lý do) / Refuse (with the reason)",
        note_required=True,
        roles_from={Status.WAITING_RECEIPT: [DESK]},
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
        _CANCELLABLE - PRE_RECEIPT_STATUSES,
        Status.STOPPED,
        [LEADER],
        "Dừng xử lý / Stop handling",
        note_required=True,
    ),
)

BY_ACTION: dict[str, Transition] = {t.action: t for t in TRANSITIONS}


def transitions_from(status: str, role: str | None, steps: tuple["Step", ...] = ()) -> list[Transition]:
    """The moves a caller in `role` may take from `status`, narrowed by the
    procedure's declared `steps` when it has some (`may_take`)."""
    return [t for t in TRANSITIONS if may_take(t, status, role, steps)]


# --- a procedure's own process (issue #15) ---------------------------------------------------

# The main path of a dossier, in order: each action's target is a source of
# the next. A procedure may declare its own process over these actions
# (`dossiers.process`): which steps it names, who takes each (a subset of the
# table's roles) and the working days allotted to it. The side moves
# (supplements, transfer, refusal, withdrawal, stop) keep the table's roles.
MAIN_PATH: tuple[str, ...] = ("receive", "assign", "start", "approve", "mark_result_ready", "return_result")


@dataclass(frozen=True)
class Step:
    """One step of a procedure's declared process."""

    action: str
    roles: frozenset[str]
    days: int


def step_for(steps: tuple[Step, ...], action: str) -> Step | None:
    for step in steps:
        if step.action == action:
            return step
    return None


def may_take(transition: Transition, status: str, role: str | None, steps: tuple[Step, ...] = ()) -> bool:
    """The table's rule, narrowed by the procedure's declared steps: a step
    the procedure declares may be taken only by the roles it names."""
    if not transition.permits(status, role):
        return False
    step = step_for(steps, transition.action)
    return step is None or role in step.roles
