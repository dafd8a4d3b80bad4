"""An S3-compatible object store for end-to-end tests: moto's server on a
loopback port (pinned in requirements.txt), and the environment that points a
portal process (web server or worker) at one of its buckets, and a "host": the
working directory and local folders a process on another machine would have."""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from tests.live import PROJECT_ROOT
from tests.processes import free_port

REGION = "us-east-1"
KEYS = {"AWS_ACCESS_KEY_ID": "portal-test", "AWS_SECRET_ACCESS_KEY": "portal-test-secret"}


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str

    def env(self) -> dict[str, str]:
        """What the portal's processes need to keep their files in this bucket."""
        return {
            "PORTAL_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            **KEYS,
        }

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, content: bytes) -> None:
        self.client().put_object(Bucket=self.name, Key=key, Body=content)


@contextmanager
def moto_bucket() -> Iterator[Bucket]:
    """A bucket on a moto S3 server of its own, in this process (a module's
    fixture: `with moto_bucket() as bucket: yield bucket`)."""
    # Its request log (werkzeug's) would fill the test output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        bucket = Bucket(endpoint=f"http://127.0.0.1:{port}", name=f"portal-{uuid.uuid4().hex[:8]}")
        bucket.client().create_bucket(Bucket=bucket.name)
        yield bucket
    finally:
        server.stop()


HOST_FOLDERS = ("media", "private", "feedback", "tmp")


def other_host(folder: Path, name: str) -> tuple[Path, dict[str, str]]:
    """The working directory of a process on another machine, and the
    environment that gives it local folders of its own (media, dossier files,
    temporary files): nothing on disk is shared with the web server."""
    home = folder / name
    for sub in HOST_FOLDERS:
        (home / sub).mkdir(parents=True, exist_ok=True)
    return home, {
        "PYTHONPATH": str(PROJECT_ROOT),
        "DJANGO_MEDIA_ROOT": str(home / "media"),
        "DOSSIER_FILES_ROOT": str(home / "private"),
        "FEEDBACK_FILES_ROOT": str(home / "feedback"),
        "TMPDIR": str(home / "tmp"),
    }


def local_files(home: Path, *, folders: tuple[str, ...] = HOST_FOLDERS) -> list[Path]:
    """Every file in the host's local folders (what it should not keep)."""
    return sorted(path for sub in folders for path in (home / sub).rglob("*") if path.is_file())
