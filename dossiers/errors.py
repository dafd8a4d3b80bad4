"""Domain errors of the dossier services; the API maps them to 400, 404, 409
and 422 with messages in Vietnamese and English."""

from gisportal.api import message


class DossierInputError(Exception):
    """Bad input: maps each field to its messages (400)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def one(cls, field: str, vi: str, en: str) -> "DossierInputError":
        return cls({field: [message(vi, en)]})


class DossierInputRefused(DossierInputError):
    """Well-formed input the rules refuse, e.g. an officer who does not work
    for the agency handling the dossier: maps each field to its messages (422)."""


class TransitionNotAllowed(Exception):
    """The move is not in the table for this state or this role, or the
    caller may read the dossier but not act on it (409)."""

    def __init__(self, *, action: str, status: str, allowed: list[str], text: str | None = None):
        self.action, self.status, self.allowed = action, status, allowed
        self.read_only = False
        listed = ", ".join(allowed) or "—"
        super().__init__(
            text
            or message(
                f"Không thể thực hiện '{action}' khi hồ sơ ở trạng thái '{status}' với vai trò của bạn. "
                f"Thao tác được phép: {listed}.",
                f"'{action}' is not allowed from status '{status}' for your role. Allowed: {listed}.",
            )
        )

    @classmethod
    def read_only(cls, *, action: str, status: str, handled_by: str) -> "TransitionNotAllowed":
        """The caller sees the dossier (an administrator, or the agency that
        owns the procedure after a transfer) but may not act on it."""
        refused = cls(
            action=action,
            status=status,
            allowed=[],
            text=message(
                f"Bạn chỉ được xem hồ sơ này, không được xử lý ('{action}'): hồ sơ đang do {handled_by} giải quyết.",
                f"You may read this dossier but not act on it ('{action}'): it is now handled by {handled_by}.",
            ),
        )
        refused.read_only = True
        return refused


class IdempotencyConflict(Exception):
    """Same Idempotency-Key, different body (422)."""

    def __init__(self) -> None:
        super().__init__(
            message(
                "Khóa Idempotency-Key đã được dùng cho một hồ sơ có nội dung khác.",
                "This Idempotency-Key was already used with a different request body.",
            )
        )
