"""Test-wide fixtures: the real PostGIS test database, loaded once per run
with the Bắc Ninh units of both eras and the demo service points. Tests run
inside transactions on top of that data and leave it as it was."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

# The project's own server and Celery worker for end-to-end tests.
pytest_plugins = ["tests.live"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        # Everything but the dossier history: tests that need one generate it.
        call_command("load_demo", dossiers=0, verbosity=0)


@pytest.fixture
def api(db) -> APIClient:
    return APIClient()


STRONG_PASSWORD = "x-Strong-pass-1"


@pytest.fixture
def make_user(db):
    """make_user("name", role="processing_officer", agency="so-y-te"): a user
    with a profile; agencies are the demo ones loaded with the data."""
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure

    def make(username: str, *, role: str = "citizen", agency: str | None = None):
        agency_obj = Agency.objects.get(code=agency) if agency else None
        return user_ensure(username=username, password=STRONG_PASSWORD, role=role, agency=agency_obj)

    return make


@pytest.fixture
def client_as(db):
    """client_as(user) -> an APIClient logged in as that user (None: anonymous)."""

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
