"""Domain errors of the feedback services; the API maps them to 400, 404,
409 and 403 with messages in Vietnamese and English."""

from gisportal.api import message


class FeedbackInputError(Exception):
    """Bad input: maps each field to its messages (400)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def one(cls, field: str, vi: str, en: str) -> "FeedbackInputError":
        return cls({field: [message(vi, en)]})


class FeedbackNotAllowed(Exception):
    """The move is not in the table for this status or role, or the caller
    may read the report but not act on it (409)."""

    def __init__(self, text: str, *, status: str, allowed: list[str]):
        super().__init__(text)
        self.status, self.allowed = status, allowed


class RatingNotAllowed(Exception):
    """The caller sees the dossier or report but may not rate it (403), or it
    cannot be rated now (409: not finished, already rated)."""

    def __init__(self, text: str, *, status_code: int):
        super().__init__(text)
        self.status_code = status_code
