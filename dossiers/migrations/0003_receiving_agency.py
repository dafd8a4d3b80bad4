import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_profile_full_name_profile_id_number_profile_phone_and_more"),
        ("dossiers", "0002_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="dossier",
            name="receiving_agency",
            field=models.ForeignKey(
                blank=True,
                help_text="Agency that had it at receipt; indicators count receipts there even after a transfer.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.agency",
            ),
        ),
        # Dossiers received before the field existed: their agency then is
        # not recorded elsewhere, the current one is the best answer.
        migrations.RunSQL(
            "UPDATE dossiers_dossier SET receiving_agency_id = agency_id WHERE receiving_agency_id IS NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
