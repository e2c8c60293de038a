"""The release flow's pages tell the truth: which gates a version missed and who overrode them, that a
version changed nothing, whether each fact's edit took, where a running batch is, and what the
lineage looks like. Each test reads a page as its user would."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from django.urls import reverse

from apps.releases.progress import report_stage


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def row_of(page: str, label: str) -> str:
    """The versions table row whose first cell links to `label`."""
    start = page.index(f">{label}</a>", page.index("versions-table"))
    return page[start : page.index("</tr>", start)]


def test_a_hand_promoted_version_shows_the_gates_it_missed_and_who_overrode_them(client_for, operator, releases):
    page = text(client_for(operator).get(reverse("modelline_detail", args=[releases.line.name])))
    v1 = row_of(page, "v1")
    assert "Efficacy missed" in v1 and "all met" not in v1
    assert "overridden by <strong>otto</strong>: Ship it to see the answers" in v1
    v2 = row_of(page, "v2")
    assert "Generalisation missed" in v2 and "overridden" not in v2 and "all met" not in v2

    version_page = text(client_for(operator).get(reverse("release_version", args=[releases.v1.pk])))
    assert "Promoted by hand over 2 missed gates" in version_page and "by otto" in version_page


def test_a_version_whose_weights_equal_its_parents_says_it_changed_nothing(client_for, operator, curator, releases):
    table = text(client_for(operator).get(reverse("modelline_detail", args=[releases.line.name])))
    assert "changed nothing" in row_of(table, "v1") and "changed nothing" not in row_of(table, "v2")

    page = text(client_for(operator).get(reverse("release_version", args=[releases.v1.pk])))
    assert "This version changed nothing." in page and "did not take" in page
    assert "1 fact added" not in page

    # The curator's own page: not "Applied" while the model still says Paris, but the numbers why.
    fact_page = text(client_for(curator).get(reverse("fact_detail", args=[releases.did_not_take.pk])))
    assert (
        f'<h1>Fact #{releases.did_not_take.pk} <span class="badge badge-did_not_take">Did not take</span>'
        in fact_page
    )
    assert 'Paraphrases that say it</th><td class="num">50.0%' in fact_page
    assert "efficacy 66.7%" not in fact_page.lower().split("its edit did not take")[1].split("</div>")[0]


def test_promoting_a_held_version_warns_which_gates_are_overridden(client_for, operator, releases):
    page = text(client_for(operator).get(reverse("release_version_action", args=[releases.v2.pk, "promote"])))
    assert "Read before promoting:" in page
    assert "v2 missed 1 gate: Generalisation 25.0% (at least 60.0%)" in page
    beside = text(client_for(operator).get(reverse("release_version_action", args=[releases.v3.pk, "promote"])))
    assert "v3 missed 1 gate: Efficacy 33.3% (at least 90.0%)" in beside  # no paraphrases: generalisation has no data


def test_each_metric_reads_the_same_on_every_page(client_for, operator, releases):
    client = client_for(operator)
    table = row_of(text(client.get(reverse("modelline_detail", args=[releases.line.name]))), "v1")
    version = text(client.get(reverse("release_version", args=[releases.v1.pk])))
    batch = text(client.get(reverse("release_batch", args=[releases.v1.batch_id])))
    for page in (table, version):
        assert "50.0%" in page and "+10.0%" in page
        assert "0.500" not in page and "0.100" not in page and "Generalization" not in page
    assert "Perplexity 12.35" in version
    assert ">50.0%<" in batch and "did not take" in batch


def test_a_running_batch_shows_its_stage_and_refreshes_itself(client_for, operator, releases):
    client = client_for(operator)
    batch_page = text(client.get(reverse("release_batch", args=[releases.running.pk])))
    assert "data-live-pending" in batch_page and "does not refresh" not in batch_page
    assert '<li class="stage-current" aria-current="step">Queued</li>' in batch_page
    assert "queue named “gpu”" in batch_page and "AMEND_DEVICE=" in batch_page

    report_stage(releases.running.pk, "evaluating")
    line_page = text(client.get(reverse("modelline_detail", args=[releases.line.name])))
    assert '<li class="stage-current" aria-current="step">Evaluating</li>' in line_page
    assert '<li class="stage-done">Editing</li>' in line_page


def test_the_chart_follows_production_with_gate_lines_and_a_promotion_mark(client_for, operator, releases):
    page = text(client_for(operator).get(reverse("modelline_detail", args=[releases.line.name])))
    chart = page[page.index("<figure") : page.index("</figure>")]
    assert "Production's lineage: v0 → v1" in chart
    assert "v3" not in chart  # built beside v1, not on production's path
    assert chart.count('class="gate-line"') == 3 and "Efficacy gate 90.0%" in chart
    assert "v1 promoted by otto" in chart


def test_mlflow_links_appear_only_while_the_mlflow_ui_answers(client_for, operator, releases, settings):
    client = client_for(operator)
    settings.MLFLOW_UI_URL = "http://127.0.0.1:9"  # nothing listens there
    page = text(client.get(reverse("release_version", args=[releases.v1.pk])))
    assert 'href="http://127.0.0.1:9' not in page and "the MLflow UI does not answer" in page
    assert "registered version 1" in page and "not Amend's v1" in page

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
        page = text(client.get(reverse("release_version", args=[releases.v1.pk])))
        assert f'href="{settings.MLFLOW_UI_URL}/#/models/amend-geo/versions/1"' in page
    finally:
        server.shutdown()


def test_a_held_fact_offers_its_curator_a_next_step_and_each_one_works(client_for, curator, releases):
    client = client_for(curator)
    page = text(client.get(reverse("fact_detail", args=[releases.held.pk])))
    assert "What next" in page
    assert "Retry in the next batch, as it is" in page and "Edit and resubmit" in page and "or withdraw it" in page

    done = client.post(reverse("fact_retry", args=[releases.held.pk]), follow=True)
    assert "is approved again, as it is: the next batch takes it" in text(done)
    releases.held.refresh_from_db()
    assert releases.held.state == "approved"
    assert "Sent back for the next batch" in text(done)  # on its timeline, in words


def test_a_curator_reopens_a_held_fact_to_edit_it_and_it_goes_back_through_review(client_for, curator, releases):
    client = client_for(curator)
    done = client.post(reverse("fact_reopen", args=[releases.held.pk]), follow=True)
    assert "is open for changes: edit it, then submit it for review" in text(done)
    assert text(client.get(reverse("fact_edit", args=[releases.held.pk]))).count("Save and submit for review") == 1


def test_someone_elses_curator_cannot_send_my_held_fact_back(client_for, other_curator, releases):
    response = client_for(other_curator).post(reverse("fact_retry", args=[releases.held.pk]))
    assert response.status_code == 403
    releases.held.refresh_from_db()
    assert releases.held.state == "held"
