"""`manage.py seed_demo`: local demo users, one per role, and a demo model line."""

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from apps.accounts.roles import Role, roles_of
from apps.audit.models import AuditEvent
from apps.modellines.models import ModelLine


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+\w+\s+(demo-\w+)\s+(\S+)$", output, flags=re.MULTILINE))


def test_each_role_gets_a_user_whose_printed_password_works(db, settings, tmp_path):
    settings.DEBUG = True
    output = seed()
    passwords = printed_passwords(output)
    assert set(passwords) == {f"demo-{role.value}" for role in Role}
    for role in Role:
        user = authenticate(username=f"demo-{role.value}", password=passwords[f"demo-{role.value}"])
        assert user is not None and roles_of(user) == [role]

    line = ModelLine.objects.get(name="demo")
    assert line.base_model == "", "empty means the bundled SmolLM2 model"
    assert line.locality_probes == [], "the worker adds the general-knowledge probes to every line"
    assert (line.min_efficacy, line.min_locality) == (0.8, 0.75), "gates measured on the bundled model"
    assert AuditEvent.objects.get(action="modelline.created").actor_name == "demo-operator"


def test_a_second_run_gives_new_passwords_and_keeps_the_line(db, settings, tmp_path):
    settings.DEBUG = True
    first = printed_passwords(seed())
    output = seed()
    second = printed_passwords(output)
    assert first["demo-curator"] != second["demo-curator"]
    assert authenticate(username="demo-curator", password=first["demo-curator"]) is None
    assert "already exists" in output
    assert ModelLine.objects.filter(name="demo").count() == 1


def test_it_refuses_to_seed_when_debug_is_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="local use") as caught:
        seed()
    assert caught.value.returncode == 2
