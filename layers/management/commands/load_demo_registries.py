from django.core.management.base import BaseCommand
from tqdm import tqdm

from layers.registries.demo import DEMO_LAYER_STEPS, demo_parcel_count, demo_registries_load


class Command(BaseCommand):
    help = (
        "Load the demo sector registries: OpenStreetMap hospitals, generated schools, construction permits and "
        "land parcels (DEMO_PARCELS, default 100,000). Safe to run again: each layer's features are replaced."
    )

    def add_arguments(self, parser):
        parser.add_argument("--parcels", type=int, default=None, help="Number of land parcels (default DEMO_PARCELS).")

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        parcels = options["parcels"] or demo_parcel_count()
        with tqdm(total=DEMO_LAYER_STEPS, desc="Lớp chuyên ngành mẫu / demo registries", disable=verbosity == 0) as bar:
            reports = demo_registries_load(parcels=parcels, progress=bar.update)
        if verbosity:
            for report in reports:
                self.stdout.write(self.style.SUCCESS(f"{report.slug}: {report.features} features"))
