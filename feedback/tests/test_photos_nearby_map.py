"""Photos lose their EXIF (GPS included) in the public copy and keep it in the
private original, read back with Pillow; nearby reports are those a pyproj
geodesic computation puts within 50 m and 30 days; the public map's points
and clusters count what a plain filter counts, in a fixed number of queries;
the reporter rates a published answer once."""

import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from pyproj import Geod
from rest_framework.test import APIClient

from feedback.models import Feedback, Rating
from feedback.photos import photo_path, photos_check
from feedback.selectors import mercator
from feedback.services import feedback_transition

from .conftest import LOCAL, PHONE, SECTOR, jpeg_with_gps, png_bytes

pytestmark = pytest.mark.django_db
GEOD = Geod(ellps="WGS84")
GPS_IFD = 0x8825


def test_the_public_copy_of_a_photo_has_no_exif_and_the_original_keeps_it(people, report):
    original = jpeg_with_gps(size=(640, 480))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test photo has a position
    checked, problems = photos_check(
        [SimpleUploadedFile("o-ga.jpg", original), SimpleUploadedFile("so-do.png", png_bytes())]
    )
    assert problems == []
    made = report(photos=checked)
    first, second = made.photos.order_by("pk")
    public = Image.open(photo_path("public", first.public_stored))
    assert public.format == "JPEG"
    assert dict(public.getexif()) == {} and not public.getexif().get_ifd(GPS_IFD)
    assert "exif" not in public.info and "icc_profile" not in public.info and "xmp" not in public.info
    # Turned upright by its orientation tag (6: 90°), then no tag is left to turn it again.
    assert (public.width, public.height) == (480, 640) == (first.width, first.height)
    kept = Image.open(photo_path("original", first.original_stored))
    assert kept.getexif().get_ifd(GPS_IFD)[2] == (21.0, 1.0, 42.0)
    assert photo_path("original", first.original_stored).read_bytes() == original
    assert Image.open(photo_path("public", second.public_stored)).format == "JPEG"

    # Served: the public copy only once published; the original to those who see the report.
    anyone = APIClient()
    url = f"/feedback/{made.public_id}/photos/{first.pk}.jpg"
    assert anyone.get(url).status_code == 404
    for action, who in (("accept", people.processor), ("answer", people.processor), ("publish", people.leader)):
        feedback_transition(public_id=made.public_id, action=action, acting_user=who, note="x")
    served = anyone.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(b"".join(served.streaming_content))).getexif().get_ifd(GPS_IFD)
    official = APIClient()
    official.force_authenticate(people.processor)
    got = official.get(f"/api/v1/feedback/{made.public_id}/photos/{first.pk}/")
    assert got["Cache-Control"] == "private, no-store"
    assert b"".join(got.streaming_content) == original


def test_a_huge_image_is_refused_before_it_is_decoded(settings):
    settings.FEEDBACK_PHOTO_MAX_PIXELS = 1000
    checked, problems = photos_check([SimpleUploadedFile("big.png", png_bytes(size=(100, 100)))])
    assert checked == [] and len(problems) == 1 and "big.png" in problems[0]


def test_nearby_reports_are_those_within_fifty_geodesic_metres_and_thirty_days(people, report, kinh_bac):
    lon0, lat0 = kinh_bac
    placed = {}
    for metres, azimuth in ((0, 0), (12, 30), (35, 100), (49, 200), (51, 250), (80, 300), (47, 45)):
        lon, lat, _ = GEOD.fwd(lon0, lat0, azimuth, metres)
        placed[report(lon=lon, lat=lat).public_id] = (lon, lat)
    old = report(lon=GEOD.fwd(lon0, lat0, 10, 10)[0], lat=GEOD.fwd(lon0, lat0, 10, 10)[1])
    Feedback.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=31))
    other = report(category_code=SECTOR)
    answer = APIClient().get("/api/v1/feedback/nearby/", {"category": LOCAL, "lon": lon0, "lat": lat0})
    assert answer.status_code == 200
    found = {r["id"]: r["distance_m"] for r in answer.json()["results"]}
    expected = {}
    for public_id, (lon, lat) in placed.items():
        _, _, metres = GEOD.inv(lon0, lat0, lon, lat)
        if metres <= 50:
            expected[public_id] = round(metres, -1)
    assert found == expected and len(expected) == 5
    assert old.public_id not in found and other.public_id not in found
    distances = [r["distance_m"] for r in answer.json()["results"]]
    assert distances == sorted(distances)
    bad = APIClient().get("/api/v1/feedback/nearby/", {"category": "nope", "lon": "x"})
    assert bad.status_code == 400 and set(bad.json()) == {"category", "lon", "lat"}


def _bbox(lon, lat, d=0.02):
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


def test_the_public_map_gives_points_up_close_and_clusters_further_out(
    people, report, kinh_bac, django_assert_num_queries
):
    lon0, lat0 = kinh_bac
    made = [report(lon=lon0 + 0.001 * i, lat=lat0 + 0.0007 * i) for i in range(6)]
    made.append(report(lon=lon0, lat=lat0, category_code=SECTOR))
    feedback_transition(public_id=made[0].public_id, action="refuse", acting_user=people.processor, note="x")
    client = APIClient()
    with django_assert_num_queries(1):
        close = client.get("/api/v1/feedback/map/", {"bbox": _bbox(lon0, lat0), "zoom": 16}).json()
    assert close["clustered"] is False
    ids = {f["id"] for f in close["features"]}
    assert {r.public_id for r in made} <= ids
    by_id = {f["id"]: f for f in close["features"]}
    for r in made:  # not published: snapped to the 0.001° grid
        lon, lat = by_id[r.public_id]["geometry"]["coordinates"]
        assert re.fullmatch(r"-?\d+\.\d{1,3}", repr(round(lon, 6))) and abs(lon - r.location.x) <= 0.0005 + 1e-9
        assert abs(lat - r.location.y) <= 0.0005 + 1e-9
    far_view = {"bbox": _bbox(lon0, lat0, 1), "zoom": 8, "category": LOCAL}
    # The category, the data's version, then the tiles counted in one query
    # (in a savepoint that raises work_mem for it).
    with django_assert_num_queries(6):
        far = client.get("/api/v1/feedback/map/", far_view).json()
    assert far["clustered"] is True
    expected = Feedback.objects.filter(category__code=LOCAL).count()
    assert sum(f["properties"]["count"] for f in far["features"]) == expected
    with django_assert_num_queries(2):  # the same view again: its tiles come from the cache
        assert client.get("/api/v1/feedback/map/", far_view).json() == far
    report(lon=lon0 + 0.01, lat=lat0)  # a new report: the tiles are counted again
    again = client.get("/api/v1/feedback/map/", far_view).json()
    assert sum(f["properties"]["count"] for f in again["features"]) == expected + 1
    open_only = client.get("/api/v1/feedback/map/", {"bbox": _bbox(lon0, lat0, 1), "zoom": 8, "status": "open"}).json()
    assert (
        sum(f["properties"]["count"] for f in open_only["features"])
        == Feedback.objects.filter(status__in=["received", "needs_info", "in_progress"]).count()
    )
    past = client.get(
        "/api/v1/feedback/map/", {"bbox": _bbox(lon0, lat0, 1), "zoom": 8, "from": "2019-01-01", "to": "2020-01-01"}
    ).json()
    assert past["features"] == []
    assert client.get("/api/v1/feedback/map/", {"zoom": 30}).json().keys() == {"bbox", "zoom"}
    # The whole world up close: counted as coarser cells, at most MAX_TILES tiles.
    world = client.get("/api/v1/feedback/map/", {"bbox": "-180,-85,180,85", "zoom": 13}).json()
    assert world["clustered"] is True
    assert sum(f["properties"]["count"] for f in world["features"]) == Feedback.objects.count()
    # The stored positions are EPSG:3857 metres: Bắc Ninh's centre, checked against pyproj.
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon0, lat0)
    assert mercator(lon0, lat0) == pytest.approx((x, y), abs=0.01)


def test_the_reporter_rates_a_published_answer_once(people, report):
    made = report()
    signed_in = APIClient()
    signed_in.force_authenticate(people.reporter)
    url = f"/api/v1/feedback/{made.public_id}/rating/"
    assert signed_in.post(url, {"score": 5}, format="json").status_code == 409  # not answered yet
    for action, who in (("accept", people.processor), ("answer", people.processor), ("publish", people.leader)):
        feedback_transition(public_id=made.public_id, action=action, acting_user=who, note="x")
    other = APIClient()
    other.force_authenticate(people.other_citizen)
    assert other.post(url, {"score": 5}, format="json").status_code == 404
    for bad in ({"score": 0}, {"score": 6}, {"score": "five"}, {"score": True}, {}):
        answer = signed_in.post(url, bad, format="json")
        assert answer.status_code == 400 and set(answer.json()) == {"score"}
    assert signed_in.post(url, {"score": 4, "comment": "Đã sửa nhanh."}, format="json").status_code == 201
    assert signed_in.post(url, {"score": 1}, format="json").status_code == 409
    rating = Rating.objects.get(feedback=made)
    assert (rating.score, rating.agency_id, rating.commune_id, rating.rated_by) == (
        4,
        made.agency_id,
        made.commune_id,
        people.reporter,
    )


def test_an_anonymous_reporter_rates_with_the_code_sent_to_the_reports_phone(people, report):
    from gisportal.accounts.models import SandboxSms, SmsMessage
    from gisportal.accounts.sms import sms_deliver

    made = report(reporter_user=None, reporter_phone=PHONE)
    for action, who in (("accept", people.processor), ("answer", people.processor), ("publish", people.leader)):
        feedback_transition(public_id=made.public_id, action=action, acting_user=who, note="x")
    client = APIClient()
    url = f"/api/v1/feedback/{made.public_id}/rating/"
    client.post("/api/v1/feedback/phone-code/", {"phone": "0987 000 111"}, format="json")
    sms_deliver(SmsMessage.objects.latest("pk").pk)
    code = re.search(r"\d{6}", SandboxSms.objects.latest("pk").text).group()
    # A real code, but for another phone than the report's: as if the report were not there.
    assert client.post(url, {"score": 5, "phone": "0987000111", "phone_code": code}, format="json").status_code == 404
    client.post("/api/v1/feedback/phone-code/", {"phone": PHONE}, format="json")
    sms_deliver(SmsMessage.objects.latest("pk").pk)
    code = re.search(r"\d{6}", SandboxSms.objects.latest("pk").text).group()
    answer = client.post(url, {"score": 5, "phone": PHONE, "phone_code": code}, format="json")
    assert answer.status_code == 201 and Rating.objects.get(feedback=made).rated_by_phone == "+84912345678"
