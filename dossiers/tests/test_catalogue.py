"""The procedure catalogue: the demo CSV, Vietnamese search and the
all-or-nothing CSV import."""

import csv
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dossiers.catalogue import (
    CSV_COLUMNS,
    DEMO_CSV,
    catalogue_demo_load,
    fold,
    procedures_import,
    procedures_search,
    procedures_search_page,
)
from dossiers.models import Procedure, Sector
from gisportal.accounts.models import Agency

BIRTH = "1.001193"

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup, django_db_blocker):
    # Idempotent: load_demo may already have loaded it.
    with django_db_blocker.unblock():
        catalogue_demo_load()


def demo_rows() -> list[dict]:
    with DEMO_CSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def snapshot() -> list[tuple]:
    return list(Procedure.objects.order_by("code").values_list("code", "name", "fee_vnd", "level", "updated_at"))


def write_csv(path, rows: list[dict], columns=CSV_COLUMNS):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(**overrides) -> dict:
    values = {
        "code": "9.000001",
        "name": "Thủ tục thử nghiệm nhập khẩu",
        "sector_code": "ho-tich",
        "sector_name": "Hộ tịch",
        "agency_code": "ubnd-xa",
        "level": "commune",
        "online_level": "partial",
        "old_online_level": "3",
        "processing_days": "5",
        "fee_vnd": "0",
        "fee_note": "",
        "required_documents": "Tờ khai | Giấy tờ tùy thân",
        "result": "Văn bản",
        "postal_submission_allowed": "true",
        "postal_result_allowed": "false",
        "legal_basis": "Luật thử",
        "is_demo_values": "true",
    }
    values.update(overrides)
    return values


# --- The demo catalogue --------------------------------------------------------------------------


def test_demo_csv_has_at_least_80_procedures_with_unique_national_codes():
    rows = demo_rows()
    assert list(rows[0].keys()) == CSV_COLUMNS
    codes = [r["code"] for r in rows]
    assert len(codes) >= 80
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"\d\.\d{6}", code) for code in codes)
    by_code = {r["code"]: r for r in rows}
    assert by_code[BIRTH]["name"] == "Đăng ký khai sinh"
    # Several birth procedures, so that ranking decides which comes first.
    assert sum("khai sinh" in r["name"].lower() for r in rows) >= 5
    assert len({r["sector_code"] for r in rows}) >= 12
    assert {r["level"] for r in rows} == {"province", "district", "commune"}
    assert {r["online_level"] for r in rows} == {"full", "partial"}
    assert any(r["fee_vnd"] == "0" for r in rows) and any(int(r["fee_vnd"]) > 0 for r in rows)


def test_demo_catalogue_is_loaded_with_its_agencies_and_sectors():
    rows = demo_rows()
    loaded = set(Procedure.objects.filter(code__in=[r["code"] for r in rows]).values_list("code", flat=True))
    assert loaded == {r["code"] for r in rows}
    birth = Procedure.objects.select_related("agency", "sector").get(code=BIRTH)
    assert birth.agency.code == "ubnd-xa" and birth.agency.kind == Agency.Kind.PEOPLES_COMMITTEE
    assert birth.sector.code == "ho-tich" and birth.sector.name_en == "Civil status"
    assert birth.required_documents and all(isinstance(d, str) and d for d in birth.required_documents)
    assert birth.forms.exists()


def test_loading_the_demo_again_changes_nothing():
    before = snapshot()
    forms = list(Procedure.objects.get(code=BIRTH).forms.values_list("id", flat=True))
    assert catalogue_demo_load() == len(demo_rows())
    assert snapshot() == before
    assert list(Procedure.objects.get(code=BIRTH).forms.values_list("id", flat=True)) == forms
    report = procedures_import(path=DEMO_CSV)
    assert (report.created, report.updated, report.unchanged) == (0, 0, len(demo_rows()))


# --- Search --------------------------------------------------------------------------------------


def test_fold_matches_what_the_database_does():
    text = "ĐĂNG KÝ Khai Sinh  có yếu tố nước ngoài"
    with connection.cursor() as cursor:
        cursor.execute("SELECT f_unaccent(lower(%s))", [text])
        assert fold(text) == " ".join(cursor.fetchone()[0].split())


@pytest.mark.parametrize(
    "query", ["khai sinh", "Khai Sinh", "dang ky khai sinh", "ĐĂNG KÝ KHAI SINH", "  đăng   ký  khai sinh "]
)
def test_every_spelling_finds_birth_registration_first(query):
    results = list(procedures_search(q=query))
    names = [p.name for p in results]
    assert results[0].code == BIRTH, names[:5]
    # Won on rank, not on the alphabet: "Cấp bản sao ... Giấy khai sinh" sorts before it by name.
    assert results[0].rank > results[1].rank
    assert sum("khai sinh" in fold(n) for n in names) >= 5


def test_other_khai_sinh_procedures_follow_and_unrelated_ones_do_not_match():
    results = list(procedures_search(q="khai sinh"))
    codes = [p.code for p in results]
    for code in ("2.000528", "1.004884", "1.003583", "1.000689"):
        assert code in codes
    assert "1.000894" not in codes  # Đăng ký kết hôn
    ranks = [p.rank for p in results]
    assert ranks == sorted(ranks, reverse=True)


def test_a_more_specific_query_ranks_the_specific_procedure_first():
    assert procedures_search(q="khai sinh yeu to nuoc ngoai").first().code == "2.000528"
    assert procedures_search(q="Đăng ký lại khai sinh").first().code == "1.004884"
    assert procedures_search(q="ket hon").first().code == "1.000894"


def test_a_small_typo_still_finds_the_procedure():
    assert procedures_search(q="dang ki khai sinh").first().code == BIRTH


@pytest.mark.parametrize("query", [BIRTH, f" {BIRTH} "])
def test_a_national_code_finds_that_procedure(query):
    assert [p.code for p in procedures_search(q=query)] == [BIRTH]


def test_part_of_a_code_finds_the_codes_containing_it():
    codes = [p.code for p in procedures_search(q="1.0011")]
    assert BIRTH in codes and all("1.0011" in code for code in codes)


def test_no_query_lists_every_active_procedure_by_name():
    Procedure.objects.filter(code="1.000419").update(is_active=False)
    results = list(procedures_search())
    assert len(results) == Procedure.objects.filter(is_active=True).count()
    assert "1.000419" not in {p.code for p in results}
    folded = [fold(p.name) for p in results]
    assert folded == sorted(folded)  # "Đăng ký ..." among the D's


def test_filters_combine_with_each_other_and_with_the_query():
    found = list(procedures_search(sector="ho-tich", level="commune", online_level="full"))
    expected = Procedure.objects.filter(
        is_active=True, sector__code="ho-tich", level="commune", online_level="full"
    ).count()
    assert len(found) == expected > 0
    assert all(p.sector.code == "ho-tich" and p.level == "commune" and p.online_level == "full" for p in found)

    married = {p.code for p in procedures_search(q="kết hôn", level="district")}
    assert married == {"2.000806", "2.000513", "2.002189"}
    assert {p.code for p in procedures_search(q="kết hôn", agency="ubnd-xa")} >= {"1.000894", "1.004746"}
    assert list(procedures_search(q="khai sinh", sector="dat-dai")) == []


@pytest.mark.parametrize(
    "query, filters",
    [
        ("khai sinh", {}),
        ("ĐĂNG KÝ KHAI SINH", {}),
        ("dang ki khai sinh", {}),
        ("kết hôn", {"level": "district"}),
        ("kết hôn", {"agency": "ubnd-xa"}),
        ("hộ tịch", {"sector": "ho-tich", "online_level": "full"}),
        ("giấy phép", {}),
        ("100%_x", {}),
        ("\u0301", {}),
        ("1.0011", {}),
        (BIRTH, {}),
        (None, {}),
        (None, {"sector": "ho-tich", "level": "commune"}),
        ("khai sinh", {"sector": "dat-dai"}),
    ],
)
def test_the_apis_one_statement_search_answers_as_the_orm_search(query, filters):
    """procedures_search_page (raw SQL, the API's list) finds, orders and
    counts as procedures_search (the ORM, the catalogue page) does."""
    expected = list(procedures_search(q=query, **filters))
    for offset, limit in ((0, 20), (0, 100), (3, 5), (len(expected), 5), (len(expected) + 10, 5)):
        total, page = procedures_search_page(q=query, **filters, offset=offset, limit=limit)
        assert total == len(expected)
        want = expected[offset : offset + limit]
        assert [p.code for p in page] == [p.code for p in want]
        assert [p.rank for p in page] == pytest.approx([p.rank for p in want])
        for got, procedure in zip(page, want, strict=True):
            assert (got.sector.code, got.sector.name) == (procedure.sector.code, procedure.sector.name)
            assert (got.agency.code, got.agency.name) == (procedure.agency.code, procedure.agency.name)
            assert (got.name, got.level, got.fee_vnd, got.old_online_level) == (
                procedure.name,
                procedure.level,
                procedure.fee_vnd,
                procedure.old_online_level,
            )


def test_the_search_takes_the_trigram_index_on_the_demo_catalogue():
    """f_unaccent is priced as what it costs (migration 0019): on the demo
    catalogue's ~118 rows the index, not a scan that unaccents and compares
    every name."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE dossiers_procedure")
        cursor.execute(
            "EXPLAIN SELECT code FROM dossiers_procedure WHERE is_active AND (f_unaccent(lower(name)) %%> %s"
            " OR f_unaccent(lower(name)) LIKE %s)",
            ["khai sinh", "%khai%"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert Procedure.objects.count() >= 80
    assert "procedure_name_trgm" in plan, plan


def test_search_uses_the_trigram_index_on_a_large_catalogue():
    sector, agency = Sector.objects.get(code="ho-tich"), Agency.objects.get(code="ubnd-xa")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO dossiers_procedure (code, name, sector_id, agency_id, level, online_level, processing_days,
                fee_vnd, fee_note, required_documents, result, postal_submission_allowed, postal_result_allowed,
                legal_basis, is_demo_values, is_active, updated_at)
            SELECT '8.' || lpad(i::text, 6, '0'), 'Thủ tục mẫu ' || md5(i::text), %s, %s, 'commune', 'partial', 1,
                0, '', '[]', '', true, true, '', true, true, now()
            FROM generate_series(1, 60000) AS i
            """,
            [sector.id, agency.id],
        )
        cursor.execute("ANALYZE dossiers_procedure")
    plan = procedures_search(q="khai sinh").explain()
    assert "procedure_name_trgm" in plan, plan
    assert procedures_search(q="khai sinh").first().code == BIRTH


# --- Import --------------------------------------------------------------------------------------


def test_import_creates_new_procedures_and_updates_existing_ones(tmp_path):
    birth = {**next(r for r in demo_rows() if r["code"] == BIRTH), "fee_vnd": "5000", "processing_days": "2"}
    path = write_csv(tmp_path / "c.csv", [birth, row(sector_code="thu-nghiem", sector_name="Thử nghiệm")])
    report = procedures_import(path=path)
    assert report.ok, report.errors
    assert (report.rows, report.created, report.updated, report.sectors_created) == (2, 1, 1, 1)
    updated = Procedure.objects.get(code=BIRTH)
    assert (updated.fee_vnd, updated.processing_days) == (5000, 2)
    new = Procedure.objects.get(code="9.000001")
    assert new.required_documents == ["Tờ khai", "Giấy tờ tùy thân"]
    assert new.sector.name == "Thử nghiệm" and new.agency.code == "ubnd-xa"
    assert (new.postal_submission_allowed, new.postal_result_allowed, new.old_online_level) == (True, False, 3)


def test_one_bad_row_leaves_the_catalogue_unchanged(tmp_path):
    before = snapshot()
    sectors = Sector.objects.count()
    birth = {**next(r for r in demo_rows() if r["code"] == BIRTH), "fee_vnd": "5000"}
    rows = [
        birth,
        row(sector_code="moi-hoan-toan", sector_name="Mới"),
        row(code="9.000002", level="village", fee_vnd="12,5", agency_code="khong-co", is_demo_values="maybe"),
    ]
    report = procedures_import(path=write_csv(tmp_path / "bad.csv", rows))
    assert not report.ok
    assert snapshot() == before
    assert Sector.objects.count() == sectors
    assert not Procedure.objects.filter(code__in=["9.000001", "9.000002"]).exists()
    joined = "\n".join(report.errors)
    for column in ("level", "fee_vnd", "agency_code", "is_demo_values"):
        assert f"Dòng 4, cột {column}" in joined and f"Row 4, column {column}" in joined
    assert "Dòng 2" not in joined and "Dòng 3" not in joined
    assert all(" / " in error for error in report.errors)


@pytest.mark.parametrize(
    "overrides, column",
    [
        ({"code": "1001193"}, "code"),
        ({"name": ""}, "name"),
        ({"online_level": "4"}, "online_level"),
        ({"old_online_level": "5"}, "old_online_level"),
        ({"processing_days": "-1"}, "processing_days"),
        ({"processing_days": "1000"}, "processing_days"),
        ({"sector_code": "Hộ tịch"}, "sector_code"),
        ({"postal_result_allowed": "perhaps"}, "postal_result_allowed"),
    ],
)
def test_each_bad_value_is_reported_with_its_row_and_column(tmp_path, overrides, column):
    before = snapshot()
    report = procedures_import(path=write_csv(tmp_path / "one.csv", [row(), row(**{"code": "9.000003", **overrides})]))
    assert any(f"Row 3, column {column}" in error for error in report.errors), report.errors
    assert snapshot() == before


def test_a_code_twice_in_the_file_is_an_error(tmp_path):
    report = procedures_import(path=write_csv(tmp_path / "dup.csv", [row(), row(name="Khác")]))
    assert report.errors == [
        "Dòng 3, cột code: mã 9.000001 đã có ở dòng 2. / Row 3, column code: code 9.000001 already appears on row 2."
    ]
    assert not Procedure.objects.filter(code="9.000001").exists()


def test_missing_columns_are_named(tmp_path):
    columns = [c for c in CSV_COLUMNS if c not in ("fee_vnd", "level")]
    report = procedures_import(path=write_csv(tmp_path / "cols.csv", [row()], columns=columns))
    assert len(report.errors) == 1 and "level, fee_vnd" in report.errors[0]
    assert not Procedure.objects.filter(code="9.000001").exists()


def test_a_file_not_in_utf8_is_refused(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(",".join(CSV_COLUMNS).encode() + "\n9.000001,Đăng ký".encode("cp1258", errors="replace") + b"\xff")
    report = procedures_import(path=path)
    assert report.errors == ["Tệp phải được mã hóa UTF-8. / The file must be encoded in UTF-8."]


def test_the_command_imports_or_fails_with_nothing_changed(tmp_path, capsys):
    call_command("import_procedures", str(write_csv(tmp_path / "ok.csv", [row()])))
    assert Procedure.objects.filter(code="9.000001").exists()
    assert "1 thủ tục mới" in capsys.readouterr().out
    before = snapshot()
    with pytest.raises(CommandError, match="unchanged"):
        call_command("import_procedures", str(write_csv(tmp_path / "bad.csv", [row(code="9.000004", level="x")])))
    assert snapshot() == before
