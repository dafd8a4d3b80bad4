"""The one-stop structure the demo needs beyond the spatial data: a
people's committee per 2025 commune (real: every commune has one), the
procedure catalogue, demo officials of every role (DEBUG only), and a few
online dossiers of the demo citizen waiting for the desks to receive them
(DEBUG only), so the desks' "waiting for receipt" queue is not empty."""

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


DEMO_CITIZEN = "congdan"
DEMO_CITIZEN_ID = "027095000001"
# (service point, procedure level): online dossiers of the demo citizen left waiting for receipt.
DEMO_WAITING = [("CENTRE-MAIN", "province"), ("CENTRE-MAIN", "province"), (f"DESK-{DEMO_COMMUNE_CODE}", "commune")]


def demo_waiting_dossiers_ensure() -> int:
    """Submits, through the service, the online dossiers of DEMO_WAITING the
    demo citizen does not already have waiting (safe to run again); returns
    how many wait. DEBUG only; nothing without the demo citizen."""
    from django.contrib.auth import get_user_model

    from gisportal.accounts.models import Profile

    from .models import Channel, Dossier, Procedure, Status
    from .services import Submission, dossier_submit

    citizen = get_user_model().objects.filter(username=DEMO_CITIZEN).first()
    if not settings.DEBUG or citizen is None:
        return 0
    profile = Profile.objects.get(user=citizen)
    if not profile.id_number:
        Profile.objects.filter(pk=profile.pk).update(id_number=DEMO_CITIZEN_ID)
    waiting = Dossier.objects.filter(applicant=citizen, status=Status.WAITING_RECEIPT, is_demo=False)
    have = list(waiting.values_list("receiving_point__code", flat=True))
    for point_code, level in DEMO_WAITING:
        if point_code in have:
            have.remove(point_code)
            continue
        # A procedure without dossier components: a demo submission carries no files.
        procedure = (
            Procedure.objects.filter(is_active=True, level=level, components__isnull=True).order_by("code").first()
        )
        if procedure is None or not ServicePoint.objects.filter(code=point_code).exists():
            continue
        dossier_submit(
            submission=Submission(
                procedure_code=procedure.code,
                applicant_name=profile.full_name or "Nguyễn Văn Dân",
                applicant_id_number=profile.id_number or DEMO_CITIZEN_ID,
                applicant_address="Số 10 đường Kinh Dương Vương, phường Kinh Bắc, tỉnh Bắc Ninh",
                channel=Channel.ONLINE,
                receiving_point_code=point_code,
                note="Hồ sơ mẫu nộp trực tuyến, chờ tiếp nhận (demo)",
            ),
            acting_user=citizen,
        )
    return waiting.count()
