"""The officials' pages (worklist, handling) and the public pages: who gets
what, and a move made from the handling page writes its event."""

import pytest

from feedback.models import Feedback, FeedbackEvent

pytestmark = pytest.mark.django_db


def test_the_worklist_page_is_for_officials_of_the_agency(people, report, client):
    made = report()
    assert client.get("/feedback/worklist/").status_code == 302  # sign in first
    client.force_login(people.reporter)
    assert client.get("/feedback/worklist/").status_code == 404
    client.force_login(people.other_processor)
    assert made.public_id not in client.get("/feedback/worklist/").content.decode()
    client.force_login(people.processor)
    page = client.get("/feedback/worklist/", {"due": "soon"}).content.decode()
    assert made.public_id in client.get("/feedback/worklist/").content.decode()
    assert "Đến hạn trong 2 ngày" in page


def test_the_handling_page_acts_for_the_routed_agency_only(people, report, client):
    made = report()
    url = f"/feedback/{made.public_id}/manage/"
    client.force_login(people.other_processor)
    assert client.get(url).status_code == 404
    client.force_login(people.administrator)
    page = client.get(url).content.decode()
    assert "Ổ gà" in page and 'data-action="accept"' not in page  # reads, does not act
    client.force_login(people.processor)
    assert 'data-action="accept"' in client.get(url).content.decode()
    refused = client.post(url, {"action": "refuse"})  # no reason
    assert refused.status_code == 400 and Feedback.objects.get(pk=made.pk).status == "received"
    assert client.post(url, {"action": "accept"}).status_code == 302
    event = FeedbackEvent.objects.filter(feedback=made).latest("pk")
    assert (event.action, event.actor, Feedback.objects.get(pk=made.pk).status) == (
        "accept",
        people.processor,
        "in_progress",
    )


def test_public_pages_answer_everyone(report, client):
    made = report()
    for url in ("/feedback/", "/feedback/new/", f"/feedback/{made.public_id}/"):
        assert client.get(url).status_code == 200, url
    page = client.get(f"/feedback/{made.public_id}/").content.decode()
    assert 'data-status="received"' in page and "Ổ gà" not in page  # the text waits for the answer
