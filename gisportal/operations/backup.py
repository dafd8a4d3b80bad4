"""Backup and restore of the whole portal: the database and the file folders.

A backup is one tar file:

- `database.dump`: `pg_dump --format=custom` of the database, taken in a
  snapshot that the row counts of the manifest were read in, so the two agree;
- `media/...`: MEDIA_ROOT (procedure forms, registry uploads waiting for their
  import, import error reports);
- `private/...`: DOSSIER_FILES_ROOT (dossier attachments);
- `feedback/...`: FEEDBACK_FILES_ROOT (feedback photos, originals and public copies);
- `manifest.json`: when, from which server, the row count of every table, the
  number and bytes of the files.

A restore goes into an EMPTY database that has the extensions (as `./portal
setup` makes it, or any database where a superuser ran CREATE EXTENSION):
the extensions are not restored, since creating them needs a superuser,
and PostGIS's own rows of `spatial_ref_sys` are already there. It restores in
one transaction (a failed restore leaves the database empty), checks every
table's row count against the manifest, then writes the files, refusing to
overwrite a file that differs."""

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from psycopg import sql

from gisportal.api import message

FORMAT = "gisportal-backup"
VERSION = 1
DUMP_NAME = "database.dump"
MANIFEST_NAME = "manifest.json"
REQUIRED_EXTENSIONS = ("postgis", "unaccent", "pg_trgm", "btree_gist")

# Every ordinary or partitioned table in the database's own schemas, not
# those an extension owns (PostGIS's spatial_ref_sys).
_TABLES_SQL = """
    SELECT n.nspname, c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY 1, 2
"""
# pg_restore's table of contents: "<id>; <catalog oid> <oid> <description>"
_TOC_LINE = re.compile(r"^\d+; \d+ \d+ (?P<description>.*)$")
# Entries a non-superuser cannot restore and an empty database already has.
_SKIPPED_ENTRIES = re.compile(
    r"^(EXTENSION - |COMMENT - EXTENSION |SCHEMA - public |COMMENT - SCHEMA public |TABLE DATA public spatial_ref_sys )"
)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class RestoreReport:
    manifest: dict
    tables: dict[str, int]
    files: dict[str, dict[str, int]] = field(default_factory=dict)


def file_roots() -> dict[str, Path]:
    """The folders a backup carries, by their name inside the archive."""
    return {
        "media": Path(settings.MEDIA_ROOT),
        "private": Path(settings.DOSSIER_FILES_ROOT),
        "feedback": Path(settings.FEEDBACK_FILES_ROOT),
    }


# --- connecting ---------------------------------------------------------------------


def _default_database() -> dict:
    return connections["default"].settings_dict


def _conninfo(database: dict) -> str:
    values = {
        "host": database.get("HOST") or None,
        "port": str(database["PORT"]) if database.get("PORT") else None,
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "dbname": database["NAME"],
        "connect_timeout": (database.get("OPTIONS") or {}).get("connect_timeout"),
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in values.items() if v is not None})


def _tool_env(database: dict) -> dict[str, str]:
    """libpq's variables for pg_dump and pg_restore: the password stays out of
    the command line (and so out of `ps`)."""
    env = dict(os.environ)
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD")):
        if database.get(key):
            env[variable] = str(database[key])
        else:
            env.pop(variable, None)
    env["PGDATABASE"] = database["NAME"]
    return env


def _run_tool(argv: list[str], database: dict) -> str:
    tool = shutil.which(argv[0])
    if tool is None:
        raise BackupError(
            message(
                f"Không tìm thấy {argv[0]}; cài gói postgresql-client.",
                f"{argv[0]} not found; install the postgresql-client package.",
            )
        )
    result = subprocess.run([tool, *argv[1:]], env=_tool_env(database), capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(message(f"{argv[0]} thất bại:", f"{argv[0]} failed:") + "\n" + result.stderr.strip())
    return result.stdout


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows of every table of the database, by schema-qualified name."""
    counts: dict[str, int] = {}
    for schema, name in conn.execute(_TABLES_SQL).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        counts[f"{schema}.{name}"] = conn.execute(query).fetchone()[0]
    return counts


# --- backup ---------------------------------------------------------------------------


def backup_create(directory: Path, *, database: dict | None = None) -> tuple[Path, dict]:
    """Writes `gisportal-<time>.tar` into `directory`; returns its path and
    manifest. `database` is a Django DATABASES entry (default: the portal's)."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    database = database or _default_database()
    created_at = timezone.localtime()
    target = directory / f"gisportal-{created_at:%Y%m%d-%H%M%S}.tar"
    if target.exists():
        raise BackupError(message(f"{target} đã tồn tại.", f"{target} already exists."))
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=directory) as work:
        dump = Path(work) / DUMP_NAME
        server_version, tables = _dump(database, dump)
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
                archive.add(dump, DUMP_NAME)
                files = {
                    label: _add_folder(archive, root, label, skip=[directory, *_other_roots(label)])
                    for label, root in file_roots().items()
                }
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": created_at.isoformat(),
                    "database": {"name": database["NAME"], "server_version": server_version, "tables": tables},
                    "files": files,
                }
                _add_bytes(archive, MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.rename(target)
    return target, manifest


def _dump(database: dict, path: Path) -> tuple[str, dict[str, int]]:
    """pg_dump in a snapshot held open by our own transaction, whose row
    counts are then exactly those of the dump."""
    with psycopg.connect(_conninfo(database)) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        _run_tool(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={path}"], database)
        tables = table_counts(conn)
        conn.rollback()
    return server_version, tables


def _other_roots(label: str) -> list[Path]:
    """A folder nested in another is archived once, under its own name."""
    return [root for other, root in file_roots().items() if other != label]


def _add_folder(archive: tarfile.TarFile, root: Path, label: str, *, skip: list[Path]) -> dict[str, int]:
    """Regular files under `root` as `label/<relative path>`; links and
    special files are left out. Returns their count and bytes."""
    root = root.resolve()
    skipped = [s.resolve() for s in skip]
    count = size = 0
    if not root.is_dir():
        return {"files": 0, "bytes": 0}
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if (here / d).resolve() not in skipped)
        for name in sorted(names):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                info = archive.gettarinfo(path, f"{label}/{path.relative_to(root).as_posix()}")
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            except FileNotFoundError:
                continue  # removed meanwhile (an import upload whose job ended)
            count += 1
            size += info.size
    return {"files": count, "bytes": size}


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(dt.datetime.now().timestamp())
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(content))


# --- restore --------------------------------------------------------------------------


def backup_restore(archive_path: Path, *, database: dict | None = None) -> RestoreReport:
    """Restores a backup into an empty database (a Django DATABASES entry,
    default the portal's) and the file folders of the settings; raises
    BackupError when it cannot, or when a table's row count differs from the
    manifest afterwards."""
    database = database or _default_database()
    with _open_archive(archive_path) as archive:
        manifest = _manifest(archive)
        members = _file_members(archive)
        roots = file_roots()
        _check_empty(database)
        _check_no_conflicts(archive, members, roots)
        with tempfile.TemporaryDirectory(prefix="gisportal-restore-") as work:
            dump = Path(work) / DUMP_NAME
            source = archive.extractfile(DUMP_NAME)
            if source is None:
                raise BackupError(message("Bản sao lưu thiếu database.dump.", "The backup has no database.dump."))
            with source, dump.open("wb") as handle:
                shutil.copyfileobj(source, handle, 1024 * 1024)
            _restore_database(dump, database)
        with psycopg.connect(_conninfo(database), autocommit=True) as conn:
            conn.execute("ANALYZE")
            tables = table_counts(conn)
        expected = manifest["database"]["tables"]
        if tables != expected:
            differing = sorted(name for name in set(tables) | set(expected) if tables.get(name) != expected.get(name))
            raise BackupError(
                message("Số dòng khác bản sao lưu ở các bảng:", "Row counts differ from the backup in tables:")
                + " "
                + ", ".join(f"{n} ({tables.get(n)} ≠ {expected.get(n)})" for n in differing[:10])
            )
        files = _extract_files(archive, members, roots)
    for label, written in files.items():
        wanted = manifest["files"].get(label, {"files": 0, "bytes": 0})
        if written != wanted:
            raise BackupError(
                message(f"Tệp {label} khác bản sao lưu:", f"Files of {label} differ from the backup:")
                + f" {written} ≠ {wanted}"
            )
    return RestoreReport(manifest=manifest, tables=tables, files=files)


def _open_archive(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r")
    except (OSError, tarfile.TarError) as error:
        raise BackupError(message(f"Không đọc được {path}: {error}", f"Cannot read {path}: {error}")) from error


def _manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.getmember(MANIFEST_NAME)
        handle = archive.extractfile(member)
        manifest = json.loads(handle.read()) if handle else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(message("Đây không phải bản sao lưu của cổng.", "This is not a backup of the portal."))
    if manifest.get("version") != VERSION:
        raise BackupError(
            message(
                f"Phiên bản bản sao lưu {manifest.get('version')} không được hỗ trợ.",
                f"Backup version {manifest.get('version')} is not supported.",
            )
        )
    return manifest


def _file_members(archive: tarfile.TarFile) -> list[tuple[tarfile.TarInfo, str, PurePosixPath]]:
    """(member, folder label, path inside the folder) for every file of the
    archive's folders; a link, device, absolute or `..` path refuses the
    whole archive before anything is written."""
    labels = set(file_roots())
    found = []
    for member in archive.getmembers():
        if member.name in (DUMP_NAME, MANIFEST_NAME):
            continue
        path = PurePosixPath(member.name)
        label, *rest = path.parts or ("",)
        if (
            path.is_absolute()
            or ".." in path.parts
            or label not in labels
            or not rest
            or not (member.isfile() or member.isdir())
        ):
            raise BackupError(
                message(f"Mục không hợp lệ trong bản sao lưu: {member.name!r}", f"Unsafe entry: {member.name!r}")
            )
        if member.isfile():
            found.append((member, label, PurePosixPath(*rest)))
    return found


def _check_empty(database: dict) -> None:
    with psycopg.connect(_conninfo(database), autocommit=True) as conn:
        tables = conn.execute(_TABLES_SQL).fetchall()
        if tables:
            raise BackupError(
                message(
                    f"Cơ sở dữ liệu {database['NAME']} không trống ({len(tables)} bảng); "
                    "hãy khôi phục vào một cơ sở dữ liệu mới.",
                    f"Database {database['NAME']} is not empty ({len(tables)} tables); restore into a new one, "
                    "e.g. dropdb, then ./portal setup to create it empty with the extensions.",
                )
            )
        present = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
        for extension in REQUIRED_EXTENSIONS:
            if extension in present:
                continue
            try:
                conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)))
            except psycopg.Error as error:
                raise BackupError(
                    message(
                        f"Thiếu phần mở rộng {extension}; người quản trị PostgreSQL cần chạy: CREATE EXTENSION "
                        f"{extension};",
                        f"Extension {extension} is missing and could not be created ({error.diag.message_primary}); "
                        f"a PostgreSQL superuser must run: CREATE EXTENSION {extension};",
                    )
                ) from error


def _same_content(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> bool:
    if not path.is_file() or path.stat().st_size != member.size:
        return False
    source = archive.extractfile(member)
    if source is None:
        return False
    with source, path.open("rb") as existing:
        return hashlib.file_digest(source, "sha256").digest() == hashlib.file_digest(existing, "sha256").digest()


def _check_no_conflicts(archive, members, roots: dict[str, Path]) -> None:
    """Files already there are left alone when equal; one that differs stops
    the restore before anything is written."""
    for member, label, relative in members:
        target = roots[label] / relative
        if target.exists() and not _same_content(archive, member, target):
            raise BackupError(
                message(
                    f"{target} đã có và khác bản sao lưu; không ghi đè.",
                    f"{target} exists and differs from the backup; nothing was overwritten.",
                )
            )


def _restore_database(dump: Path, database: dict) -> None:
    toc = _run_tool(["pg_restore", "--list", str(dump)], database)
    kept = []
    for line in toc.splitlines():
        entry = _TOC_LINE.match(line)
        if entry and _SKIPPED_ENTRIES.match(entry.group("description") + " "):
            continue
        kept.append(line)
    listing = dump.with_suffix(".list")
    listing.write_text("\n".join(kept) + "\n")
    _run_tool(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--use-list={listing}",
            f"--dbname={database['NAME']}",
            str(dump),
        ],
        database,
    )


def _extract_files(archive, members, roots: dict[str, Path]) -> dict[str, dict[str, int]]:
    written = {label: {"files": 0, "bytes": 0} for label in roots}
    for member, label, relative in members:
        target = roots[label] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        source = archive.extractfile(member)
        if source is None:
            continue
        with source, target.open("wb") as handle:
            shutil.copyfileobj(source, handle, 1024 * 1024)
        os.utime(target, (member.mtime, member.mtime))
        written[label]["files"] += 1
        written[label]["bytes"] += member.size
    return written
