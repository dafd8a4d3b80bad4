"""Day rows of the density counts per procedure, per channel and per pair of
the two (`DensityDayCount.dimension`, `key`), beside the unfiltered ones: the
edge days of a period with those filters are then summed, not counted from
the dossiers. The rows of the dossiers already received are counted here;
later ones are kept by the services.

Self-contained, like 0005 and 0015: the areas and key rule as they stand
when this migration was written. `key` is first * 64 + second for a pair."""

from django.db import migrations, models
from django.utils import timezone

_AREAS = {6: "h3_r6", 7: "h3_r7", 8: "h3_r8", 2025: "applicant_commune_id", 2019: "applicant_commune_2019_id"}
_KEYS = {
    "procedure": "procedure_id",
    "channel": "channel::bigint",
    "proc_chan": "procedure_id * 64 + channel::bigint",
}


def count_days(apps, schema_editor):
    params = {"tz": timezone.get_current_timezone_name()}
    with schema_editor.connection.cursor() as cursor:
        for area, column in _AREAS.items():
            for dimension, key in _KEYS.items():
                cursor.execute(
                    f"""INSERT INTO dossiers_densitydaycount (province_code, day, area, cell, dimension, key, dossiers)
                        SELECT province_code, (received_at AT TIME ZONE %(tz)s)::date, {area}, {column},
                               '{dimension}', {key}, count(*)
                        FROM dossiers_dossier WHERE {column} IS NOT NULL AND received_at IS NOT NULL
                        GROUP BY 1, 2, 4, 6
                        ON CONFLICT (area, dimension, key, day, cell, province_code)
                        DO UPDATE SET dossiers = EXCLUDED.dossiers""",
                    params,
                )


def drop_days(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DELETE FROM dossiers_densitydaycount WHERE dimension <> 'all'")


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0019_unaccent_cost")]

    operations = [
        migrations.RemoveConstraint(model_name="densitydaycount", name="densitydaycount_key"),
        migrations.AddField(
            model_name="densitydaycount",
            name="dimension",
            field=models.CharField(default="all", db_default="all", max_length=9),
        ),
        migrations.AddField(
            model_name="densitydaycount", name="key", field=models.BigIntegerField(default=0, db_default=0)
        ),
        migrations.AddConstraint(
            model_name="densitydaycount",
            constraint=models.UniqueConstraint(
                fields=("area", "dimension", "key", "day", "cell", "province_code"),
                include=("dossiers",),
                name="densitydaycount_key",
            ),
        ),
        migrations.RunPython(count_days, drop_days),
    ]
