"""Shared fixtures of the dossier tests: a small catalogue of our own (codes
9.9xxxxx, so they never meet the demo catalogue), a user of every role and
office, and helpers that submit a dossier and drive it to any state.

Everything is created through the ORM inside each test's transaction, on top
of the demo data the root conftest loads once (service points CENTRE-MAIN,
CENTRE-KINHBAC, the commune desks and post offices, the demo agencies)."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from gisportal.accounts.models import Agency, Profile, Role
from gisportal.accounts.services import user_ensure
from layers.models import ServicePoint, ServicePointKind

STRONG_PASSWORD = "x-Strong-pass-1"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")

# Valid citizen IDs (12 digits, 027 = Bắc Ninh): distinctive strings, so a
# test can look for them in logs and URLs.
CITIZEN_A_ID = "027095001234"
CITIZEN_B_ID = "001188765432"
WALK_IN_ID = "027301998877"


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """An aware moment in the province's time zone."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=HCM)


@dataclass
class Catalogue:
    sector: object
    main: object  # province level, so-tp, 3 working days, post allowed both ways
    commune: object  # commune level, so-tp, 2 working days
    no_post: object  # so-tp, 5 days, result may not go by post


@dataclass
class Points:
    centre: ServicePoint  # CENTRE-MAIN, 000.00.13.H04
    centre_2: ServicePoint  # CENTRE-KINHBAC, 000.00.14.H04
    desk: ServicePoint  # a commune desk in another commune than CENTRE-MAIN
    post: ServicePoint  # the post office of that commune


@dataclass
class People:
    citizen_a: object
    citizen_b: object
    desk_main: object  # desk officer at CENTRE-MAIN (ttpvhcc)
    desk_commune: object  # desk officer at the commune desk (its people's committee)
    post_clerk: object  # desk officer at the post office (buu-dien)
    processor: object  # processing officer of so-tp
    leader: object  # leader of so-tp
    processor_other: object  # processing officer of so-y-te
    leader_other: object  # leader of so-y-te
    processor_commune: object  # processing officer of the commune desk's people's committee
    leader_commune: object  # its leader
    administrator: object

    def by_role(self, dossier=None) -> dict[str, object]:
        """The user who acts in each role on a dossier received at CENTRE-MAIN
        for a so-tp procedure (the "right official" of each role). Processing
        officers and leaders act only for the agency handling the dossier:
        once `dossier` is with so-y-te (transferred there) or the commune's
        people's committee (a commune-level procedure), theirs."""
        agency = dossier.agency.code if dossier is not None else "so-tp"
        processor, leader = {
            TRANSFER_AGENCY: (self.processor_other, self.leader_other),
            COMMITTEE: (self.processor_commune, self.leader_commune),
        }.get(agency, (self.processor, self.leader))
        return {
            Role.CITIZEN: self.citizen_a,
            Role.DESK_OFFICER: self.desk_main,
            Role.PROCESSING_OFFICER: processor,
            Role.LEADER: leader,
            Role.ADMINISTRATOR: self.administrator,
        }


@pytest.fixture
def catalogue(db) -> Catalogue:
    from dossiers.models import Procedure, Sector

    so_tp = Agency.objects.get(code="so-tp")
    sector = Sector.objects.create(code="h4-test-sector", name="Lĩnh vực thử nghiệm", name_en="Test sector")
    common = {"sector": sector, "agency": so_tp, "online_level": "full", "fee_vnd": 0}
    return Catalogue(
        sector=sector,
        main=Procedure.objects.create(
            code="9.900001", name="Cấp phiếu lý lịch tư pháp (thử)", level="province", processing_days=3, **common
        ),
        commune=Procedure.objects.create(
            code="9.900002", name="Đăng ký khai sinh (thử)", level="commune", processing_days=2, **common
        ),
        no_post=Procedure.objects.create(
            code="9.900003",
            name="Thủ tục không trả qua bưu chính (thử)",
            level="province",
            processing_days=5,
            postal_result_allowed=False,
            **common,
        ),
    )


@pytest.fixture
def points(db) -> Points:
    centre = ServicePoint.objects.get(code="CENTRE-MAIN")
    desk = (
        ServicePoint.objects.filter(kind=ServicePointKind.COMMUNE_DESK)
        .exclude(admin_unit=centre.admin_unit)
        .order_by("code")
        .first()
    )
    post = ServicePoint.objects.get(kind=ServicePointKind.POST_OFFICE, admin_unit=desk.admin_unit)
    return Points(centre=centre, centre_2=ServicePoint.objects.get(code="CENTRE-KINHBAC"), desk=desk, post=post)


def _user(username: str, role: str, *, agency: Agency | None = None, point=None, id_number: str = "", name: str = ""):
    user = user_ensure(username=username, password=STRONG_PASSWORD, role=role, agency=agency, service_point=point)
    Profile.objects.filter(user=user).update(id_number=id_number, full_name=name or username)
    user.refresh_from_db()
    return user


COMMITTEE = "h4-ubnd-test"


@pytest.fixture
def people(db, points) -> People:
    agencies = {a.code: a for a in Agency.objects.all()}
    # The commune desk works for its commune's people's committee, which the
    # demo does not create: one of our own, governing the desk's commune.
    committee = Agency.objects.create(
        code=COMMITTEE,
        name=f"UBND {points.desk.admin_unit.name} (thử)",
        kind=Agency.Kind.PEOPLES_COMMITTEE,
        admin_unit_code=points.desk.admin_unit.code,
    )
    return People(
        citizen_a=_user("h4_citizen_a", Role.CITIZEN, id_number=CITIZEN_A_ID, name="Nguyễn Văn A"),
        citizen_b=_user("h4_citizen_b", Role.CITIZEN, id_number=CITIZEN_B_ID, name="Trần Thị B"),
        desk_main=_user("h4_desk_main", Role.DESK_OFFICER, agency=agencies["ttpvhcc"], point=points.centre),
        desk_commune=_user("h4_desk_commune", Role.DESK_OFFICER, agency=committee, point=points.desk),
        post_clerk=_user("h4_post_clerk", Role.DESK_OFFICER, agency=agencies["buu-dien"], point=points.post),
        processor=_user("h4_processor_tp", Role.PROCESSING_OFFICER, agency=agencies["so-tp"]),
        leader=_user("h4_leader_tp", Role.LEADER, agency=agencies["so-tp"]),
        processor_other=_user("h4_processor_yte", Role.PROCESSING_OFFICER, agency=agencies["so-y-te"]),
        leader_other=_user("h4_leader_yte", Role.LEADER, agency=agencies["so-y-te"]),
        processor_commune=_user("h4_processor_ubnd", Role.PROCESSING_OFFICER, agency=committee),
        leader_commune=_user("h4_leader_ubnd", Role.LEADER, agency=committee),
        administrator=_user("h4_admin", Role.ADMINISTRATOR),
    )


def desk_officer_of(people: People, point) -> object:
    """A desk officer of `point` (the fixture's own where it has one)."""
    for officer in (people.desk_main, people.desk_commune, people.post_clerk):
        if officer.profile.service_point_id == point.pk:
            return officer
    return _user(f"h4_desk_{point.pk}", Role.DESK_OFFICER, agency=Agency.objects.get(code="ttpvhcc"), point=point)


@pytest.fixture
def submit(catalogue, points, people):
    """submit(user=None, received_at=None, **fields) -> Dossier, through the
    service. Defaults: citizen A online at CENTRE-MAIN for `catalogue.main`;
    a desk officer defaults to channel 1, the post-office clerk to channel 3.

    An online submission waits for receipt (issue #15): unless
    `receive=False`, a desk officer of its service point receives it at
    `received_at` (or now), so the dossier comes back `received` as tests
    written before the rule expect."""
    from dossiers.models import Status
    from dossiers.services import Submission, dossier_submit, dossier_transition

    def make(
        *,
        user=None,
        received_at: dt.datetime | None = None,
        idempotency_key: str | None = None,
        receive: bool = True,
        **fields,
    ):
        user = user or people.citizen_a
        role = user.profile.role
        default_channel = 2 if role == Role.CITIZEN else (3 if user == people.post_clerk else 1)
        values = {
            "procedure_code": catalogue.main.code,
            "applicant_name": "Nguyễn Văn A",
            "applicant_id_number": CITIZEN_A_ID,
            "applicant_address": "Số 1 đường Lý Thái Tổ, Bắc Ninh",
            "channel": default_channel,
            "receiving_point_code": points.centre.code,
            **fields,
        }
        dossier, _ = dossier_submit(
            submission=Submission(**values),
            acting_user=user,
            idempotency_key=idempotency_key,
            received_at=received_at,
        )
        if receive and dossier.status == Status.WAITING_RECEIPT:
            dossier = dossier_transition(
                code=dossier.code,
                action="receive",
                acting_user=desk_officer_of(people, dossier.receiving_point),
                at=received_at,
            )
        return dossier

    return make


@pytest.fixture
def api_payload(catalogue, points):
    """api_payload(**overrides) -> a valid JSON body for POST /api/v1/dossiers/
    (citizen A, online, CENTRE-MAIN); an override of None drops the field."""

    def make(**overrides) -> dict:
        body = {
            "procedure": catalogue.main.code,
            "applicant_name": "Nguyễn Văn A",
            "applicant_id_number": CITIZEN_A_ID,
            "applicant_address": "Số 1 đường Lý Thái Tổ, Bắc Ninh",
            "applicant_phone": "0912 345 678",
            "applicant_email": "a@example.org",
            "channel": 2,
            "receiving_point": points.centre.code,
            "result_delivery": "desk",
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}

    return make


# Legal paths from "received" to every state of the workflow: (action, role)
# steps, each taken by the right user of that role (People.by_role). The
# transfer goes to so-y-te, whose officials act from then on; the so-tp
# officials still see the dossier (so-tp owns the procedure) but no longer act.
PATHS: dict[str, list[tuple[str, str]]] = {
    # Before receipt: from an online dossier submitted with submit(receive=False).
    "waiting_receipt": [],
    "waiting_completion": [("request_completion", Role.DESK_OFFICER)],
    "received": [],
    "assigned": [("assign", Role.DESK_OFFICER)],
    "processing": [("assign", Role.DESK_OFFICER), ("start", Role.PROCESSING_OFFICER)],
    "waiting_supplement": [("request_supplement", Role.DESK_OFFICER)],
    "supplemented": [("request_supplement", Role.DESK_OFFICER), ("supplement", Role.CITIZEN)],
    "transferred": [
        ("assign", Role.DESK_OFFICER),
        ("start", Role.PROCESSING_OFFICER),
        ("transfer", Role.PROCESSING_OFFICER),
    ],
    "approved": [("assign", Role.DESK_OFFICER), ("start", Role.PROCESSING_OFFICER), ("approve", Role.LEADER)],
    "refused": [("refuse", Role.DESK_OFFICER)],
    "result_ready": [
        ("assign", Role.DESK_OFFICER),
        ("start", Role.PROCESSING_OFFICER),
        ("approve", Role.LEADER),
        ("mark_result_ready", Role.PROCESSING_OFFICER),
    ],
    "result_returned": [
        ("assign", Role.DESK_OFFICER),
        ("start", Role.PROCESSING_OFFICER),
        ("approve", Role.LEADER),
        ("mark_result_ready", Role.PROCESSING_OFFICER),
        ("return_result", Role.DESK_OFFICER),
    ],
    "withdrawn": [("withdraw", Role.CITIZEN)],
    "stopped": [("stop", Role.LEADER)],
}

TRANSFER_AGENCY = "so-y-te"
PRE_RECEIPT = frozenset({"waiting_receipt", "waiting_completion"})


@pytest.fixture
def in_state(submit, drive):
    """in_state(state, **fields) -> a dossier of citizen A walked to `state`
    (an online submission left waiting for receipt for the states before it)."""

    def make(state: str, **fields):
        return drive(submit(receive=state not in PRE_RECEIPT, **fields), state)

    return make


@pytest.fixture
def drive(people):
    """drive(dossier, state) walks the dossier to `state` through the legal
    transitions of PATHS (service calls, a note on each step) and returns
    it reloaded; `path=` walks another list of steps that ends in `state`."""
    from dossiers.models import Dossier
    from dossiers.services import dossier_transition

    def walk(dossier, state: str, *, path: list[tuple[str, str]] | None = None):
        if state in PRE_RECEIPT and path is None:
            assert dossier.status == "waiting_receipt", "submit(receive=False) for a state before receipt"
        for action, role in PATHS[state] if path is None else path:
            dossier.refresh_from_db()
            dossier_transition(
                code=dossier.code,
                action=action,
                acting_user=people.by_role(dossier)[role],
                note=f"bước {action}",
                agency_code=TRANSFER_AGENCY if action == "transfer" else None,
            )
        walked = Dossier.objects.get(pk=dossier.pk)
        assert walked.status == state
        return walked

    return walk
