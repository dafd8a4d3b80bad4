"""Test-wide fixtures: the real PostGIS test database, loaded once per run
with the Bắc Ninh units of both eras and the demo service points. Tests run
inside transactions on top of that data and leave it as it was."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("load_demo", verbosity=0)


@pytest.fixture
def api(db) -> APIClient:
    return APIClient()
