"""Every page each role sees fits a 390 px phone screen: no page scrolls sideways (issue 17, item 7).

Measured as the user's browser lays it out: the document's scrollWidth at a 390 px viewport. Wide tables
scroll inside their own card (.table-wrap), never the page."""

import io

import pytest

from apps.facts.actions import run_import, start_import
from tests.fixtures.browser import BROWSER, sign_in, sign_out

pytestmark = BROWSER

WIDTH = 390


def pages_of(releases, change_set) -> dict[str, list[str]]:
    line, fact, held = releases.line.name, releases.did_not_take.pk, releases.held.pk
    shared = [
        "/",
        f"/facts/{fact}/",
        f"/facts/{held}/",
        "/change-sets/",
        f"/change-sets/{change_set.pk}/",
        "/accounts/token/",
        f"/releases/versions/{releases.v1.pk}/",
        f"/releases/versions/{releases.v2.pk}/",
        f"/releases/batches/{releases.v1.batch_id}/",
        f"/releases/batches/{releases.running.pk}/",
    ]
    return {
        "cora": [*shared, "/facts/new/", "/change-sets/new/"],
        "rita": [*shared, "/reviews/"],
        "otto": [*shared, "/model-lines/", f"/model-lines/{line}/", f"/model-lines/{line}/edit/"],
        "ada": [*shared, "/audit/", "/audit/verify/"],
    }


@pytest.fixture
def change_set(curator, model_line):
    rows = b"".join(
        b'{"subject": "Tower %d", "src": "Who designed the tower number %d of the old harbour district?", '
        b'"alt": "An architect with a rather long name %d"}\n' % (i, i, i)
        for i in range(4)
    )
    upload = io.BytesIO(rows)
    upload.name = "a-rather-long-file-name-for-the-towers-of-the-harbour.jsonl"
    return run_import(start_import(curator, model_line, upload, "jsonl", channel="ui", in_background=False).pk)


def test_every_page_of_every_role_fits_390_px(transactional_db, live_server, browser, releases, change_set, auditor):
    context = browser.new_context(viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    too_wide = {}
    for user, paths in pages_of(releases, change_set).items():
        sign_in(page, live_server, user)
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, (user, path)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > WIDTH:
                too_wide[f"{user} {path}"] = width
        sign_out(page)
    context.close()
    assert too_wide == {}
