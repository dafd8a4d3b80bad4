"""Writes of accounts: agencies, officials, citizens and API tokens."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .models import Agency, ApiToken, Profile, Role
from .validators import citizen_id_problem


@transaction.atomic
def agency_upsert(*, code: str, name: str, kind: str, sector: str, admin_unit_code: str = "") -> Agency:
    agency, _ = Agency.objects.update_or_create(
        code=code, defaults={"name": name, "kind": kind, "sector": sector, "admin_unit_code": admin_unit_code}
    )
    return agency


@transaction.atomic
def user_ensure(*, username: str, password: str, role: str, agency: Agency | None = None, service_point=None, **extra):
    """A user with this role, agency and service point; the password is set
    only on creation."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults=extra)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    Profile.objects.update_or_create(
        user=user, defaults={"role": role, "agency": agency, "service_point": service_point}
    )
    return user


@transaction.atomic
def citizen_register(*, username: str, password: str, full_name: str, email: str, phone: str, id_number: str):
    """A citizen's own account: User and Profile(role citizen). The caller has
    checked the password against the validators. One citizen ID number
    belongs to one account; concurrent registrations with the same number
    serialise on an advisory lock, so the check below cannot be raced."""
    problem = citizen_id_problem(id_number)
    if problem:
        raise ValidationError({"id_number": [f"{problem[0]} / {problem[1]}"]})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["citizen-id:" + id_number])
    if Profile.objects.filter(id_number=id_number).exists():
        raise ValidationError(
            {"id_number": ["Số CCCD này đã có tài khoản. / This citizen ID number already has an account."]}
        )
    users = get_user_model().objects
    if users.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["Tên đăng nhập đã được dùng. / This user name is taken."]})
    user = users.create_user(username=username, password=password, email=email)
    Profile.objects.create(user=user, role=Role.CITIZEN, full_name=full_name, phone=phone, id_number=id_number)
    return user


@transaction.atomic
def api_token_create(*, user, ip_address: str | None = None, user_agent: str = "") -> tuple[ApiToken, str]:
    """A sign-in to the API: a new token (valid `REST_KNOX["TOKEN_TTL"]`) and
    the token text, which exists only in this answer (knox keeps a hash).
    The user's expired tokens are deleted on the way."""
    ApiToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
    instance, token = ApiToken.objects.create(user=user, ip_address=ip_address, user_agent=user_agent[:200])
    update_last_login(None, user)
    return instance, token


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> bool:
    """Deletes one of `user`'s own tokens; False when `user` has no token
    with that id (someone else's token is not theirs to see)."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return deleted > 0


@transaction.atomic
def api_tokens_revoke_all(*, user) -> int:
    """Signs `user` out of the API everywhere: every token of theirs dies."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


DEMO_AGENCIES = [
    # code, name, kind, sector
    ("so-y-te", "Sở Y tế tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "health"),
    ("so-gddt", "Sở Giáo dục và Đào tạo tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "education"),
    ("so-nnmt", "Sở Nông nghiệp và Môi trường tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "natural_resources"),
    ("so-xd", "Sở Xây dựng tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "construction"),
    ("so-tp", "Sở Tư pháp tỉnh Bắc Ninh", Agency.Kind.DEPARTMENT, "justice"),
    ("ttpvhcc", "Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh", Agency.Kind.SERVICE_CENTRE, "general"),
    ("buu-dien", "Bưu điện tỉnh Bắc Ninh (Vietnam Post)", Agency.Kind.POST, "post"),
]


def demo_agencies_ensure() -> dict[str, Agency]:
    return {
        code: agency_upsert(code=code, name=name, kind=kind, sector=sector)
        for code, name, kind, sector in DEMO_AGENCIES
    }
