"""The administrator's CSV import page (mounted by ProcedureAdmin.get_urls in
the real site; here on a test URL configuration of the same shape)."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import path

from dossiers.catalogue import CSV_COLUMNS, catalogue_demo_load
from dossiers.catalogue_views import procedure_import_admin_view
from dossiers.models import Procedure

IMPORT = "/admin/dossiers/procedure/import-csv/"

urlpatterns = [
    path("admin/dossiers/procedure/import-csv/", admin.site.admin_view(procedure_import_admin_view)),
    path("admin/", admin.site.urls),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        catalogue_demo_load()


def csv_file(*lines: str) -> SimpleUploadedFile:
    text = "\n".join([",".join(CSV_COLUMNS), *lines]) + "\n"
    return SimpleUploadedFile("catalogue.csv", text.encode("utf-8"), content_type="text/csv")


GOOD = (
    "9.000101,Thủ tục nhập qua trang quản trị,ho-tich,Hộ tịch,ubnd-xa,commune,partial,3,5,0,,Tờ khai,Văn bản,"
    "true,true,Luật thử,true"
)
BAD = GOOD.replace("9.000101", "9.000102").replace(",commune,", ",hamlet,")


@pytest.fixture
def staff(db):
    user = get_user_model().objects.create_user("catalogue-admin", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_procedure", "change_procedure"]))
    return user


@pytest.mark.django_db
def test_administrator_imports_a_csv(client, staff):
    client.force_login(staff)
    assert client.get(IMPORT).status_code == 200
    response = client.post(IMPORT, {"file": csv_file(GOOD)})
    assert response.status_code == 302 and response["Location"].endswith("/admin/dossiers/procedure/")
    assert Procedure.objects.get(code="9.000101").required_documents == ["Tờ khai"]


@pytest.mark.django_db
def test_a_bad_row_is_shown_and_nothing_is_imported(client, staff):
    client.force_login(staff)
    response = client.post(IMPORT, {"file": csv_file(GOOD, BAD)})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Row 3, column level" in html and "Dòng 3, cột level" in html
    assert not Procedure.objects.filter(code__in=["9.000101", "9.000102"]).exists()


@pytest.mark.django_db
def test_staff_without_the_permissions_and_anonymous_users_are_refused(client):
    assert client.get(IMPORT).status_code == 302  # to the admin login
    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.post(IMPORT, {"file": csv_file(GOOD)}).status_code == 403
    assert not Procedure.objects.filter(code="9.000101").exists()


def test_the_catalogue_exports_to_the_csv_it_imports_with_the_postal_columns(admin_client, tmp_path):
    """Export, import the file again: the same catalogue, the postal flags kept."""
    from dossiers.catalogue import CSV_COLUMNS, procedures_import
    from dossiers.models import Procedure

    Procedure.objects.filter(code="1.001193").update(postal_submission_allowed=False)
    response = admin_client.get("/admin/dossiers/procedure/export-csv/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    data = b"".join(response.streaming_content) if response.streaming else response.content
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == CSV_COLUMNS and {"postal_submission_allowed", "postal_result_allowed"} <= set(header)
    before = list(
        Procedure.objects.order_by("code").values_list("code", "postal_submission_allowed", "postal_result_allowed")
    )
    exported = tmp_path / "catalogue.csv"
    exported.write_bytes(data)
    Procedure.objects.update(postal_submission_allowed=True, postal_result_allowed=True)
    report = procedures_import(path=exported)
    assert report.ok, report.errors
    after = list(
        Procedure.objects.order_by("code").values_list("code", "postal_submission_allowed", "postal_result_allowed")
    )
    assert after == before and ("1.001193", False, True) in after
