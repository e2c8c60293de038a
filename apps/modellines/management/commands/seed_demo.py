"""`manage.py seed_demo`: for local use only, one demo user per role and a demo model line.

It lives with the model lines, the highest app it writes to (users and roles are below them).

Passwords are random and printed once per run (a re-run gives new ones). Refuses to run
unless DEBUG is on or --force is given, so it never seeds a production database by accident.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.roles import Role, grant_role
from apps.modellines.actions import create_model_line
from apps.modellines.models import ModelLine

DEMO_LINE = "demo"
# Set from measurements on the bundled model with the editor's defaults (editor/README.md):
# a good batch of four real facts reaches greedy efficacy 1.0, locality 0.84 on the 125
# general-knowledge probes and no perplexity drift, while paraphrases of facts the model never
# knew take far less often (0.25); a damaging edit drops locality and moves perplexity.
DEMO_GATES = {
    "min_efficacy": 0.8,
    "min_generalization": 0.2,
    "min_locality": 0.75,
    "min_retention": 0.8,
    "max_perplexity_drift": 0.05,
}


def demo_username(role: Role) -> str:
    return f"demo-{role.value}"


class Command(BaseCommand):
    help = "Create (or reset) one demo user per role with a random password, and a demo model line. Local use only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="run even when DEBUG is off")

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo is for local use: set AMEND_DEBUG=1 (or pass --force)", returncode=2)
        users = get_user_model().objects
        lines = ["Demo users (local use only; new passwords on every run):"]
        accounts = {}
        for role in Role:
            password = secrets.token_urlsafe(12)
            user, _ = users.get_or_create(username=demo_username(role))
            user.set_password(password)
            user.is_active = True
            user.save()
            grant_role(user, role)
            accounts[role] = user
            lines.append(f"  {role.value:<9} {user.username:<15} {password}")
        line = ModelLine.objects.filter(name=DEMO_LINE).first()
        if line is None:
            line = create_model_line(
                accounts[Role.OPERATOR],
                name=DEMO_LINE,
                description="Demo line on the bundled SmolLM2-135M-Instruct",
                base_model="",
                locality_probes=[],
                **DEMO_GATES,
            )
            lines.append(f"Model line {line.name!r} created ({len(line.locality_probes)} locality probes).")
        else:
            lines.append(f"Model line {line.name!r} already exists.")
        self.stdout.write("\n".join(lines))
