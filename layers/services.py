"""Writes of the spatial foundation: loading units, placing and importing
service points. Every function runs in one transaction: all or nothing."""

import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import connection, transaction

from .models import AdministrativeUnit, Era, ServicePoint, ServicePointKind, UnitLevel, UnitSuccession

DATA_DIR = Path(settings.BASE_DIR) / "data" / "bacninh"
REFORM_DAY = dt.date(2025, 7, 1)
LAST_DAY_BEFORE_REFORM = dt.date(2025, 6, 30)
OLD_PROVINCE_CODE = "27"
NEW_PROVINCE_CODE = "24"
SIMPLIFY_TOLERANCE_DEG = 0.0005  # about 50 m

Progress = Callable[[int], None]


def _no_progress(_: int) -> None:
    return None


def _multipolygon(geometry: dict) -> MultiPolygon:
    geom = GEOSGeometry(json.dumps(geometry), srid=4326)
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon(geom, srid=4326)


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _read_geojson(name: str) -> list[dict]:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)["features"]


def _upsert_unit(*, era: str, row: dict[str, str], **values) -> AdministrativeUnit:
    """Create or update the unit of this era described by a row of the official code lists."""
    unit, _ = AdministrativeUnit.objects.update_or_create(
        era=era,
        code=row["code"],
        defaults={
            "level": row["level"],
            "name": row["name"],
            "full_name": row["full_name"],
            "name_en": row["full_name_en"],
            **values,
        },
    )
    return unit


def _dissolve(parent: AdministrativeUnit) -> None:
    """A parent's outline is the union of its children's, its population their sum."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE layers_administrativeunit p
            SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(s.outline), 3)),
                population = s.population, population_year = s.population_year
            FROM (
                SELECT ST_Union(c.geom) AS outline,
                       CASE WHEN bool_and(c.population IS NOT NULL) THEN sum(c.population) END AS population,
                       CASE WHEN bool_and(c.population IS NOT NULL) THEN max(c.population_year) END AS population_year
                FROM layers_administrativeunit c WHERE c.parent_id = %s
            ) s
            WHERE p.id = %s
            """,
            [parent.pk, parent.pk],
        )


UNIT_STEPS = 235  # units + successions, for the progress bar


@dataclass
class UnitLoadReport:
    units: int = 0
    successions: int = 0
    spatial_successions: list[str] = field(default_factory=list)


@transaction.atomic
def admin_units_load(*, progress: Progress = _no_progress) -> UnitLoadReport:
    """Load both eras of Bắc Ninh's units from `data/bacninh/`. Idempotent."""
    report = UnitLoadReport()
    placeholder = MultiPolygon(Point(0, 0).buffer(1e-6), srid=4326)

    # Era 2019: province 27, its 8 districts, 126 communes (census 2009 outlines).
    old_rows = _read_csv("bacninh_admin_units_2024-11_126communes.csv")
    outlines = {
        f["properties"]["gso_commune_code"]: f for f in _read_geojson("bacninh_pre2025_communes_censusVN2009.geojson")
    }
    old_common = {"valid_from": None, "valid_to": LAST_DAY_BEFORE_REFORM}
    province_row = next(r for r in old_rows if r["level"] == UnitLevel.PROVINCE)
    old_province = _upsert_unit(
        era=Era.PRE_2025,
        row=province_row,
        parent=None,
        geom=placeholder,
        **old_common,
    )
    districts: dict[str, AdministrativeUnit] = {}
    for row in (r for r in old_rows if r["level"] == UnitLevel.DISTRICT):
        districts[row["code"]] = _upsert_unit(
            era=Era.PRE_2025,
            row=row,
            parent=old_province,
            geom=placeholder,
            **old_common,
        )
    for row in (r for r in old_rows if r["level"] == UnitLevel.COMMUNE):
        outline = outlines[row["code"]]
        _upsert_unit(
            era=Era.PRE_2025,
            row=row,
            parent=districts[row["parent_code"]],
            geom=_multipolygon(outline["geometry"]),
            population=outline["properties"]["population_2009"],
            population_year=2009,
            **old_common,
        )
        report.units += 1
        progress(1)
    for district in districts.values():
        _dissolve(district)
        report.units += 1
        progress(1)
    _dissolve(old_province)
    report.units += 1

    # Era 2025: the merged province 24 and its 99 communes and wards.
    new_rows = _read_csv("bacninh_post2025_admin_units.csv")
    new_common = {"valid_from": REFORM_DAY, "valid_to": None}
    new_province_row = next(r for r in new_rows if r["level"] == UnitLevel.PROVINCE)
    new_province = _upsert_unit(
        era=Era.POST_2025,
        row=new_province_row,
        parent=None,
        geom=_multipolygon(_read_geojson("bacninh_post2025_province.geojson")[0]["geometry"]),
        **new_common,
    )
    report.units += 1
    new_outlines = {f["properties"]["code"]: f for f in _read_geojson("bacninh_post2025_wards.geojson")}
    for row in (r for r in new_rows if r["level"] == UnitLevel.COMMUNE):
        _upsert_unit(
            era=Era.POST_2025,
            row=row,
            parent=new_province,
            geom=_multipolygon(new_outlines[row["code"]]["geometry"]),
            **new_common,
        )
        report.units += 1
        progress(1)

    _load_successions(report, old_province=old_province, new_province=new_province)
    progress(UNIT_STEPS - report.units)  # the rest of the bar: successions and simplification

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE layers_administrativeunit SET geom_simplified = "
            "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SimplifyPreserveTopology(geom, %s)), 3))",
            [SIMPLIFY_TOLERANCE_DEG],
        )
    return report


def _load_successions(
    report: UnitLoadReport, *, old_province: AdministrativeUnit, new_province: AdministrativeUnit
) -> None:
    old_communes = {u.code: u for u in AdministrativeUnit.objects.filter(era=Era.PRE_2025, level=UnitLevel.COMMUNE)}
    new_communes = {u.code: u for u in AdministrativeUnit.objects.filter(era=Era.POST_2025, level=UnitLevel.COMMUNE)}
    links: set[tuple[int, int, str]] = {(old_province.pk, new_province.pk, UnitSuccession.Source.RESOLUTION)}
    mixed_new_codes: set[str] = set()  # new communes that also absorbed old Bắc Giang communes
    for row in _read_csv("bacninh_merger_mapping_2025.csv"):
        if row["old_province_code"] != OLD_PROVINCE_CODE:
            mixed_new_codes.add(row["new_commune_code"])
            continue
        old, new = old_communes.get(row["old_commune_code"]), new_communes.get(row["new_commune_code"])
        if old and new:
            links.add((old.pk, new.pk, UnitSuccession.Source.RESOLUTION))
    # Communes merged on 1 Mar 2025 are missing from the mapping: the new unit
    # holding the old commune's representative point is its successor.
    linked = {old_pk for old_pk, _, _ in links}
    for old in old_communes.values():
        if old.pk in linked:
            continue
        new = AdministrativeUnit.objects.filter(
            era=Era.POST_2025, level=UnitLevel.COMMUNE, geom__intersects=old.geom.point_on_surface
        ).first()
        if new:
            links.add((old.pk, new.pk, UnitSuccession.Source.SPATIAL))
            report.spatial_successions.append(old.code)

    UnitSuccession.objects.filter(predecessor__era=Era.PRE_2025).delete()
    UnitSuccession.objects.bulk_create(
        UnitSuccession(predecessor_id=a, successor_id=b, effective_on=REFORM_DAY, source=s) for a, b, s in sorted(links)
    )
    report.successions = len(links)

    # A new commune made only of old Bắc Ninh communes gets their summed 2009
    # census population; where old Bắc Giang communes joined it stays unknown.
    for new in new_communes.values():
        parts = [old for old in new.predecessors.all() if old.population is not None]
        known = bool(parts) and new.code not in mixed_new_codes
        new.population = sum(p.population for p in parts) if known else None
        new.population_year = 2009 if known else None
        new.save(update_fields=["population", "population_year"])


# --- service points ------------------------------------------------------------

DESK_HOURS = "Mo-Fr 07:30-11:30,13:30-17:00"
CENTRE_HOURS = "Mo-Fr 07:30-11:30,13:30-17:00; Sa 07:30-11:30"
POST_HOURS = "Mo-Su 07:00-19:00"
# Rule: the post office stands about 400 m east and 330 m north of the desk,
# or at the nearest point of the commune to that spot.
POST_OFFSET_DEG = (0.004, 0.003)


@transaction.atomic
def demo_service_points_place(*, progress: Progress = _no_progress) -> int:
    """Place the demo service points by a fixed rule. Idempotent.

    No open data exists for them: a commune desk at the representative point
    (ST_PointOnSurface) of each 2025 commune, a post office offset from it,
    and the provincial centre in Bắc Giang ward with a branch in Kinh Bắc
    ward. All flagged `is_demo`.
    """
    communes = list(AdministrativeUnit.objects.filter(era=Era.POST_2025, level=UnitLevel.COMMUNE).order_by("code"))
    count = 0
    for index, commune in enumerate(communes, start=1):
        desk_point = commune.geom.point_on_surface
        post_point = _nearest_point_inside(
            commune, desk_point.x + POST_OFFSET_DEG[0], desk_point.y + POST_OFFSET_DEG[1]
        )
        place = f"{commune.full_name}, tỉnh Bắc Ninh"
        ServicePoint.objects.update_or_create(
            code=f"DESK-{commune.code}",
            defaults={
                "kind": ServicePointKind.COMMUNE_DESK,
                "name": f"Trung tâm Phục vụ hành chính công {commune.full_name}",
                "address": f"Trụ sở UBND {place}",
                "geom": desk_point,
                "opening_hours": DESK_HOURS,
                "counters": 3,
                "receiving_unit_identifier": f"000.{20 + index // 100:02d}.{index % 100:02d}.H04",
                "admin_unit": commune,
                "is_demo": True,
            },
        )
        ServicePoint.objects.update_or_create(
            code=f"POST-{commune.code}",
            defaults={
                "kind": ServicePointKind.POST_OFFICE,
                "name": f"Bưu điện {commune.full_name}",
                "address": f"Bưu điện văn hoá {place}",
                "geom": post_point,
                "opening_hours": POST_HOURS,
                "counters": 2,
                "receiving_unit_identifier": f"000.{60 + index // 100:02d}.{index % 100:02d}.H04",
                "admin_unit": commune,
                "is_demo": True,
            },
        )
        count += 2
        progress(1)
    for code, ward_code, name, identifier in (
        ("CENTRE-MAIN", "07210", "Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh", "000.00.13.H04"),
        ("CENTRE-KINHBAC", "09187", "Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh - Cơ sở 2", "000.00.14.H04"),
    ):
        ward = next((c for c in communes if c.code == ward_code), None)
        if ward is None:
            continue
        anchor = ward.geom.point_on_surface
        ServicePoint.objects.update_or_create(
            code=code,
            defaults={
                "kind": ServicePointKind.PROVINCIAL_CENTRE,
                "name": name,
                "address": f"{ward.full_name}, tỉnh Bắc Ninh",
                "geom": _nearest_point_inside(ward, anchor.x - 0.002, anchor.y),
                "opening_hours": CENTRE_HOURS,
                "counters": 30,
                "receiving_unit_identifier": identifier,
                "admin_unit": ward,
                "is_demo": True,
            },
        )
        count += 1
    return count


def _nearest_point_inside(unit: AdministrativeUnit, lon: float, lat: float) -> Point:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_AsEWKB(ST_ClosestPoint(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))) "
            "FROM layers_administrativeunit WHERE id = %s",
            [lon, lat, unit.pk],
        )
        return GEOSGeometry(memoryview(bytes(cursor.fetchone()[0])))


# --- import of real service points ---------------------------------------------

IMPORT_FIELDS = ("code", "kind", "name", "address", "opening_hours", "counters", "phone", "receiving_unit_identifier")


class ServicePointImportError(Exception):
    """The file is refused as a whole; `errors` lists row-level problems."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:5]))
        self.errors = errors


def _rows_from_file(path: Path) -> list[tuple[int, dict]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return list(enumerate(csv.DictReader(handle), start=2))
        if suffix in {".geojson", ".json"}:
            with path.open(encoding="utf-8") as handle:
                features = json.load(handle).get("features", [])
            return [(number, _point_feature_row(feature)) for number, feature in enumerate(features, start=1)]
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error, AttributeError) as error:
        raise ServicePointImportError([f"Tệp hỏng / broken file: {error}"]) from error
    raise ServicePointImportError([f"Định dạng không hỗ trợ / unsupported format: {suffix} (use .csv or .geojson)"])


def _point_feature_row(feature: dict) -> dict:
    row = dict(feature.get("properties") or {})
    geometry = feature.get("geometry") or {}
    if geometry.get("type") == "Point":
        row["lon"], row["lat"] = (geometry.get("coordinates") or [None, None])[:2]
    return row


@transaction.atomic
def service_points_import(*, path: Path, progress: Progress = _no_progress) -> int:
    """Create or update service points from CSV (lon, lat columns) or GeoJSON
    points, keyed by `code`. Any bad row refuses the whole file."""
    province = AdministrativeUnit.objects.filter(
        era=Era.POST_2025, level=UnitLevel.PROVINCE, code=NEW_PROVINCE_CODE
    ).first()
    errors: list[str] = []
    accepted: list[dict] = []
    for number, row in _rows_from_file(path):
        problems = []
        code = str(row.get("code") or "").strip()
        if not code:
            problems.append("code: thiếu / missing")
        if row.get("kind") not in ServicePointKind.values:
            problems.append(f"kind: phải là một trong / must be one of {', '.join(ServicePointKind.values)}")
        if not str(row.get("name") or "").strip():
            problems.append("name: thiếu / missing")
        try:
            lon, lat = float(row.get("lon")), float(row.get("lat"))  # type: ignore[arg-type]
            point = Point(lon, lat, srid=4326)
            if province and not province.geom.buffer(0.05).contains(point):
                problems.append("lon/lat: ngoài tỉnh / outside the province")
        except (TypeError, ValueError):
            problems.append("lon/lat: phải là số / must be numbers")
            point = None
        try:
            counters = int(row.get("counters") or 1)
            if counters < 1:
                raise ValueError
        except (TypeError, ValueError):
            problems.append("counters: số nguyên ≥ 1 / integer ≥ 1")
            counters = 1
        if problems:
            errors.append(f"row {number}: " + "; ".join(problems))
            continue
        values = {name: str(row.get(name) or "").strip() for name in IMPORT_FIELDS}
        values.update(counters=counters, geom=point)
        accepted.append(values)
    if errors:
        raise ServicePointImportError(errors)
    for values in accepted:
        code = values.pop("code")
        admin_unit = AdministrativeUnit.objects.filter(
            era=Era.POST_2025, level=UnitLevel.COMMUNE, geom__intersects=values["geom"]
        ).first()
        ServicePoint.objects.update_or_create(
            code=code, defaults={**values, "admin_unit": admin_unit, "is_demo": False}
        )
        progress(1)
    return len(accepted)
