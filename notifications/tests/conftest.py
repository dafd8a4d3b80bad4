"""The dossier fixtures (catalogue, points, people, submit, drive) for the
notification tests, which act on dossiers through the dossier services."""

from dossiers.tests.conftest import catalogue, drive, people, points, submit  # noqa: F401
