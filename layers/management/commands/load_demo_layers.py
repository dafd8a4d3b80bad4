from django.core.management import call_command
from django.core.management.base import BaseCommand
from tqdm import tqdm

from gisportal.demo import demo_accounts_ensure
from layers.models import AdministrativeUnit, Era, UnitLevel
from layers.services import demo_service_points_place


class Command(BaseCommand):
    help = "Load the spatial demo data (units of both eras, service points, agencies, registries). Safe to run again."

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("load_admin_units", verbosity=verbosity)
        communes = AdministrativeUnit.objects.filter(era=Era.POST_2025, level=UnitLevel.COMMUNE).count()
        with tqdm(total=communes, desc="Điểm phục vụ mẫu / demo service points", disable=verbosity == 0) as bar:
            placed = demo_service_points_place(progress=bar.update)
        if verbosity:
            self.stdout.write(self.style.SUCCESS(f"{placed} demo service points placed"))
        accounts = demo_accounts_ensure()  # agencies first: registries belong to them
        call_command("load_demo_registries", verbosity=verbosity)
        for account in accounts:
            self.stdout.write(f"Tài khoản mẫu / demo account: {account.username} / {account.password} — {account.role}")
