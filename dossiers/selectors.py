"""Reads of dossiers with the access rules: one door per question.

Who sees a dossier:
- its applicant (the citizen account that submitted it, or whose citizen ID
  a desk officer entered);
- a desk officer of the service point that received it (a post-office clerk
  is a desk officer at a post office), or of the agency that runs that desk
  when the officer has no single point;
- a processing officer or leader of the agency now handling it, or of the
  agency that owns the procedure;
- an administrator (to read; administrators make no transitions).
Missing and forbidden look the same: a 404.

Who may act on a dossier it sees (`dossier_may_act`, the one door that the
services, the API, the pages and the apology all ask): reading is one right,
acting another.
- its applicant, for the citizen moves of the workflow table;
- a desk officer of the service point that received it (or, with no point,
  of the agency handling it): the same dossiers a desk officer sees;
- a processing officer or leader of the agency now handling it
  (`dossier.agency`) only: after a transfer the agency that owns the
  procedure still reads the dossier but no longer acts on it;
- administrators read only.
Which moves (`dossier_actions`, `dossier_may_take`) is then the workflow
table for the caller's role and the dossier's status, narrowed by the
procedure's declared process (`dossiers.process`) when it has one; a caller
who sees a dossier but may not act on it gets a 409 with no allowed action,
and nothing changes."""

import datetime as dt

from django.db import router
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from gisportal.accounts.models import Agency, Role
from gisportal.accounts.selectors import Actor, actor_for
from gisportal.loaded import rows_known
from gisportal.prepared import prepared_cursor

from .models import OPEN_STATUSES, Dossier, DossierEvent, Procedure, Status
from .process import procedure_steps
from .provinces import code_scope, point_scope
from .workflow import Transition, may_take, transitions_from


def dossiers_visible_to(actor: Actor) -> QuerySet[Dossier]:
    dossiers = Dossier.objects.all()
    if actor.is_anonymous:
        return dossiers.none()
    if actor.is_administrator:
        return dossiers
    if actor.role == Role.DESK_OFFICER:
        if actor.service_point_id:
            # With the desk's province in the Citus mode: one shard group.
            return dossiers.filter(receiving_point_id=actor.service_point_id, **point_scope(actor.service_point_id))
        return dossiers.filter(agency_id=actor.agency_id)
    if actor.role in (Role.PROCESSING_OFFICER, Role.LEADER):
        # procedure_id IN (literal ids) rather than a join or a subquery, so
        # PostgreSQL ORs two index scans (either of those scanned every dossier).
        owned = list(Procedure.objects.filter(agency_id=actor.agency_id).values_list("pk", flat=True))
        return dossiers.filter(Q(agency_id=actor.agency_id) | Q(procedure_id__in=owned))
    return dossiers.filter(applicant_id=actor.user_id)


def dossier_may_act(actor: Actor, dossier: Dossier) -> bool:
    """Whether `actor` may take any move on `dossier` (that they may see).
    Desk officers act where they see (the scope of `dossiers_visible_to`);
    officials of the processing side act only for the agency handling it now."""
    if actor.is_anonymous or actor.is_administrator:
        return False
    if actor.role == Role.DESK_OFFICER:
        if actor.service_point_id:
            return dossier.receiving_point_id == actor.service_point_id
        return dossier.agency_id == actor.agency_id
    if actor.role in (Role.PROCESSING_OFFICER, Role.LEADER):
        return actor.agency_id is not None and dossier.agency_id == actor.agency_id
    if actor.role == Role.CITIZEN:
        return dossier.applicant_id == actor.user_id
    return False


def dossier_actions(actor: Actor, dossier: Dossier) -> list[Transition]:
    """The moves `actor` may take on `dossier` now: none unless they may act
    on it, else the workflow table's moves for their role from its status,
    narrowed by the procedure's declared process."""
    if not dossier_may_act(actor, dossier):
        return []
    return transitions_from(dossier.status, actor.role, procedure_steps(dossier.procedure))


def dossier_may_take(actor: Actor, dossier: Dossier, transition: Transition) -> bool:
    """Whether `actor` may take `transition` on `dossier` now: the one rule
    the services apply and `dossier_actions` lists."""
    return dossier_may_act(actor, dossier) and may_take(
        transition, dossier.status, actor.role, procedure_steps(dossier.procedure)
    )


_APOLOGY_ROLES = frozenset({Role.DESK_OFFICER, Role.PROCESSING_OFFICER, Role.LEADER})


def dossier_may_apologize(actor: Actor, dossier: Dossier, *, at: dt.datetime) -> bool:
    """Circular 01/2018 form 4: an official who may act on an open dossier
    past its due date writes the apology and the new date."""
    return (
        actor.role in _APOLOGY_ROLES
        and dossier_may_act(actor, dossier)
        and dossier.status in OPEN_STATUSES
        and dossier.is_late_at(at)
    )


def dossier_get_for_user(*, user, code: str, for_update: bool = False) -> Dossier:
    """The dossier `code` if `user` may see it; Dossier.DoesNotExist otherwise."""
    dossiers = dossiers_visible_to(actor_for(user))
    if for_update:
        # Lock only the dossier row, not the joined procedure.
        dossiers = dossiers.select_for_update(of=("self",))
    return dossiers.select_related("procedure", "receiving_point", "agency").get(code=code, **code_scope(code))


def worklist(*, user, status: str | None = None, due: str | None = None, now: dt.datetime | None = None):
    """Dossiers a caller works on (or, for a citizen, their own), newest
    first; for a desk officer the online dossiers waiting for receipt at
    their desk come before everything else, the longest waiting first.
    `due`: "late" (open and past due), "soon" (open, due within three days
    and not yet late)."""
    now = now or timezone.now()
    actor = actor_for(user)
    dossiers = dossiers_visible_to(actor).select_related("procedure", "receiving_point", "agency")
    if status:
        dossiers = dossiers.filter(status=status)
    if due == "late":
        dossiers = dossiers.filter(status__in=OPEN_STATUSES, due_at__lt=now)
    elif due == "soon":
        dossiers = dossiers.filter(status__in=OPEN_STATUSES, due_at__gte=now, due_at__lt=now + dt.timedelta(days=3))
    if due:
        return dossiers.order_by("due_at", "id")
    if actor.role == Role.DESK_OFFICER:
        return dossiers.order_by(*waiting_first(), F("received_at").desc(nulls_last=True), "id")
    return dossiers.order_by(F("received_at").desc(nulls_first=True), "-submitted_at", "id")


def waiting_first() -> tuple:
    """Order expressions putting the dossiers waiting for receipt before the
    others, the longest waiting first."""
    waiting = Q(status=Status.WAITING_RECEIPT)
    return (
        Case(When(waiting, then=Value(0)), default=Value(1), output_field=IntegerField()).asc(),
        Case(When(waiting, then=F("submitted_at")), default=None).asc(nulls_last=True),
    )


def dossier_get_by_id(*, dossier_id: int) -> Dossier:
    """A dossier by id, with what messages about it name (procedure, points,
    agency), for parts of the portal that act on the dossier's own events
    (`dossiers.events` subscribers), never on a caller's request: a caller's
    access goes through `dossier_get_for_user`."""
    return Dossier.objects.select_related("procedure", "receiving_point", "agency", "applicant").get(pk=dossier_id)


# What the public look-up shows of a dossier (`dossiers.lookup.public_view`):
# the dossier's own columns, then its procedure, agency and receiving point.
# In the model's order of fields, as Model.from_db takes them.
_PUBLIC_COLUMNS = tuple(
    field.attname
    for field in Dossier._meta.concrete_fields
    if field.attname
    in {
        "id",
        "code",
        "province_code",
        "procedure_id",
        "agency_id",
        "receiving_point_id",
        "channel",
        "status",
        "timeliness",
        "submitted_at",
        "received_at",
        "due_at",
        "appointment_at",
        "finished_at",
        "returned_at",
    }
)
_PUBLIC_EVENT_COLUMNS = ("id", "dossier_id", "action", "from_status", "to_status", "at")  # the model's order
_PUBLIC_SQL = (
    "SELECT "
    + ", ".join(f"d.{column}" for column in _PUBLIC_COLUMNS)
    + """, p.code, p.name, a.code, a.name, sp.code, sp.name
FROM dossiers_dossier d
JOIN dossiers_procedure p ON p.id = d.procedure_id
JOIN accounts_agency a ON a.id = d.agency_id
JOIN layers_servicepoint sp ON sp.id = d.receiving_point_id
WHERE d.code = %s{scope}
ORDER BY d.id
LIMIT 1"""
)
_PUBLIC_EVENTS_SQL = (
    "SELECT "
    + ", ".join(_PUBLIC_EVENT_COLUMNS)
    + " FROM dossiers_dossierevent WHERE dossier_id = %s{scope} ORDER BY at, id"
)


def dossier_public_read(*, code: str) -> Dossier | None:
    """`dossier_public_lookup` for the public look-up's API and page, in two
    plain statements (the dossier with its procedure, agency and point; its
    events): the ORM's compiling of the five-table join, the prefetch and
    the building of every column of five models took most of the look-up's
    time, PostgreSQL 1.5 ms of 12-16. The dossier comes back with only what
    the look-up shows loaded (its other fields are deferred: reading one
    queries it, as after `only()`), its procedure, agency and receiving
    point holding their code and name, and its events in
    `dossier.events.all()` (ordered as the model orders them). Both are
    prepared once a connection (`prepared_cursor`): planning the join was
    most of PostgreSQL's share of a look-up."""
    scope = code_scope(code)
    scope_sql = " AND d.province_code = %s" if scope else ""
    db = router.db_for_read(Dossier)
    with prepared_cursor(using=db) as cursor:
        cursor.execute(_PUBLIC_SQL.format(scope=scope_sql), [code, *scope.values()])
        row = cursor.fetchone()
        if row is None:
            return None
        width = len(_PUBLIC_COLUMNS)
        dossier = Dossier.from_db(db, _PUBLIC_COLUMNS, row[:width])
        procedure_code, procedure_name, agency_code, agency_name, point_code, point_name = row[width:]
        cursor.execute(
            _PUBLIC_EVENTS_SQL.format(scope=" AND province_code = %s" if scope else ""),
            [dossier.pk, *scope.values()],
        )
        event_rows = cursor.fetchall()
    from layers.models import ServicePoint  # dossiers.models refers to it by name as well

    cache = dossier._state.fields_cache
    cache["procedure"] = Procedure.from_db(
        db, ("id", "code", "name"), (dossier.procedure_id, procedure_code, procedure_name)
    )
    cache["agency"] = Agency.from_db(db, ("id", "code", "name"), (dossier.agency_id, agency_code, agency_name))
    cache["receiving_point"] = ServicePoint.from_db(
        db, ("id", "code", "name"), (dossier.receiving_point_id, point_code, point_name)
    )
    events = [DossierEvent.from_db(db, _PUBLIC_EVENT_COLUMNS, event) for event in event_rows]
    for event in events:
        event._state.fields_cache["dossier"] = dossier
    rows_known(dossier, events=events)  # dossier.events.all() answers from this list
    return dossier


def dossier_public_lookup(*, code: str) -> Dossier | None:
    """A dossier by its code, whole, through the ORM: the chatbot's linking
    (it reads the applicant's phone) and the reference `dossier_public_read`
    is compared with. Showing the public view: `dossier_public_read`."""
    return (
        Dossier.objects.select_related("procedure", "procedure__agency", "receiving_point", "agency")
        .prefetch_related("events")
        .filter(code=code, **code_scope(code))
        .first()
    )
