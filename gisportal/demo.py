"""Demo agencies (always) and demo accounts (development settings only)."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from .accounts.models import Role
from .accounts.services import demo_agencies_ensure, user_ensure
from .settings import env

DEFAULT_DEMO_PASSWORD = "BacNinh-demo-2025"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str


# username, role, agency code (None: no agency), what they can do
DEMO_USERS = [
    ("yte", Role.PROCESSING_OFFICER, "so-y-te", "chuyên viên Sở Y tế: sửa lớp cơ sở y tế / health registry editor"),
    ("giaoduc", Role.PROCESSING_OFFICER, "so-gddt", "chuyên viên Sở GD&ĐT: lớp trường học / schools registry"),
    ("tnmt", Role.PROCESSING_OFFICER, "so-nnmt", "chuyên viên Sở NN&MT: lớp thửa đất / land parcels registry"),
    ("congdan", Role.CITIZEN, None, "công dân / citizen"),
]


def demo_password() -> str:
    return env.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


@transaction.atomic
def demo_accounts_ensure() -> list[DemoAccount]:
    """Agencies always; the demo accounts only under DEBUG (production
    creates its accounts with `createsuperuser` and the admin)."""
    agencies = demo_agencies_ensure()
    if not settings.DEBUG:
        return []
    password = demo_password()
    admin, created = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.invalid"}
    )
    if created:
        admin.set_password(password)
        admin.save(update_fields=["password"])
    user_ensure(username="admin", password=password, role=Role.ADMINISTRATOR)
    accounts = [DemoAccount(username="admin", role="quản trị / administrator (/admin/)", password=password)]
    for username, role, agency_code, label in DEMO_USERS:
        user_ensure(username=username, password=password, role=role, agency=agencies.get(agency_code or ""))
        accounts.append(DemoAccount(username=username, role=label, password=password))
    return accounts
