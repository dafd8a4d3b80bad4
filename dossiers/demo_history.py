"""A realistic two-year history of demo dossiers, written with COPY.

Where applicants live: random points inside the 2019 commune polygons (all of
which carry a population), as many per commune as its population share; the
2025 commune containing each point becomes `applicant_commune`. The desk that
receives a dossier, the agency that handles it and the code sequence all
follow from that 2025 commune, so the point-in-polygon work is done here with
shapely (prepared polygons, vectorised `contains_xy`) before any row is
written, not afterwards in SQL.

When: working days during working hours (`dossiers.calendar`), a little more
each month, Mondays busier. Each dossier gets a planned life (receive, assign,
start, maybe a supplement round, approve or refuse or withdraw or stop,
result ready, result returned), its steps are kept up to now, and every
derived field (status, due date with supplement pauses, finished_at,
timeliness, processing working days) is computed from the kept steps with the
same rules as `services._classify` and `services.dossier_transition`. So the
last weeks are mostly open, in whatever state their plan had reached.

Everything is vectorised with numpy. Each chunk goes to a temporary table as
numbers only, by a binary COPY built straight from numpy arrays; two
INSERT ... SELECT then write the dossiers and their events, turning the
numbers into codes, names, addresses and timestamps inside PostgreSQL. The
foreign keys of both tables are dropped for the load and put back from their
catalog definitions (one validating join each, instead of a trigger lookup
per row); after a TRUNCATE the other indexes are rebuilt once at the end.
Then the code counters, the share of other apps (`DemoHistoryPart`: the
payments of the fee-bearing dossiers, ...), `stats.stats_rebuild()`, the
indicator table rewritten in (dimension, day) order, and
`density_counts.density_rebuild()`."""

import datetime as dt
import itertools
import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import h3.api.basic_int as h3
import numpy as np
import shapely
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gisportal.accounts.models import Agency
from layers.models import AdministrativeUnit, Era, ServicePoint, ServicePointKind, UnitLevel

from . import density_counts, stats
from .calendar import WorkingCalendar, working_calendar
from .extensions import demo_history_parts
from .models import H3_RESOLUTIONS, Channel, Delivery, Procedure, Status, Timeliness

logger = logging.getLogger(__name__)

CENTRE_CODES = ("CENTRE-KINHBAC", "CENTRE-MAIN")
# Applicants of the demo live in the former Bắc Ninh (the 2019 communes),
# closer to the Kinh Bắc site of the provincial centre.
CENTRE_SHARES = (0.75, 0.25)
CHUNK = 50_000

DESK_OFFICER = "Cán bộ một cửa (demo)"
POST_CLERK = "Nhân viên bưu điện (demo)"
PROCESSOR = "Chuyên viên xử lý (demo)"
LEADER = "Lãnh đạo cơ quan (demo)"

# --- names and addresses ----------------------------------------------------------

_FAMILY = (
    ("Nguyễn", 31.5), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 5.0), ("Phan", 4.5), ("Vũ", 4.0),
    ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Đào", 1.0),
    ("Đinh", 1.0), ("Trịnh", 0.8), ("Lương", 0.6), ("Chu", 0.5), ("Tạ", 0.5), ("Lý", 0.5), ("Nghiêm", 0.3),
)  # fmt: skip
_MIDDLE = (
    ("Văn", "Đức", "Minh", "Hữu", "Quang", "Thành", "Công", "Xuân", "Ngọc", "Tiến", "Trung", "Duy"),
    ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Phương", "Hồng", "Khánh", "Hải", "Diệu"),
)
_GIVEN = (
    (
        "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Đạt", "Đông", "Đức", "Giang", "Hải", "Hiếu", "Hòa", "Hoàng",
        "Hùng", "Huy", "Khánh", "Khoa", "Kiên", "Long", "Mạnh", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân",
        "Quang", "Sơn", "Tài", "Thắng", "Thành", "Thịnh", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ",
    ),
    (
        "Anh", "Bích", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Huệ", "Hương",
        "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quyên",
        "Quỳnh", "Tâm", "Thảo", "Thủy", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Yến", "Thư", "Ly", "Lụa",
    ),
)  # fmt: skip
_HAMLETS = ("Đông", "Đoài", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Cả", "Mới", "Tiền", "Hậu", "Chùa", "Đình", "Me")
# Mobile prefixes of the Vietnamese operators (10-digit numbers since 2018).
_PHONE_PREFIXES = (
    32, 33, 34, 35, 36, 37, 38, 39, 56, 58, 70, 76, 77, 78, 79, 81, 82, 83, 84, 85, 86, 88, 91, 94, 96, 97, 98,
)  # fmt: skip

# --- what people apply for --------------------------------------------------------

# Words of an unaccented procedure name and the relative demand for it: copy
# certification and civil status dominate a commune desk's day, land follows.
_DEMAND = (
    ("chung thuc ban sao", 18.0),
    ("chung thuc chu ky", 8.0),
    ("chung thuc", 6.0),
    ("khai sinh", 14.0),
    ("ket hon", 5.0),
    ("tinh trang hon nhan", 5.0),
    ("khai tu", 4.0),
    ("ly lich tu phap", 4.0),
    ("quyen su dung dat", 8.0),
    ("dat dai", 5.0),
    ("ho kinh doanh", 3.0),
    ("giay phep xay dung", 3.0),
    ("thuong tru", 3.0),
    ("ho tich", 2.0),
)
_LEVEL_DEMAND = {"commune": 1.5, "district": 0.8, "province": 0.6}
# Variants of a common procedure are rare beside it (mobile registration,
# re-registration, foreign element, combined requests).
_RARE_VARIANT_WORDS = ("luu dong", "dang ky lai", "yeu to nuoc ngoai", "ket hop", "nguoi dich", "da co ho so")
_SLOW_SECTOR_WORDS = ("dat dai", "su dung dat", "thua dat", "xay dung", "moi truong")

# Outcome shares of a dossier's plan: early / on time / late / refused /
# withdrawn / stopped. Land and construction run late more often.
_OUTCOMES = ("early", "on_time", "late", "refused", "withdrawn", "stopped")
_P_OUTCOME = np.array([0.758, 0.17, 0.04, 0.022, 0.008, 0.002])
_P_OUTCOME_SLOW = np.array([0.66, 0.19, 0.115, 0.025, 0.008, 0.002])

# The steps of a plan, in order; the status each leaves the dossier in. Step
# 6 is the decision: approve, refuse, withdraw or stop.
_STEPS = (
    ("receive", Status.RECEIVED),
    ("assign", Status.ASSIGNED),
    ("start", Status.PROCESSING),
    ("request_supplement", Status.WAITING_SUPPLEMENT),
    ("supplement", Status.SUPPLEMENTED),
    ("start", Status.PROCESSING),
    ("approve", Status.APPROVED),
    ("mark_result_ready", Status.RESULT_READY),
    ("return_result", Status.RESULT_RETURNED),
)
_DECISIONS = {  # outcome -> (action, status, actor role, note)
    "refused": ("refuse", Status.REFUSED, "leader", "Hồ sơ không đủ điều kiện giải quyết (demo)"),
    "withdrawn": ("withdraw", Status.WITHDRAWN, "desk_officer", "Công dân đề nghị rút hồ sơ (demo)"),
    "stopped": ("stop", Status.STOPPED, "leader", "Dừng xử lý theo yêu cầu của cơ quan có thẩm quyền (demo)"),
}


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c))


def procedure_demand(*, name: str, level: str) -> float:
    """Relative number of applications a procedure gets in the demo."""
    plain = _plain(name)
    weight = next((w for words, w in _DEMAND if words in plain), _LEVEL_DEMAND.get(level, 1.0))
    if any(words in plain for words in _RARE_VARIANT_WORDS):
        weight *= 0.08
    return weight


# --- reference data -----------------------------------------------------------------


@dataclass
class _Places:
    pop_geoms: np.ndarray  # 2019 communes (prepared shapely polygons)
    populations: np.ndarray
    geoms: np.ndarray  # 2025 communes
    ids: np.ndarray
    full_names: list[str]
    desk: np.ndarray  # per 2025 commune: index into points, -1 if none
    post: np.ndarray
    committee: np.ndarray  # per 2025 commune: agency id of its people's committee, 0 if none
    old_tree: shapely.STRtree  # every 2019 commune, in code order
    old_ids: np.ndarray


@dataclass
class _Points:
    ids: np.ndarray
    units: list[str]  # receiving unit identifiers
    centres: np.ndarray  # indexes of the provincial-centre sites, in CENTRE_CODES order


@dataclass
class _Catalogue:
    ids: np.ndarray
    level_commune: np.ndarray
    days: np.ndarray
    agency: np.ndarray
    fee: np.ndarray
    post_in: np.ndarray
    post_out: np.ndarray
    slow: np.ndarray
    demand: np.ndarray


def _shape(geom) -> shapely.Geometry:
    shape = shapely.from_wkb(bytes(geom.wkb))
    shapely.prepare(shape)
    return shape


def _places_load() -> tuple[_Places, _Points]:
    old = list(
        AdministrativeUnit.objects.filter(era=Era.PRE_2025, level=UnitLevel.COMMUNE, population__gt=0).values_list(
            "population", "geom"
        )
    )
    old_all = list(
        AdministrativeUnit.objects.filter(era=Era.PRE_2025, level=UnitLevel.COMMUNE)
        .order_by("code")
        .values_list("id", "geom")
    )
    new = list(
        AdministrativeUnit.objects.filter(era=Era.POST_2025, level=UnitLevel.COMMUNE)
        .order_by("id")
        .values_list("id", "code", "full_name", "geom")
    )
    if not old or not new:
        raise ValueError("load the administrative units first (manage.py load_demo_layers)")
    points = list(
        ServicePoint.objects.filter(is_active=True)
        .exclude(receiving_unit_identifier="")
        .values_list("id", "code", "kind", "admin_unit_id", "receiving_unit_identifier")
    )
    by_code = {code: i for i, (_, code, _, _, _) in enumerate(points)}
    centres = [by_code[c] for c in CENTRE_CODES if c in by_code]
    if not centres:
        raise ValueError("no provincial centre service point (CENTRE-MAIN, CENTRE-KINHBAC): place the service points")
    position = {unit_id: i for i, (unit_id, *_rest) in enumerate(new)}
    desk = np.full(len(new), -1)
    post = np.full(len(new), -1)
    for i, (_, _, kind, unit_id, _) in enumerate(points):
        if unit_id in position:
            if kind == ServicePointKind.COMMUNE_DESK:
                desk[position[unit_id]] = i
            elif kind == ServicePointKind.POST_OFFICE:
                post[position[unit_id]] = i
    committees = dict(
        Agency.objects.filter(kind=Agency.Kind.PEOPLES_COMMITTEE)
        .exclude(admin_unit_code="")
        .values_list("admin_unit_code", "id")
    )
    places = _Places(
        pop_geoms=np.array([_shape(g) for _, g in old], dtype=object),
        populations=np.array([p for p, _ in old], dtype=float),
        geoms=np.array([_shape(g) for *_, g in new], dtype=object),
        ids=np.array([i for i, *_ in new]),
        full_names=[name for _, _, name, _ in new],
        desk=desk,
        post=post,
        committee=np.array([committees.get(code, 0) for _, code, _, _ in new]),
        old_tree=shapely.STRtree([_shape(g) for _, g in old_all]),
        old_ids=np.array([i for i, _ in old_all]),
    )
    return places, _Points(
        ids=np.array([p[0] for p in points]), units=[p[4] for p in points], centres=np.array(centres)
    )


def _catalogue_load() -> _Catalogue:
    rows = list(
        Procedure.objects.filter(is_active=True)
        .order_by("id")
        .values_list(
            "id",
            "name",
            "level",
            "processing_days",
            "agency_id",
            "fee_vnd",
            "postal_submission_allowed",
            "postal_result_allowed",
            "sector__name",
        )
    )
    if not rows:
        raise ValueError("the procedure catalogue is empty: load it first")
    return _Catalogue(
        ids=np.array([r[0] for r in rows]),
        level_commune=np.array([r[2] == "commune" for r in rows]),
        days=np.array([r[3] for r in rows]),
        agency=np.array([r[4] for r in rows]),
        fee=np.array([r[5] for r in rows]),
        post_in=np.array([r[6] for r in rows]),
        post_out=np.array([r[7] for r in rows]),
        slow=np.array([any(w in _plain(f"{r[8]} {r[1]}") for w in _SLOW_SECTOR_WORDS) for r in rows]),
        demand=np.array([procedure_demand(name=r[1], level=r[2]) for r in rows]),
    )


# --- where applicants live ------------------------------------------------------------


def _locations_sample(rng: np.random.Generator, count: int, places: _Places):
    """(lon, lat, index of the 2019 commune, index of the 2025 commune) per
    applicant: communes get a population-weighted multinomial quota, filled by
    rejection sampling in each polygon's bounding box. A point must also fall
    in a 2025 commune (the two maps' boundaries differ slightly)."""
    quotas = rng.multinomial(count, places.populations / places.populations.sum())
    tree = shapely.STRtree(places.geoms)
    xs, ys, olds, news = [], [], [], []
    for i, (geom, need) in enumerate(zip(places.pop_geoms, quotas, strict=True)):
        if need == 0:
            continue
        candidates = tree.query(geom, predicate="intersects")
        minx, miny, maxx, maxy = geom.bounds
        acceptance = max(geom.area / ((maxx - minx) * (maxy - miny)), 0.02)
        got = 0
        for _attempt in range(100):
            if got == need:
                break
            draw = int((need - got) / acceptance * 1.3) + 32
            x = rng.uniform(minx, maxx, draw)
            y = rng.uniform(miny, maxy, draw)
            inside = shapely.contains_xy(geom, x, y)
            x, y = x[inside], y[inside]
            owner = np.full(len(x), -1)
            for c in candidates:
                free = np.flatnonzero(owner < 0)
                owner[free[shapely.contains_xy(places.geoms[c], x[free], y[free])]] = c
            keep = np.flatnonzero(owner >= 0)[: need - got]
            xs.append(x[keep])
            ys.append(y[keep])
            olds.append(np.full(len(keep), i))
            news.append(owner[keep])
            got += len(keep)
            acceptance = max(acceptance * 0.8, 0.001) if len(keep) < 0.5 * draw * acceptance else acceptance
        else:
            raise ValueError(f"could not place applicants in 2019 commune #{i}: no 2025 commune overlaps it")
    order = rng.permutation(count)
    return (
        np.concatenate(xs)[order],
        np.concatenate(ys)[order],
        np.concatenate(olds)[order],
        np.concatenate(news)[order],
    )


# --- calendar, vectorised ----------------------------------------------------------------


@dataclass
class _Days:
    """Calendar days from `first` (day number 0) with the working-day rules."""

    first: dt.date
    midnight: np.ndarray  # UTC epoch seconds of each day's local midnight
    work: np.ndarray  # bool per day
    working: np.ndarray  # day numbers of the working days, ascending
    index_le: np.ndarray  # per day: index in `working` of the last working day on or before it
    start_s: int
    end_s: int

    @classmethod
    def build(cls, calendar: WorkingCalendar, first: dt.date, last: dt.date) -> "_Days":
        tz = ZoneInfo(settings.TIME_ZONE)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        work = np.fromiter((calendar.is_working_day(d) for d in days), dtype=bool, count=len(days))
        midnight = np.array([int(dt.datetime.combine(d, dt.time(0), tzinfo=tz).timestamp()) for d in days])
        return cls(
            first=first,
            midnight=midnight,
            work=work,
            working=np.flatnonzero(work),
            index_le=np.cumsum(work) - 1,
            start_s=calendar.day_start.hour * 3600 + calendar.day_start.minute * 60,
            end_s=calendar.day_end.hour * 3600 + calendar.day_end.minute * 60,
        )

    def at(self, index: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """UTC epoch seconds of `seconds` after local midnight of working day `index`."""
        return self.midnight[self.working[index]] + seconds

    def day_of(self, moment: np.ndarray) -> np.ndarray:
        """Local day number of UTC epoch seconds."""
        return np.searchsorted(self.midnight, moment, side="right") - 1

    def counting_index(self, moment: np.ndarray) -> np.ndarray:
        """Working-day index of `calendar.counting_day(moment)`."""
        day = self.day_of(moment)
        same = self.work[day] & (moment - self.midnight[day] < self.end_s)
        return np.where(same, self.index_le[day], self.index_le[day] + 1)


def _seconds(rng: np.random.Generator, low: int, high, size: int) -> np.ndarray:
    return rng.integers(low, np.maximum(np.asarray(high), low + 60), size=size)


# --- the plan ------------------------------------------------------------------------------


@dataclass
class _History:
    """One entry per dossier, in order of receipt."""

    procedure: np.ndarray  # index into the catalogue
    channel: np.ndarray
    point: np.ndarray  # index into the service points
    agency: np.ndarray  # agency id
    commune: np.ndarray  # index into the 2025 communes
    x: np.ndarray
    y: np.ndarray
    post_result: np.ndarray
    outcome: np.ndarray  # index into _OUTCOMES
    steps: np.ndarray  # (n, 9) UTC epoch seconds of each step, -1 where not taken (yet)
    received_day: np.ndarray  # local day number of receipt (for the code)
    status: np.ndarray  # index into STATUSES
    due: np.ndarray
    paused_at: np.ndarray  # -1: not waiting
    paused_days: np.ndarray
    finished: np.ndarray  # -1: not finished
    timeliness: np.ndarray  # index into TIMELINESS
    processing_days: np.ndarray  # -1 where not finished


def _plan(
    rng: np.random.Generator, *, count: int, years: int, places: _Places, points: _Points, catalogue: _Catalogue
) -> tuple[_History, _Days]:
    now = timezone.now()
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=round(365.25 * years))
    # Room after the last receipt for the longest processing time, a
    # supplement pause, lateness and the return of the result.
    horizon = today + dt.timedelta(days=int(catalogue.days.max() * 1.6) + 120)
    days = _Days.build(working_calendar(), first - dt.timedelta(days=7), horizon)
    receivable = np.flatnonzero(
        (days.working >= (first - days.first).days) & (days.working < (today - days.first).days)
    )
    if len(receivable) == 0:
        raise ValueError("no working day in the period")
    k_first, k_last = receivable[0], receivable[-1]

    # When: a little more each month; Mondays busier, Fridays and make-up Saturdays quieter.
    weekday = (days.first.weekday() + days.working[receivable]) % 7
    weight = (1.0 + 0.25 * np.linspace(0, 1, len(receivable))) * np.array([1.15, 1.0, 1.0, 1.0, 0.9, 0.8, 0.8])[weekday]
    k_r = np.sort(rng.choice(receivable, size=count, p=weight / weight.sum()))
    trend = (k_r - k_first) / max(k_last - k_first, 1)

    # Channel: the online share rises from 30 % to 50 % over the period; ~8 % by post.
    u = rng.random(count)
    p_online = 0.30 + 0.20 * trend
    channel = np.where(u < p_online, Channel.ONLINE, np.where(u < p_online + 0.08, Channel.POST, Channel.IN_PERSON))
    proc = rng.choice(len(catalogue.ids), size=count, p=catalogue.demand / catalogue.demand.sum())
    channel = np.where((channel == Channel.POST) & ~catalogue.post_in[proc], Channel.IN_PERSON, channel)

    x, y, _old, commune = _locations_sample(rng, count, places)

    # Where: commune procedures at the applicant's commune desk, the others at
    # a provincial-centre site; postal dossiers at the commune's post office.
    centre = points.centres[rng.choice(len(points.centres), size=count, p=_shares(len(points.centres)))]
    desk = places.desk[commune]
    point = np.where(catalogue.level_commune[proc] & (desk >= 0), desk, centre)
    post_office = places.post[commune]
    channel = np.where((channel == Channel.POST) & (post_office < 0), Channel.IN_PERSON, channel)
    point = np.where(channel == Channel.POST, post_office, point)
    # As services._handling_agency: commune procedures go to the people's
    # committee of the desk's commune, when there is one.
    committee = places.committee[commune]
    agency = np.where(catalogue.level_commune[proc] & (committee > 0), committee, catalogue.agency[proc])

    # Receipt: desks work two sessions around lunch; online any time of the working hours.
    lunch_from, lunch_to = 11 * 3600 + 30 * 60, 13 * 3600 + 30 * 60
    desk_s = np.where(
        (rng.random(count) < 0.62) & (days.start_s < lunch_from),
        _seconds(rng, days.start_s, lunch_from, count),
        _seconds(rng, max(lunch_to, days.start_s), days.end_s - 900, count),
    )
    online_s = _seconds(rng, days.start_s, days.end_s - 60, count)
    s_r = np.where(channel == Channel.ONLINE, online_s, desk_s)

    n_days = catalogue.days[proc]
    slow = catalogue.slow[proc]
    steps = np.full((count, len(_STEPS)), -1, dtype=np.int64)
    steps[:, 0] = days.at(k_r, s_r)
    # Hand-over to the agency: within the hour, or the next working day for
    # some desk dossiers; postal dossiers travel from the post office for a day or two.
    k_a = k_r + np.where(
        channel == Channel.POST, 1 + (rng.random(count) < 0.2), (rng.random(count) < 0.12) & (channel != Channel.ONLINE)
    )
    morning = _seconds(rng, days.start_s, days.start_s + 7200, count)
    steps[:, 1] = np.where(k_a == k_r, steps[:, 0] + rng.integers(300, 1800, count), days.at(k_a, morning))
    k_s = k_a + ((rng.random(count) < 0.5) & (n_days >= 3))  # quick procedures start the same day
    work_s = _seconds(rng, days.start_s + 600, days.end_s - 1800, count)
    steps[:, 2] = np.where(k_s == k_a, steps[:, 1] + rng.integers(600, 5400, count), days.at(k_s, work_s))

    # A supplement round for some: asked while processing, handed in days later.
    supplement = (rng.random(count) < np.where(slow, 0.14, 0.05)) & (n_days >= 2)
    k_p = k_s + (rng.random(count) * np.maximum(n_days // 2, 1)).astype(int)
    pause = rng.integers(1, 7, count)
    k_back = k_p + pause
    asked = days.at(k_p, _seconds(rng, days.start_s + 900, days.end_s - 900, count))
    handed_in = days.at(k_back, _seconds(rng, days.start_s, days.end_s - 3600, count))
    steps[:, 3] = np.where(supplement, asked, -1)
    steps[:, 4] = np.where(supplement, handed_in, -1)
    steps[:, 5] = np.where(supplement, handed_in + rng.integers(600, 3600, count), -1)
    due_k0 = k_r + n_days
    due_k = due_k0 + np.where(supplement, pause, 0)
    lo = np.where(supplement, k_back, k_s)

    # The decision and its day. Early needs a day before the due day left.
    p = np.where(slow[:, None], _P_OUTCOME_SLOW, _P_OUTCOME)
    outcome = (rng.random(count)[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    outcome = np.where((outcome == 0) & (due_k - 1 < lo), 1, outcome)
    outcome = np.where((outcome == 1) & (due_k < lo), 2, outcome)
    span = np.maximum(due_k - lo, 0)
    k_f = np.select(
        [outcome == 0, outcome == 1, outcome == 2],
        [
            lo + (rng.beta(1.3, 2.2, count) * span).astype(int),
            due_k,
            np.maximum(due_k, lo) + rng.geometric(0.3, count),
        ],
        lo + (rng.random(count) * (span + 1)).astype(int),
    )
    k_f = np.minimum(k_f, len(days.working) - 12)
    steps[:, 6] = days.at(k_f, _seconds(rng, days.start_s + 1800, days.end_s - 1800, count))
    approved = outcome <= 2
    steps[:, 7] = np.where(approved, steps[:, 6] + rng.integers(600, 3600, count), -1)

    # The result: back at the desk within days, or by post.
    post_share = np.where(channel == Channel.POST, 0.7, 0.12)
    post_result = approved & catalogue.post_out[proc] & (rng.random(count) < post_share)
    wait = np.where(
        post_result,
        rng.choice([1, 2, 3], size=count, p=[0.5, 0.35, 0.15]),
        rng.choice([0, 1, 2, 3, 5, 8], size=count, p=[0.25, 0.3, 0.2, 0.1, 0.1, 0.05]),
    )
    returned = np.where(
        wait == 0,
        steps[:, 7] + rng.integers(900, 5400, count),
        days.at(k_f + wait, _seconds(rng, days.start_s, days.end_s - 600, count)),
    )
    steps[:, 8] = np.where(approved, returned, -1)

    # Each step at least a minute after the one before it.
    previous = steps[:, 0].copy()
    for j in range(1, len(_STEPS)):
        taken = steps[:, j] >= 0
        steps[:, j] = np.where(taken, np.maximum(steps[:, j], previous + 60), -1)
        previous = np.where(taken, steps[:, j], previous)
    # What has happened by now.
    steps[steps > int(now.timestamp())] = -1
    history = _History(
        procedure=proc,
        channel=channel,
        point=point,
        agency=agency,
        commune=commune,
        x=x,
        y=y,
        post_result=post_result,
        outcome=outcome,
        steps=steps,
        received_day=days.day_of(steps[:, 0]),
        **_derive(days, steps, k_r=k_r, due_k0=due_k0, outcome=outcome),
    )
    return history, days


def _shares(n: int) -> np.ndarray:
    shares = np.array(CENTRE_SHARES[:n], dtype=float)
    return shares / shares.sum()


# Status and timeliness travel as small numbers: indexes into these.
STATUSES = [value for value, _ in Status.choices]
TIMELINESS = ["", *(value for value, _ in Timeliness.choices)]
_STEP_STATUS = np.array([STATUSES.index(status) for _, status in _STEPS])
_DECISION_STATUS = np.array(
    [STATUSES.index(s) for s in (*[Status.APPROVED] * 3, Status.REFUSED, Status.WITHDRAWN, Status.STOPPED)]
)


def _derive(days: _Days, steps: np.ndarray, *, k_r, due_k0, outcome) -> dict:
    """The dossier fields the kept steps imply, by the services' rules."""
    count = len(k_r)
    rows = np.arange(count)
    taken = steps >= 0
    last = len(_STEPS) - 1 - np.argmax(taken[:, ::-1], axis=1)
    status = np.where(last == 6, _DECISION_STATUS[outcome], _STEP_STATUS[last])
    # A supplement pause: the working days lost are added when it is handed in.
    resumed = taken[:, 4]
    lost = np.zeros(count, dtype=np.int64)
    lost[resumed] = days.counting_index(steps[resumed, 4]) - days.counting_index(steps[resumed, 3])
    due_k = due_k0 + lost
    due_day = days.working[due_k]
    # Finished: result ready after approval, or refused; classified as _classify does.
    finished = np.where(outcome <= 2, steps[rows, 7], np.where(outcome == 3, steps[rows, 6], -1))
    done = finished >= 0
    finished_day = days.day_of(np.where(done, finished, steps[:, 0]))
    timeliness = np.select(
        [done & (finished_day < due_day), done & (finished_day == due_day), done & (finished_day > due_day)],
        [TIMELINESS.index(t) for t in (Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE)],
        0,
    )
    return {
        "status": status,
        "due": days.midnight[due_day] + days.end_s,
        "paused_at": np.where(taken[:, 3] & ~resumed, steps[:, 3], -1),
        "paused_days": lost,
        "finished": finished,
        "timeliness": timeliness,
        "processing_days": np.where(done, np.maximum(days.index_le[finished_day] - k_r - lost, 0), -1),
    }


# --- people ----------------------------------------------------------------------------------


def _people(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    """Applicants as numbers the load turns into text: name parts, citizen
    ID, phone, house number, hamlet or block."""
    female = rng.random(count) < 0.52
    family_p = np.array([w for _, w in _FAMILY])
    male_middle, female_middle = len(_MIDDLE[0]), len(_MIDDLE[1])
    male_given, female_given = len(_GIVEN[0]), len(_GIVEN[1])
    # Citizen ID (Circular 59/2021): birth province 027 Bắc Ninh or 024 Bắc
    # Giang, a century-and-sex digit (0/1 born 19xx, 2/3 born 20xx), the
    # year of birth, six digits.
    province = np.where(rng.random(count) < 0.85, 27, 24)
    born = rng.integers(1945, 2008, count)
    century_sex = (born >= 2000) * 2 + female
    prefix = np.array(_PHONE_PREFIXES)[rng.integers(0, len(_PHONE_PREFIXES), count)]
    return {
        "family": rng.choice(len(_FAMILY), size=count, p=family_p / family_p.sum()),
        # Middle and given names: the male list, then the female one.
        "middle": np.where(
            female, male_middle + rng.integers(0, female_middle, count), rng.integers(0, male_middle, count)
        ),
        "given": np.where(
            female, male_given + rng.integers(0, female_given, count), rng.integers(0, male_given, count)
        ),
        "id_number": province * 10**9 + century_sex * 10**8 + (born % 100) * 10**6 + rng.integers(0, 10**6, count),
        "phone": prefix * 10**7 + rng.integers(0, 10**7, count),
        "house": rng.integers(1, 300, count),
        "hamlet": rng.integers(0, len(_HAMLETS), count),
        "block": rng.integers(1, 13, count),
    }


# --- codes -------------------------------------------------------------------------------------


def _codes(cursor, history: _History, points: _Points, days: _Days) -> tuple[np.ndarray, np.ndarray, list]:
    """Per dossier the YYMMDD and the sequence number of its code, in order of
    receipt per unit and day, after the highest number a live (non-demo)
    dossier already holds there; and the last number per unit and day, for
    the counter table."""
    unit_names = sorted(set(points.units))
    unit_of_point = np.array([unit_names.index(u) for u in points.units])
    unit = unit_of_point[history.point]
    day = history.received_day
    order = np.lexsort((history.steps[:, 0], day, unit))
    key = unit[order] * 100_000 + day[order]
    starts = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(starts) - 1
    first_of_group = np.flatnonzero(starts)
    number = np.arange(len(order)) - first_of_group[group] + 1
    # Live dossiers of the period keep their numbers (a code is dated by the
    # day of submission: an online dossier waiting for receipt has no receipt yet).
    first_day = days.first + dt.timedelta(days=int(day.min()))
    cursor.execute(
        r"""SELECT split_part(code, '-', 1), split_part(code, '-', 2), max(split_part(code, '-', 3)::int)
            FROM dossiers_dossier WHERE NOT is_demo AND submitted_at >= %s AND code ~ '^[^-]+-\d{6}-\d{1,9}$'
            GROUP BY 1, 2""",
        [dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)],
    )
    taken = {(u, d): last for u, d, last in cursor.fetchall()}
    dates = [days.first + dt.timedelta(days=int(d)) for d in day[order][first_of_group]]
    group_yymmdd = np.array([int(d.strftime("%y%m%d")) for d in dates])
    group_units = [unit_names[u] for u in unit[order][first_of_group]]
    offset = np.array([taken.get((u, f"{s:06d}"), 0) for u, s in zip(group_units, group_yymmdd, strict=True)])
    number += offset[group]
    sequence = np.empty(len(order), dtype=np.int64)
    sequence[order] = number
    yymmdd = np.empty(len(order), dtype=np.int64)
    yymmdd[order] = group_yymmdd[group]
    last = np.maximum.reduceat(number, first_of_group)
    return yymmdd, sequence, list(zip(group_units, dates, last.tolist(), strict=True))


# --- writing -----------------------------------------------------------------------------------
#
# Each chunk of dossiers goes to a temporary table as numbers only, by a
# binary COPY built with numpy (no Python work per row); two INSERT ...
# SELECT then write the dossiers and their events, turning the numbers into
# codes, names, addresses and timestamps inside PostgreSQL.

_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_BINARY_TRAILER = b"\xff\xff"
_STAGE = "dossiers_demo_stage"
_FLOAT_COLUMNS = ("x", "y")
_STEP_COLUMNS = tuple(f"t{j}" for j in range(len(_STEPS)))
_H3_COLUMNS = tuple(f"h3_r{res}" for res in H3_RESOLUTIONS)
_STAGE_COLUMNS = (
    "id", "procedure_id", "channel", "point_id", "agency_id", "commune_id", "x", "y", "yymmdd", "seq", "family",
    "middle", "given", "id_number", "phone", "house", "hamlet", "block", "status", "timeliness", "due", "paused_at",
    "paused_days", "finished", "processing_days", "supplement", "post_result", "fee", "outcome", "who_applicant",
    "who_desk", "who_decision", *_STEP_COLUMNS, "updated", *_H3_COLUMNS, "commune_2019_id",
)  # fmt: skip


def _binary_copy_data(columns: dict[str, np.ndarray]) -> bytes:
    """PostgreSQL binary COPY data of int8/float8 columns without NULLs: one
    fixed-width numpy record per row."""
    fields = [("count", ">i2")]
    for name in columns:
        fields += [(f"{name}__len", ">i4"), (name, ">f8" if name in _FLOAT_COLUMNS else ">i8")]
    rows = np.empty(len(next(iter(columns.values()))), dtype=fields)
    rows["count"] = len(columns)
    for name, values in columns.items():
        rows[f"{name}__len"] = 8
        rows[name] = values
    return _BINARY_HEADER + rows.tobytes() + _BINARY_TRAILER


# Who takes a step: 0 the applicant (online), 1 a desk officer, 2 a
# post-office clerk, 3 a processing officer, 4 a leader.
_ACTOR_NAMES = ["", DESK_OFFICER, POST_CLERK, PROCESSOR, LEADER]
_ACTOR_ROLES = ["citizen", "desk_officer", "desk_officer", "processing_officer", "leader"]
_NAME_SQL = (
    "(%(family)s::text[])[s.family + 1] || ' ' || (%(middle)s::text[])[s.middle + 1] || ' ' "
    "|| (%(given)s::text[])[s.given + 1]"
)
# An online dossier was submitted a little before the desk received it
# (10 to 70 minutes, within the same morning: the code keeps its day); at a
# desk it is received as it is submitted.
_ONLINE = int(Channel.ONLINE)
_WAIT_SQL = f"CASE WHEN s.channel = {_ONLINE} THEN ((s.id %% 7) + 1) * 600 ELSE 0 END"
_INSERT_DOSSIERS = f"""
INSERT INTO dossiers_dossier (
    id, code, procedure_id, applicant_name, applicant_id_number, applicant_phone, applicant_email, applicant_address,
    applicant_commune_id, location, channel, receiving_point_id, agency_id, receiving_agency_id, status, received_at,
    submitted_at, due_at, paused_at,
    paused_working_days, finished_at, returned_at, timeliness, processing_working_days, supplement_count,
    result_delivery, delivery_address, fee_vnd, note, is_demo, updated_at, h3_r6, h3_r7, h3_r8, h3_r9,
    applicant_commune_2019_id)
SELECT s.id,
       p.receiving_unit_identifier || '-' || lpad(s.yymmdd::text, 6, '0') || '-'
           || lpad(s.seq::text, greatest(4, length(s.seq::text)), '0'),
       s.procedure_id, {_NAME_SQL}, lpad(s.id_number::text, 12, '0'), '0' || s.phone, '', a.address, s.commune_id,
       ST_SetSRID(ST_MakePoint(s.x, s.y), 4326), s.channel, s.point_id, s.agency_id, s.agency_id,
       (%(statuses)s::text[])[s.status + 1], to_timestamp(s.t0), to_timestamp(s.t0 - {_WAIT_SQL}), to_timestamp(s.due),
       to_timestamp(nullif(s.paused_at, -1)), s.paused_days, to_timestamp(nullif(s.finished, -1)),
       to_timestamp(nullif(s.t8, -1)), (%(timeliness)s::text[])[s.timeliness + 1], nullif(s.processing_days, -1),
       s.supplement, CASE WHEN s.post_result = 1 THEN %(post)s ELSE %(desk)s END,
       CASE WHEN s.post_result = 1 THEN a.address ELSE '' END, s.fee, '', true, to_timestamp(s.updated),
       s.h3_r6, s.h3_r7, s.h3_r8, s.h3_r9, nullif(s.commune_2019_id, 0)
FROM {_STAGE} s
JOIN layers_servicepoint p ON p.id = s.point_id
JOIN layers_administrativeunit u ON u.id = s.commune_id
CROSS JOIN LATERAL (
    SELECT 'Số ' || s.house || ', '
           || CASE WHEN u.full_name LIKE 'Phường %%' THEN 'Khu phố ' || s.block
                   ELSE 'Thôn ' || (%(hamlets)s::text[])[s.hamlet + 1] END
           || ', ' || u.full_name || ', tỉnh Bắc Ninh' AS address
) a
"""


def _insert_events_sql() -> str:
    steps = []
    for j, (action, status) in enumerate(_STEPS):
        before = "''" if j == 0 else f"'{_STEPS[j - 1][1].value}'"
        who, note = {
            # Received by the desk (online dossiers too: they waited for it).
            0: (
                "s.who_desk",
                f"CASE WHEN s.channel = {int(Channel.ONLINE)} THEN '' ELSE (%(channels)s::text[])[s.channel] END",
            ),
            1: ("s.who_desk", "''"),
            3: ("3", "%(supplement_note)s"),
            4: ("s.who_applicant", "''"),
            6: ("s.who_decision", "(%(decision_notes)s::text[])[s.outcome + 1]"),
            8: ("s.who_desk", "CASE WHEN s.post_result = 1 THEN %(post_note)s ELSE '' END"),
        }.get(j, ("3", "''"))
        if j == 6:
            action_sql, before, status_sql = (
                "(%(decision_actions)s::text[])[s.outcome + 1]",
                f"'{Status.PROCESSING.value}'",
                "(%(decision_statuses)s::text[])[s.outcome + 1]",
            )
        elif j == 0:
            action_sql, status_sql = f"'{action}'", f"'{status.value}'"
            before = f"CASE WHEN s.channel = {int(Channel.ONLINE)} THEN '{Status.WAITING_RECEIPT.value}' ELSE '' END"
        else:
            action_sql, status_sql = f"'{action}'", f"'{status.value}'"
        steps.append(f"({j}, {action_sql}, {before}, {status_sql}, {who}, s.t{j}, {note})")
    # The online submission itself, before the desk received it (none for desk dossiers: at = -1).
    steps.insert(
        0,
        f"(-1, 'submit', '', '{Status.WAITING_RECEIPT.value}', s.who_applicant, "
        f"CASE WHEN s.channel = {int(Channel.ONLINE)} THEN s.t0 - {_WAIT_SQL} ELSE -1 END, "
        "(%(channels)s::text[])[s.channel])",
    )
    values = ",\n        ".join(steps)
    return f"""
INSERT INTO dossiers_dossierevent (
    dossier_id, action, from_status, to_status, actor_name, actor_role, actor_agency_id, actor_point_id,
    to_agency_id, note, at)
SELECT s.id, e.action, e.from_status, e.to_status,
       CASE WHEN e.who = 0 THEN {_NAME_SQL} ELSE (%(actor_names)s::text[])[e.who + 1] END,
       (%(actor_roles)s::text[])[e.who + 1],
       CASE WHEN e.who >= 3 THEN s.agency_id END,
       CASE WHEN e.who IN (1, 2) THEN s.point_id END,
       CASE WHEN e.step = 1 THEN s.agency_id END,
       e.note, to_timestamp(e.at)
FROM {_STAGE} s
CROSS JOIN LATERAL (VALUES
        {values}
) AS e(step, action, from_status, to_status, who, at, note)
WHERE e.at >= 0
"""


_INSERT_EVENTS = _insert_events_sql()


def _sql_parameters() -> dict:
    decisions = [("approve", Status.APPROVED, "")] * 3 + [(a, st, note) for a, st, _, note in _DECISIONS.values()]
    return {
        "family": [name for name, _ in _FAMILY],
        "middle": [*_MIDDLE[0], *_MIDDLE[1]],
        "given": [*_GIVEN[0], *_GIVEN[1]],
        "hamlets": list(_HAMLETS),
        "statuses": STATUSES,
        "timeliness": TIMELINESS,
        "post": Delivery.POST.value,
        "desk": Delivery.DESK.value,
        "channels": [label for _, label in Channel.choices],
        "supplement_note": "Đề nghị bổ sung, hoàn thiện hồ sơ (demo)",
        "post_note": "Trả kết quả qua bưu chính công ích",
        "decision_actions": [d[0] for d in decisions],
        "decision_statuses": [d[1].value for d in decisions],
        "decision_notes": [d[2] for d in decisions],
        "actor_names": _ACTOR_NAMES,
        "actor_roles": _ACTOR_ROLES,
    }


def _h3_columns(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """H3 cells of the locations for the density maps (about 1 s per 200,000
    points and resolution set; h3 has no vectorised call in 4.x)."""
    lat, lon = y.tolist(), x.tolist()
    return {
        f"h3_r{res}": np.fromiter(
            map(h3.latlng_to_cell, lat, lon, itertools.repeat(res)), dtype=np.int64, count=len(lat)
        )
        for res in H3_RESOLUTIONS
    }


def _communes_2019(places: _Places, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Id of the 2019 commune holding each location, the first by code where
    outlines overlap (`density_counts.commune_2019_for`'s rule); 0 outside."""
    point, unit = places.old_tree.query(shapely.points(x, y), predicate="intersects")
    first = np.full(len(x), len(places.old_ids))
    np.minimum.at(first, point, unit)  # the tree holds the communes in code order
    return np.append(places.old_ids, 0)[first]


def _stage_columns(s: slice, *, ids, yymmdd, sequence, history: _History, people, places, points, catalogue):
    channel = history.channel[s]
    desk = np.where(channel == Channel.POST, 2, 1)  # the post office's clerk handles postal dossiers
    applicant = np.where(channel == Channel.ONLINE, 0, desk)
    outcome = history.outcome[s]
    steps = history.steps[s]
    columns = {
        "id": ids[s],
        "procedure_id": catalogue.ids[history.procedure[s]],
        "channel": channel,
        "point_id": points.ids[history.point[s]],
        "agency_id": history.agency[s],
        "commune_id": places.ids[history.commune[s]],
        "x": history.x[s],
        "y": history.y[s],
        "yymmdd": yymmdd[s],
        "seq": sequence[s],
        **{name: people[name][s] for name in ("family", "middle", "given", "id_number", "phone")},
        **{name: people[name][s] for name in ("house", "hamlet", "block")},
        "status": history.status[s],
        "timeliness": history.timeliness[s],
        "due": history.due[s],
        "paused_at": history.paused_at[s],
        "paused_days": history.paused_days[s],
        "finished": history.finished[s],
        "processing_days": history.processing_days[s],
        "supplement": (steps[:, 3] >= 0).astype(int),
        "post_result": history.post_result[s].astype(int),
        "fee": catalogue.fee[history.procedure[s]],
        "outcome": outcome,
        "who_applicant": applicant,
        "who_desk": desk,
        # A withdrawal is asked for by the applicant; the rest are leaders' decisions.
        "who_decision": np.where(outcome == _OUTCOMES.index("withdrawn"), applicant, 4),
        **{name: steps[:, j] for j, name in enumerate(_STEP_COLUMNS)},
        "updated": steps.max(axis=1),
        **_h3_columns(history.x[s], history.y[s]),
        "commune_2019_id": _communes_2019(places, history.x[s], history.y[s]),
    }
    assert tuple(columns) == _STAGE_COLUMNS
    return columns


def _chunk_write(
    cursor, columns: dict[str, np.ndarray], parameters: dict, *, with_events: bool, clock: "_Clock"
) -> int:
    cursor.execute(f"TRUNCATE {_STAGE}")
    with cursor.copy(f"COPY {_STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(_binary_copy_data(columns))
    clock.add("load_stage")
    cursor.execute(_INSERT_DOSSIERS, parameters)
    clock.add("load_dossiers")
    if not with_events:
        return 0
    cursor.execute(_INSERT_EVENTS, parameters)
    clock.add("load_events")
    return cursor.rowcount


# --- the whole run ----------------------------------------------------------------------------

_DOSSIER_CHILDREN = ("dossiers_dossierevent", "dossiers_apology", "dossiers_attachment", "dossiers_idempotencykey")
_LOADED = ("dossiers_dossier", "dossiers_dossierevent")


def _referencing_tables(cursor) -> list[str]:
    """Every table that points at the dossiers, directly or through another
    such table (PostgreSQL truncates a table only with all that point at it)."""
    cursor.execute(
        """WITH RECURSIVE refs(tbl) AS (
               SELECT conrelid FROM pg_constraint WHERE contype = 'f' AND confrelid = 'dossiers_dossier'::regclass
               UNION
               SELECT c.conrelid FROM pg_constraint c JOIN refs r ON c.confrelid = r.tbl WHERE c.contype = 'f'
           ) SELECT DISTINCT tbl::regclass::text FROM refs WHERE tbl <> 'dossiers_dossier'::regclass"""
    )
    return sorted(table for (table,) in cursor.fetchall())


def _demo_delete(cursor) -> str:
    """Removes the demo dossiers and every row pointing at them: TRUNCATE
    when the dossier tables hold nothing else (other apps' tables, once
    their parts removed their demo rows, empty), DELETE by is_demo otherwise."""
    for part in demo_history_parts():
        part.delete(cursor)
    cursor.execute(
        """SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND c.confrelid = 'dossiers_dossier'::regclass"""
    )
    references = cursor.fetchall()
    cursor.execute("SELECT EXISTS (SELECT 1 FROM dossiers_dossier WHERE NOT is_demo)")
    (live,) = cursor.fetchone()
    others = [table for table in _referencing_tables(cursor) if table not in _DOSSIER_CHILDREN]
    if not live and not any(_has_rows(cursor, table) for table in others):
        cursor.execute(f"TRUNCATE dossiers_dossier, {', '.join([*_DOSSIER_CHILDREN, *others])}")
        return "truncate"
    for table, column in references:
        cursor.execute(f'DELETE FROM {table} WHERE "{column}" IN (SELECT id FROM dossiers_dossier WHERE is_demo)')
    cursor.execute("DELETE FROM dossiers_dossier WHERE is_demo")
    return "delete"


def _has_rows(cursor, table: str) -> bool:
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
    return cursor.fetchone()[0]


def _foreign_keys_drop(cursor, table: str) -> list[str]:
    """Drops `table`'s foreign keys; returns the statements that put them
    back (definitions read from the catalog). Re-adding a key checks every
    row in one join, far cheaper than a trigger lookup per loaded row."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    restore = []
    for name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return restore


def _indexes_drop(cursor, table: str) -> list[str]:
    """Drops `table`'s indexes that no constraint owns; returns their
    definitions. Building an index once over the loaded rows is several
    times cheaper than maintaining it row by row."""
    cursor.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = %s::regclass
             AND NOT EXISTS (
                 SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)""",
        [table],
    )
    restore = []
    for name, definition in cursor.fetchall():
        cursor.execute(f"DROP INDEX {name}")
        restore.append(definition)
    return restore


def _ids_reserve(cursor, count: int) -> int:
    """The first of `count` consecutive dossier ids, taken from the table's
    sequence (the table is locked against inserts meanwhile)."""
    cursor.execute("SELECT pg_get_serial_sequence('dossiers_dossier', 'id')")
    (sequence,) = cursor.fetchone()
    cursor.execute("SELECT nextval(%s)", [sequence])
    (first,) = cursor.fetchone()
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


class _Clock:
    def __init__(self, timings: dict | None):
        self.timings = timings if timings is not None else {}
        self.start = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 3)
        self.last = now

    def add(self, name: str) -> None:
        """Adds the time since the last mark to `name` (a phase made of chunks)."""
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0) + now - self.last, 3)
        self.last = now

    def total(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self.start, 3)


def dossier_history_generate(
    *,
    count: int = 200_000,
    years: int = 2,
    seed: int = 2025,
    progress: Callable[[int], object] | None = None,
    with_events: bool = True,
    timings: dict | None = None,
) -> int:
    """Replaces the demo dossiers with `count` new ones received over the
    last `years` years (with their events unless `with_events` is False),
    moves the code counters past them, and rebuilds the indicator table.
    Returns the number of dossiers written; `timings`, if given, receives
    the seconds spent in each phase and the number of events."""
    if count < 1:
        raise ValueError("count must be positive")
    clock = _Clock(timings)
    rng = np.random.default_rng(seed)
    places, points = _places_load()
    catalogue = _catalogue_load()
    history, days = _plan(rng, count=count, years=years, places=places, points=points, catalogue=catalogue)
    people = _people(rng, count)
    parameters = _sql_parameters()
    clock.lap("plan")
    events = 0
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own: COPY, and %% left alone when there are no parameters
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute("SET LOCAL work_mem = '128MB'")  # the stats rebuild aggregates in memory
        cursor.execute("LOCK TABLE dossiers_dossier IN SHARE ROW EXCLUSIVE MODE")
        # Run the foreign-key checks still pending in this transaction (when
        # called inside a larger one): PostgreSQL refuses TRUNCATE and ALTER
        # TABLE on tables with pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        mode = _demo_delete(cursor)
        clock.timings["delete_mode"] = mode
        clock.lap("delete")
        yymmdd, sequence, counters = _codes(cursor, history, points, days)
        ids = np.arange(count, dtype=np.int64) + _ids_reserve(cursor, count)
        restore_keys = [statement for table in _LOADED for statement in _foreign_keys_drop(cursor, table)]
        restore_indexes = (
            [statement for table in _LOADED for statement in _indexes_drop(cursor, table)] if mode == "truncate" else []
        )
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_STAGE} ("
            + ", ".join(f"{c} {'float8' if c in _FLOAT_COLUMNS else 'int8'}" for c in _STAGE_COLUMNS)
            + ") ON COMMIT DROP"
        )
        clock.lap("prepare")
        for start in range(0, count, CHUNK):
            s = slice(start, min(start + CHUNK, count))
            columns = _stage_columns(
                s, ids=ids, yymmdd=yymmdd, sequence=sequence, history=history, people=people, places=places,
                points=points, catalogue=catalogue,
            )  # fmt: skip
            clock.add("load_python")
            events += _chunk_write(cursor, columns, parameters, with_events=with_events, clock=clock)
            if progress is not None:
                progress(s.stop - s.start)
        cursor.execute(f"DROP TABLE {_STAGE}")
        for statement in restore_indexes:
            cursor.execute(statement)
        clock.lap("indexes")
        for statement in restore_keys:
            cursor.execute(statement)
        # Back to Django's mode: its foreign keys are INITIALLY DEFERRED.
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        clock.lap("foreign_keys")
        cursor.execute(
            """INSERT INTO dossiers_codecounter (unit_identifier, day, last)
               SELECT * FROM unnest(%s::text[], %s::date[], %s::int[])
               ON CONFLICT (unit_identifier, day, province_code) DO UPDATE
               SET last = greatest(dossiers_codecounter.last, EXCLUDED.last)""",
            [[c[0] for c in counters], [c[1] for c in counters], [c[2] for c in counters]],
        )
        clock.lap("counters")
        for part in demo_history_parts():
            part.generate(cursor, with_events=with_events)
            clock.lap(part.name)
        stats.stats_rebuild()
        # The rebuild writes the rows in hash order and leaves the old ones
        # dead: rewritten in (dimension, day) order, a year of one dimension
        # sits on a few hundred pages instead of thousands (the indicator
        # query ran 3 times faster at 2,000,000 dossiers).
        cursor.execute("CLUSTER dossiers_dailystat USING dailystat_dim_day")
        clock.lap("stats")
        density_counts.density_rebuild()
        clock.lap("density")
        # Fresh planner statistics for the worklists and the indicators; the
        # event table is left to autovacuum (its ANALYZE costs seconds).
        cursor.execute("ANALYZE dossiers_dossier")
        cursor.execute("ANALYZE dossiers_dailystat")
        cursor.execute("ANALYZE dossiers_densitycount")
        cursor.execute("ANALYZE dossiers_densitydaycount")
        cursor.execute("ANALYZE dossiers_densityquartercount")
        clock.lap("analyze")
    clock.lap("commit")
    clock.timings["events"] = events
    clock.total()
    logger.info("demo history: %s dossiers, %s events, %s", count, events, clock.timings)
    return count
