from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from layers.services import ServicePointImportError, service_points_import


class Command(BaseCommand):
    help = (
        "Create or update service points from a CSV (columns code, kind, name, address, lon, lat, "
        "opening_hours, counters, phone, receiving_unit_identifier) or a GeoJSON of points with those "
        "properties. Rows are matched by code; any bad row refuses the whole file."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp / file not found: {path}")
        try:
            with tqdm(desc="Điểm phục vụ / service points", disable=options["verbosity"] == 0) as bar:
                count = service_points_import(path=path, progress=bar.update)
        except ServicePointImportError as error:
            for line in error.errors:
                self.stderr.write(line)
            raise CommandError(f"Tệp bị từ chối, không có thay đổi / file refused, nothing changed: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"{count} service points imported"))
