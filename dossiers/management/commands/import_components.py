from django.core.management.base import BaseCommand, CommandError

from dossiers.components import components_import
from gisportal.api import message


class Command(BaseCommand):
    help = (
        "Import dossier components and e-forms from a JSON file ({procedure code: [component, ...]}, as "
        "dossiers/data/components.json) or a CSV file (columns procedure, code, name, required, group, originals, "
        "copies, accepted_types, form_schema, order). The components of each procedure named are replaced; one bad "
        "entry and nothing changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="JSON or CSV file, UTF-8")

    def handle(self, *args, **options):
        report = components_import(path=options["path"])
        if not report.ok:
            for error in report.errors:
                self.stderr.write(error)
            raise CommandError(
                message(
                    f"Không nhập được ({len(report.errors)} lỗi); thành phần hồ sơ không thay đổi.",
                    f"Nothing imported ({len(report.errors)} errors); the components are unchanged.",
                )
            )
        self.stdout.write(self.style.SUCCESS(report.summary()))
