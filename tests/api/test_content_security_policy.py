"""Issue 16: a Content-Security-Policy on every page and API answer, and the pages still work under it in a real
browser (Chromium reports every script, style or image the policy refused as a `securitypolicyviolation`)."""

import pytest
from django.test import Client

from tests.fixtures.browser import BROWSER, sign_in

# Chromium calls this listener for every resource the policy refuses, from before the page's own scripts run.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""


@pytest.fixture
def pages(model_line, make_fact) -> list[str]:
    """Pages of every kind: forms, the pages that run static/js/amend.js, the audit pages, Swagger UI."""
    fact = make_fact()
    return ["/", "/facts/new/", f"/facts/{fact.pk}/", "/reviews/", "/model-lines/", f"/model-lines/{model_line.name}/",
            "/change-sets/", "/audit/", "/audit/verify/", "/accounts/token/", "/api/docs/"]


def test_every_answer_carries_the_policy(superuser, pages, client: Client):
    client.force_login(superuser)
    for url in [*pages, "/accounts/login/", "/api/", "/api/facts/", "/no-such-page/"]:
        policy = client.get(url).headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0], "never an inline script"


@pytest.mark.browser
@pytest.mark.skipif(BROWSER[1].args[0], reason=BROWSER[1].kwargs["reason"])
def test_the_pages_render_in_chromium_with_nothing_refused(live_server, page, superuser, pages):
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, live_server, superuser.username)
    for url in pages:
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1, h2").first.is_visible(), url
        assert page.evaluate("window.__csp") == [], url
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()  # Swagger UI started from its script file
    assert page.evaluate("window.__csp") == []
