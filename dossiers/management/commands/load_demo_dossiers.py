from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from dossiers.demo_history import dossier_history_generate


class Command(BaseCommand):
    help = (
        "Replace the demo dossiers with a realistic history (COPY): applicants spread by commune population, "
        "channels, procedures and delays in plausible proportions, events for every step. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=200_000, help="Number of dossiers (default 200,000).")
        parser.add_argument("--years", type=int, default=2, help="Period ending yesterday, in years (default 2).")
        parser.add_argument("--seed", type=int, default=2025, help="Random seed (default 2025).")

    def handle(self, *args, **options):
        count, verbosity = options["count"], options["verbosity"]
        if count < 1 or options["years"] < 1:
            raise CommandError("--count and --years must be positive")
        timings: dict = {}
        with tqdm(total=count, desc="Hồ sơ mẫu / demo dossiers", unit=" hs", disable=verbosity == 0) as bar:
            try:
                written = dossier_history_generate(
                    count=count, years=options["years"], seed=options["seed"], progress=bar.update, timings=timings
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
        if verbosity:
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if isinstance(v, float) and k != "total")
            self.stdout.write(
                self.style.SUCCESS(
                    f"{written:,} demo dossiers and {timings.get('events', 0):,} events in {timings['total']:.1f} s"
                )
            )
            self.stdout.write(f"  ({phases})")
