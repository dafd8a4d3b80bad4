"""Citizens' feedback (phản ánh, kiến nghị) with a location, its handling,
satisfaction ratings, and the Open311 API keys.

Statuses change only through `feedback.services` following the table in
`feedback.workflow`, one `FeedbackEvent` row each."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex
from django.core.validators import RegexValidator
from django.db.models import F, Func, Q
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy

from gisportal.accounts.models import Agency, Sector


class Category(models.Model):
    """What a report is about (an Open311 service), kept by administrators,
    and who answers it: the people's committee of the commune where it
    happened (local matters), or the provincial department of a sector."""

    class Scope(models.TextChoices):
        LOCAL = "local", "UBND xã, phường nơi xảy ra / Commune people's committee of the place"
        SECTOR = "sector", "Sở quản lý ngành / Provincial department of the sector"

    code = models.SlugField(max_length=40, unique=True, help_text="Also the Open311 service_code.")
    name = models.CharField(max_length=150)
    name_en = models.CharField(max_length=150, blank=True)
    description = models.CharField(max_length=500, blank=True)
    group = models.CharField(max_length=100, blank=True, help_text="Open311 group, e.g. Hạ tầng / Infrastructure.")
    keywords = models.CharField(max_length=300, blank=True, help_text="Comma-separated (Open311 keywords).")
    scope = models.CharField(max_length=10, choices=Scope.choices)
    sector = models.CharField(
        max_length=20, choices=Sector.choices, blank=True, help_text="The department's sector (sector scope)."
    )
    order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = gettext_lazy("category")
        verbose_name_plural = gettext_lazy("categories")
        ordering = ["order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(scope="local") | ~Q(sector=""), name="category_sector_needs_sector")
        ]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    RECEIVED = "received", "Đã tiếp nhận / Received"
    NEEDS_INFO = "needs_info", "Cần bổ sung thông tin / More information needed"
    IN_PROGRESS = "in_progress", "Đang xử lý / In progress"
    REFUSED = "refused", "Từ chối xử lý / Refused"
    ANSWERED = "answered", "Đã trả lời, chờ công khai / Answered, to be published"
    PUBLISHED = "published", "Đã công khai trả lời / Answer published"
    CLOSED = "closed", "Đã đóng / Closed"


OPEN_STATUSES = frozenset({Status.RECEIVED, Status.NEEDS_INFO, Status.IN_PROGRESS})
# What the public sees of the text and photos: the agency has answered and
# published the report in the form it approved.
PUBLIC_STATUSES = frozenset({Status.PUBLISHED, Status.CLOSED})


class Channel(models.TextChoices):
    WEB = "web", "Cổng / Web"
    OPEN311 = "open311", "Open311"
    ZALO = "zalo", "Zalo"


class LocationSource(models.TextChoices):
    POINT = "point", "Điểm trên bản đồ hoặc vị trí thiết bị / Map point or device position"
    ADDRESS = "address", "Địa chỉ (điểm đại diện của xã) / Address (the commune's representative point)"


class Feedback(models.Model):
    public_id = models.CharField(max_length=20, unique=True, help_text="PA-YYMMDD-NNNNNN; Open311 service_request_id.")
    token = models.CharField(max_length=32, unique=True, help_text="Open311 token.")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="reports")
    text = models.TextField(help_text="As the reporter wrote it; never public.")
    public_text = models.TextField(blank=True, help_text="What the public sees once published.")
    location = models.PointField(srid=4326, spatial_index=False)
    location_source = models.CharField(max_length=10, choices=LocationSource.choices)
    address_text = models.CharField(max_length=300, blank=True, help_text="As typed; never public.")
    # The public map's position (EPSG:3857 metres): the exact point once
    # published, else snapped to a grid (FEEDBACK_PUBLIC_GRID_DEG).
    public_x = models.FloatField()
    public_y = models.FloatField()
    commune = models.ForeignKey(
        "layers.AdministrativeUnit", on_delete=models.PROTECT, related_name="+", help_text="2025 map."
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="feedback", help_text="Handling it now.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    external_id = models.CharField(max_length=100, blank=True, help_text="The channel's own id (chat message).")
    api_key = models.ForeignKey(
        "ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Open311 client."
    )
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    reporter_phone = models.CharField(max_length=16, blank=True, help_text="E.164.")
    reporter_phone_verified = models.BooleanField(default=False)
    reporter_name = models.CharField(max_length=150, blank=True)
    reporter_email = models.EmailField(blank=True)
    media_url = models.URLField(max_length=500, blank=True, help_text="Open311 media_url as given.")
    received_at = models.DateTimeField()
    # Decision 766: refuse within 2 working days, ask for more within 5,
    # answer within 15 (pauses while waiting for the reporter added), publish
    # the answer within 2 after answering.
    refuse_due_at = models.DateTimeField()
    info_due_at = models.DateTimeField()
    answer_due_at = models.DateTimeField()
    publish_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="The deadline of the current status.")
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_working_days = models.PositiveSmallIntegerField(default=0)
    status_note = models.TextField(blank=True, help_text="Public: the refusal, question or answer.")
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    followers = models.PositiveIntegerField(default=0)
    is_demo = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = gettext_lazy("feedback")
        verbose_name_plural = gettext_lazy("feedback reports")
        ordering = ["-received_at", "-id"]
        indexes = [
            GistIndex(fields=["location"], name="feedback_location_gist"),
            # Nearby reports within metres (geodesic): `::geography(Point,4326)`.
            GistIndex(Cast("location", models.PointField(srid=4326, geography=True)), name="feedback_geog_gist"),
            models.Index(fields=["agency", "status", "due_at"], name="feedback_agency_status_due"),
            models.Index(fields=["reporter_user", "-received_at"], name="feedback_reporter"),
            # The public map: a period, then the cell of each point, from the index alone.
            models.Index(
                fields=["received_at"], include=["public_x", "public_y", "category", "status"], name="feedback_map"
            ),
            # ... and, up close, the reports in view (`ST_MakePoint(public_x, public_y) && envelope`).
            GistIndex(
                Func(F("public_x"), F("public_y"), function="ST_MakePoint", output_field=models.PointField()),
                name="feedback_public_point_gist",
            ),
            models.Index(fields=["updated_at"], name="feedback_updated"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(answer_due_at__gte=models.F("received_at")), name="feedback_due_after"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES


class FeedbackEvent(models.Model):
    """Every step of a report: who, in which role and agency, from which status
    to which, when, why."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=12, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept as it was at the time.")
    actor_role = models.CharField(max_length=20, blank=True)
    actor_agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    from_agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["feedback", "at"], name="feedbackevent_feedback_at"),
            models.Index(fields=["from_agency"], name="feedbackevent_from_agency", condition=Q(action="transfer")),
        ]

    def __str__(self) -> str:
        return f"{self.feedback_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class Photo(models.Model):
    """A photo of a report: the original as sent (private: officials and the
    reporter), and a public copy re-encoded without any metadata (EXIF GPS
    included), shown once the report is published."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="photos")
    original_name = models.CharField(max_length=255)
    original_stored = models.CharField(max_length=80, unique=True)
    original_type = models.CharField(max_length=50)
    original_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    public_stored = models.CharField(max_length=80, unique=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


class LocationConsent(models.Model):
    """The reporter's explicit consent to process the location of a report
    (locations are sensitive personal data, Law 91/2025/QH15): for which
    purpose, which text they agreed to, when, through which channel."""

    feedback = models.OneToOneField(Feedback, on_delete=models.CASCADE, related_name="consent")
    purpose = models.CharField(max_length=40)
    text_version = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    given_at = models.DateTimeField()
    given_via = models.CharField(max_length=150, blank=True, help_text="E.g. the Open311 client that collected it.")


class Follow(models.Model):
    """A citizen's interest in a report (instead of reporting it again)."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    phone = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feedback", "user"], condition=Q(user__isnull=False), name="follow_once_per_user"
            ),
            models.UniqueConstraint(fields=["feedback", "phone"], condition=~Q(phone=""), name="follow_once_per_phone"),
            models.CheckConstraint(condition=Q(user__isnull=False) | ~Q(phone=""), name="follow_has_someone"),
        ]


class Rating(models.Model):
    """A satisfaction rating (1-5): of a finished dossier by its applicant, or
    of a feedback answer by its reporter; once each. The groups the Decision
    766 indicator counts by are copied in when it is written."""

    class Subject(models.TextChoices):
        DOSSIER = "dossier", "Hồ sơ / Dossier"
        FEEDBACK = "feedback", "Phản ánh / Feedback"

    subject = models.CharField(max_length=10, choices=Subject.choices)
    # The dossier's id, not a foreign key: the dossier core knows nothing of
    # ratings, and its demo history is replaced by TRUNCATE.
    dossier_id = models.BigIntegerField(null=True, blank=True, unique=True)
    feedback = models.OneToOneField(Feedback, null=True, blank=True, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=1000, blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    rated_by_phone = models.CharField(max_length=16, blank=True)
    rated_at = models.DateTimeField()
    day = models.DateField(help_text="Local date of the rating: the indicator's period.")
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service_point = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    commune = models.ForeignKey(
        "layers.AdministrativeUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = gettext_lazy("rating")
        verbose_name_plural = gettext_lazy("ratings")
        indexes = [
            models.Index(
                fields=["day"], include=["score", "agency", "service_point", "commune"], name="rating_day_groups"
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_1_5"),
            models.CheckConstraint(
                condition=(Q(subject="dossier", dossier_id__isnull=False, feedback__isnull=True))
                | (Q(subject="feedback", feedback__isnull=False, dossier_id__isnull=True)),
                name="rating_one_subject",
            ),
        ]


class ApiKey(models.Model):
    """An Open311 client's key, issued by an administrator (shown once; only
    its SHA-256 is kept). The holder agrees to collect the reporter's consent
    to process the location (`consent_terms_version`) before posting."""

    name = models.CharField(max_length=150, help_text="The integrator (application, organisation).")
    contact_email = models.EmailField(blank=True)
    prefix = models.CharField(max_length=12, unique=True, help_text="First characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    consent_terms_version = models.CharField(max_length=40, help_text="Terms the holder accepted.")
    rate = models.CharField(
        max_length=20,
        default="60/min",
        validators=[RegexValidator(r"^[1-9][0-9]{0,6}/(s|sec|m|min|h|hour|d|day)$", "e.g. 60/min, 1000/day")],
        help_text="POST requests allowed, e.g. 60/min, 1000/day.",
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("Open311 API key")
        verbose_name_plural = gettext_lazy("Open311 API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
