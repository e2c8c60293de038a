"""Words a newcomer tripped on (issue 17, item 11), each read as its user reads the page."""

import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from django.urls import reverse

from apps.facts.actions import transition_facts
from apps.facts.models import FactState
from apps.releases.models import ModelVersion


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def lead_of(page: str) -> str:
    start = page.index('<p class="lead">')
    return page[start : page.index("</p>", start)]


def test_a_version_page_says_what_its_state_means_not_an_operators_reason(client_for, operator, releases):
    client = client_for(operator)
    v0 = text(client.get(reverse("release_version", args=[releases.v0.pk])))
    assert "An earlier step of production&#x27;s lineage: production builds on it." in lead_of(v0)
    assert "was or could have been production" not in v0

    ModelVersion.objects.filter(pk=releases.v1.pk).update(state_reason="Ship it to see the answers")
    v1 = text(client.get(reverse("release_version", args=[releases.v1.pk])))
    assert "Ship it" not in lead_of(v1) and "Promoted by hand over" in v1  # the reason is the override alert's

    ModelVersion.objects.filter(pk=releases.v2.pk).update(
        state_reason="generalisation 25.0% is below the minimum 60.0%"
    )
    v2 = text(client.get(reverse("release_version", args=[releases.v2.pk])))
    assert "Why: generalisation 25.0% is below the minimum 60.0%" in lead_of(v2)


def test_the_mlflow_run_id_is_a_link_while_the_mlflow_ui_answers(client_for, operator, releases, settings):
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.MLFLOW_UI_URL = f"http://127.0.0.1:{server.server_port}"
        page = text(client_for(operator).get(reverse("release_version", args=[releases.v1.pk])))
        assert f'<a href="{settings.MLFLOW_UI_URL}/#/runs/run1" target="_blank" rel="noopener">run run1</a>' in page
    finally:
        server.shutdown()


def test_a_promoted_held_fact_reads_as_one_promotion_in_its_timeline(client_for, curator, releases):
    held = releases.held
    transition_facts(None, [held], FactState.QUEUED, reason="promoted with v2")
    transition_facts(None, [held], FactState.APPLIED, reason="in production with v2", results={held.pk: {"took": True}})
    page = text(client_for(curator).get(reverse("fact_detail", args=[held.pk])))
    timeline = page[page.index('id="timeline-title"') :]
    # Held -> Applied in one line; "Queued for a batch" only once, when the fact joined its batch.
    assert "Promoted with its held version" in timeline and timeline.count("Queued for a batch") == 1


def test_a_fact_without_probes_on_a_line_without_probes_says_which_probes_apply(client_for, reviewer, make_fact):
    make_fact("Where is the Louvre?", "Lyon")
    page = text(client_for(reviewer).get(reverse("review_queue")))
    assert "the line&#x27;s own probes still apply" not in page
    assert "none of its own (the 125 general-knowledge probes still apply)" in page


def test_mlflow_progress_bars_and_cloudpickle_notes_stay_out_of_the_worker_log():
    import amend.celery  # noqa: F401  (the worker's entry point sets it)
    from amend.log_filters import QuietMlflowNoise

    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    note = logging.LogRecord(
        "mlflow.pyfunc", logging.WARNING, __file__, 1, "The version of CloudPickle %s", ("x",), None
    )
    other = logging.LogRecord("mlflow.pyfunc", logging.WARNING, __file__, 1, "Ignoring provided params", (), None)
    assert not QuietMlflowNoise().filter(note) and QuietMlflowNoise().filter(other)


def test_a_fact_in_production_never_probed_shows_what_its_batch_heard_production_say(
    client_for, curator, releases, model_line
):
    from apps.facts.models import FactEdit

    # did_not_take is in v1 (production) and was never probed: its batch's evaluation says what v1 answers.
    FactEdit.objects.filter(pk=releases.did_not_take.pk).update(results={**releases.did_not_take.results, "version": 1})
    page = text(client_for(curator).get(reverse("fact_detail", args=[releases.did_not_take.pk])))
    answers = page[page.index('id="answers-title"') : page.index("</table>", page.index('id="answers-title"'))]
    assert """<strong>Paris</strong> <span class="small muted">(its batch's evaluation of v1)</span>""" in answers
