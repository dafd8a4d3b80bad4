"""The report of an all-or-nothing file import (the catalogue, dossier
components, processes): its errors, and in each subclass what it counted."""

from dataclasses import dataclass, field


@dataclass
class FileImportReport:
    """Nothing is written when `errors` holds one."""

    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors
