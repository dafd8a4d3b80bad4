"""Migrations are history: they must not import the application's modules
(which change later), and the density migration must still rebuild its rows."""

import ast
import importlib
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import DensityCount, DensityDayCount, Dossier

PROJECT_PACKAGES = {"gisportal", "layers", "dossiers", "maps", "postal"}


def _imported_modules(tree: ast.Module) -> list[tuple[str, bool]]:
    """(module, at the top of the file) for every import in a module."""
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(("." * node.level + (node.module or ""), id(node) in top))
    return found


def _migration_files() -> list[Path]:
    files = sorted(Path(settings.BASE_DIR).glob("**/migrations/0*.py"))
    return [f for f in files if not {".venv", "var", "node_modules"} & set(f.parts)]


def test_migrations_import_no_application_module():
    """Only Django, the standard library and third-party packages; the one
    exception is what makemigrations itself writes at the top of a file: a
    field's validators module (`gisportal.accounts.validators`)."""
    files = _migration_files()
    assert any(f.name == "0005_density_counts.py" for f in files)
    offending = []
    for path in files:
        for module, at_top in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            ours = module.startswith(".") or module.split(".")[0] in PROJECT_PACKAGES
            if ours and not (at_top and module.endswith(".validators")):
                offending.append(f"{path.relative_to(settings.BASE_DIR)}: {module}")
    assert offending == []


@pytest.mark.django_db
def test_the_density_migration_rebuilds_the_counts_and_the_2019_communes():
    """With the counts and every dossier's 2019 commune gone, the migration's
    own fill (as `migrate` runs it on a database that predates 0005) rebuilds
    the rows the services and the demo loader kept. Running it through a real
    rewind to 0004 and back took 43 s, the longest test of the suite, and grew
    with every later migration of any app that depends on dossiers."""
    commune_committees_ensure()
    dossier_history_generate(count=300, years=1, seed=3, with_events=False)
    months = sorted(
        DensityCount.objects.exclude(dossiers=0).values_list("month", "area", "cell", "dimension", "key", "dossiers")
    )
    days = sorted(DensityDayCount.objects.values_list("day", "area", "cell", "dimension", "key", "dossiers"))
    communes_2019 = dict(Dossier.objects.values_list("pk", "applicant_commune_2019_id"))
    assert len(months) > 1000 and sum(1 for c in communes_2019.values() if c) == 300
    Dossier.objects.update(applicant_commune_2019=None)
    DensityCount.objects.all().delete()
    DensityDayCount.objects.all().delete()
    migration = importlib.import_module("dossiers.migrations.0005_density_counts")
    pairs = importlib.import_module("dossiers.migrations.0015_density_pairs")
    day_keys = importlib.import_module("dossiers.migrations.0020_density_day_keys")
    with connection.schema_editor() as editor:
        migration.fill(None, editor)
        pairs.count_pairs(None, editor)  # the pairs of two filters, added later
        day_keys.count_days(None, editor)  # the day rows per procedure, channel and their pair, later still
    assert (
        sorted(
            DensityCount.objects.exclude(dossiers=0).values_list(
                "month", "area", "cell", "dimension", "key", "dossiers"
            )
        )
        == months
    )
    assert sorted(DensityDayCount.objects.values_list("day", "area", "cell", "dimension", "key", "dossiers")) == days
    assert dict(Dossier.objects.values_list("pk", "applicant_commune_2019_id")) == communes_2019
