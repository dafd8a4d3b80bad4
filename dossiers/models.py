"""The procedure catalogue, dossiers and their one-stop life cycle.

Status changes never happen here: `dossiers.workflow` holds the table of
allowed moves and `dossiers.services` applies them, one event row each."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from .provinces import province_code_field


class AdministrativeLevel(models.TextChoices):
    PROVINCE = "province", "Cấp tỉnh / Province"
    DISTRICT = "district", "Cấp huyện / District"
    COMMUNE = "commune", "Cấp xã / Commune"


class OnlineLevel(models.TextChoices):
    """Decree 42/2022 Art. 11; the old Decree 43/2011 level is kept beside it."""

    FULL = "full", "Toàn trình / Full process"
    PARTIAL = "partial", "Một phần / Partial"


class Sector(models.Model):
    """A field of the national catalogue (Hộ tịch, Đất đai, ...)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=150)
    name_en = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = gettext_lazy("sector")
        verbose_name_plural = gettext_lazy("sectors")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Procedure(models.Model):
    code = models.CharField(
        verbose_name=gettext_lazy("code"),
        max_length=20,
        unique=True,
        help_text=gettext_lazy("National catalogue code, e.g. 1.001193."),
    )
    name = models.CharField(verbose_name=gettext_lazy("name"), max_length=500)
    sector = models.ForeignKey(
        Sector, verbose_name=gettext_lazy("sector"), on_delete=models.PROTECT, related_name="procedures"
    )
    agency = models.ForeignKey(
        "accounts.Agency",
        verbose_name=gettext_lazy("agency"),
        on_delete=models.PROTECT,
        related_name="procedures",
        help_text=gettext_lazy("Implementing agency."),
    )
    level = models.CharField(
        verbose_name=gettext_lazy("administrative level"), max_length=10, choices=AdministrativeLevel.choices
    )
    online_level = models.CharField(
        verbose_name=gettext_lazy("online level"), max_length=10, choices=OnlineLevel.choices
    )
    old_online_level = models.PositiveSmallIntegerField(
        verbose_name=gettext_lazy("old online level"),
        null=True,
        blank=True,
        choices=[(2, gettext_lazy("Level 2")), (3, gettext_lazy("Level 3")), (4, gettext_lazy("Level 4"))],
    )
    processing_days = models.PositiveSmallIntegerField(
        verbose_name=gettext_lazy("processing days"), help_text=gettext_lazy("Working days from receipt to result.")
    )
    fee_vnd = models.PositiveIntegerField(
        verbose_name=gettext_lazy("fee (VND)"),
        default=0,
        help_text=gettext_lazy("Fee and charges in VND; 0 when free."),
    )
    fee_note = models.CharField(verbose_name=gettext_lazy("fee note"), max_length=300, blank=True)
    required_documents = models.JSONField(
        verbose_name=gettext_lazy("required documents"),
        default=list,
        blank=True,
        help_text=gettext_lazy("List of documents to submit."),
    )
    result = models.CharField(
        verbose_name=gettext_lazy("result"),
        max_length=300,
        blank=True,
        help_text=gettext_lazy("What the applicant receives."),
    )
    postal_submission_allowed = models.BooleanField(
        verbose_name=gettext_lazy("submission by post allowed"), default=True
    )
    postal_result_allowed = models.BooleanField(verbose_name=gettext_lazy("result by post allowed"), default=True)
    legal_basis = models.TextField(verbose_name=gettext_lazy("legal basis"), blank=True)
    is_demo_values = models.BooleanField(
        verbose_name=gettext_lazy("demo values"),
        default=False,
        help_text=gettext_lazy("Fee or processing time chosen for the demo, not taken from the catalogue."),
    )
    is_active = models.BooleanField(verbose_name=gettext_lazy("active"), default=True)
    # The procedure's own process (dossiers.process): steps of the workflow's
    # main path with their roles and working days; [] = the workflow table.
    process = models.JSONField(
        verbose_name=gettext_lazy("process"),
        default=list,
        blank=True,
        help_text=gettext_lazy(
            'Steps in the workflow\'s order, e.g. [{"action": "receive", "roles": ["desk_officer"], "days": 1}, '
            '{"action": "approve", "roles": ["leader"], "days": 1}]. Actions: receive, assign, start, approve, '
            "mark_result_ready, return_result; roles among those the workflow allows for the action; the days add "
            "up to at most the processing days. Empty: the workflow as it stands."
        ),
    )
    updated_at = models.DateTimeField(verbose_name=gettext_lazy("updated at"), auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("procedure")
        verbose_name_plural = gettext_lazy("procedures")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["sector", "level", "online_level"], name="procedure_filters"),
            # The trigram index on f_unaccent(lower(name)) is created in the
            # migration: Django cannot express an index on a SQL function
            # of ours.
        ]
        constraints = [
            models.CheckConstraint(condition=Q(processing_days__gte=0), name="procedure_days_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        from .process import process_problems

        problems = process_problems(self.process, self.processing_days)
        if problems:
            from django.core.exceptions import ValidationError

            raise ValidationError({"process": problems})


class ProcedureForm(models.Model):
    """A downloadable form (mẫu đơn, tờ khai) of a procedure."""

    UPLOAD_TO = "procedure-forms/"

    procedure = models.ForeignKey(
        Procedure, verbose_name=gettext_lazy("procedure"), on_delete=models.CASCADE, related_name="forms"
    )
    title = models.CharField(verbose_name=gettext_lazy("title"), max_length=300)
    file = models.FileField(verbose_name=gettext_lazy("file"), upload_to=UPLOAD_TO, blank=True)
    url = models.URLField(
        verbose_name=gettext_lazy("address (URL)"),
        blank=True,
        help_text=gettext_lazy("Where the form is published, if not uploaded here."),
    )

    class Meta:
        verbose_name = gettext_lazy("procedure form")
        verbose_name_plural = gettext_lazy("procedure forms")

    def __str__(self) -> str:
        return self.title


class CalendarException(models.Model):
    """A day that breaks the weekly rule: a moved day off on a weekday, or a
    make-up working Saturday. Public holidays come from `holidays` (VN)."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", "Ngày nghỉ / Day off"
        WORKING_DAY = "working_day", "Ngày làm việc bù / Working day"

    date = models.DateField(unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = gettext_lazy("calendar exception")
        verbose_name_plural = gettext_lazy("calendar exceptions")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class Channel(models.IntegerChoices):
    IN_PERSON = 1, "Trực tiếp / In person"
    ONLINE = 2, "Trực tuyến / Online"
    POST = 3, "Bưu chính công ích / Public post"


class Status(models.TextChoices):
    RECEIVED = "received", "Đã tiếp nhận / Received"
    ASSIGNED = "assigned", "Đã chuyển cơ quan xử lý / Assigned to an agency"
    PROCESSING = "processing", "Đang xử lý / In processing"
    WAITING_SUPPLEMENT = "waiting_supplement", "Chờ bổ sung / Waiting for supplement"
    SUPPLEMENTED = "supplemented", "Đã bổ sung / Supplemented"
    TRANSFERRED = "transferred", "Chuyển cơ quan, cấp khác / Transferred"
    APPROVED = "approved", "Đã phê duyệt / Approved"
    REFUSED = "refused", "Từ chối / Refused"
    RESULT_READY = "result_ready", "Có kết quả / Result ready"
    RESULT_RETURNED = "result_returned", "Đã trả kết quả / Result returned"
    WITHDRAWN = "withdrawn", "Công dân rút hồ sơ / Withdrawn"
    STOPPED = "stopped", "Dừng xử lý / Stopped"
    # An online submission waits for a desk officer of its service point to
    # check it (receive, ask to complete, or refuse). Appended last: the
    # density counts key statuses by their position in this list.
    WAITING_RECEIPT = "waiting_receipt", "Chờ tiếp nhận / Waiting for receipt"
    WAITING_COMPLETION = "waiting_completion", "Chờ hoàn thiện để tiếp nhận / Asked to complete before receipt"


# Not yet received: no receipt time, no deadline, not in the indicators.
PRE_RECEIPT_STATUSES = frozenset({Status.WAITING_RECEIPT, Status.WAITING_COMPLETION})
# The statuses in the order of the life cycle (for sorting; Status itself
# keeps its historical order).
LIFE_CYCLE = (
    Status.WAITING_RECEIPT,
    Status.WAITING_COMPLETION,
    *(s for s in Status if s not in (Status.WAITING_RECEIPT, Status.WAITING_COMPLETION)),
)


OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.ASSIGNED,
        Status.PROCESSING,
        Status.WAITING_SUPPLEMENT,
        Status.SUPPLEMENTED,
        Status.TRANSFERRED,
        Status.APPROVED,
        Status.WAITING_RECEIPT,
        Status.WAITING_COMPLETION,
    }
)
# A result exists (or was refused): the agency's clock has stopped.
FINISHED_STATUSES = frozenset({Status.REFUSED, Status.RESULT_READY, Status.RESULT_RETURNED})


class Timeliness(models.TextChoices):
    EARLY = "early", "Trước hạn / Early"
    ON_TIME = "on_time", "Đúng hạn / On time"
    LATE = "late", "Quá hạn / Late"


# H3 resolutions stored on every dossier (h3_r6 .. h3_r9): density maps
# count by these columns.
H3_RESOLUTIONS = (6, 7, 8, 9)


class Delivery(models.TextChoices):
    DESK = "desk", "Nhận tại bộ phận một cửa / At the desk"
    POST = "post", "Qua bưu chính / By post"


class PostalPickup(models.TextChoices):
    """How the paper dossier of an online submission reaches the desk through
    the public post (Decision 45/2016): the postal worker collects it at the
    applicant's home, or the applicant drops it at a post office."""

    HOME = "home", "Bưu điện đến nhận tại nhà / Collected at home"
    POST_OFFICE = "post_office", "Gửi tại bưu cục / Dropped at a post office"


class Dossier(models.Model):
    # Every event of the transaction that has just written the dossier, on the instance
    # `services.dossier_submit` returns (when none names an office); None on any other instance.
    # The sections of other apps may answer from them instead of reading (payments: no request
    # before a receipt).
    submitted_events: list | None = None

    code = models.CharField(max_length=40, unique=True, help_text="Circular 01/2018 Art. 19 code.")
    province_code = province_code_field()
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="dossiers")
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="dossiers"
    )
    applicant_name = models.CharField(max_length=150)
    applicant_id_number = models.CharField(max_length=12, help_text="Citizen ID (CCCD); shown masked.")
    applicant_phone = models.CharField(max_length=20, blank=True)
    applicant_email = models.EmailField(blank=True)
    applicant_address = models.CharField(max_length=300)
    applicant_commune = models.ForeignKey(
        "layers.AdministrativeUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applicant_commune_2019 = models.ForeignKey(
        "layers.AdministrativeUnit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        help_text="Commune of the 2019 map holding `location` (the first by code on a shared border), "
        "found when the dossier is written, for density maps of the old communes.",
    )
    location = models.PointField(srid=4326, null=True, blank=True, spatial_index=False)
    channel = models.PositiveSmallIntegerField(choices=Channel.choices)
    receiving_point = models.ForeignKey("layers.ServicePoint", on_delete=models.PROTECT, related_name="dossiers")
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="dossiers", help_text="Agency now handling it."
    )
    receiving_agency = models.ForeignKey(
        "accounts.Agency",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Agency that had it at receipt; indicators count receipts there even after a transfer.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    submitted_at = models.DateTimeField(
        help_text="When it was submitted; at a desk the same as received_at. An online dossier waits "
        "for receipt in between."
    )
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="When the desk received it; empty while it waits for receipt."
    )
    due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="End of the last working day, supplement pauses added; set at receipt, empty before.",
    )
    paused_at = models.DateTimeField(null=True, blank=True, help_text="Waiting for supplement since.")
    paused_working_days = models.PositiveSmallIntegerField(default=0, help_text="Working days lost to supplements.")
    appointment_at = models.DateTimeField(null=True, blank=True, help_text="New date promised by an apology.")
    finished_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    timeliness = models.CharField(max_length=8, choices=Timeliness.choices, blank=True)
    processing_working_days = models.PositiveSmallIntegerField(null=True, blank=True)
    supplement_count = models.PositiveSmallIntegerField(default=0)
    result_delivery = models.CharField(max_length=5, choices=Delivery.choices, default=Delivery.DESK)
    delivery_address = models.CharField(max_length=300, blank=True)
    # Where the address for the result lies (a pin, the device's location, or
    # the commune an address typed without diacritics was matched to): the
    # carrier needs the unit codes, the postal maps the commune.
    delivery_location = models.PointField(srid=4326, null=True, blank=True, spatial_index=False)
    delivery_commune = models.ForeignKey(
        "layers.AdministrativeUnit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Commune (2025 map) of the address the result is sent to by post.",
    )
    # Sending the dossier itself by post: empty when it was not. The database
    # defaults let bulk loaders (the demo history) leave them out.
    postal_pickup = models.CharField(max_length=11, choices=PostalPickup.choices, blank=True, db_default="")
    pickup_address = models.CharField(max_length=300, blank=True, db_default="")
    pickup_point = models.ForeignKey(
        "layers.ServicePoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Post office where the applicant drops the dossier.",
    )
    fee_vnd = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True)
    # The officer of the handling agency it is assigned to (a leader or the
    # desk assigns: `assignments.dossier_assign_officer`); cleared when the
    # dossier moves to another agency.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_dossiers"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    is_demo = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    # H3 cells of `location` (resolutions 6-9), computed when the dossier is
    # written so the density map counts with a GROUP BY on a stored column
    # instead of geometry work per dossier at query time. H3 indexes use 63
    # bits, so they fit a signed bigint.
    h3_r6 = models.BigIntegerField(null=True, blank=True, editable=False)
    h3_r7 = models.BigIntegerField(null=True, blank=True, editable=False)
    h3_r8 = models.BigIntegerField(null=True, blank=True, editable=False)
    h3_r9 = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = gettext_lazy("dossier")
        verbose_name_plural = gettext_lazy("dossiers")
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="dossier_status_due"),
            models.Index(fields=["receiving_point", "status"], name="dossier_point_status"),
            models.Index(fields=["agency", "status"], name="dossier_agency_status"),
            models.Index(fields=["applicant", "-received_at"], name="dossier_applicant"),
            models.Index(fields=["received_at"], name="dossier_received"),
            # The density counts filter on the period and group by a cell: one
            # covering index lets a period-only count read the index alone, and
            # keeps the four cells beside the date for the filtered counts.
            models.Index(
                fields=["received_at"], include=["h3_r6", "h3_r7", "h3_r8", "h3_r9"], name="dossier_received_h3"
            ),
            # The edge days of a density period filtered by procedure (or a
            # sector), alone or with a channel or status: the procedure's
            # dossiers of those days from the index, not every dossier of them.
            models.Index(
                fields=["procedure", "received_at"],
                include=["channel", "status", "h3_r6", "h3_r7", "h3_r8", "h3_r9",
                         "applicant_commune", "applicant_commune_2019"],
                name="dossier_procedure_received",
            ),  # fmt: skip
            GistIndex(fields=["location"], name="dossier_location_gist"),
            # An officer's own queue: their open dossiers by due time.
            models.Index(fields=["assigned_to", "due_at"], name="dossier_assigned_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(result_delivery="desk") | ~Q(delivery_address=""), name="dossier_post_needs_address"
            ),
            models.CheckConstraint(condition=Q(due_at__gte=models.F("received_at")), name="dossier_due_after_receipt"),
            # The deadline starts at receipt: both or neither.
            models.CheckConstraint(
                condition=Q(received_at__isnull=True, due_at__isnull=True)
                | Q(received_at__isnull=False, due_at__isnull=False),
                name="dossier_due_with_receipt",
            ),
            models.CheckConstraint(
                condition=Q(postal_pickup="")
                | Q(postal_pickup="home", pickup_point__isnull=True) & ~Q(pickup_address="")
                | Q(postal_pickup="post_office", pickup_point__isnull=False),
                name="dossier_pickup_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_received(self) -> bool:
        return self.received_at is not None

    def is_late_at(self, moment) -> bool:
        """Open, received and past its due moment at `moment`."""
        return self.is_open and self.due_at is not None and self.due_at < moment

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.applicant_id_number)


def mask_id_number(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


class DossierEvent(models.Model):
    """One row per transition or hand-over: who, in which role and office,
    from which status to which, when, why. The process control slip prints
    these."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="events")
    province_code = province_code_field()
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept as it was at the time.")
    actor_role = models.CharField(max_length=20)
    actor_agency = models.ForeignKey(
        "accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_point = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_agency = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["dossier", "at"], name="dossierevent_dossier_at")]

    def __str__(self) -> str:
        return f"{self.dossier_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class Apology(models.Model):
    """Circular 01/2018 form 4: apology and new appointment for a late dossier."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="apologies")
    reason = models.TextField()
    new_due_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = gettext_lazy("apology")
        verbose_name_plural = gettext_lazy("apologies")
        ordering = ["created_at"]


class Attachment(models.Model):
    """A file of a dossier, stored outside the web root under a generated name."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="attachments")
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=80, unique=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField()
    # 0: sent with the dossier; n: handed in answering the n-th supplement request.
    supplement_round = models.PositiveSmallIntegerField(default=0, db_default=0)
    # The dossier component (thành phần hồ sơ) the file was sent for; empty
    # for untagged files and for procedures that declare no components. The
    # code and name are kept as they were, whatever the catalogue says later.
    component = models.ForeignKey(
        "ProcedureComponent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    component_code = models.CharField(max_length=40, blank=True, db_default="")
    component_name = models.CharField(max_length=300, blank=True, db_default="")

    def __str__(self) -> str:
        return self.original_name


class ResultDocument(models.Model):
    """The electronic result of a dossier (a PDF the processing officer
    attaches while processing), stored like attachments. The leader's
    approval is recorded on the newest one: who, when, and the SHA-256 of
    the bytes read at that moment. The applicant downloads the newest
    approved one once the result is returned."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="result_documents")
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=80, unique=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True, help_text="Kept as it was at the time.")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the file as approved.")

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True, approved_sha256="")
                | Q(approved_at__isnull=False) & ~Q(approved_sha256=""),
                name="resultdocument_approval_complete",
            )
        ]

    def __str__(self) -> str:
        return self.original_name


class CodeCounter(models.Model):
    """Last sequence number issued per receiving unit and day; incremented
    with one UPSERT so concurrent submissions serialise on this row."""

    unit_identifier = models.CharField(max_length=20)
    province_code = province_code_field()
    day = models.DateField()
    last = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["unit_identifier", "day", "province_code"], name="codecounter_unit_day")
        ]


class IdempotencyKey(models.Model):
    """A submission key: retrying with the same key and body returns the same
    dossier; a different body under the same key is refused (422)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64)
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key")]


class DailyStat(models.Model):
    """Indicator counts per day and per one dimension (agency, service point,
    procedure, commune, channel, or the whole province), kept up to date in
    the transaction that changes a dossier. The indicator API sums these
    rows, so its cost follows days × keys, not the number of dossiers.

    `received`/`online` count on the day of receipt; `finished`, `early`,
    `on_time`, `late` and `processing_days_sum` on the day of finishing."""

    class Dimension(models.TextChoices):
        ALL = "all", "Toàn tỉnh / Province"
        AGENCY = "agency", "Cơ quan / Agency"
        SERVICE_POINT = "service_point", "Điểm tiếp nhận / Service point"
        PROCEDURE = "procedure", "Thủ tục / Procedure"
        COMMUNE = "commune", "Xã, phường / Commune"
        CHANNEL = "channel", "Kênh / Channel"

    day = models.DateField()
    dimension = models.CharField(max_length=14, choices=Dimension.choices)
    key = models.BigIntegerField(help_text="Id of the agency, point, procedure or commune; channel number; 0 for all.")
    received = models.IntegerField(default=0)
    online = models.IntegerField(default=0)
    finished = models.IntegerField(default=0)
    early = models.IntegerField(default=0)
    on_time = models.IntegerField(default=0)
    late = models.IntegerField(default=0)
    processing_days_sum = models.BigIntegerField(default=0)
    province_code = province_code_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dimension", "key", "day", "province_code"], name="dailystat_dim_key_day")
        ]
        indexes = [models.Index(fields=["dimension", "day"], name="dailystat_dim_day")]


class DensityRow(models.Model):
    """What the pre-counted density rows share (`dossiers.density_counts`).

    `area` says what `cell` is: an H3 resolution (6-9; `cell` is the H3
    index) or a commune map (2025 or 2019; `cell` is the AdministrativeUnit
    id). `dimension` names the filter the row is for and `key` its value: 0
    for all dossiers, the procedure id, the channel number, or the status
    (`density_counts.STATUS_KEYS`)."""

    area = models.PositiveSmallIntegerField()
    cell = models.BigIntegerField()
    dimension = models.CharField(max_length=9)
    key = models.BigIntegerField()
    dossiers = models.IntegerField(default=0)
    province_code = province_code_field()

    class Meta:
        abstract = True


def density_key(period: str, name: str) -> models.UniqueConstraint:
    """A density row's identity, also its read path: (area, dimension, key,
    a range of `period`) gives the cells and their counts from the index alone."""
    return models.UniqueConstraint(
        fields=["area", "dimension", "key", period, "cell", "province_code"], include=["dossiers"], name=name
    )


class DensityCount(DensityRow):
    """Dossiers per month of receipt, area and at most one filter or a pair,
    kept up to date in the transaction that receives a dossier or changes its
    status, so the density map sums a few rows per cell and month instead of
    counting the dossiers. Status rows follow each dossier's current status."""

    month = models.DateField(help_text="First day of the month of receipt (local time).")

    class Meta:
        constraints = [density_key("month", "densitycount_key")]


class DensityDayCount(DensityRow):
    """Dossiers per day of receipt and area, for the filters a status move
    does not touch (none, procedure, channel, procedure and channel:
    `density_counts.DAY_DIMENSIONS`): the days at the edges of a period that
    does not start or end on a month boundary (the default "last 12 months"
    does both) are summed from here instead of counting the dossiers."""

    day = models.DateField()
    # Defaults in the database too: rows written before the day rows had keys (migration 0005's fill) are "all".
    dimension = models.CharField(max_length=9, default="all", db_default="all")
    key = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [density_key("day", "densitydaycount_key")]


class DensityQuarterCount(DensityRow):
    """Dossiers per ended quarter of receipt and area, for the filters whose
    month rows never change once their month is over (those of
    DensityDayCount): the sums of the quarter's three DensityCount months,
    written once the quarter has ended (`density_counts.density_quarters_close`:
    a daily task and `density_rebuild`), so a year's period sums about 7 rows
    a cell instead of 13. A quarter is read from here only once
    DensityQuarterSummed holds it; until then from its months."""

    quarter = models.DateField(help_text="First day of the quarter of receipt (local time).")

    class Meta:
        constraints = [density_key("quarter", "densityquartercount_key")]


class DensityQuarterSummed(models.Model):
    """A quarter whose DensityQuarterCount rows are all written (with them,
    in one transaction, for every province)."""

    quarter = models.DateField(unique=True)


class ComponentFileType(models.TextChoices):
    """The file types the attachment checker (`dossiers.attachments`) knows,
    by the content type it sniffs from the bytes."""

    PDF = "application/pdf", "PDF"
    PNG = "image/png", "PNG"
    JPEG = "image/jpeg", "JPEG"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"


class ProcedureComponent(models.Model):
    """One part of a procedure's dossier (thành phần hồ sơ), edited as data:
    required or optional, one of a group ("CCCD hoặc hộ chiếu"), how many
    originals and copies, which file types are accepted, and, for an e-form
    the applicant fills in on screen, its JSON Schema (Draft 2020-12).
    `dossiers.components` checks submissions against these rows."""

    procedure = models.ForeignKey(
        Procedure, verbose_name=gettext_lazy("procedure"), on_delete=models.CASCADE, related_name="components"
    )
    code = models.SlugField(
        verbose_name=gettext_lazy("code"),
        max_length=40,
        help_text=gettext_lazy("Stable key, e.g. cccd; tags uploads in the API."),
    )
    name = models.CharField(verbose_name=gettext_lazy("name"), max_length=300)
    required = models.BooleanField(
        verbose_name=gettext_lazy("required"),
        default=True,
        help_text=gettext_lazy("In a group: the group is required when any of its members is."),
    )
    group = models.SlugField(
        verbose_name=gettext_lazy("group"),
        max_length=40,
        blank=True,
        help_text=gettext_lazy("Components sharing a group are alternatives: one of them suffices."),
    )
    originals = models.PositiveSmallIntegerField(
        verbose_name=gettext_lazy("originals"), default=0, help_text=gettext_lazy("Originals to present.")
    )
    copies = models.PositiveSmallIntegerField(
        verbose_name=gettext_lazy("copies"), default=1, help_text=gettext_lazy("Copies to present.")
    )
    accepted_types = models.JSONField(
        verbose_name=gettext_lazy("accepted file types"),
        default=list,
        blank=True,
        help_text=format_lazy(
            gettext_lazy("Content types accepted for uploads: {types}."), types=", ".join(ComponentFileType.values)
        ),
    )
    form_schema = models.JSONField(
        verbose_name=gettext_lazy("e-form schema"),
        null=True,
        blank=True,
        help_text=gettext_lazy("JSON Schema (Draft 2020-12) of the e-form; empty unless an e-form."),
    )
    order = models.PositiveSmallIntegerField(verbose_name=gettext_lazy("order"), default=0)

    class Meta:
        verbose_name = gettext_lazy("procedure component")
        verbose_name_plural = gettext_lazy("procedure components")
        ordering = ["procedure", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["procedure", "code"], name="procedurecomponent_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_eform(self) -> bool:
        return self.form_schema is not None

    def clean(self) -> None:
        from .components import component_problems

        problems = component_problems(
            accepted_types=self.accepted_types,
            form_schema=self.form_schema,
            originals=self.originals,
            copies=self.copies,
        )
        if problems:
            from django.core.exceptions import ValidationError

            raise ValidationError(problems)


class DossierEForm(models.Model):
    """The answers of an e-form as the applicant filled it in, with the
    schema and name it was filled against (the catalogue may change later)."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="eforms")
    component = models.ForeignKey(
        ProcedureComponent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    component_code = models.SlugField(max_length=40)
    title = models.CharField(max_length=300)
    form_schema = models.JSONField()
    answers = models.JSONField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "component_code"], name="dossiereform_dossier_code"),
        ]

    def __str__(self) -> str:
        return f"{self.dossier_id} {self.component_code}"


# The document store and drafts (issue #15) live in their own module.
from .store_models import DossierDraft, StoredDocument  # noqa: E402, F401
