"""The code of a service point's administrative unit, kept on the point
(`layers_servicepoint.admin_unit_code`) for the nearest look-up
(layers.selectors.service_points_nearest): read with the point instead of
looked up in the units table for each of its candidates. The look-up of the
units table was a tenth of the statement's time, mostly for bringing a
second table into it (bench/nearest.py; docs/decisions.md, "Nearest is
geodesic and exact").

The database keeps it, so raw SQL, COPY and bulk loads keep it too:
- a row trigger on the points sets it from the unit whenever a point is
  written with its unit (or the column itself is written: it cannot be set
  to anything else);
- a row trigger on the units hands a changed code to the unit's points
  (their trigger reads it back from the unit).

A unit's deletion sets its points' unit to NULL first (Django's SET_NULL),
which clears the code. Django's model does not declare the column: nothing
but the nearest statement reads it, and no one writes it."""

from django.db import migrations

FORWARD = """
ALTER TABLE layers_servicepoint ADD COLUMN admin_unit_code text;
CREATE FUNCTION layers_servicepoint_unit_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.admin_unit_code := (SELECT u.code FROM layers_administrativeunit u WHERE u.id = NEW.admin_unit_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER layers_servicepoint_unit_code
    BEFORE INSERT OR UPDATE OF admin_unit_id, admin_unit_code ON layers_servicepoint
    FOR EACH ROW EXECUTE FUNCTION layers_servicepoint_unit_code();
CREATE FUNCTION layers_unit_code_to_points() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE layers_servicepoint SET admin_unit_code = NEW.code WHERE admin_unit_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER layers_unit_code_to_points
    AFTER UPDATE OF code ON layers_administrativeunit
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION layers_unit_code_to_points();
UPDATE layers_servicepoint p SET admin_unit_code = u.code
    FROM layers_administrativeunit u WHERE u.id = p.admin_unit_id;
"""

BACKWARD = """
DROP TRIGGER layers_unit_code_to_points ON layers_administrativeunit;
DROP FUNCTION layers_unit_code_to_points();
DROP TRIGGER layers_servicepoint_unit_code ON layers_servicepoint;
DROP FUNCTION layers_servicepoint_unit_code();
ALTER TABLE layers_servicepoint DROP COLUMN admin_unit_code;
"""


class Migration(migrations.Migration):
    dependencies = [("layers", "0008_feature_partitions")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
