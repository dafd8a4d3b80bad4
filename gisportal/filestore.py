"""Where the portal keeps its files: one code path, two kinds of store.

Every file goes through a Django storage (`storages[...]`), never through a
folder path:

- `default` (MEDIA_ROOT): procedure forms, registry uploads waiting for
  their import job, import error reports;
- `dossier_files` (DOSSIER_FILES_ROOT): dossier attachments, result
  documents, a citizen's document store;
- `feedback_files` (FEEDBACK_FILES_ROOT): feedback photos, originals and
  public copies.

PORTAL_STORAGE=local (the default) keeps both in local folders, exactly as
on one machine before. PORTAL_STORAGE=s3 keeps them in one bucket of an
S3-compatible object store (django-storages), under the prefixes `media/`,
`private/dossiers/` and `private/feedback/`, so that web servers and workers on other hosts see
the same files (settings: `storage_settings`).

A file that a library must read from disk (GDAL reads registry uploads) is
fetched to a temporary local file for the time of the read (`local_copy`);
with the local folder it is read where it is.
"""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage, storages

DOSSIER_FILES = "dossier_files"
FEEDBACK_FILES = "feedback_files"
MEDIA = "default"
S3_PREFIXES = {MEDIA: "media", DOSSIER_FILES: "private/dossiers", FEEDBACK_FILES: "private/feedback"}
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


class SettingFolderStorage(FileSystemStorage):
    """A local folder named by a setting, read at each use: a test (or a
    command) that changes the setting moves the store with it, as MEDIA_ROOT
    does for the default FileSystemStorage."""

    def __init__(self, *, setting: str, **kwargs):
        self.setting = setting
        super().__init__(**kwargs)

    @property
    def base_location(self):
        return getattr(settings, self.setting)

    @property
    def location(self):
        return str(Path(self.base_location).resolve())


def storage_settings(*, kind: str, bucket: str | None, static_backend: str) -> dict[str, dict]:
    """The STORAGES setting for PORTAL_STORAGE=`kind` (local or s3)."""
    static = {"BACKEND": static_backend}
    if kind == "local":
        return {
            MEDIA: {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            DOSSIER_FILES: {
                "BACKEND": "gisportal.filestore.SettingFolderStorage",
                "OPTIONS": {"setting": "DOSSIER_FILES_ROOT"},
            },
            FEEDBACK_FILES: {
                "BACKEND": "gisportal.filestore.SettingFolderStorage",
                "OPTIONS": {"setting": "FEEDBACK_FILES_ROOT"},
            },
            "staticfiles": static,
        }
    if kind == "s3":
        if not bucket:
            raise ImproperlyConfigured("PORTAL_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
        # Private objects; links to them are never handed out (the portal
        # streams every file after its own access check).
        options = {"default_acl": None, "querystring_auth": True, "file_overwrite": True}
        return {
            alias: {"BACKEND": "gisportal.s3storage.PortalS3Storage", "OPTIONS": {**options, "location": prefix}}
            for alias, prefix in S3_PREFIXES.items()
        } | {"staticfiles": static}
    raise ImproperlyConfigured(f"PORTAL_STORAGE must be local or s3, not {kind!r}")


def media_storage() -> Storage:
    return storages[MEDIA]


def dossier_storage() -> Storage:
    return storages[DOSSIER_FILES]


def feedback_storage() -> Storage:
    return storages[FEEDBACK_FILES]


def is_local(storage: Storage) -> bool:
    """Whether the store's files have a local path (a folder of this host)."""
    try:
        storage.path("probe")
    except NotImplementedError:
        return False
    return True


@contextmanager
def local_copy(storage: Storage, name: str) -> Iterator[Path]:
    """A local path to read `name` from: the file itself in a local folder,
    else a temporary copy (same suffix, for format detection), removed
    afterwards."""
    if is_local(storage):
        yield Path(storage.path(name))
        return
    with tempfile.TemporaryDirectory(prefix="portal-fetch-") as folder:
        target = Path(folder) / f"source{PurePosixPath(name).suffix}"
        with storage.open(name, "rb") as source, target.open("wb") as copy:
            shutil.copyfileobj(source, copy, DOWNLOAD_CHUNK_BYTES)
        yield target


def names_under(storage: Storage, folder: str, *, prefix: str) -> list[str]:
    """Names (`folder/file`) of the files directly in `folder` whose name
    starts with `prefix`; none when the folder does not exist."""
    try:
        _, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{name}" for name in files if name.startswith(prefix)]
