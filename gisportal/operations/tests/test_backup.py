"""Backup and restore end to end: a scratch database filled by its own
process (demo data, a dossier history, dossiers with attachments, an upload
waiting for its import) is backed up, restored into a new EMPTY database
(with the extensions) and new file folders, and then compared table by
table, file by file, and through the project's own server: the public
lookup finds the dossiers and the applicant downloads the same attachment
bytes. About 20 s."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from psycopg import sql

from gisportal.operations.backup import BackupError, backup_create, backup_restore
from gisportal.operations.tests import backup_source
from tests.live import _database_url, runserver

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# Not for the test database's rows: marking the tests makes pytest-django
# create it, and its server, name and template are where the scratch ones go.
pytestmark = pytest.mark.django_db


def _conninfo(database: dict, dbname: str | None = None) -> str:
    values = {
        "host": database.get("HOST"),
        "port": database.get("PORT"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
        "dbname": dbname or database["NAME"],
    }
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in values.items() if v})


def _row_counts(database: dict) -> dict[str, int]:
    """Rows per table, read independently of the code under test (the
    information schema; PostGIS's own spatial_ref_sys left out)."""
    with psycopg.connect(_conninfo(database)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' AND table_name <> 'spatial_ref_sys' ORDER BY 1"
            )
        ]
        return {
            n: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(n))).fetchone()[0] for n in names
        }


@pytest.fixture(scope="module")
def databases(django_db_setup, django_db_blocker):
    """Source and target databases on the test server, made from the
    extensions-only template; named after this run's test database, so the
    next run drops them if this one is killed."""
    with django_db_blocker.unblock():
        base = dict(connection.settings_dict)
    assert base["NAME"].startswith("test_"), base["NAME"]
    names = {label: f"test_{label}_{base['NAME'][len('test_') :]}" for label in ("bsrc", "bdst")}
    template = base["TEST"].get("TEMPLATE") or "template_postgis"
    with psycopg.connect(_conninfo(base, "postgres"), autocommit=True) as admin:
        for name in names.values():
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
    try:
        yield {"source": {**base, "NAME": names["bsrc"]}, "target": {**base, "NAME": names["bdst"]}}
    finally:
        with psycopg.connect(_conninfo(base, "postgres"), autocommit=True) as admin:
            for name in names.values():
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _folders(root: Path) -> dict[str, Path]:
    return {
        "MEDIA_ROOT": root / "media",
        "DOSSIER_FILES_ROOT": root / "private",
        "FEEDBACK_FILES_ROOT": root / "feedback",
    }


@pytest.fixture(scope="module")
def source(databases, tmp_path_factory):
    """The source database migrated and filled by a process of its own."""
    folders = _folders(tmp_path_factory.mktemp("source"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.test",
        "DATABASE_URL": _database_url(databases["source"]),
        "DJANGO_MEDIA_ROOT": str(folders["MEDIA_ROOT"]),
        "DOSSIER_FILES_ROOT": str(folders["DOSSIER_FILES_ROOT"]),
        "FEEDBACK_FILES_ROOT": str(folders["FEEDBACK_FILES_ROOT"]),
    }
    seeded = subprocess.run(
        [sys.executable, "-m", backup_source.__name__], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    codes = json.loads(seeded.stdout.strip().splitlines()[-1])
    return {"database": databases["source"], "folders": folders, "codes": codes}


@pytest.fixture(scope="module")
def archive(source, tmp_path_factory) -> Path:
    with override_settings(**source["folders"]):
        path, _ = backup_create(tmp_path_factory.mktemp("backups"), database=source["database"])
    return path


@pytest.fixture(scope="module")
def restored(archive, databases, tmp_path_factory):
    folders = _folders(tmp_path_factory.mktemp("target"))
    with override_settings(**folders):
        backup_restore(archive, database=databases["target"])
    return {"database": databases["target"], "folders": folders}


def test_every_table_has_the_same_rows_after_restore(source, restored):
    before = _row_counts(source["database"])
    after = _row_counts(restored["database"])
    assert after == before
    # Not an empty comparison: the data the test put there came back.
    assert before["dossiers_dossier"] == 303
    assert before["dossiers_attachment"] == 6
    assert before["dossiers_dossierevent"] >= 303
    assert before["dossiers_dailystat"] > 0 and before["dossiers_densitycount"] > 0
    assert before["layers_feature"] > 100_000
    assert before["layers_importjob"] == 1


def test_attachments_and_uploads_are_restored_with_their_bytes(source, restored):
    with psycopg.connect(_conninfo(restored["database"])) as conn:
        attachments = conn.execute("SELECT stored_name, sha256 FROM dossiers_attachment").fetchall()
        (upload,) = conn.execute("SELECT stored_path FROM layers_importjob").fetchone()
    private = restored["folders"]["DOSSIER_FILES_ROOT"]
    for stored_name, sha256 in attachments:
        assert hashlib.sha256((private / stored_name).read_bytes()).hexdigest() == sha256
    media = restored["folders"]["MEDIA_ROOT"]
    assert (media / upload).read_bytes() == (source["folders"]["MEDIA_ROOT"] / upload).read_bytes()


def test_the_restored_portal_looks_up_dossiers_and_serves_their_files(source, restored, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.test",
        "DATABASE_URL": _database_url(restored["database"]),
        "DJANGO_MEDIA_ROOT": str(restored["folders"]["MEDIA_ROOT"]),
        "DOSSIER_FILES_ROOT": str(restored["folders"]["DOSSIER_FILES_ROOT"]),
        "FEEDBACK_FILES_ROOT": str(restored["folders"]["FEEDBACK_FILES_ROOT"]),
    }
    with runserver(env, tmp_path) as base:
        for code in source["codes"]:
            with urllib.request.urlopen(f"{base}/api/v1/dossiers/lookup/?code={code}") as response:
                found = json.loads(response.read())
            assert (found["code"], found["status"], found["procedure"]["code"]) == (
                code,
                "waiting_receipt",  # online: it waits for the desk (issue #15)
                backup_source.PROCEDURE,
            )
            assert [step["action"] for step in found["timeline"]] == ["submit"]

        # The applicant signs in on the restored portal (password hash, token
        # table) and downloads an attachment: database and folder agree.
        request = urllib.request.Request(
            f"{base}/api/v1/auth/token/",
            data=json.dumps({"username": backup_source.CITIZEN, "password": backup_source.PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            token = json.loads(response.read())["token"]
        headers = {"Authorization": f"Token {token}"}
        code = source["codes"][0]
        with urllib.request.urlopen(urllib.request.Request(f"{base}/api/v1/dossiers/{code}/", headers=headers)) as r:
            attachment = json.loads(r.read())["attachments"][0]
        with urllib.request.urlopen(urllib.request.Request(base + attachment["url"], headers=headers)) as response:
            downloaded = response.read()
    with psycopg.connect(_conninfo(source["database"])) as conn:
        (stored_name,) = conn.execute(
            "SELECT stored_name FROM dossiers_attachment WHERE id = %s", [attachment["id"]]
        ).fetchone()
    assert downloaded == (source["folders"]["DOSSIER_FILES_ROOT"] / stored_name).read_bytes()
    assert downloaded.startswith((backup_source.PDF, backup_source.PNG))


def test_a_restore_into_a_database_that_is_not_empty_is_refused_and_changes_nothing(archive, restored):
    before = _row_counts(restored["database"])
    with override_settings(**restored["folders"]), pytest.raises(BackupError, match="not empty"):
        backup_restore(archive, database=restored["database"])
    assert _row_counts(restored["database"]) == before


def test_an_archive_with_a_path_out_of_its_folders_is_refused_before_anything_is_written(archive, databases, tmp_path):
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(archive) as original, tarfile.open(tampered, "w") as out:
        for member in original.getmembers():
            out.addfile(member, original.extractfile(member))
        evil = tarfile.TarInfo("private/../../escaped.txt")
        evil.size = 4
        out.addfile(evil, io.BytesIO(b"evil"))
    folders = _folders(tmp_path / "restore")
    with override_settings(**folders), pytest.raises(BackupError, match="Unsafe entry"):
        backup_restore(tampered, database=databases["target"])
    assert not (tmp_path / "escaped.txt").exists()
    assert not folders["MEDIA_ROOT"].exists() and not folders["DOSSIER_FILES_ROOT"].exists()
