"""Who someone is to the portal: a role, and the agency an official works for.

Kept in the project core because every app scopes access by them; the apps
depend on this module, never the other way round."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS

from gisportal.outbox import OutboxJob

from .validators import validate_citizen_id


class Sector(models.TextChoices):
    GENERAL = "general", "Tổng hợp / General"
    HEALTH = "health", "Y tế / Health"
    EDUCATION = "education", "Giáo dục / Education"
    NATURAL_RESOURCES = "natural_resources", "Nông nghiệp và Môi trường / Agriculture and Environment"
    CONSTRUCTION = "construction", "Xây dựng / Construction"
    JUSTICE = "justice", "Tư pháp / Justice"
    POST = "post", "Bưu chính / Postal service"


class Agency(models.Model):
    """An organisation that decides or keeps records: a department of the
    provincial people's committee, a commune people's committee, Vietnam Post."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", "Sở, ban, ngành / Provincial department"
        PEOPLES_COMMITTEE = "peoples_committee", "UBND / People's committee"
        SERVICE_CENTRE = "service_centre", "Trung tâm PVHCC / Public administration service centre"
        POST = "post", "Bưu điện / Vietnam Post"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    sector = models.CharField(max_length=20, choices=Sector.choices, default=Sector.GENERAL)
    admin_unit_code = models.CharField(max_length=10, blank=True, help_text="Unit it governs (commune committees).")

    class Meta:
        verbose_name = gettext_lazy("agency")
        verbose_name_plural = gettext_lazy("agencies")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CITIZEN = "citizen", "Công dân / Citizen"
    DESK_OFFICER = "desk_officer", "Cán bộ một cửa / Desk officer"
    PROCESSING_OFFICER = "processing_officer", "Chuyên viên xử lý / Processing officer"
    LEADER = "leader", "Lãnh đạo / Leader"
    ADMINISTRATOR = "administrator", "Quản trị / Administrator"


OFFICIAL_ROLES = frozenset({Role.DESK_OFFICER, Role.PROCESSING_OFFICER, Role.LEADER, Role.ADMINISTRATOR})


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CITIZEN)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    # A desk officer sits at a service point (a post-office clerk is a desk
    # officer at a post office); the point decides which dossiers they receive.
    service_point = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    full_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    # Citizen ID (CCCD, 12 digits): validated, never in URLs or logs, shown masked.
    id_number = models.CharField(max_length=12, blank=True, validators=[validate_citizen_id])

    class Meta:
        verbose_name = gettext_lazy("profile")
        verbose_name_plural = gettext_lazy("profiles")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="citizen") | models.Q(role="administrator") | models.Q(agency__isnull=False),
                name="official_has_agency",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class ApiToken(AbstractAuthToken):
    """An API token (django-rest-knox, `KNOX_TOKEN_MODEL`): only a hash of
    the token is stored. A number as key, so its owner can name it in
    `DELETE /api/v1/auth/tokens/{id}/` without handling the hash; where it was
    asked for, so its owner can tell their tokens apart."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = gettext_lazy("API token")
        verbose_name_plural = gettext_lazy("API tokens")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user} #{self.pk}"


# --- phone verification and SMS ------------------------------------------------------


class PhoneCode(models.Model):
    """A verification code sent to a phone for one purpose (`accounts.phone`).
    Only an HMAC of the code is stored; the newest code of a phone and purpose
    is the only one that verifies, until it expires, is used, or has been
    guessed at PHONE_CODE_MAX_ATTEMPTS times."""

    phone = models.CharField(max_length=16, help_text="E.164, e.g. +84912345678.")
    purpose = models.CharField(max_length=40)
    code_hash = models.CharField(max_length=64)
    client_hash = models.CharField(max_length=64, blank=True, help_text="HMAC of who asked (address, chat id).")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    sms = models.ForeignKey("SmsMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = gettext_lazy("phone code")
        verbose_name_plural = gettext_lazy("phone codes")
        indexes = [
            models.Index(fields=["phone", "purpose", "-created_at"], name="phonecode_phone_purpose"),
            models.Index(fields=["phone", "created_at"], name="phonecode_phone_created"),
            models.Index(fields=["client_hash", "created_at"], name="phonecode_client_created"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.phone} {self.purpose} {self.created_at:%Y-%m-%d %H:%M}"


class SmsMessage(OutboxJob):
    """A text message to send, through the outbox (`gisportal.outbox`): the
    row is written with the change that needs it and sent by a worker after
    commit, through the backend `SMS_BACKEND` names. A verification code
    travels in `secret` (the body holds `{code}`), which is blanked once the
    message is sent, failed or expired: administrators never read codes."""

    outbox_task = "gisportal.accounts.tasks.sms_send_task"
    outbox_gave_up_note = ("Tin nhắn chưa được gửi.", "The message was not sent.")
    outbox_on_give_up = "gisportal.accounts.sms.sms_secret_forget"

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ / Queued"
        RUNNING = "running", "Đang gửi / Sending"
        SENT = "sent", "Đã gửi / Sent"
        FAILED = "failed", "Thất bại / Failed"

    phone = models.CharField(max_length=16)
    body = models.CharField(max_length=480, help_text="The text; `{code}` stands for the secret.")
    secret = models.CharField(max_length=16, blank=True)
    kind = models.CharField(max_length=40, blank=True, help_text="What it is for, e.g. the code's purpose.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not sent after this moment.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    backend = models.CharField(max_length=200, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        verbose_name = gettext_lazy("SMS message")
        verbose_name_plural = gettext_lazy("SMS messages")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"SMS {self.pk} → {self.phone} ({self.status})"


class SandboxSms(models.Model):
    """The inbox of the local SMS sandbox (`SandboxSmsBackend`): what a phone
    would have received. Written only while the sandbox is the backend."""

    phone = models.CharField(max_length=16, db_index=True)
    text = models.CharField(max_length=480)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = gettext_lazy("sandbox SMS")
        verbose_name_plural = gettext_lazy("sandbox SMS inbox")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.phone} {self.received_at:%Y-%m-%d %H:%M:%S}"
