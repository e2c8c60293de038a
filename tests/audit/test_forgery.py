"""Issue 16: a database login cannot forge history, and the tail after the newest checkpoint is witnessed.

Each attack is made as the issue made it: an INSERT as the app's restricted role with a correctly computed
hash; the newest events deleted, or one rewritten and every later hash recomputed, by the superuser with
the triggers off (session_replication_role = replica). Every verifier must say so, at the event that changed,
and the signer must refuse to sign.
"""

import io
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from apps.audit.chain import event_hash
from apps.audit.models import AuditEvent
from apps.audit.record import record_event
from apps.audit.report import verify_trail
from apps.facts.actions import review_fact
from apps.modellines.actions import create_model_line

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres_only("PostgreSQL roles and triggers")


def _connect(user: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=user,
                           autocommit=True)


@pytest.fixture
def app_role(transactional_db) -> str:
    """The app's restricted login (audit table: SELECT and INSERT only), as docker/ sets it up."""
    role = f"amend_forger_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    call_command("grant_app_role", role, stdout=io.StringIO())
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE {role}")


def _forge_approval(role: str, fact_id: int, reviewer) -> int:
    """What the issue did: read the tail, compute the hash of "review.approve by the reviewer", INSERT it."""
    with _connect(role) as app:
        prev = app.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1").fetchone()[0]
        created = datetime.now(UTC)
        fields = {"created_at": created.isoformat(), "actor_id": reviewer.pk, "actor_name": reviewer.username,
                  "action": "review.approve", "object_type": "factedit", "object_id": str(fact_id),
                  "model_line_id": None, "fact_id": fact_id, "before": None, "after": None, "request_id": ""}
        return app.execute(
            "INSERT INTO audit_auditevent (created_at, actor_id, actor_name, action, object_type, object_id, "
            "fact_id, request_id, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, '', %s, %s) RETURNING id",
            [created, reviewer.pk, reviewer.username, "review.approve", "factedit", str(fact_id), fact_id, prev,
             event_hash(prev, fields)],
        ).fetchone()[0]


def _as_superuser(*statements: tuple[str, list]) -> None:
    """The database superuser: triggers off for this transaction only, then change or delete rows."""
    db = connection.settings_dict
    with _connect(db["USER"]) as admin, admin.transaction():
        admin.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            admin.execute(sql, params)


def _rehash_from(first_id: int) -> list[tuple[str, list]]:
    """Recompute prev_hash and hash from `first_id` on, as a forger without the audit key can (tags kept)."""
    prev = AuditEvent.objects.filter(pk__lt=first_id).order_by("-id").values_list("hash", flat=True).first()
    statements = []
    for event in AuditEvent.objects.filter(pk__gte=first_id).order_by("id"):
        event.prev_hash = prev
        prev = event.compute_hash()
        statements.append(("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                           [event.prev_hash, prev, event.pk]))
    return statements


def _export_and_verify_offline(client, tmp_path: Path, signing_key: dict, *extra: str) -> subprocess.CompletedProcess:
    export = tmp_path / "audit.json"
    response = client.get("/api/audit/events/export/?file_format=json")
    export.write_bytes(b"".join(response.streaming_content))
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-m", "apps.audit.verify_export", str(export), "--public-key",
         str(signing_key["public_file"]), "--checkpoints", str(signing_key["directory"]), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_an_event_inserted_by_the_apps_database_login_is_caught_by_every_verifier_and_never_signed(
    app_role, signing_key, submitted_fact, reviewer, auditor, api_client_for, client, settings, tmp_path, caplog
):
    call_command("checkpoint_audit", stdout=io.StringIO())
    forged = _forge_approval(app_role, submitted_fact.pk, reviewer)

    report = verify_trail()
    assert not report.ok and report.broken.pk == forged and "written without the audit key" in report.reason
    with pytest.raises(CommandError, match=f"broken at event #{forged}"):
        call_command("verify_audit", stdout=io.StringIO(), stderr=io.StringIO())
    api = api_client_for(auditor).get("/api/audit/events/verify/").json()
    assert api["ok"] is False and api["broken_event"] == forged
    client.force_login(auditor)
    assert f"Broken at event #{forged}" in client.get("/audit/verify/").content.decode()

    key_file = tmp_path / "audit-hmac.key"
    key_file.write_text(settings.AMEND_AUDIT_HMAC_KEY)
    offline = _export_and_verify_offline(api_client_for(auditor), tmp_path, signing_key, "--hmac-key-file",
                                         str(key_file))
    assert offline.returncode == 1 and f"chain broken at event #{forged}: it carries no tag" in offline.stdout
    keyless = _export_and_verify_offline(api_client_for(auditor), tmp_path, signing_key)
    assert "note: tags not checked" in keyless.stdout, "without the key it says what it could not check"

    with caplog.at_level(logging.ERROR), pytest.raises(CommandError, match="refused, the trail does not verify"):
        call_command("checkpoint_audit", stdout=io.StringIO())
    assert any("audit checkpoint refused" in record.getMessage() for record in caplog.records)
    refusal = AuditEvent.objects.get(action="audit.checkpoint_refused")
    assert f"#{forged}" in refusal.after["reason"]
    assert sorted(path.name for path in signing_key["directory"].glob("checkpoint-*.json")) == [
        "checkpoint-00000001.json"
    ], "the forged event was never signed"


def test_the_newest_events_deleted_after_the_last_checkpoint_are_caught_by_the_witness(
    transactional_db, signing_key, submitted_fact, reviewer, make_fact, settings
):
    call_command("checkpoint_audit", stdout=io.StringIO())
    review_fact(reviewer, submitted_fact, "approve", "ok")  # newer than the checkpoint: only the witness saw it
    newest = AuditEvent.objects.order_by("-id").first()
    _as_superuser(("DELETE FROM audit_auditevent WHERE id >= %s", [newest.pk]))

    report = verify_trail()
    assert report.broken is None, "what is left is a perfectly good chain"
    assert [f.kind for f in report.findings] == ["witness-deleted"]
    assert f"event #{newest.pk} (witnessed at" in report.findings[0].message
    with pytest.raises(CommandError, match="refused"):
        call_command("checkpoint_audit", stdout=io.StringIO())


def test_a_rewrite_is_reported_at_the_event_that_changed_not_at_the_checkpoint(
    transactional_db, signing_key, submitted_fact, reviewer, make_fact, auditor, api_client_for, tmp_path, settings
):
    review_fact(reviewer, submitted_fact, "approve", "ok")
    make_fact("What is the capital of Spain?", "Madrid")
    call_command("checkpoint_audit", stdout=io.StringIO())
    make_fact("What is the capital of Italy?", "Rome")
    victim = AuditEvent.objects.get(action="review.approve")
    assert AuditEvent.objects.filter(pk__gt=victim.pk).count() >= 2, "the victim is well inside the signed range"
    _as_superuser(("UPDATE audit_auditevent SET after = %s WHERE id = %s", [json.dumps({"decision": "reject"}),
                                                                              victim.pk]))
    _as_superuser(*_rehash_from(victim.pk))

    report = verify_trail()
    assert report.broken.pk == victim.pk and "tag does not verify" in report.reason
    assert "witness-rewritten" in [f.kind for f in report.findings]
    key_file = tmp_path / "audit-hmac.key"
    key_file.write_text(settings.AMEND_AUDIT_HMAC_KEY)
    offline = _export_and_verify_offline(api_client_for(auditor), tmp_path, signing_key, "--hmac-key-file",
                                         str(key_file), "--witness", str(settings.AMEND_AUDIT_WITNESS_FILE))
    assert f"chain broken at event #{victim.pk}" in offline.stdout and "witness-rewritten" in offline.stdout


def test_events_from_before_the_key_are_reported_as_untagged_not_as_forged(db, operator, settings):
    key = settings.AMEND_AUDIT_HMAC_KEY
    settings.AMEND_AUDIT_HMAC_KEY = ""  # migrated data: written before the key was configured
    create_model_line(operator, name="geo", description="Geography facts")
    untagged = AuditEvent.objects.count()
    settings.AMEND_AUDIT_HMAC_KEY = key
    with transaction.atomic():
        first_tagged = record_event(None, "probe.asked", "probe:1")

    report = verify_trail()
    assert report.ok, report.as_dict()
    assert f"{untagged} event(s) untagged (before {first_tagged.created_at.isoformat()})" in " ".join(report.notes)

    settings.AMEND_AUDIT_HMAC_KEY = ""
    with transaction.atomic():
        late = record_event(None, "probe.asked", "probe:2")  # untagged after a tagged one: a forged insert
    settings.AMEND_AUDIT_HMAC_KEY = key
    assert verify_trail().broken.pk == late.pk
