"""Density counts for two filters at once (procedure and channel, procedure
and status, channel and status): the pair rows of the dossiers already
received are counted here; later ones are kept by the services.

Self-contained, like 0005: the statuses, areas and key rule as they stand
when this migration was written. `key` is first * 64 + second."""

from django.db import migrations
from django.utils import timezone

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
    "waiting_receipt",
    "waiting_completion",
]
_PAIR_AREAS = {6: "h3_r6", 7: "h3_r7", 8: "h3_r8", 2025: "applicant_commune_id", 2019: "applicant_commune_2019_id"}
_PAIRS = {
    "proc_chan": ("procedure_id", "channel::bigint"),
    "proc_stat": ("procedure_id", "array_position(%(statuses)s::text[], status)::bigint"),
    "chan_stat": ("channel::bigint", "array_position(%(statuses)s::text[], status)::bigint"),
}


def count_pairs(apps, schema_editor):
    params = {"tz": timezone.get_current_timezone_name(), "statuses": _STATUSES}
    with schema_editor.connection.cursor() as cursor:
        # The unique key got province_code in 0017 (Citus shards by
        # province); the tests run this function on today's tables.
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'dossiers_densitycount' AND column_name = 'province_code'"
        )
        conflict_key = "area, dimension, key, month, cell" + (", province_code" if cursor.fetchone()[0] else "")
        for area, column in _PAIR_AREAS.items():
            for dimension, (first, second) in _PAIRS.items():
                cursor.execute(
                    f"""INSERT INTO dossiers_densitycount (month, area, cell, dimension, key, dossiers)
                        SELECT date_trunc('month', received_at AT TIME ZONE %(tz)s)::date, {area}, {column},
                               '{dimension}', {first} * 64 + {second}, count(*)
                        FROM dossiers_dossier WHERE {column} IS NOT NULL AND received_at IS NOT NULL
                        GROUP BY 1, 3, 5
                        ON CONFLICT ({conflict_key})
                        DO UPDATE SET dossiers = EXCLUDED.dossiers""",
                    params,
                )


def drop_pairs(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DELETE FROM dossiers_densitycount WHERE dimension IN ('proc_chan', 'proc_stat', 'chan_stat')")


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0014_procedure_process")]

    operations = [migrations.RunPython(count_pairs, drop_pairs)]
