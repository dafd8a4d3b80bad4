"""Vietnamese search: an IMMUTABLE wrapper of unaccent (the extension's own
function is only STABLE, so it cannot be indexed) and trigram indexes on the
unaccented, lower-cased procedure name and code."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;
"""


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS unaccent; CREATE EXTENSION IF NOT EXISTS pg_trgm;",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(FUNCTION, reverse_sql="DROP FUNCTION IF EXISTS f_unaccent(text);"),
        migrations.RunSQL(
            "CREATE INDEX procedure_name_trgm ON dossiers_procedure "
            "USING gin (f_unaccent(lower(name)) gin_trgm_ops);",
            reverse_sql="DROP INDEX IF EXISTS procedure_name_trgm;",
        ),
    ]
