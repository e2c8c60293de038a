"""PostgreSQL: take the chain lock and read the chain's tail in one round trip.

Inside a VOLATILE PL/pgSQL function each statement takes a fresh snapshot (READ COMMITTED),
so the SELECT after the lock sees every event committed before the lock was granted, exactly
as the two separate statements did.
"""

from django.db import migrations

from migrations.audit._postgres import postgres_sql

CREATE = """
CREATE OR REPLACE FUNCTION audit_lock_chain_tail(lock_key bigint) RETURNS varchar AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1);
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

DROP = "DROP FUNCTION IF EXISTS audit_lock_chain_tail(bigint);"


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [postgres_sql(CREATE, DROP)]
