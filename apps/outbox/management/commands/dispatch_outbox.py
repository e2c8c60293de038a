"""`manage.py dispatch_outbox`: publish every task still waiting for the broker (once, or in a loop)."""

import time

from django.core.management.base import BaseCommand

from apps.outbox.send import publish_pending


class Command(BaseCommand):
    help = "Publish outbox messages the broker has not taken yet (beat does this every AMEND_OUTBOX_POLL_SECONDS)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", type=float, metavar="SECONDS", help="keep going, pausing this long between")

    def handle(self, *args, loop: float | None = None, **options) -> None:
        while True:
            sent = publish_pending()
            self.stdout.write(f"sent {sent} task(s)")
            if not loop:
                return
            time.sleep(loop)
