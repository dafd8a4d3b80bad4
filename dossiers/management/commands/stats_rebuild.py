from django.core.management.base import BaseCommand

from dossiers.stats import stats_rebuild


class Command(BaseCommand):
    help = (
        "Recount the daily indicator rows (DailyStat) from the dossiers, after a bulk load. Safe to run on a live "
        "portal: receipts and finishes wait for it."
    )

    def handle(self, *args, **options):
        rows = stats_rebuild()
        if options["verbosity"]:
            self.stdout.write(self.style.SUCCESS(f"{rows:,} indicator rows rebuilt"))
