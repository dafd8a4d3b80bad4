"""Migrations are history: they must not import the application's modules
(which change later), and the density migration must still work both ways."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

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
def test_density_migration_back_and_forward():
    """Back to before 0005 (tables and the 2019 commune column dropped) and
    forward again: the migrations alone rebuild the rows the services and the
    demo loader kept, and every dossier's 2019 commune."""
    commune_committees_ensure()
    dossier_history_generate(count=300, years=1, seed=3, with_events=False)
    months = sorted(
        DensityCount.objects.exclude(dossiers=0).values_list("month", "area", "cell", "dimension", "key", "dossiers")
    )
    days = sorted(DensityDayCount.objects.values_list("day", "area", "cell", "dossiers"))
    communes_2019 = dict(Dossier.objects.values_list("pk", "applicant_commune_2019_id"))
    assert len(months) > 1000 and sum(1 for c in communes_2019.values() if c) == 300
    with connection.cursor() as cursor:
        # The rows written in this test's transaction have deferred foreign-key
        # checks pending, and PostgreSQL alters no table that has those.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.migrate([("dossiers", "0004_h3_cells")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('dossiers_densitycount')")
        assert cursor.fetchone()[0] is None
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert (
        sorted(
            DensityCount.objects.exclude(dossiers=0).values_list(
                "month", "area", "cell", "dimension", "key", "dossiers"
            )
        )
        == months
    )
    assert sorted(DensityDayCount.objects.values_list("day", "area", "cell", "dossiers")) == days
    assert dict(Dossier.objects.values_list("pk", "applicant_commune_2019_id")) == communes_2019
