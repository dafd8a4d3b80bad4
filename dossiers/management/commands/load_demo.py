from django.core.management import call_command
from django.core.management.base import BaseCommand

from dossiers.catalogue import catalogue_demo_load
from dossiers.demo_setup import commune_committees_ensure, demo_officials_ensure, demo_waiting_dossiers_ensure
from dossiers.extensions import demo_history_parts_present
from dossiers.models import Dossier

DEFAULT_DOSSIERS = 200_000
DEFAULT_FEEDBACK = 300


class Command(BaseCommand):
    help = (
        "Load all Bắc Ninh demo data: units of both eras, service points, agencies, registries, the procedure "
        "catalogue, demo accounts of every role, and a two-year dossier history. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dossiers",
            type=int,
            default=DEFAULT_DOSSIERS,
            help=f"Demo dossier history size (default {DEFAULT_DOSSIERS:,}); regenerated only when the count "
            "of demo dossiers differs; 0 leaves the history as it is.",
        )

        parser.add_argument(
            "--feedback",
            type=int,
            default=DEFAULT_FEEDBACK,
            help=f"Demo feedback reports (default {DEFAULT_FEEDBACK}); 0 leaves them as they are.",
        )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("load_demo_layers", verbosity=verbosity)
        committees = commune_committees_ensure()
        procedures = catalogue_demo_load()
        accounts = demo_officials_ensure()
        if verbosity:
            self.stdout.write(self.style.SUCCESS(f"{committees} commune committees, {procedures} procedures"))
        wanted = options["dossiers"]
        # Regenerated when its size differs, or when an app's share of it
        # (payments, ...) is missing from a history loaded before that app.
        if wanted and (Dossier.objects.filter(is_demo=True).count() != wanted or not demo_history_parts_present()):
            call_command("load_demo_dossiers", count=wanted, verbosity=verbosity)
        # After the history: its codes of today leave room for these (issue #15).
        waiting = demo_waiting_dossiers_ensure()
        if verbosity and waiting:
            self.stdout.write(f"{waiting} online dossiers of the demo citizen wait for receipt")
        # By name: the dossier core does not import the feedback app.
        call_command("load_demo_feedback", count=options["feedback"], verbosity=verbosity)
        for account in accounts:
            self.stdout.write(f"Tài khoản mẫu / demo account: {account.username} / {account.password} — {account.role}")
