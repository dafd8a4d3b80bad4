"""Demo accounts, created only under development settings."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from .settings import env

DEFAULT_DEMO_PASSWORD = "BacNinh-demo-2025"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str


@transaction.atomic
def demo_accounts_ensure() -> list[DemoAccount]:
    """The administrator of the demo. Nothing outside DEBUG: production
    creates its accounts with `createsuperuser`."""
    if not settings.DEBUG:
        return []
    password = env.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
    admin, created = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.invalid"}
    )
    if created:
        admin.set_password(password)
        admin.save(update_fields=["password"])
    return [DemoAccount(username="admin", role="quản trị / administrator (/admin/)", password=password)]
