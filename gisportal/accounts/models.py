"""Who someone is to the portal: a role, and the agency an official works for.

Kept in the project core because every app scopes access by them; the apps
depend on this module, never the other way round."""

from django.conf import settings
from django.db import models
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS

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
        ordering = ["code"]
        verbose_name_plural = "agencies"

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
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user} #{self.pk}"
