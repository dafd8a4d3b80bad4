"""The procedure catalogue: the demo catalogue, the all-or-nothing CSV import
and the Vietnamese search.

Search compares the unaccented, lower-cased name (`f_unaccent(lower(name))`,
the expression of the GIN trigram index `procedure_name_trgm`) with the query
folded the same way, so `khai sinh`, `Khai Sinh`, `dang ky khai sinh` and
`ĐĂNG KÝ KHAI SINH` are one query. A row matches when pg_trgm finds the query
among its words (`%>`, typo-tolerant) or when it contains every word of the
query (`LIKE`); both are answered by the trigram index."""

import csv
import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import Case, CharField, F, FloatField, Func, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from gisportal.accounts.models import Agency
from gisportal.accounts.services import agency_upsert, demo_agencies_ensure
from gisportal.api import message
from gisportal.prepared import prepared_cursor
from gisportal.spreadsheets import csv_bytes

from .components import components_import
from .import_report import FileImportReport
from .models import AdministrativeLevel, OnlineLevel, Procedure, ProcedureForm, Sector
from .process import process_import, steps_of

logger = logging.getLogger(__name__)

DEMO_CSV = Path(settings.BASE_DIR) / "data" / "procedures" / "catalogue.csv"
# Dossier components and e-forms of the most used demo procedures.
DEMO_COMPONENTS = Path(__file__).resolve().parent / "data" / "components.json"
# The own process (steps, roles, days) of a few commune-level procedures.
DEMO_PROCESSES = Path(__file__).resolve().parent / "data" / "processes.json"

# The national portal's page of a procedure: where its forms are published.
NATIONAL_PORTAL_URL = "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc={code}"

# Agencies the catalogue needs beyond the demo departments of
# `gisportal.accounts.services.DEMO_AGENCIES`. Commune-level procedures name
# the commune people's committee as a kind of agency (each commune's own
# committee, `ubnd-<commune code>`, handles the dossier); district committees
# ceased on 1 July 2025 and remain for the history.
CATALOGUE_AGENCIES = [
    # code, name, kind, sector
    ("ubnd-xa", "Ủy ban nhân dân cấp xã", Agency.Kind.PEOPLES_COMMITTEE, "general"),
    ("ubnd-huyen", "Ủy ban nhân dân cấp huyện (đến 30/6/2025)", Agency.Kind.PEOPLES_COMMITTEE, "general"),
    ("so-tc", "Sở Tài chính tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "general"),
    ("so-ct", "Sở Công Thương tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "general"),
    ("so-nv", "Sở Nội vụ tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "general"),
    ("so-vhttdl", "Sở Văn hóa, Thể thao và Du lịch tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "general"),
]

# English names of the demo sectors (the CSV carries the Vietnamese name only).
SECTOR_NAMES_EN = {
    "ban-hang-da-cap": "Multi-level marketing",
    "bao-chi": "Press",
    "bao-tro-xa-hoi": "Social protection",
    "boi-thuong-nha-nuoc": "State compensation",
    "chung-thuc": "Certification",
    "cong-chuc": "Civil service",
    "dat-dai": "Land",
    "doanh-nghiep": "Enterprise registration",
    "duong-bo": "Road transport",
    "duong-thuy": "Inland waterways",
    "giam-ngheo": "Poverty reduction",
    "giao-duc": "Education and training",
    "ho-kinh-doanh": "Household businesses",
    "ho-tich": "Civil status",
    "hoa-giai-co-so": "Grassroots mediation",
    "hoi-quy": "Associations and funds",
    "kham-chua-benh": "Medical examination and treatment",
    "khieu-nai": "Complaints",
    "kinh-doanh-khi": "Gas trading",
    "lam-nghiep": "Forestry",
    "lao-dong": "Labour",
    "lao-dong-ngoai-nuoc": "Overseas employment",
    "moi-truong": "Environment",
    "nguoi-co-cong": "People with meritorious services",
    "nong-nghiep": "Agriculture",
    "nuoi-con-nuoi": "Adoption",
    "quoc-tich": "Nationality",
    "ton-giao": "Belief and religion",
    "tre-em": "Children",
    "tro-giup-phap-ly": "Legal aid",
    "van-bang": "Diplomas and certificates",
    "van-hoa": "Culture",
    "viec-lam": "Employment",
    "xay-dung": "Construction",
    "xuat-nhap-khau": "Import and export",
}

# Forms of the best-known procedures (annexes of Circular 04/2020/TT-BTP and
# of the business, land and construction decrees), linked to the national
# portal page that publishes them.
DEMO_FORMS = {
    "1.001193": ["Tờ khai đăng ký khai sinh"],
    "1.000689": ["Tờ khai đăng ký khai sinh", "Tờ khai đăng ký nhận cha, mẹ, con"],
    "1.004884": ["Tờ khai đăng ký lại khai sinh"],
    "2.000528": ["Tờ khai đăng ký khai sinh"],
    "1.000894": ["Tờ khai đăng ký kết hôn"],
    "1.000656": ["Tờ khai đăng ký khai tử"],
    "1.004873": ["Tờ khai cấp Giấy xác nhận tình trạng hôn nhân"],
    "2.000635": ["Tờ khai cấp bản sao trích lục hộ tịch"],
    "1.004859": ["Tờ khai đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch"],
    "1.001612": ["Giấy đề nghị đăng ký hộ kinh doanh"],
    "1.013978": ["Đơn đăng ký đất đai, tài sản gắn liền với đất (Mẫu số 04/ĐK)"],
    "1.013225": ["Đơn đề nghị cấp giấy phép xây dựng"],
}

CSV_COLUMNS = [
    "code",
    "name",
    "sector_code",
    "sector_name",
    "agency_code",
    "level",
    "online_level",
    "old_online_level",
    "processing_days",
    "fee_vnd",
    "fee_note",
    "required_documents",
    "result",
    "postal_submission_allowed",
    "postal_result_allowed",
    "legal_basis",
    "is_demo_values",
]
CODE_PATTERN = re.compile(r"^\d\.\d{6}$")
MAX_CODE_LENGTH = 20  # Procedure.code
SECTOR_CODE_PATTERN = re.compile(r"^[-a-z0-9_]{1,40}$")
MAX_IMPORT_ROWS = 5000
MAX_PROCESSING_DAYS = 365
MAX_FEE_VND = 1_000_000_000
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "có", "co", "x"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "không", "khong", ""})
# Fields the CSV sets on a procedure (is_active is left to the administrator).
IMPORTED_FIELDS = [
    "name",
    "sector_id",
    "agency_id",
    "level",
    "online_level",
    "old_online_level",
    "processing_days",
    "fee_vnd",
    "fee_note",
    "required_documents",
    "result",
    "postal_submission_allowed",
    "postal_result_allowed",
    "legal_basis",
    "is_demo_values",
]


def national_portal_url(code: str) -> str:
    return NATIONAL_PORTAL_URL.format(code=code)


# --- Search -----------------------------------------------------------------------------------

# A query made of digits and dots is a national code or a piece of one.
CODE_QUERY = re.compile(r"^\d[\d.]*$")
MAX_QUERY_WORDS = 12


def fold(text: str) -> str:
    """Lower-case, without tone marks or diacritics, `đ` as `d`, spaces
    collapsed: what `f_unaccent(lower(...))` makes of a name."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.lower().split())


def _folded_name() -> Func:
    # Must stay the expression of the `procedure_name_trgm` index.
    return Func(Lower("name"), function="f_unaccent", output_field=CharField())


def _search_terms(q: str | None) -> tuple[str, str, list[str]]:
    """What a query asks: ("all", "", []) with no text, ("code", text, [])
    for a national code or a piece of one, ("none", "", []) when nothing is
    left once folded, else ("words", folded query, its words)."""
    # Control characters (NUL above all, which PostgreSQL refuses in text)
    # cannot be part of a name.
    text = " ".join("".join(ch for ch in (q or "") if ch.isprintable() or ch.isspace()).split())
    if not text:
        return "all", "", []
    if CODE_QUERY.match(text):
        return "code", text, []
    query = fold(text)
    words = query.split()[:MAX_QUERY_WORDS]
    if not words:  # nothing left once folded (only combining marks)
        return "none", "", []
    return "words", query, words


def procedures_search(
    *,
    q: str | None = None,
    sector: str | None = None,
    agency: str | None = None,
    level: str | None = None,
    online_level: str | None = None,
) -> QuerySet[Procedure]:
    """Active procedures matching the query and filters, best match first,
    then by name (diacritics ignored). Each row carries `rank` (higher is
    better). `procedures_search_page` is the same search in one statement
    of SQL, for the API; the two must stay alike (tests compare them)."""
    procedures = Procedure.objects.filter(is_active=True).select_related("sector", "agency")
    if sector:
        procedures = procedures.filter(sector__code=sector)
    if agency:
        procedures = procedures.filter(agency__code=agency)
    if level:
        procedures = procedures.filter(level=level)
    if online_level:
        procedures = procedures.filter(online_level=online_level)

    # Names sort without their diacritics, as a Vietnamese reader expects
    # ("Đăng ký" among the D's, not after Z).
    procedures = procedures.alias(folded_name=_folded_name())
    kind, text, words = _search_terms(q)
    if kind == "all":
        return procedures.annotate(rank=Value(0.0, output_field=FloatField())).order_by("folded_name", "code")
    if kind == "code":
        exact = Case(When(code=text, then=Value(1.0)), default=Value(0.5), output_field=FloatField())
        return procedures.filter(code__contains=text).annotate(rank=exact).order_by("-rank", "code")
    if kind == "none":
        return procedures.none().annotate(rank=Value(0.0, output_field=FloatField()))

    query = text
    every_word = Q()
    for word in words:
        every_word &= Q(folded_name__contains=word)
    procedures = procedures.filter(Q(folded_name__trigram_word_similar=query) | every_word)
    # Word similarity finds the query inside longer names; whole-string
    # similarity then prefers the name closest to the query as a whole (so
    # "Đăng ký khai sinh" before "Đăng ký lại khai sinh"); containing every
    # word, and being exactly the query, weigh more than any similarity.
    rank = (
        TrigramWordSimilarity(query, "folded_name")
        + TrigramSimilarity("folded_name", query)
        + Case(When(every_word, then=Value(1.0)), default=Value(0.0), output_field=FloatField())
        + Case(When(folded_name=query, then=Value(2.0)), default=Value(0.0), output_field=FloatField())
    )
    return procedures.annotate(rank=rank).order_by(F("rank").desc(), "folded_name", "code")


@dataclass(frozen=True)
class Ref:
    code: str
    name: str


@dataclass(frozen=True)
class BriefProcedure:
    """A search result with what the API's list shows of it (the
    attributes of a `Procedure` that `catalogue_apis._brief` reads)."""

    code: str
    name: str
    level: str
    online_level: str
    old_online_level: int | None
    processing_days: int
    fee_vnd: int
    postal_submission_allowed: bool
    postal_result_allowed: bool
    sector: Ref
    agency: Ref
    rank: float


_FOLDED = "f_unaccent(lower(p.name))"  # the expression of the `procedure_name_trgm` index
# The matches are found by the index's expression, and each match's folded name is made once
# (`m.folded`) for its rank and order: unaccenting is the dear part (migration 0019), and the
# rank and the order written on the expression made it six more times a match.
_PAGE_SQL = (
    """
SELECT m.code, m.name, m.level, m.online_level, m.old_online_level, m.processing_days, m.fee_vnd,
       m.postal_submission_allowed, m.postal_result_allowed, m.sector_code, m.sector_name,
       m.agency_code, m.agency_name, {rank} AS rank, count(*) OVER () AS total
FROM (
    SELECT p.code, p.name, p.level, p.online_level, p.old_online_level, p.processing_days, p.fee_vnd,
           p.postal_submission_allowed, p.postal_result_allowed, s.code AS sector_code, s.name AS sector_name,
           a.code AS agency_code, a.name AS agency_name, """
    + _FOLDED
    + """ AS folded
    FROM dossiers_procedure p
    JOIN dossiers_sector s ON s.id = p.sector_id
    JOIN accounts_agency a ON a.id = p.agency_id
    WHERE {where}
    OFFSET 0
) m
ORDER BY {order}
LIMIT %s OFFSET %s
"""
)


def _like_contains(value: str) -> str:
    # As Django's `__contains` on PostgreSQL: LIKE's wildcards and escape taken literally.
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def procedures_search_page(
    *,
    q: str | None = None,
    sector: str | None = None,
    agency: str | None = None,
    level: str | None = None,
    online_level: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[int, list[BriefProcedure]]:
    """`procedures_search` for the API's list: the number of matches and one
    page of them, in one statement (the match, its rank and the count
    computed once; the ORM's compilation of the rank expression cost more
    than PostgreSQL's answer). A page past the end asks for the count alone."""
    kind, text, words = _search_terms(q)
    if kind == "none":
        return 0, []
    where, params = ["p.is_active"], []
    for column, value in (("s.code", sector), ("a.code", agency), ("p.level", level), ("p.online_level", online_level)):
        if value:
            where.append(f"{column} = %s")
            params.append(value)
    rank_params: list = []
    if kind == "all":
        rank, order = "0.0::float8", "m.folded, m.code"
    elif kind == "code":
        where.append("p.code LIKE %s")
        params.append(_like_contains(text))
        rank, order = "CASE WHEN m.code = %s THEN 1.0::float8 ELSE 0.5::float8 END", "rank DESC, m.code"
        rank_params = [text]
    else:
        patterns = [_like_contains(word) for word in words]
        every_word = " AND ".join([f"{_FOLDED} LIKE %s"] * len(words))
        where.append(f"({_FOLDED} %%> %s OR ({every_word}))")
        params += [text, *patterns]
        rank = (
            "word_similarity(%s, m.folded) + similarity(m.folded, %s)"
            f" + CASE WHEN {' AND '.join(['m.folded LIKE %s'] * len(words))} THEN 1.0::float8 ELSE 0.0::float8 END"
            " + CASE WHEN m.folded = %s THEN 2.0::float8 ELSE 0.0::float8 END"
        )
        rank_params = [text, text, *patterns, text]
        order = "rank DESC, m.folded, m.code"
    sql = _PAGE_SQL.format(rank=rank, where=" AND ".join(where), order=order)
    # Prepared: planning the trigram match and the window took about a fifth of the search (bench/load_paths.py).
    with prepared_cursor(using=DEFAULT_DB_ALIAS) as cursor:
        cursor.execute(sql, [*rank_params, *params, limit, offset])
        rows = cursor.fetchall()
        if not rows and offset:
            count_sql = _PAGE_SQL.format(rank="0", where=" AND ".join(where), order="1")
            cursor.execute(f"SELECT count(*) FROM ({count_sql}) AS page", [*params, None, 0])
            return cursor.fetchone()[0], []
    page = [
        BriefProcedure(*row[:9], sector=Ref(row[9], row[10]), agency=Ref(row[11], row[12]), rank=row[13])
        for row in rows
    ]
    return (rows[0][14] if rows else 0), page


def procedure_get(*, code: str) -> Procedure | None:
    """An active procedure with its sector, agency and forms (two queries)."""
    if not code or len(code) > MAX_CODE_LENGTH or not code.isprintable():
        return None
    return (
        Procedure.objects.filter(is_active=True, code=code)
        .select_related("sector", "agency")
        .prefetch_related("forms")
        .first()
    )


# --- Import -----------------------------------------------------------------------------------


@dataclass
class ImportReport(FileImportReport):
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    sectors_created: int = 0

    def summary(self) -> str:
        return message(
            f"{self.rows} dòng: {self.created} thủ tục mới, {self.updated} cập nhật, {self.unchanged} không đổi.",
            f"{self.rows} rows: {self.created} new procedures, {self.updated} updated, {self.unchanged} unchanged.",
        )


class _RowErrors:
    def __init__(self, report: ImportReport, row_number: int):
        self.report = report
        self.row_number = row_number
        self.count = 0

    def add(self, column: str, vi: str, en: str) -> None:
        self.count += 1
        self.report.errors.append(
            message(f"Dòng {self.row_number}, cột {column}: {vi}", f"Row {self.row_number}, column {column}: {en}")
        )


def _text(row: dict, column: str, errors: _RowErrors, *, max_length: int, required: bool = False) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        errors.add(column, "bắt buộc, không được để trống.", "required, may not be empty.")
    elif len(value) > max_length:
        errors.add(column, f"dài quá {max_length} ký tự.", f"longer than {max_length} characters.")
    return value


def _integer(row: dict, column: str, errors: _RowErrors, *, high: int) -> int | None:
    raw = (row.get(column) or "").strip()
    if not raw.isdecimal():
        errors.add(column, "phải là số nguyên không âm (không dấu phân cách).", "must be a whole number ≥ 0.")
        return None
    value = int(raw)
    if value > high:
        errors.add(column, f"không được lớn hơn {high}.", f"may not exceed {high}.")
        return None
    return value


def _boolean(row: dict, column: str, errors: _RowErrors) -> bool:
    raw = (row.get(column) or "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw not in FALSE_WORDS:
        errors.add(column, "phải là true hoặc false.", "must be true or false.")
    return False


def _choice(row: dict, column: str, errors: _RowErrors, choices: list[str]) -> str:
    value = (row.get(column) or "").strip()
    if value not in choices:
        listed = ", ".join(choices)
        errors.add(column, f"giá trị không hợp lệ; chọn một trong: {listed}.", f"unknown value; use one of: {listed}.")
    return value


def _clean_row(row: dict, errors: _RowErrors) -> dict:
    code = _text(row, "code", errors, max_length=20, required=True)
    if code and not CODE_PATTERN.match(code):
        errors.add("code", "mã thủ tục phải có dạng 1.001193.", "the national code looks like 1.001193.")
    sector_code = _text(row, "sector_code", errors, max_length=40, required=True)
    if sector_code and not SECTOR_CODE_PATTERN.match(sector_code):
        errors.add("sector_code", "chỉ dùng chữ thường không dấu, số và dấu gạch.", "use a-z, 0-9, '-' and '_'.")
    old_raw = (row.get("old_online_level") or "").strip()
    old_level = None
    if old_raw:
        if old_raw in {"2", "3", "4"}:
            old_level = int(old_raw)
        else:
            errors.add("old_online_level", "phải là 2, 3, 4 hoặc để trống.", "must be 2, 3, 4 or empty.")
    documents_raw = _text(row, "required_documents", errors, max_length=10_000)
    return {
        "code": code,
        "name": _text(row, "name", errors, max_length=500, required=True),
        "sector_code": sector_code,
        "sector_name": _text(row, "sector_name", errors, max_length=150, required=True),
        "agency_code": _text(row, "agency_code", errors, max_length=40, required=True),
        "level": _choice(row, "level", errors, AdministrativeLevel.values),
        "online_level": _choice(row, "online_level", errors, OnlineLevel.values),
        "old_online_level": old_level,
        "processing_days": _integer(row, "processing_days", errors, high=MAX_PROCESSING_DAYS),
        "fee_vnd": _integer(row, "fee_vnd", errors, high=MAX_FEE_VND),
        "fee_note": _text(row, "fee_note", errors, max_length=300),
        "required_documents": [item.strip() for item in documents_raw.split("|") if item.strip()],
        "result": _text(row, "result", errors, max_length=300),
        "postal_submission_allowed": _boolean(row, "postal_submission_allowed", errors),
        "postal_result_allowed": _boolean(row, "postal_result_allowed", errors),
        "legal_basis": _text(row, "legal_basis", errors, max_length=5000),
        "is_demo_values": _boolean(row, "is_demo_values", errors),
    }


def _read_rows(path: Path, report: ImportReport) -> list[dict]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        report.errors.append(
            message(f"Không đọc được tệp: {exc.strerror}.", f"The file cannot be read: {exc.strerror}.")
        )
        return []
    except UnicodeDecodeError:
        report.errors.append(message("Tệp phải được mã hóa UTF-8.", "The file must be encoded in UTF-8."))
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        listed = ", ".join(missing)
        report.errors.append(message(f"Dòng 1: thiếu cột {listed}.", f"Row 1: missing columns {listed}."))
        return []
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:  # more cells than header columns
            number = len(rows) + 2
            report.errors.append(
                message(f"Dòng {number}: nhiều ô hơn số cột tiêu đề.", f"Row {number}: more cells than header columns.")
            )
        rows.append(row)
        if len(rows) > MAX_IMPORT_ROWS:
            report.errors.append(
                message(f"Tệp có quá {MAX_IMPORT_ROWS} dòng.", f"The file has more than {MAX_IMPORT_ROWS} rows.")
            )
            return []
    if not rows:
        report.errors.append(message("Tệp không có dòng dữ liệu nào.", "The file has no data rows."))
    return rows


def _validate(rows: list[dict], report: ImportReport) -> list[dict]:
    cleaned = []
    first_row_of_code: dict[str, int] = {}
    sector_names: dict[str, tuple[str, int]] = {}
    for index, row in enumerate(rows):
        number = index + 2  # the header is row 1, as a spreadsheet shows it
        errors = _RowErrors(report, number)
        values = _clean_row(row, errors)
        code = values["code"]
        if code in first_row_of_code:
            first = first_row_of_code[code]
            errors.add("code", f"mã {code} đã có ở dòng {first}.", f"code {code} already appears on row {first}.")
        elif code:
            first_row_of_code[code] = number
        sector_code, sector_name = values["sector_code"], values["sector_name"]
        if sector_code in sector_names and sector_names[sector_code][0] != sector_name:
            first_name, first = sector_names[sector_code]
            errors.add(
                "sector_name",
                f"lĩnh vực {sector_code} đã có tên “{first_name}” ở dòng {first}.",
                f"sector {sector_code} is named “{first_name}” on row {first}.",
            )
        elif sector_code:
            sector_names.setdefault(sector_code, (sector_name, number))
        values["row_number"] = number
        cleaned.append(values)

    agency_codes = {values["agency_code"] for values in cleaned if values["agency_code"]}
    known = dict(Agency.objects.filter(code__in=agency_codes).values_list("code", "id"))
    for values in cleaned:
        if values["agency_code"] and values["agency_code"] not in known:
            _RowErrors(report, values["row_number"]).add(
                "agency_code",
                f"không có cơ quan mã {values['agency_code']}.",
                f"no agency has the code {values['agency_code']}.",
            )
        values["agency_id"] = known.get(values["agency_code"])
    # A procedure's declared process must still fit in its processing time.
    declared = Procedure.objects.filter(code__in=[v["code"] for v in cleaned if v["code"]]).exclude(process=[])
    step_days = {
        code: sum(step.days for step in steps_of(process)) for code, process in declared.values_list("code", "process")
    }
    for values in cleaned:
        total = step_days.get(values["code"])
        if total is not None and values["processing_days"] is not None and values["processing_days"] < total:
            _RowErrors(report, values["row_number"]).add(
                "processing_days",
                f"quy trình của thủ tục cần {total} ngày làm việc; sửa quy trình trước.",
                f"the procedure's process takes {total} working days; change the process first.",
            )
    report.errors.sort(key=_row_of_error)
    return cleaned


def _row_of_error(text: str) -> int:
    found = re.search(r"\d+", text)
    return int(found.group()) if found else 0


def _write(cleaned: list[dict], report: ImportReport) -> None:
    sectors = {sector.code: sector for sector in Sector.objects.filter(code__in={v["sector_code"] for v in cleaned})}
    for values in cleaned:
        sector = sectors.get(values["sector_code"])
        if sector is None:
            sector = Sector.objects.create(
                code=values["sector_code"],
                name=values["sector_name"],
                name_en=SECTOR_NAMES_EN.get(values["sector_code"], ""),
            )
            sectors[sector.code] = sector
            report.sectors_created += 1
        elif sector.name != values["sector_name"]:
            sector.name = values["sector_name"]
            sector.save(update_fields=["name"])
        values["sector_id"] = sector.id

    existing = {p.code: p for p in Procedure.objects.filter(code__in=[v["code"] for v in cleaned])}
    new, changed = [], []
    now = timezone.now()
    for values in cleaned:
        procedure = existing.get(values["code"])
        if procedure is None:
            new.append(Procedure(code=values["code"], **{name: values[name] for name in IMPORTED_FIELDS}))
            continue
        if all(getattr(procedure, name) == values[name] for name in IMPORTED_FIELDS):
            report.unchanged += 1
            continue
        for name in IMPORTED_FIELDS:
            setattr(procedure, name, values[name])
        procedure.updated_at = now  # bulk_update does not apply auto_now
        changed.append(procedure)
    Procedure.objects.bulk_create(new)
    Procedure.objects.bulk_update(changed, [*IMPORTED_FIELDS, "updated_at"], batch_size=500)
    report.created = len(new)
    report.updated = len(changed)


def procedures_import(*, path: str | Path, acting_user=None) -> ImportReport:
    """Create or update procedures from a CSV file (columns `CSV_COLUMNS`,
    documents separated by '|'), matched by national code. Every row is
    checked first: one bad row and nothing is written; the report names each
    row and column at fault. Procedures absent from the file are left alone."""
    report = ImportReport()
    rows = _read_rows(Path(path), report)
    report.rows = len(rows)
    if report.errors:
        return report
    cleaned = _validate(rows, report)
    if report.errors:
        return report
    try:
        with transaction.atomic():
            _write(cleaned, report)
    except IntegrityError as exc:
        # Rolled back: a concurrent edit of the same codes, or a database rule
        # the checks above do not know about.
        report.created = report.updated = report.unchanged = report.sectors_created = 0
        report.errors.append(
            message(f"Cơ sở dữ liệu từ chối dữ liệu: {exc}.", f"The database refused the data: {exc}.")
        )
        return report
    logger.info(
        "procedures imported by %s: %s created, %s updated",
        getattr(acting_user, "username", "system"),
        report.created,
        report.updated,
    )
    return report


# --- Demo -------------------------------------------------------------------------------------


@transaction.atomic
def procedures_export() -> bytes:
    """The catalogue as a CSV in the import's columns (`CSV_COLUMNS`,
    documents joined by `|`), so an exported file imports again as it is;
    UTF-8 with a BOM, text cells neutralised (gisportal.spreadsheets)."""
    rows: list[list] = [CSV_COLUMNS]
    for p in Procedure.objects.select_related("sector", "agency").order_by("code"):
        values = {
            **{name: getattr(p, name) for name in CSV_COLUMNS if hasattr(p, name)},
            "sector_code": p.sector.code,
            "sector_name": p.sector.name,
            "agency_code": p.agency.code,
            "old_online_level": p.old_online_level or "",
            "required_documents": "|".join(_documents_text(p.required_documents)),
        }
        rows.append(
            [str(values[name]).lower() if isinstance(values[name], bool) else values[name] for name in CSV_COLUMNS]
        )
    return csv_bytes(rows)


def _documents_text(documents) -> list[str]:
    return [item.get("name", "") if isinstance(item, dict) else str(item) for item in documents or []]


def catalogue_agencies_ensure() -> None:
    demo_agencies_ensure()
    for code, name, kind, sector in CATALOGUE_AGENCIES:
        agency_upsert(code=code, name=name, kind=kind, sector=sector)


def _demo_forms_ensure() -> None:
    procedures = {p.code: p for p in Procedure.objects.filter(code__in=DEMO_FORMS)}
    have = set(ProcedureForm.objects.filter(procedure__in=procedures.values()).values_list("procedure__code", "title"))
    missing = [
        ProcedureForm(procedure=procedures[code], title=title, url=national_portal_url(code))
        for code, titles in DEMO_FORMS.items()
        if code in procedures
        for title in titles
        if (code, title) not in have
    ]
    ProcedureForm.objects.bulk_create(missing)


@transaction.atomic
def catalogue_demo_load() -> int:
    """Agencies, sectors and the demo procedures of `data/procedures/`; safe
    to run again (procedures are matched by code). Returns the number of
    procedures in the demo catalogue."""
    catalogue_agencies_ensure()
    report = procedures_import(path=DEMO_CSV)
    if not report.ok:
        raise ValueError("The demo catalogue does not import:\n" + "\n".join(report.errors))
    for code, name_en in SECTOR_NAMES_EN.items():
        Sector.objects.filter(code=code, name_en="").update(name_en=name_en)
    _demo_forms_ensure()
    components = components_import(path=DEMO_COMPONENTS)
    if not components.ok:
        raise ValueError("The demo components do not import:\n" + "\n".join(components.errors))
    processes = process_import(path=DEMO_PROCESSES)
    if not processes.ok:
        raise ValueError("The demo processes do not import:\n" + "\n".join(processes.errors))
    return report.rows
