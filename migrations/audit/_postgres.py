"""Raw SQL that only PostgreSQL runs (SQLite has no triggers or PL/pgSQL of this kind): one helper for every migration."""

from django.db import migrations


def postgres_sql(create: str, drop: str) -> migrations.RunPython:
    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=None)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop, params=None)

    return migrations.RunPython(forward, backward)
