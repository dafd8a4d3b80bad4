"""Linking a dossier to a follower with the code sent to the dossier's phone
(then its status changes go to them on Zalo), and feedback by chat with a
photo, a location and the explicit consent to process it; processed as the
worker does, in this test's transaction."""

import pytest
from django.utils import timezone

from chatbot.models import ChatLink, ChatUser, OutboundMessage, ZaloEvent
from chatbot.services import zalo_event_process
from chatbot.webhook import zalo_webhook_accept
from dossiers.services import dossier_transition
from feedback.models import Feedback, LocationConsent
from gisportal.accounts.models import PhoneCode, SmsMessage
from notifications.models import Notification

from .signing import location_event, sign, text_event

pytestmark = pytest.mark.django_db

USER = "3001"
PHONE = "+84912345678"


def accepted(event: dict) -> ZaloEvent:
    body, signature = sign(event)
    return zalo_webhook_accept(body=body, signature=signature, now=timezone.now())


def say(event: dict) -> list[str]:
    """The texts the OA answers to `event`."""
    stored = accepted(event)
    done = zalo_event_process(event_id=stored.pk)
    assert done.status == "done", done.message
    replies = OutboundMessage.objects.filter(event=stored).order_by("position")
    return [reply.payload.get("text", "") for reply in replies]


def sent_code() -> str:
    return SmsMessage.objects.filter(phone=PHONE, kind="zalo_link").latest("pk").secret


@pytest.fixture
def dossier(submit):
    return submit(applicant_phone="0912 345 678", applicant_email="")


def test_a_follower_links_a_dossier_with_the_code_sent_to_its_phone_and_hears_its_steps(dossier, people):
    [asked] = say(text_event(USER, f"Liên kết hồ sơ {dossier.code}"))
    assert "091****678" in asked and dossier.code in asked
    assert not ChatLink.objects.exists()

    [wrong] = say(text_event(USER, "000000" if sent_code() != "000000" else "111111"))
    assert wrong.startswith("Mã không đúng")
    assert PhoneCode.objects.get(phone=PHONE, purpose="zalo_link").attempts == 1

    [linked] = say(text_event(USER, f"mã của tôi: {sent_code()}"))
    assert linked.startswith(f"Đã liên kết hồ sơ {dossier.code}")
    assert ChatLink.objects.filter(chat_user__zalo_user_id=USER, dossier=dossier).exists()
    assert ChatUser.objects.get(zalo_user_id=USER).state == {}

    dossier_transition(code=dossier.code, action="refuse", acting_user=people.desk_main, note="Thiếu tờ khai")
    zalo = Notification.objects.get(dossier=dossier, action="refuse", channel="zalo")
    assert zalo.recipient == USER and zalo.status == "queued"
    assert f"Hồ sơ {dossier.code} bị từ chối. Lý do: Thiếu tờ khai" in zalo.body

    [unlinked] = say(text_event(USER, f"bo theo doi {dossier.code}"))
    assert unlinked.startswith(f"Đã ngừng theo dõi hồ sơ {dossier.code}")
    assert not ChatLink.objects.exists()


def test_a_wrong_code_stays_counted_when_the_rest_of_the_work_fails(dossier, monkeypatch):
    say(text_event(USER, f"lien ket {dossier.code}"))
    stored = accepted(text_event(USER, "000000" if sent_code() != "000000" else "111111"))

    def broken(*args, **kwargs):
        raise RuntimeError("the conversation failed after the code was checked")

    monkeypatch.setattr("chatbot.services.conversation_handle", broken)
    with pytest.raises(RuntimeError):
        zalo_event_process(event_id=stored.pk)
    # The check happened before the event's transaction and is kept for the retry.
    assert PhoneCode.objects.get(phone=PHONE, purpose="zalo_link").attempts == 1
    assert ZaloEvent.objects.get(pk=stored.pk).facts == {"code_ok": False}


def test_a_dossier_without_a_mobile_number_cannot_be_linked(submit):
    dossier = submit(applicant_phone="", applicant_email="")
    [answer] = say(text_event(USER, f"liên kết {dossier.code}"))
    assert "không có số điện thoại di động" in answer
    assert ChatUser.objects.get(zalo_user_id=USER).state == {}


@pytest.fixture
def photo_files(settings, tmp_path):
    settings.FEEDBACK_FILES_ROOT = tmp_path / "feedback-files"
    return settings.FEEDBACK_FILES_ROOT


def image_event(user_id: str, url: str) -> dict:
    event = text_event(user_id, "")
    event["event_name"] = "user_send_image"
    event["message"]["attachments"] = [{"type": "image", "payload": {"url": url, "thumbnail": url}}]
    return event


def test_feedback_by_chat_with_a_photo_a_location_and_consent(live_server_url, photo_files):
    [menu] = say(text_event(USER, "Tôi muốn phản ánh"))
    assert menu.startswith("Gửi phản ánh, kiến nghị. Chọn lĩnh vực")
    assert say(text_event(USER, "1")) == ["Hãy mô tả vấn đề (tối đa 4.000 ký tự)."]
    [place] = say(text_event(USER, "Ổ gà lớn trước cổng chợ, xe máy dễ ngã"))
    assert "chia sẻ vị trí" in place
    photo = f"{live_server_url}/static/vendor/leaflet/images/marker-icon.png"
    assert say(image_event(USER, photo)) == ["Đã nhận ảnh (1)."]
    assert say(location_event(USER, lon=106.0763, lat=21.1861)) == ['Đã nhận vị trí. Gõ "xong" khi đã đủ.']
    [consent] = say(text_event(USER, "xong"))
    assert "Tôi đồng ý để cơ quan nhà nước tỉnh Bắc Ninh xử lý vị trí" in consent and '"có" hoặc "không"' in consent
    assert not Feedback.objects.filter(channel="zalo").exists()  # nothing before the answer

    agreed = text_event(USER, "Có, tôi đồng ý")
    [done] = say(agreed)
    report = Feedback.objects.get(channel="zalo", external_id=agreed["message"]["msg_id"])
    assert done.startswith(f"Đã gửi phản ánh {report.public_id}")
    assert report.text == "Ổ gà lớn trước cổng chợ, xe máy dễ ngã"
    assert (round(report.location.x, 4), round(report.location.y, 4)) == (106.0763, 21.1861)
    assert report.photos.count() == 1
    given = LocationConsent.objects.get(feedback=report)
    assert (given.channel, given.purpose) == ("zalo", "feedback_location")
    assert ChatUser.objects.get(zalo_user_id=USER).state == {}  # the draft, location included, is gone


def test_refusing_consent_drops_the_report_and_its_location(db):
    say(text_event(USER, "gop y"))
    say(text_event(USER, "1"))
    say(text_event(USER, "Đèn đường hỏng"))
    say(location_event(USER, lon=106.0763, lat=21.1861))
    say(text_event(USER, "xong"))
    [dropped] = say(text_event(USER, "không"))
    assert dropped.startswith("Đã hủy phản ánh; vị trí bạn gửi đã được xóa")
    assert ChatUser.objects.get(zalo_user_id=USER).state == {}
    assert not Feedback.objects.filter(channel="zalo").exists()
