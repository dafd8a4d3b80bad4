"""The files' stores (gisportal/filestore.py): with no PORTAL_STORAGE the
folders are today's; a wrong configuration stops the start with a clear
message; the local folder follows its setting; a local file is read where
it is (tests/test_storage_s3.py covers the object store end to end)."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile

from gisportal.filestore import dossier_storage, feedback_storage, local_copy, media_storage, storage_settings


def test_without_portal_storage_the_files_stay_in_todays_folders(settings, tmp_path):
    assert settings.PORTAL_STORAGE == "local"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DOSSIER_FILES_ROOT = tmp_path / "private"
    settings.FEEDBACK_FILES_ROOT = tmp_path / "feedback"
    for storage, folder in [
        (media_storage(), "media"),
        (dossier_storage(), "private"),
        (feedback_storage(), "feedback"),
    ]:
        name = storage.save("x/a.txt", ContentFile(b"abc"))
        assert (tmp_path / folder / "x" / "a.txt").read_bytes() == b"abc"
        with local_copy(storage, name) as path:
            assert path == tmp_path / folder / "x" / "a.txt"  # read in place, no copy
        storage.delete(name)
        assert not Path(tmp_path / folder / "x" / "a.txt").exists()


@pytest.mark.parametrize(
    ("kind", "bucket", "error"),
    [("s3", None, "needs AWS_STORAGE_BUCKET_NAME"), ("nfs", None, "must be local or s3")],
)
def test_a_wrong_storage_configuration_is_refused_by_name(kind, bucket, error):
    with pytest.raises(ImproperlyConfigured, match=error):
        storage_settings(kind=kind, bucket=bucket, static_backend="x")


def test_s3_puts_every_store_in_one_bucket_under_its_own_prefix():
    stores = storage_settings(kind="s3", bucket="portal", static_backend="static")
    assert {alias: store["OPTIONS"]["location"] for alias, store in stores.items() if alias != "staticfiles"} == {
        "default": "media",
        "dossier_files": "private/dossiers",
        "feedback_files": "private/feedback",
    }
    assert stores["staticfiles"] == {"BACKEND": "static"}
