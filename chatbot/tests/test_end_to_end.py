"""The whole Zalo flow offline, over real HTTP against the project's own
server (webhook and sandbox OA) and a real Celery worker:

- a signed event is acknowledged in under a second while no worker runs
  (stored, its task queued); a tampered or replayed one is refused; once a
  worker starts, the answer reaches the follower's conversation in the
  sandbox;
- an integrator (administrator) acts as a new follower on the sandbox's
  pages: following and sharing a location are signed and posted to the
  webhook by the sandbox, and the OA's welcome and the nearest service
  points appear in the conversation page."""

import re
import time
import uuid

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from chatbot.models import ChatUser, OutboundMessage, ZaloEvent, ZaloToken
from chatbot.sandbox.models import SandboxFollower, SandboxMessage, SandboxToken
from chatbot.sandbox.services import sandbox_token_pair
from gisportal.accounts.services import user_ensure
from tests.browser import session_delete, session_key_for
from tests.live import WorkerHolder, process_env, purge_broker, wait_for

from .signing import sign, text_event

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def oa(queue_live_server_url, django_db_blocker, private_broker_url):
    """The server's sandbox as the OA; a follower who just wrote; an
    administrator's session; the portal's token; the worker's environment."""
    user_id = str(uuid.uuid4().int)[:18]
    with django_db_blocker.unblock():
        first_token = SandboxToken.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        followers_before = set(SandboxFollower.objects.values_list("pk", flat=True))
        follower = SandboxFollower.objects.create(
            user_id=user_id, display_name="Người thử", last_interaction_at=timezone.now()
        )
        pair = sandbox_token_pair()
        ZaloToken.objects.update_or_create(
            oa_id="sandbox-oa", defaults={"access_token": pair["access_token"], "refresh_token": pair["refresh_token"]}
        )
        admin = user_ensure(
            username=f"e2e-integrator-{uuid.uuid4().hex[:8]}", password="x-Strong-pass-1", role="administrator"
        )
        session = session_key_for(admin)
    env = process_env(
        django_db_blocker,
        REDIS_URL=private_broker_url,
        ZALO_API_BASE_URL=f"{queue_live_server_url}/sandbox/zalo/openapi",
        ZALO_OAUTH_BASE_URL=f"{queue_live_server_url}/sandbox/zalo/oauth",
    )
    purge_broker(env)
    try:
        yield {"base": queue_live_server_url, "follower": follower, "env": env, "session": session}
    finally:
        with django_db_blocker.unblock():
            new_followers = SandboxFollower.objects.exclude(pk__in=followers_before)
            ChatUser.objects.filter(zalo_user_id__in=new_followers.values("user_id")).delete()
            ZaloEvent.objects.filter(user_id__in=new_followers.values("user_id")).delete()
            new_followers.delete()
            SandboxToken.objects.filter(pk__gt=first_token).delete()
            ZaloToken.objects.filter(oa_id="sandbox-oa").delete()
            session_delete(session)
            admin.delete()


@pytest.fixture(scope="module")
def worker(oa, tmp_path_factory):
    """One worker for the module, started when a test first needs it: the
    first test checks the webhook with none running."""
    holder = WorkerHolder(oa["env"], tmp_path_factory.mktemp("zalo_worker"))
    yield holder
    holder.stop()


def post_event(base: str, body: bytes, signature: str) -> requests.Response:
    return requests.post(
        f"{base}/zalo/webhook/",
        data=body,
        headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature},
        timeout=10,
    )


def oa_texts(follower) -> list[str]:
    return list(
        SandboxMessage.objects.filter(follower=follower, direction="oa").order_by("at").values_list("text", flat=True)
    )


def test_the_webhook_answers_at_once_with_no_worker_and_the_work_is_done_later(oa, worker):
    base, follower = oa["base"], oa["follower"]
    body, signature = sign(text_event(follower.user_id, "tra cứu 000.00.13.H04-991231-9999"))
    started = time.monotonic()
    answer = post_event(base, body, signature)
    took_s = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert took_s < 1.0, f"the webhook took {took_s:.2f} s"
    event = ZaloEvent.objects.get(pk=answer.json()["event"])
    assert event.status == "queued" and event.published_at is not None  # waiting for a worker

    # Refused over HTTP too, and nothing stored.
    count = ZaloEvent.objects.count()
    assert post_event(base, body.replace(b"9999", b"9998"), signature).status_code == 403
    assert post_event(base, body, signature).status_code == 409
    assert ZaloEvent.objects.count() == count

    assert worker.process is None  # nothing has run it yet
    running = worker.start()
    wait_for(
        "the answer in the follower's conversation",
        lambda: OutboundMessage.objects.filter(event=event, status="sent").exists(),
        logs=(running.log_path,),
    )
    assert ZaloEvent.objects.get(pk=event.pk).status == "done"
    [reply] = oa_texts(follower)
    assert reply.startswith("Không tìm thấy hồ sơ 000.00.13.H04-991231-9999")


def test_an_integrator_acts_as_a_follower_on_the_sandbox_pages(oa, worker):
    base = oa["base"]
    http = requests.Session()
    http.cookies.set(settings.SESSION_COOKIE_NAME, oa["session"])
    home = http.get(f"{base}/sandbox/zalo/", timeout=10)
    assert home.status_code == 200 and "sandbox-app" in home.text
    http.headers["X-CSRFToken"] = http.cookies[settings.CSRF_COOKIE_NAME]
    http.headers["Referer"] = f"{base}/sandbox/zalo/"

    logs = (worker.start().log_path,)
    created = http.post(f"{base}/sandbox/zalo/followers/", data={"display_name": "Trần Thị Thử"}, timeout=30)
    assert created.status_code == 200 and "Trần Thị Thử" in created.text
    follower = SandboxFollower.objects.get(display_name="Trần Thị Thử", pk__gt=oa["follower"].pk)
    act = f"{base}/sandbox/zalo/followers/{follower.user_id}/act/"
    wait_for("the welcome", lambda: oa_texts(follower), logs=logs)
    shared = http.post(act, data={"kind": "location", "lat": "21.1861", "lon": "106.0763"}, timeout=30)
    assert shared.status_code == 200
    # The sandbox posted the signed events to the webhook before answering the page.
    posted = list(
        SandboxMessage.objects.filter(follower=follower, direction="user")
        .order_by("at")
        .values_list("event_name", "webhook_status", "webhook_answer")
    )
    assert [(name, status) for name, status, _ in posted] == [("follow", 200), ("user_send_location", 200)], posted
    wait_for("the nearest points", lambda: len(oa_texts(follower)) == 2, logs=logs)
    page = http.get(f"{base}/sandbox/zalo/followers/{follower.user_id}/", timeout=10).text
    assert "Cổng dịch vụ công Bắc Ninh trên Zalo" in page
    distances = re.findall(r"<small>([\d.]+) m", page)
    assert len(distances) == 5
    assert all(int(d.replace(".", "")) < 20_000 for d in distances)  # the ranking is checked in test_conversation
    assert "/map/?near=106.076300,21.186100" in page
