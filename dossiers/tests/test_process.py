"""A procedure's own process (issue #15, dossiers.process): which steps of
the workflow's main path, who takes each, how many working days.

- Declarations are checked wherever they are saved (the admin's change
  form, the import through the admin and the command, the model's clean):
  each rule refused with a message naming the step and the field, nothing
  stored.
- A declared step narrows the roles: the move is refused (409, the table's
  refusal) to the others, no event written, and not offered.
- Each step's internal due time is checked against working days counted by
  hand here (weekends and the holidays listed below), never by
  dossiers.calendar; the legal deadline does not move.
- Without a declaration nothing changes; the procedure API and its public
  page show the steps, in one language each."""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from dossiers.models import Dossier, DossierEvent, Procedure
from dossiers.process import process_import
from dossiers.workflow import BY_ACTION, MAIN_PATH

from .conftest import HCM, local

pytestmark = pytest.mark.django_db

ADMIN_CHANGE = "/admin/dossiers/procedure/{pk}/change/"
ADMIN_IMPORT = "/admin/dossiers/procedure/import-process/"

# catalogue.main: 3 working days.
DECLARED = [
    {"action": "start", "roles": ["processing_officer"], "days": 1},
    {"action": "approve", "roles": ["leader"], "days": 2},
]

# Each rule, a declaration breaking it, and what the message must name.
BAD = {
    "unknown action": ([{"action": "sign", "roles": ["leader"], "days": 1}], ["Step 1 (sign), action"]),
    "side move": ([{"action": "refuse", "roles": ["leader"], "days": 1}], ["Step 1 (refuse), action"]),
    "order": (
        [{"action": "approve", "roles": ["leader"], "days": 1}, {"action": "start", "roles": ["leader"], "days": 1}],
        ["Step 2 (start), action", "out of order"],
    ),
    "repeated step": (
        [{"action": "start", "roles": ["leader"], "days": 1}, {"action": "start", "roles": ["leader"], "days": 1}],
        ["Step 2 (start), action"],
    ),
    "role outside the table": (
        [{"action": "approve", "roles": ["leader", "processing_officer"], "days": 1}],
        ["Step 1 (approve), roles", "processing_officer"],
    ),
    "no role": ([{"action": "approve", "roles": [], "days": 1}], ["Step 1 (approve), roles"]),
    "negative days": ([{"action": "approve", "roles": ["leader"], "days": -2}], ["Step 1 (approve), days"]),
    "days not a number": ([{"action": "approve", "roles": ["leader"], "days": "2"}], ["Step 1 (approve), days"]),
    "more days than the procedure": (
        [{"action": "start", "roles": ["leader"], "days": 2}, {"action": "approve", "roles": ["leader"], "days": 2}],
        ["days", "add up to 4", "3 working days"],
    ),
    "unknown field": ([{"action": "approve", "roles": ["leader"], "days": 1, "hours": 4}], ["Step 1", "hours"]),
    "not a list": ({"approve": 1}, ["JSON list"]),
}


def test_the_main_path_follows_the_table():
    # Each step's target is a source of the next: a declaration in this order
    # is a path a dossier can really walk.
    for before, after in zip(MAIN_PATH, MAIN_PATH[1:], strict=False):
        assert BY_ACTION[before].target in BY_ACTION[after].sources, (before, after)


# --- the admin's change form ----------------------------------------------------------------


def _admin_form(procedure: Procedure, process) -> dict:
    data = {
        "code": procedure.code,
        "name": procedure.name,
        "sector": procedure.sector_id,
        "agency": procedure.agency_id,
        "level": procedure.level,
        "online_level": procedure.online_level,
        "old_online_level": "",
        "processing_days": procedure.processing_days,
        "fee_vnd": procedure.fee_vnd,
        "fee_note": "",
        "required_documents": "[]",
        "result": "",
        "postal_submission_allowed": "on",
        "postal_result_allowed": "on",
        "legal_basis": "",
        "is_active": "on",
        "process": json.dumps(process),
    }
    for prefix in ("components", "forms"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    return data


@pytest.mark.parametrize("rule", list(BAD))
def test_the_admin_refuses_each_bad_declaration_and_stores_nothing(admin_client, catalogue, rule):
    process, named = BAD[rule]
    procedure = catalogue.main
    before = model_to_dict(Procedure.objects.get(pk=procedure.pk))
    response = admin_client.post(ADMIN_CHANGE.format(pk=procedure.pk), _admin_form(procedure, process))
    # The admin shows the form again with the errors (Django's admin answers 200).
    assert response.status_code == 200
    errors = " ".join(" ".join(map(str, e)) for e in response.context["adminform"].form.errors.values())
    for text in named:
        assert text in errors, (rule, errors)
    assert "process" in response.context["adminform"].form.errors
    assert model_to_dict(Procedure.objects.get(pk=procedure.pk)) == before


def test_the_admin_saves_a_good_declaration(admin_client, catalogue):
    procedure = catalogue.main
    response = admin_client.post(ADMIN_CHANGE.format(pk=procedure.pk), _admin_form(procedure, DECLARED))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert Procedure.objects.get(pk=procedure.pk).process == DECLARED
    # Emptied again: the default.
    response = admin_client.post(ADMIN_CHANGE.format(pk=procedure.pk), _admin_form(procedure, []))
    assert response.status_code == 302
    assert Procedure.objects.get(pk=procedure.pk).process == []


def test_lowering_the_processing_days_below_the_steps_is_refused(admin_client, catalogue):
    procedure = catalogue.main
    Procedure.objects.filter(pk=procedure.pk).update(process=DECLARED)
    form = {**_admin_form(procedure, DECLARED), "processing_days": 2}
    response = admin_client.post(ADMIN_CHANGE.format(pk=procedure.pk), form)
    assert response.status_code == 200
    assert "add up to 3" in str(response.context["adminform"].form.errors["process"])
    assert Procedure.objects.get(pk=procedure.pk).processing_days == 3


# --- the import (admin page, command) -----------------------------------------------------------


def _upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="application/octet-stream")


@pytest.mark.parametrize("rule", ["order", "role outside the table", "negative days", "more days than the procedure"])
def test_the_import_page_refuses_a_bad_file_with_a_400_and_changes_nothing(admin_client, catalogue, rule):
    process, named = BAD[rule]
    Procedure.objects.filter(pk=catalogue.commune.pk).update(process=[])
    good_first = {catalogue.commune.code: [{"action": "approve", "roles": ["leader"], "days": 1}]}
    body = json.dumps({**good_first, catalogue.main.code: process})
    response = admin_client.post(ADMIN_IMPORT, {"file": _upload("p.json", body)})
    assert response.status_code == 400
    html = response.content.decode()
    assert catalogue.main.code in html
    for text in named:
        assert text in html
    # All or nothing: the good procedure of the same file kept its default.
    assert Procedure.objects.get(pk=catalogue.commune.pk).process == []
    assert Procedure.objects.get(pk=catalogue.main.pk).process == []


def test_the_import_page_takes_csv_and_json(admin_client, catalogue):
    csv_text = (
        "procedure,action,roles,days\n"
        f"{catalogue.main.code},start,processing_officer,1\n"
        f"{catalogue.main.code},approve,leader,2\n"
        f"{catalogue.commune.code},receive,desk_officer,1\n"
    )
    response = admin_client.post(ADMIN_IMPORT, {"file": _upload("p.csv", csv_text)})
    assert response.status_code == 302
    assert Procedure.objects.get(pk=catalogue.main.pk).process == DECLARED
    assert Procedure.objects.get(pk=catalogue.commune.pk).process == [
        {"action": "receive", "roles": ["desk_officer"], "days": 1}
    ]
    # JSON, an empty list: back to the table; the commune procedure is not named and keeps its own.
    response = admin_client.post(ADMIN_IMPORT, {"file": _upload("p.json", json.dumps({catalogue.main.code: []}))})
    assert response.status_code == 302
    assert Procedure.objects.get(pk=catalogue.main.pk).process == []
    assert Procedure.objects.get(pk=catalogue.commune.pk).process != []


def test_the_import_names_a_bad_csv_row_and_an_unknown_procedure(tmp_path, catalogue):
    path = tmp_path / "p.csv"
    path.write_text(
        f"procedure,action,roles,days\n{catalogue.main.code},start,leader,one\n9.999999,approve,leader,1\n",
        encoding="utf-8",
    )
    report = process_import(path=path)
    assert not report.ok
    assert any("Row 2, days" in e for e in report.errors)
    assert any("9.999999" in e for e in report.errors)
    with pytest.raises(CommandError):
        call_command("import_process", str(path), stderr=open("/dev/null", "w"))  # noqa: SIM115
    assert Procedure.objects.get(pk=catalogue.main.pk).process == []


def test_the_seeded_procedures_are_real_and_valid():
    seeded = json.loads((settings.BASE_DIR / "dossiers" / "data" / "processes.json").read_text(encoding="utf-8"))
    assert len(seeded) >= 3
    for code, process in seeded.items():
        procedure = Procedure.objects.get(code=code)  # a code of the demo catalogue
        assert procedure.process == process
        procedure.full_clean()


# --- the declaration at work ------------------------------------------------------------------


def _post(client_as, user, dossier, action: str):
    return client_as(user).post(
        f"/api/v1/dossiers/{dossier.code}/transitions/", {"action": action, "note": "ghi chú"}, format="json"
    )


def _offered(client_as, user, dossier) -> set[str]:
    body = client_as(user).get(f"/api/v1/dossiers/{dossier.code}/").json()
    return {a["action"] for a in body["allowed_actions"]}


def test_a_declared_step_refuses_the_roles_it_leaves_out(client_as, catalogue, people, in_state):
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    dossier = in_state("assigned")
    # The table lets the leader start; this procedure does not.
    assert "start" not in _offered(client_as, people.leader, dossier)
    before = list(DossierEvent.objects.filter(dossier=dossier).values_list("id", "action"))
    response = _post(client_as, people.leader, dossier, "start")
    assert response.status_code == 409
    assert "start" not in response.json()["allowed_actions"]
    assert Dossier.objects.get(pk=dossier.pk).status == "assigned"
    assert list(DossierEvent.objects.filter(dossier=dossier).values_list("id", "action")) == before
    # The role the step names takes it, with its event.
    assert "start" in _offered(client_as, people.processor, dossier)
    assert _post(client_as, people.processor, dossier, "start").status_code == 200
    assert DossierEvent.objects.filter(dossier=dossier, action="start").count() == 1
    # Moves the declaration does not name keep the table's roles (the leader stops it).
    assert "stop" in _offered(client_as, people.leader, dossier)


def test_the_pages_offer_and_take_only_what_the_declaration_allows(client, catalogue, people, in_state):
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    dossier = in_state("assigned")
    client.force_login(people.leader)
    assert 'name="action" value="start"' not in client.get(f"/dossiers/{dossier.code}/").content.decode()
    events = DossierEvent.objects.filter(dossier=dossier).count()
    client.post(f"/dossiers/{dossier.code}/action/", {"action": "start", "note": "x", "confirm": "on"})
    assert Dossier.objects.get(pk=dossier.pk).status == "assigned"
    assert DossierEvent.objects.filter(dossier=dossier).count() == events
    client.force_login(people.processor)
    assert 'name="action" value="start"' in client.get(f"/dossiers/{dossier.code}/").content.decode()


def test_without_a_declaration_the_table_is_unchanged(client_as, catalogue, people, in_state):
    assert Procedure.objects.get(pk=catalogue.main.pk).process == []
    dossier = in_state("assigned")
    assert "start" in _offered(client_as, people.leader, dossier)
    assert _post(client_as, people.leader, dossier, "start").status_code == 200
    body = client_as(people.leader).get(f"/api/v1/dossiers/{dossier.code}/").json()
    assert body["process"] == [] and body["step_due_at"] is None


# --- step due times ---------------------------------------------------------------------------

# Days off from 28 August to 10 September 2026, read from the government's
# decision (holidays of National Day 2/9 and the day before it; Monday 31
# August given off in exchange for Saturday 22 August), besides weekends.
DAYS_OFF_2026 = {dt.date(2026, 8, 31), dt.date(2026, 9, 1), dt.date(2026, 9, 2)}


def _nth_working_day(day: dt.date, count: int) -> dt.date:
    while count:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in DAYS_OFF_2026:
            count -= 1
    return day


def _end_of(day: dt.date) -> str:
    hours, minutes = map(int, settings.WORKDAY_END.split(":"))
    return dt.datetime(day.year, day.month, day.day, hours, minutes, tzinfo=HCM).isoformat()


def test_each_step_is_due_after_its_working_days_and_the_deadline_stays(client_as, catalogue, people, submit, drive):
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    received = local(2026, 8, 28, 10)  # a Friday, within working hours
    dossier = submit(received_at=received)
    body = client_as(people.desk_main).get(f"/api/v1/dossiers/{dossier.code}/").json()
    start_due = _end_of(_nth_working_day(received.date(), 1))  # Thursday 3 September
    approve_due = _end_of(_nth_working_day(received.date(), 3))  # Monday 7 September
    assert [(s["action"], s["days"], s["due_at"]) for s in body["process"]] == [
        ("start", 1, start_due),
        ("approve", 2, approve_due),
    ]
    assert start_due.startswith("2026-09-03") and approve_due.startswith("2026-09-07")
    # The legal deadline: 3 working days, as without a declaration.
    assert body["due_at"] == _end_of(_nth_working_day(received.date(), 3))
    # Received, the dossier waits for assignment, then for the start: the
    # first declared step from there is the current one.
    assert body["step_due_at"] == start_due
    assert [s["current"] for s in body["process"]] == [True, False]
    walked = drive(dossier, "processing")
    body = client_as(people.leader).get(f"/api/v1/dossiers/{walked.code}/").json()
    assert [s["current"] for s in body["process"]] == [False, True]
    assert body["step_due_at"] == approve_due
    assert body["process"][0]["done_at"] is not None and body["process"][1]["done_at"] is None
    assert body["due_at"] == _end_of(_nth_working_day(received.date(), 3))


def test_a_step_of_0_days_is_due_the_same_working_day(client_as, catalogue, people, submit):
    same_day = [
        {"action": "start", "roles": ["processing_officer", "leader"], "days": 0},
        {"action": "approve", "roles": ["leader"], "days": 1},
    ]
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=same_day)
    received = local(2026, 8, 28, 10)  # a Friday, within working hours
    body = client_as(people.desk_main).get(f"/api/v1/dossiers/{submit(received_at=received).code}/").json()
    assert [(s["action"], s["due_at"]) for s in body["process"]] == [
        ("start", _end_of(received.date())),  # that Friday
        ("approve", _end_of(_nth_working_day(received.date(), 1))),  # Thursday 3 September
    ]


def test_a_supplement_pause_pushes_the_step_dues_as_it_pushes_the_deadline(client_as, catalogue, people, submit):
    from dossiers.services import dossier_transition

    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    received = local(2026, 8, 28, 10)
    dossier = submit(received_at=received)
    dossier_transition(
        code=dossier.code, action="request_supplement", acting_user=people.desk_main, note="thiếu", at=received
    )
    # Paused on Friday 28 August, resumed on Friday 4 September: the working
    # days after 28/8 up to 4/9 are lost, Thursday 3 and Friday 4 September.
    dossier_transition(code=dossier.code, action="supplement", acting_user=people.citizen_a, at=local(2026, 9, 4, 9))
    body = client_as(people.desk_main).get(f"/api/v1/dossiers/{dossier.code}/").json()
    lost = Dossier.objects.get(pk=dossier.pk).paused_working_days
    assert lost == 2
    assert body["process"][0]["due_at"] == _end_of(_nth_working_day(received.date(), 1 + lost))
    assert body["process"][1]["due_at"] == _end_of(_nth_working_day(received.date(), 3 + lost))
    assert body["due_at"] == body["process"][1]["due_at"]


def test_the_officers_pages_show_the_step_due(client, catalogue, people, submit):
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    dossier = submit(received_at=local(2026, 8, 28, 10))
    client.force_login(people.desk_main)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'id="dossier-step-due">03/09/2026 17:00' in page
    assert 'data-action="approve"' in page and "07/09/2026 17:00" in page
    worklist = client.get("/worklist/").content.decode()
    row = worklist.split(f'<a href="/dossiers/{dossier.code}/">')[1].split("</tr>")[0]
    assert "Step due" in row and "03/09/2026 17:00" in row
    # The internal steps are the officials' (the applicant has the legal deadline).
    client.force_login(people.citizen_a)
    page = client.get(f"/dossiers/{dossier.code}/").content.decode()
    assert 'id="process"' not in page and "dossier-step-due" not in page


# --- the procedure API and page -----------------------------------------------------------------


def test_the_procedure_api_shows_the_process_and_keeps_its_fields(client_as, catalogue):
    url = f"/api/v1/procedures/{catalogue.main.code}/"
    before = client_as(None).get(url).json()
    assert before["process"] == []
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    after = client_as(None).get(url).json()
    assert set(before) == set(after)
    assert [(s["action"], s["roles"], s["days"]) for s in after["process"]] == [
        ("start", ["processing_officer"], 1),
        ("approve", ["leader"], 2),
    ]
    assert after["process"][1]["label"] == BY_ACTION["approve"].label
    assert after["process"][1]["role_labels"] == ["Lãnh đạo / Leader"]


@pytest.mark.parametrize(
    ("language", "heading", "who", "step"),
    [
        ("vi", "Trình tự giải quyết hồ sơ", "Chuyên viên xử lý", "Bắt đầu xử lý"),
        ("en", "How the dossier is handled", "Processing officer", "Start processing"),
    ],
)
def test_the_public_page_shows_the_steps_in_one_language(client, catalogue, language, heading, who, step):
    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(f"/procedures/{catalogue.main.code}/").content.decode()
    section = html.split('id="process"')[1].split("</section>")[0]
    assert heading in html and who in section and step in section
    assert " / " not in section
    other = "Processing officer" if language == "vi" else "Chuyên viên xử lý"
    assert other not in section


def test_before_receipt_the_receive_step_counts_from_the_submission(client_as, catalogue, people, submit):
    Procedure.objects.filter(pk=catalogue.main.pk).update(
        process=[
            {"action": "receive", "roles": ["desk_officer"], "days": 1},
            {"action": "approve", "roles": ["leader"], "days": 2},
        ]
    )
    dossier = submit(receive=False)
    Dossier.objects.filter(pk=dossier.pk).update(submitted_at=local(2026, 8, 28, 10))
    body = client_as(people.desk_main).get(f"/api/v1/dossiers/{dossier.code}/").json()
    assert body["due_at"] is None  # no legal deadline before receipt
    assert [s["current"] for s in body["process"]] == [True, False]
    assert body["step_due_at"] == _end_of(_nth_working_day(dt.date(2026, 8, 28), 1))
    assert body["process"][1]["due_at"] == _end_of(_nth_working_day(dt.date(2026, 8, 28), 3))


def test_the_catalogue_import_may_not_shorten_a_procedure_below_its_steps(tmp_path, catalogue):
    from dossiers.catalogue import procedures_import

    Procedure.objects.filter(pk=catalogue.main.pk).update(process=DECLARED)
    main = catalogue.main
    header = (
        "code,name,sector_code,sector_name,agency_code,level,online_level,old_online_level,processing_days,fee_vnd,"
        "fee_note,required_documents,result,postal_submission_allowed,postal_result_allowed,legal_basis,is_demo_values"
    )
    row = (
        f"{main.code},{main.name},{main.sector.code},{main.sector.name},so-tp,province,full,,{{days}},0,,,,"
        "true,true,,false"
    )
    path = tmp_path / "catalogue.csv"
    path.write_text(f"{header}\n{row.format(days=2)}\n", encoding="utf-8")
    report = procedures_import(path=path)
    assert any("processing_days" in e and "3 working days" in e for e in report.errors), report.errors
    assert Procedure.objects.get(pk=main.pk).processing_days == 3
    path.write_text(f"{header}\n{row.format(days=4)}\n", encoding="utf-8")
    assert procedures_import(path=path).ok
    assert Procedure.objects.get(pk=main.pk).processing_days == 4
