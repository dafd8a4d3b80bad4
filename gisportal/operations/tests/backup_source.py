"""Fills a scratch database for the backup test, in a process of its own
(pointed at it by DATABASE_URL, DJANGO_MEDIA_ROOT, DOSSIER_FILES_ROOT): the
demo data, a short dossier history with its events and counters, dossiers
submitted with attachments, and a registry upload waiting for its import.
Prints the codes of the dossiers with attachments as JSON.

    python -m gisportal.operations.tests.backup_source
"""

import json

CITIZEN = "backup-citizen"
PASSWORD = "x-Backup-pass-1"
PROCEDURE = "1.009374"  # Cấp giấy phép xuất bản bản tin (địa phương), in the demo catalogue
# A tiny PDF and PNG: attachments are checked by content.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def online_submit(user, *, key: str, files: dict[str, bytes], note: str = "", idempotent: bool = True):
    """A citizen's online submission at CENTRE-MAIN through the service, with
    attachments (name -> bytes) and `key` as its idempotency key."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dossiers.attachments import attachments_check
    from dossiers.services import Submission, dossier_submit

    checked, problems = attachments_check([SimpleUploadedFile(name, content) for name, content in files.items()])
    assert not problems, problems
    dossier, _ = dossier_submit(
        submission=Submission(
            procedure_code=PROCEDURE,
            applicant_name="Nguyễn Văn Sao Lưu",
            applicant_id_number="027095001234",
            applicant_address="Số 1 đường Lý Thái Tổ, Bắc Ninh",
            channel=2,
            receiving_point_code="CENTRE-MAIN",
            lon=106.07,
            lat=21.18,
            note=note,
            files=checked,
        ),
        acting_user=user,
        idempotency_key=key if idempotent else None,
    )
    return dossier


def seed() -> list[str]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from dossiers.demo_history import dossier_history_generate
    from gisportal.accounts.models import Role
    from gisportal.accounts.services import user_ensure
    from layers.models import Layer
    from layers.registries.importing import import_job_create

    call_command("migrate", verbosity=0)
    call_command("load_demo", dossiers=0, verbosity=0)
    dossier_history_generate(count=300, seed=7)
    citizen = user_ensure(username=CITIZEN, password=PASSWORD, role=Role.CITIZEN)
    codes = []
    for i in range(3):
        files = {f"don-{i}.pdf": PDF + str(i).encode(), f"anh-{i}.png": PNG + str(i).encode()}
        codes.append(online_submit(citizen, key=f"backup-{i}", files=files).code)
    import_job_create(
        layer=Layer.objects.get(slug="hospitals"),
        acting_user=None,
        source_name="cho-nhap.csv",
        mode="append",
        upload=SimpleUploadedFile("cho-nhap.csv", b"lon,lat,name\n106.07,21.18,A\n"),
        enqueue=False,
    )
    return codes


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(seed()))
