"""Signed checkpoints: whoever can write the database still cannot rewrite the trail unnoticed.

Each attack is made as the issue describes it (delete the last event, forge an insert, rewrite the past
and recompute every later hash, TRUNCATE), after a checkpoint was signed; verify_audit must say what.
"""

import contextlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from apps.audit.models import AuditEvent
from apps.audit.record import record_event
from apps.audit.signing import parse
from apps.facts.actions import review_fact

pytestmark = pytest.mark.postgres_only("tampering uses PostgreSQL's triggers")


def checkpoint() -> str:
    out = io.StringIO()
    call_command("checkpoint_audit", stdout=out)
    return out.getvalue()


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def tampered() -> str:
    """verify_audit's refusal (exit code 1), as the auditor reads it."""
    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    return str(caught.value)


def as_the_owner(*statements: tuple[str, list]) -> None:
    """What someone holding the table's owner login can do: switch the append-only triggers off and write."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def rehash_from(first: AuditEvent) -> list[tuple[str, list]]:
    """UPDATEs that recompute prev_hash and hash of `first` and every later event: a chain that verifies."""
    before = AuditEvent.objects.filter(pk__lt=first.pk).order_by("-id").first()
    statements, prev = [], before.hash if before else first.prev_hash
    for event in AuditEvent.objects.filter(pk__gte=first.pk).order_by("id"):
        event.prev_hash = prev
        prev = event.compute_hash()
        statements.append(("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                           [event.prev_hash, prev, event.pk]))
    return statements


@pytest.fixture
def signed_history(signing_key, submitted_fact, reviewer, second_reviewer) -> dict:
    review_fact(reviewer, submitted_fact, "approve", "ok")
    assert "wrote checkpoint 1" in checkpoint()
    return signing_key


def test_a_checkpoint_goes_to_the_directory_and_to_mlflow_and_the_trail_matches_it(signed_history):
    files = sorted(signed_history["directory"].glob("checkpoint-*.json"))
    assert [path.name for path in files] == ["checkpoint-00000001.json"]
    signed = parse(json.loads(files[0].read_text()))
    last = AuditEvent.objects.order_by("-id").first()
    assert (signed.last_event_id, signed.last_hash) == (last.pk, last.hash)
    assert signed.event_count == AuditEvent.objects.count()
    assert "private" not in files[0].read_text().lower(), "only the signature leaves the signer"

    client = signed_history["mlflow"].client()
    run = client.search_runs([client.get_experiment_by_name("amend-audit").experiment_id])[0]
    assert [item.path for item in client.list_artifacts(run.info.run_id, "checkpoints")] == [
        "checkpoints/checkpoint-00000001.json"
    ]

    assert "already current: checkpoint 1" in checkpoint(), "an unchanged head is not signed again"
    report = verify()
    assert "audit chain intact" in report and "matches 1 signed checkpoint(s)" in report


def test_deleting_the_last_event_is_reported_as_truncation(signed_history):
    last = AuditEvent.objects.order_by("-id").first()
    as_the_owner(("DELETE FROM audit_auditevent WHERE id = %s", [last.pk]))
    assert "truncated: checkpoint 1" in tampered()


def test_truncate_is_reported_even_though_zero_events_verify(signed_history):
    count = AuditEvent.objects.count()
    as_the_owner(("TRUNCATE audit_auditevent", []))
    assert "truncated: checkpoint 1 (signed" in (report := tampered()) and f"covers {count} events" in report


def test_rewriting_one_event_and_every_later_hash_is_reported_as_a_rewritten_past(signed_history):
    victim = AuditEvent.objects.get(action="review.approve")
    victim.after = {"decision": "reject"}
    statements = [("UPDATE audit_auditevent SET after = %s WHERE id = %s", [json.dumps(victim.after), victim.pk])]
    as_the_owner(*statements)
    as_the_owner(*rehash_from(AuditEvent.objects.get(pk=victim.pk)))
    report = tampered()
    assert f"broken at event #{victim.pk}" in report and "tag does not verify" in report, "at the event that changed"
    assert "rewritten: event #" in report


def test_a_forged_event_slipped_into_a_gap_before_the_checkpoint_is_reported(signing_key, submitted_fact, reviewer):
    # A rolled-back write leaves a gap in the ids (sequences never go back): room for a forger.
    with contextlib.suppress(RuntimeError), transaction.atomic():
        record_event(reviewer, "review.approve", submitted_fact, fact_id=submitted_fact.pk)
        raise RuntimeError("rolled back")
    review_fact(reviewer, submitted_fact, "approve", "ok")
    assert "wrote checkpoint 1" in checkpoint()
    after_gap = AuditEvent.objects.get(action="review.approve")
    forged = AuditEvent(created_at=after_gap.created_at, actor_name="rob", action="review.reject",
                        object_type="factedit", object_id=str(submitted_fact.pk), request_id="",
                        prev_hash=AuditEvent.objects.filter(pk__lt=after_gap.pk).order_by("-id").first().hash)
    forged.hash = forged.compute_hash()
    as_the_owner(("INSERT INTO audit_auditevent (id, created_at, actor_name, action, object_type, object_id, "
                  "request_id, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                  [after_gap.pk - 1, forged.created_at, "rob", "review.reject", "factedit", forged.object_id, "",
                   forged.prev_hash, forged.hash]))
    as_the_owner(*rehash_from(AuditEvent.objects.get(pk=after_gap.pk)))
    report = tampered()
    assert f"broken at event #{after_gap.pk - 1}" in report and "carries no tag" in report, "the forged insert"
    assert "rewritten: event #" in report


def test_a_missing_checkpoint_and_an_unprotected_trail_are_reported(signed_history, make_fact, settings):
    make_fact("What is the capital of Spain?", "Madrid")
    assert "wrote checkpoint 2" in checkpoint()
    make_fact("What is the capital of Italy?", "Rome")
    assert "wrote checkpoint 3" in checkpoint()
    # Checkpoint 2 removed from both locations: its successor still names it.
    (signed_history["directory"] / "checkpoint-00000002.json").unlink()
    client = signed_history["mlflow"].client()
    run = client.search_runs([client.get_experiment_by_name("amend-audit").experiment_id])[0]
    artifacts = signed_history["mlflow"].artifacts / "audit" / run.info.run_id / "artifacts" / "checkpoints"
    (artifacts / "checkpoint-00000002.json").unlink()
    assert "missing-checkpoint: checkpoint(s) 2 are in no location" in tampered()

    settings.AMEND_AUDIT_CHECKPOINT_MAX_AGE = 0
    make_fact("What is the capital of Greece?", "Athens")
    assert "unprotected: event #" in tampered()


def test_a_checkpoint_edited_by_hand_does_not_verify(signed_history):
    path = signed_history["directory"] / "checkpoint-00000001.json"
    document = json.loads(path.read_text())
    document["checkpoint"]["event_count"] += 1
    path.write_text(json.dumps(document))
    assert "bad-signature: checkpoint 1" in tampered()


def test_without_a_signing_key_the_command_says_what_to_set(db, settings):
    settings.AMEND_AUDIT_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="set AMEND_AUDIT_SIGNING_KEY") as caught:
        checkpoint()
    assert caught.value.returncode == 2
