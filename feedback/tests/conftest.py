"""Fixtures of the feedback tests: the people of the access matrix, places
inside known communes, a report made through the service, and photos.

The demo categories and the people's committees of the 2025 communes come
with the data the root conftest loads once (load_demo, no demo reports)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.db import connection
from PIL import Image

from gisportal.accounts.models import Agency, Profile, Role
from gisportal.accounts.services import user_ensure

PASSWORD = "x-Strong-pass-1"
KINH_BAC = "09187"  # Phường Kinh Bắc
LOCAL = "duong-via-he"  # a local matter: the commune's people's committee
SECTOR = "o-nhiem"  # a sector matter: the department of natural resources
PHONE = "0912 345 678"
PHONE_E164 = "+84912345678"


def point_in(code: str) -> tuple[float, float]:
    """A point inside the 2025 commune `code` (its representative point)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM layers_administrativeunit "
            "WHERE era = '2025' AND level = 'commune' AND code = %s) s",
            [code],
        )
        return cursor.fetchone()


@dataclass
class People:
    reporter: object  # a citizen who reports
    other_citizen: object
    processor: object  # processing officer of UBND Kinh Bắc (where local reports go)
    leader: object  # leader of UBND Kinh Bắc
    desk: object  # desk officer of UBND Kinh Bắc: reads, does not act
    other_processor: object  # processing officer of Sở Y tế
    other_leader: object  # leader of Sở Y tế
    env_processor: object  # processing officer of Sở NN&MT (where pollution goes)
    env_leader: object
    administrator: object


def _user(username: str, role: str, agency: str | None = None):
    user = user_ensure(
        username=username,
        password=PASSWORD,
        role=role,
        agency=Agency.objects.get(code=agency) if agency else None,
    )
    Profile.objects.filter(user=user).update(full_name=username.replace("-", " ").title())
    user.refresh_from_db()
    return user


@pytest.fixture
def people(db) -> People:
    committee = f"ubnd-{KINH_BAC}"
    return People(
        reporter=_user("fb-reporter", Role.CITIZEN),
        other_citizen=_user("fb-other-citizen", Role.CITIZEN),
        processor=_user("fb-processor", Role.PROCESSING_OFFICER, committee),
        leader=_user("fb-leader", Role.LEADER, committee),
        desk=_user("fb-desk", Role.DESK_OFFICER, committee),
        other_processor=_user("fb-other-processor", Role.PROCESSING_OFFICER, "so-y-te"),
        other_leader=_user("fb-other-leader", Role.LEADER, "so-y-te"),
        env_processor=_user("fb-env-processor", Role.PROCESSING_OFFICER, "so-nnmt"),
        env_leader=_user("fb-env-leader", Role.LEADER, "so-nnmt"),
        administrator=_user("fb-admin", Role.ADMINISTRATOR),
    )


@pytest.fixture
def kinh_bac(db) -> tuple[float, float]:
    return point_in(KINH_BAC)


@pytest.fixture
def report(people, kinh_bac):
    """report(**overrides) -> a Feedback made through the service by the
    signed-in reporter, by default a local matter in Kinh Bắc."""
    from feedback.services import feedback_submit

    def make(**overrides):
        values = {
            "category_code": LOCAL,
            "text": "Ổ gà lớn trước cổng chợ, gọi 0912 345 678 nếu cần.",
            "lon": kinh_bac[0],
            "lat": kinh_bac[1],
            "photos": [],
            "reporter_user": people.reporter,
            "consent_location": True,
            **overrides,
        }
        return feedback_submit(**values)

    return make


@pytest.fixture(autouse=True)
def feedback_files(tmp_path, settings):
    """Photos go to a folder of the test's own."""
    settings.FEEDBACK_FILES_ROOT = tmp_path / "feedback-files"
    return settings.FEEDBACK_FILES_ROOT


def jpeg_with_gps(*, size=(640, 480), colour=(200, 40, 40)) -> bytes:
    """A JPEG whose EXIF holds a GPS position (Hoàn Kiếm lake), a camera
    model and an orientation."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x0110] = "Test Camera"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90°
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (21.0, 1.0, 42.0)
    gps[3] = "E"
    gps[4] = (105.0, 51.0, 9.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_bytes(size=(32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()
