from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gisportal.operations.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into the portal's database, which must be empty and have the "
        "extensions (./portal setup makes it so), and into the file folders (an existing file that differs stops "
        "the restore). Row counts of every table are checked against the backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        try:
            report = backup_restore(Path(options["file"]))
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{options['file']} ({report.manifest['created_at']}) restored: "
            f"{len(report.tables)} tables, {sum(report.tables.values()):,} rows, as in the backup; "
            + "; ".join(f"{label}: {f['files']:,} files" for label, f in report.files.items())
        )
