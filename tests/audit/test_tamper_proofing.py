"""The database's own defences around the trail, the export an auditor checks offline, and who names a request."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AuditEvent
from apps.facts.actions import review_fact

ROOT = Path(__file__).resolve().parents[2]
pg_only = pytest.mark.postgres_only("PostgreSQL's triggers and roles")


@pg_only
def test_postgresql_refuses_truncate_of_the_audit_table(submitted_fact):
    count = AuditEvent.objects.count()
    with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # pending deferred checks would refuse it first
        cursor.execute("RESET amend.audit_truncate")  # the test suite's own allowance, see tests/conftest.py
        cursor.execute("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.count() == count


@pg_only
def test_the_apps_role_may_only_read_and_append_audit_events(transactional_db, submitted_fact):
    role = f"amend_app_test_{os.getpid()}"
    db = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    try:
        call_command("grant_app_role", role, stdout=io.StringIO())
        with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=role,
                             autocommit=True) as app:
            assert app.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == AuditEvent.objects.count()
            app.execute("UPDATE facts_factedit SET rationale = rationale")  # other tables: read and write
            for statement in ("UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent",
                              "TRUNCATE audit_auditevent", "ALTER TABLE audit_auditevent DISABLE TRIGGER USER"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(statement)
            last = AuditEvent.objects.order_by("-id").first()
            app.execute(
                "INSERT INTO audit_auditevent (created_at, actor_name, action, object_type, object_id, request_id, "
                "prev_hash, hash) VALUES (now(), 'automation', 'probe.appended', 'x', '1', '', %s, %s)",
                [last.hash, "f" * 64],
            )
        assert AuditEvent.objects.filter(action="probe.appended").count() == 1, "appending still works"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


def _export(client, fmt: str) -> bytes:
    response = client.get(f"/api/audit/events/export/?file_format={fmt}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _verify_offline(export: Path, key: Path, checkpoints: Path) -> subprocess.CompletedProcess:
    """The offline verifier as an auditor runs it: another process, no settings, no database."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-m", "apps.audit.verify_export", str(export), "--public-key", str(key),
         "--checkpoints", str(checkpoints)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


@pg_only
def test_an_export_is_verified_offline_against_the_signed_checkpoints(
    signing_key, submitted_fact, reviewer, make_user, auditor, api_client_for, tmp_path
):
    mallory = make_user("@SUM")  # a user name a spreadsheet would run as a formula
    review_fact(reviewer, submitted_fact, "approve", "=HYPERLINK(\"http://evil\")")
    from apps.audit.record import record_event

    with transaction.atomic():
        record_event(mallory, "probe.asked", "probe:1", after={"prompt": "-2+3"})
    call_command("checkpoint_audit", stdout=io.StringIO())
    client = api_client_for(auditor)
    for fmt in ("json", "csv"):
        export = tmp_path / f"audit.{fmt}"
        export.write_bytes(_export(client, fmt))
        result = _verify_offline(export, signing_key["public_file"], signing_key["directory"])
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"intact: {AuditEvent.objects.count()} events verified against 1 checkpoint(s)" in result.stdout

    rows = list(csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text())))
    assert {row["actor_name"] for row in rows} >= {"'@SUM", "rita"}, "formula cells are neutralised"

    # Someone edits the export before handing it over: the same command says so.
    events = json.loads((tmp_path / "audit.json").read_text())
    events[-1]["actor_name"] = "ada"
    (tmp_path / "audit.json").write_text(json.dumps(events))
    result = _verify_offline(tmp_path / "audit.json", signing_key["public_file"], signing_key["directory"])
    assert result.returncode == 1 and "content does not match its hash" in result.stdout

    events.pop()
    (tmp_path / "audit.json").write_text(json.dumps(events))
    result = _verify_offline(tmp_path / "audit.json", signing_key["public_file"], signing_key["directory"])
    assert result.returncode == 1 and "truncated: checkpoint 1" in result.stdout


def test_a_client_cannot_choose_its_request_id_unless_it_is_a_trusted_proxy(model_line, curator, api_client_for,
                                                                           settings):
    settings.AMEND_TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = api_client_for(curator)
    response = client.get("/api/me/", HTTP_X_REQUEST_ID="chosen-by-client")
    assert response["X-Request-ID"] != "chosen-by-client" and len(response["X-Request-ID"]) == 32
    response = client.get("/api/me/", HTTP_X_REQUEST_ID="from-the-proxy", REMOTE_ADDR="10.1.2.3")
    assert response["X-Request-ID"] == "from-the-proxy"
