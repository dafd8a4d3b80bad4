from pathlib import Path

from django.core.management.base import BaseCommand

from dossiers.catalogue import procedures_export


class Command(BaseCommand):
    help = (
        "Export the procedure catalogue to a CSV file in the columns import_procedures reads (the postal ones "
        "included: postal_submission_allowed, postal_result_allowed), so it can be edited and imported again."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file to write (UTF-8 with a BOM)")

    def handle(self, *args, **options):
        Path(options["path"]).write_bytes(procedures_export())
        self.stdout.write(self.style.SUCCESS(f"Written: {options['path']}"))
