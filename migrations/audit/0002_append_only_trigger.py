"""On PostgreSQL the database itself refuses UPDATE and DELETE on audit events.

The model and its queryset refuse too, but only this stops raw SQL and other clients.
TRUNCATE is left alone (test databases are flushed with it); tampering with it needs the
owner's rights, and verify_audit would still find the missing chain.
"""

from django.db import migrations

from migrations.audit._postgres import postgres_sql

CREATE = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused on audit_auditevent)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [postgres_sql(CREATE, DROP)]
