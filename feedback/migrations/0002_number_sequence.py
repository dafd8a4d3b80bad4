"""The sequence behind public ids (PA-YYMMDD-NNNNNN): numbers never repeat,
whatever the day; a rolled-back submission leaves a gap."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS feedback_number_seq;",
            reverse_sql="DROP SEQUENCE IF EXISTS feedback_number_seq;",
        )
    ]
