from django.core.management.base import BaseCommand
from tqdm import tqdm

from layers.services import UNIT_STEPS, admin_units_load


class Command(BaseCommand):
    help = "Load Bắc Ninh's administrative units of both eras (2019 and 2025) and the merger links. Idempotent."

    def handle(self, *args, **options):
        with tqdm(total=UNIT_STEPS, desc="Đơn vị hành chính / admin units", disable=options["verbosity"] == 0) as bar:
            report = admin_units_load(progress=bar.update)
        if options["verbosity"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{report.units} units, {report.successions} succession links "
                    f"({len(report.spatial_successions)} by the spatial rule: {', '.join(report.spatial_successions)})"
                )
            )
