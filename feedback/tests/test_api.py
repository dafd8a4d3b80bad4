"""The feedback API end to end in the test client: submission (signed in,
anonymous with a phone code), bad input named with nothing written, the
workflow table walked, the access matrix over every endpoint (anonymous,
the reporter, another citizen, an official of the routed agency, of another
agency, an administrator) with refused calls changing nothing, follows, and
what the public views never show."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from feedback.models import Feedback, FeedbackEvent, Follow, LocationConsent, Photo, Rating
from feedback.workflow import TRANSITIONS
from gisportal.accounts.models import PhoneCode, SandboxSms, SmsMessage
from gisportal.accounts.sms import sms_deliver

from .conftest import LOCAL, PHONE, PHONE_E164, jpeg_with_gps

pytestmark = pytest.mark.django_db

LIST = "/api/v1/feedback/"
PHONE_CODE = "/api/v1/feedback/phone-code/"


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def body(kinh_bac, **overrides) -> dict:
    values = {
        "category": LOCAL,
        "text": "Đèn đường hỏng cả tuần.",
        "lon": kinh_bac[0],
        "lat": kinh_bac[1],
        "consent_location": True,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def snapshot() -> tuple:
    """Everything a refused call must leave as it was."""
    return (
        list(Feedback.objects.order_by("pk").values_list("pk", "status", "agency_id", "updated_at", "followers")),
        FeedbackEvent.objects.count(),
        Follow.objects.count(),
        Rating.objects.count(),
        Photo.objects.count(),
        LocationConsent.objects.count(),
    )


def send_code(client: APIClient, phone: str = PHONE) -> str:
    """Asks for a code, runs the SMS job and reads the code from the sandbox."""
    answer = client.post(PHONE_CODE, {"phone": phone}, format="json")
    assert answer.status_code == 202, answer.content
    sms_deliver(SmsMessage.objects.latest("pk").pk)
    return re.search(r"\b(\d{6})\b", SandboxSms.objects.latest("pk").text).group(1)


# --- submission -----------------------------------------------------------------------------


def test_a_signed_in_citizen_reports_with_a_photo_and_consent_is_recorded(people, kinh_bac):
    photo = SimpleUploadedFile("o-ga.jpg", jpeg_with_gps(), content_type="image/jpeg")
    answer = client_for(people.reporter).post(LIST, {**body(kinh_bac), "photos": [photo]}, format="multipart")
    assert answer.status_code == 201, answer.content
    data = answer.json()
    report = Feedback.objects.get(public_id=data["id"])
    assert re.fullmatch(r"PA-\d{6}-\d{6}", report.public_id)
    assert (report.reporter_user, report.status, report.agency.code, report.commune.code) == (
        people.reporter,
        "received",
        "ubnd-09187",
        "09187",
    )
    assert answer["Location"] == f"/feedback/{report.public_id}/"
    consent = report.consent
    assert (consent.purpose, consent.text_version, consent.channel) == ("feedback_location", "2025-12", "web")
    assert report.photos.count() == 1 and data["photos"][0]["name"] == "o-ga.jpg"
    event = report.events.get()
    assert (event.action, event.to_status, event.actor, event.to_agency.code) == (
        "receive",
        "received",
        people.reporter,
        "ubnd-09187",
    )


@pytest.mark.parametrize("form", ["json", "multipart"])
def test_the_place_may_be_a_geojson_point(people, kinh_bac, form):
    """`location` as a GeoJSON Point (in a form, its JSON text) puts the report
    where `lon`, `lat` would: same point, same commune, same agency."""
    point = {"type": "Point", "coordinates": [kinh_bac[0], kinh_bac[1]]}
    sent = body(kinh_bac, lon=None, lat=None, location=point if form == "json" else json.dumps(point))
    answer = client_for(people.reporter).post(LIST, sent, format=form)
    assert answer.status_code == 201, answer.content
    report = Feedback.objects.get(public_id=answer.json()["id"])
    assert (report.location.x, report.location.y) == pytest.approx(kinh_bac, abs=1e-12)
    assert (report.commune.code, report.agency.code) == ("09187", "ubnd-09187")


def test_an_anonymous_citizen_reports_with_a_phone_checked_by_a_code(people, kinh_bac):
    client = client_for(None)
    code = send_code(client)
    before = snapshot()
    wrong = client.post(LIST, body(kinh_bac, phone=PHONE, phone_code="000000" if code != "000000" else "111111"))
    assert wrong.status_code == 400 and set(wrong.json()) == {"phone_code"}
    assert snapshot() == before
    answer = client.post(LIST, body(kinh_bac, phone=PHONE, phone_code=code), format="json")
    assert answer.status_code == 201, answer.content
    report = Feedback.objects.get(public_id=answer.json()["id"])
    assert (report.reporter_user, report.reporter_phone, report.reporter_phone_verified) == (None, PHONE_E164, True)
    # The anonymous reporter gets the public view: nothing personal echoed.
    assert PHONE_E164 not in answer.content.decode() and "0912" not in answer.content.decode()
    # The code is used up.
    again = client.post(LIST, body(kinh_bac, phone=PHONE, phone_code=code), format="json")
    assert again.status_code == 400 and "phone_code" in again.json()


def test_a_good_report_is_checked_before_the_code_is_used(people, kinh_bac):
    client = client_for(None)
    code = send_code(client)
    refused = client.post(LIST, body(kinh_bac, category="no-such", phone=PHONE, phone_code=code), format="json")
    assert refused.status_code == 400 and set(refused.json()) == {"category"}
    assert client.post(LIST, body(kinh_bac, phone=PHONE, phone_code=code), format="json").status_code == 201


@pytest.mark.parametrize(
    "overrides, fields",
    [
        ({"category": None}, {"category"}),
        ({"category": "no-such"}, {"category"}),
        ({"text": None}, {"text"}),
        ({"text": "x" * 4001}, {"text"}),
        ({"text": 12}, {"text"}),
        ({"lon": 200}, {"lon"}),
        ({"lat": None}, {"lat"}),
        ({"lon": None, "lat": None}, {"location"}),
        ({"lon": 105.5, "lat": 21.0}, {"location"}),
        ({"consent_location": None}, {"consent_location"}),
        ({"consent_location": False}, {"consent_location"}),
        ({"consent_version": "2019-01"}, {"consent_version"}),
        ({"lon": None, "lat": None, "address": "nowhere at all"}, {"address"}),
        # The place as GeoJSON instead: a Point, WGS84, alone.
        ({"location": {"type": "Point", "coordinates": [106.06, 21.18]}}, {"location"}),  # and lon, lat
        ({"lon": None, "lat": None, "location": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}, {"location"}),
        ({"lon": None, "lat": None, "location": {"type": "Point", "coordinates": [206.0, 21.1]}}, {"location"}),
        ({"lon": None, "lat": None, "location": {"type": "Point", "coordinates": []}}, {"location"}),
        ({"lon": None, "lat": None, "location": {"type": "Point", "coordinates": ["a", "b"]}}, {"location"}),
        ({"lon": None, "lat": None, "location": "POINT (106.06 21.18)"}, {"location"}),  # WKT is not GeoJSON
        ({"lon": None, "lat": None, "location": [106.06, 21.18]}, {"location"}),
        ({"lon": None, "lat": None, "location": {"type": "Point", "coordinates": [105.5, 21.0]}}, {"location"}),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(people, kinh_bac, overrides, fields):
    before = snapshot()
    answer = client_for(people.reporter).post(LIST, body(kinh_bac, **overrides), format="json")
    assert answer.status_code == 400, answer.content
    assert set(answer.json()) == fields
    assert all(" / " in m for messages in answer.json().values() for m in messages)  # Vietnamese / English
    assert snapshot() == before


def test_bad_photos_are_named_and_nothing_is_written(people, kinh_bac, settings, feedback_files):
    settings.FEEDBACK_PHOTO_MAX_COUNT = 2
    before = snapshot()
    cases = [
        [SimpleUploadedFile("a.jpg", b"<html>not an image</html>")],
        [SimpleUploadedFile("a.pdf", b"%PDF-1.4\n%%EOF\n")],  # a document, not a photo
        [SimpleUploadedFile("b.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64)],  # JPEG signature, no image
        [SimpleUploadedFile(f"{i}.jpg", jpeg_with_gps()) for i in range(3)],
    ]
    for photos in cases:
        answer = client_for(people.reporter).post(LIST, {**body(kinh_bac), "photos": photos}, format="multipart")
        assert answer.status_code == 400 and set(answer.json()) == {"photos"}, answer.content
    assert snapshot() == before
    assert not any(feedback_files.rglob("*.*"))


def test_an_anonymous_report_without_a_phone_is_refused(kinh_bac, db):
    answer = client_for(None).post(LIST, body(kinh_bac), format="json")
    assert answer.status_code == 400 and set(answer.json()) == {"phone"}


def test_phone_codes_are_limited_and_named(db):
    client = client_for(None)
    assert client.post(PHONE_CODE, {"phone": "12"}, format="json").json().keys() == {"phone"}
    assert client.post(PHONE_CODE, {"phone": PHONE}, format="json").status_code == 202
    again = client.post(PHONE_CODE, {"phone": PHONE}, format="json")
    assert again.status_code == 429 and 1 <= int(again["Retry-After"]) <= 60
    assert "60" in again.json()["detail"] or "giây" in again.json()["detail"]
    assert PhoneCode.objects.count() == 1


# --- the workflow table -------------------------------------------------------------------------

PATHS = {
    "received": [],
    "in_progress": [("accept", "processor")],
    "refused": [("refuse", "processor")],
    "needs_info": [("request_info", "processor")],
    "answered": [("accept", "processor"), ("answer", "processor")],
    "published": [("accept", "processor"), ("answer", "processor"), ("publish", "leader")],
    "closed": [("accept", "processor"), ("answer", "processor"), ("publish", "leader"), ("close", "reporter")],
}
ROLE_USERS = {"citizen": "reporter", "processing_officer": "processor", "leader": "leader"}


def walk(people, report, state: str):
    for action, who in PATHS[state]:
        answer = client_for(getattr(people, who)).post(
            f"{LIST}{report.public_id}/transitions/", {"action": action, "note": f"bước {action}"}, format="json"
        )
        assert answer.status_code == 200, answer.content
    report.refresh_from_db()
    assert report.status == state
    return report


def test_every_move_of_the_table_from_every_state_for_every_role(people, report):
    """Allowed moves succeed with one event naming who; the others are a 409
    with the allowed actions, and change nothing. One report per state takes
    every refused move; each allowed move gets a report of its own."""
    at_state = {state: walk(people, report(), state) for state in PATHS}
    for transition in TRANSITIONS:
        for state in PATHS:
            for role, attribute in ROLE_USERS.items():
                user = getattr(people, attribute)
                allowed = state in transition.sources and role in transition.roles
                made = walk(people, report(), state) if allowed else at_state[state]
                before = snapshot()
                answer = client_for(user).post(
                    f"{LIST}{made.public_id}/transitions/",
                    {"action": transition.action, "note": "lý do", "agency": "so-y-te"},
                    format="json",
                )
                if allowed:
                    assert answer.status_code == 200, (transition.action, state, role, answer.content)
                    made.refresh_from_db()
                    assert made.status == transition.target
                    event = FeedbackEvent.objects.filter(feedback=made).latest("pk")
                    assert (event.action, event.actor, event.from_status, event.to_status) == (
                        transition.action,
                        user,
                        state,
                        transition.target,
                    )
                else:
                    assert answer.status_code == 409, (transition.action, state, role, answer.content)
                    assert answer.json()["status"] == state
                    assert transition.action not in answer.json()["allowed_actions"]
                    assert snapshot() == before


def test_notes_and_agencies_are_required_where_the_table_says(people, report):
    made = report()
    url = f"{LIST}{made.public_id}/transitions/"
    before = snapshot()
    official = client_for(people.processor)
    assert official.post(url, {"action": "refuse"}, format="json").json().keys() == {"note"}
    assert official.post(url, {"action": "transfer", "note": "x"}, format="json").json().keys() == {"agency"}
    assert official.post(url, {"action": "transfer", "note": "x", "agency": "ubnd-09187"}).json().keys() == {"agency"}
    assert official.post(url, {"action": "fly"}, format="json").json().keys() == {"action"}
    assert official.post(url, [1, 2], format="json").json().keys() == {"body"}
    assert snapshot() == before


def test_publishing_shows_the_approved_text_the_answer_and_the_exact_place(people, report):
    made = walk(people, report(), "answered")
    public = client_for(None).get(f"{LIST}public/{made.public_id}/").json()
    assert public["text"] is None and public["answer"] is None and public["location_exact"] is False
    exact = [made.location.x, made.location.y]
    assert public["location"]["coordinates"] != exact
    lon, lat = public["location"]["coordinates"]
    assert abs(lon - exact[0]) <= 0.0005 + 1e-9 and abs(lat - exact[1]) <= 0.0005 + 1e-9
    client_for(people.leader).post(f"{LIST}{made.public_id}/transitions/", {"action": "publish"}, format="json")
    public = client_for(None).get(f"{LIST}public/{made.public_id}/").json()
    assert public["location"]["coordinates"] == exact and public["location_exact"] is True
    assert public["answer"] == "bước answer"
    # The default public text masks the phone number the reporter wrote.
    assert "0912" not in public["text"] and public["text"].startswith("Ổ gà lớn")


# --- the access matrix --------------------------------------------------------------------------

CALLERS = ["anonymous", "reporter", "other_citizen", "processor", "other_processor", "administrator"]


def caller(people, name):
    return None if name == "anonymous" else getattr(people, name)


@pytest.mark.parametrize(
    "name, detail, photo, listed",
    [
        ("anonymous", 401, 401, None),
        ("reporter", 200, 200, True),
        ("other_citizen", 404, 404, False),
        ("processor", 200, 200, True),
        ("other_processor", 404, 404, False),
        ("administrator", 200, 200, True),
    ],
)
def test_who_reads_a_report_in_full(people, report, name, detail, photo, listed):
    made = report(photos=[])
    from feedback.photos import photos_check

    checked, _ = photos_check([SimpleUploadedFile("p.jpg", jpeg_with_gps())])
    with_photo = report(photos=checked)
    client = client_for(caller(people, name))
    answer = client.get(f"{LIST}{made.public_id}/")
    assert answer.status_code == detail
    photo_id = with_photo.photos.get().pk
    assert client.get(f"{LIST}{with_photo.public_id}/photos/{photo_id}/").status_code == photo
    listing = client.get(LIST)
    if listed is None:
        assert listing.status_code == 401
    else:
        ids = {row["id"] for row in listing.json()["results"]}
        assert (made.public_id in ids) is listed
    if detail == 200:
        data = answer.json()
        assert data["text"].startswith("Ổ gà") and data["reporter"]["signed_in"] is True


@pytest.mark.parametrize(
    "name, code",
    [
        ("anonymous", 401),
        ("reporter", 409),
        ("other_citizen", 404),
        ("processor", 200),
        ("other_processor", 404),
        ("administrator", 409),
    ],
)
def test_who_acts_on_a_report(people, report, name, code):
    made = report()
    before = snapshot()
    answer = client_for(caller(people, name)).post(
        f"{LIST}{made.public_id}/transitions/", {"action": "accept"}, format="json"
    )
    assert answer.status_code == code
    if code != 200:
        assert snapshot() == before
    if name == "administrator":
        assert answer.json()["allowed_actions"] == []


def test_the_agency_that_transferred_a_report_still_reads_it_but_no_longer_acts(people, report):
    made = report()
    client_for(people.processor).post(
        f"{LIST}{made.public_id}/transitions/",
        {"action": "transfer", "note": "Sở Y tế", "agency": "so-y-te"},
        format="json",
    )
    assert client_for(people.processor).get(f"{LIST}{made.public_id}/").status_code == 200
    refused = client_for(people.processor).post(
        f"{LIST}{made.public_id}/transitions/", {"action": "accept"}, format="json"
    )
    assert refused.status_code == 409 and refused.json()["allowed_actions"] == []
    taken = client_for(people.other_processor).post(
        f"{LIST}{made.public_id}/transitions/", {"action": "accept"}, format="json"
    )
    assert taken.status_code == 200


def test_the_phone_is_shown_to_the_handling_agency_and_masked_for_the_others(people, report):
    made = report(reporter_user=None, reporter_phone=PHONE)
    handling = client_for(people.processor).get(f"{LIST}{made.public_id}/").json()
    assert handling["reporter"]["phone"] == PHONE_E164
    administrator = client_for(people.administrator).get(f"{LIST}{made.public_id}/").json()
    assert administrator["reporter"]["phone"] == "091****678"


def test_worklists_filter_late_and_due_soon_reports(people, report):
    from django.utils import timezone

    late, soon, later = report(), report(), report()
    now = timezone.now()
    Feedback.objects.filter(pk=late.pk).update(due_at=now - timezone.timedelta(hours=1))
    Feedback.objects.filter(pk=soon.pk).update(due_at=now + timezone.timedelta(hours=20))
    Feedback.objects.filter(pk=later.pk).update(due_at=now + timezone.timedelta(days=9))
    official = client_for(people.processor)
    ids = lambda params: [r["id"] for r in official.get(LIST, params).json()["results"]]  # noqa: E731
    assert late.public_id in ids({"due": "late"}) and soon.public_id not in ids({"due": "late"})
    assert ids({"due": "soon"})[:1] == [soon.public_id] and later.public_id not in ids({"due": "soon"})
    assert official.get(LIST, {"due": "whenever"}).json().keys() == {"due"}
    assert client_for(people.other_processor).get(LIST, {"due": "late"}).json()["count"] == 0


# --- following ------------------------------------------------------------------------------------


def test_follows_are_recorded_once_per_person(people, report):
    made = report()
    url = f"{LIST}{made.public_id}/follow/"
    assert client_for(people.other_citizen).post(url).status_code == 201
    assert client_for(people.other_citizen).post(url).status_code == 200
    anonymous = client_for(None)
    assert anonymous.post(url, {}, format="json").json().keys() == {"phone", "phone_code"}
    code = send_code(anonymous, "0987 654 321")
    answer = anonymous.post(url, {"phone": "0987654321", "phone_code": code}, format="json")
    assert answer.status_code == 201 and answer.json()["followers"] == 2
    assert list(Follow.objects.filter(feedback=made).values_list("phone", flat=True).order_by("phone")) == [
        "",
        "+84987654321",
    ]
    assert client_for(None).post(f"{LIST}PA-000000-000000/follow/").status_code == 404


# --- public views carry nothing personal ---------------------------------------------------------


def test_public_views_never_show_personal_data(people, report, kinh_bac):
    from feedback.photos import photos_check

    checked, _ = photos_check([SimpleUploadedFile("p.jpg", jpeg_with_gps())])
    made = report(
        reporter_user=None,
        reporter_phone=PHONE,
        photos=checked,
        text="Ông Nguyễn Văn Bình, số 0912 345 678, email binh@example.org, báo ổ gà.",
        address_text="Số 12 ngõ 3 phố Nguyễn Trãi",
    )
    walk(people, made, "published")
    made.refresh_from_db()
    anyone = client_for(None)
    texts = [
        anyone.get(f"{LIST}public/{made.public_id}/").content.decode(),
        anyone.get(f"{LIST}nearby/", {"category": LOCAL, "lon": kinh_bac[0], "lat": kinh_bac[1]}).content.decode(),
        anyone.get(
            f"{LIST}map/",
            {
                "bbox": f"{kinh_bac[0] - 0.01},{kinh_bac[1] - 0.01},{kinh_bac[0] + 0.01},{kinh_bac[1] + 0.01}",
                "zoom": 16,
            },
        ).content.decode(),
        anyone.get(f"/feedback/{made.public_id}/").content.decode(),
    ]
    for text in texts:
        for secret in ("0912", "345 678", PHONE_E164, "binh@example.org", "Nguyễn Trãi", "p.jpg", made.token):
            assert secret not in text, (secret, text[:300])
    public = json.loads(texts[0])
    assert "[e-mail]" in public["text"] and public["photos"]
