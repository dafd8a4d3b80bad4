"""The operations tests/test_citus.py runs once on a Citus coordinator and once
on one PostgreSQL (same inputs, a database with the Bắc Ninh demo loaded):
a second, synthetic province (Bắc Ninh's units and its provincial centre
copied and shifted under code 99), dossiers submitted and processed in both
through the portal's services, then the answers read back: lookups by code,
officials' worklists, indicators and density. Prints one JSON object.

    DATABASE_URL=... [DATABASE_DISTRIBUTION=citus] python -m tests.citus_scenario
"""

import datetime as dt
import json
import os
import sys

SECOND_PROVINCE = "99"
SECOND_POINT = "CENTRE-99"
SECOND_DESK_OFFICER = "motcua99"
SHIFT_DEG = 3.0  # the copy lies 3 degrees east of Bắc Ninh
# Applicants' homes (lon, lat), in Bắc Ninh for both provinces: the
# density map covers the province's cells.
HOMES = [(106.0763, 21.1861), (106.0590, 21.1780), (106.1200, 21.0500)]
PASSWORD = "Citus-scenario-2026"


def second_province_ensure():
    from django.db import connection

    from gisportal.accounts.models import Agency, Role
    from gisportal.accounts.services import user_ensure
    from layers.models import AdministrativeUnit, Era, ServicePoint, UnitLevel
    from layers.services import NEW_PROVINCE_CODE

    if ServicePoint.objects.filter(code=SECOND_POINT).exists():
        return
    home = AdministrativeUnit.objects.get(era=Era.POST_2025, level=UnitLevel.PROVINCE, code=NEW_PROVINCE_CODE)
    centre = ServicePoint.objects.get(code="CENTRE-MAIN")
    commune = AdministrativeUnit.objects.get(pk=centre.admin_unit_id)
    with connection.cursor() as cursor:
        # Copies with ST_Translate: one statement per row, reference tables in the Citus mode.
        cursor.execute(
            """INSERT INTO layers_administrativeunit (code, era, level, name, full_name, name_en, parent_id,
                   population, geom, geom_simplified)
               SELECT %s, era, level, name || ' (99)', full_name || ' (99)', name_en, NULL, population,
                      ST_Translate(geom, %s, 0), ST_Translate(geom_simplified, %s, 0)
               FROM layers_administrativeunit WHERE id = %s RETURNING id""",
            [SECOND_PROVINCE, SHIFT_DEG, SHIFT_DEG, home.pk],
        )
        (province_id,) = cursor.fetchone()
        cursor.execute(
            """INSERT INTO layers_administrativeunit (code, era, level, name, full_name, name_en, parent_id,
                   population, geom, geom_simplified)
               SELECT '99' || code, era, level, name, full_name, name_en, %s, population,
                      ST_Translate(geom, %s, 0), ST_Translate(geom_simplified, %s, 0)
               FROM layers_administrativeunit WHERE id = %s RETURNING id""",
            [province_id, SHIFT_DEG, SHIFT_DEG, commune.pk],
        )
        (commune_id,) = cursor.fetchone()
        cursor.execute(
            """INSERT INTO layers_servicepoint (code, kind, name, address, geom, opening_hours, counters, phone,
                   receiving_unit_identifier, admin_unit_id, is_demo, is_active, updated_at)
               SELECT %s, kind, name || ' (99)', address, ST_Translate(geom, %s, 0), opening_hours, counters,
                      phone, '000.00.99.H99', %s, is_demo, is_active, now()
               FROM layers_servicepoint WHERE id = %s""",
            [SECOND_POINT, SHIFT_DEG, commune_id, centre.pk],
        )
    point = ServicePoint.objects.get(code=SECOND_POINT)
    user_ensure(
        username=SECOND_DESK_OFFICER,
        password=PASSWORD,
        role=Role.DESK_OFFICER,
        agency=Agency.objects.get(code="ttpvhcc"),
        service_point=point,
    )


def submit_and_process() -> list[str]:
    from django.contrib.auth import get_user_model

    from dossiers.models import Channel, Procedure
    from dossiers.services import Submission, dossier_submit, dossier_transition

    names = ["motcua", SECOND_DESK_OFFICER, "tuphap", "lanhdao"]
    users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    procedure = (
        Procedure.objects.filter(is_active=True, level="province", agency__code="so-tp", components__isnull=True)
        .order_by("code")
        .first()
    )
    codes = []
    for desk in ("motcua", SECOND_DESK_OFFICER):
        province_codes = []
        for i, (lon, lat) in enumerate(HOMES):
            dossier, _ = dossier_submit(
                submission=Submission(
                    procedure_code=procedure.code,
                    applicant_name=f"Nguyễn Văn Thử {i}",
                    applicant_id_number=f"02709000{i:04d}",
                    applicant_address="Số 1 đường Lý Thái Tổ, tỉnh Bắc Ninh",
                    channel=Channel.IN_PERSON,
                    lon=lon,
                    lat=lat,
                ),
                acting_user=users[desk],
            )
            province_codes.append(dossier.code)
        # Two handed to the agency; one of them started and refused (finished).
        for code in province_codes[:2]:
            dossier_transition(code=code, action="assign", acting_user=users[desk])
        dossier_transition(code=province_codes[0], action="start", acting_user=users["tuphap"])
        dossier_transition(
            code=province_codes[0], action="refuse", acting_user=users["lanhdao"], note="Không đủ điều kiện (thử)"
        )
        codes += province_codes
    return codes


def answers(codes: list[str]) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from dossiers.selectors import dossier_get_for_user, worklist
    from dossiers.stats_selectors import dossier_indicators
    from maps.density import DensityFilters, density_h3_counts

    names = ["motcua", SECOND_DESK_OFFICER, "tuphap"]
    users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    lookups = {}
    for code in codes:
        for username in ("motcua", SECOND_DESK_OFFICER, "tuphap"):
            try:
                dossier = dossier_get_for_user(user=users[username], code=code)
            except Exception as error:  # noqa: BLE001 - the answer is the kind of refusal
                lookups[f"{code} {username}"] = type(error).__name__
                continue
            lookups[f"{code} {username}"] = [dossier.status, dossier.agency.code, dossier.receiving_point.code]
    worklists = {name: [d.code for d in worklist(user=users[name])] for name in users}
    today = timezone.localdate()
    period = {"date_from": today - dt.timedelta(days=1), "date_to": today + dt.timedelta(days=1)}
    indicators = {g: dossier_indicators(group_by=g, **period) for g in ("none", "service_point", "channel")}
    density = density_h3_counts(filters=DensityFilters(**period), res=8)
    return {
        "codes": codes,
        "lookups": lookups,
        "worklists": worklists,
        "indicators": json.loads(json.dumps(indicators, default=str)),
        "density": {str(cell): count for cell, count in sorted(density.items())},
    }


def routing(codes: list[str]) -> dict:
    """EXPLAIN of a province-scoped lookup (what the selector sends) and of a
    national indicator read, in the Citus mode."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from dossiers.models import DailyStat, Dossier
    from dossiers.provinces import code_scope
    from dossiers.selectors import worklist

    code = codes[-1]
    scoped = Dossier.objects.filter(code=code, **code_scope(code)).explain()
    desk = get_user_model().objects.get(username=SECOND_DESK_OFFICER)
    desk_worklist = worklist(user=desk).explain()
    national = DailyStat.objects.filter(dimension="all").values("day").order_by("day").explain()
    with connection.cursor() as cursor:
        cursor.execute("SELECT province_code, count(*) FROM dossiers_dossier GROUP BY 1 ORDER BY 1")
        by_province = dict(cursor.fetchall())
    return {
        "scoped_lookup": scoped,
        "desk_worklist": desk_worklist,
        "national": national,
        "dossiers_by_province": by_province,
    }


def main() -> None:
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisportal.settings.dev")
    import django

    django.setup()
    from dossiers.provinces import distributed

    second_province_ensure()
    codes = submit_and_process()
    result = {"answers": answers(codes)}
    if distributed():
        result["routing"] = routing(codes)
    print(json.dumps(result, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
