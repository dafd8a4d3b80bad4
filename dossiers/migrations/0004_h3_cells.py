"""H3 cells (resolutions 6-9) of each dossier's location, for the density
maps; existing rows are filled here in batches (demo rows are rewritten by
load_demo anyway)."""

import h3.api.basic_int as h3
from django.db import migrations, models

RESOLUTIONS = (6, 7, 8, 9)
BATCH = 20_000


def fill_cells(apps, schema_editor):
    connection = schema_editor.connection
    last_id = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT id, ST_X(location), ST_Y(location) FROM dossiers_dossier
                   WHERE id > %s AND location IS NOT NULL ORDER BY id LIMIT %s""",
                [last_id, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            last_id = rows[-1][0]
            columns = [[r[0] for r in rows]] + [
                [h3.latlng_to_cell(r[2], r[1], res) for r in rows] for res in RESOLUTIONS
            ]
            cursor.execute(
                """UPDATE dossiers_dossier d SET h3_r6 = v.r6, h3_r7 = v.r7, h3_r8 = v.r8, h3_r9 = v.r9
                   FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
                        AS v(id, r6, r7, r8, r9)
                   WHERE d.id = v.id""",
                columns,
            )


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0003_receiving_agency")]

    operations = [
        *[
            migrations.AddField(
                model_name="dossier",
                name=f"h3_r{res}",
                field=models.BigIntegerField(blank=True, editable=False, null=True),
            )
            for res in RESOLUTIONS
        ],
        migrations.RunPython(fill_cells, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="dossier",
            index=models.Index(
                fields=["received_at"], include=("h3_r6", "h3_r7", "h3_r8", "h3_r9"), name="dossier_received_h3"
            ),
        ),
    ]
