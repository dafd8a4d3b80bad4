"""Pages of the document store and drafts (issue #15): "Giấy tờ của tôi"
(list, upload, delete), the drafts on "Hồ sơ của tôi", and the submit page's
part: "choose from my documents" in each component slot, "Lưu nháp / Save
draft", and a reopened draft filling the form again. The rules live in
`documents` and `drafts`, as for the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gisportal.accounts.models import Role
from gisportal.accounts.selectors import actor_for

from .attachments import ALLOWED_DESCRIPTION, CheckedFile
from .component_pages import eform_answers
from .documents import document_choices, document_delete, document_upload, documents_as_files, documents_of
from .drafts import TEXT_FIELDS, DraftInput, draft_delete, draft_get_for_user, draft_input, draft_save, drafts_of
from .errors import DossierInputError
from .models import DossierDraft, Procedure, StoredDocument

ACCEPT = ".pdf,.png,.jpg,.jpeg,.docx"


# --- the submit page ---------------------------------------------------------------------


def page_draft(request) -> DossierDraft | None:
    """The draft the submit page continues (`?draft=` or the posted
    `draft`): None when none is named, 404 when it is not the caller's."""
    raw = request.POST.get("draft") if request.method == "POST" else request.GET.get("draft")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise Http404
    try:
        return draft_get_for_user(user=request.user, draft_id=int(raw))
    except DossierDraft.DoesNotExist as missing:
        raise Http404 from missing


def draft_initial(draft: DossierDraft) -> dict:
    """The submit form's initial values from a draft."""
    return {name: value for name, value in draft.fields.items() if name in TEXT_FIELDS or name in _NUMBERS}


_NUMBERS = ("lon", "lat", "delivery_lon", "delivery_lat")


def _flat_answers(code: str, answers: dict, prefix: str = "") -> dict:
    flat: dict = {}
    for key, value in answers.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat_answers(code, value, prefix=path + "."))
        elif value is True:
            flat[f"eform-{code}-{path}"] = "on"
        elif value is not False and value is not None:
            flat[f"eform-{code}-{path}"] = str(value)
    return flat


def draft_slot_data(draft: DossierDraft) -> dict:
    """What the component slots show for a reopened draft: e-form inputs by
    name, and the stored document chosen in each slot."""
    data: dict = {}
    for code, answers in draft.forms.items():
        if isinstance(answers, dict):
            data.update(_flat_answers(code, answers))
    for code, ids in draft.documents.items():
        if ids:
            data[f"documents[{code}]"] = str(ids[0])
    return data


def offer_documents(slots, *, user, data) -> None:
    """Gives each file slot the caller's documents of a type it accepts and
    the one chosen (`slot.my_documents`, `slot.chosen_document`)."""
    documents = list(documents_of(user).only("id", "original_name", "kind", "kind_name", "content_type")[:200])
    for slot in slots:
        accepted = set(slot.component.accepted_types)
        mine = [d for d in documents if d.content_type in accepted]
        # Documents of this kind first.
        slot.my_documents = sorted(mine, key=lambda d: d.kind != slot.component.code)
        slot.chosen_document = (data or {}).get(f"documents[{slot.component.code}]", "")


def page_documents(request, problems: dict) -> tuple[dict[str, list[CheckedFile]], list[CheckedFile]]:
    """The stored documents the page's POST names: (by component code, the
    draft's untagged ones); problems by component code, as the page shows
    them next to the slot."""
    errors: dict[str, list[str]] = {}
    try:
        chosen = document_choices(request.POST)
    except DossierInputError as bad:
        errors.update(bad.errors)
        chosen = {}
    files = documents_as_files(user=request.user, chosen=chosen, errors=errors) if chosen else {}
    kept = request.POST.getlist("attachment_documents")
    untagged = documents_as_files(user=request.user, chosen={"": kept}, errors=errors).get("", []) if kept else []
    for field, texts in errors.items():
        code = field.removeprefix("documents[").removesuffix("]") or "attachments"
        problems.setdefault(code, []).extend(texts)
    return files, untagged


def page_draft_save(request, procedure: Procedure, draft: DossierDraft | None) -> DossierDraft:
    """Saves the submit page's POST as a draft (new, or the one it
    continues): DossierInputError naming what is refused."""
    data: dict = {name: request.POST.get(name, "") for name in (*TEXT_FIELDS, *_NUMBERS)}
    data["procedure"] = procedure.code
    forms = {}
    for component in procedure.components.all():
        if component.is_eform:
            answers = eform_answers(component.code, component.form_schema, request.POST)
            if answers:
                forms[component.code] = answers
    data["forms"] = forms
    for key in request.POST:
        if key.startswith("documents["):
            data[key] = request.POST.getlist(key)
    read: DraftInput = draft_input(data, request.FILES)
    read.attachment_ids = [int(v) for v in request.POST.getlist("attachment_documents") if v.isascii() and v.isdigit()][
        :50
    ]
    saved, _created = draft_save(owner=request.user, read=read, draft_id=draft.pk if draft else None)
    return saved


def submit_page_context(request, *, slots, draft: DossierDraft | None) -> dict:
    """The submit page's extra context: the documents offered per slot, the
    draft it continues and its untagged documents."""
    posted = request.method == "POST"
    data = request.POST if posted else (draft_slot_data(draft) if draft else None)
    offer_documents(slots, user=request.user, data=data)
    kept: list[StoredDocument] = []
    if draft is not None:
        kept = list(documents_of(request.user).filter(pk__in=draft.attachments))
    return {
        "draft": draft,
        "draft_documents": kept,
        "can_save_draft": actor_for(request.user).role == Role.CITIZEN,
        "my_documents_url": reverse("my-documents"),
    }


# --- "Giấy tờ của tôi" ------------------------------------------------------------------


@login_required
def my_documents_page(request):
    """The caller's documents, an upload form and a delete button each."""
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        try:
            document, created = document_upload(owner=request.user, upload=request.FILES.get("file"), kind=kind)
        except DossierInputError as refused:
            errors, status = refused.errors, 400
        else:
            messages.success(
                request,
                _("%(name)s is kept in My documents.") % {"name": document.original_name}
                if created
                else _("This file is already in My documents (%(name)s).") % {"name": document.original_name},
            )
            return redirect("my-documents")
    documents = list(documents_of(request.user).select_related("dossier")[:200])
    return render(
        request,
        "dossiers/my_documents.html",
        {
            "documents": documents,
            "errors": errors,
            "accept": ACCEPT,
            "allowed_types": ALLOWED_DESCRIPTION,
            "kinds": _known_kinds(documents),
        },
        status=status,
    )


def _known_kinds(documents) -> list[str]:
    return sorted({d.kind for d in documents if d.kind} | {"cccd", "ho-chieu", "giay-khai-sinh"})


@login_required
@require_POST
def my_document_delete(request, document_id: int):
    try:
        document_delete(user=request.user, document_id=document_id)
    except StoredDocument.DoesNotExist as missing:
        raise Http404 from missing
    messages.success(request, _("The document was deleted. Dossiers sent with it keep their copy."))
    return redirect("my-documents")


# --- drafts on "Hồ sơ của tôi" -----------------------------------------------------------


def draft_rows(user) -> list[dict]:
    now = timezone.now()
    return [
        {
            "id": draft.pk,
            "procedure": draft.procedure,
            "updated_at": draft.updated_at,
            "expires_at": draft.expires_at,
            "days_left": max((draft.expires_at - now).days, 0),
            "url": reverse("dossier-submit", args=[draft.procedure.code]) + f"?draft={draft.pk}",
            "delete_url": reverse("dossier-draft-delete", args=[draft.pk]),
        }
        for draft in drafts_of(user)[:50]
    ]


@login_required
@require_POST
def dossier_draft_delete(request, draft_id: int):
    try:
        draft_delete(user=request.user, draft_id=draft_id)
    except DossierDraft.DoesNotExist as missing:
        raise Http404 from missing
    messages.success(request, _("The draft was deleted."))
    return redirect("my-dossiers")


def draft_page_problems(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A refused draft's errors by component code, for the slots; the rest
    (forms, untagged files) under `attachments`."""
    problems: dict[str, list[str]] = {}
    for field, texts in errors.items():
        for prefix in ("components[", "documents["):
            if field.startswith(prefix):
                problems.setdefault(field.removeprefix(prefix).removesuffix("]"), []).extend(texts)
        if field in ("attachments", "attachment_documents", "forms", "draft", "procedure"):
            problems.setdefault("attachments", []).extend(texts)
    return problems
