"""The one-stop structure the demo needs beyond the spatial data: a
people's committee per 2025 commune (real: every commune has one), the
procedure catalogue, and demo officials of every role (DEBUG only)."""

from django.conf import settings
from django.db import transaction

from gisportal.accounts.models import Agency, Role
from gisportal.accounts.services import agency_upsert, user_ensure
from gisportal.demo import DemoAccount, demo_password
from layers.models import AdministrativeUnit, ServicePoint

DEMO_COMMUNE_CODE = "09187"  # Phường Kinh Bắc: the demo commune desk and post office

# username, role, agency code, service point code, what they do
DEMO_OFFICIALS = [
    (
        "motcua",
        Role.DESK_OFFICER,
        "ttpvhcc",
        "CENTRE-MAIN",
        "cán bộ một cửa, Trung tâm PVHCC tỉnh / provincial centre desk",
    ),
    (
        "motcuaxa",
        Role.DESK_OFFICER,
        f"ubnd-{DEMO_COMMUNE_CODE}",
        f"DESK-{DEMO_COMMUNE_CODE}",
        "cán bộ một cửa phường Kinh Bắc / commune desk officer",
    ),
    (
        "buudien",
        Role.DESK_OFFICER,
        "buu-dien",
        f"POST-{DEMO_COMMUNE_CODE}",
        "nhân viên bưu điện Kinh Bắc / post-office clerk",
    ),
    ("tuphap", Role.PROCESSING_OFFICER, "so-tp", None, "chuyên viên Sở Tư pháp / processing officer, justice"),
    ("lanhdao", Role.LEADER, "so-tp", None, "lãnh đạo Sở Tư pháp / leader, justice"),
    (
        "xuly-xa",
        Role.PROCESSING_OFFICER,
        f"ubnd-{DEMO_COMMUNE_CODE}",
        None,
        "công chức UBND phường Kinh Bắc / commune officer",
    ),
    ("lanhdao-xa", Role.LEADER, f"ubnd-{DEMO_COMMUNE_CODE}", None, "chủ tịch UBND phường Kinh Bắc / commune leader"),
]


@transaction.atomic
def commune_committees_ensure() -> int:
    communes = AdministrativeUnit.objects.filter(era="2025", level="commune").only("code", "full_name")
    for unit in communes:
        agency_upsert(
            code=f"ubnd-{unit.code}",
            name=f"Ủy ban nhân dân {unit.full_name}",
            kind=Agency.Kind.PEOPLES_COMMITTEE,
            sector="general",
            admin_unit_code=unit.code,
        )
    return len(communes)


@transaction.atomic
def demo_officials_ensure() -> list[DemoAccount]:
    if not settings.DEBUG:
        return []
    password = demo_password()
    accounts = []
    for username, role, agency_code, point_code, label in DEMO_OFFICIALS:
        agency = Agency.objects.get(code=agency_code)
        point = ServicePoint.objects.get(code=point_code) if point_code else None
        user_ensure(username=username, password=password, role=role, agency=agency, service_point=point)
        accounts.append(DemoAccount(username=username, role=label, password=password))
    return accounts
