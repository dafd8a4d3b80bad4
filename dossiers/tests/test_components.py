"""Dossier components and e-forms configured as data: a component's own
checks (a form schema must be valid JSON Schema 2020-12), the import from
JSON and CSV (all or nothing), and submissions against them: required
components, one-of groups, accepted file types and e-form answers, each
refused with a 422 naming the component or the form field, with nothing
stored. A procedure without components behaves as before."""

import json

import pytest
from django.core.exceptions import ValidationError

from dossiers.components import components_import, eform_errors
from dossiers.models import Attachment, Dossier, DossierEForm, ProcedureComponent

from .test_submit import JPEG, PDF, PNG, URL, counts, stored_files, upload

pytestmark = pytest.mark.django_db

PDF_ONLY = ["application/pdf"]
IMAGES = ["image/png", "image/jpeg"]
SCHEMA = {
    "type": "object",
    "title": "Tờ khai thử",
    "required": ["child_name", "birth_date", "father"],
    "properties": {
        "child_name": {"type": "string", "title": "Họ, chữ đệm, tên người được khai sinh", "minLength": 2},
        "birth_date": {"type": "string", "format": "date", "title": "Ngày, tháng, năm sinh"},
        "sex": {"type": "string", "title": "Giới tính", "enum": ["Nam", "Nữ"]},
        "father": {
            "type": "object",
            "title": "Cha",
            "required": ["id_number"],
            "properties": {
                "id_number": {"type": "string", "title": "Số định danh cá nhân của cha", "pattern": "^[0-9]{12}$"},
                "phone": {"type": "string", "title": "Số điện thoại", "pattern": "^(0|\\+84)[0-9]{9,10}$"},
            },
        },
    },
}
ANSWERS = {
    "child_name": "Nguyễn Văn Bé",
    "birth_date": "2026-11-20",
    "sex": "Nam",
    "father": {"id_number": "027095001234"},
}


@pytest.fixture
def files_root(settings, tmp_path):
    settings.DOSSIER_FILES_ROOT = tmp_path / "private-dossiers"
    return settings.DOSSIER_FILES_ROOT


@pytest.fixture
def components(catalogue):
    """catalogue.main gets: an e-form (required), CCCD or passport (a
    required one-of group, images or PDF), a PDF-only required certificate,
    and an optional photo."""
    procedure = catalogue.main
    rows = [
        ProcedureComponent(procedure=procedure, code="to-khai", name="Tờ khai thử", form_schema=SCHEMA, copies=0),
        ProcedureComponent(
            procedure=procedure, code="cccd", name="Căn cước công dân", group="giay-to", accepted_types=IMAGES
        ),
        ProcedureComponent(
            procedure=procedure, code="ho-chieu", name="Hộ chiếu", group="giay-to", accepted_types=[*IMAGES, *PDF_ONLY]
        ),
        ProcedureComponent(
            procedure=procedure, code="giay-chung-sinh", name="Giấy chứng sinh", accepted_types=PDF_ONLY
        ),
        ProcedureComponent(procedure=procedure, code="anh", name="Ảnh", required=False, accepted_types=IMAGES),
    ]
    for order, row in enumerate(rows):
        row.order = order
        row.full_clean()
        row.save()
    return procedure


def complete(api_payload, **overrides) -> dict:
    """A multipart body satisfying every component of `components`."""
    return {
        **api_payload(),
        "forms": json.dumps({"to-khai": ANSWERS}),
        "components[cccd]": [upload("cccd-front.png", PNG), upload("cccd-back.jpg", JPEG)],
        "components[giay-chung-sinh]": upload("chung-sinh.pdf", PDF),
        **overrides,
    }


# --- definitions ------------------------------------------------------------------------------------


def test_a_form_schema_must_be_valid_json_schema(catalogue):
    bad = ProcedureComponent(
        procedure=catalogue.main, code="x", name="X", form_schema={"type": "object", "properties": {"a": {"type": 5}}}
    )
    with pytest.raises(ValidationError) as refused:
        bad.full_clean()
    assert "form_schema" in refused.value.message_dict
    assert "JSON Schema 2020-12" in refused.value.message_dict["form_schema"][0]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"form_schema": {"type": "string"}}, "form_schema"),
        ({"form_schema": ["not", "an", "object"]}, "form_schema"),
        ({"accepted_types": ["application/x-msdownload"]}, "accepted_types"),
        ({"accepted_types": "application/pdf"}, "accepted_types"),
        ({"accepted_types": []}, "accepted_types"),
    ],
)
def test_bad_component_definitions_are_refused(catalogue, fields, field):
    component = ProcedureComponent(
        procedure=catalogue.main, code="x", name="X", **{"accepted_types": PDF_ONLY, **fields}
    )
    with pytest.raises(ValidationError) as refused:
        component.full_clean()
    assert field in refused.value.message_dict


def test_an_eform_needs_no_file_type(catalogue):
    ProcedureComponent(procedure=catalogue.main, code="x", name="X", form_schema=SCHEMA).full_clean()


def test_eform_errors_name_the_field_path_in_vietnamese_and_english():
    errors = eform_errors(
        SCHEMA, {"child_name": "A", "birth_date": "20/11/2026", "sex": "?", "father": {"id_number": "12"}}
    )
    assert set(errors) == {"child_name", "birth_date", "sex", "father.id_number"}
    assert errors["father.id_number"][0].startswith("Số định danh cá nhân của cha: không đúng định dạng")
    assert " / " in errors["birth_date"][0]
    missing = eform_errors(SCHEMA, {"father": {}})
    assert set(missing) == {"child_name", "birth_date", "father.id_number"}
    assert "bắt buộc" in missing["child_name"][0]
    assert eform_errors(SCHEMA, ANSWERS) == {}


# --- import -----------------------------------------------------------------------------------------


def test_import_json_replaces_the_components_of_the_named_procedures(catalogue, components, tmp_path):
    kept = ProcedureComponent.objects.get(procedure=components, code="cccd")
    data = {
        catalogue.main.code: [
            {"code": "cccd", "name": "CCCD (mới)", "group": "giay-to", "accepted_types": ["png", "jpg", "pdf"]},
            {"code": "ho-chieu", "name": "Hộ chiếu", "group": "giay-to"},
            {"code": "to-khai", "name": "Tờ khai", "form_schema": SCHEMA},
        ],
        catalogue.commune.code: [{"code": "don", "name": "Đơn", "required": False, "originals": 1, "copies": 0}],
    }
    path = tmp_path / "components.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    report = components_import(path=path)
    assert report.ok, report.errors
    assert (report.procedures, report.components) == (2, 4)
    main = list(ProcedureComponent.objects.filter(procedure=catalogue.main).values_list("code", flat=True))
    assert main == ["cccd", "ho-chieu", "to-khai"]
    cccd = ProcedureComponent.objects.get(procedure=catalogue.main, code="cccd")
    assert cccd.pk == kept.pk and cccd.name == "CCCD (mới)"
    assert cccd.accepted_types == ["image/png", "image/jpeg", "application/pdf"]
    # Defaults: every type for a file component, none for an e-form.
    assert len(ProcedureComponent.objects.get(procedure=catalogue.main, code="ho-chieu").accepted_types) == 4
    assert ProcedureComponent.objects.get(procedure=catalogue.main, code="to-khai").accepted_types == []
    don = ProcedureComponent.objects.get(procedure=catalogue.commune)
    assert (don.required, don.originals, don.copies) == (False, 1, 0)


def test_import_csv(catalogue, tmp_path):
    path = tmp_path / "components.csv"
    schema = json.dumps(SCHEMA, ensure_ascii=False).replace('"', '""')
    path.write_text(
        "procedure,code,name,required,group,originals,copies,accepted_types,form_schema,order\n"
        f"{catalogue.main.code},cccd,Căn cước,true,giay-to,1,0,png|jpg,,0\n"
        f'{catalogue.main.code},to-khai,Tờ khai,true,,0,0,,"{schema}",1\n',
        encoding="utf-8",
    )
    report = components_import(path=path)
    assert report.ok, report.errors
    rows = ProcedureComponent.objects.filter(procedure=catalogue.main)
    assert [(r.code, r.group, r.originals, r.is_eform) for r in rows] == [
        ("cccd", "giay-to", 1, False),
        ("to-khai", "", 0, True),
    ]


def test_import_with_one_bad_entry_changes_nothing(catalogue, components, tmp_path):
    before = list(ProcedureComponent.objects.values_list("pk", "code", "name"))
    data = {
        catalogue.main.code: [
            {"code": "cccd", "name": "CCCD"},
            {
                "code": "to-khai",
                "name": "Tờ khai",
                "form_schema": {"type": "object", "properties": {"a": {"minLength": -1}}},
            },
        ],
        "0.000000": [{"code": "x", "name": "X"}],
    }
    path = tmp_path / "components.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = components_import(path=path)
    assert not report.ok
    text = "\n".join(report.errors)
    assert "form_schema" in text and "0.000000" in text
    assert list(ProcedureComponent.objects.values_list("pk", "code", "name")) == before


# --- submissions --------------------------------------------------------------------------------------


def test_complete_submission_stores_files_by_component_and_the_form(
    api_payload, people, client_as, components, files_root
):
    response = client_as(people.citizen_a).post(URL, complete(api_payload), format="multipart")
    assert response.status_code == 201, response.json()
    dossier = Dossier.objects.get(code=response.json()["code"])
    received = sorted(dossier.attachments.values_list("component_code", "component_name", "content_type"))
    assert received == [
        ("cccd", "Căn cước công dân", "image/jpeg"),
        ("cccd", "Căn cước công dân", "image/png"),
        ("giay-chung-sinh", "Giấy chứng sinh", "application/pdf"),
    ]
    form = DossierEForm.objects.get(dossier=dossier)
    assert (form.component_code, form.answers, form.form_schema) == ("to-khai", ANSWERS, SCHEMA)
    assert len(stored_files(files_root)) == 3


def test_json_body_carries_the_forms_as_an_object(api_payload, people, client_as, components, files_root):
    """JSON cannot carry files: only the e-form's answers, so the required
    files are missing (422), and the form itself was accepted."""
    response = client_as(people.citizen_a).post(URL, {**api_payload(), "forms": {"to-khai": ANSWERS}}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"components"}
    assert set(body["components"]) == {"cccd", "ho-chieu", "giay-chung-sinh"}


def test_missing_required_components_are_named(api_payload, people, client_as, components, files_root):
    before = counts()
    response = client_as(people.citizen_a).post(URL, api_payload(), format="json")
    assert response.status_code == 422
    problems = response.json()["components"]
    assert set(problems) == {"to-khai", "cccd", "ho-chieu", "giay-chung-sinh"}
    assert "Thiếu thành phần bắt buộc: Giấy chứng sinh" in problems["giay-chung-sinh"][0]
    assert "Căn cước công dân hoặc Hộ chiếu" in problems["cccd"][0]
    assert "anh" not in problems  # optional
    assert counts() == before


def test_one_of_a_group_is_enough(api_payload, people, client_as, components, files_root):
    body = complete(api_payload)
    del body["components[cccd]"]
    body["components[ho-chieu]"] = upload("passport.pdf", PDF)
    response = client_as(people.citizen_a).post(URL, body, format="multipart")
    assert response.status_code == 201, response.json()


def test_a_file_type_the_component_does_not_accept_is_refused_and_nothing_stored(
    api_payload, people, client_as, components, files_root
):
    """A PDF is a type the portal knows, but the CCCD slot takes images only."""
    before = counts()
    body = complete(api_payload, **{"components[cccd]": [upload("cccd.png", PNG), upload("cccd.pdf", PDF)]})
    response = client_as(people.citizen_a).post(URL, body, format="multipart")
    assert response.status_code == 422
    assert list(response.json()) == ["components"]
    assert list(response.json()["components"]) == ["cccd"]
    assert "cccd.pdf" in response.json()["components"]["cccd"][0]
    assert counts() == before
    assert stored_files(files_root) == []
    assert DossierEForm.objects.count() == 0


def test_a_file_of_no_known_type_in_a_slot_is_422_naming_the_component(
    api_payload, people, client_as, components, files_root
):
    body = complete(api_payload, **{"components[giay-chung-sinh]": upload("virus.pdf", b"MZ\x90\x00 not a pdf")})
    response = client_as(people.citizen_a).post(URL, body, format="multipart")
    assert response.status_code == 422
    assert list(response.json()["components"]) == ["giay-chung-sinh"]
    assert stored_files(files_root) == []


def test_unknown_component_and_file_for_an_eform_are_refused(api_payload, people, client_as, components, files_root):
    body = complete(
        api_payload, **{"components[khong-co]": upload("a.pdf", PDF), "components[to-khai]": upload("b.pdf", PDF)}
    )
    response = client_as(people.citizen_a).post(URL, body, format="multipart")
    assert response.status_code == 422
    assert set(response.json()["components"]) == {"khong-co", "to-khai"}
    assert stored_files(files_root) == []


def test_eform_errors_are_422_naming_the_field(api_payload, people, client_as, components, files_root):
    before = counts()
    bad = {**ANSWERS, "father": {"id_number": "0270950012"}, "birth_date": "hôm qua"}
    response = client_as(people.citizen_a).post(
        URL, complete(api_payload, forms=json.dumps({"to-khai": bad})), format="multipart"
    )
    assert response.status_code == 422
    body = response.json()
    assert list(body) == ["forms"]
    assert set(body["forms"]["to-khai"]) == {"father.id_number", "birth_date"}
    assert counts() == before
    assert stored_files(files_root) == []


@pytest.mark.parametrize("forms", ["{not json", "[1, 2]", json.dumps({"to-khai": "text"})])
def test_malformed_forms_are_400(forms, api_payload, people, client_as, components, files_root):
    response = client_as(people.citizen_a).post(URL, complete(api_payload, forms=forms), format="multipart")
    assert response.status_code == 400
    assert list(response.json()) == ["forms"]


def test_a_desk_officer_receives_paper_without_every_component(api_payload, people, client_as, components):
    """At the desk the officer checks the paper dossier in hand: nothing is
    required online, but what is given is checked."""
    client = client_as(people.desk_main)
    assert client.post(URL, api_payload(channel=1), format="json").status_code == 201
    bad = client.post(URL, {**api_payload(channel=1), "forms": {"to-khai": {"child_name": 3}}}, format="json")
    assert bad.status_code == 422
    assert set(bad.json()["forms"]["to-khai"]) == {"child_name", "birth_date", "father"}


def test_a_procedure_without_components_behaves_as_before(api_payload, people, client_as, catalogue, files_root):
    response = client_as(people.citizen_a).post(
        URL,
        {**api_payload(procedure=catalogue.commune.code), "attachments": [upload("a.pdf", PDF)]},
        format="multipart",
    )
    assert response.status_code == 201
    assert Attachment.objects.get().component_code == ""
    # but tagging a component it does not have is refused
    refused = client_as(people.citizen_a).post(
        URL,
        {**api_payload(procedure=catalogue.commune.code), "components[cccd]": upload("a.png", PNG)},
        format="multipart",
    )
    assert refused.status_code == 422
    assert list(refused.json()["components"]) == ["cccd"]


def test_idempotent_retry_compares_component_files_and_forms(api_payload, people, client_as, components, files_root):
    client = client_as(people.citizen_a)
    first = client.post(URL, complete(api_payload), format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(URL, complete(api_payload), format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["code"] == first.json()["code"]
    other = {**ANSWERS, "child_name": "Nguyễn Thị Bé"}
    changed = client.post(
        URL, complete(api_payload, forms=json.dumps({"to-khai": other})), format="multipart", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert changed.status_code == 422


# --- the demo seed -----------------------------------------------------------------------------------

BIRTH_ANSWERS = {
    "requester": {
        "full_name": "Nguyễn Thị Mẹ",
        "id_number": "027095001234",
        "address": "Bắc Ninh",
        "phone": "0912345678",
    },
    "relationship": "Mẹ",
    "child": {"full_name": "Nguyễn Văn Con", "sex": "Nam", "birth_date": "2026-11-20", "birth_place": "BVĐK Bắc Ninh"},
    "mother": {"full_name": "Nguyễn Thị Mẹ", "id_number": "027095001234", "address": "Bắc Ninh"},
}


def test_the_demo_seed_gives_the_most_used_procedures_components_and_eforms():
    from dossiers.catalogue import catalogue_demo_load

    catalogue_demo_load()  # idempotent: matched by procedure and code
    catalogue_demo_load()
    seeded = set(ProcedureComponent.objects.values_list("procedure__code", flat=True))
    assert len(seeded) >= 20
    # birth, marriage, death, land, business household, construction permit
    assert {"1.001193", "1.000894", "1.000656", "1.012753", "1.001612", "1.013225"} <= seeded
    eform_procedures = set(
        ProcedureComponent.objects.filter(form_schema__isnull=False).values_list("procedure__code", flat=True)
    )
    assert eform_procedures >= seeded - {"2.000815", "2.000884"}  # certifying a copy or a signature: no form
    birth = ProcedureComponent.objects.get(procedure__code="1.001193", code="to-khai")
    assert eform_errors(birth.form_schema, BIRTH_ANSWERS) == {}
    bad = {**BIRTH_ANSWERS, "mother": {**BIRTH_ANSWERS["mother"], "id_number": "27095001234"}}
    assert list(eform_errors(birth.form_schema, bad)) == ["mother.id_number"]


# --- what is stored and printed --------------------------------------------------------------------


def _submitted(api_payload, people, client_as) -> dict:
    response = client_as(people.citizen_a).post(URL, complete(api_payload), format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()


def test_detail_lists_the_components_received_and_the_forms(api_payload, people, client_as, components, files_root):
    body = _submitted(api_payload, people, client_as)
    assert body["components"] == [
        {"code": "to-khai", "name": "Tờ khai thử", "files": 0, "eform": True},
        {"code": "cccd", "name": "Căn cước công dân", "files": 2, "eform": False},
        {"code": "giay-chung-sinh", "name": "Giấy chứng sinh", "files": 1, "eform": False},
    ]
    assert sorted(a["component"] for a in body["attachments"]) == ["cccd", "cccd", "giay-chung-sinh"]
    [form] = body["forms"]
    assert (form["code"], form["answers"]) == ("to-khai", ANSWERS)
    assert form["pdf"] == f"/api/v1/dossiers/{body['code']}/forms/to-khai.pdf"
    # An official reads the citizen IDs of the form masked, as the applicant's own.
    official = client_as(people.processor).get(f"/api/v1/dossiers/{body['code']}/").json()
    assert official["forms"][0]["answers"]["father"] == {"id_number": "********1234"}
    assert official["forms"][0]["answers"]["child_name"] == ANSWERS["child_name"]


def test_the_filled_form_prints_as_pdf_for_those_who_may_read_the_dossier(
    api_payload, people, client_as, client, components, files_root, tmp_path
):
    from .test_slips import pdf_text

    body = _submitted(api_payload, people, client_as)
    url = body["forms"][0]["pdf"]
    response = client_as(people.citizen_a).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(b"".join(response.streaming_content) if response.streaming else response.content, tmp_path)
    assert "TỜ KHAI THỬ" in text
    assert "Họ, chữ đệm, tên người được khai sinh: Nguyễn Văn Bé" in text
    assert "Số định danh cá nhân của cha: 027095001234" in text
    assert "Ngày, tháng, năm sinh: 20/11/2026" in text
    assert body["code"] in text
    # the officials of the procedure's agency may; another citizen may not (404, as if missing)
    assert client_as(people.processor).get(url).status_code == 200
    assert client_as(people.citizen_b).get(url).status_code == 404
    assert client_as(people.citizen_a).get(url.replace("to-khai", "khong-co")).status_code == 404
    # and the dossier page links it
    client.force_login(people.citizen_a)
    page = client.get(f"/dossiers/{body['code']}/").content.decode()
    assert f'href="{url}" data-eform="to-khai"' in page


def test_the_receipt_lists_what_was_really_received_with_counts(
    api_payload, people, client_as, components, files_root, tmp_path
):
    from .test_slips import pdf_text, slip_url

    body = _submitted(api_payload, people, client_as)
    # Issue #15: the receipt slip exists once the desk has received the online dossier.
    assert client_as(people.citizen_a).get(slip_url(body["code"], "receipt")).status_code == 409
    moved = client_as(people.desk_main).post(
        f"/api/v1/dossiers/{body['code']}/transitions/", {"action": "receive"}, format="json"
    )
    assert moved.status_code == 200
    response = client_as(people.citizen_a).get(slip_url(body["code"], "receipt"))
    assert response.status_code == 200
    text = pdf_text(b"".join(response.streaming_content) if response.streaming else response.content, tmp_path)
    assert "Tờ khai thử (tờ khai điện tử)" in text
    assert "Căn cước công dân (2 tệp)" in text
    assert "Giấy chứng sinh (1 tệp)" in text
    assert "Hộ chiếu" not in text and "Ảnh" not in text  # declared, not received


# --- the submit page ---------------------------------------------------------------------------------


def _page_form(points, **extra) -> dict:
    from .test_pages import _form

    return {
        **_form(points),
        "eform-to-khai-child_name": "Nguyễn Văn Bé",
        "eform-to-khai-birth_date": "2026-11-20",
        "eform-to-khai-sex": "Nam",
        "eform-to-khai-father.id_number": "027095001234",
        "eform-to-khai-father.phone": "",
        "components[cccd]": [upload("cccd.png", PNG)],
        "components[giay-chung-sinh]": upload("chung-sinh.pdf", PDF),
        **extra,
    }


def test_the_submit_page_shows_one_slot_per_component_and_the_eform(client, people, components):
    from .test_pages import _submit_url

    client.force_login(people.citizen_a)
    html = client.get(_submit_url(components)).content.decode()
    for code in ("to-khai", "cccd", "ho-chieu", "giay-chung-sinh", "anh"):
        assert f'id="component-{code}"' in html
    assert 'name="components[cccd]"' in html and 'accept=".png,.jpg,.jpeg"' in html
    assert 'name="components[to-khai]"' not in html  # an e-form has fields, not a file slot
    assert "Bắt buộc một trong: Căn cước công dân; Hộ chiếu" in html
    assert "Họ, chữ đệm, tên người được khai sinh" in html
    assert 'name="eform-to-khai-father.id_number"' in html and 'pattern="^[0-9]{12}$"' in html
    assert 'type="date" name="eform-to-khai-birth_date"' in html


def test_the_submit_page_shows_the_servers_errors_next_to_the_slot_and_field(client, people, points, components):
    from .test_pages import _submit_url, _token

    client.force_login(people.citizen_a)
    token = _token(client, components)
    data = _page_form(points, form_token=token, **{"eform-to-khai-father.id_number": "12345"})
    del data["components[cccd]"]
    data["components[giay-chung-sinh]"] = upload("scan.png", PNG)  # PDF only
    response = client.post(_submit_url(components), data)
    assert response.status_code == 422
    html = response.content.decode()
    assert Dossier.objects.count() == 0
    section = html.split('id="component-giay-chung-sinh"')[1].split("</section>")[0]
    assert "scan.png: thành phần này chỉ nhận PDF" in section
    assert "Cần một trong các thành phần" in html.split('id="component-cccd"')[1].split("</section>")[0]
    father = html.split('data-path="father.id_number"')[1].split("</div>")[0]
    assert "Số định danh cá nhân của cha: không đúng định dạng" in father
    assert 'value="Nguyễn Văn Bé"' in html  # what was typed is kept
    assert 'id="form-errors"' in html


def test_the_submit_page_sends_a_complete_dossier(client, people, points, components):
    from .test_pages import _submit_url, _token

    client.force_login(people.citizen_a)
    response = client.post(_submit_url(components), _page_form(points, form_token=_token(client, components)))
    assert response.status_code == 302, response.content.decode()[:2000]
    dossier = Dossier.objects.get()
    assert DossierEForm.objects.get(dossier=dossier).answers == {
        "child_name": "Nguyễn Văn Bé",
        "birth_date": "2026-11-20",
        "sex": "Nam",
        "father": {"id_number": "027095001234"},
    }
    assert sorted(dossier.attachments.values_list("component_code", flat=True)) == ["cccd", "giay-chung-sinh"]


# --- the administrator ---------------------------------------------------------------------------------


def test_the_admin_shows_the_components_inline_on_the_procedure(admin_client, components):
    url = f"/admin/dossiers/procedure/{components.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert "components-0-form_schema" in html and "giay-chung-sinh" in html


def test_the_admin_imports_components_from_json(admin_client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {catalogue.main.code: [{"code": "cccd", "name": "CCCD", "accepted_types": ["png"]}]}
    upload_file = SimpleUploadedFile("c.json", json.dumps(data).encode(), content_type="application/json")
    response = admin_client.post("/admin/dossiers/procedure/import-components/", {"file": upload_file})
    assert response.status_code == 302
    assert list(catalogue.main.components.values_list("code", "accepted_types")) == [("cccd", ["image/png"])]
    bad = {catalogue.main.code: [{"code": "x", "name": "X", "form_schema": {"type": "object", "required": "a"}}]}
    upload_file = SimpleUploadedFile("c.json", json.dumps(bad).encode(), content_type="application/json")
    response = admin_client.post("/admin/dossiers/procedure/import-components/", {"file": upload_file})
    assert response.status_code == 200 and "JSON Schema 2020-12" in response.content.decode()
    assert list(catalogue.main.components.values_list("code", flat=True)) == ["cccd"]


def test_a_desk_officers_page_marks_no_eform_field_required(client, people, components):
    from .test_pages import _submit_url

    client.force_login(people.desk_main)
    html = client.get(_submit_url(components)).content.decode()
    field = html.split('name="eform-to-khai-child_name"')[1].split(">")[0]
    assert " required" not in field
    client.force_login(people.citizen_a)
    html = client.get(_submit_url(components)).content.decode()
    assert " required" in html.split('name="eform-to-khai-child_name"')[1].split(">")[0]


def test_too_many_files_across_components_are_refused(
    api_payload, people, client_as, client, points, components, files_root, settings
):
    from .test_pages import _submit_url, _token

    settings.DOSSIER_ATTACHMENT_MAX_COUNT = 2
    before = counts()
    response = client_as(people.citizen_a).post(URL, complete(api_payload), format="multipart")  # 3 files
    assert response.status_code == 422
    assert list(response.json()["components"]) == ["attachments"]
    # the page, through the service's own count
    client.force_login(people.citizen_a)
    data = _page_form(points, form_token=_token(client, components))
    data["components[cccd]"] = [upload("a.png", PNG), upload("b.png", PNG)]
    page = client.post(_submit_url(components), data)
    assert page.status_code == 422
    assert "Tối đa 2 tệp đính kèm" in page.content.decode()
    assert counts() == before and stored_files(files_root) == []
