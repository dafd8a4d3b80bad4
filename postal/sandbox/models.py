"""The sandbox carrier's own records: the orders it accepted, the status
events of each parcel, and the status callbacks it owes the portal (an
outbox job each, retried until the portal answers)."""

from django.db import models
from django.db.models import Q

from gisportal.outbox import OutboxJob


class Order(models.Model):
    customer_code = models.CharField(max_length=40)
    order_code = models.CharField(max_length=60)
    item_code = models.CharField(max_length=13, unique=True, null=True, blank=True)
    body = models.JSONField(help_text="The CreateOrder request as received.")
    callback_url = models.URLField(max_length=500)
    status = models.CharField(max_length=16, default="created")
    # The statuses this parcel will go through, decided when it was accepted
    # (a first delivery may fail; a parcel failing twice goes back).
    plan = models.JSONField(default=list)
    step = models.PositiveSmallIntegerField(default=0, help_text="How many steps of the plan are done.")
    next_step_at = models.DateTimeField(null=True, blank=True, help_text="Empty: moved by hand only, or done.")
    origin_office = models.CharField(max_length=40, blank=True)
    destination_office = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer_code", "order_code"], name="sandbox_order_code_once"),
        ]
        indexes = [
            models.Index(fields=["next_step_at"], name="sandbox_order_due", condition=Q(next_step_at__isnull=False))
        ]

    def __str__(self) -> str:
        return self.item_code or self.order_code


class Event(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16)
    occurred_at = models.DateTimeField()
    post_office_code = models.CharField(max_length=40, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.status}"


class Callback(OutboxJob):
    """One delivery of a status callback to the portal (a duplicate is a
    second row for the same event; a late one waits until `queued_at`)."""

    outbox_task = "postal.sandbox.tasks.sandbox_callback_task"

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ / Queued"
        RUNNING = "running", "Đang gửi / Sending"
        DONE = "done", "Đã gửi / Delivered"
        FAILED = "failed", "Thất bại / Failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="callbacks")
    url = models.URLField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    tries = models.PositiveSmallIntegerField(default=0)
    last_response = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        ordering = ["created_at", "id"]
