"""The Zalo Official Account channel: followers, their linked dossiers, the
events Zalo sends us and the messages we send back.

- `ZaloEvent`: one row per webhook event accepted (signed, fresh, new); the
  UNIQUE `event_key` (Zalo's message id, or the body's digest) refuses a
  replay. Processed by a worker through the outbox.
- `OutboundMessage`: a reply, written in the transaction that processed its
  event (UNIQUE per event and position: a reprocessed event writes no second
  reply), sent through `gisportal.delivery`.
- `ChatUser`, `ChatLink`: a follower, the state of their conversation, and the
  dossiers they proved theirs (by a code sent to the dossier's phone).
- `ZaloToken`: the OA's access and refresh tokens as last refreshed (Zalo's
  refresh tokens are single-use, so the newest lives here, not in settings)."""

from django.db import models
from django.utils.translation import gettext_lazy

from gisportal.delivery import DeliveryJob
from gisportal.outbox import OutboxJob


class ChatUser(models.Model):
    zalo_user_id = models.CharField(max_length=64, unique=True, help_text="Zalo's user id, scoped to the OA.")
    followed = models.BooleanField(default=True)
    language = models.CharField(
        max_length=2, blank=True, choices=[("vi", "Tiếng Việt"), ("en", "English")], help_text="Empty: not chosen."
    )
    state = models.JSONField(default=dict, blank=True, help_text="Where the conversation stands (a step and its data).")
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("chat user")
        verbose_name_plural = gettext_lazy("chat users")

    def __str__(self) -> str:
        return self.zalo_user_id


class ChatLink(models.Model):
    """A dossier a follower follows: its status changes go to them on Zalo."""

    chat_user = models.ForeignKey(ChatUser, on_delete=models.CASCADE, related_name="links")
    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.CASCADE, related_name="+")
    linked_at = models.DateTimeField()

    class Meta:
        verbose_name = gettext_lazy("chat link")
        verbose_name_plural = gettext_lazy("chat links")
        constraints = [models.UniqueConstraint(fields=["chat_user", "dossier"], name="chatlink_once")]
        indexes = [models.Index(fields=["dossier"], name="chatlink_dossier")]

    def __str__(self) -> str:
        return f"{self.chat_user} → {self.dossier_id}"


class ZaloEvent(OutboxJob):
    outbox_task = "chatbot.tasks.zalo_event_task"

    class Status(models.TextChoices):
        QUEUED = "queued", "Chờ xử lý / Queued"
        RUNNING = "running", "Đang xử lý / Running"
        DONE = "done", "Đã xử lý / Done"
        FAILED = "failed", "Lỗi / Failed"

    event_key = models.CharField(max_length=200, unique=True, help_text="message.msg_id, or sha256:<body digest>.")
    event_name = models.CharField(max_length=60)
    user_id = models.CharField(max_length=64, blank=True, help_text="The follower (sender.id or follower.id).")
    timestamp_ms = models.BigIntegerField(help_text="Zalo's timestamp of the event (ms).")
    payload = models.JSONField(help_text="The event as received; a shared location is removed once used.")
    facts = models.JSONField(
        default=dict,
        blank=True,
        help_text="Answers the worker got before processing (a phone code's check), kept so a retry reuses them.",
    )
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        verbose_name = gettext_lazy("Zalo event")
        verbose_name_plural = gettext_lazy("Zalo events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_name} {self.user_id} {self.event_key}"


class OutboundMessage(DeliveryJob):
    outbox_task = "chatbot.tasks.outbound_send_task"

    chat_user = models.ForeignKey(ChatUser, on_delete=models.CASCADE, related_name="messages")
    event = models.ForeignKey(ZaloEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order among the replies to one event.")
    payload = models.JSONField(help_text="Zalo's `message` object: text, or an attachment (a list template).")

    class Meta(DeliveryJob.Meta):
        verbose_name = gettext_lazy("outbound message")
        verbose_name_plural = gettext_lazy("outbound messages")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "position"], name="outbound_once_per_event")]

    def __str__(self) -> str:
        return f"→ {self.chat_user} #{self.pk}"


class ZaloToken(models.Model):
    oa_id = models.CharField(max_length=64, unique=True)
    access_token = models.TextField(blank=True)
    refresh_token = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: unknown (refreshed when refused).")
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("Zalo token")
        verbose_name_plural = gettext_lazy("Zalo tokens")

    def __str__(self) -> str:
        return f"{self.oa_id} (expires {self.expires_at})"
