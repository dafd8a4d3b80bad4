"""The planner's price of `f_unaccent`: the catalogue search's trigram index
(`procedure_name_trgm`, on `f_unaccent(lower(name))`) was left unused on the
demo catalogue (118 procedures), the planner preferring a sequential scan
priced at 41 against 188 for the index: it counts the wrapper at the default
100 operator costs a call and the trigram operators (`%>`, word_similarity,
about 25 µs a row here) at 1, so every row's unaccenting and word similarity
looked free. Measured, warm: 2.2 ms for the scan, 0.45 ms through the index.
At COST 1000 the index is taken from about 25 rows up (bench/README.md,
load_mixed); below that a scan is as cheap, and the answers are the same
either way. Other uses (the worklist's name search, the feedback places)
have no index on the expression: their plans only weigh filters that unaccent
as dearer than others, which they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0018_lookup_version")]

    operations = [
        migrations.RunSQL(
            "ALTER FUNCTION f_unaccent(text) COST 1000;",
            reverse_sql="ALTER FUNCTION f_unaccent(text) COST 100;",
        ),
    ]
