"""Who may use the sandbox OA's integrator pages (administrators: they post
signed events as any follower), and bad input on them changing nothing.
Zalo's API endpoints of the sandbox answer anyone, as Zalo does, with its
error codes when the token is missing."""

import pytest
from django.urls import reverse

from chatbot.sandbox.models import SandboxFollower, SandboxMessage, SandboxSettings

pytestmark = pytest.mark.django_db

PAGES = [
    ("get", "zalo-sandbox-home", {}),
    ("post", "zalo-sandbox-settings", {}),
    ("post", "zalo-sandbox-tokens", {}),
    ("post", "zalo-sandbox-follower-create", {}),
    ("get", "zalo-sandbox-follower", {"user_id": "123"}),
    ("post", "zalo-sandbox-act", {"user_id": "123"}),
]


def test_anonymous_callers_are_sent_to_sign_in(client):
    for method, name, kwargs in PAGES:
        answer = getattr(client, method)(reverse(name, kwargs=kwargs))
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/"), name


def test_citizens_and_officials_are_refused_and_nothing_changes(client, people):
    followers = SandboxFollower.objects.count()
    for who in (people.citizen_a, people.desk_main, people.leader):
        client.force_login(who)
        for method, name, kwargs in PAGES:
            assert getattr(client, method)(reverse(name, kwargs=kwargs)).status_code == 403, (who, name)
    assert SandboxFollower.objects.count() == followers


def test_administrators_use_the_pages_and_bad_input_changes_nothing(client, people):
    client.force_login(people.administrator)
    assert client.get(reverse("zalo-sandbox-home")).status_code == 200
    follower = SandboxFollower.objects.create(user_id="99887766", display_name="Thử")
    assert client.get(reverse("zalo-sandbox-follower", kwargs={"user_id": "99887766"})).status_code == 200
    assert client.get(reverse("zalo-sandbox-follower", kwargs={"user_id": "nobody"})).status_code == 404
    act = reverse("zalo-sandbox-act", kwargs={"user_id": "99887766"})
    for bad in ({"kind": "text", "text": " "}, {"kind": "location", "lat": "91", "lon": "106"}, {"kind": "dance"}):
        assert client.post(act, bad).status_code == 400
    assert not SandboxMessage.objects.filter(follower=follower).exists()
    before = SandboxSettings.current().reply_window_s
    refused = client.post(
        reverse("zalo-sandbox-settings"), {"reply_window_s": "-5", "token_ttl_s": "60", "latency_s": "0"}
    )
    assert refused.status_code == 400
    assert SandboxSettings.current().reply_window_s == before


def test_zalos_api_of_the_sandbox_answers_its_error_codes_without_a_token(client):
    answer = client.post(
        "/sandbox/zalo/openapi/v3.0/oa/message/cs",
        {"recipient": {"user_id": "1"}, "message": {"text": "x"}},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["error"] == -216
    assert client.get("/sandbox/zalo/openapi/v3.0/oa/message/cs").status_code == 405
