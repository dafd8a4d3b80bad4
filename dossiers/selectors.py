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
Missing and forbidden look the same: a 404."""

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from gisportal.accounts.models import Role
from gisportal.accounts.selectors import Actor, actor_for

from .models import OPEN_STATUSES, Dossier, Procedure


def dossiers_visible_to(actor: Actor) -> QuerySet[Dossier]:
    dossiers = Dossier.objects.all()
    if actor.is_anonymous:
        return dossiers.none()
    if actor.is_administrator:
        return dossiers
    if actor.role == Role.DESK_OFFICER:
        scope = Q(receiving_point_id=actor.service_point_id) if actor.service_point_id else Q(agency_id=actor.agency_id)
        return dossiers.filter(scope)
    if actor.role in (Role.PROCESSING_OFFICER, Role.LEADER):
        # procedure_id IN (literal ids) rather than a join or a subquery, so
        # PostgreSQL ORs two index scans (either of those scanned every dossier).
        owned = list(Procedure.objects.filter(agency_id=actor.agency_id).values_list("pk", flat=True))
        return dossiers.filter(Q(agency_id=actor.agency_id) | Q(procedure_id__in=owned))
    return dossiers.filter(applicant_id=actor.user_id)


def dossier_get_for_user(*, user, code: str, for_update: bool = False) -> Dossier:
    """The dossier `code` if `user` may see it; Dossier.DoesNotExist otherwise."""
    dossiers = dossiers_visible_to(actor_for(user))
    if for_update:
        # Lock only the dossier row, not the joined procedure.
        dossiers = dossiers.select_for_update(of=("self",))
    return dossiers.select_related("procedure", "receiving_point", "agency").get(code=code)


def worklist(*, user, status: str | None = None, due: str | None = None, now: dt.datetime | None = None):
    """Dossiers a caller works on (or, for a citizen, their own), newest
    first. `due`: "late" (open and past due), "soon" (open, due within three
    days and not yet late)."""
    now = now or timezone.now()
    dossiers = dossiers_visible_to(actor_for(user)).select_related("procedure", "receiving_point", "agency")
    if status:
        dossiers = dossiers.filter(status=status)
    if due == "late":
        dossiers = dossiers.filter(status__in=OPEN_STATUSES, due_at__lt=now)
    elif due == "soon":
        dossiers = dossiers.filter(status__in=OPEN_STATUSES, due_at__gte=now, due_at__lt=now + dt.timedelta(days=3))
    return dossiers.order_by("due_at" if due else "-received_at", "id")


def dossier_public_lookup(*, code: str) -> Dossier | None:
    """A dossier by its code for the public lookup: callers show only
    non-personal fields (procedure, status, dates, steps)."""
    return (
        Dossier.objects.select_related("procedure", "procedure__agency", "receiving_point", "agency")
        .prefetch_related("events")
        .filter(code=code)
        .first()
    )
