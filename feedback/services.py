"""Every write of feedback: submission, the workflow, follows and ratings.

Each service runs in one transaction, locks the row it changes and writes
the event row naming who acted.

For other apps (the Zalo channel):

    feedback_submit(*, category_code: str, text: str, lon: float | None, lat: float | None,
                    photos: list, reporter_phone: str = "", reporter_user=None,
                    channel: str = "web", external_id: str = "",
                    consent_location: bool = False, address_text: str = "") -> Feedback

turns a message into a report: `category_code` an active `Category.code`
(`selectors.categories_active()`), `text` at most 4,000 characters, a point
(`lon`, `lat`, WGS84) or else `address_text` (matched to a 2025 commune
without regard to diacritics; the report then sits at the commune's
representative point), `photos` the `CheckedPhoto`s that
`feedback.photos.photos_check(files)` returned, `channel` "web", "open311"
or "zalo", `external_id` the channel's own id (a chat message id, at most
100 characters). `consent_location` must be True: the reporter agreed to
the current text of `feedback.consent` (refused otherwise). A web report
needs a signed-in `reporter_user` or a `reporter_phone` the caller has
checked with a code (`gisportal.accounts.phone.phone_code_verify`); other
channels may leave both empty. Raises `FeedbackInputError` (its `errors`
map each field to bilingual messages) and changes nothing when the input
is bad. The report is routed (`selectors.agency_responsible`) and gets its
Decision 766 deadlines on the working-day calendar."""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from dossiers.calendar import WorkingCalendar, working_calendar
from dossiers.models import FINISHED_STATUSES as DOSSIER_FINISHED
from dossiers.selectors import dossier_get_for_user
from dossiers.services import dossier_record_event
from gisportal.accounts.models import Agency, Role
from gisportal.accounts.phone import PhoneInvalid, phone_normalize
from gisportal.accounts.selectors import Actor, actor_for, user_display_name
from gisportal.api import message

from . import consent
from .errors import FeedbackInputError, FeedbackNotAllowed, RatingNotAllowed
from .models import Category, Channel, Feedback, FeedbackEvent, Follow, LocationConsent, LocationSource, Photo, Rating
from .models import Status as S
from .photos import CheckedPhoto, photo_write, photos_remove
from .selectors import (
    agency_responsible,
    category_get,
    commune_at,
    commune_representative_point,
    feedback_actions,
    feedback_get_for_user,
    feedback_may_act,
    feedback_public_get,
    mercator,
    places_match,
    public_position,
)
from .workflow import BY_ACTION

MAX_TEXT = 4000
MAX_NOTE = 4000
MAX_COMMENT = 1000
# Decision 766/QĐ-TTg: working days to refuse, to ask for more, to answer,
# and to publish the answer once given.
REFUSE_DAYS, INFO_DAYS, ANSWER_DAYS, PUBLISH_DAYS = 2, 5, 15, 2


def _fail(errors: dict[str, list[str]], name: str, vi: str, en: str) -> None:
    errors.setdefault(name, []).append(message(vi, en))


# --- submission ------------------------------------------------------------------------


@dataclass
class FeedbackDraft:
    """A checked, routed report, not yet written (`feedback_prepare`)."""

    category: Category
    text: str
    lon: float
    lat: float
    location_source: str
    address_text: str
    commune: object
    agency: Agency
    channel: str
    consent_version: str
    consent_via: str = ""
    photos: list[CheckedPhoto] = field(default_factory=list)
    reporter_user: object = None
    reporter_phone: str = ""
    reporter_phone_verified: bool = False
    reporter_name: str = ""
    reporter_email: str = ""
    external_id: str = ""
    media_url: str = ""
    api_key: object = None


def _location(errors, *, lon, lat, address_text: str):
    """(lon, lat, source, commune) or Nones with the errors noted."""
    if (lon is None) != (lat is None):
        _fail(errors, "lat" if lat is None else "lon", "Cần cả kinh độ và vĩ độ.", "Give both lon and lat.")
        return None
    if lon is not None:
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lon, lat)) or not (
            -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            _fail(errors, "location", "Toạ độ WGS84 không hợp lệ.", "Invalid WGS84 coordinates.")
            return None
        commune = commune_at(lon=lon, lat=lat)
        if commune is None:
            _fail(
                errors,
                "location",
                "Vị trí nằm ngoài tỉnh Bắc Ninh.",
                "The location is outside Bắc Ninh province.",
            )
            return None
        return lon, lat, LocationSource.POINT, commune
    if address_text.strip():
        places = places_match(q=address_text)
        if not places:
            _fail(
                errors,
                "address",
                "Không tìm thấy xã, phường nào của tỉnh trong địa chỉ này; hãy chọn vị trí trên bản đồ.",
                "No commune or ward of the province found in this address; choose the place on the map.",
            )
            return None
        commune = places[0].commune
        x, y = commune_representative_point(commune)
        return x, y, LocationSource.ADDRESS, commune
    _fail(
        errors,
        "location",
        "Cần vị trí: chọn trên bản đồ, dùng vị trí của bạn, hoặc nhập địa chỉ.",
        "A location is required: a map point, your position, or an address.",
    )
    return None


def feedback_prepare(
    *,
    category_code: str,
    text: str,
    lon: float | None,
    lat: float | None,
    photos: list,
    reporter_phone: str = "",
    reporter_user=None,
    channel: str = "web",
    external_id: str = "",
    consent_location: bool = False,
    address_text: str = "",
    consent_version: str = consent.CURRENT_VERSION,
    consent_via: str = "",
    reporter_phone_verified: bool = False,
    reporter_name: str = "",
    reporter_email: str = "",
    media_url: str = "",
    api_key=None,
) -> FeedbackDraft:
    """Checks and routes a report without writing anything; FeedbackInputError
    naming every bad field."""
    errors: dict[str, list[str]] = {}
    category = category_get(code=category_code)
    if category is None:
        _fail(errors, "category", "Không có lĩnh vực phản ánh này.", "No such feedback category.")
    text = (text or "").strip()
    if not text:
        _fail(errors, "text", "Cần nội dung phản ánh.", "The text of the report is required.")
    elif len(text) > MAX_TEXT:
        _fail(errors, "text", f"Tối đa {MAX_TEXT:,} ký tự.", f"At most {MAX_TEXT:,} characters.")
    if channel not in Channel.values:
        _fail(errors, "channel", "Kênh là web, open311 hoặc zalo.", "The channel is web, open311 or zalo.")
    address_text = (address_text or "").strip()
    if len(address_text) > 300:
        _fail(errors, "address", "Địa chỉ tối đa 300 ký tự.", "The address is at most 300 characters.")
        address_text = ""
    if len(external_id) > 100:
        _fail(errors, "external_id", "Tối đa 100 ký tự.", "At most 100 characters.")
    if consent_location is not True:
        _fail(
            errors,
            "consent_location",
            "Cần bạn đồng ý cho xử lý vị trí (dữ liệu cá nhân nhạy cảm) thì mới gửi được phản ánh.",
            "Your consent to the processing of the location (sensitive personal data) is required.",
        )
    elif consent_version not in consent.TEXTS or consent_version != consent.CURRENT_VERSION:
        _fail(
            errors,
            "consent_version",
            f"Nội dung đồng ý đã thay đổi (phiên bản hiện tại {consent.CURRENT_VERSION}); hãy đọc và đồng ý lại.",
            f"The consent text has changed (current version {consent.CURRENT_VERSION}); read and agree again.",
        )
    phone = ""
    if reporter_phone:
        try:
            phone = phone_normalize(reporter_phone)
        except PhoneInvalid as invalid:
            _fail(errors, "phone", invalid.vi, invalid.en)
    signed_in = reporter_user is not None and reporter_user.is_authenticated
    if channel == Channel.WEB and not signed_in and not phone and "phone" not in errors:
        _fail(
            errors,
            "phone",
            "Cần đăng nhập, hoặc số điện thoại đã xác thực bằng mã.",
            "Sign in, or give a phone number checked with a code.",
        )
    if reporter_email:
        try:
            validate_email(reporter_email)
        except ValidationError:
            _fail(errors, "email", "Địa chỉ e-mail không hợp lệ.", "Not a valid e-mail address.")
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            _fail(errors, "media_url", "Phải là địa chỉ http(s).", "Must be an http(s) URL.")
    if len(photos) > _max_photos():
        _fail(errors, "photos", f"Tối đa {_max_photos()} ảnh.", f"At most {_max_photos()} photos.")
    located = _location(errors, lon=lon, lat=lat, address_text=address_text)
    agency = None
    if located and category is not None:
        agency = agency_responsible(category=category, commune=located[3])
        if agency is None:
            _fail(errors, "category", "Chưa có cơ quan nhận lĩnh vực này.", "No agency receives this category yet.")
    if errors:
        raise FeedbackInputError(errors)
    x, y, source, commune = located
    return FeedbackDraft(
        category=category,
        text=text,
        lon=float(x),
        lat=float(y),
        location_source=source,
        address_text=address_text,
        commune=commune,
        agency=agency,
        channel=channel,
        consent_version=consent_version,
        consent_via=consent_via[:150],
        photos=list(photos),
        reporter_user=reporter_user if signed_in else None,
        reporter_phone=phone,
        reporter_phone_verified=bool(phone) and reporter_phone_verified,
        reporter_name=reporter_name[:150],
        reporter_email=reporter_email,
        external_id=external_id,
        media_url=media_url,
        api_key=api_key,
    )


def _max_photos() -> int:
    return settings.FEEDBACK_PHOTO_MAX_COUNT


def _public_id(day: dt.date) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('feedback_number_seq')")
        (number,) = cursor.fetchone()
    return f"PA-{day:%y%m%d}-{number:06d}"


def deadlines(calendar: WorkingCalendar, received_at: dt.datetime) -> dict[str, dt.datetime]:
    """Decision 766 deadlines of a report received at `received_at`: the end
    of the 2nd, 5th and 15th working day after the day it counts for."""
    day = calendar.counting_day(received_at)
    return {
        "refuse_due_at": calendar.end_of(calendar.add_working_days(day, REFUSE_DAYS)),
        "info_due_at": calendar.end_of(calendar.add_working_days(day, INFO_DAYS)),
        "answer_due_at": calendar.end_of(calendar.add_working_days(day, ANSWER_DAYS)),
    }


def _event(
    report: Feedback,
    *,
    action: str,
    from_status: str,
    user,
    actor: Actor,
    at: dt.datetime,
    note: str = "",
    from_agency: Agency | None = None,
    to_agency: Agency | None = None,
    actor_name: str = "Công dân / Citizen",
) -> FeedbackEvent:
    return FeedbackEvent.objects.create(
        feedback=report,
        action=action,
        from_status=from_status,
        to_status=report.status,
        actor=user,
        actor_name=actor_name if user is None else user_display_name(user),
        actor_role=actor.role or "",
        actor_agency_id=actor.agency_id,
        from_agency=from_agency,
        to_agency=to_agency,
        note=note,
        at=at,
    )


def feedback_create(draft: FeedbackDraft, *, received_at: dt.datetime | None = None) -> Feedback:
    """Writes a prepared report: the row, its photos (files first, removed
    again if the transaction fails), the consent record and the receipt event."""
    now = received_at or timezone.now()
    calendar = working_calendar()
    due = deadlines(calendar, now)
    x, y = mercator(*public_position(draft.lon, draft.lat, exact=False))
    written: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            report = Feedback.objects.create(
                public_id=_public_id(timezone.localtime(now).date()),
                token=secrets.token_urlsafe(16),
                category=draft.category,
                text=draft.text,
                location=Point(draft.lon, draft.lat, srid=4326),
                location_source=draft.location_source,
                address_text=draft.address_text,
                public_x=x,
                public_y=y,
                commune=draft.commune,
                agency=draft.agency,
                status=S.RECEIVED,
                channel=draft.channel,
                external_id=draft.external_id,
                api_key=draft.api_key,
                reporter_user=draft.reporter_user,
                reporter_phone=draft.reporter_phone,
                reporter_phone_verified=draft.reporter_phone_verified,
                reporter_name=draft.reporter_name,
                reporter_email=draft.reporter_email,
                media_url=draft.media_url,
                received_at=now,
                due_at=due["refuse_due_at"],
                updated_at=now,
                **due,
            )
            for photo in draft.photos:
                original = photo_write("original", photo.original.content, photo.original.suffix)
                written.append(("original", original))
                public = photo_write("public", photo.public_jpeg, ".jpg")
                written.append(("public", public))
                Photo.objects.create(
                    feedback=report,
                    original_name=photo.original.original_name,
                    original_stored=original,
                    original_type=photo.original.content_type,
                    original_size=len(photo.original.content),
                    sha256=photo.original.sha256,
                    public_stored=public,
                    width=photo.width,
                    height=photo.height,
                    uploaded_at=now,
                )
            LocationConsent.objects.create(
                feedback=report,
                purpose=consent.PURPOSE,
                text_version=draft.consent_version,
                channel=draft.channel,
                given_at=now,
                given_via=draft.consent_via,
            )
            _event(
                report,
                action="receive",
                from_status="",
                user=draft.reporter_user,
                actor=actor_for(draft.reporter_user),
                at=now,
                note=Channel(draft.channel).label,
                to_agency=draft.agency,
                actor_name=draft.reporter_name or "Công dân / Citizen",
            )
    except BaseException:
        photos_remove(written)
        raise
    return report


def feedback_submit(
    *,
    category_code: str,
    text: str,
    lon: float | None,
    lat: float | None,
    photos: list,
    reporter_phone: str = "",
    reporter_user=None,
    channel: str = "web",
    external_id: str = "",
    consent_location: bool = False,
    address_text: str = "",
) -> Feedback:
    """Checks, routes and writes a report (see the module docstring)."""
    draft = feedback_prepare(
        category_code=category_code,
        text=text,
        lon=lon,
        lat=lat,
        photos=photos,
        reporter_phone=reporter_phone,
        reporter_user=reporter_user,
        channel=channel,
        external_id=external_id,
        consent_location=consent_location,
        address_text=address_text,
        # The other channels check the phone themselves (Zalo: the linked follower).
        reporter_phone_verified=bool(reporter_phone),
    )
    return feedback_create(draft)


# --- what the public may read --------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Nine or more digits, maybe with the usual separators: phone and ID numbers.
_LONG_NUMBER = re.compile(r"\+?\d(?:[ .\-]?\d){8,}")


def text_redact(text: str) -> str:
    """The text with e-mail addresses and phone or ID numbers masked: the
    default public text of a published report (the leader may write another)."""
    text = _EMAIL.sub("[e-mail]", text)
    return _LONG_NUMBER.sub("[số / number]", text)


# --- the workflow ------------------------------------------------------------------------


def _refused(actor: Actor, report: Feedback, action: str) -> FeedbackNotAllowed:
    allowed = [t.action for t in feedback_actions(actor, report)]
    if not feedback_may_act(actor, report):
        return FeedbackNotAllowed(
            message(
                f"Bạn chỉ được xem phản ánh này, không được xử lý ('{action}'): phản ánh đang do "
                f"{report.agency.name} giải quyết.",
                f"You may read this report but not act on it ('{action}'): it is handled by {report.agency.name}.",
            ),
            status=report.status,
            allowed=[],
        )
    listed = ", ".join(allowed) or "—"
    return FeedbackNotAllowed(
        message(
            f"Không thể '{action}' khi phản ánh ở trạng thái '{report.status}' với vai trò của bạn. "
            f"Thao tác được phép: {listed}.",
            f"'{action}' is not allowed from status '{report.status}' for your role. Allowed: {listed}.",
        ),
        status=report.status,
        allowed=allowed,
    )


def _transfer_target(report: Feedback, agency_code: str | None) -> Agency:
    agency = Agency.objects.filter(code=agency_code or "").first()
    if agency is None:
        raise FeedbackInputError.one(
            "agency", "Cần mã cơ quan nhận hợp lệ.", "A valid receiving agency code is required."
        )
    if agency.pk == report.agency_id:
        raise FeedbackInputError.one(
            "agency", "Phản ánh đang ở cơ quan này.", "The report is already with this agency."
        )
    return agency


def feedback_transition(
    *,
    public_id: str,
    action: str,
    acting_user,
    note: str = "",
    agency_code: str | None = None,
    public_text: str | None = None,
    at: dt.datetime | None = None,
) -> Feedback:
    """Applies one move of `feedback.workflow`. Feedback.DoesNotExist when the
    caller may not see the report (404); FeedbackInputError for a bad action,
    a missing note or agency (400); FeedbackNotAllowed (409) when the caller
    may read but not act, or the table does not allow the move."""
    transition = BY_ACTION.get(action)
    if transition is None:
        raise FeedbackInputError.one(
            "action",
            "Thao tác không hợp lệ: " + ", ".join(BY_ACTION),
            "Unknown action; use one of: " + ", ".join(BY_ACTION),
        )
    note = (note or "").strip()
    if transition.note_required and not note:
        raise FeedbackInputError.one("note", "Cần ghi nội dung, lý do.", "A note is required.")
    if len(note) > MAX_NOTE:
        raise FeedbackInputError.one("note", f"Tối đa {MAX_NOTE:,} ký tự.", f"At most {MAX_NOTE:,} characters.")
    if public_text is not None and len(public_text.strip()) > MAX_TEXT:
        raise FeedbackInputError.one("public_text", "Tối đa 4.000 ký tự.", "At most 4,000 characters.")
    actor = actor_for(acting_user)
    at = at or timezone.now()
    with transaction.atomic():
        report = feedback_get_for_user(user=acting_user, public_id=public_id, for_update=True)
        if (
            not feedback_may_act(actor, report)
            or report.status not in transition.sources
            or (actor.role not in transition.roles)
        ):
            raise _refused(actor, report, action)
        to_agency = _transfer_target(report, agency_code) if transition.needs_agency else None
        from_status, from_agency = report.status, report.agency
        _apply(report, action, transition.target, note=note, at=at, to_agency=to_agency, public_text=public_text)
        _event(
            report,
            action=action,
            from_status=from_status,
            user=acting_user,
            actor=actor,
            at=at,
            note=note,
            from_agency=from_agency if to_agency else None,
            to_agency=to_agency,
        )
    return report


def _apply(report: Feedback, action: str, target: str, *, note, at, to_agency, public_text) -> None:
    calendar = working_calendar()
    changed = {"status", "updated_at", "due_at", "status_note"}
    report.status, report.updated_at = target, at
    if action == "accept":
        report.status_note, report.due_at = "", report.answer_due_at
    elif action == "refuse":
        report.status_note, report.due_at = note, None
    elif action == "request_info":
        report.status_note, report.due_at = note, None
        if report.paused_at is None:
            report.paused_at = at
            changed.add("paused_at")
    elif action == "provide_info":
        lost = calendar.paused_working_days(report.paused_at, at) if report.paused_at else 0
        day = timezone.localtime(report.answer_due_at).date()
        report.answer_due_at = calendar.end_of(calendar.add_working_days(day, lost))
        report.paused_working_days += lost
        report.paused_at = None
        report.status_note, report.due_at = "", report.answer_due_at
        changed |= {"answer_due_at", "paused_working_days", "paused_at"}
    elif action == "transfer":
        # The deadlines stay those of the receipt: the citizen's wait does
        # not restart because the report changed hands.
        report.agency = to_agency
        report.status_note, report.due_at = "", report.refuse_due_at
        changed.add("agency")
    elif action == "answer":
        report.answer, report.answered_at = note, at
        report.publish_due_at = calendar.end_of(calendar.add_working_days(calendar.counting_day(at), PUBLISH_DAYS))
        report.status_note, report.due_at = "", report.publish_due_at
        changed |= {"answer", "answered_at", "publish_due_at"}
    elif action == "publish":
        report.published_at = at
        report.public_text = (public_text or "").strip() or text_redact(report.text)
        # Published: the public map shows the exact place.
        report.public_x, report.public_y = mercator(report.location.x, report.location.y)
        report.status_note, report.due_at = "", None
        changed |= {"published_at", "public_text", "public_x", "public_y"}
    elif action == "close":
        report.closed_at, report.due_at = at, None
        changed.add("closed_at")
    report.save(update_fields=sorted(changed))


# --- follows and ratings -------------------------------------------------------------------


def feedback_follow(*, public_id: str, user=None, phone: str = "") -> tuple[Feedback, bool]:
    """Records that a signed-in citizen, or the holder of a phone the caller
    checked with a code, follows the report; (report, newly followed)."""
    report = feedback_public_get(public_id=public_id)
    if report is None:
        raise Feedback.DoesNotExist
    signed_in = user is not None and user.is_authenticated
    if not signed_in and not phone:
        raise FeedbackInputError.one(
            "phone", "Cần đăng nhập hoặc số điện thoại đã xác thực.", "Sign in, or give a checked phone number."
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            Follow.objects.create(
                feedback=report, user=user if signed_in else None, phone="" if signed_in else phone, created_at=now
            )
            Feedback.objects.filter(pk=report.pk).update(followers=F("followers") + 1)
    except IntegrityError:
        return report, False
    report.refresh_from_db(fields=["followers"])
    return report, True


def _score(score, comment: str) -> tuple[int, str]:
    errors: dict[str, list[str]] = {}
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        _fail(errors, "score", "Điểm là số nguyên từ 1 đến 5.", "The score is a whole number from 1 to 5.")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        _fail(errors, "comment", f"Tối đa {MAX_COMMENT:,} ký tự.", f"At most {MAX_COMMENT:,} characters.")
    if errors:
        raise FeedbackInputError(errors)
    return score, comment


_ALREADY = message("Đã đánh giá rồi; mỗi lần chỉ được đánh giá một lần.", "Already rated; a rating is given once.")


def feedback_rate(*, public_id: str, score: int, comment: str = "", acting_user=None, phone: str = "") -> Rating:
    """The reporter rates the published answer of their report, once: signed
    in as the reporter, or with the reporter's phone (checked with a code by
    the caller). 404 for a report they may not see (not theirs)."""
    score, comment = _score(score, comment)
    signed_in = acting_user is not None and acting_user.is_authenticated
    now = timezone.now()
    with transaction.atomic():
        report = Feedback.objects.select_for_update().filter(public_id=public_id).first()
        mine = report is not None and (
            (signed_in and report.reporter_user_id == acting_user.pk)
            or (bool(phone) and report.reporter_phone == phone)
        )
        if not mine:
            raise Feedback.DoesNotExist
        if report.status not in (S.PUBLISHED, S.CLOSED):
            raise RatingNotAllowed(
                message(
                    "Chỉ đánh giá được khi câu trả lời đã công khai.", "An answer can be rated once it is published."
                ),
                status_code=409,
            )
        if Rating.objects.filter(feedback=report).exists():
            raise RatingNotAllowed(_ALREADY, status_code=409)
        return Rating.objects.create(
            subject=Rating.Subject.FEEDBACK,
            feedback=report,
            score=score,
            comment=comment,
            rated_by=acting_user if signed_in else None,
            rated_by_phone="" if signed_in else phone,
            rated_at=now,
            day=timezone.localtime(now).date(),
            agency_id=report.agency_id,
            commune_id=report.commune_id,
        )


def dossier_rate(*, code: str, score: int, comment: str = "", acting_user) -> Rating:
    """The applicant rates a finished dossier, once. Dossier.DoesNotExist
    (404) when the caller may not see it; RatingNotAllowed: 403 for someone
    who sees it but did not apply, 409 when it is not finished or was rated.
    The rating is recorded on the dossier's timeline (`feedback_rating`)."""
    score, comment = _score(score, comment)
    with transaction.atomic():
        dossier = dossier_get_for_user(user=acting_user, code=code, for_update=True)
        if actor_for(acting_user).role != Role.CITIZEN or dossier.applicant_id != acting_user.pk:
            raise RatingNotAllowed(
                message("Chỉ người nộp hồ sơ được đánh giá.", "Only the applicant rates a dossier."), status_code=403
            )
        if dossier.finished_at is None or dossier.status not in DOSSIER_FINISHED:
            raise RatingNotAllowed(
                message("Hồ sơ chưa giải quyết xong.", "The dossier is not finished yet."), status_code=409
            )
        if Rating.objects.filter(dossier_id=dossier.pk).exists():
            raise RatingNotAllowed(_ALREADY, status_code=409)
        now = timezone.now()
        rating = Rating.objects.create(
            subject=Rating.Subject.DOSSIER,
            dossier_id=dossier.pk,
            score=score,
            comment=comment,
            rated_by=acting_user,
            rated_at=now,
            day=timezone.localtime(now).date(),
            agency_id=dossier.agency_id,
            service_point_id=dossier.receiving_point_id,
            commune_id=dossier.applicant_commune_id,
        )
        dossier_record_event(
            dossier_id=dossier.pk, action="feedback_rating", note=f"{score}/5", acting_user=acting_user, at=now
        )
    return rating
