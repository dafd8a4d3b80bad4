from django.conf import settings
from django.core.management.base import BaseCommand

from dossiers.drafts import drafts_expire


class Command(BaseCommand):
    help = (
        "Delete the dossier drafts not saved for DOSSIER_DRAFT_DAYS days (30 by default); their documents stay in "
        "the owners' document stores. Celery beat runs the same every hour (dossier-drafts-expire)."
    )

    def handle(self, *args, **options):
        deleted = drafts_expire()
        if options["verbosity"]:
            self.stdout.write(
                self.style.SUCCESS(f"{deleted:,} drafts older than {settings.DOSSIER_DRAFT_DAYS} days deleted")
            )
