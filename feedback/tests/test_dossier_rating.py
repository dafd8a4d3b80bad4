"""Ratings of finished dossiers (POST /api/v1/dossiers/{code}/rating/): the
applicant, once, a finished dossier only, read through the dossier core's
one door (`dossier_get_for_user`); the rating lands on the dossier's timeline
and in the Decision 766 indicator. Uses the dossier tests' fixtures."""

import pytest
from rest_framework.test import APIClient

from dossiers.models import DossierEvent
from dossiers.tests.conftest import catalogue, drive, people, points, submit  # noqa: F401 (fixtures)
from feedback.models import Rating

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_the_applicant_rates_a_finished_dossier_once(people, submit, drive):  # noqa: F811
    dossier = submit()
    url = f"/api/v1/dossiers/{dossier.code}/rating/"
    assert _client(people.citizen_a).post(url, {"score": 5}, format="json").status_code == 409  # not finished
    dossier = drive(dossier, "result_returned")
    before = (Rating.objects.count(), DossierEvent.objects.filter(dossier=dossier).count())
    for user, status in (
        (None, 401),
        (people.citizen_b, 404),  # not theirs: as if it did not exist
        (people.processor_other, 404),
        (people.desk_main, 403),  # sees it, did not apply
        (people.processor, 403),
        (people.administrator, 403),
    ):
        assert _client(user).post(url, {"score": 5}, format="json").status_code == status, user
    bad = _client(people.citizen_a).post(url, {"score": 9, "comment": "x" * 1001}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"score", "comment"}
    assert (Rating.objects.count(), DossierEvent.objects.filter(dossier=dossier).count()) == before

    answer = _client(people.citizen_a).post(url, {"score": 3, "comment": "Chờ hơi lâu."}, format="json")
    assert answer.status_code == 201, answer.content
    rating = Rating.objects.get(dossier_id=dossier.pk)
    assert (rating.score, rating.agency_id, rating.service_point_id, rating.rated_by) == (
        3,
        dossier.agency_id,
        dossier.receiving_point_id,
        people.citizen_a,
    )
    event = DossierEvent.objects.filter(dossier=dossier).latest("pk")
    assert (event.action, event.note, event.actor, event.to_status) == (
        "feedback_rating",
        "3/5",
        people.citizen_a,
        "result_returned",
    )
    again = _client(people.citizen_a).post(url, {"score": 5}, format="json")
    assert again.status_code == 409 and Rating.objects.filter(dossier_id=dossier.pk).count() == 1


def test_a_refused_dossier_may_be_rated_too(people, submit, drive):  # noqa: F811
    dossier = drive(submit(), "refused")
    answer = _client(people.citizen_a).post(f"/api/v1/dossiers/{dossier.code}/rating/", {"score": 1}, format="json")
    assert answer.status_code == 201


def test_the_dossier_page_and_api_offer_the_rating_to_the_applicant(people, submit, drive, client):  # noqa: F811
    dossier = drive(submit(), "result_returned")
    applicant = _client(people.citizen_a).get(f"/api/v1/dossiers/{dossier.code}/").json()
    assert applicant["rating"]["may_rate"] is True and applicant["rating"]["score"] is None
    assert _client(people.processor).get(f"/api/v1/dossiers/{dossier.code}/").json()["rating"] is None
    client.force_login(people.citizen_a)
    page = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'id="rating-form"' in page
    sent = client.post(f"/dossiers/{dossier.code}/rating/", {"score": "4", "comment": "Nhanh."})
    assert sent.status_code == 302 and Rating.objects.get(dossier_id=dossier.pk).score == 4
    page = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'id="rating-given"' in page and 'id="rating-form"' not in page
    official = _client(people.processor).get(f"/api/v1/dossiers/{dossier.code}/").json()
    assert official["rating"]["score"] == 4 and official["rating"]["may_rate"] is False
    client.force_login(people.citizen_b)
    assert client.post(f"/dossiers/{dossier.code}/rating/", {"score": "5"}).status_code == 404
