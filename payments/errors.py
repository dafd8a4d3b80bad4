"""Domain errors of the payment services; the API and the pages turn them
into 400, 403 and 409 answers with messages in Vietnamese and English."""

from gisportal.api import message


class PaymentInputError(Exception):
    """Bad input: maps each field to its messages (400); nothing changed."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def one(cls, field: str, vi: str, en: str) -> "PaymentInputError":
        return cls({field: [message(vi, en)]})


class PaymentForbidden(Exception):
    """The caller sees the dossier but their role or office may not do this (403)."""

    def __init__(self, vi: str, en: str):
        super().__init__(message(vi, en))


class PaymentConflict(Exception):
    """The request is not in a state that allows this (409): nothing open to
    pay, already paid, expired."""

    def __init__(self, vi: str, en: str, *, status: str | None = None):
        super().__init__(message(vi, en))
        self.status = status
