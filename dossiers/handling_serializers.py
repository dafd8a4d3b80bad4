"""What the dossier's API answer and page show of the steps after
submission (issue #15): the officer it is assigned to, and whom the caller
may assign it to; the electronic result and its approval; what a
supplement changed since it was asked."""

from django.urls import reverse
from django.utils import timezone

from gisportal.accounts.selectors import Actor, user_display_name

from .handling_selectors import (
    dossier_may_assign,
    dossier_may_attach_result,
    dossier_may_supplement,
    officers_assignable,
    result_document_for,
    supplement_changes,
)
from .models import Dossier, ResultDocument


def iso_local(value) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def officer_ref(user) -> dict | None:
    if user is None:
        return None
    return {"username": user.username, "name": user_display_name(user)}


def assignment_detail(dossier: Dossier, *, actor: Actor) -> dict:
    """`assigned_to` and `assigned_at`; `assignable_officers` only for a
    caller who may assign (empty otherwise)."""
    may_assign = dossier_may_assign(actor, dossier)
    return {
        "assigned_to": officer_ref(dossier.assigned_to),
        "assigned_at": iso_local(dossier.assigned_at),
        "may_assign": may_assign,
        "assignable_officers": [officer_ref(user) for user in officers_assignable(dossier=dossier)]
        if may_assign
        else [],
    }


def result_ref(document: ResultDocument, *, code: str) -> dict:
    return {
        "name": document.original_name,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "uploaded_at": iso_local(document.uploaded_at),
        "approved": document.approved_at is not None,
        "approved_by": document.approved_by_name or None,
        "approved_at": iso_local(document.approved_at),
        "approved_sha256": document.approved_sha256 or None,
        "url": reverse("api-dossier-result", args=[code]),
    }


def result_detail(dossier: Dossier, *, actor: Actor) -> dict:
    """`document`: the result the caller may download now (None before the
    applicant may); `may_attach`: whether the caller may attach one now."""
    document = result_document_for(actor, dossier)
    return {
        "document": result_ref(document, code=dossier.code) if document is not None else None,
        "may_attach": dossier_may_attach_result(actor, dossier),
    }


def supplement_detail(dossier: Dossier, *, actor: Actor, events: list) -> dict:
    """`may_upload`: whether the caller may hand in a supplement with files
    now; `since_request`: the last request (when, by whom, what was asked),
    the files added answering it, and when it was handed in (None if never
    asked)."""
    changes = supplement_changes(dossier, events=events)
    since = None
    if changes is not None:
        request, answer = changes["request"], changes["answer"]
        since = {
            "round": dossier.supplement_count,
            "requested_at": iso_local(request.at),
            "requested_by": request.actor_name,
            "request_note": request.note,
            "supplemented_at": iso_local(answer.at) if answer else None,
            "supplemented_by": answer.actor_name if answer else None,
            "supplement_note": answer.note if answer else None,
            "files_added": [
                {
                    "id": a.pk,
                    "name": a.original_name,
                    "content_type": a.content_type,
                    "size": a.size,
                    "uploaded_at": iso_local(a.uploaded_at),
                    "url": reverse("api-dossier-attachment", args=[dossier.code, a.pk]),
                }
                for a in changes["files"]
            ],
        }
    return {"may_upload": dossier_may_supplement(actor, dossier), "since_request": since}


def handling_detail(dossier: Dossier, *, actor: Actor, events: list) -> dict:
    """The keys `dossier_detail` adds for the steps after submission
    (`events`: the dossier's, which it has read)."""
    return {
        "assignment": assignment_detail(dossier, actor=actor),
        "result": result_detail(dossier, actor=actor),
        "supplement": supplement_detail(dossier, actor=actor, events=events),
    }
