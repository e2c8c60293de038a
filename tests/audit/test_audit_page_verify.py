"""The audit page's "Verify the chain" button and its offline recipe (issue 10, item 13): an auditor sees the
chain's status (intact, or the first broken event) and the checkpoint findings, and the printed command
verifies a downloaded export as printed."""

import html
import io
import json
import re
import shlex

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.facts.actions import review_fact
from tests.audit.test_audit_trail import _tamper
from tests.audit.test_tamper_proofing import _verify_offline


@pytest.fixture
def client_for(db):
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_audit_page_offers_the_button_and_the_recipe(submitted_fact, auditor, client_for):
    page = _page(client_for(auditor), reverse("audit_events"))
    assert f'href="{reverse("audit_verify")}"' in page and "Verify the chain" in page
    assert "python -m apps.audit.verify_export amend-audit.json --public-key audit-public.pem --checkpoints DIR" in page


def test_only_auditors_verify_from_the_page(submitted_fact, curator, operator, client_for):
    for user in (curator, operator):
        assert client_for(user).get(reverse("audit_verify")).status_code == 403


def test_the_button_says_intact_then_names_the_altered_event(submitted_fact, reviewer, auditor, client_for):
    client = client_for(auditor)
    page = _page(client, reverse("audit_verify"))
    assert "The chain is intact" in page and f"{AuditEvent.objects.count()} events verified" in page

    review_fact(reviewer, submitted_fact, "reject", "wrong source")
    victim = AuditEvent.objects.get(action="review.reject")
    _tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", [json.dumps({"decision": "approve"}), victim.pk])

    page = _page(client, reverse("audit_verify"))
    assert "The chain is not intact" in page and f"Broken at event #{victim.pk}</strong> (review.reject by rita" in page


def test_checkpoint_findings_show_and_the_printed_recipe_verifies_the_export(
    signing_key, submitted_fact, reviewer, auditor, client_for, tmp_path
):
    review_fact(reviewer, submitted_fact, "approve", "ok")
    call_command("checkpoint_audit", stdout=io.StringIO())
    client = client_for(auditor)
    page = _page(client, reverse("audit_verify"))
    assert "The chain is intact" in page and "1 valid checkpoint;" in page and "matches every checkpoint" in page

    # The recipe as printed: the page's download link, then its command with the real paths.
    link = re.search(r'href="([^"]+)" download>Export JSON', page).group(1)
    export = tmp_path / "amend-audit.json"
    export.write_bytes(b"".join(client.get(link).streaming_content))
    command = shlex.split(html.unescape(re.search(r"<pre[^>]*><code>(.*?)</code>", page).group(1)))
    assert command[:3] == ["python", "-m", "apps.audit.verify_export"]
    result = _verify_offline(export, signing_key["public_file"], signing_key["directory"])
    assert result.returncode == 0 and "intact:" in result.stdout, result.stdout + result.stderr

    # A later event removed from the history the checkpoint signed: the page names the finding.
    victim = AuditEvent.objects.order_by("-id").first()
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    page = _page(client, reverse("audit_verify"))
    assert "The chain is not intact" in page and "truncated" in page
