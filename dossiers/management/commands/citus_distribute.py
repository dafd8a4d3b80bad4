from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dossiers.citus import citus_distribute


class Command(BaseCommand):
    help = (
        "DATABASE_DISTRIBUTION=citus: distribute the dossier tables by province_code and make the other tables "
        "reference tables on the Citus coordinator (run after migrate; safe to run again)."
    )

    def handle(self, *args, **options):
        if settings.DATABASE_DISTRIBUTION != "citus":
            raise CommandError("DATABASE_DISTRIBUTION is not 'citus': one PostgreSQL needs no distribution")
        report = citus_distribute()
        if not report.distributed and not report.reference:
            self.stdout.write("already distributed")
            return
        for line in report.lines():
            self.stdout.write(line)
