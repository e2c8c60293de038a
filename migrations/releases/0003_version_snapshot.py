from django.db import migrations, models


class Migration(migrations.Migration):
    """Dense snapshots of the edited weights, and the materialisation rule of each version: versions
    recorded before this migration were materialised by rule 1 (editor/legacy.py)."""

    dependencies = [
        ("releases", "0002_batch_stage"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="snapshot_path",
            field=models.CharField(blank=True, max_length=1000),
        ),
        # Existing rows get 1; the default for new rows is then 2.
        migrations.AddField(
            model_name="modelversion",
            name="weights_rule",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="weights_rule",
            field=models.PositiveSmallIntegerField(default=2),
        ),
    ]
