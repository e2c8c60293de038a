"""Expected refusals are quiet (issue 10, item 14): a 403, 404 or 409, from a page or the API, prints one line
on the console and no traceback; a server error still prints its traceback. /api/ lists every resource."""

import io
import logging

import pytest
from django.test import Client
from django.urls import reverse

from apps.releases.models import ModelVersion, VersionState


@pytest.fixture
def console(settings):
    """What the console shows under `make run` (DEBUG on, the logging Django set up from settings.LOGGING):
    every console handler writes to one buffer for the test."""
    settings.DEBUG = True
    buffer = io.StringIO()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.Logger.manager.loggerDict)]
    # "console": the name of settings.LOGGING's handler and of Django's own (DEBUG-only) one.
    handlers = {h for logger in loggers for h in logger.handlers if h.name == "console"}
    assert handlers, "a console handler is configured"
    before = {handler: handler.stream for handler in handlers}
    for handler in handlers:
        handler.stream = buffer
    yield lambda: [line for line in buffer.getvalue().splitlines() if line.strip()]
    for handler, stream in before.items():
        handler.stream = stream


@pytest.fixture
def page_for(db):
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def test_a_refused_page_logs_one_line_without_a_traceback(curator, page_for, console):
    response = page_for(curator).get(reverse("audit_events"))
    assert response.status_code == 403
    lines = console()
    assert len(lines) == 1, lines
    assert "Forbidden" in lines[0] and "/audit/" in lines[0] and "Traceback" not in lines[0]


def test_api_refusals_log_one_line_each(curator, operator, model_line, api_client_for, console):
    version = ModelVersion.objects.create(model_line=model_line, number=0, state=VersionState.FAILED, content_hash="h")
    assert api_client_for(curator).post(f"/api/versions/{version.pk}/promote/", {"reason": "x"}).status_code == 403
    assert api_client_for(operator).get("/api/versions/999999/").status_code == 404
    assert api_client_for(operator).post(f"/api/versions/{version.pk}/promote/", {"reason": "x"}).status_code == 409
    lines = console()
    assert len(lines) == 3, lines
    assert not any("Traceback" in line for line in lines)


def test_a_server_error_still_logs_its_traceback(console):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: /x", exc_info=True, extra={"status_code": 500}
        )
    err = "\n".join(console())
    assert err.count("Traceback") == 1 and "RuntimeError: boom" in err


def test_the_api_root_lists_every_resource(curator, api_client_for):
    body = api_client_for(curator).get("/api/").json()
    expected = {
        "facts",
        "reviews",
        "change-sets",
        "model-lines",
        "audit/events",
        "versions",
        "batches",
        "promotions",
        "probes",
    }
    assert expected <= set(body), sorted(body)
    for name in expected:
        assert body[name].startswith("http://testserver/api/"), (name, body[name])
