# ruff: noqa: F811  (the fixtures imported below are arguments of the tests)
"""The answer to POST /api/v1/dossiers/ is built from what the submission
wrote (issue #13): it must stay, field by field, what a later GET of the
same dossier answers, whoever submits (citizen online, desk in person, post
office counter), with e-forms and component files, a fee (the payment
request a desk's receipt opens), the post both ways (the inbound shipment).
And the catalogue rows a submission looks up are kept per process only while
the database's version of them (migration 0018) stays the same."""

import importlib

import pytest
from django.db import connection

from dossiers.lookups import TABLES_WATCHED, lookup_version, lookups_current
from dossiers.models import CalendarException, Dossier, Procedure
from dossiers.tests.conftest import (  # noqa: F401  (fixtures)
    api_payload,
    catalogue,
    people,
    points,
)
from dossiers.tests.test_components import ANSWERS, complete, components  # noqa: F401  (fixture)
from dossiers.tests.test_submit import PDF, PNG, upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/dossiers/"
# A point in Phường Kinh Bắc (09187), where the demo desk and post office stand.
KINH_BAC = (106.0763, 21.1861)


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private-dossiers"
    return settings.DOSSIER_FILES_ROOT


def assert_answer_is_the_dossier(client, response) -> dict:
    """The POST's answer against a GET of the same dossier, key by key."""
    assert response.status_code == 201, response.content
    posted = response.json()
    fetched = client.get(posted["url"])
    assert fetched.status_code == 200
    got = fetched.json()
    assert list(posted) == list(got)
    for key in got:
        assert posted[key] == got[key], key
    return posted


def test_a_citizen_online_without_files(client_as, people, api_payload):
    client = client_as(people.citizen_a)
    posted = assert_answer_is_the_dossier(client, client.post(URL, api_payload(), format="json"))
    assert posted["status"] == "waiting_receipt"
    assert [e["action"] for e in posted["events"]] == ["submit"]


def test_a_citizen_with_eform_and_component_files(client_as, people, api_payload, components, files_root):
    client = client_as(people.citizen_a)
    body = complete(api_payload, **{"components[anh]": upload("anh.png", PNG)})
    posted = assert_answer_is_the_dossier(client, client.post(URL, body, format="multipart"))
    assert [f["answers"] for f in posted["forms"]] == [ANSWERS]
    assert [a["component"] for a in posted["attachments"]] == ["cccd", "cccd", "giay-chung-sinh", "anh"]


def test_a_citizen_with_eform_and_untagged_files(client_as, people, api_payload, components, files_root):
    client = client_as(people.citizen_a)
    body = complete(api_payload, attachments=[upload("thu.pdf", PDF)])
    posted = assert_answer_is_the_dossier(client, client.post(URL, body, format="multipart"))
    assert {a["component"] for a in posted["attachments"]} == {None, "cccd", "giay-chung-sinh"}


def test_post_both_ways_with_a_fee(client_as, people, api_payload, catalogue):
    Procedure.objects.filter(pk=catalogue.main.pk).update(fee_vnd=50_000)
    client = client_as(people.citizen_a)
    body = api_payload(
        postal_pickup="home",
        lon=KINH_BAC[0],
        lat=KINH_BAC[1],
        result_delivery="post",
        delivery_address="Số 5 Ngô Gia Tự",
        delivery_lon=KINH_BAC[0],
        delivery_lat=KINH_BAC[1],
    )
    posted = assert_answer_is_the_dossier(client, client.post(URL, body, format="json"))
    assert posted["shipments"] and posted["payment"]["fee_vnd"] == 50_000


def test_a_desk_receives_a_dossier_with_a_fee(client_as, people, api_payload, catalogue):
    Procedure.objects.filter(pk=catalogue.main.pk).update(fee_vnd=30_000)
    client = client_as(people.desk_main)
    posted = assert_answer_is_the_dossier(client, client.post(URL, api_payload(channel=1), format="json"))
    # The payment app's subscriber wrote its request and its event in the submission's transaction.
    assert [e["action"] for e in posted["events"]] == ["receive", "payment_requested"]
    assert posted["payment"]["open_reference"]


def test_a_commune_desk_receives_a_commune_procedure(client_as, people, api_payload, catalogue, points):
    client = client_as(people.desk_commune)
    body = api_payload(channel=1, procedure=catalogue.commune.code, receiving_point=points.desk.code)
    posted = assert_answer_is_the_dossier(client, client.post(URL, body, format="json"))
    assert posted["agency"]["code"] == "h4-ubnd-test"


def test_a_post_office_counter_with_result_by_post(client_as, people, api_payload):
    client = client_as(people.post_clerk)
    body = api_payload(channel=3, result_delivery="post", delivery_address="Số 5 Ngô Gia Tự")
    posted = assert_answer_is_the_dossier(client, client.post(URL, body, format="json"))
    assert posted["channel"] == 3


def test_a_replay_answers_the_same_as_the_first_try(client_as, people, api_payload):
    client = client_as(people.citizen_a)
    first = client.post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-answer")
    again = client.post(URL, api_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-answer")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()


# --- the look-ups kept per process --------------------------------------------------------


def test_a_warm_submission_reads_no_catalogue_row(client_as, people, api_payload, django_assert_num_queries):
    client = client_as(people.citizen_a)
    client.post(URL, api_payload(), format="json")
    # version, BEGIN, code counter, dossier, event, the post's check, COMMIT,
    # then the answer's shipment section (no payment request before a receipt: none read).
    with django_assert_num_queries(8):
        assert client.post(URL, api_payload(), format="json").status_code == 201


def test_a_catalogue_change_is_seen_by_the_next_submission(client_as, people, api_payload, catalogue):
    client = client_as(people.citizen_a)
    assert client.post(URL, api_payload(), format="json").status_code == 201
    Procedure.objects.filter(pk=catalogue.main.pk).update(name="Tên mới (thử)", processing_days=9)
    posted = client.post(URL, api_payload(channel=2), format="json").json()
    assert posted["procedure"]["name"] == "Tên mới (thử)"
    Procedure.objects.filter(pk=catalogue.main.pk).update(is_active=False)
    refused = client.post(URL, api_payload(), format="json")
    assert refused.status_code == 400 and list(refused.json()) == ["procedure"]


def test_a_calendar_exception_moves_the_next_due_date(client_as, people, api_payload):
    client = client_as(people.desk_main)
    first = Dossier.objects.get(code=client.post(URL, api_payload(channel=1), format="json").json()["code"])
    # Every day from the receipt to well past the first due date becomes a day off.
    day = first.received_at.date()
    CalendarException.objects.bulk_create(
        CalendarException(date=day.fromordinal(day.toordinal() + i), kind="off") for i in range(1, 30)
    )
    second = Dossier.objects.get(code=client.post(URL, api_payload(channel=1), format="json").json()["code"])
    assert second.due_at > first.due_at


# The tables the migration puts its trigger on (one list: the migration's).
WATCHED = importlib.import_module("dossiers.migrations.0018_lookup_version").TABLES


def test_the_version_requires_every_watched_table_s_trigger():
    assert len(WATCHED) == TABLES_WATCHED


@pytest.mark.parametrize("table", WATCHED)
def test_every_looked_up_table_moves_the_version(table):
    before = lookup_version()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id WHERE false")  # a statement, even of no row
    after = lookup_version()
    assert None not in (before, after) and after != before


def test_without_its_triggers_nothing_is_kept():
    """The Citus mode drops the triggers on reference tables; one missing is enough."""
    assert lookups_current().get("x", lambda: 1) == 1
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER dossiers_lookup_version_bump ON layers_servicepoint")
    assert lookup_version() is None
    lookups = lookups_current()
    made = []
    assert [lookups.get("x", lambda: made.append(1) or len(made)) for _ in range(2)] == [1, 2]
