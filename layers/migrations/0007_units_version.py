"""A version of the administrative units that every change moves: the
communes' list is cached under it (layers.apis.AdminUnitListApi).

A statement trigger on the units table (INSERT, UPDATE, DELETE, TRUNCATE,
so COPY, bulk loads and raw SQL too) sets the one row of
layers_unitsversion to the next value of a sequence. A sequence does not
roll back: a change that is rolled back never hands its version to a later,
different change, so a cached answer is never served for other data."""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE layers_units_version_seq;
CREATE TABLE layers_unitsversion (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO layers_unitsversion (id, version) VALUES (1, nextval('layers_units_version_seq'));
CREATE FUNCTION layers_units_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE layers_unitsversion SET version = nextval('layers_units_version_seq') WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER layers_units_version_bump
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON layers_administrativeunit
    FOR EACH STATEMENT EXECUTE FUNCTION layers_units_version_bump();
"""

BACKWARD = """
DROP TRIGGER layers_units_version_bump ON layers_administrativeunit;
DROP FUNCTION layers_units_version_bump();
DROP TABLE layers_unitsversion;
DROP SEQUENCE layers_units_version_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("layers", "0006_nearest_runs")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
