"""Demo feedback: the categories (always), and generated reports written with
COPY, spread over the province by population like the dossier history
(`dossiers.demo_history`: points inside the 2019 communes in proportion to
their population, each in the 2025 commune that contains it), routed as the
services route them, with statuses that follow their age and the Decision
766 deadlines on the working-day calendar. Some published answers and some
finished demo dossiers get satisfaction ratings, so the Decision 766
satisfaction indicator has data.

`feedback_demo_generate(count=300)` is what `load_demo` runs (about a
second); `bench/feedback.py` generates 100,000 the same way."""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cache

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from dossiers.calendar import working_calendar
from gisportal.accounts.models import Agency

from . import consent
from .models import Category
from .selectors import mercator, public_position
from .services import deadlines

# code, name, English name, group, scope, sector, keywords, description
DEMO_CATEGORIES = [
    ("duong-via-he", "Hư hỏng đường, vỉa hè", "Damaged road or pavement", "Hạ tầng / Infrastructure",
     "local", "", "ổ gà, đường hỏng, vỉa hè, pothole", "Ổ gà, sụt lún, vỉa hè vỡ trên đường xã, phường quản lý."),
    ("chieu-sang", "Đèn chiếu sáng công cộng", "Street lighting", "Hạ tầng / Infrastructure",
     "local", "", "đèn đường, chiếu sáng, streetlight", "Đèn đường hỏng, không sáng hoặc sáng cả ngày."),
    ("rac-thai", "Rác thải, vệ sinh môi trường", "Waste and cleanliness", "Môi trường / Environment",
     "local", "", "rác, vệ sinh, waste", "Rác không được thu gom, đổ rác sai nơi quy định."),
    ("ngap-ung", "Ngập úng, thoát nước", "Flooding and drainage", "Hạ tầng / Infrastructure",
     "local", "", "ngập, cống, thoát nước, flooding", "Đường ngập khi mưa, cống tắc, nắp cống hỏng."),
    ("trat-tu-do-thi", "Trật tự đô thị, lấn chiếm", "Public order, encroachment", "Trật tự / Public order",
     "local", "", "lấn chiếm, vỉa hè, quảng cáo", "Lấn chiếm lòng đường, vỉa hè; biển quảng cáo trái phép."),
    ("o-nhiem", "Ô nhiễm môi trường", "Pollution", "Môi trường / Environment",
     "sector", "natural_resources", "khói, bụi, nước thải, mùi", "Khói, bụi, tiếng ồn, nước thải từ cơ sở sản xuất."),
    ("dat-dai", "Đất đai", "Land", "Đất đai / Land",
     "sector", "natural_resources", "đất, sổ đỏ", "Sử dụng đất sai mục đích, lấn chiếm đất công."),
    ("xay-dung", "Xây dựng sai phép", "Unlicensed construction", "Xây dựng / Construction",
     "sector", "construction", "xây dựng, giấy phép", "Công trình xây dựng không phép hoặc sai giấy phép."),
    ("y-te", "Cơ sở y tế", "Health facilities", "Y tế / Health",
     "sector", "health", "bệnh viện, trạm y tế", "Chất lượng phục vụ, vệ sinh tại bệnh viện, trạm y tế."),
    ("giao-duc", "Trường học", "Schools", "Giáo dục / Education",
     "sector", "education", "trường, học phí", "Cơ sở vật chất, an toàn, các khoản thu tại trường học."),
    ("thu-tuc-hanh-chinh", "Giải quyết thủ tục hành chính", "Handling of administrative procedures",
     "Thủ tục hành chính / Procedures", "local", "", "một cửa, hồ sơ, thái độ",
     "Thái độ, thời gian giải quyết hồ sơ tại bộ phận một cửa."),
]  # fmt: skip

_TEXTS = {
    "duong-via-he": "Đoạn đường trước cổng chợ có ổ gà lớn, trời mưa đọng nước, xe máy đi qua rất nguy hiểm.",
    "chieu-sang": "Cả dãy đèn đường trên trục đường chính của thôn không sáng đã hơn một tuần.",
    "rac-thai": "Điểm tập kết rác cạnh kênh đã mấy ngày không được thu gom, bốc mùi ảnh hưởng đến dân cư.",
    "ngap-ung": "Mỗi khi mưa to, đoạn đường này ngập sâu khoảng 30 cm, cống thoát nước bị tắc.",
    "trat-tu-do-thi": "Nhiều hộ kinh doanh để hàng hoá lấn chiếm toàn bộ vỉa hè, người đi bộ phải đi xuống lòng đường.",
    "o-nhiem": "Xưởng sản xuất gần khu dân cư thải khói và mùi khó chịu vào buổi tối.",
    "dat-dai": "Một phần đất công cạnh nhà văn hoá thôn đang bị rào lại để sử dụng riêng.",
    "xay-dung": "Công trình đang xây dựng cao 5 tầng nhưng không treo biển báo thông tin giấy phép.",
    "y-te": "Khu vệ sinh tại khoa khám bệnh chưa được dọn sạch, người bệnh phải chờ lâu.",
    "giao-duc": "Tường rào phía sau trường bị nứt nghiêng, có nguy cơ đổ vào lối đi của học sinh.",
    "thu-tuc-hanh-chinh": "Tôi nộp hồ sơ đã quá hẹn nhưng chưa nhận được kết quả và không được thông báo lý do.",
}
_ANSWER = (
    "Cơ quan đã kiểm tra thực tế và chỉ đạo đơn vị liên quan khắc phục. Cảm ơn bạn đã phản ánh. (dữ liệu mẫu / demo)"
)
_COLUMNS = (
    "public_id", "token", "category_id", "text", "public_text", "location", "location_source", "address_text",
    "public_x", "public_y", "commune_id", "agency_id", "status", "channel", "external_id", "reporter_phone",
    "reporter_phone_verified", "reporter_name", "reporter_email", "media_url", "received_at", "refuse_due_at",
    "info_due_at", "answer_due_at", "publish_due_at", "due_at", "paused_working_days", "status_note", "answer",
    "answered_at", "published_at", "closed_at", "followers", "is_demo", "updated_at",
)  # fmt: skip


@transaction.atomic
def feedback_categories_ensure() -> int:
    for order, (code, name, name_en, group, scope, sector, keywords, description) in enumerate(DEMO_CATEGORIES):
        Category.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "group": group,
                "scope": scope,
                "sector": sector,
                "keywords": keywords,
                "description": description,
                "order": order,
            },
        )
    return len(DEMO_CATEGORIES)


def feedback_demo_delete(cursor) -> None:
    """Removes the demo reports and what hangs on them (not the ratings of dossiers)."""
    demo = "SELECT id FROM feedback_feedback WHERE is_demo"
    for table in ("feedback_rating", "feedback_follow", "feedback_locationconsent", "feedback_feedbackevent"):
        cursor.execute(f"DELETE FROM {table} WHERE feedback_id IN ({demo})")
    cursor.execute("DELETE FROM feedback_photo WHERE feedback_id IN (" + demo + ")")
    cursor.execute("DELETE FROM feedback_feedback WHERE is_demo")


def _status_plan(rng: np.random.Generator, age_days: np.ndarray) -> np.ndarray:
    """A status per report, by how long ago it came in."""
    fresh = ["received", "in_progress"], [0.7, 0.3]
    middle = ["received", "in_progress", "needs_info", "answered", "published", "refused"], [
        0.05, 0.5, 0.1, 0.15, 0.15, 0.05,
    ]  # fmt: skip
    old = ["in_progress", "needs_info", "answered", "published", "closed", "refused"], [
        0.07, 0.02, 0.03, 0.55, 0.25, 0.08,
    ]  # fmt: skip
    statuses = np.empty(len(age_days), dtype=object)
    for mask, (choices, weights) in (
        (age_days < 2, fresh),
        ((age_days >= 2) & (age_days < 21), middle),
        (age_days >= 21, old),
    ):
        statuses[mask] = rng.choice(choices, size=int(mask.sum()), p=weights)
    return statuses


def feedback_demo_generate(*, count: int = 300, days: int = 180, seed: int = 2025, ratings: bool = True) -> int:
    """Replaces the demo reports with `count` new ones received over the last
    `days` days (COPY). Returns how many were written."""
    rng = np.random.default_rng(seed)
    categories = list(Category.objects.filter(is_active=True).order_by("order", "code"))
    if not categories:
        raise ValueError("no feedback category: run feedback_categories_ensure() first")
    # The generator and its libraries load when demo data is made, not with the app.
    from dossiers.demo_history import _locations_sample, _places_load

    places, _points = _places_load()
    # As selectors.agency_responsible: the department of the sector first by code.
    departments = dict(Agency.objects.filter(kind=Agency.Kind.DEPARTMENT).order_by("-code").values_list("sector", "pk"))
    fallback = Agency.objects.filter(code="ttpvhcc").values_list("pk", flat=True).first()
    now = timezone.now()
    calendar = working_calendar()

    @cache
    def due_of(moment: dt.datetime) -> dict:
        return deadlines(calendar, moment)

    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        feedback_demo_delete(cursor)
        if count <= 0:
            return 0
        x, y, _old, commune = _locations_sample(rng, count, places)
        weights = np.array([3.0 if c.scope == "local" else 1.0 for c in categories])
        chosen = rng.choice(len(categories), size=count, p=weights / weights.sum())
        age_s = np.sort(rng.uniform(0, days * 86400, size=count))[::-1]
        # Whole hours in the working day, so that deadlines repeat and are computed once per hour.
        received = [
            timezone.localtime(now - dt.timedelta(seconds=float(s))).replace(minute=0, second=0, microsecond=0)
            for s in age_s
        ]
        statuses = _status_plan(rng, age_s / 86400)
        cursor.execute("SELECT setval('feedback_number_seq', nextval('feedback_number_seq') + %s - 1)", [count])
        (last,) = cursor.fetchone()
        first_number = last - count + 1
        rows = []
        for i in range(count):
            category = categories[chosen[i]]
            received_at = received[i]
            due = due_of(received_at)
            status = statuses[i]
            answered = published = closed = None
            if status in ("answered", "published", "closed"):
                answered = min(received_at + dt.timedelta(days=float(rng.uniform(2, 18))), now)
            if status in ("published", "closed"):
                published = min(answered + dt.timedelta(days=float(rng.uniform(0.2, 2.5))), now)
            if status == "closed":
                closed = min(published + dt.timedelta(days=float(rng.uniform(1, 10))), now)
            publish_due = (
                calendar.end_of(calendar.add_working_days(calendar.counting_day(answered), 2)) if answered else None
            )
            due_at = {
                "received": due["refuse_due_at"],
                "in_progress": due["answer_due_at"],
                "answered": publish_due,
            }.get(status)
            lon, lat = float(x[i]), float(y[i])
            exact = status in ("published", "closed")
            px, py = mercator(*public_position(lon, lat, exact=exact))
            if category.scope == "local":
                agency = int(places.committee[commune[i]]) or fallback
            else:
                agency = departments.get(category.sector, fallback)
            text = _TEXTS.get(category.code, category.description)
            note = ""
            if status == "refused":
                note = "Nội dung không thuộc thẩm quyền giải quyết; đề nghị liên hệ cơ quan quản lý trực tiếp. (demo)"
            elif status == "needs_info":
                note = "Đề nghị cung cấp thêm vị trí cụ thể (số nhà, tên ngõ) để cơ quan kiểm tra. (demo)"
            rows.append(
                (
                    f"PA-{received_at:%y%m%d}-{first_number + i:06d}",
                    secrets.token_urlsafe(16),
                    category.pk,
                    text,
                    text if exact else "",
                    f"SRID=4326;POINT({lon} {lat})",
                    "point",
                    "",
                    px,
                    py,
                    int(places.ids[commune[i]]),
                    agency,
                    status,
                    "web" if rng.random() < 0.8 else "zalo",
                    "",
                    "",
                    False,
                    "",
                    "",
                    "",
                    received_at,
                    due["refuse_due_at"],
                    due["info_due_at"],
                    due["answer_due_at"],
                    publish_due,
                    due_at,
                    0,
                    note,
                    _ANSWER if answered else "",
                    answered,
                    published,
                    closed,
                    int(rng.integers(0, 4)),
                    True,
                    closed or published or answered or received_at,
                )
            )
        with cursor.copy(f"COPY feedback_feedback ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        _demo_side_rows(cursor, now=now, ratings=ratings)
    return count


def _demo_side_rows(cursor, *, now: dt.datetime, ratings: bool) -> None:
    """Receipt and latest-step events, consent records, and ratings."""
    cursor.execute(
        """INSERT INTO feedback_feedbackevent (feedback_id, action, from_status, to_status, actor_name, actor_role,
                                              note, at, to_agency_id)
           SELECT id, 'receive', '', 'received', 'Công dân (demo)', 'citizen', channel, received_at, agency_id
           FROM feedback_feedback WHERE is_demo"""
    )
    cursor.execute(
        """INSERT INTO feedback_feedbackevent (feedback_id, action, from_status, to_status, actor_name, actor_role,
                                              actor_agency_id, note, at)
           SELECT id, CASE status WHEN 'in_progress' THEN 'accept' WHEN 'needs_info' THEN 'request_info'
                                  WHEN 'refused' THEN 'refuse' WHEN 'answered' THEN 'answer'
                                  WHEN 'published' THEN 'publish' ELSE 'close' END,
                  'received', status, 'Cán bộ xử lý (demo)', 'processing_officer', agency_id,
                  coalesce(nullif(status_note, ''), nullif(answer, ''), ''), updated_at
           FROM feedback_feedback WHERE is_demo AND status <> 'received'"""
    )
    cursor.execute(
        """INSERT INTO feedback_locationconsent (feedback_id, purpose, text_version, channel, given_at, given_via)
           SELECT id, %s, %s, channel, received_at, '' FROM feedback_feedback WHERE is_demo""",
        [consent.PURPOSE, consent.CURRENT_VERSION],
    )
    if not ratings:
        return
    # About 60 % of published answers are rated by their reporters; mostly satisfied.
    cursor.execute(
        """INSERT INTO feedback_rating (subject, feedback_id, score, comment, rated_at, day, agency_id, commune_id,
                                       rated_by_phone)
           SELECT 'feedback', id, 1 + floor(5 * power(random(), 0.35))::int, '', published_at,
                  (published_at AT TIME ZONE %s)::date, agency_id, commune_id, ''
           FROM feedback_feedback WHERE is_demo AND status IN ('published', 'closed') AND random() < 0.6""",
        [timezone.get_current_timezone_name()],
    )
    # And 4 % of the finished demo dossiers by their applicants.
    dossier_ratings_demo_delete(cursor)
    dossier_ratings_demo_generate(cursor)


def dossier_ratings_demo_delete(cursor) -> None:
    """Ratings of demo dossiers, and of dossiers no longer there."""
    cursor.execute(
        """DELETE FROM feedback_rating r WHERE r.dossier_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM dossiers_dossier d WHERE d.id = r.dossier_id AND NOT d.is_demo)"""
    )


def dossier_ratings_demo_generate(cursor, *, with_events: bool = False) -> None:
    """4 % of the finished demo dossiers rated by their applicants, mostly
    satisfied (a part of the dossier demo history, and of load_demo_feedback).
    No timeline event is written for them (`with_events` is ignored)."""
    cursor.execute(
        """INSERT INTO feedback_rating (subject, dossier_id, score, comment, rated_at, day, agency_id,
                                       service_point_id, commune_id, rated_by_phone)
           SELECT 'dossier', id, 1 + floor(5 * power(random(), 0.3))::int, '', finished_at,
                  (finished_at AT TIME ZONE %s)::date, agency_id, receiving_point_id, applicant_commune_id, ''
           FROM dossiers_dossier d
           WHERE is_demo AND finished_at IS NOT NULL AND finished_at <= now() AND random() < 0.04
             AND NOT EXISTS (SELECT 1 FROM feedback_rating r WHERE r.dossier_id = d.id)""",
        [timezone.get_current_timezone_name()],
    )
