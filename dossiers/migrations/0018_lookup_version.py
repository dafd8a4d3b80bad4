"""A version of what a submission looks up (dossiers.lookups): procedures
and their components, service points, agencies, administrative units and
the calendar's exceptions. Every change to one of these tables moves it, so
a process may keep those rows between requests and read one number to know
they are still current.

As the units' version (layers 0007): a statement trigger on each table
(INSERT, UPDATE, DELETE, TRUNCATE, so COPY, bulk loads and raw SQL too)
sets the one row of dossiers_lookupversion to the next value of a sequence.
A sequence does not roll back: a change that is rolled back never hands its
version to a later, different change."""

from django.db import migrations

TABLES = (
    "dossiers_procedure",
    "dossiers_procedurecomponent",
    "dossiers_calendarexception",
    "layers_servicepoint",
    "layers_administrativeunit",
    "accounts_agency",
)
TRIGGER = "dossiers_lookup_version_bump"

FORWARD = f"""
CREATE SEQUENCE dossiers_lookup_version_seq;
CREATE TABLE dossiers_lookupversion (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO dossiers_lookupversion (id, version) VALUES (1, nextval('dossiers_lookup_version_seq'));
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dossiers_lookupversion SET version = nextval('dossiers_lookup_version_seq') WHERE id = 1;
    RETURN NULL;
END
$$;
""" + "".join(
    f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}();\n"
    for table in TABLES
)

BACKWARD = (
    "".join(f"DROP TRIGGER {TRIGGER} ON {table};\n" for table in TABLES)
    + f"""
DROP FUNCTION {TRIGGER}();
DROP TABLE dossiers_lookupversion;
DROP SEQUENCE dossiers_lookup_version_seq;
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0017_province_code"),
        ("layers", "0007_units_version"),
        ("accounts", "0005_translated_names"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
