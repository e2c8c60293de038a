"""`manage.py checkpoint_audit`: sign the audit chain's head now and write it outside the database."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.checkpoints import CheckpointError, write_checkpoint
from apps.audit.signing import generate_private_pem, load_private_key, public_pem


class Command(BaseCommand):
    help = "Write a signed checkpoint of the audit chain's head (to AMEND_AUDIT_CHECKPOINT_DIR and MLflow)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="write one even if the newest covers the head")
        parser.add_argument(
            "--generate-key",
            action="store_true",
            help="print a new Ed25519 signing key (PEM) and its public half, and write nothing",
        )

    def handle(self, *args, force: bool = False, generate_key: bool = False, **options) -> None:
        if generate_key:
            private = generate_private_pem()
            self.stdout.write(private + public_pem(load_private_key(private)))
            return
        try:
            checkpoint, written = write_checkpoint(force=force)
        except CheckpointError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        verb = "wrote" if written else "already current:"
        self.stdout.write(
            f"{verb} checkpoint {checkpoint.sequence}: {checkpoint.event_count} events up to "
            f"#{checkpoint.last_event_id} ({checkpoint.last_hash[:12]}…), key {checkpoint.key_id}"
        )
