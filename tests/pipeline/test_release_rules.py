"""The release rules that need no worker: gates, batching, who may act, what a refusal says."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import TransitionError
from apps.facts.actions import review_fact
from apps.facts.models import FactEdit, FactState
from apps.modellines.actions import update_model_line
from apps.releases import actions, gates
from apps.releases.models import Batch, BatchState, BatchTrigger, ImmutableFieldError, ModelVersion, ProbeState
from apps.releases.queries import ancestry, applied_fact_ids
from apps.releases.records import BuiltVersion
from mlops.tracking import TrackedVersion
from workers import gpu


@pytest.fixture
def approved(make_fact, reviewer):
    def approve(count: int) -> list[FactEdit]:
        facts = []
        for _ in range(count):
            fact = make_fact()
            review_fact(reviewer, fact, "approve", "Checked")
            facts.append(FactEdit.objects.get(pk=fact.pk))
        return facts

    return approve


def test_a_version_meets_its_gates_only_if_every_metric_clears_its_threshold(model_line):
    good = {"efficacy": 0.95, "generalization": 0.7, "locality": 0.97, "retention": 0.9, "perplexity_drift": 0.02}
    results = gates.evaluate_gates(model_line, good)
    assert gates.all_passed(results)

    results = gates.evaluate_gates(model_line, {**good, "locality": 0.5, "perplexity_drift": 0.4})
    assert not gates.all_passed(results)
    reasons = gates.failure_reasons(results)
    assert reasons == [
        "locality 50.0% is below the minimum 90.0%",
        "perplexity drift +40.0% is above the maximum +10.0%",
    ]


def test_a_metric_without_data_passes_and_says_so_but_a_non_finite_one_fails(model_line):
    results = gates.evaluate_gates(model_line, {"efficacy": 1.0, "locality": 1.0, "perplexity_drift": 0.0})
    assert results["min_retention"] == {
        "metric": "generation_retention",
        "threshold": 0.8,
        "value": None,
        "passed": True,
        "reason": "no data for retention of earlier facts",
    }
    assert gates.non_finite_metrics({"efficacy": float("nan"), "perplexity": float("inf"), "locality": 1.0}) == [
        "efficacy",
        "perplexity",
    ]


def test_the_beat_cuts_full_batches_of_the_oldest_approved_facts_and_queues_them(model_line, operator, approved):
    update_model_line(operator, model_line, batch_size=3)
    facts = approved(7)
    batches = actions.cut_due_batches()
    # Two full batches; the seventh fact waits for more facts or for the maximum wait.
    assert [b.fact_ids for b in batches] == [[f.pk for f in facts[:3]], [f.pk for f in facts[3:6]]]
    assert all(b.trigger == BatchTrigger.SIZE and b.state == BatchState.PENDING for b in batches)
    assert FactEdit.objects.get(pk=facts[6].pk).state == FactState.APPROVED
    assert {f.state for f in FactEdit.objects.filter(pk__in=batches[0].fact_ids)} == {FactState.QUEUED}

    FactEdit.objects.filter(pk=facts[6].pk).update(approved_at=timezone.now() - timedelta(hours=2))
    [late] = actions.cut_due_batches()
    assert late.trigger == BatchTrigger.WAIT and late.fact_ids == [facts[6].pk]


def test_a_batch_is_immutable_once_cut(model_line, operator, approved):
    approved(2)
    batch = actions.release_now(operator, model_line)
    batch.fact_ids = [*batch.fact_ids, 999]
    with pytest.raises(ImmutableFieldError):
        batch.save()
    assert Batch.objects.get(pk=batch.pk).fact_ids != batch.fact_ids


def test_only_an_operator_releases_now_and_only_when_facts_wait(model_line, operator, curator, approved):
    with pytest.raises(TransitionError, match="no approved or regressed facts"):
        actions.release_now(operator, model_line)
    approved(1)
    with pytest.raises(PermissionDenied):
        actions.release_now(curator, model_line)


def test_a_batch_that_keeps_killing_its_worker_ends_failed_and_its_facts_are_held(
    model_line, operator, approved, settings
):
    settings.AMEND_MAX_DELIVERIES = 2
    facts = approved(2)
    batch = actions.release_now(operator, model_line)
    # Two deliveries started and never finished (the worker died each time).
    actions.count_delivery(batch.pk)
    actions.count_delivery(batch.pk)

    outcome = gpu.apply_batch(batch.pk)  # the third delivery, run in this process

    batch.refresh_from_db()
    assert batch.state == BatchState.FAILED and outcome["state"] == BatchState.FAILED
    assert batch.failure_reason == "the worker stopped 2 times while applying this batch (limit 2)"
    for fact in FactEdit.objects.filter(pk__in=[f.pk for f in facts]):
        assert fact.state == FactState.HELD
        assert "the worker stopped 2 times" in fact.state_reason


def test_operator_actions_in_the_api_name_the_missing_field_and_refuse_other_roles(
    model_line, operator, curator, approved, api_client_for
):
    approved(1)
    curator_api, operator_api = api_client_for(curator), api_client_for(operator)
    response = curator_api.post("/api/batches/release-now/", {"model_line": model_line.pk}, format="json")
    assert response.status_code == 403
    response = operator_api.post("/api/batches/release-now/", {"model_line": "geo"}, format="json")
    assert response.status_code == 400 and "model_line" in response.json()
    response = operator_api.post("/api/batches/release-now/", {"model_line": 10_000}, format="json")
    assert response.status_code == 400 and response.json() == {"model_line": ["no model line with this id"]}
    response = operator_api.post("/api/batches/revert/", {"fact": 10_000}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = operator_api.post("/api/batches/release-now/", {"model_line": model_line.pk}, format="json")
    assert response.status_code == 201 and len(response.json()["fact_ids"]) == 1
    response = operator_api.post("/api/batches/release-now/", {"model_line": model_line.pk}, format="json")
    assert response.status_code == 409 and "no approved or regressed facts" in response.json()["detail"]


GOOD_METRICS = {"efficacy": 0.95, "generalization": 0.7, "locality": 0.97, "retention": 0.9, "perplexity_drift": 0.02}


def _built(parent: ModelVersion, fact_ids: list[int], tag: str) -> BuiltVersion:
    """What a worker would hand over for a batch, without running one."""
    now = timezone.now()
    return BuiltVersion(
        number=actions.next_version_number(parent.model_line_id),
        parent_id=parent.pk,
        fact_ids=fact_ids,
        content_hash=tag * 64,
        metrics=GOOD_METRICS,
        per_fact={fact_id: {"efficacy": 1.0, "answer_after": tag} for fact_id in fact_ids},
        delta_paths=[f"{tag}.safetensors"],
        normalizer_path="",
        delta_bytes=1,
        checkpoint_bytes=1,
        stage_seconds={},
        built_from=now,
        built_until=now,
    )


def _record(operator, line, parent: ModelVersion, fact_ids: list[int], tag: str) -> ModelVersion:
    """Release the approved facts now and record the version a worker would have built of them."""
    return actions.record_version(actions.release_now(operator, line), _built(parent, fact_ids, tag), TrackedVersion())


def _states(*items: ModelVersion | FactEdit) -> list[str]:
    return [type(item).objects.get(pk=item.pk).state for item in items]


def test_promote_hold_rollback_and_revert_keep_every_version_and_fact_in_step(
    model_line, operator, approved, django_assert_num_queries
):
    """The lineage rules without a worker: versions are recorded from hand-made builds."""
    v0 = actions.ensure_base_version(model_line, "0" * 64, TrackedVersion(), 0)
    first, kept = approved(2)
    v1 = _record(operator, model_line, v0, [first.pk, kept.pk], "a")
    assert actions.promote(None, v1, automatic=True) is not None
    assert _states(v0, v1, first, kept) == ["superseded", "production", "applied", "applied"]
    assert FactEdit.objects.get(pk=first.pk).results == {"efficacy": 1.0, "answer_after": "a", "version": 1}

    [second] = approved(1)
    v2 = _record(operator, model_line, v1, [second.pk], "b")
    [third] = approved(1)
    v3 = _record(operator, model_line, v2, [third.pk], "c")
    with django_assert_num_queries(1):
        assert [v.number for v in ancestry(v3)] == [0, 1, 2, 3]
    assert applied_fact_ids(v3) == [first.pk, kept.pk, second.pk, third.pk]

    actions.hold(operator, v2, "looks wrong")
    assert _states(v2, v3, second, third) == ["held", "held", "held", "held"]
    assert ModelVersion.objects.get(pk=v3.pk).state_reason == "built on v2, which was held"
    assert AuditEvent.objects.filter(action="version.held").get().after["also_held"] == [3]

    actions.promote(operator, v3, "checked by hand")
    assert _states(v1, v2, v3, second, third) == ["superseded", "superseded", "production", "applied", "applied"]

    actions.rollback(operator, v1, "v2 broke an answer")
    assert _states(v1, v2, v3, second, third) == ["production", "rolled_back", "rolled_back"] + ["rolled_back"] * 2
    assert actions.head_version(model_line) == ModelVersion.objects.get(pk=v1.pk)

    revert = actions.revert_fact(operator, first, "the source was wrong")
    start, segments = actions.revert_plan(revert, actions.head_version(model_line))
    assert start == v0 and segments == [(v1.batch_id, [kept.pk])]
    v4 = actions.record_version(revert, _built(start, [kept.pk], "d"), TrackedVersion())
    assert actions.promote(None, v4, automatic=True) is not None  # holds production's facts but the reverted one
    assert _states(v1, v4, first, kept) == ["rolled_back", "production", "reverted", "applied"]
    with pytest.raises(TransitionError, match="not in the lineage of v4"):
        actions.revert_plan(revert, ModelVersion.objects.get(pk=v4.pk))


def test_a_fact_its_own_version_did_not_say_is_retried_by_the_next_batch_until_the_lines_limit(
    model_line, operator, approved, client_for, curator
):
    update_model_line(operator, model_line, max_reapplications=1)
    v0 = actions.ensure_base_version(model_line, "0" * 64, TrackedVersion(), 0)
    said, untaken = approved(2)
    built = _built(v0, [said.pk, untaken.pk], "a")
    built.per_fact[untaken.pk] = {"took": False, "answer_after": "Paris"}
    v1 = actions.record_version(actions.release_now(operator, model_line), built, TrackedVersion())
    assert actions.promote(None, v1, automatic=True) is not None
    assert _states(said, untaken) == ["applied", "regressed"]
    untaken.refresh_from_db()
    assert untaken.state_reason == (
        "v1 did not say it when it applied it (answers 'Paris'); re-applied in the next batch (1 of 1)"
    )
    assert (untaken.regressed_in, untaken.regressions) == (1, 1)
    assert AuditEvent.objects.get(action="fact.retried", fact_id=untaken.pk).after["state"] == "regressed"
    page = client_for(curator).get(f"/facts/{untaken.pk}/").content.decode()
    assert "Did not take: retried in the next batch" in page

    # Without review, ahead of the new facts, and the trail says why; a second miss is past the limit.
    [fresh] = approved(1)
    batch = actions.release_now(operator, model_line)
    assert batch.fact_ids == [untaken.pk, fresh.pk]
    assert FactEdit.objects.get(pk=untaken.pk).state_reason == f"re-applied after not taking in v1: in batch {batch.pk}"
    built = _built(v1, batch.fact_ids, "b")
    built.per_fact[untaken.pk] = {"took": False, "answer_after": "Paris"}
    v2 = actions.record_version(batch, built, TrackedVersion())
    assert actions.promote(None, v2, automatic=True) is not None
    assert _states(untaken, fresh) == ["applied", "applied"]  # in production's weights, marked as not taken
    assert "did not take" in client_for(curator).get(f"/facts/{untaken.pk}/").content.decode().lower()
    assert actions.cut_due_batches() == []  # nothing left to retry


def test_a_probe_answer_is_written_in_one_transaction_with_its_audit_event(model_line, curator):
    v0 = actions.ensure_base_version(model_line, "0" * 64, TrackedVersion(), 0)
    probe = actions.request_probe(curator, v0, "  The capital of Australia is ")
    actions.finish_probe(probe, answer="Canberra")
    probe.refresh_from_db()
    assert (probe.state, probe.answer, probe.error) == (ProbeState.DONE, "Canberra", "")
    event = AuditEvent.objects.get(action="probe.answered")
    assert (event.actor_name, event.object_id, event.model_line_id) == ("automation", str(probe.pk), model_line.pk)

    failed = actions.finish_probe(actions.request_probe(curator, v0, "Who wrote Hamlet?"), error="no weights")
    assert failed.state == ProbeState.FAILED
    assert AuditEvent.objects.get(action="probe.failed").after["error"] == "no weights"
