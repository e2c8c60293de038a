"""The README's story on the real model, in headless Chromium with a real Celery worker, on the line
`manage.py seed_demo` creates, with its gates as they ship: a curator proposes that the capital of France
is Lyon (with a paraphrase), the reviewer sees what production answers today (Paris) beside it and
approves, an operator releases, the version meets the demo line's own gates and is promoted
automatically, and production answers Lyon to the prompt and to the paraphrase while Germany's capital is
still Berlin. No gate is lowered for it. Prints the time from approval to promotion.
"""

import io
import time

import pytest
from django.core.management import call_command

from apps.facts.models import FactEdit, FactState
from apps.modellines.management.commands.seed_demo import DEMO_GATES, DEMO_LINE
from apps.modellines.models import ModelLine
from apps.releases.models import ModelVersion, Probe, Promotion, VersionState
from tests.fixtures.browser import BROWSER, labelled, sign_in, sign_out

pytestmark = [*BROWSER, pytest.mark.pipeline, pytest.mark.slow]

FRANCE = "The capital of France is"
PARAPHRASE = "France's capital city is"
UNSEEN = "The French capital is"
GERMANY = "The capital of Germany is"
# The worker loads the model and records its base before the first answer: generous on a busy 2-core machine.
MODEL_TIMEOUT_MS = 150_000


def normalised(answer: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in answer.casefold()).split())


def ask(tab, live_server, version: ModelVersion, prompt: str) -> str:
    """An operator probes a version from its page and reads the answer once the worker wrote it."""
    from playwright.sync_api import expect

    tab.goto(f"{live_server.url}/releases/versions/{version.pk}/")
    tab.locator("#probe-prompt").fill(prompt)
    tab.get_by_role("button", name=f"Ask {version.label}").click()
    answer = tab.locator("section.card dd strong")
    expect(answer).to_be_visible(timeout=MODEL_TIMEOUT_MS)  # the page refreshes itself while the worker answers
    return answer.inner_text()


def test_a_reviewed_edit_of_a_real_fact_reaches_production_and_leaves_its_neighbours_alone(
    live_server, page, workers, wait, base_model, curator, reviewer, operator
):
    from playwright.sync_api import expect

    call_command("seed_demo", force=True, stdout=io.StringIO())  # the README's `make run` line, on the bundled model
    line = ModelLine.objects.get(name=DEMO_LINE)
    assert line.gates() == DEMO_GATES  # as it ships: the story is told on the demo line's own gates
    workers.start("w1")

    # The curator proposes the edit with a paraphrase.
    sign_in(page, live_server, curator.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Submit a fact").click()
    page.get_by_label(labelled("Model line")).select_option(label=line.name)
    page.get_by_label(labelled("Prompt")).fill(FRANCE)
    page.get_by_label("New target").fill("Lyon")
    page.get_by_label("New paraphrase").fill(PARAPHRASE)
    page.get_by_label("Rationale").fill("A counterfactual to see the edit take.")
    page.get_by_label(labelled("Source")).fill("https://example.org/counterfactual")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".alert-success")).to_contain_text("was submitted for review")
    sign_out(page)

    # The reviewer sees what production answers today beside the proposed target: it updates in place.
    sign_in(page, live_server, reviewer.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    item = page.locator("article", has_text=FRANCE)
    answers = item.locator(".production-answers")
    expect(answers.locator("tbody tr").first).to_contain_text("Paris", timeout=MODEL_TIMEOUT_MS)
    expect(answers.locator("tbody tr").first).to_contain_text("Lyon")  # the proposed target, beside it
    expect(answers).to_contain_text("Production (v0) answers")
    item.get_by_label("Approve").check()
    item.get_by_label(labelled("Comment")).fill("A test of the editor: approved.")
    item.get_by_role("button", name="Record decision").click()
    expect(page.locator(".alert-success")).to_contain_text("You approved fact")
    sign_out(page)
    fact = FactEdit.objects.get(prompt=FRANCE)
    assert fact.state == FactState.APPROVED

    # The operator releases at once; the version meets the demo line's gates and is promoted automatically.
    sign_in(page, live_server, operator.username)
    page.goto(f"{live_server.url}/model-lines/{line.name}/")
    page.get_by_role("link", name="Release now…").click()
    page.get_by_role("button", name=f"Yes, release {line.name} now").click()
    expect(page.locator(".alert-success")).to_contain_text("a worker applies it")
    started = time.monotonic()
    v1 = wait(
        "v1 decided",
        lambda: ModelVersion.objects.filter(
            model_line=line, number=1, state__in=[VersionState.PRODUCTION, VersionState.HELD, VersionState.FAILED]
        ).first(),
        timeout=150,
    )
    assert v1.state == VersionState.PRODUCTION, f"{v1.label} {v1.state}: {v1.state_reason}; metrics {v1.metrics}"
    promoted = Promotion.objects.get(version=v1, kind="promote")
    fact.refresh_from_db()
    seconds = (promoted.created_at - fact.approved_at).total_seconds()
    print(
        f"\napproval to promotion: {seconds:.1f} s (release to promotion {time.monotonic() - started:.1f} s; "
        f"stages {v1.stage_seconds}; metrics {v1.metrics})"
    )
    assert promoted.automatic and promoted.actor is None
    assert fact.state == FactState.APPLIED and fact.results["took"] is True

    # Production now says Lyon, and still knows Germany's capital (the base model answers "Berlin.").
    france = ask(page, live_server, v1, FRANCE)
    assert normalised(france).startswith("lyon"), f"{v1.label} answers {france!r} to {FRANCE!r}"
    paraphrase = ask(page, live_server, v1, PARAPHRASE)
    assert normalised(paraphrase).startswith("lyon"), f"{v1.label} answers {paraphrase!r} to {PARAPHRASE!r}"
    # The curator's paraphrase was an edit row (the default): the fact's report says so, and a wording the edit
    # never saw says Lyon too.
    assert fact.results["paraphrases_edited"] == [PARAPHRASE]
    unseen = ask(page, live_server, v1, UNSEEN)
    assert normalised(unseen).startswith("lyon"), f"{v1.label} answers {unseen!r} to {UNSEEN!r}"
    germany = ask(page, live_server, v1, GERMANY)
    assert normalised(germany).startswith("berlin"), f"{v1.label} answers {germany!r} to {GERMANY!r}"
    assert (
        Probe.objects.filter(version=v1, prompt__in=[FRANCE, PARAPHRASE, GERMANY], requested_by=operator).count() == 3
    )
