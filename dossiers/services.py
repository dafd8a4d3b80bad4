"""Every write to a dossier: submission, transitions, apologies.

Each service runs in one transaction, locks the dossier row it changes,
writes one `DossierEvent` naming who acted, and keeps the indicator counts
(`stats`) in step."""

import datetime as dt
import hashlib
import json
import re
from contextvars import ContextVar
from dataclasses import dataclass, field

import h3.api.basic_int as h3
from django.conf import settings
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gisportal.accounts.models import Agency, Profile, Role
from gisportal.accounts.selectors import Actor, actor_for, user_display_name
from gisportal.accounts.validators import citizen_id_problem
from gisportal.api import message
from gisportal.loaded import rows_known
from layers.models import AdministrativeUnit, ServicePoint, ServicePointKind

from . import density_counts, stats
from .attachments import CheckedFile, attachments_remove, stored_file_fields
from .calendar import WorkingCalendar, working_calendar
from .components import CheckedComponents, ComponentsRefused, components_check
from .desks import desk_refusal
from .documents import documents_keep_from_dossier
from .errors import DossierInputError, IdempotencyConflict, TransitionNotAllowed
from .events import DossierChanged, dossier_changed_emit
from .lookups import Lookups, lookups_current
from .models import (
    FINISHED_STATUSES,
    H3_RESOLUTIONS,
    Apology,
    Attachment,
    Channel,
    Delivery,
    Dossier,
    DossierEForm,
    DossierEvent,
    IdempotencyKey,
    PostalPickup,
    Procedure,
    ProcedureComponent,
    Status,
    Timeliness,
)
from .provinces import HOME_PROVINCE_CODE, dossier_scope, province_code_of_point
from .results import result_approve
from .selectors import (
    dossier_actions,
    dossier_get_for_user,
    dossier_may_act,
    dossier_may_apologize,
    dossier_may_take,
)
from .workflow import BY_ACTION

# --- codes -------------------------------------------------------------------


def dossier_code_next(*, unit_identifier: str, day: dt.date, province_code: str = HOME_PROVINCE_CODE) -> str:
    """`<unit>-<YYMMDD>-<NNNN>` (Circular 01/2018 Art. 19). One UPSERT: two
    concurrent submissions at one unit serialise on the counter row and
    never share a number; the number restarts every day."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO dossiers_codecounter (province_code, unit_identifier, day, last) VALUES (%s, %s, %s, 1) "
            "ON CONFLICT (unit_identifier, day, province_code) DO UPDATE SET last = dossiers_codecounter.last + 1 "
            "RETURNING last",
            [province_code, unit_identifier, day],
        )
        (number,) = cursor.fetchone()
    return f"{unit_identifier}-{day:%y%m%d}-{number:04d}"


# --- events ------------------------------------------------------------------


# The event rows written while a submission runs, its own and its
# subscribers' (`dossier_record_event`), so that its answer needs no read-back.
_events_written: ContextVar[list[DossierEvent] | None] = ContextVar("events_written", default=None)


def _actor_name(user) -> str:
    return "Hệ thống / System" if user is None else user_display_name(user)


def _event(
    dossier: Dossier,
    *,
    action: str,
    from_status: str,
    user,
    actor: Actor,
    at: dt.datetime,
    note: str = "",
    to_agency: Agency | None = None,
    actor_name: str | None = None,
) -> DossierEvent:
    """Writes the event row and announces it (`events`) in the same
    transaction: subscribers' rows commit or roll back with it."""
    event = DossierEvent.objects.create(
        dossier=dossier,
        province_code=dossier.province_code,
        action=action,
        from_status=from_status,
        to_status=dossier.status,
        actor=user,
        actor_name=actor_name or _actor_name(user),
        actor_role=actor.role or "",
        actor_agency_id=actor.agency_id,
        actor_point_id=actor.service_point_id,
        to_agency=to_agency,
        note=note,
        at=at,
    )
    written = _events_written.get()
    if written is not None:
        written.append(event)
    dossier_changed_emit(DossierChanged.of(event, code=dossier.code))
    return event


# --- submission --------------------------------------------------------------


@dataclass
class Submission:
    """What a submission carries once parsed (by the API or the web form)."""

    procedure_code: str
    applicant_name: str
    applicant_id_number: str
    applicant_address: str
    channel: int
    receiving_point_code: str = ""
    applicant_phone: str = ""
    applicant_email: str = ""
    applicant_commune_code: str = ""
    lon: float | None = None
    lat: float | None = None
    result_delivery: str = Delivery.DESK
    delivery_address: str = ""
    note: str = ""
    files: list[CheckedFile] = field(default_factory=list)
    # Public post (Decision 45/2016). The result's address located on the
    # map (a point, or a commune of the 2025 map), and for an online dossier
    # whose paper copy goes by post: "home" (collected at `pickup_address`,
    # by default the applicant's) or "post_office" (dropped at
    # `pickup_point_code`).
    delivery_lon: float | None = None
    delivery_lat: float | None = None
    delivery_commune_code: str = ""
    postal_pickup: str = ""
    pickup_address: str = ""
    pickup_point_code: str = ""
    # Dossier components (dossiers.components): files tagged by component
    # code, and the answers of each e-form by its component code.
    component_files: dict[str, list[CheckedFile]] = field(default_factory=dict)
    forms: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """SHA-256 of the body, files by their digests: what makes a retry
        "the same request". The postal fields count only when given, so a
        request made before they existed keeps its fingerprint."""
        body = {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("files", "component_files") and not (k in _OPTIONAL_FIELDS and v in ("", None, {}))
        }
        body["files"] = [(f.original_name, f.sha256) for f in self.files]
        if self.component_files:
            body["component_files"] = {
                code: [(f.original_name, f.sha256) for f in files] for code, files in self.component_files.items()
            }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


_POSTAL_FIELDS = frozenset(
    {"delivery_lon", "delivery_lat", "delivery_commune_code", "postal_pickup", "pickup_address", "pickup_point_code"}
)
# Fields that count in the fingerprint only when given, so a request made
# before they existed keeps its fingerprint.
_OPTIONAL_FIELDS = _POSTAL_FIELDS | {"forms"}


def _fail(errors: dict[str, list[str]], name: str, vi: str, en: str) -> None:
    errors.setdefault(name, []).append(message(vi, en))


# Digits with the usual separators, optionally a leading +: 0912 345 678,
# +84-912-345-678, (0222) 3822 000.
_PHONE = re.compile(r"\+?\(?[0-9][0-9 ().-]{6,18}[0-9]")

_ONLINE_POINT_KINDS = (ServicePointKind.PROVINCIAL_CENTRE, ServicePointKind.COMMUNE_DESK)


def _resolve_point(sub: Submission, actor: Actor, errors, lookups: Lookups) -> ServicePoint | None:
    if actor.role == Role.DESK_OFFICER:
        # Desk officers receive at their own desk, whatever the body says.
        point = _active_points_by_id(lookups).get(actor.service_point_id)
        if point is None:
            _fail(errors, "receiving_point", "Cán bộ chưa được gán điểm tiếp nhận.", "You have no service point.")
        return point
    point = _active_points(lookups).get(sub.receiving_point_code)
    if point is None:
        _fail(errors, "receiving_point", "Không có điểm tiếp nhận này.", "No such service point.")
    elif point.kind not in _ONLINE_POINT_KINDS:
        _fail(
            errors,
            "receiving_point",
            "Hồ sơ trực tuyến nộp về Trung tâm PVHCC hoặc bộ phận một cửa cấp xã.",
            "Online dossiers go to the provincial centre or a commune desk.",
        )
    return point


def submission_channel(actor: Actor, point: ServicePoint | None) -> int | None:
    """The channel a caller submits on: citizens online; a desk officer in
    person, or by post at a post office. Other roles do not submit."""
    if actor.role == Role.CITIZEN:
        return Channel.ONLINE
    if actor.role == Role.DESK_OFFICER:
        return Channel.POST if point is not None and point.kind == ServicePointKind.POST_OFFICE else Channel.IN_PERSON
    return None


def _check_channel(sub: Submission, actor: Actor, point: ServicePoint | None, errors) -> None:
    if actor.role == Role.CITIZEN:
        if sub.channel != submission_channel(actor, point):
            _fail(errors, "channel", "Công dân chỉ nộp trực tuyến (2).", "Citizens submit online (2) only.")
        return
    if sub.channel == Channel.ONLINE:
        _fail(
            errors,
            "channel",
            "Cán bộ tiếp nhận trực tiếp (1) hoặc qua bưu chính (3).",
            "Desks receive in person (1) or by post (3).",
        )
    elif point is not None and sub.channel != submission_channel(actor, point):
        _fail(
            errors,
            "channel",
            "Hồ sơ qua bưu chính (3) do bưu điện tiếp nhận, và bưu điện chỉ nhận kênh 3.",
            "Post offices receive postal dossiers (3) and only those.",
        )


@dataclass
class _Postal:
    """The postal choices of a submission, checked."""

    delivery_location: Point | None = None
    delivery_commune: AdministrativeUnit | None = None
    postal_pickup: str = ""
    pickup_address: str = ""
    pickup_point: ServicePoint | None = None


def _located(lon: float | None, lat: float | None, *, names: tuple[str, str, str], errors) -> tuple:
    """(point, 2025 commune containing it) of an optional lon/lat pair; the
    error names the missing half, or `names[2]` for a place outside the
    province."""
    lon_name, lat_name, place_name = names
    if (lon is None) != (lat is None):
        # Name the field that is missing: clients map errors to their inputs.
        _fail(errors, lat_name if lat is None else lon_name, "Cần cả lon và lat.", "Give both lon and lat.")
        return None, None
    if lon is None:
        return None, None
    point = Point(lon, lat, srid=4326)
    inside = _communes().filter(geom__intersects=point).first()
    if inside is None:
        _fail(errors, place_name, "Vị trí nằm ngoài tỉnh.", "The location is outside the province.")
    return point, inside


def _validate_postal(sub: Submission, procedure: Procedure | None, errors) -> _Postal:
    """Decision 45/2016: the dossier sent by post (online submissions only;
    a post-office clerk receives over the counter, channel 3), the result
    received by post, or both; the catalogue says which a procedure allows."""
    postal = _Postal()
    if sub.result_delivery == Delivery.POST:
        postal.delivery_location, postal.delivery_commune = _located(
            sub.delivery_lon,
            sub.delivery_lat,
            names=("delivery_lon", "delivery_lat", "delivery_location"),
            errors=errors,
        )
        if sub.delivery_commune_code:
            chosen = _communes().filter(code=sub.delivery_commune_code).first()
            if chosen is None:
                _fail(
                    errors,
                    "delivery_commune",
                    "Không có xã, phường này (địa giới 2025).",
                    "No such commune (2025 map).",
                )
            elif postal.delivery_commune is not None and postal.delivery_commune.pk != chosen.pk:
                _fail(
                    errors,
                    "delivery_commune",
                    f"Điểm đã chọn trên bản đồ thuộc {postal.delivery_commune.name}, không phải {chosen.name}.",
                    f"The point chosen on the map lies in {postal.delivery_commune.name}, not {chosen.name}.",
                )
            else:
                postal.delivery_commune = chosen
    if not sub.postal_pickup:
        if sub.pickup_point_code:
            _fail(
                errors,
                "pickup_point",
                "Chỉ dùng khi postal_pickup = post_office.",
                "Only with postal_pickup = post_office.",
            )
        return postal
    if sub.postal_pickup not in PostalPickup.values:
        _fail(errors, "postal_pickup", "Chọn home hoặc post_office.", "Use home or post_office.")
        return postal
    if sub.channel != Channel.ONLINE:
        _fail(
            errors,
            "postal_pickup",
            "Chỉ hồ sơ nộp trực tuyến (kênh 2) gửi bản giấy qua bưu chính; tại bưu điện, nhân viên bưu điện "
            "tiếp nhận trực tiếp (kênh 3).",
            "Only an online dossier (channel 2) sends its paper copy by post; at a post office the clerk "
            "receives it over the counter (channel 3).",
        )
    if procedure is not None and not procedure.postal_submission_allowed:
        _fail(
            errors,
            "postal_pickup",
            "Thủ tục này không nhận hồ sơ gửi qua bưu chính (danh mục thủ tục: postal_submission_allowed = không).",
            "This procedure does not accept dossiers sent by post (catalogue: postal_submission_allowed = false).",
        )
    postal.postal_pickup = sub.postal_pickup
    if sub.postal_pickup == PostalPickup.HOME:
        if sub.pickup_point_code:
            _fail(
                errors,
                "pickup_point",
                "Chỉ dùng khi postal_pickup = post_office.",
                "Only with postal_pickup = post_office.",
            )
        postal.pickup_address = sub.pickup_address.strip() or sub.applicant_address.strip()
        return postal
    postal.pickup_point = ServicePoint.objects.filter(
        code=sub.pickup_point_code, kind=ServicePointKind.POST_OFFICE, is_active=True
    ).first()
    if postal.pickup_point is None:
        _fail(
            errors,
            "pickup_point",
            "Chọn bưu cục (mã điểm phục vụ loại post_office) nơi gửi hồ sơ.",
            "Choose the post office (a service point code of kind post_office) where the dossier is dropped.",
        )
    return postal


def _validate(
    sub: Submission, actor: Actor, lookups: Lookups
) -> tuple[Procedure, ServicePoint, AdministrativeUnit | None, Point | None, _Postal]:
    errors: dict[str, list[str]] = {}
    procedure = _active_procedures(lookups).get(sub.procedure_code)
    if procedure is None:
        _fail(errors, "procedure", "Không có thủ tục này.", "No such procedure.")
    if not sub.applicant_name.strip():
        _fail(errors, "applicant_name", "Cần họ tên người nộp.", "The applicant's name is required.")
    problem = citizen_id_problem(sub.applicant_id_number)
    if problem:
        _fail(errors, "applicant_id_number", *problem)
    if not sub.applicant_address.strip():
        _fail(errors, "applicant_address", "Cần địa chỉ người nộp.", "The applicant's address is required.")
    if sub.applicant_phone.strip() and not _PHONE.fullmatch(sub.applicant_phone.strip()):
        _fail(errors, "applicant_phone", "Số điện thoại không hợp lệ.", "Not a valid phone number.")
    if sub.applicant_email.strip():
        try:
            validate_email(sub.applicant_email.strip())
        except ValidationError:
            _fail(errors, "applicant_email", "Địa chỉ email không hợp lệ.", "Not a valid e-mail address.")
    if sub.channel not in Channel.values:
        _fail(errors, "channel", "Kênh là 1, 2 hoặc 3.", "Channel is 1, 2 or 3.")
    point = _resolve_point(sub, actor, errors, lookups)
    if point is not None and not point.receiving_unit_identifier:
        _fail(
            errors,
            "receiving_point",
            "Điểm tiếp nhận chưa có mã định danh.",
            "The service point has no unit identifier.",
        )
    if sub.channel in Channel.values:
        _check_channel(sub, actor, point, errors)
    if sub.result_delivery not in Delivery.values:
        _fail(errors, "result_delivery", "Chọn desk hoặc post.", "Use desk or post.")
    elif sub.result_delivery == Delivery.POST:
        if not sub.delivery_address.strip():
            _fail(
                errors, "delivery_address", "Cần địa chỉ nhận kết quả qua bưu chính.", "A postal address is required."
            )
        if procedure is not None and not procedure.postal_result_allowed:
            _fail(
                errors,
                "result_delivery",
                "Thủ tục này không trả kết quả qua bưu chính.",
                "This procedure's result cannot be sent by post.",
            )
    if procedure is not None and sub.channel == Channel.POST and not procedure.postal_submission_allowed:
        _fail(
            errors, "channel", "Thủ tục này không nhận hồ sơ qua bưu chính.", "This procedure is not accepted by post."
        )
    commune = None
    if sub.applicant_commune_code:
        commune = _communes_by_code(lookups).get(sub.applicant_commune_code)
        if commune is None:
            _fail(
                errors, "applicant_commune", "Không có xã, phường này (địa giới 2025).", "No such commune (2025 map)."
            )
    location, inside = _located(sub.lon, sub.lat, names=("lon", "lat", "location"), errors=errors)
    if commune is None:
        commune = inside
    if actor.role == Role.CITIZEN and procedure is not None and point is not None and "receiving_point" not in errors:
        # The desk a citizen names decides who handles a commune-level dossier.
        refusal = desk_refusal(
            procedure=procedure, point=point, commune=commune, point_unit=_unit_named(point.admin_unit_id, lookups)
        )
        if refusal:
            errors.setdefault("receiving_point", []).append(refusal)
    postal = _validate_postal(sub, procedure, errors)
    if len(sub.note) > 4000:
        _fail(errors, "note", "Ghi chú tối đa 4.000 ký tự.", "The note is at most 4,000 characters.")
    if errors:
        raise DossierInputError(errors)
    if location is None and commune is not None:
        # Where demand comes from, when no address point was given: the
        # commune's representative point (flagged by the missing precision).
        location = commune.representative_point
    return procedure, point, commune, location, postal


def _communes():
    """2025 communes without their polygons (a commune outline is tens of
    kilobytes: fetching it cost more than the rest of a submission)."""
    return (
        AdministrativeUnit.objects.filter(era="2025", level="commune")
        .only("id", "code", "name", "full_name")
        .annotate(representative_point=PointOnSurface("geom"))
    )


# --- the catalogue rows a submission looks up, kept per process (dossiers.lookups) ---


def _active_procedures(lookups: Lookups) -> dict[str, Procedure]:
    return lookups.get(
        "procedures", lambda: {p.code: p for p in Procedure.objects.select_related("agency").filter(is_active=True)}
    )


def _procedures_with_components(lookups: Lookups) -> set[int]:
    return lookups.get(
        "procedures_with_components",
        lambda: set(ProcedureComponent.objects.values_list("procedure_id", flat=True).distinct()),
    )


def _active_points(lookups: Lookups) -> dict[str, ServicePoint]:
    return lookups.get("points", lambda: {p.code: p for p in ServicePoint.objects.filter(is_active=True)})


def _active_points_by_id(lookups: Lookups) -> dict[int, ServicePoint]:
    return lookups.get("points_by_id", lambda: {p.pk: p for p in _active_points(lookups).values()})


def _communes_by_code(lookups: Lookups) -> dict[str, AdministrativeUnit]:
    return lookups.get("communes", lambda: {c.code: c for c in _communes()})


def _unit_named(unit_id: int | None, lookups: Lookups) -> AdministrativeUnit | None:
    """The code and names of the unit a service point sits in."""
    units = lookups.get(
        "point_units",
        lambda: {
            u.pk: u
            for u in AdministrativeUnit.objects.filter(pk__in=ServicePoint.objects.values("admin_unit_id")).only(
                "code", "name", "full_name"
            )
        },
    )
    return units.get(unit_id)


def _committees() -> dict[str, Agency]:
    """People's committees by the code of their unit (the first by agency code where two share one)."""
    committees: dict[str, Agency] = {}
    for agency in Agency.objects.filter(kind=Agency.Kind.PEOPLES_COMMITTEE).order_by("code"):
        committees.setdefault(agency.admin_unit_code, agency)
    return committees


def _handling_agency(procedure: Procedure, point: ServicePoint, lookups: Lookups) -> Agency:
    """Commune-level procedures are handled by the people's committee of the
    commune the desk sits in, when the portal knows it."""
    unit = _unit_named(point.admin_unit_id, lookups) if procedure.level == "commune" else None
    if unit is not None:
        committee = lookups.get("committees", _committees).get(unit.code)
        if committee is not None:
            return committee
    return procedure.agency


def _applicant_account(sub: Submission, user, actor: Actor):
    if actor.role == Role.CITIZEN:
        return user
    profile = (
        Profile.objects.filter(role=Role.CITIZEN, id_number=sub.applicant_id_number).select_related("user").first()
    )
    return profile.user if profile else None


def dossier_submit(
    *,
    submission: Submission,
    acting_user,
    idempotency_key: str | None = None,
    received_at: dt.datetime | None = None,
) -> tuple[Dossier, bool]:
    """Receives a dossier: (dossier, created). With an idempotency key, a
    retry with the same body returns the first dossier (created False)."""
    actor = actor_for(acting_user)
    if actor.role not in (Role.CITIZEN, Role.DESK_OFFICER):
        raise PermissionDenied(
            message(
                "Chỉ công dân hoặc cán bộ một cửa nộp, tiếp nhận hồ sơ.",
                "Only citizens and desk officers submit dossiers.",
            )
        )
    fingerprint = submission.fingerprint()
    if idempotency_key:
        earlier = _idempotent_replay(acting_user, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, False
    # The catalogue rows it needs, kept by this process while they are current.
    lookups = lookups_current()
    procedure, point, commune, location, postal = _validate(submission, actor, lookups)
    components = _check_components(submission, procedure, actor, lookups)
    written: list[str] = []
    events_token = _events_written.set([])
    try:
        with transaction.atomic():
            dossier = _create(
                submission,
                acting_user,
                actor,
                procedure,
                point,
                commune,
                location,
                postal,
                received_at,
                written,
                lookups,
            )
            if components is not None:
                _write_components(dossier, components, user=acting_user, written=written)
            if actor.role == Role.CITIZEN:
                # The citizen's files are kept in "Giấy tờ của tôi" (issue #15).
                documents_keep_from_dossier(dossier, owner=acting_user)
            if idempotency_key:
                IdempotencyKey.objects.create(
                    user=acting_user,
                    key=idempotency_key,
                    body_sha256=fingerprint,
                    dossier=dossier,
                    created_at=dossier.submitted_at,
                )
    except IntegrityError:
        attachments_remove(written)
        # A concurrent retry with the same key won the race: answer as it did.
        if idempotency_key:
            earlier = _idempotent_replay(acting_user, idempotency_key, fingerprint)
            if earlier is not None:
                return earlier, False
        raise
    except BaseException:
        attachments_remove(written)
        raise
    finally:
        events = _events_written.get()
        _events_written.reset(events_token)
    _events_known(dossier, events)
    return dossier, True


def _events_known(dossier: Dossier, events: list[DossierEvent]) -> None:
    """Hands the dossier the events its submission wrote, unless one names an
    office (`dossier_detail` reads those with their offices joined)."""
    events = [e for e in events if e.dossier_id == dossier.pk]
    if any(e.actor_agency_id or e.actor_point_id or e.to_agency_id for e in events):
        return
    dossier.submitted_events = sorted(events, key=lambda e: (e.at, e.pk))
    rows_known(dossier, events=dossier.submitted_events)


def _check_components(
    sub: Submission, procedure: Procedure, actor: Actor, lookups: Lookups
) -> CheckedComponents | None:
    """The submission's components checked against the procedure's
    (ComponentsRefused, 422, before anything is written); None for a
    procedure that declares none and a submission that tags none: today's
    behaviour. Online submissions must be complete; at a desk or a post
    office the officer checks the paper dossier in hand (as the demo history
    does), so only what is given is checked there."""
    declares = procedure.pk in _procedures_with_components(lookups)
    if not sub.component_files and not sub.forms and not declares:
        return None
    limit = settings.DOSSIER_ATTACHMENT_MAX_COUNT
    if len(sub.files) + sum(map(len, sub.component_files.values())) > limit:
        raise ComponentsRefused(
            components={"attachments": [message(f"Tối đa {limit} tệp đính kèm.", f"At most {limit} attachments.")]},
            forms={},
        )
    return components_check(
        procedure=procedure,
        files=sub.component_files,
        forms=sub.forms,
        require_complete=actor.role == Role.CITIZEN,
    )


def _write_components(dossier: Dossier, checked: CheckedComponents, *, user, written: list[str]) -> None:
    now = dossier.submitted_at
    attachments = list(dossier.attachments.all())
    for code, files in checked.files.items():
        component = checked.components[code]
        for upload in files:
            attachment = Attachment.objects.create(
                dossier=dossier,
                **stored_file_fields(upload, written=written),
                uploaded_by=user,
                uploaded_at=now,
                component=component,
                component_code=component.code,
                component_name=component.name,
            )
            attachments.append(attachment)
    eforms = DossierEForm.objects.bulk_create(
        DossierEForm(
            dossier=dossier,
            component=checked.components[code],
            component_code=code,
            title=checked.components[code].name,
            form_schema=checked.components[code].form_schema,
            answers=answers,
            submitted_at=now,
        )
        for code, answers in checked.forms.items()
    )
    rows_known(dossier, attachments=attachments, eforms=eforms)  # just written: no read-back


def _idempotent_replay(user, key: str, fingerprint: str) -> Dossier | None:
    earlier = IdempotencyKey.objects.select_related("dossier").filter(user=user, key=key).first()
    if earlier is None:
        return None
    if earlier.body_sha256 != fingerprint:
        raise IdempotencyConflict()
    return earlier.dossier


def _h3_cells(location) -> dict[str, int | None]:
    """h3_r6..h3_r9 of a point (None without a location)."""
    return {
        f"h3_r{res}": None if location is None else h3.latlng_to_cell(location.y, location.x, res)
        for res in H3_RESOLUTIONS
    }


def waits_for_receipt(channel: int) -> bool:
    """Whether a submission on `channel` waits for a desk officer to receive
    it: online submissions do (the one-stop rules: "submitted, waiting for
    receipt" until the desk checks it); what a desk officer enters, at a
    counter or a post office, is received as it is entered."""
    return channel == Channel.ONLINE


def _create(sub, user, actor, procedure, point, commune, location, postal, received_at, written, lookups) -> Dossier:
    now = received_at or timezone.now()
    calendar = lookups.get(("calendar", settings.WORKDAY_START, settings.WORKDAY_END), working_calendar)
    waiting = waits_for_receipt(sub.channel)
    # The code is the dossier's identifier from submission on (the applicant
    # tracks it, links carry it); its date is the day it reached the unit.
    province_code = province_code_of_point(point)
    code = dossier_code_next(
        unit_identifier=point.receiving_unit_identifier, day=timezone.localtime(now).date(), province_code=province_code
    )
    agency = _handling_agency(procedure, point, lookups)
    dossier = Dossier.objects.create(
        code=code,
        province_code=province_code,
        procedure=procedure,
        applicant=_applicant_account(sub, user, actor),
        applicant_name=sub.applicant_name.strip(),
        applicant_id_number=sub.applicant_id_number,
        applicant_phone=sub.applicant_phone.strip(),
        applicant_email=sub.applicant_email.strip(),
        applicant_address=sub.applicant_address.strip(),
        applicant_commune=commune,
        location=location,
        channel=sub.channel,
        receiving_point=point,
        agency=agency,
        receiving_agency=agency,
        status=Status.WAITING_RECEIPT if waiting else Status.RECEIVED,
        submitted_at=now,
        received_at=None if waiting else now,
        due_at=None if waiting else calendar.due_at(now, procedure.processing_days),
        result_delivery=sub.result_delivery,
        delivery_address=sub.delivery_address.strip() if sub.result_delivery == Delivery.POST else "",
        delivery_location=postal.delivery_location,
        delivery_commune=postal.delivery_commune,
        postal_pickup=postal.postal_pickup,
        pickup_address=postal.pickup_address,
        pickup_point=postal.pickup_point,
        fee_vnd=procedure.fee_vnd,
        note=sub.note.strip(),
        # Cells for the density maps, stored so counting needs no geometry work.
        **_h3_cells(location),
        applicant_commune_2019_id=_commune_2019(location, commune, lookups),
    )
    attachments = [
        Attachment.objects.create(
            dossier=dossier, **stored_file_fields(checked, written=written), uploaded_by=user, uploaded_at=now
        )
        for checked in sub.files
    ]
    rows_known(dossier, attachments=attachments, eforms=[])
    note = Channel(sub.channel).label
    if waiting:
        # Not counted anywhere yet: the indicators count it on the day of receipt.
        _event(dossier, action="submit", from_status="", user=user, actor=actor, at=now, note=note)
        return dossier
    _event(dossier, action="receive", from_status="", user=user, actor=actor, at=now, note=note)
    _count_received(dossier)
    return dossier


def _commune_2019(location: Point | None, commune: AdministrativeUnit | None, lookups: Lookups) -> int | None:
    """The 2019 commune under the dossier's point; for a commune's
    representative point (no address point given), kept per commune."""
    if commune is not None and location is not None and location == commune.representative_point:
        return lookups.get("communes_2019", density_counts.communes_2019_of_2025_points).get(commune.pk)
    return density_counts.commune_2019_for(location)


def _count_received(dossier: Dossier) -> None:
    stats.count_received(dossier)
    density_counts.density_count_received(dossier)


# --- transitions ---------------------------------------------------------------


def _classify(dossier: Dossier, calendar: WorkingCalendar, at: dt.datetime) -> None:
    finished_day = timezone.localtime(at).date()
    due_day = timezone.localtime(dossier.due_at).date()
    if finished_day < due_day:
        dossier.timeliness = Timeliness.EARLY
    elif finished_day == due_day:
        dossier.timeliness = Timeliness.ON_TIME
    else:
        dossier.timeliness = Timeliness.LATE
    dossier.finished_at = at
    worked = calendar.working_days_between(calendar.counting_day(dossier.received_at), finished_day)
    dossier.processing_working_days = max(worked - dossier.paused_working_days, 0)


def _target_agency(transition, dossier: Dossier, agency_code: str | None) -> Agency | None:
    if not transition.needs_agency:
        return dossier.agency if transition.action == "assign" else None
    agency = Agency.objects.filter(code=agency_code or "").first()
    if agency is None:
        raise DossierInputError.one(
            "agency", "Cần mã cơ quan nhận hồ sơ hợp lệ.", "A valid receiving agency code is required."
        )
    if agency.pk == dossier.agency_id:
        raise DossierInputError.one("agency", "Hồ sơ đang ở cơ quan này.", "The dossier is already with this agency.")
    return agency


def dossier_transition(
    *,
    code: str,
    action: str,
    acting_user,
    note: str = "",
    agency_code: str | None = None,
    at: dt.datetime | None = None,
) -> Dossier:
    """Applies one move of the workflow table. Dossier.DoesNotExist when the
    caller may not see the dossier (404); DossierInputError for a bad action,
    missing note or agency (400); TransitionNotAllowed (409) when the caller
    may read the dossier but not act on it (`selectors.dossier_may_act`), or
    the table (narrowed by the procedure's declared process) does not allow
    the move from this state for this role."""
    transition = BY_ACTION.get(action)
    if transition is None:
        raise DossierInputError.one(
            "action",
            "Thao tác không hợp lệ: " + ", ".join(BY_ACTION),
            "Unknown action; use one of: " + ", ".join(BY_ACTION),
        )
    note = (note or "").strip()
    if transition.note_required and not note:
        raise DossierInputError.one("note", "Cần ghi rõ lý do, nội dung.", "A note (the reason) is required.")
    if len(note) > 4000:
        raise DossierInputError.one("note", "Tối đa 4.000 ký tự.", "At most 4,000 characters.")
    actor = actor_for(acting_user)
    at = at or timezone.now()
    with transaction.atomic():
        dossier = dossier_get_for_user(user=acting_user, code=code, for_update=True)
        if not dossier_may_act(actor, dossier):
            raise TransitionNotAllowed.read_only(action=action, status=dossier.status, handled_by=dossier.agency.name)
        if not dossier_may_take(actor, dossier, transition):
            raise TransitionNotAllowed(
                action=action,
                status=dossier.status,
                allowed=[t.action for t in dossier_actions(actor, dossier)],
            )
        to_agency = _target_agency(transition, dossier, agency_code)
        _apply(dossier, transition, user=acting_user, actor=actor, at=at, note=note, to_agency=to_agency)
    return dossier


def _finishes(dossier: Dossier, target: str) -> bool:
    """Whether reaching `target` finishes the dossier (and classifies it).
    A result sent by post is finished on the day it is delivered, not when it
    is ready (Decision 45/2016: the post returns it on the agency's behalf)."""
    if target == Status.RESULT_READY and dossier.result_delivery == Delivery.POST:
        return False
    # Refused before receipt: never received, so never handled, classified
    # or counted (the desk declined to take it in).
    if dossier.received_at is None:
        return False
    return target in FINISHED_STATUSES


def _apply(
    dossier: Dossier,
    transition,
    *,
    user,
    actor: Actor,
    at: dt.datetime,
    note: str,
    to_agency: Agency | None = None,
    actor_name: str | None = None,
) -> None:
    """Moves a locked dossier along `transition` and writes its event, with
    the clock, classification and counters that go with the move."""
    from_status = dossier.status
    calendar = working_calendar()
    changed = ["status", "updated_at"]
    if transition.target == Status.WAITING_SUPPLEMENT:
        dossier.paused_at, dossier.supplement_count = at, dossier.supplement_count + 1
        changed += ["paused_at", "supplement_count"]
    elif from_status == Status.WAITING_SUPPLEMENT and dossier.paused_at is not None:
        lost = calendar.paused_working_days(dossier.paused_at, at)
        dossier.due_at = calendar.end_of(calendar.add_working_days(timezone.localtime(dossier.due_at).date(), lost))
        dossier.paused_working_days += lost
        dossier.paused_at = None
        changed += ["due_at", "paused_working_days", "paused_at"]
    received = transition.action == "receive"
    if received:
        # The receipt time and the legal deadline start now, at the desk.
        dossier.received_at = at
        dossier.due_at = calendar.due_at(at, dossier.procedure.processing_days)
        changed += ["received_at", "due_at"]
    if transition.needs_agency:
        dossier.agency = to_agency
        # The officer it was assigned to works for the agency it leaves.
        dossier.assigned_to, dossier.assigned_at = None, None
        changed += ["agency", "assigned_to", "assigned_at"]
    dossier.status = transition.target
    if _finishes(dossier, transition.target) and dossier.finished_at is None:
        _classify(dossier, calendar, at)
        changed += ["timeliness", "finished_at", "processing_working_days"]
    if transition.target == Status.RESULT_RETURNED:
        dossier.returned_at = at
        changed.append("returned_at")
    dossier.save(update_fields=changed)
    if transition.action == "approve":
        # The leader's approval is recorded on the electronic result, if attached (issue #15).
        approved = result_approve(dossier, user=user, at=at)
        if approved is not None:
            signed = (
                f"Kết quả điện tử / Electronic result: {approved.original_name}, SHA-256 {approved.approved_sha256}"
            )
            note = f"{note}\n{signed}" if note else signed
    _event(
        dossier,
        action=transition.action,
        from_status=from_status,
        user=user,
        actor=actor,
        at=at,
        note=note,
        to_agency=to_agency,
        actor_name=actor_name,
    )
    if received:
        _count_received(dossier)
    elif dossier.received_at is not None:
        # Counted since receipt: the density status rows follow its status.
        density_counts.density_count_status(dossier, from_status=from_status)
    if "finished_at" in changed:
        stats.count_finished(dossier)


SYSTEM_ACTOR = Actor(user_id=None, role="system", agency_id=None)


def dossier_transition_by_system(
    *, dossier_id: int, action: str, actor_name: str, note: str = "", at: dt.datetime | None = None
) -> Dossier:
    """A move made on the word of a system rather than a person, for the
    transitions the workflow table marks `by_system` (the carrier reporting
    a result delivered by post). `actor_name` names that system on the event
    (e.g. "Bưu điện / Vietnam Post"); `at` is when it happened, which may be
    before the report arrived (the dossier is finished on the delivery date).
    The calling app has checked the system's word (a signed callback)."""
    transition = BY_ACTION.get(action)
    if transition is None or not transition.by_system:
        raise ValueError(f"not a system transition: {action!r}")
    at = at or timezone.now()
    with transaction.atomic():
        dossiers = Dossier.objects.select_for_update(of=("self",)).select_related("agency")
        dossier = dossiers.get(**dossier_scope(dossier_id))
        if dossier.status not in transition.sources:
            raise TransitionNotAllowed(action=action, status=dossier.status, allowed=[])
        _apply(dossier, transition, user=None, actor=SYSTEM_ACTOR, at=at, note=note, actor_name=actor_name)
    return dossier


def dossier_apologize(
    *, code: str, acting_user, reason: str, new_due_at: dt.datetime, at: dt.datetime | None = None
) -> Apology:
    """Circular 01/2018 form 4: a dossier past its due date while still open
    gets an apology and a new appointment. It stays counted as late."""
    actor = actor_for(acting_user)
    at = at or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DossierInputError.one("reason", "Cần nêu lý do chậm.", "The reason for the delay is required.")
    if new_due_at <= at:
        raise DossierInputError.one(
            "new_due_at", "Ngày hẹn mới phải sau hiện tại.", "The new date must be in the future."
        )
    with transaction.atomic():
        dossier = dossier_get_for_user(user=acting_user, code=code, for_update=True)
        if not dossier_may_act(actor, dossier):
            raise TransitionNotAllowed.read_only(
                action="apologize", status=dossier.status, handled_by=dossier.agency.name
            )
        if not dossier_may_apologize(actor, dossier, at=at):
            raise TransitionNotAllowed(action="apologize", status=dossier.status, allowed=[])
        apology = Apology.objects.create(
            dossier=dossier, reason=reason, new_due_at=new_due_at, created_by=acting_user, created_at=at
        )
        dossier.appointment_at = new_due_at
        dossier.save(update_fields=["appointment_at", "updated_at"])
        _event(
            dossier,
            action="apologize",
            from_status=dossier.status,
            user=acting_user,
            actor=actor,
            at=at,
            note=f"{reason} — hẹn lại / new date {timezone.localtime(new_due_at):%d/%m/%Y}",
        )
    return apology


# --- steps recorded by other apps -------------------------------------------------

# Actions other apps record on a dossier: `<app>_<step>`, e.g. `payment_paid`,
# `shipment_delivered`. Workflow actions are refused here: a status changes
# only through `dossier_transition`.
_RECORDED_ACTION = re.compile(r"[a-z][a-z0-9]*_[a-z0-9_]+")


def dossier_record_event(
    *,
    dossier_id: int,
    action: str,
    note: str = "",
    acting_user=None,
    actor_name: str | None = None,
    at: dt.datetime | None = None,
) -> DossierEvent:
    """Records a step that does not change the status (a fee paid, a parcel
    handed over) as an event on the dossier, with who did it: `acting_user`,
    or for a system (a payment gateway, the carrier) `actor_name`.

    The caller (another app's service) has already decided the caller may do
    this; the dossier row is locked so the event orders with transitions."""
    if not _RECORDED_ACTION.fullmatch(action) or action in BY_ACTION or len(action) > 30:
        raise ValueError(f"not a recordable action: {action!r}")
    actor = actor_for(acting_user)
    with transaction.atomic():
        dossier = Dossier.objects.select_for_update(of=("self",)).get(**dossier_scope(dossier_id))
        return _event(
            dossier,
            action=action,
            from_status=dossier.status,
            user=acting_user,
            actor=actor,
            at=at or timezone.now(),
            note=note,
            actor_name=actor_name,
        )
