"""The real UI in headless Chromium: a curator submits a fact, a reviewer sends it back, the curator
fixes it, the reviewer approves it, and both see its timeline.

Set AMEND_SCREENSHOTS_DIR (e.g. docs/screenshots) to keep the review queue and the fact timeline
as PNG files for the README.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.accounts.roles import Role
from apps.facts.models import FactEdit, FactState
from tests.fixtures.browser import BROWSER, labelled, sign_in, sign_out

pytestmark = BROWSER


@pytest.fixture
def screenshot(tmp_path) -> Iterator[object]:
    """screenshot(page, name): a PNG of the page, kept under AMEND_SCREENSHOTS_DIR when that is set."""
    keep = os.environ.get("AMEND_SCREENSHOTS_DIR")

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(keep) / path.name)
        return path

    return take


@pytest.fixture
def team(make_user, model_line, make_fact, other_curator):
    """A curator and a reviewer, and a queue that already holds two facts that disagree (both flagged)."""
    make_fact("Who wrote the play Hamlet?", "Christopher Marlowe", actor=other_curator, subject="Hamlet")
    make_fact("Who wrote the play Hamlet", "Francis Bacon", subject="Hamlet", rationale="Baconian theory (test data)")
    return {
        "curator": make_user("carla", Role.CURATOR),
        "reviewer": make_user("ravi", Role.REVIEWER),
        "line": model_line,
    }


def test_curator_submits_reviewer_approves_and_both_see_the_timeline(
    django_db_reset_sequences, live_server, page, team, screenshot
):
    from playwright.sync_api import expect

    prompt = "What is the capital of Australia?"

    # The curator writes the fact; the form checks for conflicts while she types.
    sign_in(page, live_server, "carla")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Submit a fact").click()
    page.get_by_label(labelled("Model line")).select_option(label=team["line"].name)
    page.get_by_label(labelled("Prompt")).fill(prompt)
    page.get_by_label("New target").fill("Canberra")
    expect(page.locator("#conflict-panel")).to_contain_text("No conflicts")
    page.get_by_label("New paraphrase").fill("Australia's capital city is")
    page.get_by_role("button", name="+ Add a paraphrase").click()
    page.keyboard.type("The seat of the Australian government is")
    page.get_by_label("New probe prompt").fill("What is the capital of France?")
    page.get_by_label("Expected answer").fill("Paris")
    page.get_by_label("Rationale").fill("Models often answer Sydney.")
    page.get_by_label(labelled("Source")).fill("https://www.australia.gov.au/")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".alert-success")).to_contain_text("was submitted for review")
    fact = FactEdit.objects.get(prompt=prompt)
    assert fact.paraphrases == ["Australia's capital city is", "The seat of the Australian government is"]
    assert fact.locality_probes == [{"prompt": "What is the capital of France?", "answer": "Paris"}]
    sign_out(page)

    # The reviewer finds it in the queue, beside the flagged Hamlet conflict, and asks for a change.
    sign_in(page, live_server, "ravi")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    expect(page.locator(".queue-item.has-conflict")).to_have_count(2)  # the two Hamlet facts
    item = page.locator("article", has_text=prompt)
    screenshot(page, "review-queue")
    item.get_by_label("Request changes").check()
    item.get_by_label(labelled("Comment")).fill("Please cite the government's own page on the capital.")
    item.get_by_role("button", name="Record decision").click()
    expect(page.locator(".alert-success")).to_contain_text("back to its curator")
    sign_out(page)

    # The curator reads the request on her dashboard and fixes the source.
    sign_in(page, live_server, "carla")
    page.get_by_role("link", name=f"#{fact.pk}", exact=True).click()
    expect(page.locator(".alert-warning")).to_contain_text("cite the government")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label(labelled("Source")).fill("https://www.australia.gov.au/about-australia/our-country/our-capital")
    page.get_by_role("button", name="Save and submit for review").click()
    expect(page.locator("h1 .badge")).to_have_text("Submitted")
    sign_out(page)

    # The reviewer approves; the fact page tells the whole story in order.
    sign_in(page, live_server, "ravi")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    page.get_by_role("link", name=f"Fact #{fact.pk}", exact=True).click()
    page.get_by_label("Approve").check()
    page.get_by_label(labelled("Comment")).fill("Source checked: Canberra is the capital.")
    page.get_by_role("button", name="Record decision").click()
    # On to the next fact waiting (a Hamlet one), told where the decision went.
    expect(page.locator(".alert-success")).to_contain_text(f"You approved fact #{fact.pk}. Next in the queue")
    expect(page.locator("h1 .badge")).to_have_text("Submitted")
    page.goto(f"{live_server.url}/facts/{fact.pk}/")
    expect(page.locator("h1 .badge")).to_have_text("Approved")
    timeline = page.locator("ol.timeline > li .tl-action")
    expect(timeline).to_have_text(
        ["Submitted for review", "Review: request changes", "Changes requested", "Edited", "Submitted for review",
         "Review: approve", "Approved"]
    )  # fmt: skip
    expect(page.locator("ol.timeline")).to_contain_text("Source checked: Canberra is the capital.")
    screenshot(page, "fact-timeline")
    fact.refresh_from_db()
    assert fact.state == FactState.APPROVED and fact.revision == 2


def test_the_edit_page_shows_a_conflict_before_anything_is_typed(live_server, page, team):
    from playwright.sync_api import expect

    bacon = FactEdit.objects.get(target="Francis Bacon")
    sign_in(page, live_server, bacon.submitter.username)
    page.goto(f"{live_server.url}/facts/{bacon.pk}/edit/")
    panel = page.locator("#conflict-panel")
    expect(panel).to_contain_text("Conflicts with 1 live fact")
    expect(panel).to_contain_text("Christopher Marlowe")


def test_keyboard_users_can_skip_to_the_content_and_see_where_focus_is(live_server, page, team):
    sign_in(page, live_server, "carla")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("element => element === document.activeElement")
    # The skip link slides into view when focused, with a focus ring drawn around it.
    assert skip.evaluate("element => element.getBoundingClientRect().top") >= 0
    assert skip.evaluate("element => getComputedStyle(element).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_operator_reads_the_release_flow_and_watches_a_batch_move_on(
    transactional_db, live_server, browser, releases, screenshot
):
    from playwright.sync_api import expect

    from apps.releases.progress import report_stage

    # A laptop screen: the versions table fits without a sideways scroll.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live_server, "otto")
    page.goto(f"{live_server.url}/model-lines/{releases.line.name}/")
    v1 = page.locator(".versions-table tr", has=page.get_by_role("link", name="v1", exact=True))
    expect(v1).to_contain_text("Efficacy missed")
    expect(v1).to_contain_text("overridden by otto: Ship it to see the answers")
    expect(v1).to_contain_text("changed nothing")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    screenshot(page, "model-line-versions")

    # The running batch moves on while the page is open: no reload needed.
    expect(page.locator(".stage-current").first).to_have_text("Queued")
    report_stage(releases.running.pk, "editing")
    expect(page.locator(".stage-current").first).to_have_text("Editing", timeout=15_000)

    page.goto(f"{live_server.url}/releases/versions/{releases.v1.pk}/")
    expect(page.get_by_text("This version changed nothing.")).to_be_visible()
    screenshot(page, "version-overridden")

    page.goto(f"{live_server.url}/releases/versions/{releases.v2.pk}/promote/")
    expect(page.get_by_role("alert")).to_contain_text("v2 missed 1 gate: Generalisation 25.0% (at least 60.0%)")
    context.close()


def test_curator_sees_that_an_edit_did_not_take_and_retries_a_held_fact(
    transactional_db, live_server, page, releases, screenshot
):
    from playwright.sync_api import expect

    sign_in(page, live_server, "cora")
    page.goto(f"{live_server.url}/facts/{releases.did_not_take.pk}/")
    expect(page.locator("h1 .badge")).to_have_text("Did not take")
    did_not_take = page.get_by_role("status").filter(has_text="Its edit did not take")
    expect(did_not_take).to_contain_text("not “Rome” (its paraphrases say it 50.0%).")
    screenshot(page, "fact-did-not-take")

    page.goto(f"{live_server.url}/facts/{releases.held.pk}/")
    page.get_by_role("button", name="Retry in the next batch, as it is").click()
    expect(page.locator(".alert-success")).to_contain_text("the next batch takes it")
    expect(page.locator("h1 .badge")).to_have_text("Approved")
