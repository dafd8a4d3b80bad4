"""The fault drills' accounts work against the API as the drills use them
(the script is run by hand, so its set-up is checked here)."""

import sys

import pytest
from django.conf import settings


@pytest.fixture
def drills():
    sys.path.insert(0, str(settings.BASE_DIR / "bench"))
    try:
        import drills

        yield drills
    finally:
        sys.path.remove(str(settings.BASE_DIR / "bench"))


@pytest.mark.django_db
def test_the_drill_tokens_sign_in_the_citizen_and_the_layer_editor(drills, client):
    tokens = drills._drill_accounts()

    mine = client.get("/api/v1/dossiers/", HTTP_AUTHORIZATION=f"Token {tokens['citizen']}")
    assert mine.status_code == 200, mine.content
    layer = client.get(f"/api/v1/layers/{drills.LAYER}/features/", HTTP_AUTHORIZATION=f"Token {tokens['official']}")
    assert layer.status_code == 200, layer.content
    anonymous = client.get(f"/api/v1/layers/{drills.LAYER}/features/")
    assert anonymous.status_code == 404  # internal layer: the token is what opened it
    bad = client.get("/api/v1/dossiers/", HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.status_code == 401
