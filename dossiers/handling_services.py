"""Writes of the steps after submission (issue #15): assigning a dossier to
a named officer, attaching the electronic result (its approval is recorded
by the `approve` move, `results.result_approve`), handing in a supplement
with the missing files.

As in `services`: one transaction, the dossier row locked, one event row
naming who acted (announced through `events`)."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from gisportal.accounts.selectors import actor_for, user_display_name

from .attachments import CheckedFile, attachments_remove, stored_file_fields
from .errors import DossierInputError, DossierInputRefused, TransitionNotAllowed
from .handling_selectors import (
    dossier_may_assign,
    dossier_may_attach_result,
    dossier_may_supplement,
    officers_assignable,
    supplement_move,
)
from .models import Attachment, Dossier, ResultDocument
from .selectors import dossier_actions, dossier_get_for_user, dossier_may_act
from .services import _apply, _event

ASSIGN_ACTION = "assign_officer"
MAX_NOTE = 4000


def _clean_note(note) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise DossierInputError.one("note", "Tối đa 4.000 ký tự.", "At most 4,000 characters.")
    return note


def dossier_assign_officer(
    *, code: str, officer: str, acting_user, note: str = "", at: dt.datetime | None = None
) -> Dossier:
    """Assigns the dossier to `officer` (a user name): a processing officer or
    leader of the agency handling it. Dossier.DoesNotExist when the caller
    may not see it (404); TransitionNotAllowed (409) when the caller is not a
    leader or desk officer who may act on it, or it is closed;
    DossierInputRefused (422, `officer`) for anyone not of that agency."""
    note = _clean_note(note)
    if not isinstance(officer, str) or not officer.strip():
        raise DossierInputError.one("officer", "Cần tên đăng nhập của cán bộ.", "The officer's user name is required.")
    actor = actor_for(acting_user)
    at = at or timezone.now()
    with transaction.atomic():
        dossier = dossier_get_for_user(user=acting_user, code=code, for_update=True)
        if not dossier_may_act(actor, dossier):
            raise TransitionNotAllowed.read_only(
                action=ASSIGN_ACTION, status=dossier.status, handled_by=dossier.agency.name
            )
        if not dossier_may_assign(actor, dossier):
            raise TransitionNotAllowed(
                action=ASSIGN_ACTION, status=dossier.status, allowed=[t.action for t in dossier_actions(actor, dossier)]
            )
        chosen = officers_assignable(dossier=dossier).filter(username=officer.strip()).first()
        if chosen is None:
            raise DossierInputRefused.one(
                "officer",
                f"Chỉ giao cho chuyên viên hoặc lãnh đạo của {dossier.agency.name}.",
                f"Only a processing officer or leader of {dossier.agency.name} may be assigned.",
            )
        if chosen.pk == dossier.assigned_to_id:
            raise DossierInputRefused.one(
                "officer", "Hồ sơ đã được giao cho cán bộ này.", "The dossier is already assigned to this officer."
            )
        dossier.assigned_to, dossier.assigned_at = chosen, at
        dossier.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        name = user_display_name(chosen)
        _event(
            dossier,
            action=ASSIGN_ACTION,
            from_status=dossier.status,
            user=acting_user,
            actor=actor,
            at=at,
            note=f"{name} ({chosen.username})" + (f" — {note}" if note else ""),
        )
    return dossier


RESULT_ACTION = "result_attach"


def dossier_result_attach(
    *, code: str, document: CheckedFile, acting_user, at: dt.datetime | None = None
) -> ResultDocument:
    """Attaches the electronic result (a checked PDF) to a dossier being
    processed: a processing officer who may act on it. A newer document
    replaces the older for approval and download; the older rows stay.
    404 / 409 as for the moves of the workflow."""
    if document.content_type != "application/pdf":
        raise DossierInputError.one("file", "Kết quả điện tử phải là tệp PDF.", "The result must be a PDF file.")
    actor = actor_for(acting_user)
    at = at or timezone.now()
    written: list[str] = []
    try:
        with transaction.atomic():
            dossier = dossier_get_for_user(user=acting_user, code=code, for_update=True)
            if not dossier_may_act(actor, dossier):
                raise TransitionNotAllowed.read_only(
                    action=RESULT_ACTION, status=dossier.status, handled_by=dossier.agency.name
                )
            if not dossier_may_attach_result(actor, dossier):
                raise TransitionNotAllowed(
                    action=RESULT_ACTION,
                    status=dossier.status,
                    allowed=[t.action for t in dossier_actions(actor, dossier)],
                )
            result = ResultDocument.objects.create(
                dossier=dossier,
                **stored_file_fields(document, written=written),
                uploaded_by=acting_user,
                uploaded_at=at,
            )
            _event(
                dossier,
                action=RESULT_ACTION,
                from_status=dossier.status,
                user=acting_user,
                actor=actor,
                at=at,
                note=f"{document.original_name}, SHA-256 {document.sha256}",
            )
    except BaseException:
        attachments_remove(written)
        raise
    return result


def dossier_supplement_with_files(
    *, code: str, files: list[CheckedFile], acting_user, note: str = "", at: dt.datetime | None = None
) -> Dossier:
    """Hands in a supplement with the missing files: stores them (marked with
    the round of the request they answer) and makes the workflow's
    `supplement` move, whose event lists the files added. At least one file
    (400 `attachments`); 404 / 409 as for the moves of the workflow."""
    note = _clean_note(note)
    if not files:
        raise DossierInputError.one(
            "attachments", "Cần ít nhất một tệp bổ sung.", "At least one file is required for a supplement."
        )
    actor = actor_for(acting_user)
    at = at or timezone.now()
    written: list[str] = []
    try:
        with transaction.atomic():
            dossier = dossier_get_for_user(user=acting_user, code=code, for_update=True)
            move = supplement_move(dossier)
            if not dossier_may_act(actor, dossier):
                raise TransitionNotAllowed.read_only(
                    action=move.action, status=dossier.status, handled_by=dossier.agency.name
                )
            if not dossier_may_supplement(actor, dossier):
                raise TransitionNotAllowed(
                    action=move.action,
                    status=dossier.status,
                    allowed=[t.action for t in dossier_actions(actor, dossier)],
                )
            for checked in files:
                Attachment.objects.create(
                    dossier=dossier,
                    **stored_file_fields(checked, written=written),
                    uploaded_by=acting_user,
                    uploaded_at=at,
                    supplement_round=dossier.supplement_count,
                )
            listed = "Tệp bổ sung / Files added: " + ", ".join(f.original_name for f in files)
            _apply(dossier, move, user=acting_user, actor=actor, at=at, note=f"{listed}\n{note}" if note else listed)
    except BaseException:
        attachments_remove(written)
        raise
    return dossier
