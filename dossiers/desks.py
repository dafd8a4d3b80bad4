"""Which desks may receive a procedure's dossier for an address, and why one
is proposed (docs/decisions.md, "The desk follows the address").

The one-stop desk that receives an online dossier decides who handles it: a
commune-level procedure goes to the people's committee of the commune the
desk sits in (`services._handling_agency`). The nearest desk is therefore not
always a right one: an address in Kinh Bắc ward may be nearer to Vũ Ninh
ward's desk, whose committee may not register that birth. The rules:

- commune level, and former district level (districts ceased on 1 July 2025
  and their procedures went to the communes): the desk of the 2025 commune or
  ward containing the address (proposed), and the provincial centres, which
  receive dossiers of every procedure of the province (Decree 118/2025);
- a procedure whose implementing agency is the people's committee of one
  commune (`Agency.admin_unit_code`): that commune's desk, and the centres;
- province level: the provincial centres and their branches (proposed: the
  nearest), and the desk of the address's commune, which under Decree
  118/2025 also receives it and forwards it to the department (any commune
  desk may: the handling agency does not depend on the desk);
- post offices are never the receiving point of an online dossier, but a
  procedure that may be sent by post (`postal_submission_allowed`, Decision
  45/2016) lists the nearest post offices as drop-off points for the paper copy.

`desk_refusal` is the same rule for one chosen point: the submission service
refuses a citizen's online dossier at a commune desk that may not receive it
for the applicant's commune.
"""

from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db.models import Q
from django.db.models.expressions import RawSQL

from gisportal.accounts.models import Agency
from gisportal.messages import message
from layers.models import AdministrativeUnit, ServicePoint, ServicePointKind
from layers.selectors import units_valid_on

from .models import AdministrativeLevel, Procedure

RECEIVING = "receiving"
POSTAL_DROP_OFF = "postal_drop_off"
POST_OFFICES_LISTED = 2

_COMMUNE_BOUND = frozenset({AdministrativeLevel.COMMUNE, AdministrativeLevel.DISTRICT})
# Exact ellipsoidal metres (PostGIS geography with use_spheroid), as the nearest look-up.
_DISTANCE_SQL = (
    "ST_Distance(layers_servicepoint.geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, true)"
)


@dataclass(frozen=True)
class Reason:
    vi: str
    en: str


@dataclass(frozen=True)
class Desk:
    point: ServicePoint  # with `distance_m` (geodesic, WGS84) from the address
    role: str  # RECEIVING or POSTAL_DROP_OFF
    reason: Reason


def commune_at(lon: float, lat: float) -> AdministrativeUnit | None:
    """The commune or ward in force today that contains the point (2025 map)."""
    return (
        units_valid_on()
        .filter(level="commune", geom__intersects=Point(lon, lat, srid=4326))
        .only("id", "code", "name", "full_name")
        .first()
    )


def _one_commune_agency(procedure: Procedure) -> str | None:
    agency = procedure.agency
    if agency.kind == Agency.Kind.PEOPLES_COMMITTEE and agency.admin_unit_code:
        return agency.admin_unit_code
    return None


def _with_distance(points, origin: Point):
    return points.annotate(distance_m=RawSQL(_DISTANCE_SQL, (origin.x, origin.y))).order_by("distance_m", "code")


def _desk_reason(procedure: Procedure, commune: AdministrativeUnit, *, by_agency: bool) -> Reason:
    name = commune.full_name or commune.name
    if by_agency:
        agency = procedure.agency.name
        return Reason(
            f"Thủ tục do {agency} giải quyết: bộ phận một cửa của {name} tiếp nhận.",
            f"The procedure is decided by {agency}: the one-stop desk of {name} receives it.",
        )
    if procedure.level == AdministrativeLevel.DISTRICT:
        return Reason(
            f"Thủ tục trước đây cấp huyện: từ 1/7/2025 không còn cấp huyện, bộ phận một cửa của {name} "
            "(nơi có địa chỉ) tiếp nhận.",
            f"A former district-level procedure: districts ceased on 1 July 2025, so the one-stop desk of {name} "
            "(where the address is) receives it.",
        )
    if procedure.level == AdministrativeLevel.COMMUNE:
        return Reason(
            f"Thủ tục cấp xã: bộ phận một cửa của {name}, nơi có địa chỉ, tiếp nhận và UBND {name} giải quyết.",
            f"A commune-level procedure: the one-stop desk of {name}, where the address is, receives it and "
            f"its people's committee decides it.",
        )
    agency = procedure.agency.name
    return Reason(
        f"Theo Nghị định 118/2025, bộ phận một cửa của {name} (nơi có địa chỉ) cũng tiếp nhận thủ tục cấp tỉnh "
        f"và chuyển hồ sơ đến {agency}.",
        f"Under Decree 118/2025 the one-stop desk of {name} (where the address is) also receives province-level "
        f"dossiers and forwards them to {agency}.",
    )


def _centre_reason(procedure: Procedure) -> Reason:
    if procedure.level in _COMMUNE_BOUND or _one_commune_agency(procedure):
        return Reason(
            "Trung tâm Phục vụ hành chính công tỉnh tiếp nhận hồ sơ mọi thủ tục của tỉnh (Nghị định 118/2025).",
            "The provincial public administration service centre receives dossiers of every procedure of the "
            "province (Decree 118/2025).",
        )
    agency = procedure.agency.name
    return Reason(
        f"Thủ tục cấp tỉnh do {agency} giải quyết; Trung tâm Phục vụ hành chính công tỉnh là bộ phận một cửa "
        "của các sở, ngành.",
        f"A province-level procedure decided by {agency}; the provincial public administration service centre "
        "is the one-stop desk of the departments.",
    )


_POST_REASON = Reason(
    "Thủ tục nhận hồ sơ qua bưu chính công ích (Quyết định 45/2016): có thể gửi bản giấy tại bưu cục này, "
    "bưu điện chuyển đến điểm tiếp nhận đã chọn.",
    "This procedure accepts dossiers by public post (Decision 45/2016): the paper copy may be dropped at this "
    "post office, which carries it to the chosen desk.",
)


def eligible_desks(*, procedure: Procedure, commune: AdministrativeUnit, origin: Point) -> list[Desk]:
    """The points that may receive `procedure` for an address at `origin` in
    `commune`, the proposed one first, then the post offices for a drop-off."""
    active = ServicePoint.objects.filter(is_active=True)
    agency_unit = _one_commune_agency(procedure)
    desk_filter = Q(admin_unit__code=agency_unit) if agency_unit else Q(admin_unit=commune)
    desk_unit = (
        AdministrativeUnit.objects.filter(code=agency_unit, level="commune").order_by("-era").first()
        if agency_unit
        else commune
    )
    desks = [
        Desk(point, RECEIVING, _desk_reason(procedure, desk_unit or commune, by_agency=bool(agency_unit)))
        for point in _with_distance(active.filter(desk_filter, kind=ServicePointKind.COMMUNE_DESK), origin)
    ]
    centres = [
        Desk(point, RECEIVING, _centre_reason(procedure))
        for point in _with_distance(active.filter(kind=ServicePointKind.PROVINCIAL_CENTRE), origin)
    ]
    receiving = desks + centres if procedure.level in _COMMUNE_BOUND or agency_unit else centres + desks
    posts = []
    if procedure.postal_submission_allowed:
        nearest_posts = _with_distance(active.filter(kind=ServicePointKind.POST_OFFICE), origin)[:POST_OFFICES_LISTED]
        posts = [Desk(point, POSTAL_DROP_OFF, _POST_REASON) for point in nearest_posts]
    return receiving + posts


def desk_refusal(
    *,
    procedure: Procedure,
    point: ServicePoint,
    commune: AdministrativeUnit | None,
    point_unit: AdministrativeUnit | None,
) -> str | None:
    """Why `point` (sitting in `point_unit`) may not receive a citizen's
    online dossier of `procedure` for an applicant in `commune` (the
    bilingual message), or None. Only commune desks can be wrong here: the
    centres receive everything, and the kinds an online dossier may name are
    checked elsewhere."""
    if point.kind != ServicePointKind.COMMUNE_DESK:
        return None
    point_place = (point_unit.full_name or point_unit.name) if point_unit else "?"
    agency_unit = _one_commune_agency(procedure)
    if agency_unit:
        if point_unit is None or point_unit.code != agency_unit:
            agency = procedure.agency.name
            return message(
                f"Thủ tục do {agency} giải quyết: chỉ bộ phận một cửa của xã, phường đó hoặc Trung tâm Phục vụ "
                f"hành chính công tỉnh tiếp nhận; {point.name} thuộc {point_place}.",
                f"The procedure is decided by {agency}: only that commune's desk or the provincial centre receives "
                f"it; {point.name} is in {point_place}.",
            )
        return None
    if procedure.level not in _COMMUNE_BOUND or commune is None or point.admin_unit_id == commune.pk:
        return None
    place = commune.full_name or commune.name
    return message(
        f"Thủ tục cấp xã của địa chỉ ở {place} do bộ phận một cửa của {place} hoặc Trung tâm Phục vụ hành chính "
        f"công tỉnh tiếp nhận; {point.name} thuộc {point_place}, UBND nơi đó không giải quyết hồ sơ này.",
        f"A commune-level procedure for an address in {place} is received by the desk of {place} or the "
        f"provincial centre; {point.name} is in {point_place}, whose committee does not decide this dossier.",
    )


def other_commune_desks(*, procedure: Procedure, commune: AdministrativeUnit) -> tuple[bool, Reason]:
    """Whether a commune desk not listed by `eligible_desks` may receive the
    dossier too, and why: yes for a province-level procedure (Decree
    118/2025, the department decides wherever it was received), no when the
    desk's commune decides (the rule `desk_refusal` applies)."""
    place = commune.full_name or commune.name
    if procedure.level in _COMMUNE_BOUND or _one_commune_agency(procedure):
        return False, Reason(
            f"Bộ phận một cửa của xã, phường khác không tiếp nhận thủ tục này cho địa chỉ ở {place}: "
            "UBND nơi đó không giải quyết hồ sơ này.",
            f"The desk of another commune does not receive this procedure for an address in {place}: "
            "its people's committee does not decide this dossier.",
        )
    agency = procedure.agency.name
    return True, Reason(
        "Theo Nghị định 118/2025, bộ phận một cửa của mọi xã, phường trong tỉnh tiếp nhận thủ tục cấp tỉnh "
        f"và chuyển hồ sơ đến {agency}.",
        "Under Decree 118/2025 the one-stop desk of any commune of the province receives province-level "
        f"dossiers and forwards them to {agency}.",
    )
