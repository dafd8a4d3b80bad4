"""The public postal service (Decision 45/2016/QĐ-TTg): a shipment per leg
of a dossier carried by Vietnam Post, its tracking history, the calls to
the carrier (through the outbox) and the carrier's signed status reports.

Status changes happen in `postal.services` only; every hand-over is also a
step on the dossier's timeline (`dossiers.services.dossier_record_event`)."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex
from django.db.models import Q

from gisportal.outbox import OutboxJob


class Leg(models.TextChoices):
    INBOUND = "inbound", "Chiều gửi hồ sơ: công dân → bộ phận một cửa / Dossier: applicant → desk"
    OUTBOUND = "outbound", "Chiều trả kết quả: bộ phận một cửa → công dân / Result: desk → applicant"


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Chờ tạo vận đơn / Waiting to be created"
    CREATED = "created", "Đã tạo vận đơn / Created"
    REFUSED = "refused", "Bưu điện từ chối vận đơn / Refused by the carrier"
    PICKED_UP = "picked_up", "Bưu điện đã nhận / Picked up"
    IN_TRANSIT = "in_transit", "Đang vận chuyển / In transit"
    DELIVERY_FAILED = "delivery_failed", "Phát không thành công / Delivery failed"
    DELIVERED = "delivered", "Đã phát / Delivered"
    RETURNED = "returned", "Đã chuyển hoàn / Returned to sender"
    CANCELLED = "cancelled", "Đã hủy / Cancelled"


# The carrier's word about a parcel (callbacks, GetOrder); the rest are ours.
CARRIER_STATUSES = (
    ShipmentStatus.PICKED_UP,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.DELIVERY_FAILED,
    ShipmentStatus.DELIVERED,
    ShipmentStatus.RETURNED,
)
# Nothing moves a shipment on from these.
FINAL_STATUSES = frozenset(
    {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED, ShipmentStatus.REFUSED}
)
# Still on its way (the map's "in progress").
IN_PROGRESS_STATUSES = (
    ShipmentStatus.PENDING,
    ShipmentStatus.CREATED,
    ShipmentStatus.PICKED_UP,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.DELIVERY_FAILED,
)


class Shipment(models.Model):
    """One leg of a dossier carried by post. The "citizen side" is the
    applicant's end of the leg (the sender of an inbound leg, the receiver of
    an outbound one), the "desk side" the service point that received the
    dossier. Names, phones and addresses are copied as sent to the carrier."""

    # A parcel has no meaning without its dossier (dossiers are not deleted, save in tests and demo reloads).
    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.CASCADE, related_name="shipments")
    leg = models.CharField(max_length=8, choices=Leg.choices)
    order_code = models.CharField(max_length=60, unique=True, help_text="Our reference, sent as OrderCode.")
    tracking_number = models.CharField(
        max_length=20, null=True, blank=True, unique=True, help_text="The carrier's ItemCode (e.g. EB123456785VN)."
    )
    status = models.CharField(max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING)
    status_at = models.DateTimeField(help_text="When the current status happened (the carrier's time).")
    created_at = models.DateTimeField()
    # How the parcel starts its journey: collected at the citizen's address,
    # dropped at a post office, or handed over at the desk (outbound).
    pickup_mode = models.CharField(max_length=11)
    pickup_point = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sender_name = models.CharField(max_length=150)
    sender_phone = models.CharField(max_length=30, blank=True)
    sender_address = models.CharField(max_length=300)
    sender_units = models.JSONField(default=dict, help_text="Province, district and commune codes sent.")
    receiver_name = models.CharField(max_length=150)
    receiver_phone = models.CharField(max_length=30, blank=True)
    receiver_address = models.CharField(max_length=300)
    receiver_units = models.JSONField(default=dict)
    weight_g = models.PositiveIntegerField()
    citizen_location = models.PointField(srid=4326, null=True, blank=True, spatial_index=False)
    citizen_commune = models.ForeignKey(
        "layers.AdministrativeUnit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Commune (2025 map) of the applicant's address for this leg.",
    )
    last_point = models.ForeignKey(
        "layers.ServicePoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The post office the carrier last reported it at.",
    )
    picked_up_at = models.DateTimeField(null=True, blank=True, help_text="Handed to the postal worker.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    desk_received_at = models.DateTimeField(null=True, blank=True, help_text="Inbound: the desk signed for it.")
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    carrier_message = models.CharField(max_length=500, blank=True, help_text="The carrier's last refusal or error.")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["dossier", "leg"], name="shipment_dossier_leg"),
            models.Index(fields=["status", "status_at"], name="shipment_status_at"),
            GistIndex(fields=["citizen_location"], name="shipment_citizen_gist"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending")
                | Q(status="refused")
                | Q(status="cancelled")
                | Q(tracking_number__isnull=False),
                name="shipment_tracked_once_created",
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number or self.order_code

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class TrackingSource(models.TextChoices):
    CARRIER = "carrier", "Bưu điện / Carrier"
    DESK = "desk", "Bộ phận một cửa / Desk"
    PORTAL = "portal", "Cổng dịch vụ công / Portal"


class TrackingEvent(models.Model):
    """One step of a parcel's history, in the order it happened
    (`occurred_at`), whatever order the reports came in. A carrier event is
    kept once (its EventId); a late one is kept even when the parcel has
    moved on."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking")
    status = models.CharField(max_length=16, choices=ShipmentStatus.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=TrackingSource.choices)
    carrier_event_id = models.CharField(max_length=64, null=True, blank=True)
    post_office = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    postal_worker = models.CharField(
        max_length=150, blank=True, help_text="Who took or brought it, as told at the desk."
    )
    dossier_event_id = models.BigIntegerField(
        null=True, blank=True, help_text="The step it was recorded as on the dossier's timeline, if any."
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "carrier_event_id"],
                condition=Q(carrier_event_id__isnull=False),
                name="tracking_carrier_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.status} {self.occurred_at:%Y-%m-%d %H:%M}"


class CarrierRequest(OutboxJob):
    """A call to the carrier (CreateOrder) as an outbox job: published after
    commit, retried with a growing wait while the carrier is down or slow,
    so a shipment waits "to be created" and nothing is lost."""

    outbox_task = "postal.tasks.carrier_request_task"
    outbox_gave_up_note = (
        "Vận đơn chưa được tạo; cán bộ có thể gửi lại yêu cầu.",
        "The shipment was not created; an officer may send the request again.",
    )

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ / Queued"
        RUNNING = "running", "Đang gửi / Running"
        DONE = "done", "Xong / Done"
        FAILED = "failed", "Thất bại / Failed"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="carrier_requests")
    kind = models.CharField(max_length=20, default="create_order")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    tries = models.PositiveIntegerField(default=0, help_text="Calls made to the carrier.")
    last_error = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        ordering = ["created_at", "id"]


class CallbackOutcome(models.TextChoices):
    APPLIED = "applied", "Đã áp dụng / Applied"
    HISTORY = "history", "Chỉ ghi lịch sử (đến muộn) / History only (arrived late)"
    DUPLICATE = "duplicate", "Trùng sự kiện đã nhận / Duplicate event"
    UNKNOWN = "unknown", "Không rõ bưu gửi / Unknown parcel"


class CarrierCallback(models.Model):
    """Every signed status report the carrier sent, as received: a replayed
    request (the same signature) is refused before it gets here, a repeated
    event (the same EventId) is kept and marked a duplicate."""

    received_at = models.DateTimeField()
    signed_at = models.BigIntegerField(help_text="The X-VNPost-Timestamp header (Unix seconds).")
    signature = models.CharField(max_length=64, unique=True)
    event_id = models.CharField(max_length=64)
    item_code = models.CharField(max_length=20, blank=True)
    order_code = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=16)
    occurred_at = models.DateTimeField()
    body = models.JSONField()
    outcome = models.CharField(max_length=10, choices=CallbackOutcome.choices)
    # Not a foreign key: the log outlives what it reported on.
    shipment_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["event_id"], name="callback_event")]
