"""The extensions the address match of units reads with (`unaccent`,
`pg_trgm`: selectors.units_matching_address). The dossier catalogue's search
creates them too; each app makes sure of what it uses."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("layers", "0003_importjob_outbox")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS unaccent; CREATE EXTENSION IF NOT EXISTS pg_trgm;",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
