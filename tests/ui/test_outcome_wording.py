"""What a newcomer reads on the release pages (issue 17): a batch's badge names what became of it, what
the model says leads every table (token accuracy is labelled and secondary), gate reasons read as
percentages, a running batch shows its stage, elapsed time and an estimate, and a reason shared by
every row of a table is said once."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.releases import gates
from apps.releases.models import Batch, BatchState
from apps.releases.progress import report_stage


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def badge_of_batch(page: str, batch_id: int) -> str:
    start = page.index(f"Batch #{batch_id}</a>")
    line = page[start : page.index("</li>", start)]
    return line[line.index('<span class="badge') : line.index("</span>", line.index('<span class="badge')) + 7]


def test_a_batch_badge_says_what_became_of_its_version(client_for, operator, releases):
    client = client_for(operator)
    line_page = text(client.get(reverse("modelline_detail", args=[releases.line.name])))
    assert ">Promoted<" in badge_of_batch(line_page, releases.v1.batch_id)
    assert badge_of_batch(line_page, releases.v2.batch_id) == '<span class="badge badge-held">Held</span>'
    assert ">Rolled back<" in badge_of_batch(line_page, releases.v3.batch_id)
    batches = line_page[line_page.index("<h3>Batches</h3>") :]
    assert ">Applied<" not in batches[: batches.index("</ul>")]

    held_batch = text(client.get(reverse("release_batch", args=[releases.v2.batch_id])))
    assert f'<h1>Batch #{releases.v2.batch_id} <span class="badge badge-held">Held</span>' in held_batch


def test_what_the_model_says_leads_and_token_accuracy_is_labelled_as_such(client_for, operator, releases):
    client = client_for(operator)
    line_page = text(client.get(reverse("modelline_detail", args=[releases.line.name])))
    start = line_page.index("versions-table")
    table = line_page[start : line_page.index("</table>", start)]
    v1 = table[table.index(">v1</a>") : table.index("</tr>", table.index(">v1</a>"))]
    # v1: the model says the target for 0% of its prompts and 50% of paraphrases; token accuracy 66.7% / 74.5%.
    assert ">0.0%<" in v1 and ">50.0%<" in v1 and "66.7%" not in v1 and "74.5%" not in v1
    assert "token accuracy" not in table

    version = text(client.get(reverse("release_version", args=[releases.v1.pk])))
    said, token = version.index("Efficacy 0.0%"), version.index("Teacher-forced, as papers report it")
    assert said < token and "efficacy, token accuracy 66.7%" in version[token:]

    batch = text(client.get(reverse("release_batch", args=[releases.v1.batch_id])))
    assert '<th scope="col">Says the target?</th>' in batch and "efficacy, token accuracy 66.7%" in batch


def test_gate_reasons_read_as_percentages_like_the_gate_tables(model_line):
    results = gates.evaluate_gates(
        model_line, {"generation_efficacy": 0.25, "generation_generalization": 0.04, "locality": 1.0}
    )
    assert gates.failure_reasons(results) == [
        "efficacy 25.0% is below the minimum 90.0%",
        "generalisation 4.0% is below the minimum 60.0%",
    ]


def test_a_running_batch_shows_the_workers_stage_elapsed_time_and_an_estimate(client_for, operator, curator, releases):
    earlier = Batch.objects.get(pk=releases.v1.batch_id)
    Batch.objects.filter(pk=earlier.pk).update(finished_at=earlier.created_at + timedelta(minutes=2, seconds=40))
    # Ten minutes ago: the seconds the request itself takes never change the minutes shown.
    Batch.objects.filter(pk=releases.running.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    report_stage(releases.running.pk, "evaluating")

    page = text(client_for(operator).get(reverse("release_batch", args=[releases.running.pk])))
    assert f'<h1>Batch #{releases.running.pk} <span class="badge badge-pending">Evaluating</span>' in page
    assert '<td><span class="badge badge-pending">Evaluating</span>' in page  # its facts say it too
    assert "Running for 10 min " in page
    assert "; earlier batches of this line took about 2 min 40 s from cut to version" in page

    fact = releases.running.fact_ids[0]
    fact_page = text(client_for(curator).get(reverse("fact_detail", args=[fact])))
    assert '<li class="stage-current" aria-current="step">Evaluating</li>' in fact_page and "Running for" in fact_page


def test_a_reason_every_row_shares_is_said_once_and_whole(client_for, operator, releases, make_fact):
    from apps.facts.models import FactEdit, FactState

    reason = "v2 held: generalisation 25.0% is below the minimum 60.0% (the gate of the line, " + "x" * 80 + ")"
    facts = [releases.held] + [make_fact(f"Where was person {n} born?", "Oslo") for n in range(3)]
    batch = Batch.objects.get(pk=releases.v2.batch_id)
    Batch.objects.filter(pk=batch.pk).update(fact_ids=[f.pk for f in facts], state=BatchState.APPLIED)
    FactEdit.objects.filter(pk__in=[f.pk for f in facts]).update(state=FactState.HELD, state_reason=reason)

    page = text(client_for(operator).get(reverse("release_batch", args=[batch.pk])))
    assert page.count(reason) == 1 and "minimum 0.…" not in page
