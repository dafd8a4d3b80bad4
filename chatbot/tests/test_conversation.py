"""What the OA answers, processed as the worker does (in this test's
transaction): a dossier code with or without accents gives the public
lookup's fields only; a shared location gives the nearest service points
with geodesic distances (checked against pyproj) and a map link; the
language can be switched; an event processed twice answers once."""

import re

import pytest
from django.utils import timezone
from pyproj import Geod

from chatbot.models import ChatUser, OutboundMessage, ZaloEvent
from chatbot.services import zalo_event_process
from chatbot.webhook import zalo_webhook_accept
from layers.models import ServicePoint

from .signing import follow_event, location_event, sign, text_event

pytestmark = pytest.mark.django_db

GEOD = Geod(ellps="WGS84")


def process(event: dict) -> list[dict]:
    """Accepts `event` as the webhook would and processes it; the replies."""
    body, signature = sign(event)
    accepted = zalo_webhook_accept(body=body, signature=signature, now=timezone.now())
    done = zalo_event_process(event_id=accepted.pk)
    assert done.status == "done", done.message
    return [reply.payload for reply in OutboundMessage.objects.filter(event=accepted).order_by("position")]


def texts(replies: list[dict]) -> list[str]:
    return [reply["text"] for reply in replies]


@pytest.fixture
def dossier(submit):
    return submit(applicant_phone="0912 345 678", applicant_email="a@example.org")


@pytest.mark.parametrize(
    "template",
    ["Tra cứu hồ sơ {code}", "tra cuu ho so {code}", "TRA CỨU {lower}", "{code}", "ma ho so la {lower} a"],
)
def test_a_dossier_code_is_looked_up_with_or_without_accents(dossier, template):
    text = template.format(code=dossier.code, lower=dossier.code.lower())
    [answer] = texts(process(text_event("2001", text)))
    assert answer.startswith(f"Hồ sơ {dossier.code}\n")
    assert f"Thủ tục: {dossier.procedure.name}" in answer
    assert "Trạng thái: Đã tiếp nhận" in answer
    assert f"Hẹn trả kết quả: {timezone.localtime(dossier.due_at):%d/%m/%Y %H:%M}" in answer
    assert f"/dossiers/lookup/?code={dossier.code}" in answer
    # The public lookup's fields only: nothing personal.
    for private in ("Nguyễn Văn A", dossier.applicant_id_number, "0912", "a@example.org", "Lý Thái Tổ"):
        assert private not in answer


def test_a_dossier_waiting_for_receipt_says_so_in_both_languages(submit):
    """Issue #15: an online dossier the desk has not received has no receipt
    time nor deadline yet; the chat says so instead of failing."""
    waiting = submit(receive=False)
    [answer] = texts(process(text_event("2004", f"tra cứu {waiting.code}")))
    assert "Trạng thái: Chờ tiếp nhận" in answer
    assert f"Nộp lúc: {timezone.localtime(waiting.submitted_at):%d/%m/%Y %H:%M}" in answer
    assert "Hẹn trả kết quả: —" in answer
    assert "Tiến độ: Chờ tiếp nhận, thời hạn tính từ khi tiếp nhận" in answer
    process(text_event("2004", "English please"))
    [answer] = texts(process(text_event("2004", f"lookup {waiting.code}")))
    assert "Status: Waiting for receipt" in answer and "Progress: Waiting for receipt" in answer


def test_an_unknown_code_says_so(dossier):
    [answer] = texts(process(text_event("2002", "tra cứu 000.00.13.H04-991231-9999")))
    assert answer.startswith("Không tìm thấy hồ sơ 000.00.13.H04-991231-9999")


def test_english_is_chosen_in_the_chat_and_kept(dossier):
    assert texts(process(text_event("2003", "English please"))) == ["From now on I answer in English."]
    [answer] = texts(process(text_event("2003", f"lookup {dossier.code}")))
    assert answer.startswith(f"Dossier {dossier.code}\n") and "Status: Received" in answer
    assert ChatUser.objects.get(zalo_user_id="2003").language == "en"
    assert texts(process(text_event("2003", "tiếng việt"))) == ["Từ giờ tôi trả lời bằng tiếng Việt."]


def test_a_shared_location_gives_the_nearest_points_by_geodesic_metres(db):
    lon, lat = 106.0763, 21.1861  # Bắc Ninh, near the Kinh Bắc desks
    [reply] = process(location_event("2004", lon=lon, lat=lat))
    payload = reply["attachment"]["payload"]
    assert payload["template_type"] == "list"
    elements = payload["elements"]
    assert len(elements) == 5

    # Independently: pyproj's geodesic distance to every active point; the
    # answer comes from the 15 nearest (maps.nearest's pool), open ones first.
    points = list(ServicePoint.objects.filter(is_active=True))
    metres = GEOD.inv([lon] * len(points), [lat] * len(points), [p.geom.x for p in points], [p.geom.y for p in points])[
        2
    ]
    by_name = {p.name: m for p, m in zip(points, metres, strict=True)}
    assert len(by_name) == len(points)  # names tell the points apart
    pool = sorted(by_name, key=by_name.get)[:15]
    shown = []
    for rank, element in enumerate(elements, 1):
        name = element["title"].removeprefix(f"{rank}. ")
        assert name in pool
        distance, state = re.match(r"([\d.]+) m · (Đang mở|Đang đóng|Chưa rõ)", element["subtitle"]).groups()
        assert abs(int(distance.replace(".", "")) - by_name[name]) <= 1, (name, distance, by_name[name])
        shown.append((state != "Đang mở", by_name[name]))
    assert shown == sorted(shown)  # open first, then by distance
    if all(closed for closed, _ in shown):  # nothing open nearby (at night): simply the nearest five
        assert [m for _, m in shown] == sorted(by_name.values())[:5]
    link = f"http://127.0.0.1:8000/map/?near={lon:.6f},{lat:.6f}"
    assert all(element["default_action"]["url"] == link for element in elements)
    assert payload["buttons"][0]["payload"]["url"] == link
    # The location is sensitive: gone from the stored event once used.
    stored = ZaloEvent.objects.get(user_id="2004")
    assert stored.payload["message"]["attachments"][0]["payload"]["coordinates"] == "removed after use"


def test_asking_for_the_nearest_place_asks_for_a_location(db):
    [answer] = texts(process(text_event("2005", "Nơi nộp hồ sơ gần nhất ở đâu?")))
    assert "chia sẻ vị trí" in answer


def test_follow_welcomes_unfollow_stops_and_other_text_gets_help(db):
    [welcome] = texts(process(follow_event("2006")))
    assert "gửi mã hồ sơ" in welcome and "chia sẻ vị trí" in welcome
    assert process(follow_event("2006", "unfollow")) == []
    assert ChatUser.objects.get(zalo_user_id="2006").followed is False
    [help_text] = texts(process(text_event("2006", "xin chao")))
    assert help_text.startswith("Cổng dịch vụ công Bắc Ninh trên Zalo")


def test_an_event_processed_twice_answers_once(dossier):
    body, signature = sign(text_event("2007", dossier.code))
    accepted = zalo_webhook_accept(body=body, signature=signature, now=timezone.now())
    assert zalo_event_process(event_id=accepted.pk).status == "done"
    assert zalo_event_process(event_id=accepted.pk) is None  # a duplicate task: nothing to claim
    assert OutboundMessage.objects.filter(event=accepted).count() == 1
