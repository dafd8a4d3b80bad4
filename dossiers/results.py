"""The electronic result document of a dossier: the leader's approval
recorded on it. Called by `services._apply` on the `approve` move, inside its
transaction, so the approval and the status change commit together."""

import datetime as dt
import hashlib

from gisportal.accounts.selectors import user_display_name
from gisportal.api import message

from .attachments import attachment_read
from .errors import TransitionNotAllowed
from .models import Dossier, ResultDocument


def result_newest(dossier: Dossier) -> ResultDocument | None:
    return dossier.result_documents.order_by("-uploaded_at", "-id").first()


def result_approve(dossier: Dossier, *, user, at: dt.datetime) -> ResultDocument | None:
    """Records the approval (who, when, SHA-256 of the bytes as they are now)
    on the newest result document, if the dossier has one. Refuses (409) a
    document whose file is missing or no longer the one uploaded."""
    document = dossier.result_documents.select_for_update().order_by("-uploaded_at", "-id").first()
    if document is None:
        return None
    try:
        digest = hashlib.sha256(attachment_read(document.stored_name)).hexdigest()
    except FileNotFoundError:
        digest = None
    if digest != document.sha256:
        raise TransitionNotAllowed(
            action="approve",
            status=dossier.status,
            allowed=[],
            text=message(
                "Tệp kết quả điện tử bị thiếu hoặc đã thay đổi sau khi tải lên; cần đính kèm lại trước khi phê duyệt.",
                "The result document is missing or changed since it was attached; attach it again before approving.",
            ),
        )
    document.approved_by = user
    document.approved_by_name = user_display_name(user) if user is not None else ""
    document.approved_at = at
    document.approved_sha256 = digest
    document.save(update_fields=["approved_by", "approved_by_name", "approved_at", "approved_sha256"])
    return document
