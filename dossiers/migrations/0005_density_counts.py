"""The 2019 commune of each dossier and the pre-counted density tables;
existing dossiers are located and counted here."""

import django.db.models.deletion
from django.db import migrations, models


def fill(apps, schema_editor):
    from dossiers.density_counts import communes_2019_fill, density_rebuild

    communes_2019_fill()
    density_rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0004_h3_cells"),
        ("layers", "0002_layer_importjob_featurechange_feature"),
    ]

    operations = [
        migrations.AddField(
            model_name="dossier",
            name="applicant_commune_2019",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                help_text="Commune of the 2019 map holding `location` (the first by code on a shared border), found when the dossier is written, for density maps of the old communes.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="layers.administrativeunit",
            ),
        ),
        migrations.CreateModel(
            name="DensityCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField(help_text="First day of the month of receipt (local time).")),
                ("area", models.PositiveSmallIntegerField()),
                ("cell", models.BigIntegerField()),
                ("dimension", models.CharField(max_length=9)),
                ("key", models.BigIntegerField()),
                ("dossiers", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("area", "dimension", "key", "month", "cell"),
                        include=("dossiers",),
                        name="densitycount_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DensityDayCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("area", models.PositiveSmallIntegerField()),
                ("cell", models.BigIntegerField()),
                ("dossiers", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("area", "day", "cell"), include=("dossiers",), name="densitydaycount_key"
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
