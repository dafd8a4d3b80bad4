from django.core.management.base import BaseCommand

from feedback.demo import feedback_categories_ensure, feedback_demo_generate
from feedback.models import Feedback

DEFAULT_REPORTS = 300


class Command(BaseCommand):
    help = (
        "Feedback categories (always) and demo feedback reports spread by population over the last 180 days, "
        "with ratings of some answers and of some finished demo dossiers. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--count",
            type=int,
            default=DEFAULT_REPORTS,
            help=f"Demo reports (default {DEFAULT_REPORTS}); regenerated only when the count of demo reports "
            "differs; 0 leaves them as they are.",
        )

    def handle(self, *args, **options):
        categories = feedback_categories_ensure()
        wanted = options["count"]
        written = 0
        if wanted and Feedback.objects.filter(is_demo=True).count() != wanted:
            written = feedback_demo_generate(count=wanted)
        if options["verbosity"]:
            self.stdout.write(self.style.SUCCESS(f"{categories} feedback categories, {written} demo reports written"))
