"""A citizen's document store ("Giấy tờ của tôi / My documents"), issue #15.

Every file a citizen sends with a dossier, and every file uploaded to the
store directly, is kept here with its name, component kind, checked content
type, size and SHA-256. A submission (API or page) may name a stored
document instead of sending a file again: `documents[<component code>]=<id>`
in a multipart body, or `"documents": {"<code>": [<id>, ...]}` in a JSON
one. The document's bytes are then read, checked again against their
SHA-256, and go through the one submission service exactly as an uploaded
file would (its component's accepted types, the count limit); the dossier's
attachment is a copy of its own, so deleting the document later leaves the
dossier untouched.

A document that came with a dossier shares that attachment's stored file;
its file is removed only when nothing else uses it."""

import hashlib
import logging
import re
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from gisportal.api import message

from .attachments import CheckedFile, attachment_read, attachments_check, attachments_remove, stored_file_fields
from .errors import DossierInputError
from .models import Attachment, Dossier, ProcedureComponent, StoredDocument

audit = logging.getLogger("gisportal.audit")

DOCUMENT_FIELD = re.compile(r"^documents\[([-a-zA-Z0-9_]{1,40})\]$")
KIND = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
# How many stored documents one component slot may name in one request.
MAX_PER_SLOT = 10


# --- selectors ---------------------------------------------------------------------------


def documents_of(user) -> QuerySet[StoredDocument]:
    """The caller's own documents, newest first; nobody sees another's."""
    if user is None or not user.is_authenticated:
        return StoredDocument.objects.none()
    return StoredDocument.objects.filter(owner=user)


def document_get_for_user(*, user, document_id) -> StoredDocument:
    """StoredDocument.DoesNotExist (a 404) for another person's document,
    exactly as for one that does not exist."""
    return documents_of(user).get(pk=document_id)


def document_summary(document: StoredDocument) -> dict:
    return {
        "id": document.pk,
        "name": document.original_name,
        "kind": document.kind,
        "kind_name": document.kind_name,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "uploaded_at": timezone.localtime(document.uploaded_at).isoformat(),
        "dossier": document.dossier.code if document.dossier_id and document.dossier else None,
        "file_url": f"/api/v1/me/documents/{document.pk}/file/",
    }


# --- services ----------------------------------------------------------------------------


def _kind_name(kind: str) -> str:
    if not kind:
        return ""
    component = ProcedureComponent.objects.filter(code=kind).order_by("id").first()
    return component.name if component else ""


def document_upload(*, owner, upload, kind: str = "", kind_name: str | None = None) -> tuple[StoredDocument, bool]:
    """Stores one uploaded file for `owner`: (document, created). The same
    bytes again return the document already kept (created False). Bad input
    is a DossierInputError naming `file` or `kind`, and nothing is stored.
    `kind_name` defaults to the name the catalogue first gave that code."""
    kind = (kind or "").strip()
    if kind and not KIND.fullmatch(kind):
        raise DossierInputError.one(
            "kind",
            "Loại giấy tờ là mã thành phần hồ sơ (chữ, số, -, _; tối đa 40 ký tự).",
            "The kind is a component code (letters, digits, - and _; at most 40 characters).",
        )
    if upload is None:
        raise DossierInputError.one("file", "Cần chọn một tệp.", "Choose a file.")
    checked, problems = attachments_check([upload], max_count=1)
    if problems:
        raise DossierInputError({"file": problems})
    (file,) = checked
    written: list[str] = []
    try:
        with transaction.atomic():
            # One person's uploads queue here, so the count and the
            # same-bytes check hold under concurrent requests.
            get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
            existing = StoredDocument.objects.filter(owner=owner, sha256=file.sha256).first()
            if existing is not None:
                return existing, False
            limit = settings.DOSSIER_DOCUMENT_MAX_COUNT
            if StoredDocument.objects.filter(owner=owner).count() >= limit:
                raise DossierInputError.one(
                    "file",
                    f"Kho giấy tờ đã đủ {limit} tệp; hãy xóa bớt.",
                    f"Your store already holds {limit} documents; delete some first.",
                )
            document = StoredDocument.objects.create(
                owner=owner,
                **stored_file_fields(file, written=written),
                kind=kind,
                kind_name=_kind_name(kind) if kind_name is None else kind_name[:300],
                uploaded_at=timezone.now(),
            )
    except BaseException:
        _remove_files(written)
        raise
    audit.info("document stored id=%s user=%s", document.pk, owner.pk)
    return document, True


def _remove_files(stored_names: list[str]) -> None:
    attachments_remove(stored_names)


def document_delete(*, user, document_id) -> None:
    """Removes a document from the owner's store (404 for anyone else's).
    Its file goes too unless a dossier's attachment uses it: a dossier keeps
    what it was sent with."""
    with transaction.atomic():
        document = documents_of(user).select_for_update().get(pk=document_id)
        stored_name = document.stored_name
        document.delete()
        shared = (
            Attachment.objects.filter(stored_name=stored_name).exists()
            or StoredDocument.objects.filter(stored_name=stored_name).exists()
        )
        if not shared:
            transaction.on_commit(lambda: _remove_files([stored_name]))
    audit.info("document deleted id=%s user=%s", document_id, user.pk)


def documents_keep_from_dossier(dossier: Dossier, *, owner) -> None:
    """Called by the submission service, inside its transaction, once a
    citizen's dossier and its attachments are written: each attachment not
    yet in the owner's store (by SHA-256) is kept there, sharing the
    attachment's file."""
    if owner is None:
        return
    # The rows the submission just wrote when it handed them over (gisportal.loaded.rows_known).
    attachments = sorted(dossier.attachments.all(), key=lambda attachment: attachment.pk)
    if not attachments:
        return
    known = set(StoredDocument.objects.filter(owner=owner).values_list("sha256", flat=True))
    room = settings.DOSSIER_DOCUMENT_MAX_COUNT - len(known)
    rows = []
    for attachment in attachments:
        if attachment.sha256 in known or room <= 0:
            continue
        known.add(attachment.sha256)
        room -= 1
        rows.append(
            StoredDocument(
                owner=owner,
                original_name=attachment.original_name,
                stored_name=attachment.stored_name,
                content_type=attachment.content_type,
                size=attachment.size,
                sha256=attachment.sha256,
                kind=attachment.component_code,
                kind_name=attachment.component_name,
                dossier=dossier,
                uploaded_at=attachment.uploaded_at,
            )
        )
    StoredDocument.objects.bulk_create(rows)


# --- use in a submission -----------------------------------------------------------------


def document_choices(data) -> dict[str, list]:
    """The stored documents a request names, by component code, as given:
    `documents[<code>]` fields of a form (repeated for several), or a JSON
    object `documents` of {code: id or [ids]}. Anything else under
    `documents` is a 400 naming it."""
    chosen: dict[str, list] = {}
    if not isinstance(data, Mapping):
        return chosen
    getlist = getattr(data, "getlist", None)
    for key in data:
        found = DOCUMENT_FIELD.match(str(key))
        if found:
            values = getlist(key) if getlist else data[key]
            values = values if isinstance(values, list) else [values]
            chosen.setdefault(found.group(1), []).extend(v for v in values if v not in ("", None))
    raw = data.get("documents")
    if raw in (None, "", {}):
        return chosen
    if not isinstance(raw, Mapping) or not all(isinstance(code, str) and KIND.fullmatch(code) for code in raw):
        raise DossierInputError.one(
            "documents",
            "documents phải là đối tượng {mã thành phần: mã giấy tờ hoặc danh sách mã}.",
            "documents must be an object {component code: document id or list of ids}.",
        )
    for code, ids in raw.items():
        chosen.setdefault(code, []).extend(ids if isinstance(ids, list) else [ids])
    return chosen


def _field(code: str) -> str:
    return f"documents[{code}]"


def document_ids(chosen: dict[str, list], errors: dict) -> dict[str, list[int]]:
    """The ids as integers; a value that is not one is an error naming its field."""
    ids: dict[str, list[int]] = {}
    for code, values in chosen.items():
        if len(values) > MAX_PER_SLOT:
            errors.setdefault(_field(code), []).append(
                message(f"Tối đa {MAX_PER_SLOT} giấy tờ.", f"At most {MAX_PER_SLOT} documents.")
            )
            continue
        for value in values:
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit())
            ):
                errors.setdefault(_field(code), []).append(
                    message("Mã giấy tờ phải là số nguyên.", "A document id is an integer.")
                )
                break
            if int(value) > 2**62:
                errors.setdefault(_field(code), []).append(message("Không có giấy tờ này.", "No such document."))
                break
            ids.setdefault(code, []).append(int(value))
    return ids


def documents_owned(*, user, ids: dict[str, list[int]], errors: dict) -> dict[str, list[StoredDocument]]:
    """The caller's documents for `ids`; an id that is not theirs (or does
    not exist: the same answer) is an error naming its field."""
    wanted = {i for values in ids.values() for i in values}
    found = {d.pk: d for d in documents_of(user).filter(pk__in=wanted)} if wanted else {}
    owned: dict[str, list[StoredDocument]] = {}
    for code, values in ids.items():
        for value in values:
            document = found.get(value)
            if document is None:
                errors.setdefault(_field(code), []).append(
                    message(
                        f"Không có giấy tờ số {value} trong kho giấy tờ của bạn.",
                        f"Document {value} is not in your documents.",
                    )
                )
                continue
            if document not in owned.setdefault(code, []):
                owned[code].append(document)
    return owned


def document_as_file(document: StoredDocument) -> CheckedFile | None:
    """The document's bytes as an upload already checked, or None when the
    file is missing or no longer matches its SHA-256."""
    try:
        content = attachment_read(document.stored_name)
    except (FileNotFoundError, OSError):
        return None
    if hashlib.sha256(content).hexdigest() != document.sha256:
        return None
    suffix = "." + document.stored_name.rsplit(".", 1)[-1] if "." in document.stored_name else ""
    return CheckedFile(document.original_name, content, document.content_type, suffix, document.sha256)


def documents_as_files(*, user, chosen: dict[str, list], errors: dict) -> dict[str, list[CheckedFile]]:
    """The files of the stored documents a submission names, by component
    code, for `Submission.component_files`; problems go to `errors` under
    `documents[<code>]` (a 400: nothing is stored)."""
    owned = documents_owned(user=user, ids=document_ids(chosen, errors), errors=errors)
    files: dict[str, list[CheckedFile]] = {}
    for code, documents in owned.items():
        for document in documents:
            file = document_as_file(document)
            if file is None:
                errors.setdefault(_field(code), []).append(
                    message(
                        f"{document.original_name}: tệp trong kho không còn đọc được.",
                        f"{document.original_name}: the stored file can no longer be read.",
                    )
                )
                continue
            files.setdefault(code, []).append(file)
    return files


def documents_for_page(user) -> list[StoredDocument]:
    return list(documents_of(user).only("id", "original_name", "kind", "kind_name", "content_type", "size")[:200])
