"""On PostgreSQL the database refuses TRUNCATE of the audit table too (UPDATE and DELETE: 0002).

A statement trigger, since row triggers never see TRUNCATE. Only a session that says so on purpose
(`SET amend.audit_truncate = 'allow'`: the test suite, which empties its own database between tests)
gets through; the app's role has no TRUNCATE privilege at all (`manage.py grant_app_role`), and the
owner who could disable this trigger is the migration role, which the app never uses.
"""

from django.db import migrations

from migrations.audit._postgres import postgres_sql

CREATE = """
CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('amend.audit_truncate', true) = 'allow' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (TRUNCATE refused on audit_auditevent)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_no_truncate ON audit_auditevent;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_tail_function")]

    operations = [postgres_sql(CREATE, DROP)]
