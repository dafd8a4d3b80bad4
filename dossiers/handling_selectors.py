"""Reads of the steps after submission (issue #15): who may assign a dossier
to an officer and to whom, an officer's own queue, who may attach and who
may download the electronic result, and what a supplement changed.

Access goes through the one door of `selectors` (`dossiers_visible_to`,
`dossier_may_act`); these only narrow it."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from gisportal.accounts.models import Role
from gisportal.accounts.selectors import Actor, actor_for

from .models import OPEN_STATUSES, PRE_RECEIPT_STATUSES, Attachment, Dossier, DossierEvent, ResultDocument, Status
from .selectors import dossier_may_act, dossier_may_take, dossiers_visible_to
from .workflow import BY_ACTION

# Who assigns a dossier to an officer, and who may be named.
ASSIGNER_ROLES = frozenset({Role.LEADER, Role.DESK_OFFICER})
ASSIGNEE_ROLES = frozenset({Role.PROCESSING_OFFICER, Role.LEADER})


def dossier_may_assign(actor: Actor, dossier: Dossier) -> bool:
    """A leader or desk officer who may act on the dossier (`dossier_may_act`),
    while it is open."""
    return (
        actor.role in ASSIGNER_ROLES
        and dossier.status in OPEN_STATUSES - PRE_RECEIPT_STATUSES
        and dossier_may_act(actor, dossier)
    )


def officers_assignable(*, dossier: Dossier) -> QuerySet:
    """The active processing officers and leaders of the agency now handling
    `dossier`, by name."""
    return (
        get_user_model()
        .objects.filter(is_active=True, profile__agency_id=dossier.agency_id, profile__role__in=ASSIGNEE_ROLES)
        .select_related("profile")
        .order_by("profile__full_name", "username")
    )


def dossiers_assigned_to_me(*, user) -> QuerySet[Dossier]:
    """The caller's own queue: open dossiers assigned to them that they may
    see, the nearest due first."""
    actor = actor_for(user)
    return (
        dossiers_visible_to(actor)
        .filter(assigned_to_id=actor.user_id, status__in=OPEN_STATUSES)
        .select_related("procedure", "receiving_point", "agency")
        .order_by("due_at", "id")
    )


# --- the electronic result ------------------------------------------------------------

RESULT_ATTACH_STATUSES = frozenset({Status.PROCESSING})


def dossier_may_attach_result(actor: Actor, dossier: Dossier) -> bool:
    """A processing officer who may act on the dossier, while it is being
    processed (before the leader approves)."""
    return (
        actor.role == Role.PROCESSING_OFFICER
        and dossier.status in RESULT_ATTACH_STATUSES
        and dossier_may_act(actor, dossier)
    )


def result_document_for(actor: Actor, dossier: Dossier) -> ResultDocument | None:
    """The result document `actor` (who sees `dossier`) may read: officials,
    the newest one (the leader reads it to approve it); the applicant, the
    newest approved one once the result has been returned, else None."""
    documents = dossier.result_documents.select_related("uploaded_by", "approved_by").order_by("-uploaded_at", "-id")
    if actor.is_official:
        return documents.first()
    if dossier.status != Status.RESULT_RETURNED or dossier.applicant_id != actor.user_id:
        return None
    return documents.filter(approved_at__isnull=False).first()


# --- supplements with files -------------------------------------------------------------


def supplement_move(dossier: Dossier):
    """The move that hands in files answering a request: `supplement` after
    receipt (the agency's request), `complete` before it (the desk asked the
    online applicant to complete the dossier; it then waits for receipt again)."""
    complete = BY_ACTION["complete"]
    return complete if dossier.status in complete.sources else BY_ACTION["supplement"]


def dossier_may_supplement(actor: Actor, dossier: Dossier) -> bool:
    """Whoever the workflow table lets hand in the supplement (the applicant,
    the desk; before receipt the applicant) while the dossier waits for it,
    if they may act on it."""
    move = supplement_move(dossier)
    return dossier_may_take(actor, dossier, move)


# Before receipt the desk's request to complete plays the same part.
_REQUESTS = frozenset({"request_supplement", "request_completion"})
_ANSWERS = frozenset({"supplement", "complete"})


def supplement_changes(dossier: Dossier, *, events: list[DossierEvent]) -> dict | None:
    """What changed since the last supplement request: the request (event),
    the files added answering it, and the supplement event once handed in.
    None when no supplement was ever asked. `events`: all the dossier's, in
    their order (at, id), as the dossier's answer has them at hand."""
    request = max((e for e in events if e.action in _REQUESTS), key=lambda e: (e.at, e.pk), default=None)
    if request is None:  # never asked, or a history loaded without its events
        return None
    answer = min(
        (e for e in events if e.action in _ANSWERS and e.at >= request.at), key=lambda e: (e.at, e.pk), default=None
    )
    files = Attachment.objects.filter(
        dossier=dossier, supplement_round=dossier.supplement_count, uploaded_at__gte=request.at
    ).order_by("id")
    return {"request": request, "answer": answer, "files": list(files)}
