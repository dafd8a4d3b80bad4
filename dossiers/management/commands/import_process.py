from django.core.management.base import BaseCommand, CommandError

from dossiers.process import process_import
from gisportal.api import message


class Command(BaseCommand):
    help = (
        "Import procedures' own processes from a JSON file ({procedure code: [{action, roles, days}, ...]}, as "
        "dossiers/data/processes.json) or a CSV file (columns procedure, action, roles ('|'-separated), days; one "
        "row per step). The process of each procedure named is replaced; one bad step and nothing changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="JSON or CSV file, UTF-8")

    def handle(self, *args, **options):
        report = process_import(path=options["path"])
        if not report.ok:
            for error in report.errors:
                self.stderr.write(error)
            raise CommandError(
                message(
                    f"Không nhập được ({len(report.errors)} lỗi); quy trình không thay đổi.",
                    f"Nothing imported ({len(report.errors)} errors); the processes are unchanged.",
                )
            )
        self.stdout.write(self.style.SUCCESS(report.summary()))
