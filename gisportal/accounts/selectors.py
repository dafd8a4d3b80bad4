"""The one door to "who is this user to the portal"."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import OFFICIAL_ROLES, ApiToken, Role, SandboxSms


@dataclass(frozen=True)
class Actor:
    """What access decisions need to know about a caller."""

    user_id: int | None
    role: str | None
    agency_id: int | None
    is_superuser: bool = False
    service_point_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def is_official(self) -> bool:
        return self.is_superuser or self.role in OFFICIAL_ROLES

    @property
    def is_administrator(self) -> bool:
        return self.is_superuser or self.role == Role.ADMINISTRATOR


ANONYMOUS = Actor(user_id=None, role=None, agency_id=None)


def actor_for(user) -> Actor:
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    profile = getattr(user, "profile", None)
    return Actor(
        user_id=user.pk,
        role=profile.role if profile else Role.CITIZEN,
        agency_id=profile.agency_id if profile else None,
        is_superuser=user.is_superuser,
        service_point_id=profile.service_point_id if profile else None,
    )


def user_display_name(user) -> str:
    """How events name a person: the profile's full name, else Django's, else the user name."""
    profile = getattr(user, "profile", None)
    return (profile.full_name if profile and profile.full_name else "") or user.get_full_name() or user.username


def api_tokens_of(*, user) -> QuerySet[ApiToken]:
    """`user`'s API tokens that still work, newest first. An expired token
    is refused before it is deleted, so it is not listed either."""
    return ApiToken.objects.filter(user=user).filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))


def sandbox_sms_for(*, phone: str, limit: int) -> list[SandboxSms]:
    """The newest messages the SMS sandbox delivered to `phone` (normalised)."""
    return list(SandboxSms.objects.filter(phone=phone).order_by("-received_at", "-id")[:limit])
