"""The catalogue pages: search list with filters and paging, procedure detail."""

import pytest

from dossiers.catalogue import catalogue_demo_load
from dossiers.models import Procedure

BIRTH = "1.001193"


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        catalogue_demo_load()


def page(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_catalogue_page_lists_procedures_with_search_and_filters(client):
    html = page(client, "/procedures/")
    assert 'name="q"' in html and 'name="sector"' in html and 'name="level"' in html
    assert 'name="online_level"' in html and 'name="agency"' in html
    assert 'name="viewport"' in html  # base layout: usable on a phone
    assert 'rel="next"' in html  # more than one page


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["khai sinh", "DANG KY KHAI SINH"])
def test_search_shows_birth_registration_first(client, query):
    html = page(client, "/procedures/", q=query)
    first = html.index(f'href="/procedures/{BIRTH}/"')
    for other in ("2.000528", "1.004884", "1.003583"):
        assert first < html.index(f'href="/procedures/{other}/"')
    assert "Đăng ký kết hôn</a>" not in html


@pytest.mark.django_db
def test_filters_narrow_the_list_and_unknown_values_are_ignored(client):
    html = page(client, "/procedures/", level="district")
    assert "Đăng ký kết hôn có yếu tố nước ngoài" in html
    assert f'href="/procedures/{BIRTH}/"' not in html
    assert 'value="district" selected' in html

    html = page(client, "/procedures/", sector="khong-co", level="village", q="khai sinh")
    assert f'href="/procedures/{BIRTH}/"' in html


@pytest.mark.django_db
def test_paging_keeps_the_filters(client):
    html = page(client, "/procedures/", level="commune", page=2)
    assert "level=commune&amp;page=1" in html
    assert page(client, "/procedures/", page=999)  # past the end: the last page


@pytest.mark.django_db
def test_detail_page_shows_everything_and_links_to_online_submission(client):
    html = page(client, f"/procedures/{BIRTH}/")
    procedure = Procedure.objects.get(code=BIRTH)
    assert "<h1>Đăng ký khai sinh</h1>" in html
    assert f'href="/procedures/{BIRTH}/submit/"' in html
    for document in procedure.required_documents:
        assert document in html
    for form in procedure.forms.all():
        assert form.title in html and form.url.replace("&", "&amp;") in html
    assert "Luật Hộ tịch" in html
    assert "chọn cho bản trình diễn" not in html  # real fee and time


@pytest.mark.django_db
def test_detail_page_warns_when_fee_or_time_are_demo_values(client):
    assert Procedure.objects.get(code="1.004884").is_demo_values
    assert "chọn cho bản trình diễn" in page(client, "/procedures/1.004884/")
    assert "chosen for this demonstration" in page(client, "/procedures/1.004884/", lang="en")


@pytest.mark.django_db
def test_english_page_uses_english_labels(client):
    html = page(client, f"/procedures/{BIRTH}/", lang="en")
    assert "Civil status" in html and "Commune" in html and "Free" in html


@pytest.mark.django_db
def test_unknown_code_is_a_404(client):
    assert client.get("/procedures/9.999999/").status_code == 404


@pytest.mark.django_db
def test_pages_cost_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # sectors, agencies, count, page
        page(client, "/procedures/", q="khai sinh")
    with django_assert_max_num_queries(2):  # procedure, forms
        page(client, f"/procedures/{BIRTH}/")


@pytest.mark.django_db
def test_uploaded_forms_download_as_files_never_as_pages(client, settings, tmp_path):
    """A form an administrator uploaded is linked from the detail page and
    sent as an attachment; one named .html is not served as HTML."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dossiers.models import ProcedureForm

    settings.MEDIA_ROOT = tmp_path / "media"
    procedure = Procedure.objects.get(code=BIRTH)
    pdf = ProcedureForm.objects.create(
        procedure=procedure, title="Tờ khai (PDF)", file=SimpleUploadedFile("Tờ khai khai sinh.pdf", b"%PDF-1.4\n")
    )
    html = ProcedureForm.objects.create(
        procedure=procedure, title="Tờ khai (HTML)", file=SimpleUploadedFile("to-khai.html", b"<script>x</script>")
    )
    detail = page(client, f"/procedures/{BIRTH}/")
    for form in (pdf, html):
        assert f'href="{form.file.url}"' in detail

    response = client.get(pdf.file.url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"To_khai_khai_sinh.pdf\"; filename*=UTF-8''T%E1%BB%9D_khai_khai_sinh.pdf"
    )
    assert b"".join(response.streaming_content) == b"%PDF-1.4\n"
    response = client.get(html.file.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="to-khai.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    # Only files that a form names: the rest of the media folder is not served.
    (tmp_path / "media" / "procedure-forms" / "other.pdf").write_bytes(b"%PDF-")
    assert client.get("/media/procedure-forms/other.pdf").status_code == 404
    assert client.get("/media/imports/x.csv").status_code == 404
