"""`manage.py grant_app_role ROLE`: what the web app and workers may do, run by the owner after `migrate`.

The role may read and write every table, use every sequence, and only SELECT and INSERT on the audit
table: so a stolen application login can neither rewrite, delete nor truncate the trail. Idempotent.
"""

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.audit.models import AuditEvent

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Command(BaseCommand):
    help = "Grant the application's database role its rights; the audit table only SELECT and INSERT."

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="the PostgreSQL role the app connects as (not the owner)")

    def handle(self, *args, role: str, **options) -> None:
        if not _ROLE.match(role):
            raise CommandError(f"role: {role!r} is not a plain lower-case PostgreSQL role name", returncode=2)
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role needs PostgreSQL", returncode=2)
        audit = AuditEvent._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                raise CommandError(f"role: no PostgreSQL role named {role!r}", returncode=2)
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
            cursor.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
            cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
            cursor.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"')
            cursor.execute(f'REVOKE ALL ON "{audit}" FROM PUBLIC')
            cursor.execute(f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{audit}" FROM "{role}"')
            cursor.execute(f'GRANT SELECT, INSERT ON "{audit}" TO "{role}"')
        self.stdout.write(f"{role}: tables read/write, {audit} SELECT and INSERT only")
