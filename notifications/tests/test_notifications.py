"""Which dossier events notify whom, once, on which channel, in which words;
nothing for a change that rolls back. Sending (SMTP, Zalo, retries) is in
test_sending.py and the end-to-end tests."""

import pytest
from django.db import IntegrityError, transaction

from dossiers.events import DossierChanged
from dossiers.models import DossierEvent
from dossiers.services import dossier_apologize, dossier_record_event, dossier_transition
from dossiers.tests.conftest import local
from gisportal import outbox
from notifications.models import Notification, NotificationPreference
from notifications.services import notifications_on_dossier_change

pytestmark = pytest.mark.django_db

EMAIL = "nguyenvana@example.org"


def rows(dossier) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(dossier=dossier)
        .order_by("event__at", "event_id", "channel")
        .values_list("action", "channel")
    )


def test_the_citizen_hears_of_each_step_they_should_know_once_per_channel(submit, drive, people):
    citizen = people.citizen_a
    dossier = submit(applicant_email=EMAIL)
    drive(dossier, "result_returned")
    told = ["receive", "mark_result_ready", "return_result"]  # assign, start, approve are internal
    assert rows(dossier) == [(action, channel) for action in told for channel in ("email", "inbox")]
    inbox = Notification.objects.filter(dossier=dossier, channel="inbox")
    assert {row.user_id for row in inbox} == {citizen.pk}
    assert all(row.status == "sent" and row.read_at is None for row in inbox)
    email = Notification.objects.filter(dossier=dossier, channel="email")
    assert {(row.recipient, row.status, row.attempts) for row in email} == {(EMAIL, "queued", 0)}


def test_an_online_dossier_is_told_received_at_receipt_not_at_submission(submit, people):
    """Issue #15: the online dossier waits for the desk; "received", with its
    due date, goes out when the desk receives it. A request to complete it
    before receipt is told too."""
    dossier = submit(applicant_email=EMAIL, receive=False)
    assert rows(dossier) == []
    dossier_transition(
        code=dossier.code, action="request_completion", acting_user=people.desk_main, note="Thiếu tờ khai"
    )
    asked = Notification.objects.get(dossier=dossier, action="request_completion", channel="email")
    assert f"Hồ sơ {dossier.code} chưa được tiếp nhận" in asked.body and "Thiếu tờ khai" in asked.body
    assert "Thời hạn giải quyết chỉ bắt đầu khi hồ sơ được tiếp nhận" in asked.body
    dossier_transition(code=dossier.code, action="complete", acting_user=people.citizen_a)
    assert not Notification.objects.filter(dossier=dossier, action="receive").exists()
    received = dossier_transition(code=dossier.code, action="receive", acting_user=people.desk_main)
    email = Notification.objects.get(dossier=dossier, action="receive", channel="email")
    assert f"Hẹn trả kết quả: {received.due_at.astimezone(local(2026, 1, 1).tzinfo):%d/%m/%Y %H:%M}" in email.body
    assert rows(dossier) == [(a, c) for a in ("request_completion", "receive") for c in ("email", "inbox")]


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("waiting_supplement", "request_supplement"),
        ("refused", "refuse"),
        ("withdrawn", "withdraw"),
        ("stopped", "stop"),
    ],
)
def test_supplement_refusal_withdrawal_and_stop_are_told(submit, drive, state, action):
    dossier = submit(applicant_email=EMAIL)
    drive(dossier, state)
    assert rows(dossier)[-2:] == [(action, "email"), (action, "inbox")]


def test_words_name_the_code_the_state_what_to_do_and_the_lookup_link(submit, drive, people):
    dossier = submit(applicant_email=EMAIL)
    drive(dossier, "waiting_supplement")
    email = Notification.objects.get(dossier=dossier, action="request_supplement", channel="email")
    assert email.subject == f"Hồ sơ {dossier.code}: Chờ bổ sung"
    assert "Kính gửi Nguyễn Văn A," in email.body
    assert f"Hồ sơ {dossier.code} cần bổ sung, hoàn thiện: bước request_supplement" in email.body
    assert "Trạng thái: Chờ bổ sung" in email.body
    assert "Việc cần làm: Vui lòng nộp giấy tờ bổ sung" in email.body
    assert f"http://127.0.0.1:8000/dossiers/lookup/?code={dossier.code}" in email.body
    assert email.link == f"http://127.0.0.1:8000/dossiers/lookup/?code={dossier.code}"


def test_a_citizen_who_chose_english_and_no_e_mail_gets_english_in_the_inbox_only(submit, drive, people):
    NotificationPreference.objects.create(user=people.citizen_a, email=False, language="en")
    dossier = submit(applicant_email=EMAIL)
    drive(dossier, "refused")
    assert rows(dossier) == [("receive", "inbox"), ("refuse", "inbox")]
    refusal = Notification.objects.get(dossier=dossier, action="refuse")
    assert refusal.subject == f"Dossier {dossier.code}: Refused"
    assert f"Dossier {dossier.code} was refused. Reason: bước refuse" in refusal.body
    assert "What to do next: See the refusal slip" in refusal.body


def test_a_walk_in_applicant_without_an_account_is_told_by_e_mail(submit, people):
    dossier = submit(user=people.desk_main, applicant_id_number="027301998877", applicant_email="walkin@example.org")
    assert dossier.applicant is None
    assert rows(dossier) == [("receive", "email")]


def test_the_late_dossier_apology_and_other_apps_steps_are_told(submit, people):
    dossier = submit(applicant_email=EMAIL, received_at=local(2026, 4, 6, 9))
    dossier_apologize(
        code=dossier.code,
        acting_user=people.desk_main,
        reason="Hồ sơ cần xác minh thêm",
        new_due_at=local(2026, 4, 20, 17),
        at=local(2026, 4, 14, 9),
    )
    dossier_record_event(dossier_id=dossier.pk, action="payment_paid", note="Đã nộp 50.000 đồng", actor_name="VNPay")
    dossier_record_event(dossier_id=dossier.pk, action="shipment_z9test", note="Đã giao", actor_name="Bưu điện")
    dossier_record_event(dossier_id=dossier.pk, action="audit_viewed", note="internal", actor_name="Hệ thống")
    told = [action for action, channel in rows(dossier) if channel == "email"]
    assert told == ["receive", "apologize", "payment_paid", "shipment_z9test"]
    apology = Notification.objects.get(dossier=dossier, action="apologize", channel="email")
    assert "Cơ quan xin lỗi và hẹn lại ngày trả kết quả: 20/04/2026 17:00" in apology.body
    payment = Notification.objects.get(dossier=dossier, action="payment_paid", channel="email")
    # Named as the payments app names its steps; a step no app named, generically.
    assert f"Hồ sơ {dossier.code} — Nộp phí, lệ phí: Đã nộp 50.000 đồng" in payment.body
    shipment = Notification.objects.get(dossier=dossier, action="shipment_z9test", channel="email")
    assert f"Hồ sơ {dossier.code} — bưu chính: Đã giao" in shipment.body


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, int]]:
    """Every task the outbox publishes (model, row id), instead of the broker."""
    sent: list[tuple[str, int]] = []

    def record(model, pk) -> bool:
        sent.append((model.__name__, pk))
        return True

    monkeypatch.setattr(outbox, "outbox_publish", record)
    return sent


def test_a_transition_rolled_back_leaves_no_row_and_sends_nothing(
    submit, people, published, django_capture_on_commit_callbacks
):
    dossier = submit(applicant_email=EMAIL)
    before = Notification.objects.count()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        dossier_transition(code=dossier.code, action="refuse", acting_user=people.desk_main, note="thiếu giấy tờ")
        assert Notification.objects.count() == before + 2  # written inside the change...
        raise RuntimeError("the request failed after the transition")
    assert Notification.objects.count() == before  # ...and gone with it
    assert published == []


def test_messages_are_published_only_once_the_change_commits(
    submit, people, published, django_capture_on_commit_callbacks
):
    dossier = submit(applicant_email=EMAIL)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        dossier_transition(code=dossier.code, action="refuse", acting_user=people.desk_main, note="thiếu giấy tờ")
        assert published == []  # not while the change may still roll back
    email = Notification.objects.get(dossier=dossier, action="refuse", channel="email")
    assert published == [("Notification", email.pk)]  # the inbox row is delivered by being committed


def test_an_event_is_told_once_per_channel_even_if_announced_twice(submit):
    dossier = submit(applicant_email=EMAIL)
    event = DossierEvent.objects.get(dossier=dossier, action="receive")
    again = notifications_on_dossier_change(DossierChanged.of(event, code=dossier.code))
    assert again == []
    assert rows(dossier) == [("receive", "email"), ("receive", "inbox")]
    with pytest.raises(IntegrityError), transaction.atomic():
        original = Notification.objects.get(dossier=dossier, channel="email")
        original.pk = None
        original.save()
