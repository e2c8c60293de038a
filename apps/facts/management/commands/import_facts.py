"""`manage.py import_facts FILE --model-line NAME --as USERNAME`: bulk import ZsRE JSONL or CSV as one change set."""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.facts.actions import run_import, start_import
from apps.facts.changesets.files import FORMATS, describe, format_for
from apps.facts.changesets.queries import import_report
from apps.facts.models import ImportChannel
from apps.modellines.models import ModelLine


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = (
        "Import fact edits from ZsRE JSONL (src, rephrase, alt, loc, loc_ans) or CSV (prompt, target, ...) as one "
        "change set that reviewers decide as a whole. Each row is checked on its own; refused rows are listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the .jsonl or .csv file")
        parser.add_argument("--model-line", required=True, help="name of the model line")
        parser.add_argument("--as", dest="username", required=True, help="the curator the facts are submitted by")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file extension")
        parser.add_argument("--rationale", default="", help='default: "Bulk import of FILE"')
        parser.add_argument("--source", default="", help='default: "FILE, line N"')
        parser.add_argument(
            "--background", action="store_true", help="leave the rows to a worker instead of reading them here"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, file: str, model_line: str, username: str, **options) -> None:
        path = Path(file)
        if not path.is_file():
            raise usage_error(f"no such file: {file}")
        fmt = options["format"] or format_for(path.name)
        if fmt is None:
            raise usage_error(f"cannot tell the format of {path.name}; pass --format jsonl or --format csv")
        line = ModelLine.objects.filter(name=model_line).first()
        if line is None:
            raise usage_error(f"no model line named {model_line!r}")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise usage_error(f"no user named {username!r}")
        try:
            with path.open("rb") as stream:
                change_set = start_import(
                    user,
                    line,
                    stream,
                    fmt,
                    channel=ImportChannel.COMMAND,
                    rationale=options["rationale"],
                    source=options["source"],
                    in_background=options["background"],
                )
        except PermissionDenied as error:
            raise usage_error(f"{username}: {error}") from None
        except ValidationError as error:
            raise usage_error(f"{path.name}: {describe(error)}") from None
        if not options["background"]:
            change_set = run_import(change_set.pk)
        report = import_report(change_set)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"{path.name} into {line.name}: change set #{change_set.pk}, {report['summary']}")
        for row in report["refused_rows"]:
            self.stdout.write(f"  line {row['line']}: {row['reason']}")
