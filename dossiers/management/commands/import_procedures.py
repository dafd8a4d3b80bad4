from django.core.management.base import BaseCommand, CommandError

from dossiers.catalogue import procedures_import
from gisportal.api import message


class Command(BaseCommand):
    help = (
        "Import the procedure catalogue from a CSV file (columns as data/procedures/catalogue.csv), matched by "
        "national code. Every row is checked first: one bad row and nothing changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, UTF-8")

    def handle(self, *args, **options):
        report = procedures_import(path=options["path"])
        if not report.ok:
            for error in report.errors:
                self.stderr.write(error)
            raise CommandError(
                message(
                    f"Không nhập được ({len(report.errors)} lỗi); danh mục không thay đổi.",
                    f"Nothing imported ({len(report.errors)} errors); the catalogue is unchanged.",
                )
            )
        self.stdout.write(self.style.SUCCESS(report.summary()))
