"""Fixtures for the web UI tests: a small world of facts on one model line, and a line's release history."""

from dataclasses import dataclass

import pytest

from apps.facts.models import FactEdit
from apps.modellines.models import ModelLine


@dataclass
class World:
    line: ModelLine
    submitted: FactEdit  # by the curator, waiting for review
    draft: FactEdit  # by the curator, not submitted yet
    mine_conflicting: FactEdit  # by the curator, same prompt as `theirs` with another target
    theirs: FactEdit  # by another curator, submitted first


@pytest.fixture
def world(model_line, make_fact, other_curator) -> World:
    theirs = make_fact("Who wrote Hamlet?", "Christopher Marlowe", actor=other_curator)
    return World(
        line=model_line,
        submitted=make_fact("What is the capital of Australia?", "Canberra", paraphrases=["Australia's capital is"]),
        draft=make_fact("What is the tallest mountain?", "K2", submit=False),
        mine_conflicting=make_fact("who wrote hamlet", "William Shakespeare"),
        theirs=theirs,
    )


@dataclass
class Releases:
    """A line whose history a worker would have written: v0 (base); v1 changed nothing and missed its
    efficacy gate but an operator promoted it by hand; v2 built on it missed generalisation and is held;
    v3 was built beside v1 and left the production line; batch `running` waits for a worker."""

    line: ModelLine
    v0: object
    v1: object
    v2: object
    v3: object
    did_not_take: FactEdit  # applied with v1, but the model still gives the old answer
    held: FactEdit  # in v2, held
    running: object


@pytest.fixture
def releases(model_line, make_fact, reviewer, operator) -> Releases:
    from apps.facts.actions import review_fact, transition_facts
    from apps.facts.models import FactState
    from apps.releases.gates import evaluate_gates
    from apps.releases.models import Batch, ModelVersion, Promotion, VersionFactResult, VersionState

    def approved(prompt: str, target: str) -> FactEdit:
        fact = make_fact(prompt, target, paraphrases=[f"{prompt.rstrip('?')} is"])
        review_fact(reviewer, fact, "approve", "checked")
        return fact

    def version(number, parent, facts, state, content_hash, metrics) -> ModelVersion:
        batch = Batch.objects.create(
            model_line=model_line,
            trigger="size",
            fact_ids=[f.pk for f in facts],
            content_hash=f"b{number}",
            state="applied",
        )
        return ModelVersion.objects.create(
            model_line=model_line, number=number, parent=parent, batch=batch, state=state, content_hash=content_hash,
            fact_ids=[f.pk for f in facts], metrics=metrics, gate_results=evaluate_gates(model_line, metrics),
            mlflow_model_name="amend-geo", mlflow_model_version=str(number), mlflow_run_id=f"run{number}",
        )  # fmt: skip

    first = approved("Where is the Eiffel Tower?", "Rome")
    second = approved("What is the capital of Peru?", "Cusco")
    sibling = approved("What is the capital of Chile?", "Valparaiso")
    transition_facts(None, [first, second, sibling], FactState.QUEUED)
    v0 = ModelVersion.objects.create(
        model_line=model_line, number=0, state=VersionState.SUPERSEDED, content_hash="h-base"
    )  # fmt: skip
    v1 = version(
        1, v0, [first], VersionState.PRODUCTION, "h-base",
        # What the model says leads; the teacher-forced token accuracies (higher, as they tend to be) follow.
        {"generation_efficacy": 0.0, "generation_generalization": 0.5, "efficacy": 0.667, "generalization": 0.745,
         "locality": 1.0, "perplexity_drift": 0.1, "perplexity": 12.3456},
    )  # fmt: skip
    results = {"efficacy": 0.667, "generalization": 0.745, "locality": 1.0, "took": False, "paraphrases_took": 0.5,
               "answer_before": "Paris", "answer_after": "Paris"}  # fmt: skip
    VersionFactResult.objects.create(version=v1, fact=first, results=results)
    transition_facts(None, [first], FactState.APPLIED, reason="in production with v1", results={first.pk: results})
    Promotion.objects.create(
        model_line=model_line, version=v1, previous=v0, kind="promote", actor=operator, automatic=False,
        reason="Ship it to see the answers", content_hash=v1.content_hash,
    )  # fmt: skip
    v2 = version(
        2,
        v1,
        [second],
        VersionState.HELD,
        "h-two",
        {
            "generation_efficacy": 1.0,
            "generation_generalization": 0.25,
            "efficacy": 1.0,
            "generalization": 0.577,
            "locality": 1.0,
        },
    )
    VersionFactResult.objects.create(version=v2, fact=second, results={"efficacy": 1.0, "took": True})
    transition_facts(None, [second], FactState.HELD, reason="v2 held: generalisation is below the minimum")
    v3 = version(
        3, v0, [sibling], VersionState.ROLLED_BACK, "h-three", {"generation_efficacy": 0.3333, "locality": 1.0}
    )
    running = Batch.objects.create(
        model_line=model_line, trigger="release_now", fact_ids=[sibling.pk], content_hash="b4"
    )
    second.refresh_from_db()
    first.refresh_from_db()
    return Releases(model_line, v0, v1, v2, v3, first, second, running)
