"""`manage.py density_rebuild` and `manage.py stats_rebuild`, which the
docstrings and docs tell operators to run after bulk loads: from wiped or
damaged tables they bring back exactly the rows the services kept."""

import io

import pytest
from django.core.management import call_command

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import DailyStat, DensityCount, DensityDayCount, Dossier

pytestmark = pytest.mark.django_db

# Places inside the province (lon, lat): the provincial centre, Từ Sơn, Thuận Thành.
PLACES = [(106.0763, 21.1861), (105.9570, 21.1170), (106.0860, 21.0560)]


@pytest.fixture
def kept(db, submit, drive, people):
    """A small history, then dossiers through the services in known places,
    walked to several states: the services keep the counted rows."""
    commune_committees_ensure()
    dossier_history_generate(count=300, years=1, seed=5, with_events=False)
    for i, state in enumerate(["received", "processing", "approved", "refused", "result_returned", "withdrawn"]):
        lon, lat = PLACES[i % len(PLACES)]
        drive(submit(user=people.desk_main, channel=1, lon=lon, lat=lat), state)


def _density() -> tuple[dict, dict]:
    months = {
        (r.month, r.area, r.cell, r.dimension, r.key): r.dossiers for r in DensityCount.objects.exclude(dossiers=0)
    }
    days = {
        (r.day, r.area, r.cell, r.dimension, r.key): r.dossiers for r in DensityDayCount.objects.exclude(dossiers=0)
    }
    return months, days


def _stats() -> dict:
    fields = ("received", "online", "finished", "early", "on_time", "late", "processing_days_sum")
    return {
        (r.day, r.dimension, r.key): tuple(getattr(r, f) for f in fields)
        for r in DailyStat.objects.all()
        if any(getattr(r, f) for f in fields)
    }


def test_density_rebuild_command_restores_the_kept_rows(kept):
    months, days = _density()
    communes_2019 = dict(Dossier.objects.values_list("pk", "applicant_commune_2019_id"))
    assert months and days and sum(1 for c in communes_2019.values() if c) > 300
    # Day rows for the filters a status move leaves alone, kept by the services as they received.
    assert {key[3] for key in days} == {"all", "procedure", "channel", "proc_chan"}
    DensityCount.objects.all().delete()
    DensityDayCount.objects.filter(area=2019).update(dossiers=7)
    Dossier.objects.filter(pk__in=list(communes_2019)[::2]).update(applicant_commune_2019=None)
    out = io.StringIO()
    call_command("density_rebuild", stdout=out)
    assert _density() == (months, days)
    assert dict(Dossier.objects.values_list("pk", "applicant_commune_2019_id")) == communes_2019
    assert f"{len(months):,} density rows" in out.getvalue()


def test_stats_rebuild_command_restores_the_kept_rows(kept):
    stats = _stats()
    assert stats
    DailyStat.objects.filter(dimension="agency").delete()
    DailyStat.objects.filter(dimension="all").update(received=0)
    out = io.StringIO()
    call_command("stats_rebuild", stdout=out)
    assert _stats() == stats
    assert "indicator rows rebuilt" in out.getvalue()
