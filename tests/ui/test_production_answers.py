"""Reviewers see what production answers today: a submission asks production its prompt and each
paraphrase (through the outbox: the submission's task on the default queue writes the probes, one task
on the gpu queue answers them), the answers are kept with the version
they came from, and the review queue and the fact page show them beside the proposed target."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.facts.actions import create_fact, review_fact, submit_fact
from apps.outbox.models import OutboxMessage, OutboxState
from apps.releases.actions import finish_probe
from apps.releases.models import ModelVersion, Probe, ProbeState, VersionState
from workers.probes import ask_production

FRANCE = "The capital of France is"
PARAPHRASE = "France's capital city is"


@pytest.fixture
def production(model_line) -> ModelVersion:
    return ModelVersion.objects.create(
        model_line=model_line, number=0, state=VersionState.PRODUCTION, content_hash="h-base"
    )


def run_asks() -> None:
    """What a default-queue worker does with the submissions' tasks: ask production (workers.probes)."""
    for message in OutboxMessage.objects.filter(task="workers.probes.ask_production", state=OutboxState.PENDING):
        ask_production(*message.args)
        message.state = OutboxState.SENT
        message.save(update_fields=["state"])


@pytest.fixture
def make_fact(make_fact):
    """A fact as the conftest makes it, once its submission's task has run."""

    def make(*args, **kwargs):
        fact = make_fact(*args, **kwargs)
        run_asks()
        return fact

    return make


def page_text(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def answer_all(answers: dict[str, str]) -> None:
    """What a GPU worker does with the fact's task: one answer per pending probe."""
    for probe in Probe.objects.filter(state=ProbeState.PENDING):
        finish_probe(probe, answer=answers[probe.prompt])


def test_a_submission_asks_production_its_prompt_and_paraphrases_in_one_task(production, make_fact, curator):
    fact = make_fact(FRANCE, "Lyon", paraphrases=[PARAPHRASE])

    ask = OutboxMessage.objects.get(task="workers.probes.ask_production")
    assert ask.queue == "default" and ask.args == [fact.pk, curator.pk] and ask.subject == f"fact:{fact.pk}"

    probes = Probe.objects.filter(version=production).order_by("id")
    assert [p.prompt for p in probes] == [FRANCE, PARAPHRASE]
    assert all(p.state == ProbeState.PENDING and p.requested_by == curator for p in probes)
    message = OutboxMessage.objects.get(task="workers.gpu.answer_probe")
    assert message.queue == "gpu" and message.args == [p.pk for p in probes]
    event = AuditEvent.objects.get(action="probe.requested")
    assert event.after["fact"] == fact.pk and event.after["prompts"] == [FRANCE, PARAPHRASE]


def test_a_prompt_production_already_answered_is_not_asked_again(production, make_fact, other_curator):
    make_fact(FRANCE, "Lyon", paraphrases=[PARAPHRASE])
    answer_all({FRANCE: "Paris.", PARAPHRASE: "Paris"})

    make_fact(FRANCE, "Marseille", actor=other_curator, paraphrases=["The French capital is"])

    asked = list(Probe.objects.filter(version=production).values_list("prompt", flat=True).order_by("id"))
    assert asked == [FRANCE, PARAPHRASE, "The French capital is"]


def test_a_draft_asks_nothing_until_it_is_submitted(production, make_fact, curator):
    draft = make_fact(FRANCE, "Lyon", submit=False)
    assert not Probe.objects.exists()

    submit_fact(curator, draft)
    run_asks()
    assert Probe.objects.filter(prompt=FRANCE, version=production).exists()


def test_a_line_without_a_version_has_its_base_recorded_first(model_line, make_fact, client_for, reviewer):
    fact = make_fact(FRANCE, "Lyon")

    assert not Probe.objects.exists()
    message = OutboxMessage.objects.get(task="workers.gpu.probe_base")
    assert message.queue == "gpu" and message.args == [fact.pk] and message.subject == f"fact:{fact.pk}"
    page = page_text(client_for(reviewer), reverse("fact_detail", args=[fact.pk]))
    assert "Asking the model… The line has no version yet" in page and "data-live-pending" in page


def test_the_queue_shows_asking_then_productions_answers_beside_the_target(production, make_fact, client_for, reviewer):
    fact = make_fact(FRANCE, "Lyon", paraphrases=[PARAPHRASE])
    queue = reverse("review_queue")

    pending = page_text(client_for(reviewer), queue)
    assert pending.count("asking the model…") == 2 and "data-live-pending" in pending and "js/amend.js" in pending

    answer_all({FRANCE: "Paris. It is the largest city", PARAPHRASE: "Paris"})
    answered = page_text(client_for(reviewer), queue)
    table = answered[answered.index(f'id="answers-{fact.pk}"') :]
    table = table[: table.index("</table>")]
    assert "Production (v0) answers" in table
    assert "<strong>Paris. It is the largest city</strong>" in table and "<td>Lyon</td>" in table
    assert "(paraphrase)" in table and "asking the model" not in answered and "data-live-pending" not in answered


def test_the_fact_page_says_asking_until_the_submissions_task_wrote_its_probes(
    production, curator, model_line, client_for, reviewer
):
    fact = create_fact(curator, model_line, prompt=FRANCE, target="Lyon", rationale="r", source="s")

    page = page_text(client_for(reviewer), reverse("fact_detail", args=[fact.pk]))
    assert "asking the model…" in page and "data-live-pending" in page and "not asked" not in page
    run_asks()
    assert Probe.objects.filter(prompt=FRANCE, version=production, requested_by=curator).exists()


def test_answers_of_an_earlier_version_say_so_once_production_moved_on(
    production, make_fact, client_for, reviewer, model_line
):
    fact = make_fact(FRANCE, "Lyon")
    answer_all({FRANCE: "Paris"})
    production.state = VersionState.SUPERSEDED
    production.save()
    ModelVersion.objects.create(
        model_line=model_line, number=1, parent=production, state=VersionState.PRODUCTION, content_hash="h1"
    )

    page = page_text(client_for(reviewer), reverse("fact_detail", args=[fact.pk]))
    assert '<strong>Paris</strong> <span class="small muted">(asked of v0)</span>' in page
    assert "Some answers come from v0; production is now v1." in page


def test_a_failed_probe_says_why_and_the_fact_page_keeps_its_review_form(production, make_fact, client_for, reviewer):
    fact = make_fact(FRANCE, "Lyon")
    finish_probe(Probe.objects.get(), error="cannot load model 'x': no config.json")

    page = page_text(client_for(reviewer), reverse("fact_detail", args=[fact.pk]))
    assert "could not answer: cannot load model &#x27;x&#x27;: no config.json" in page
    review_fact(reviewer, fact, "approve", "Checked")
    assert "What production answers today" in page_text(client_for(reviewer), reverse("fact_detail", args=[fact.pk]))
