"""Public lookup by code: GET /api/v1/dossiers/lookup/?code= and the page
/dossiers/lookup/. Anyone may ask; the answer says where the dossier stands
and never who submitted it or who handled it; rate-limited per client."""

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from dossiers.models import Dossier
from dossiers.services import dossier_apologize, dossier_transition
from tests.lean import (
    BEHIND_TLS_PROXY,
    HTTPS,
    VARIANTS,
    answered_lean_as_django,
    assert_same,
    call,
    environ,
    refused_alike,
)

from .conftest import CITIZEN_A_ID

API = reverse("api-dossier-lookup")
PAGE = reverse("dossier-lookup-page")
NAME = "Phạm Thị Hồng Nhung"
PHONE = "0987 654 321"
EMAIL = "nhung.pham@example.org"
ADDRESS = "Số 27 ngõ Hòa Bình, phường Vệ An"
UNKNOWN_CODE = "000.00.13.H04-200101-9999"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle():
    """Each test starts with an empty rate-limit history."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dossier(submit) -> Dossier:
    return submit(
        applicant_name=NAME,
        applicant_phone=PHONE,
        applicant_email=EMAIL,
        applicant_address=ADDRESS,
        note="Ghi chú riêng của người nộp",
    )


def personal_strings(dossier: Dossier, people) -> list[str]:
    """What must never appear in a public answer: the applicant's data and
    the names and accounts of the officials who acted."""
    officials = [people.desk_main, people.processor, people.leader]
    return [
        NAME,
        CITIZEN_A_ID,
        CITIZEN_A_ID[-4:].rjust(12, "*"),
        PHONE,
        EMAIL,
        ADDRESS,
        "Ghi chú riêng của người nộp",
        *(u.username for u in officials),
        people.citizen_a.username,
    ]


def local_text(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


# --- API ------------------------------------------------------------------------


def test_api_answers_where_the_dossier_stands(api, dossier, drive, django_assert_max_num_queries):
    dossier = drive(dossier, "processing")

    with django_assert_max_num_queries(3):
        response = api.get(API, {"code": dossier.code})

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == dossier.code
    assert body["procedure"] == {"code": dossier.procedure.code, "name": dossier.procedure.name}
    assert body["agency"]["code"] == "so-tp"
    assert body["receiving_point"]["code"] == "CENTRE-MAIN"
    assert body["status"] == "processing"
    assert body["status_label"] and body["current_step"]
    assert dt.datetime.fromisoformat(body["received_at"]) == dossier.received_at
    assert dt.datetime.fromisoformat(body["due_at"]) == dossier.due_at
    assert body["finished_at"] is None
    assert body["on_time_state"] == "in_time"
    # Issue #15: submitted online (waiting for receipt), then received by the desk.
    assert [step["to_status"] for step in body["timeline"]] == ["waiting_receipt", "received", "assigned", "processing"]
    assert [step["action"] for step in body["timeline"]] == ["submit", "receive", "assign", "start"]
    assert all(dt.datetime.fromisoformat(step["at"]) for step in body["timeline"])


@pytest.mark.parametrize("status", ["waiting_receipt", "processing", "result_returned"])
def test_the_lookups_plain_read_shows_what_the_orm_read_shows(dossier, drive, status):
    """dossier_public_read (two plain statements, the API and the page) and
    dossier_public_lookup (the ORM, the chatbot) make the same public view;
    a field the read leaves out is still there when asked for (deferred)."""
    from dossiers.lookup import public_view
    from dossiers.selectors import dossier_public_lookup, dossier_public_read

    if status != "waiting_receipt":
        dossier = drive(dossier, status)
    lean = dossier_public_read(code=dossier.code)
    assert public_view(lean) == public_view(dossier_public_lookup(code=dossier.code))
    assert [e.action for e in lean.events.all()] == list(
        dossier.events.order_by("at", "id").values_list("action", flat=True)
    )
    assert lean.applicant_name == NAME  # deferred, read on demand
    assert dossier_public_read(code=UNKNOWN_CODE) is None


def test_the_look_up_and_the_catalogue_search_are_prepared_once_a_connection(dossier):
    """Their statements are planned once per connection (gisportal.prepared.prepared_cursor): planning
    was a third of a look-up's time and a fifth of a search's. Asked twice, each is prepared once."""
    from django.db import connection

    from dossiers.catalogue import procedures_search_page
    from dossiers.selectors import dossier_public_read
    from postal.selectors import shipments_public_of_dossier

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    before = prepared()
    for _ in range(2):
        assert dossier_public_read(code=dossier.code).pk == dossier.pk
        assert shipments_public_of_dossier(dossier.pk) == []
        assert procedures_search_page(q="khai sinh")[0] > 0
    new = [statement for statement in prepared() if statement not in before]
    assert sum("FROM dossiers_dossier d" in s for s in new) == 1
    assert sum("FROM dossiers_dossierevent" in s for s in new) == 1
    assert sum("FROM postal_shipment s" in s for s in new) == 1
    assert sum("FROM dossiers_procedure p" in s for s in new) == 1
    assert len(new) == 4


def test_api_shows_no_personal_data(api, dossier, drive, people):
    dossier = drive(dossier, "result_returned")

    text = api.get(API, {"code": dossier.code}).content.decode("utf-8")

    assert dossier.code in text
    for secret in personal_strings(dossier, people):
        assert secret not in text, secret
    # Nor the notes officials wrote on each step ("bước ...").
    assert "bước" not in text
    body = json.loads(text)
    assert body["on_time_state"] == "early"
    assert body["finished_at"] is not None


def test_api_finds_a_code_typed_in_lower_case(api, dossier):
    response = api.get(API, {"code": dossier.code.lower()})
    assert response.status_code == 200
    assert response.json()["code"] == dossier.code


def test_api_says_late_for_an_open_dossier_past_due(api, submit, people):
    dossier = submit(received_at=timezone.now() - dt.timedelta(days=30))
    new_date = timezone.now() + dt.timedelta(days=4)
    dossier_apologize(code=dossier.code, acting_user=people.desk_main, reason="Quá tải", new_due_at=new_date)

    body = api.get(API, {"code": dossier.code}).json()

    assert body["on_time_state"] == "late"
    assert dt.datetime.fromisoformat(body["appointment_at"]) == new_date
    assert "Quá tải" not in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"code": ""},
        {"code": "   "},
        {"code": "not-a-code"},
        {"code": "000.00.13.H04-260427"},
        {"code": "000.00.13.H04-2604270-0001"},
        {"code": "000.00.13.H04-260427-0001' OR 1=1 --"},
        {"code": "x" * 5000},
    ],
)
def test_api_bad_code_is_400_naming_code(api, query):
    response = api.get(API, query)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["code"]
    assert " / " in body["code"][0]


def test_api_unknown_code_is_404(api, dossier):
    response = api.get(API, {"code": UNKNOWN_CODE})
    assert response.status_code == 404
    assert "Không tìm thấy" in response.json()["detail"] and "not found" in response.json()["detail"]


def test_api_needs_no_login_and_ignores_one(client_as, people, dossier):
    """Logged in or not, the public answer is the same (no extra data for
    the applicant here: that is the detail endpoint's job)."""
    anonymous = client_as(None).get(API, {"code": dossier.code}).json()
    as_applicant = client_as(people.citizen_a).get(API, {"code": dossier.code}).json()
    assert anonymous == as_applicant


# --- page -----------------------------------------------------------------------


def test_page_without_code_shows_the_form(client):
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="code"' in html and 'id="lookup-code"' in html
    assert 'class="lookup-result' not in html


def test_page_shows_the_dossier_and_its_steps(client, dossier, drive, people):
    dossier = drive(dossier, "approved")
    events = list(dossier.events.all())

    response = client.get(PAGE, {"code": dossier.code})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{dossier.code}"' in html  # the form keeps the code
    assert dossier.procedure.name in html
    assert dossier.agency.name in html
    assert "badge--in_time" in html
    assert local_text(dossier.received_at) in html
    assert local_text(dossier.due_at) in html
    assert html.count('class="timeline__step') == len(events) == 5  # submit, receive (issue #15), assign, ...
    for event in events:
        assert local_text(event.at) in html
    # Vietnamese first: the status in the page's language only.
    assert "Đã phê duyệt" in html and "Approved" not in html
    for secret in personal_strings(dossier, people):
        assert secret not in html, secret


def test_page_in_english_shows_english_labels(client, dossier):
    html = client.get(PAGE, {"code": dossier.code, "lang": "en"}).content.decode()
    assert "Received" in html and "Đã tiếp nhận" not in html


def test_page_marks_a_late_dossier_red(client, submit, people):
    dossier = submit(received_at=timezone.now() - dt.timedelta(days=30))
    dossier_transition(code=dossier.code, action="refuse", acting_user=people.desk_main, note="Thiếu giấy tờ")

    html = client.get(PAGE, {"code": dossier.code}).content.decode()

    assert "badge--late" in html
    assert "Thiếu giấy tờ" not in html


def test_page_with_a_bad_code_shows_the_error(client):
    response = client.get(PAGE, {"code": "abc"})
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "000.00.13.H04-260427-0001" in html
    assert 'class="lookup-result' not in html


def test_page_with_an_unknown_code_is_404_with_a_message(client):
    response = client.get(PAGE, {"code": UNKNOWN_CODE})
    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="lookup-message"' in html
    assert UNKNOWN_CODE in html


def test_page_escapes_what_it_echoes(client):
    response = client.get(PAGE, {"code": '"><script>alert(1)</script>'})
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;SCRIPT&gt;" in html or "&lt;script&gt;" in html


# --- rate limit ----------------------------------------------------------------


@override_settings(PUBLIC_LOOKUP_RATE="3/min")
def test_api_beyond_the_rate_is_429(api, dossier):
    assert [api.get(API, {"code": dossier.code}).status_code for _ in range(3)] == [200, 200, 200]

    refused = api.get(API, {"code": dossier.code})

    assert refused.status_code == 429
    assert "Retry-After" in refused
    detail = refused.json()["detail"]
    assert "Quá nhiều" in detail and "Too many requests" in detail
    # Another client is not affected.
    assert api.get(API, {"code": dossier.code}, REMOTE_ADDR="10.9.8.7").status_code == 200


@override_settings(PUBLIC_LOOKUP_RATE="3/min")
def test_page_beyond_the_rate_is_429_with_a_bilingual_message(dossier):
    client = Client()
    assert [client.get(PAGE, {"code": dossier.code}).status_code for _ in range(3)] == [200, 200, 200]

    refused = client.get(PAGE, {"code": dossier.code})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    html = refused.content.decode()
    assert "Vui lòng chờ" in html and "Please wait" in html
    assert dossier.procedure.name not in html
    assert Client(REMOTE_ADDR="10.9.8.7").get(PAGE, {"code": dossier.code}).status_code == 200


@override_settings(PUBLIC_LOOKUP_RATE="3/min")
def test_page_and_api_share_one_limit(api, client, dossier):
    assert api.get(API, {"code": dossier.code}).status_code == 200
    assert api.get(API, {"code": dossier.code}).status_code == 200
    assert client.get(PAGE, {"code": dossier.code}).status_code == 200
    assert client.get(PAGE, {"code": dossier.code}).status_code == 429
    assert api.get(API, {"code": dossier.code}).status_code == 429


@override_settings(PUBLIC_LOOKUP_RATE="1/min")
def test_the_empty_form_is_not_counted(client, dossier):
    for _ in range(3):
        assert client.get(PAGE).status_code == 200
    assert client.get(PAGE, {"code": dossier.code}).status_code == 200


# --- the lean path (gisportal/fastpath.py): the server's application answers the API in front of Django


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", ["processing", "lower case", "unknown"])
def test_the_lean_look_up_gives_django_s_answer(wsgi, dossier, drive, people, case, variant):
    dossier = drive(dossier, "processing")
    code = {"processing": dossier.code, "lower case": f" {dossier.code.lower()} ", "unknown": UNKNOWN_CODE}[case]
    with override_settings(**BEHIND_TLS_PROXY):
        status, _, body = answered_lean_as_django(wsgi, environ({"code": code}, path=API, **VARIANTS[variant]))
    if variant == "plain http":
        assert status.startswith("301")
        return
    if case == "unknown":
        assert status.startswith("404") and "Dossier not found" in json.loads(body)["detail"]
        return
    assert status == "200 OK"
    answer = json.loads(body)
    assert answer["code"] == dossier.code and answer["status"] == "processing"
    assert [step["action"] for step in answer["timeline"]] == ["submit", "receive", "assign", "start"]
    text = body.decode()
    assert not [s for s in personal_strings(dossier, people) if s in text]


@pytest.mark.parametrize("query", [{}, {"code": "   "}, {"code": "H04-1"}, {"code": "000.00.13.H04-2604-0001"}])
def test_a_bad_code_goes_to_django_whose_400_names_it(wsgi, query):
    with override_settings(**BEHIND_TLS_PROXY):
        lean, behind, django = wsgi()
        env = environ(query, path=API, **HTTPS)
        lean_answer = call(lean, env)
        cache.clear()
        assert_same(lean_answer, call(django, env))
    assert lean_answer[0].startswith("400") and set(json.loads(lean_answer[2])) == {"code"}
    assert behind.calls == 1


@override_settings(**BEHIND_TLS_PROXY, PUBLIC_LOOKUP_RATE="3/min")
def test_the_lean_look_up_counts_and_refuses_as_the_view(wsgi, dossier):
    lean, behind, django = wsgi()
    refused_alike(lean, django, environ({"code": dossier.code}, path=API, **HTTPS))
    # The page shares the limit; another client has its own.
    assert call(lean, environ({"code": dossier.code}, path=PAGE, **HTTPS))[0][:3] == "429"
    assert (
        call(lean, environ({"code": dossier.code}, path=API, **HTTPS, HTTP_X_FORWARDED_FOR="198.51.100.99"))[0][:3]
        == "200"
    )
    assert behind.calls == 1  # the page only
