"""The indexes on a registry feature's properties become each partition's own
instead of one partitioned index (`feature_properties_gin`), so that a
layer's partition can index them to fit its values: a GIN `jsonb_path_ops`
on the properties less the layer's `distinct_fields`, and a btree on each of
those (layers/registries/partitions.py, `properties_index_builds`;
docs/decisions.md, "String fields whose values all differ get a btree, not
a place in the GIN"). A partitioned index would make every partition carry
the same one: ATTACH builds it on a partition that lacks it.

Every existing partition, the DEFAULT one included, gets back the GIN it had
(dropping the partitioned index drops theirs); no layer has distinct fields
yet. Backward: the partitioned GIN again (PostgreSQL adopts each
partition's matching GIN and builds the others); per-field btrees stay."""

from django.db import migrations, models

FORWARD = """
DROP INDEX feature_properties_gin;
DO $$
DECLARE
    partition regclass;
BEGIN
    FOR partition IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'layers_feature'::regclass LOOP
        EXECUTE format('CREATE INDEX ON %s USING gin (properties jsonb_path_ops)', partition);
    END LOOP;
END
$$;
"""

BACKWARD = """
CREATE INDEX feature_properties_gin ON layers_feature USING gin (properties jsonb_path_ops);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0009_servicepoint_unit_code"),
    ]

    operations = [
        migrations.AddField(
            model_name="layer",
            name="distinct_fields",
            field=models.JSONField(
                blank=True,
                default=list,
                editable=False,
                help_text="String fields whose values nearly all differ, set by a replace import: the layer's "
                "partition indexes each by a btree of its own and leaves them out of its GIN "
                "(layers/registries/partitions.py).",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="feature", name="feature_properties_gin"),
            ],
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
        ),
    ]
