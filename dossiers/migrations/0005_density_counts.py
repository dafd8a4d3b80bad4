"""The 2019 commune of each dossier and the pre-counted density tables;
existing dossiers are located and counted here.

Self-contained: the SQL below is `dossiers.density_counts` as it stood when
this migration was written (its `communes_2019_fill` and `density_rebuild`),
with the constants of that time written out. A migration must not import the
live module: when the module changes, this step of history must not."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

# As of this migration: the stored H3 resolutions, the statuses in the order
# that numbers them in the `key` column (from 1), and per area the dossier
# column holding the cell and the dimensions pre-counted.
_H3_RESOLUTIONS = (6, 7, 8, 9)
_STATUSES = [
    "received",
    "assigned",
    "processing",
    "waiting_supplement",
    "supplemented",
    "transferred",
    "approved",
    "refused",
    "result_ready",
    "result_returned",
    "withdrawn",
    "stopped",
]
_DIMENSIONS = ("all", "procedure", "channel", "status")
_AREAS = {
    **{res: (f"h3_r{res}", _DIMENSIONS if res < 9 else ("all",)) for res in _H3_RESOLUTIONS},
    2025: ("applicant_commune_id", _DIMENSIONS),
    2019: ("applicant_commune_2019_id", _DIMENSIONS),
}
_KEY_SQL = {
    "procedure": "procedure_id",
    "channel": "channel::bigint",
    "status": "array_position(%(statuses)s::text[], status)::bigint",
}


def _communes_2019_fill(cursor) -> None:
    """The 2019 commune holding each located dossier (the first by code where
    two outlines overlap by a sliver along a shared border)."""
    cursor.execute(
        """UPDATE dossiers_dossier d SET applicant_commune_2019_id = (
               SELECT u.id FROM layers_administrativeunit u
                WHERE u.era = '2019' AND u.level = 'commune' AND ST_Intersects(u.geom, d.location)
                ORDER BY u.code LIMIT 1)
           WHERE d.location IS NOT NULL AND d.applicant_commune_2019_id IS NULL"""
    )


def _density_rebuild(cursor) -> None:
    params = {"tz": timezone.get_current_timezone_name(), "statuses": _STATUSES}
    cursor.execute("DELETE FROM dossiers_densitycount")
    cursor.execute("DELETE FROM dossiers_densitydaycount")
    for area, (column, dimensions) in _AREAS.items():
        filtered = [d for d in dimensions if d != "all"]
        whens = "".join(f"WHEN GROUPING({d}) = 0 THEN '{d}' " for d in filtered)
        dimension = f"CASE {whens}ELSE 'all' END" if filtered else "'all'"
        key = f"coalesce({', '.join(filtered + ['0'])})"
        sets = ["(cell, month)"] + [f"(cell, month, {d})" for d in filtered]
        selected = "".join(f", {_KEY_SQL[d]} AS {d}" for d in filtered)
        cursor.execute(
            f"""INSERT INTO dossiers_densitycount (month, area, cell, dimension, key, dossiers)
                SELECT month, {area}, cell, {dimension}, {key}, count(*)
                FROM (SELECT {column} AS cell,
                             date_trunc('month', received_at AT TIME ZONE %(tz)s)::date AS month{selected}
                      FROM dossiers_dossier WHERE {column} IS NOT NULL) AS d
                GROUP BY GROUPING SETS ({", ".join(sets)})""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO dossiers_densitydaycount (day, area, cell, dossiers)
                SELECT (received_at AT TIME ZONE %(tz)s)::date, {area}, {column}, count(*)
                FROM dossiers_dossier WHERE {column} IS NOT NULL GROUP BY 1, 3""",
            params,
        )


def fill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        _communes_2019_fill(cursor)
        _density_rebuild(cursor)


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0004_h3_cells"),
        ("layers", "0002_layer_importjob_featurechange_feature"),
    ]

    operations = [
        migrations.AddField(
            model_name="dossier",
            name="applicant_commune_2019",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                help_text="Commune of the 2019 map holding `location` (the first by code on a shared border), found when the dossier is written, for density maps of the old communes.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="layers.administrativeunit",
            ),
        ),
        migrations.CreateModel(
            name="DensityCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField(help_text="First day of the month of receipt (local time).")),
                ("area", models.PositiveSmallIntegerField()),
                ("cell", models.BigIntegerField()),
                ("dimension", models.CharField(max_length=9)),
                ("key", models.BigIntegerField()),
                ("dossiers", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("area", "dimension", "key", "month", "cell"),
                        include=("dossiers",),
                        name="densitycount_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DensityDayCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("area", models.PositiveSmallIntegerField()),
                ("cell", models.BigIntegerField()),
                ("dossiers", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("area", "day", "cell"), include=("dossiers",), name="densitydaycount_key"
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
