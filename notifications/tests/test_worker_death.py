"""Exactly once, end to end: committed dossier events, real Celery workers
(with beat, which runs the outbox sweep), e-mail over SMTP to a local sink
and Zalo through the sandbox OA of the project's own server. A worker is
SIGKILLed in the middle of a send (the SMTP server has the message but has
not answered; the sandbox has recorded the Zalo message but not answered):
the reaper returns the row to the queue, the next worker sends the e-mail
again with the same Message-ID and finds the Zalo message already in the
conversation, so the citizen gets one e-mail (one identity) and one Zalo
message; each (event, channel) has one row."""

import uuid

import pytest
from django.utils import timezone

from chatbot.models import ChatLink, ChatUser, ZaloToken
from chatbot.sandbox.models import SandboxFollower, SandboxMessage, SandboxToken
from chatbot.sandbox.services import sandbox_token_pair
from gisportal.celery import app
from notifications.models import Notification
from tests.browser import in_database
from tests.committed_dossiers import committed_dossiers
from tests.live import WorkerHolder, commit_sql, process_env, purge_broker, wait_for
from tests.smtp_sink import SmtpSink

# Reads in the test's transaction see the workers' commits (READ COMMITTED);
# the test's own writes are committed from another thread (`in_database`).
pytestmark = pytest.mark.django_db

EMAIL = "thu.nghiem@example.org"


@pytest.fixture(scope="module")
def stack(live_server_url, django_db_setup, django_db_blocker, private_broker_url):
    """The SMTP sink; a Zalo follower of the sandbox who linked the dossiers
    of a committed citizen; the portal's Zalo token; the workers' environment;
    this process publishing to the workers' private broker."""
    with SmtpSink() as sink, committed_dossiers(django_db_blocker, email=EMAIL) as made:
        user_id = str(uuid.uuid4().int)[:18]
        with django_db_blocker.unblock():
            first_token = SandboxToken.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            follower = SandboxFollower.objects.create(
                user_id=user_id, display_name="Người thử", last_interaction_at=timezone.now()
            )
            pair = sandbox_token_pair()
            ZaloToken.objects.update_or_create(
                oa_id="sandbox-oa",
                defaults={"access_token": pair["access_token"], "refresh_token": pair["refresh_token"]},
            )
            chat_user = ChatUser.objects.create(zalo_user_id=user_id)
        env = process_env(
            django_db_blocker,
            REDIS_URL=private_broker_url,
            ZALO_API_BASE_URL=f"{live_server_url}/sandbox/zalo/openapi",
            ZALO_OAUTH_BASE_URL=f"{live_server_url}/sandbox/zalo/oauth",
            # Long enough for the kill to come first.
            ZALO_HTTP_TIMEOUT_S="60",
            EMAIL_TIMEOUT="60",
            **sink.environment,
        )
        purge_broker(env)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(app.conf, "broker_url", private_broker_url)
            try:
                yield {"sink": sink, "made": made, "env": env, "follower": follower, "chat_user": chat_user}
            finally:
                with django_db_blocker.unblock():
                    chat_user.delete()
                    follower.delete()
                    SandboxToken.objects.filter(pk__gt=first_token).delete()
                    ZaloToken.objects.filter(oa_id="sandbox-oa").delete()
                commit_sql("UPDATE zalo_sandbox_sandboxsettings SET latency_s = 0 WHERE id = 1")


@pytest.fixture(scope="module")
def workers(stack, tmp_path_factory):
    """The module's workers: each test kills one mid-send and the next one
    started finishes the work (three starts for the two tests)."""
    holder = WorkerHolder(stack["env"], tmp_path_factory.mktemp("notification_workers"))
    yield holder
    holder.stop()


def notification(dossier, action: str, channel: str) -> Notification | None:
    return Notification.objects.filter(dossier=dossier, action=action, channel=channel).first()


def sent(dossier, action: str, channel: str) -> Notification | None:
    row = notification(dossier, action, channel)
    return row if row is not None and row.status == "sent" else None


def test_an_e_mail_whose_worker_is_killed_mid_send_is_sent_again_with_the_same_message_id(
    stack, workers, django_db_blocker
):
    sink, made = stack["sink"], stack["made"]
    sink.stall_next_s = 60  # takes the message, holds its answer back
    dossier = in_database(django_db_blocker, lambda: made.submit(applicant_email=EMAIL))  # committed, published
    logs = (workers.start().log_path,)
    sink.wait_for(1)
    running = wait_for("the row to be running", lambda: notification(dossier, "receive", "email"), logs=logs)
    assert (running.status, running.attempts) == ("running", 1)
    workers.kill()
    assert notification(dossier, "receive", "email").status == "running"  # left by the dead worker

    logs = (workers.start().log_path,)
    done = wait_for("the reaped e-mail to be sent", lambda: sent(dossier, "receive", "email"), logs=logs)
    assert "stopped beating during attempt 1; queued again" in logs[0].read_text()
    assert done.attempts == 2
    copies = [mail for mail in sink.messages if mail["To"] == EMAIL]
    assert len(copies) == 2  # the server got it twice...
    assert {mail["Message-ID"] for mail in copies} == {done.external_id}  # ...as one message
    assert Notification.objects.filter(dossier=dossier, action="receive", channel="email").count() == 1


def test_a_zalo_message_whose_worker_is_killed_mid_send_is_not_sent_twice(stack, workers, django_db_blocker):
    made, follower = stack["made"], stack["follower"]

    def linked_dossier():
        dossier = made.submit(applicant_email="")
        ChatLink.objects.create(chat_user=stack["chat_user"], dossier=dossier, linked_at=timezone.now())
        return dossier

    dossier = in_database(django_db_blocker, linked_dossier)
    commit_sql("UPDATE zalo_sandbox_sandboxsettings SET latency_s = 60 WHERE id = 1")  # records, answers late
    in_database(django_db_blocker, lambda: made.move(dossier, "refuse", note="Thiếu tờ khai"))

    def recorded() -> list[SandboxMessage]:
        return list(SandboxMessage.objects.filter(follower=follower, direction="oa"))

    logs = (workers.start().log_path,)
    [first] = wait_for("the sandbox to record the message", recorded, logs=logs)
    workers.kill()
    commit_sql("UPDATE zalo_sandbox_sandboxsettings SET latency_s = 0 WHERE id = 1")
    assert notification(dossier, "refuse", "zalo").status == "running"

    logs = (workers.start().log_path,)
    done = wait_for("the reaped Zalo row to be sent", lambda: sent(dossier, "refuse", "zalo"), logs=logs)
    assert done.attempts == 2
    assert recorded() == [first]  # found in the conversation, not sent again
    assert done.external_id == first.message_id
    assert f"Hồ sơ {dossier.code} bị từ chối. Lý do: Thiếu tờ khai" in first.text
    assert f"/dossiers/lookup/?code={dossier.code}" in first.text
    assert Notification.objects.filter(dossier=dossier, action="refuse", channel="zalo").count() == 1
    assert sent(dossier, "refuse", "inbox") is not None
