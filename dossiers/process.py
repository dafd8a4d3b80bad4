"""A procedure's own process (issue #15), declared as data.

`Procedure.process` lists the steps of the procedure, in the order of the
workflow's main path (`workflow.MAIN_PATH`): the action of each step, the
roles allowed to take it for this procedure (a subset of those the workflow
table allows) and the working days allotted to it. An empty list is the
default: the table as it stands, no step dues.

- `process_problems` checks a declaration (model `clean`, the admin, the
  import): every problem names the step and the field.
- `procedure_steps` reads a saved declaration for `workflow.may_take`
  (`selectors.dossier_actions`, `services.dossier_transition`).
- `dossier_step_plan` gives each step its internal due time: the steps run
  back to back from the legal clock's start, each due at the end of the
  working day its cumulated days reach (`dossiers.calendar`), pushed by
  supplement pauses as the legal deadline is. The legal deadline
  (`Dossier.due_at`) is never changed: the steps' days add up to at most the
  procedure's processing days.
- `process_import` replaces the declarations of the procedures a JSON or
  CSV file names, all or nothing, as the components import does."""

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from gisportal.accounts.models import Role
from gisportal.messages import message

from .calendar import WorkingCalendar, working_calendar
from .import_report import FileImportReport
from .models import Dossier, Procedure
from .workflow import BY_ACTION, MAIN_PATH, TRANSITIONS, Step

STEP_KEYS = ("action", "roles", "days")
ROLE_LABELS = dict(Role.choices)


# --- checking a declaration ---------------------------------------------------------------------


def _where(number: int, action) -> tuple[str, str]:
    named = f" ({action})" if isinstance(action, str) and action else ""
    return f"Bước {number}{named}", f"Step {number}{named}"


def process_problems(process, processing_days: int | None) -> list[str]:
    """Why `process` is not a valid declaration for a procedure of
    `processing_days` working days (an empty list when it is). Each message
    names the step (its number and action) and the field at fault."""
    if process in (None, []):
        return []
    if not isinstance(process, list):
        return [
            message(
                "Quy trình phải là danh sách các bước JSON.",
                'The process must be a JSON list of steps {"action", "roles", "days"}.',
            )
        ]
    problems: list[str] = []
    last_index, last_action, total = -1, "", 0
    for number, step in enumerate(process, start=1):
        if not isinstance(step, dict):
            vi, en = _where(number, None)
            problems.append(
                message(
                    f"{vi}: phải là đối tượng JSON có action, roles, days.",
                    f"{en}: must be a JSON object with action, roles, days.",
                )
            )
            continue
        action = step.get("action")
        vi, en = _where(number, action)
        unknown = sorted(str(key) for key in step if key not in STEP_KEYS)
        if unknown:
            problems.append(
                message(
                    f"{vi}: trường không được hỗ trợ: {', '.join(unknown)} (chỉ có action, roles, days).",
                    f"{en}: unknown fields {', '.join(unknown)} (use action, roles, days).",
                )
            )
        path = ", ".join(MAIN_PATH)
        transition = BY_ACTION.get(action) if isinstance(action, str) else None
        if not isinstance(action, str) or action not in MAIN_PATH:
            if transition is not None:
                problems.append(
                    message(
                        f"{vi}, action: {action} không phải bước của luồng chính; chọn trong: {path}.",
                        f"{en}, action: {action} is not a step of the main path; use one of: {path}.",
                    )
                )
            else:
                problems.append(
                    message(
                        f"{vi}, action: thao tác không có trong quy trình; chọn trong: {path}.",
                        f"{en}, action: unknown action; use one of: {path}.",
                    )
                )
            transition = None
        else:
            index = MAIN_PATH.index(action)
            if index <= last_index:
                problems.append(
                    message(
                        f"{vi}, action: sai thứ tự, {action} không thể đứng sau {last_action} "
                        f"(thứ tự của quy trình: {path}).",
                        f"{en}, action: out of order, {action} cannot come after {last_action} "
                        f"(the workflow's order: {path}).",
                    )
                )
            else:
                last_index, last_action = index, action
        roles = step.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            problems.append(
                message(
                    f"{vi}, roles: cần danh sách vai trò, ít nhất một.",
                    f"{en}, roles: a list of at least one role is required.",
                )
            )
        elif transition is not None:
            allowed = transition.roles
            outside = [r for r in roles if r not in allowed]
            if outside:
                table = ", ".join(sorted(allowed))
                problems.append(
                    message(
                        f"{vi}, roles: {', '.join(outside)} không được thực hiện {action} theo bảng quy trình; "
                        f"chọn trong: {table}.",
                        f"{en}, roles: {', '.join(outside)} may not take {action} in the workflow table; "
                        f"use some of: {table}.",
                    )
                )
            elif len(set(roles)) != len(roles):
                problems.append(message(f"{vi}, roles: vai trò lặp lại.", f"{en}, roles: a role is repeated."))
        days = step.get("days")
        if isinstance(days, bool) or not isinstance(days, int):
            problems.append(
                message(f"{vi}, days: cần số ngày làm việc (số nguyên).", f"{en}, days: working days (an integer).")
            )
        elif days < 0:  # 0: done the same working day as the step before
            problems.append(
                message(
                    f"{vi}, days: số ngày làm việc không được âm (đang là {days}; 0 là trong ngày).",
                    f"{en}, days: working days cannot be negative (got {days}; 0 is the same day).",
                )
            )
        else:
            total += days
    if processing_days is not None and total > processing_days:
        problems.append(
            message(
                f"days: tổng số ngày của các bước ({total}) vượt thời hạn giải quyết của thủ tục "
                f"({processing_days} ngày làm việc).",
                f"days: the steps' days add up to {total}, more than the procedure's processing time "
                f"({processing_days} working days).",
            )
        )
    return problems


# --- reading a saved declaration --------------------------------------------------------------


def steps_of(process) -> tuple[Step, ...]:
    """The steps of a declaration that was checked when saved; anything not
    of the expected shape (a row written around the checks) is skipped."""
    if not isinstance(process, list):
        return ()
    steps = []
    for item in process:
        if isinstance(item, dict) and item.get("action") in MAIN_PATH and isinstance(item.get("roles"), list):
            days = item.get("days")
            steps.append(
                Step(
                    action=item["action"],
                    roles=frozenset(str(r) for r in item["roles"]),
                    days=days if isinstance(days, int) and not isinstance(days, bool) and days >= 0 else 0,
                )
            )
    return tuple(steps)


def procedure_steps(procedure: Procedure) -> tuple[Step, ...]:
    return steps_of(procedure.process)


def steps_public(procedure: Procedure) -> list[dict]:
    """The declaration as the procedure API shows it: each step with the
    action's label and the roles' labels ("Tiếng Việt / English")."""
    return [
        {
            "action": step.action,
            "label": BY_ACTION[step.action].label,
            "roles": sorted(step.roles),
            "role_labels": [ROLE_LABELS.get(r, r) for r in sorted(step.roles)],
            "days": step.days,
        }
        for step in procedure_steps(procedure)
    ]


# --- the steps of one dossier -------------------------------------------------------------------


def _next_main_index() -> dict[str, int]:
    """For each status, the position in MAIN_PATH of the next main-path move
    a dossier there waits for; through a side move that comes back (a
    supplement, a completion) when none leaves the status itself."""
    direct: dict[str, int] = {}
    for index, action in enumerate(MAIN_PATH):
        for source in BY_ACTION[action].sources:
            direct.setdefault(source, index)
    found = dict(direct)
    for _ in range(3):
        for transition in TRANSITIONS:
            if transition.action in MAIN_PATH or transition.target not in found:
                continue
            for source in transition.sources:
                if source not in found:
                    found[source] = found[transition.target]
    return found


NEXT_MAIN_INDEX = _next_main_index()


@dataclass(frozen=True)
class StepPlan:
    number: int
    action: str
    label: str
    roles: tuple[str, ...]
    days: int
    due_at: dt.datetime | None
    done_at: dt.datetime | None = None
    current: bool = False

    @property
    def role_labels(self) -> list[str]:
        return [ROLE_LABELS.get(r, r) for r in self.roles]


def dossier_step_plan(dossier: Dossier, *, calendar: WorkingCalendar | None = None, events=None) -> list[StepPlan]:
    """The procedure's steps for this dossier with their internal due times
    (empty without a declaration). Until receipt the plan counts from the
    submission; from receipt, from the receipt as the legal deadline does.
    `events` (the dossier's, if at hand) fill each step's `done_at`; the
    current step is the one the dossier waits for now (none once closed)."""
    steps = procedure_steps(dossier.procedure)
    if not steps:
        return []
    calendar = calendar or working_calendar()
    anchor = dossier.received_at or dossier.submitted_at
    first_day = calendar.counting_day(anchor) if anchor else None
    done: dict[str, dt.datetime] = {}
    for event in events or ():
        if event.action in MAIN_PATH:
            done[event.action] = event.at
    waiting = NEXT_MAIN_INDEX.get(dossier.status)
    current_index = None
    if waiting is not None:
        current_index = next((i for i, s in enumerate(steps) if MAIN_PATH.index(s.action) >= waiting), None)
    plan = []
    # Counted on from one step's day to the next: the N-th working day after
    # the first, pushed by the working days lost to supplement pauses.
    day = calendar.add_working_days(first_day, dossier.paused_working_days) if first_day is not None else None
    for index, step in enumerate(steps):
        due = None
        if day is not None:
            day = calendar.add_working_days(day, step.days)
            due = calendar.end_of(day)
        plan.append(
            StepPlan(
                number=index + 1,
                action=step.action,
                label=BY_ACTION[step.action].label,
                roles=tuple(sorted(step.roles)),
                days=step.days,
                due_at=due,
                done_at=done.get(step.action),
                current=index == current_index,
            )
        )
    return plan


def current_step(plan: list[StepPlan]) -> StepPlan | None:
    return next((step for step in plan if step.current), None)


# --- import -------------------------------------------------------------------------------------

CSV_COLUMNS = ["procedure", "action", "roles", "days"]


@dataclass
class ProcessImportReport(FileImportReport):
    procedures: int = 0
    steps: int = 0

    def summary(self) -> str:
        return message(
            f"Quy trình của {self.procedures} thủ tục ({self.steps} bước).",
            f"Processes of {self.procedures} procedures ({self.steps} steps).",
        )


def _declarations_from_json(text: str, errors: list[str]) -> dict[str, list]:
    """`{"1.004873": [{"action", "roles", "days"}, ...], ...}`; [] clears."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        errors.append(message(f"JSON không hợp lệ: {error}.", f"Not valid JSON: {error}."))
        return {}
    if not isinstance(data, dict):
        errors.append(
            message(
                "JSON phải là đối tượng {mã thủ tục: [bước, ...]}.",
                "The JSON must be an object {procedure code: [step, ...]}.",
            )
        )
        return {}
    return {str(code): steps for code, steps in data.items()}


def _declarations_from_csv(text: str, errors: list[str]) -> dict[str, list]:
    """One row per step, in order: procedure, action, roles ('|'), days."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        errors.append(message(f"Dòng 1: thiếu cột {', '.join(missing)}.", f"Row 1: missing {', '.join(missing)}."))
        return {}
    declarations: dict[str, list] = {}
    for number, row in enumerate(reader, start=2):
        code = (row.get("procedure") or "").strip()
        raw_days = (row.get("days") or "").strip()
        try:
            days = int(raw_days)
        except ValueError:
            errors.append(message(f"Dòng {number}, cột days: số nguyên.", f"Row {number}, days: an integer."))
            continue
        roles = [r.strip() for r in (row.get("roles") or "").replace(";", "|").split("|") if r.strip()]
        declarations.setdefault(code, []).append(
            {"action": (row.get("action") or "").strip(), "roles": roles, "days": days}
        )
    return declarations


def process_import(*, path: str | Path) -> ProcessImportReport:
    """Replaces the process of every procedure a JSON or CSV file names
    (`CSV_COLUMNS`, one row per step). All or nothing: one bad step and no
    procedure changes; procedures the file does not name keep theirs."""
    report = ProcessImportReport()
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        report.errors.append(message(f"Không đọc được tệp UTF-8: {error}.", f"Cannot read a UTF-8 file: {error}."))
        return report
    is_json = path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "[")
    declarations = (_declarations_from_json if is_json else _declarations_from_csv)(text, report.errors)
    procedures = {p.code: p for p in Procedure.objects.filter(code__in=list(declarations))}
    for code, process in declarations.items():
        procedure = procedures.get(code)
        if procedure is None:
            report.errors.append(message(f"Không có thủ tục {code}.", f"No procedure {code}."))
            continue
        report.errors += [f"{code}: {problem}" for problem in process_problems(process, procedure.processing_days)]
    if report.errors:
        return report
    with transaction.atomic():
        for code, process in declarations.items():
            if procedures[code].process != process:  # loading the same file again changes nothing
                Procedure.objects.filter(pk=procedures[code].pk).update(process=process, updated_at=timezone.now())
            report.steps += len(process)
    report.procedures = len(declarations)
    return report
