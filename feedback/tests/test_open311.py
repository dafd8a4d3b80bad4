"""Open311 GeoReport v2 (/open311/v2/).

Against the project's own server (`live_server_url`): the `georeport` client
from PyPI, unmodified, discovers the services and reads requests back in
JSON and XML; it cannot post (no version of it does), so posting and tokens
go through plain HTTP (`requests`) as an Open311 client sends them, form-
encoded, in both formats; every answer is checked against the field lists of
the specification. In the test client: errors in the Open311 format with the
right status, filters, the 90-day rule, API keys, rate limits, and that GET
answers carry no personal data."""

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
import xmltodict
from django.utils import timezone
from georeport import GeoReport
from rest_framework.test import APIClient

from feedback.models import ApiKey, Category, Feedback, LocationConsent
from feedback.open311 import api_key_issue

from .conftest import KINH_BAC, LOCAL, point_in

pytestmark = pytest.mark.django_db
ROOT = "/open311/v2"

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip
POSTED_FIELDS = {"service_request_id", "service_notice", "account_id", "token"}


@pytest.fixture(scope="module")
def live_key(django_db_setup, django_db_blocker):
    """An API key committed for the server process; the requests it posted
    are removed afterwards."""
    with django_db_blocker.unblock():
        key, secret = api_key_issue(name=f"Open311 test {uuid.uuid4().hex[:6]}", consent_terms_version="2025-12")
        place = point_in(KINH_BAC)
    try:
        yield {"key": secret, "place": place}
    finally:
        with django_db_blocker.unblock():
            posted = Feedback.objects.filter(api_key=key)
            for report in posted:
                report.delete()  # its events and consent go with it
            key.delete()


def _xml(response) -> ET.Element:
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def _children(element: ET.Element) -> set[str]:
    return {child.tag for child in element}


def test_the_georeport_client_discovers_posts_and_reads_back_in_json_and_xml(live_server_url, live_key):
    root = f"{live_server_url}{ROOT}"
    lon, lat = live_key["place"]
    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction="bacninh.gov.vn", output_format=fmt)
        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert LOCAL in codes and set(services[0]) == SERVICE_FIELDS
        definition = client.get_service_definition(LOCAL)
        assert definition["service_code"] == LOCAL

        # Posting: form-encoded, as the specification says, with the key.
        posted = requests.post(
            f"{root}/requests.{fmt}",
            data={
                "api_key": live_key["key"],
                "jurisdiction_id": "bacninh.gov.vn",
                "service_code": LOCAL,
                "lat": str(lat),
                "long": str(lon),
                "description": f"Ổ gà trên đường ({fmt}).",
                "first_name": "Lan",
                "last_name": "Phạm",
                "phone": "0912 000 222",
                "email": "lan@example.org",
            },
            timeout=10,
        )
        assert posted.status_code == 201, posted.text
        if fmt == "json":
            (answer,) = posted.json()
        else:
            (request,) = _xml(posted)
            assert _children(request) == POSTED_FIELDS
            answer = {child.tag: child.text for child in request}
        assert set(answer) == POSTED_FIELDS
        request_id, token = answer["service_request_id"], answer["token"]

        # Back through the client: by id, in the list, by its token.
        one = client.get_service_request(request_id)
        assert (one["service_request_id"], one["status"], one["service_code"]) == (request_id, "open", LOCAL)
        assert set(one) == REQUEST_FIELDS
        listed = client.get_service_requests(service_code=LOCAL, status="open")
        listed = [listed] if isinstance(listed, dict) else listed
        assert request_id in {r["service_request_id"] for r in listed}
        by_id = client.get_service_requests(service_request_id=request_id)
        by_id = by_id if isinstance(by_id, dict) else by_id[0]
        assert by_id["service_request_id"] == request_id
        tokens = requests.get(f"{root}/tokens/{token}.{fmt}", timeout=10)
        found = tokens.json()[0] if fmt == "json" else xmltodict.parse(tokens.content)["service_requests"]["request"]
        assert found == {"service_request_id": request_id, "token": token}
        # Nothing personal comes back.
        text = requests.get(f"{root}/requests/{request_id}.{fmt}", timeout=10).text
        for secret in ("Lan", "Phạm", "0912", "lan@example.org", token):
            assert secret not in text


def test_a_posted_request_is_routed_and_records_the_keys_consent(live_server_url, live_key):
    lon, lat = live_key["place"]
    posted = requests.post(
        f"{live_server_url}{ROOT}/requests.json",
        data={"api_key": live_key["key"], "service_code": LOCAL, "lat": lat, "long": lon, "description": "Rác."},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    report = Feedback.objects.get(public_id=posted.json()[0]["service_request_id"])
    assert (report.channel, report.agency.code, report.commune.code) == ("open311", f"ubnd-{KINH_BAC}", KINH_BAC)
    consent = LocationConsent.objects.get(feedback=report)
    assert consent.text_version == "2025-12" and consent.given_via.startswith("Open311: Open311 test")


# --- in the test client -----------------------------------------------------------------------


@pytest.fixture
def key(db):
    row, secret = api_key_issue(name="Test client", consent_terms_version="2025-12", rate="100/min")
    return row, secret


def post(client, fmt="json", **data):
    return client.post(f"{ROOT}/requests.{fmt}", data)


def errors(response, fmt="json") -> list[dict]:
    if fmt == "json":
        assert response["Content-Type"].startswith("application/json")
        return response.json()
    element = ET.fromstring(response.content)
    assert element.tag == "errors"
    return [{child.tag: child.text for child in error} for error in element]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_are_open311_lists_with_the_right_status(key, kinh_bac, fmt):
    _row, secret = key
    client = APIClient()
    before = Feedback.objects.count()
    lon, lat = kinh_bac
    good = {"api_key": secret, "service_code": LOCAL, "lat": lat, "long": lon, "description": "x"}
    too_long = {"start_date": "2025-01-01T00:00:00Z", "end_date": "2025-06-01T00:00:00Z"}
    cases = [
        (post(client, fmt, **{**good, "api_key": ""}), 403, "api_key"),
        (post(client, fmt, **{**good, "api_key": "o311_nope"}), 403, "api_key"),
        (post(client, fmt, **{**good, "service_code": "nope"}), 400, "service_code"),
        (post(client, fmt, **{k: v for k, v in good.items() if k not in ("lat", "long")}), 400, "lat"),
        (post(client, fmt, **{k: v for k, v in good.items() if k != "description"}), 400, "description"),
        (post(client, fmt, **{**good, "description": "x" * 4001}), 400, "description"),
        (post(client, fmt, **{**good, "lat": "91"}), 400, "lat"),
        (client.get(f"{ROOT}/services/nope.{fmt}"), 404, "service_code"),
        (client.get(f"{ROOT}/requests/PA-000000-000000.{fmt}"), 404, "service_request_id"),
        (client.get(f"{ROOT}/tokens/nope.{fmt}"), 404, "token"),
        (client.get(f"{ROOT}/services.{fmt}", {"jurisdiction_id": "hanoi.gov.vn"}), 404, "jurisdiction_id"),
        (client.get(f"{ROOT}/requests.{fmt}", {"start_date": "yesterday"}), 400, "start_date"),
        (client.get(f"{ROOT}/requests.{fmt}", {"status": "pending"}), 400, "status"),
        (client.get(f"{ROOT}/requests.{fmt}", too_long), 400, "90"),
        (client.put(f"{ROOT}/requests.{fmt}"), 405, "Method"),
    ]
    for response, status, mentioned in cases:
        assert response.status_code == status, (mentioned, response.content)
        listed = errors(response, fmt)
        assert listed and all(set(e) == {"code", "description"} for e in listed)
        assert int(listed[0]["code"]) == status and any(mentioned in e["description"] for e in listed), listed
    assert Feedback.objects.count() == before
    assert client.get(f"{ROOT}/services.csv").status_code == 404


def test_a_revoked_key_is_refused_and_a_keys_rate_is_kept(kinh_bac):
    row, secret = api_key_issue(name="Slow client", consent_terms_version="2025-12", rate="3/min")
    client = APIClient()
    lon, lat = kinh_bac
    for _ in range(3):
        assert (
            post(client, api_key=secret, service_code=LOCAL, lat=lat, long=lon, description="ổ gà").status_code == 201
        )
    limited = post(client, api_key=secret, service_code=LOCAL, lat=lat, long=lon, description="ổ gà")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert errors(limited)[0]["code"] == 429
    ApiKey.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert post(client, api_key=secret, service_code=LOCAL, lat=lat, long=lon, description="x").status_code == 403
    assert ApiKey.objects.get(pk=row.pk).last_used_at is not None
    assert "o311_" not in ApiKey.objects.get(pk=row.pk).key_hash


def test_an_address_string_finds_its_commune(key, db):
    _row, secret = key
    answer = post(APIClient(), api_key=secret, service_code=LOCAL, address_string="cho Kinh Bac", description="x")
    assert answer.status_code == 201, answer.content
    report = Feedback.objects.get(public_id=answer.json()[0]["service_request_id"])
    assert (report.commune.code, report.location_source) == (KINH_BAC, "address")


def test_requests_filters_default_to_ninety_days_and_map_statuses(people, report):
    old = report()
    Feedback.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=120))
    recent_open, refused = report(), report()
    from feedback.services import feedback_transition

    feedback_transition(public_id=refused.public_id, action="refuse", acting_user=people.processor, note="Sai nơi.")
    client = APIClient()
    listed = {r["service_request_id"]: r for r in client.get(f"{ROOT}/requests.json").json()}
    assert old.public_id not in listed and {recent_open.public_id, refused.public_id} <= set(listed)
    assert listed[refused.public_id]["status"] == "closed"
    assert "Sai nơi." in listed[refused.public_id]["status_notes"]
    assert listed[recent_open.public_id]["status"] == "open"
    assert listed[recent_open.public_id]["agency_responsible"] == f"Ủy ban nhân dân {old.commune.full_name}"
    start = (timezone.now() - dt.timedelta(days=130)).isoformat()
    window = client.get(f"{ROOT}/requests.json", {"start_date": start, "end_date": timezone.now().isoformat()})
    assert window.status_code == 400  # more than 90 days
    ranged = client.get(f"{ROOT}/requests.json", {"start_date": start}).json()
    assert old.public_id in {r["service_request_id"] for r in ranged}
    closed = client.get(f"{ROOT}/requests.json", {"status": "closed"}).json()
    assert {r["status"] for r in closed} == {"closed"}
    both = client.get(f"{ROOT}/requests.json", {"service_request_id": f"{old.public_id},{refused.public_id}"}).json()
    assert {r["service_request_id"] for r in both} == {old.public_id, refused.public_id}  # overrides the 90 days


def test_xml_requests_carry_the_specs_fields(report):
    made = report()
    answer = APIClient().get(f"{ROOT}/requests/{made.public_id}.xml")
    (request,) = ET.fromstring(answer.content)
    assert request.tag == "request" and _children(request) == REQUEST_FIELDS
    values = {child.tag: child.text for child in request}
    assert values["status"] == "open" and values["service_code"] == LOCAL
    assert dt.datetime.fromisoformat(values["requested_datetime"]).utcoffset() == dt.timedelta(hours=7)
    services = ET.fromstring(APIClient().get(f"{ROOT}/services.xml").content)
    assert services.tag == "services" and all(_children(s) == SERVICE_FIELDS for s in services)
    assert len(services) == Category.objects.filter(is_active=True).count()
