"""Sending an e-mail notification over real SMTP to a local sink (aiosmtpd on
loopback): the Message-ID derived from the row, a duplicate task sending
nothing, a temporary refusal retried after its backoff, an address refused
for good, a server that stays down failed after the last attempt and shown
to administrators, who may send it again."""

import datetime as dt
import time

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notification_send
from tests.processes import free_port
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def smtp_to(port: int, timeout_s: float = 5):
    return override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_TIMEOUT=timeout_s)


@pytest.fixture
def sink():
    with SmtpSink() as running, smtp_to(running.port):
        yield running


@pytest.fixture
def queued(submit, people):
    """The e-mail row of a refusal, queued."""
    from dossiers.services import dossier_transition

    dossier = submit(applicant_email="nguyenvana@example.org")
    dossier_transition(code=dossier.code, action="refuse", acting_user=people.desk_main, note="Thiếu tờ khai")
    return Notification.objects.get(dossier=dossier, action="refuse", channel="email")


def test_an_e_mail_goes_over_smtp_once_with_a_message_id_of_its_own(sink, queued):
    sent = notification_send(notification_id=queued.pk)
    assert (sent.status, sent.attempts, sent.message) == ("sent", 1, "")
    [mail] = sink.wait_for(1)
    assert mail["Message-ID"] == f"<notification-{queued.pk}.{queued.event_id}@dichvucong.localhost>"
    assert sent.external_id == mail["Message-ID"]
    assert mail["To"] == "nguyenvana@example.org"
    assert mail["Subject"].strip() == f"Hồ sơ {queued.dossier.code}: Từ chối"  # (folded: a leading space)
    assert mail["Content-Language"] == "vi"
    assert "Lý do: Thiếu tờ khai" in mail.get_content()
    # A duplicate or late task message: nothing to claim, nothing sent.
    assert notification_send(notification_id=queued.pk) is None
    time.sleep(0.2)
    assert len(sink.messages) == 1


def test_a_temporary_refusal_is_retried_after_its_backoff(sink, queued):
    sink.refuse_next = 1
    before = timezone.now()
    failed = notification_send(notification_id=queued.pk)
    assert (failed.status, failed.attempts, failed.published_at) == ("queued", 1, None)
    assert "451" in failed.message
    # Due again after the outbox's backoff (OUTBOX_RETRY_BASE_S, 0.5 s in tests).
    assert before + dt.timedelta(seconds=0.5) <= failed.queued_at <= timezone.now() + dt.timedelta(seconds=0.5)
    # A task arriving early claims nothing, and leaves the row for the sweep.
    assert notification_send(notification_id=queued.pk) is None
    assert Notification.objects.get(pk=queued.pk).published_at is None
    time.sleep(max((failed.queued_at - timezone.now()).total_seconds(), 0) + 0.05)
    sent = notification_send(notification_id=queued.pk)
    assert (sent.status, sent.attempts, sent.message) == ("sent", 2, "")
    assert sink.attempts == 2 and len(sink.messages) == 1


def test_an_address_the_server_refuses_fails_at_once(sink, queued):
    Notification.objects.filter(pk=queued.pk).update(recipient="khong-co@refused.example")
    sink.refuse_recipients = {"khong-co@refused.example"}
    failed = notification_send(notification_id=queued.pk)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "refused" in failed.message and failed.finished_at is not None
    assert sink.messages == []


@override_settings(DELIVERY_MAX_ATTEMPTS=2)
def test_a_server_that_stays_down_fails_the_row_which_administrators_see_and_send_again(
    queued, people, client, django_capture_on_commit_callbacks
):
    closed = free_port()  # nothing listens there
    with smtp_to(closed, timeout_s=2):
        first = notification_send(notification_id=queued.pk)
        assert (first.status, first.attempts) == ("queued", 1)
        Notification.objects.filter(pk=queued.pk).update(queued_at=timezone.now())
        last = notification_send(notification_id=queued.pk)
    assert (last.status, last.attempts) == ("failed", 2)
    assert "ConnectionRefusedError" in last.message

    client.force_login(people.administrator)
    people.administrator.is_staff = people.administrator.is_superuser = True
    people.administrator.save()
    listing = client.get(reverse("admin:notifications_notification_changelist"), {"status__exact": "failed"})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert queued.dossier.code in page and "ConnectionRefusedError" in page and "Gửi lỗi / Failed" in page

    with django_capture_on_commit_callbacks() as published:
        answer = client.post(
            reverse("admin:notifications_notification_changelist"),
            {"action": "send_again", "_selected_action": [queued.pk]},
        )
    assert answer.status_code == 302
    again = Notification.objects.get(pk=queued.pk)
    assert (again.status, again.attempts, again.published_at) == ("queued", 0, None)
    assert again.queued_at <= timezone.now()  # due at once
    assert len(published) == 1
    with SmtpSink() as sink, smtp_to(sink.port):
        assert notification_send(notification_id=queued.pk).status == "sent"
        assert len(sink.wait_for(1)) == 1
