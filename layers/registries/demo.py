"""Demo sector registries: OpenStreetMap hospitals, and generated schools, land
parcels and construction permits, so that the OGC API, tiles and spatial
questions have something real-sized to work on.

Everything generated is deterministic (fixed seeds, arithmetic instead of
random numbers), built in PostGIS with set-based SQL rather than Python loops,
and reloaded in one transaction per layer: running it again replaces the
layer's features and leaves no duplicates."""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from gisportal.accounts.services import demo_agencies_ensure
from gisportal.settings import env

from ..models import Era, FeatureChange, GeometryType, Layer, UnitLevel, Visibility
from .services import layer_create_or_update, layer_touch

DATA_DIR = Path(settings.BASE_DIR) / "data" / "bacninh"
OSM_HEALTH_FILE = "bacninh_osm_health_overpass_2024-09-27.geojson"
DEFAULT_DEMO_PARCELS = 100_000

# A parcel is a 60 m x 40 m rectangle; parcels come in blocks of 4 x 3
# (a village block or a group of paddies), blocks on a regular lattice.
PARCEL_WIDTH_M = 60.0
PARCEL_HEIGHT_M = 40.0
BLOCK_COLUMNS = 4
BLOCK_ROWS = 3
PARCELS_PER_BLOCK = BLOCK_COLUMNS * BLOCK_ROWS
BLOCKS_PER_SHEET = 8  # 96 parcels on one cadastral map sheet
METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0
REFERENCE_LAT = 21.3  # middle of the province: degrees per metre are taken here

Progress = Callable[[int], None]


def _no_progress(_: int) -> None:
    return None


def demo_parcel_count() -> int:
    """How many parcels the demo generates: `DEMO_PARCELS` (setting, then
    environment), 100,000 by default; test settings may ask for fewer."""
    configured = getattr(settings, "DEMO_PARCELS", None) or env.get("DEMO_PARCELS")
    return int(configured) if configured else DEFAULT_DEMO_PARCELS


@dataclass(frozen=True)
class DemoLayerReport:
    slug: str
    features: int


def _field(name: str, kind: str, *, filterable: bool = False, title: str = "") -> dict:
    field = {"name": name, "type": kind, "filterable": filterable}
    if title:
        field["title"] = title
    return field


def _layer_reload(*, note: str, insert: Callable[[CursorWrapper, Layer], None], **layer_fields) -> DemoLayerReport:
    """Create or update the layer (`layer_fields` go to layer_create_or_update),
    replace its features by what `insert` writes through the cursor, and
    record the reload. Call inside the caller's transaction: a failure leaves
    the layer as it was."""
    layer = layer_create_or_update(**layer_fields)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM layers_feature WHERE layer_id = %s", [layer.pk])
        insert(cursor, layer)
    layer_touch(layer)
    FeatureChange.objects.create(
        layer=layer, action=FeatureChange.Action.IMPORT, user=None, note=f"{note}: {layer.feature_count}"
    )
    return DemoLayerReport(slug=layer.slug, features=layer.feature_count)


def _insert_per_commune(sql: str) -> Callable[[CursorWrapper, Layer], None]:
    """An `insert` for _layer_reload running `sql`, which generates features
    from the communes of 2025 (parameters era, level and layer)."""

    def insert(cursor: CursorWrapper, layer: Layer) -> None:
        cursor.execute(sql, {"era": Era.POST_2025, "level": UnitLevel.COMMUNE, "layer": layer.pk})

    return insert


# --- hospitals (OpenStreetMap) --------------------------------------------------

HOSPITAL_SCHEMA = [
    _field("name", "string", filterable=True, title="Tên / Name"),
    _field("name_en", "string", title="Tên tiếng Anh / English name"),
    _field("amenity", "string", filterable=True),
    _field("healthcare", "string", filterable=True),
    _field("speciality", "string", title="Chuyên khoa / Speciality"),
    _field("emergency", "string", title="Cấp cứu / Emergency"),
    _field("operator", "string", title="Đơn vị quản lý / Operator"),
    _field("addr_street", "string"),
    _field("addr_subdistrict", "string"),
    _field("addr_district", "string"),
    _field("addr_city", "string"),
    _field("addr_province", "string"),
    _field("osm_id", "string", filterable=True, title="OpenStreetMap id (node/…, way/…)"),
]
# OSM keys as they come, to the schema's names (GDAL and query strings dislike ':').
OSM_KEYS = {
    "name": "name",
    "name:en": "name_en",
    "amenity": "amenity",
    "healthcare": "healthcare",
    "healthcare:speciality": "speciality",
    "emergency": "emergency",
    "operator": "operator",
    "addr:street": "addr_street",
    "addr:subdistrict": "addr_subdistrict",
    "addr:district": "addr_district",
    "addr:city": "addr_city",
    "addr:province": "addr_province",
}


@transaction.atomic
def demo_hospitals_load(*, agencies: dict) -> DemoLayerReport:
    source = json.loads((DATA_DIR / OSM_HEALTH_FILE).read_text(encoding="utf-8"))["features"]
    rows = []
    for feature in source:
        tags = feature["properties"]
        properties = {ours: tags[theirs] for theirs, ours in OSM_KEYS.items() if tags.get(theirs) not in (None, "")}
        # "node/1926545806": OSM numbers are unique per element type only, and
        # pass the 32-bit range that some clients assume for integers.
        properties["osm_id"] = feature["id"]
        rows.append([json.dumps(feature["geometry"]), json.dumps(properties, ensure_ascii=False)])

    def insert(cursor: CursorWrapper, layer: Layer) -> None:
        cursor.executemany(
            """
            INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
            VALUES (%s, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), %s::jsonb, now(), now())
            """,
            [[layer.pk, *row] for row in rows],
        )

    return _layer_reload(
        note="OpenStreetMap 2024-09-27",
        insert=insert,
        slug="hospitals",
        title="Cơ sở y tế (OpenStreetMap) / Hospitals and health centres",
        description="Bệnh viện và trung tâm y tế từ OpenStreetMap (xuất ngày 27/09/2024). "
        "Hospitals and district health centres from OpenStreetMap (export of 2024-09-27).",
        owner=agencies["so-y-te"],
        geometry_type=GeometryType.POINT,
        schema=HOSPITAL_SCHEMA,
        visibility=Visibility.PUBLIC,
        attribution="© OpenStreetMap contributors (ODbL)",
        license="ODbL-1.0",
        is_demo=False,
    )


# --- schools (generated) ---------------------------------------------------------

SCHOOL_SCHEMA = [
    _field("name", "string", filterable=True, title="Tên trường / Name"),
    _field("level", "string", filterable=True, title="Cấp học / Level"),
    _field("pupils", "integer", title="Số học sinh / Pupils"),
    _field("opened_on", "date", filterable=True, title="Năm thành lập / Founded"),
    _field("public", "boolean", filterable=True, title="Công lập / Public school"),
    _field("commune_code", "string", filterable=True, title="Mã xã / Commune code"),
]

SCHOOLS_SQL = """
WITH communes AS (
    SELECT code, name, geom, code::int AS n,
           3 + (code::int / 3) %% 2 AS schools
    FROM layers_administrativeunit WHERE era = %(era)s AND level = %(level)s
),
placed AS (
    SELECT c.code, c.name, c.n, d.path[1] AS k, d.geom
    FROM communes c,
         LATERAL ST_Dump(ST_GeneratePoints(c.geom, c.schools, c.n)) d
)
INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
SELECT %(layer)s, p.geom,
       jsonb_build_object(
           'name', 'Trường ' || (ARRAY['Mầm non', 'Tiểu học', 'THCS', 'THPT'])[p.k] || ' ' || p.name,
           'level', (ARRAY['Mầm non', 'Tiểu học', 'THCS', 'THPT'])[p.k],
           'pupils', (ARRAY[180, 450, 520, 1100])[p.k] + (p.n * 37 + p.k * 101) %% 400,
           'opened_on', to_char(DATE '1960-01-01' + (p.n * 131 + p.k * 977) %% 22000, 'YYYY-MM-DD'),
           'public', (p.n + p.k) %% 7 <> 0,
           'commune_code', p.code
       ),
       now(), now()
FROM placed p
ORDER BY p.code, p.k
"""


@transaction.atomic
def demo_schools_load(*, agencies: dict) -> DemoLayerReport:
    """Three or four schools per commune of 2025 (kindergarten, primary, lower
    secondary, and an upper secondary school in every other commune), placed
    by ST_GeneratePoints with a seed per commune: the same places every run."""
    return _layer_reload(
        note="demo rule",
        insert=_insert_per_commune(SCHOOLS_SQL),
        slug="schools",
        title="Trường học (dữ liệu mẫu) / Schools (demo data)",
        description="Vị trí và số liệu sinh ra theo quy tắc, không phải khảo sát. "
        "Generated by rule for the demo: not surveyed locations.",
        owner=agencies["so-gddt"],
        geometry_type=GeometryType.POINT,
        schema=SCHOOL_SCHEMA,
        visibility=Visibility.PUBLIC,
        time_field="opened_on",
        attribution="Dữ liệu mẫu / demo data",
        is_demo=True,
    )


# --- land parcels (generated) ----------------------------------------------------

PARCEL_SCHEMA = [
    _field("parcel_no", "integer", filterable=True, title="Số thửa / Parcel number"),
    _field("sheet_no", "integer", filterable=True, title="Số tờ bản đồ / Map sheet"),
    _field("area_m2", "number", title="Diện tích (m²) / Area"),
    _field("land_use", "string", filterable=True, title="Mục đích sử dụng / Land use code"),
    _field("commune_code", "string", filterable=True, title="Mã xã / Commune code"),
]
# Land-use codes of the cadastral legend with rough shares (per cent):
# rural housing, paddy rice, perennial crops, other annual crops, aquaculture,
# urban housing, production sites, education.
LAND_USE_BUCKETS = [("ONT", 33), ("LUC", 30), ("CLN", 10), ("BHK", 10), ("NTS", 7), ("ODT", 5), ("SKC", 3), ("DGD", 2)]


def _land_use_sql() -> str:
    """A CASE on a 0-99 bucket, so shares follow LAND_USE_BUCKETS."""
    cases, upper = [], 0
    for code, share in LAND_USE_BUCKETS:
        upper += share
        cases.append(f"WHEN bucket < {upper} THEN '{code}'")
    return "CASE " + " ".join(cases) + " END"


def _lattice_spacing_m(*, parcels: int, safety: float) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(ST_Area(geom::geography)) FROM layers_administrativeunit WHERE era = %s AND level = %s",
            [Era.POST_2025, UnitLevel.COMMUNE],
        )
        (area_m2,) = cursor.fetchone()
    blocks = max(parcels / PARCELS_PER_BLOCK * safety, 1.0)
    return math.sqrt(area_m2 / blocks)


def _parcel_size_deg() -> tuple[float, float]:
    """Width and height of a parcel in degrees (the province is small enough
    for one scale taken at REFERENCE_LAT)."""
    dx = PARCEL_WIDTH_M / (METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(REFERENCE_LAT)))
    dy = PARCEL_HEIGHT_M / METRES_PER_DEGREE_LAT
    return dx, dy


def _parcel_blocks(*, spacing_m: float) -> int:
    """Blocks on a lattice over the province that lie wholly inside one commune
    (so every parcel does), into a temporary table; returns how many."""
    dx, dy = _parcel_size_deg()
    step_x = spacing_m / (METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(REFERENCE_LAT)))
    step_y = spacing_m / METRES_PER_DEGREE_LAT
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS demo_parcel_blocks")
        cursor.execute(
            """
            CREATE TEMP TABLE demo_parcel_blocks ON COMMIT DROP AS
            WITH ext AS (
                SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0
                FROM (SELECT ST_Extent(geom)::geometry AS e FROM layers_administrativeunit
                      WHERE era = %(era)s AND level = %(level)s) s
            ),
            communes AS (
                SELECT code, full_name, geom, x0, y0,
                       floor((ST_XMin(geom) - x0) / %(sx)s)::int AS i0, ceil((ST_XMax(geom) - x0) / %(sx)s)::int AS i1,
                       floor((ST_YMin(geom) - y0) / %(sy)s)::int AS j0, ceil((ST_YMax(geom) - y0) / %(sy)s)::int AS j1
                FROM layers_administrativeunit, ext WHERE era = %(era)s AND level = %(level)s
            ),
            -- One lattice for the province, walked commune by commune: each
            -- ST_Contains then tests against the same polygon, which PostGIS
            -- prepares once (ten times faster than a join ordered by block).
            blocks AS (
                SELECT u.code, u.full_name, l.i, l.j, l.env
                FROM communes u
                CROSS JOIN LATERAL (
                    SELECT i, j, ST_MakeEnvelope(u.x0 + i * %(sx)s, u.y0 + j * %(sy)s,
                                                 u.x0 + i * %(sx)s + %(bw)s, u.y0 + j * %(sy)s + %(bh)s, 4326) AS env
                    FROM generate_series(u.i0, u.i1) i, generate_series(u.j0, u.j1) j
                ) l
                WHERE ST_Contains(u.geom, l.env)
            )
            SELECT i, j, env, code AS commune_code, full_name LIKE 'Phường %%' AS urban,
                   row_number() OVER (PARTITION BY code ORDER BY j DESC, i) AS block_no
            FROM blocks
            """,
            {
                "era": Era.POST_2025,
                "level": UnitLevel.COMMUNE,
                "sx": step_x,
                "sy": step_y,
                "bw": dx * BLOCK_COLUMNS,
                "bh": dy * BLOCK_ROWS,
            },
        )
        cursor.execute("SELECT count(*) FROM demo_parcel_blocks")
        return cursor.fetchone()[0]


@transaction.atomic
def demo_parcels_load(*, agencies: dict, parcels: int) -> DemoLayerReport:
    """`parcels` rectangles of 60 x 40 m, in blocks of 12 on a lattice, every
    one inside a commune of 2025; numbered per commune by map sheet; area
    computed on the ellipsoid (geography)."""

    def insert(cursor: CursorWrapper, layer: Layer) -> None:
        safety = 1.15
        for _ in range(6):  # the lattice loses blocks on commune borders: densify until enough
            blocks = _parcel_blocks(spacing_m=_lattice_spacing_m(parcels=parcels, safety=safety))
            if blocks * PARCELS_PER_BLOCK >= parcels:
                break
            safety *= 1.3 * parcels / max(blocks * PARCELS_PER_BLOCK, 1)
        dx, dy = _parcel_size_deg()
        cursor.execute(
            f"""
            WITH cells AS (
                SELECT b.commune_code, b.urban, (b.block_no - 1) / {BLOCKS_PER_SHEET} + 1 AS sheet_no,
                       b.block_no, k,
                       ST_MakeEnvelope(ST_XMin(b.env) + (k %% {BLOCK_COLUMNS}) * %(dx)s,
                                       ST_YMin(b.env) + (k / {BLOCK_COLUMNS}) * %(dy)s,
                                       ST_XMin(b.env) + (k %% {BLOCK_COLUMNS} + 1) * %(dx)s,
                                       ST_YMin(b.env) + (k / {BLOCK_COLUMNS} + 1) * %(dy)s, 4326) AS geom,
                       -- most of a block shares one use, a few parcels differ
                       CASE WHEN (b.i * 31 + b.j * 17 + k * 7) %% 5 = 0
                            THEN (b.i * 7919 + b.j * 104729 + k * 31337) %% 100
                            ELSE (b.i * 7919 + b.j * 104729) %% 100 END AS bucket,
                       row_number() OVER (ORDER BY b.commune_code, b.block_no, k) AS n
                FROM demo_parcel_blocks b CROSS JOIN generate_series(0, {PARCELS_PER_BLOCK - 1}) k
            ),
            kept AS (
                SELECT c.*, {_land_use_sql()} AS use_code FROM cells c WHERE n <= %(parcels)s
            )
            INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
            SELECT %(layer)s, geom,
                   jsonb_build_object(
                       'parcel_no', row_number() OVER (PARTITION BY commune_code, sheet_no ORDER BY block_no, k),
                       'sheet_no', sheet_no,
                       'area_m2', round(ST_Area(geom::geography)::numeric, 1),
                       'land_use', CASE WHEN urban AND use_code = 'ONT' THEN 'ODT' ELSE use_code END,
                       'commune_code', commune_code
                   ),
                   now(), now()
            FROM kept
            ORDER BY n
            """,
            {"dx": dx, "dy": dy, "parcels": parcels, "layer": layer.pk},
        )
        # Fresh statistics: the planner otherwise takes the new rows for a
        # handful and picks the wrong index for bbox pages (until autovacuum).
        cursor.execute("ANALYZE layers_feature")

    return _layer_reload(
        note="demo lattice",
        insert=insert,
        slug="land-parcels",
        title="Thửa đất (dữ liệu mẫu) / Land parcels (demo data)",
        description="Thửa đất sinh ra theo lưới, không phải bản đồ địa chính thật; dùng để thử tải lớn. "
        "Generated on a lattice, not a real cadastre: there to make size problems show.",
        owner=agencies["so-nnmt"],
        geometry_type=GeometryType.POLYGON,
        schema=PARCEL_SCHEMA,
        visibility=Visibility.INTERNAL,
        attribution="Dữ liệu mẫu / demo data",
        is_demo=True,
    )


# --- construction permits (generated) --------------------------------------------

PERMIT_SCHEMA = [
    _field("permit_no", "string", filterable=True, title="Số giấy phép / Permit number"),
    _field("kind", "string", filterable=True, title="Loại / Kind"),
    _field("floors", "integer", title="Số tầng / Floors"),
    _field("floor_area_m2", "number", title="Tổng diện tích sàn (m²) / Floor area"),
    _field("issued_on", "date", filterable=True, title="Ngày cấp / Issued on"),
    _field("commune_code", "string", filterable=True, title="Mã xã / Commune code"),
]

PERMITS_SQL = """
WITH placed AS (
    SELECT u.code, u.code::int AS n, d.path[1] AS k, d.geom
    FROM layers_administrativeunit u,
         LATERAL ST_Dump(ST_GeneratePoints(u.geom, 3, u.code::int + 7)) d
    WHERE u.era = %(era)s AND u.level = %(level)s
)
INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
SELECT %(layer)s, p.geom,
       jsonb_build_object(
           'permit_no', lpad(((p.n * 3 + p.k) %% 10000)::text, 4, '0') || '/GPXD-' || p.code,
           'kind', (ARRAY['Xây mới / new', 'Sửa chữa / renovation', 'Cải tạo / conversion'])[p.k],
           'floors', 1 + (p.n + p.k * 5) %% 6,
           'floor_area_m2', 80 + (p.n * 13 + p.k * 29) %% 900,
           'issued_on', to_char(DATE '2022-01-01' + (p.n * 53 + p.k * 311) %% 1400, 'YYYY-MM-DD'),
           'commune_code', p.code
       ),
       now(), now()
FROM placed p
ORDER BY p.code, p.k
"""


@transaction.atomic
def demo_permits_load(*, agencies: dict) -> DemoLayerReport:
    """Three permits per commune, issued 2022-2025; visible to the
    construction department only."""
    return _layer_reload(
        note="demo rule",
        insert=_insert_per_commune(PERMITS_SQL),
        slug="construction-permits",
        title="Giấy phép xây dựng (dữ liệu mẫu) / Construction permits (demo data)",
        description="Chỉ Sở Xây dựng xem được. Visible to the Department of Construction only.",
        owner=agencies["so-xd"],
        geometry_type=GeometryType.POINT,
        schema=PERMIT_SCHEMA,
        visibility=Visibility.DEPARTMENT,
        time_field="issued_on",
        attribution="Dữ liệu mẫu / demo data",
        is_demo=True,
    )


DEMO_LAYER_STEPS = 4  # for the progress bar


def demo_registries_load(*, parcels: int | None = None, progress: Progress = _no_progress) -> list[DemoLayerReport]:
    """Load the four demo registries, each in its own transaction. Idempotent."""
    agencies = demo_agencies_ensure()
    reports = []
    for load in (demo_hospitals_load, demo_schools_load, demo_permits_load):
        reports.append(load(agencies=agencies))
        progress(1)
    reports.append(demo_parcels_load(agencies=agencies, parcels=parcels or demo_parcel_count()))
    progress(1)
    return reports
