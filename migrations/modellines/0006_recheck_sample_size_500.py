import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    """New lines ask 500 earlier facts again per version; existing lines keep the size they have."""

    dependencies = [
        ("modellines", "0005_recheck_sample_size_400"),
    ]

    operations = [
        migrations.AlterField(
            model_name="modelline",
            name="recheck_sample_size",
            field=models.PositiveIntegerField(
                default=500,
                help_text="Earlier applied facts each new version is asked again (a seeded sample); 0 turns the "
                "check off. 500 keeps a version's evaluation shorter than its edit at batches of 100.",
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(10000),
                ],
            ),
        ),
    ]
