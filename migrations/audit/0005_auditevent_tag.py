"""Each event's HMAC tag (apps.audit.chain.event_tag). Existing events keep "": reported as untagged, from before
the key was configured. Adding a column with a constant default rewrites no row, so the append-only trigger is
not involved."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_refuse_truncate")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="tag",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
    ]
