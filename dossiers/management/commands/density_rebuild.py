from django.core.management.base import BaseCommand
from django.db import transaction

from dossiers.density_counts import communes_2019_fill, density_rebuild


class Command(BaseCommand):
    help = (
        "Recount the pre-counted dossier density (DensityCount, DensityDayCount) from the dossiers, after a bulk "
        "load or a change of density_counts.STATUS_KEYS; located dossiers without a 2019 commune get one first. "
        "Safe to run on a live portal: submissions wait for it."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            located = communes_2019_fill()
            rows = density_rebuild()
        if options["verbosity"]:
            self.stdout.write(
                self.style.SUCCESS(f"{rows:,} density rows rebuilt; {located:,} dossiers given their 2019 commune")
            )
