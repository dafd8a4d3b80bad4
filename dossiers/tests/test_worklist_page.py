"""The officials' worklist page: search by dossier code, applicant name and
citizen ID (POSTed, never in a URL), sorting by received date, due date and
status, the received-date column; and the confirmation that irreversible
moves (approve, refuse, withdraw, stop) ask for on the pages, checked by the
server too so that it holds without JavaScript."""

import re

import pytest
from django.urls import reverse

from dossiers.models import Dossier, Status

from .conftest import CITIZEN_A_ID, CITIZEN_B_ID, local

pytestmark = pytest.mark.django_db


def _codes(page: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', page)


@pytest.fixture
def three(submit, points):
    """Three dossiers at the commune desk, received on three days."""
    return [
        submit(receiving_point_code=points.desk.code, received_at=local(2026, 3, 2)),
        submit(
            receiving_point_code=points.desk.code,
            received_at=local(2026, 3, 4),
            applicant_name="Trần Thị Bình",
            applicant_id_number=CITIZEN_B_ID,
        ),
        submit(receiving_point_code=points.desk.code, received_at=local(2026, 3, 3), applicant_name="Lê Văn Cường"),
    ]


def _search(client, **fields):
    response = client.post(reverse("worklist"), fields)
    assert response.status_code == 302
    return response, client.get(response["Location"])


def test_search_by_citizen_id_keeps_it_out_of_the_url(client, three, people):
    client.force_login(people.desk_commune)
    response, page = _search(client, id_number=f" {CITIZEN_B_ID[:6]} {CITIZEN_B_ID[6:]} ", status="received")
    location = response["Location"]
    assert CITIZEN_B_ID not in location and "status=received" in location and "search=" in location
    html = page.content.decode()
    assert _codes(html) == [three[1].code]
    assert "********" + CITIZEN_B_ID[-4:] in html  # the summary shows it masked
    # Sorting and the pager keep the search (by its key).
    sort_link = re.search(r'href="([^"]+)" id="sort-due"', html).group(1)
    assert "search=" in sort_link and CITIZEN_B_ID not in sort_link


def test_part_of_an_id_finds_nothing(client, three, people):
    client.force_login(people.desk_commune)
    _, page = _search(client, id_number=CITIZEN_A_ID[:-1] + "9")
    assert _codes(page.content.decode()) == []


def test_a_malformed_id_is_400_naming_the_field(client, three, people):
    client.force_login(people.desk_commune)
    response = client.post(reverse("worklist"), {"id_number": "12345"})
    assert response.status_code == 400
    assert 'id="search-id-error"' in response.content.decode()


@pytest.mark.parametrize("text", ["tran thi binh", "TRẦN THỊ", "Bình"])
def test_search_by_name_with_or_without_diacritics(client, three, people, text):
    client.force_login(people.desk_commune)
    _, page = _search(client, q=text)
    assert _codes(page.content.decode()) == [three[1].code]


def test_search_by_part_of_the_code(client, three, people):
    client.force_login(people.desk_commune)
    _, page = _search(client, q=three[2].code[-6:].lower())
    assert three[2].code in _codes(page.content.decode())


def test_search_never_widens_the_scope(client, submit, three, people, points):
    elsewhere = submit(receiving_point_code=points.centre.code, applicant_name="Trần Thị Bình")
    client.force_login(people.desk_commune)
    _, page = _search(client, q="Trần Thị Bình")
    assert _codes(page.content.decode()) == [three[1].code] and elsewhere.code not in page.content.decode()


def test_an_unknown_search_key_says_so_and_shows_the_list(client, three, people):
    client.force_login(people.desk_commune)
    page = client.get(reverse("worklist"), {"search": "nope"}).content.decode()
    assert 'id="search-expired"' in page and len(_codes(page)) == 3


@pytest.mark.parametrize(
    ("sort", "order"),
    [("received", [0, 2, 1]), ("-received", [1, 2, 0])],
)
def test_sort_by_received_date(client, three, people, sort, order):
    client.force_login(people.desk_commune)
    page = client.get(reverse("worklist"), {"sort": sort}).content.decode()
    assert _codes(page) == [three[i].code for i in order]
    # The received-date column.
    assert page.count('class="received"') == 3


def test_sort_by_due_and_status(client, three, people):
    from dossiers.services import dossier_transition

    client.force_login(people.desk_commune)
    due = _codes(client.get(reverse("worklist"), {"sort": "due"}).content.decode())
    expected = [d.code for d in sorted(three, key=lambda d: d.due_at)]
    assert due == expected
    dossier_transition(code=three[0].code, action="assign", acting_user=people.desk_commune)
    by_status = _codes(client.get(reverse("worklist"), {"sort": "-status"}).content.decode())
    assert by_status[0] == three[0].code  # assigned comes after received in the life cycle
    assert client.get(reverse("worklist"), {"sort": "name"}).status_code == 400


def test_irreversible_moves_ask_for_confirmation(client, three, people):
    client.force_login(people.desk_commune)
    rows = client.get(reverse("worklist")).content.decode()
    assert f'id="confirm-{three[0].code}-refuse"' in rows and f'id="confirm-{three[0].code}-withdraw"' in rows
    assert f'id="confirm-{three[0].code}-assign"' not in rows  # reversible moves do not ask
    url = reverse("dossier-action", args=[three[0].code])
    refused = client.post(url, {"action": "refuse", "note": "Thiếu giấy tờ"})
    assert refused.status_code == 400 and "Tick the confirmation box" in refused.content.decode()
    assert Dossier.objects.get(pk=three[0].pk).status == Status.RECEIVED  # nothing changed
    done = client.post(url, {"action": "refuse", "note": "Thiếu giấy tờ", "confirm": "yes"})
    assert done.status_code == 302 and Dossier.objects.get(pk=three[0].pk).status == Status.REFUSED


def test_approve_asks_for_confirmation(client, submit, drive, people):
    dossier = drive(submit(), "processing")
    client.force_login(people.leader)
    page = client.get(reverse("dossier-page", args=[dossier.code])).content.decode()
    assert 'id="confirm-approve"' in page and "required" in page.split('id="confirm-approve"')[1][:20]
    url = reverse("dossier-action", args=[dossier.code])
    assert client.post(url, {"action": "approve"}).status_code == 400
    assert Dossier.objects.get(pk=dossier.pk).status == Status.PROCESSING
    assert client.post(url, {"action": "approve", "confirm": "yes"}).status_code == 302
    assert Dossier.objects.get(pk=dossier.pk).status == Status.APPROVED


def test_a_citizen_withdraws_only_with_confirmation(client, submit, people):
    dossier = submit()
    client.force_login(people.citizen_a)
    page = client.get(reverse("dossier-page", args=[dossier.code])).content.decode()
    assert 'id="confirm-withdraw"' in page
    url = reverse("dossier-action", args=[dossier.code])
    assert client.post(url, {"action": "withdraw"}).status_code == 400
    assert Dossier.objects.get(pk=dossier.pk).status == Status.RECEIVED


def test_an_unallowed_unconfirmed_move_is_still_409(client, submit, people):
    dossier = submit()
    client.force_login(people.citizen_a)
    response = client.post(reverse("dossier-action", args=[dossier.code]), {"action": "approve"})
    assert response.status_code == 409
