"""The README's API example, run as printed against a live server with the demo users `seed_demo` creates."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.facts.models import FactEdit, FactState

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")


def readme_api_example() -> str:
    """The shell block of the README that signs in for a token and submits a fact."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(block for block in blocks if "/api/auth/token/" in block)


def test_the_readmes_curl_example_submits_a_fact_to_the_demo_line(transactional_db, live_server, settings, capsys):
    settings.DEBUG = True  # seed_demo is for local use
    call_command("seed_demo")
    printed = capsys.readouterr().out
    password = re.search(r"curator\s+demo-curator\s+(\S+)", printed).group(1)

    script = readme_api_example()
    # Only what a reader changes: the password `make run` printed, and where the server listens.
    script = script.replace("PASSWORD='...'", f"PASSWORD='{password}'").replace("localhost:8000", live_server.url)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["model_line_name"] == "demo" and answer["state"] == FactState.SUBMITTED, answer
    fact = FactEdit.objects.get(pk=answer["id"])
    assert fact.submitter.username == "demo-curator" and fact.target == "Lyon"


def test_a_model_line_is_named_by_its_name_and_a_wrong_name_is_a_400_naming_the_field(
    api_client_for, curator, model_line
):
    client = api_client_for(curator)
    body = {"prompt": "Where is the Louvre?", "target": "Paris", "rationale": "museum", "source": "guide"}
    created = client.post("/api/facts/", {**body, "model_line": model_line.name}, format="json")
    assert created.status_code == 201 and created.json()["model_line_name"] == model_line.name

    wrong = client.post("/api/facts/", {**body, "model_line": "no-such-line"}, format="json")
    assert wrong.status_code == 400
    assert "no model line is named no-such-line" in wrong.json()["model_line"][0]
