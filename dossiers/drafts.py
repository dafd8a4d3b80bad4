"""Drafts of a submission ("Hồ sơ nháp / Drafts"), issue #15.

A citizen saves a partly filled submission (procedure, service point,
location, applicant and postal fields, e-form answers, and the files chosen
so far, which go to their document store and are referenced from the
draft) and comes back to it. A draft is checked only for types and lengths
when saved: it may be incomplete. Submitting it builds a `Submission` and
goes through `services.dossier_submit`, the one submission service, with all
its checks; the draft is deleted in the same transaction as the dossier is
created, and kept when the submission is refused.

Drafts are private to their owner (another person, official or not, gets a
404), expire DOSSIER_DRAFT_DAYS after they were last saved (hidden at once,
deleted by `drafts_expire`), and are never dossiers: no code, status, event,
count, map point or worklist row."""

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from gisportal.accounts.models import Role
from gisportal.accounts.selectors import actor_for
from gisportal.api import message

from .attachments import attachments_check, attachments_remove
from .documents import (
    document_choices,
    document_ids,
    document_summary,
    document_upload,
    documents_as_files,
    documents_owned,
)
from .errors import DossierInputError
from .models import Channel, Dossier, DossierDraft, Procedure, StoredDocument
from .services import Submission, dossier_submit

# The submission's text fields a draft keeps, with their length limits (as
# `POST /api/v1/dossiers/` takes them); `procedure` is the draft's own column.
TEXT_FIELDS = {
    "applicant_name": 150,
    "applicant_id_number": 12,
    "applicant_address": 300,
    "applicant_phone": 20,
    "applicant_email": 254,
    "applicant_commune": 10,
    "receiving_point": 40,
    "result_delivery": 5,
    "delivery_address": 300,
    "delivery_commune": 10,
    "postal_pickup": 11,
    "pickup_address": 300,
    "pickup_point": 40,
    "note": 4000,
}
NUMBER_FIELDS = {"lon": 180, "lat": 90, "delivery_lon": 180, "delivery_lat": 90}
MAX_FORMS_BYTES = 256 * 1024
COMPONENT_FILE = re.compile(r"^components\[([-a-zA-Z0-9_]{1,40})\]$")


def _fail(errors: dict, name: str, vi: str, en: str) -> None:
    errors.setdefault(name, []).append(message(vi, en))


@dataclass
class DraftInput:
    """What a save carries once read: nothing is checked against the
    catalogue's rules yet, only types and lengths."""

    procedure_code: str = ""
    fields: dict = field(default_factory=dict)
    forms: dict = field(default_factory=dict)
    chosen: dict = field(default_factory=dict)  # component code -> document ids as given
    files: dict = field(default_factory=dict)  # component code -> uploads
    attachments: list = field(default_factory=list)  # untagged uploads
    attachment_ids: list = field(default_factory=list)  # untagged stored documents kept from before


def draft_input(data: Mapping, files=None) -> DraftInput:
    """A save's body (JSON, multipart, or the submit page's POST) read into
    a DraftInput; DossierInputError (400) naming every bad field."""
    errors: dict[str, list[str]] = {}
    read = DraftInput()
    procedure = data.get("procedure")
    if not isinstance(procedure, str) or not procedure.strip() or len(procedure) > 20:
        _fail(errors, "procedure", "Cần mã thủ tục.", "The procedure code is required.")
    else:
        read.procedure_code = procedure.strip()
    for name, limit in TEXT_FIELDS.items():
        value = data.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            _fail(errors, name, "Phải là chuỗi ký tự.", "Must be a string.")
        elif len(value) > limit or "\x00" in value:
            _fail(
                errors,
                name,
                f"Tối đa {limit} ký tự, không chứa ký tự NUL.",
                f"At most {limit} characters, no NUL.",
            )
        else:
            read.fields[name] = value
    for name, bound in NUMBER_FIELDS.items():
        value = data.get(name)
        if value is None or value == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number) or abs(number) > bound:
            _fail(
                errors, name, f"Phải là số trong [-{bound}, {bound}].", f"Must be a number within [-{bound}, {bound}]."
            )
        else:
            read.fields[name] = number
    read.forms = _forms(data.get("forms"), errors)
    try:
        read.chosen = document_choices(data)
    except DossierInputError as bad:
        errors.update(bad.errors)
    ids = data.getlist("attachment_documents") if hasattr(data, "getlist") else data.get("attachment_documents")
    read.attachment_ids = document_ids({"": ids if isinstance(ids, list) else ([ids] if ids else [])}, errors).get(
        "", []
    )
    if errors.get("documents[]"):
        errors["attachment_documents"] = errors.pop("documents[]")
    if files is not None:
        for key in files:
            found = COMPONENT_FILE.match(key)
            if found:
                read.files[found.group(1)] = files.getlist(key)
        read.attachments = files.getlist("attachments")
    if errors:
        raise DossierInputError(errors)
    return read


def _forms(raw, errors: dict) -> dict:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = None
    if not isinstance(raw, dict) or not all(isinstance(answers, dict) for answers in raw.values()):
        _fail(
            errors,
            "forms",
            "forms phải là đối tượng JSON {mã thành phần: {trường: giá trị}}.",
            "forms must be a JSON object {component code: {field: value}}.",
        )
        return {}
    if len(json.dumps(raw, ensure_ascii=False).encode()) > MAX_FORMS_BYTES:
        _fail(errors, "forms", "Biểu mẫu quá lớn (tối đa 256 KB).", "The forms are too large (256 KB at most).")
        return {}
    return raw


# --- selectors ---------------------------------------------------------------------------


def drafts_of(user, *, now: dt.datetime | None = None) -> QuerySet[DossierDraft]:
    """The caller's own drafts that have not expired, last saved first."""
    if user is None or not user.is_authenticated:
        return DossierDraft.objects.none()
    return (
        DossierDraft.objects.filter(owner=user, expires_at__gt=now or timezone.now())
        .select_related("procedure")
        .order_by("-updated_at", "-id")
    )


def draft_get_for_user(*, user, draft_id, for_update: bool = False) -> DossierDraft:
    """DossierDraft.DoesNotExist (404) for anyone but the owner, and for an
    expired draft."""
    drafts = drafts_of(user)
    if for_update:
        drafts = drafts.select_for_update(of=("self",))
    return drafts.get(pk=draft_id)


def draft_documents(draft: DossierDraft) -> tuple[dict[str, list[StoredDocument]], list[StoredDocument]]:
    """The stored documents a draft names that still exist in the owner's
    store: (by component code, untagged)."""
    ids = {i for values in draft.documents.values() for i in values} | set(draft.attachments)
    found = {d.pk: d for d in StoredDocument.objects.filter(owner_id=draft.owner_id, pk__in=ids)}
    by_code = {code: [found[i] for i in values if i in found] for code, values in draft.documents.items()}
    return {code: docs for code, docs in by_code.items() if docs}, [found[i] for i in draft.attachments if i in found]


def draft_detail(draft: DossierDraft) -> dict:
    by_code, untagged = draft_documents(draft)
    return {
        "id": draft.pk,
        "procedure": {"code": draft.procedure.code, "name": draft.procedure.name},
        "fields": draft.fields,
        "forms": draft.forms,
        "documents": {code: [document_summary(d) for d in docs] for code, docs in by_code.items()},
        "attachments": [document_summary(d) for d in untagged],
        "created_at": timezone.localtime(draft.created_at).isoformat(),
        "updated_at": timezone.localtime(draft.updated_at).isoformat(),
        "expires_at": timezone.localtime(draft.expires_at).isoformat(),
        "url": f"/api/v1/dossiers/drafts/{draft.pk}/",
        "submit_url": f"/api/v1/dossiers/drafts/{draft.pk}/submit/",
        "page_url": f"/procedures/{draft.procedure.code}/submit/?draft={draft.pk}",
    }


def draft_summary(draft: DossierDraft) -> dict:
    return {
        "id": draft.pk,
        "procedure": {"code": draft.procedure.code, "name": draft.procedure.name},
        "updated_at": timezone.localtime(draft.updated_at).isoformat(),
        "expires_at": timezone.localtime(draft.expires_at).isoformat(),
        "url": f"/api/v1/dossiers/drafts/{draft.pk}/",
        "page_url": f"/procedures/{draft.procedure.code}/submit/?draft={draft.pk}",
    }


# --- services ----------------------------------------------------------------------------


def _only_citizens(user) -> None:
    if actor_for(user).role != Role.CITIZEN:
        raise PermissionDenied(message("Chỉ công dân lưu hồ sơ nháp.", "Only citizens save drafts of a dossier."))


def draft_save(*, owner, read: DraftInput, draft_id: int | None = None) -> tuple[DossierDraft, bool]:
    """Creates a draft (draft_id None) or replaces one of the owner's with
    what `read` carries: (draft, created). Files sent with it are checked as
    attachments are and kept in the owner's document store, and the draft
    names them. Nothing is written when anything is refused (400 naming it)."""
    _only_citizens(owner)
    errors: dict[str, list[str]] = {}
    procedure = Procedure.objects.filter(code=read.procedure_code, is_active=True).first()
    if procedure is None:
        _fail(errors, "procedure", "Không có thủ tục này.", "No such procedure.")
    owned = documents_owned(user=owner, ids=document_ids(read.chosen, errors), errors=errors)
    kept = documents_owned(user=owner, ids={"": read.attachment_ids}, errors=errors) if read.attachment_ids else {}
    if errors.get("documents[]"):
        errors["attachment_documents"] = errors.pop("documents[]")
    # The files are checked before anything is written, all together.
    for code, uploads in read.files.items():
        _checked, problems = attachments_check(uploads)
        if problems:
            errors.setdefault(f"components[{code}]", []).extend(problems)
    if read.attachments:
        _checked, problems = attachments_check(read.attachments)
        if problems:
            errors.setdefault("attachments", []).extend(problems)
    if errors:
        raise DossierInputError(errors)
    now = timezone.now()
    with transaction.atomic():
        if draft_id is None:
            if drafts_of(owner).count() >= settings.DOSSIER_DRAFT_MAX_COUNT:
                raise DossierInputError.one(
                    "draft",
                    f"Bạn đã có {settings.DOSSIER_DRAFT_MAX_COUNT} hồ sơ nháp; hãy nộp hoặc xóa bớt.",
                    f"You already have {settings.DOSSIER_DRAFT_MAX_COUNT} drafts; submit or delete some.",
                )
            draft = DossierDraft(owner=owner, created_at=now)
        else:
            draft = draft_get_for_user(user=owner, draft_id=draft_id, for_update=True)
        documents = {code: [d.pk for d in docs] for code, docs in owned.items()}
        attachments = [d.pk for d in kept.get("", [])]
        written: list[str] = []
        names = dict(procedure.components.values_list("code", "name"))
        try:
            for code, uploads in [*read.files.items(), ("", read.attachments)]:
                for upload in uploads:
                    upload.seek(0)
                    document, created = document_upload(
                        owner=owner, upload=upload, kind=code, kind_name=names.get(code) if code else None
                    )
                    if created:
                        written.append(document.stored_name)
                    chosen = documents.setdefault(code, []) if code else attachments
                    if document.pk not in chosen:
                        chosen.append(document.pk)
            draft.procedure = procedure
            draft.fields = read.fields
            draft.forms = read.forms
            draft.documents = documents
            draft.attachments = attachments
            draft.updated_at = now
            draft.expires_at = now + dt.timedelta(days=settings.DOSSIER_DRAFT_DAYS)
            draft.save()
        except BaseException:
            # The draft is not saved: neither are the files it brought.
            attachments_remove(written)
            raise
    return draft, draft_id is None


def draft_delete(*, user, draft_id) -> None:
    """Deletes one of the owner's drafts; its documents stay in the store."""
    with transaction.atomic():
        draft_get_for_user(user=user, draft_id=draft_id, for_update=True).delete()


def draft_submission(draft: DossierDraft, *, user) -> Submission:
    """The Submission a draft makes, its stored documents read back as
    files; DossierInputError naming a document no longer usable."""
    errors: dict[str, list[str]] = {}
    values = draft.fields
    chosen = {code: list(ids) for code, ids in draft.documents.items()}
    component_files = documents_as_files(user=user, chosen=chosen, errors=errors) if chosen else {}
    untagged = documents_as_files(user=user, chosen={"": list(draft.attachments)}, errors=errors)
    if errors.get("documents[]"):
        errors["attachments"] = errors.pop("documents[]")
    if errors:
        raise DossierInputError(errors)
    return Submission(
        procedure_code=draft.procedure.code,
        applicant_name=values.get("applicant_name", ""),
        applicant_id_number=values.get("applicant_id_number", "").strip(),
        applicant_address=values.get("applicant_address", ""),
        applicant_phone=values.get("applicant_phone", ""),
        applicant_email=values.get("applicant_email", ""),
        applicant_commune_code=values.get("applicant_commune", ""),
        channel=Channel.ONLINE,
        receiving_point_code=values.get("receiving_point", ""),
        lon=values.get("lon"),
        lat=values.get("lat"),
        result_delivery=values.get("result_delivery") or "desk",
        delivery_address=values.get("delivery_address", ""),
        delivery_lon=values.get("delivery_lon"),
        delivery_lat=values.get("delivery_lat"),
        delivery_commune_code=values.get("delivery_commune", ""),
        postal_pickup=values.get("postal_pickup", ""),
        pickup_address=values.get("pickup_address", ""),
        pickup_point_code=values.get("pickup_point", ""),
        note=values.get("note", ""),
        files=untagged.get("", []),
        component_files=component_files,
        forms=dict(draft.forms),
    )


def dossier_submit_closing_draft(
    *, draft_id, acting_user, submission: Submission | None = None, idempotency_key: str | None = None
) -> tuple[Dossier, bool]:
    """Submits a draft through `dossier_submit` (all its checks: a 400 or
    422 leaves the draft as it was) and deletes the draft in the same
    transaction as the dossier is created. `submission` is what the submit
    page sent, when it was sent from a reopened draft; by default the
    draft's own content."""
    with transaction.atomic():
        draft = draft_get_for_user(user=acting_user, draft_id=draft_id, for_update=True)
        if submission is None:
            submission = draft_submission(draft, user=acting_user)
        dossier, created = dossier_submit(
            submission=submission, acting_user=acting_user, idempotency_key=idempotency_key
        )
        draft.delete()
    return dossier, created


def drafts_expire(*, now: dt.datetime | None = None) -> int:
    """Deletes the drafts whose time is over; their documents stay in the
    owners' stores. Returns how many were deleted."""
    deleted, _ = DossierDraft.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
