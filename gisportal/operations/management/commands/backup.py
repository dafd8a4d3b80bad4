from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gisportal.operations.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump custom format) and the file folders (MEDIA_ROOT: forms, registry uploads, "
        "import reports; DOSSIER_FILES_ROOT: dossier attachments) into one tar file in DIR (default var/backups)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=str(Path(settings.BASE_DIR) / "var" / "backups"))

    def handle(self, *args, **options):
        try:
            path, manifest = backup_create(Path(options["directory"]))
        except BackupError as error:
            raise CommandError(str(error)) from error
        tables = manifest["database"]["tables"]
        files = manifest["files"]
        self.stdout.write(
            f"{path}\n"
            f"  {len(tables)} tables, {sum(tables.values()):,} rows; "
            + "; ".join(f"{label}: {f['files']:,} files, {f['bytes']:,} bytes" for label, f in files.items())
            + f"; {path.stat().st_size:,} bytes in all"
        )
