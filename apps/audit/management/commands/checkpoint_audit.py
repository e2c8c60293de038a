"""`manage.py checkpoint_audit`: sign the audit chain's head now and write it outside the database.

`--generate-key` makes an Ed25519 key pair instead and writes its halves to two files (`make run` makes
its local pair with `write_key_pair` before Django starts, so this module imports no model at its top).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audit.signing import generate_private_pem, load_private_key, public_pem

# The names docker/docker-compose.yml reads its two secrets from.
PRIVATE_KEY_FILE = "audit-signing-key.pem"
PUBLIC_KEY_FILE = "audit-public-key.pem"


def write_key_pair(directory: Path) -> tuple[Path, Path]:
    """A new key pair as two PEM files in `directory`: the private half readable by its owner only.
    Refuses to overwrite a pair: checkpoints signed with it would no longer verify."""
    private, public = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if private.exists() or public.exists():
        raise FileExistsError(f"{private} or {public} exists already; move it away to make a new pair")
    directory.mkdir(parents=True, exist_ok=True)
    pem = generate_private_pem()
    private.touch(mode=0o600)
    private.write_text(pem)
    public.write_text(public_pem(load_private_key(pem)))
    return private, public


class Command(BaseCommand):
    help = "Write a signed checkpoint of the audit chain's head (to AMEND_AUDIT_CHECKPOINT_DIR and MLflow)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="write one even if the newest covers the head")
        parser.add_argument(
            "--generate-key",
            action="store_true",
            help=f"write a new Ed25519 key pair to --key-dir ({PRIVATE_KEY_FILE}, {PUBLIC_KEY_FILE}), sign nothing",
        )
        parser.add_argument("--key-dir", type=Path, default=Path("var/audit-keys"), help="where --generate-key writes")

    def handle(self, *args, force: bool = False, generate_key: bool = False, key_dir: Path, **options) -> None:
        if generate_key:
            try:
                private, public = write_key_pair(key_dir)
            except FileExistsError as exc:
                raise CommandError(str(exc), returncode=2) from exc
            self.stdout.write(
                f"private key (signs checkpoints; keep it from database administrators): {private}\n"
                f"public key (verifies them): {public}\n"
                f"Set AMEND_AUDIT_SIGNING_KEY_FILE={private.resolve()} where checkpoints are written, and "
                f"AMEND_AUDIT_PUBLIC_KEY_FILE={public.resolve()} where they are verified."
            )
            return
        from apps.audit.checkpoints import CheckpointError
        from apps.audit.signer import write_checkpoint

        try:
            checkpoint, written = write_checkpoint(force=force)
        except CheckpointError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        verb = "wrote" if written else "already current:"
        self.stdout.write(
            f"{verb} checkpoint {checkpoint.sequence}: {checkpoint.event_count} events up to "
            f"#{checkpoint.last_event_id} ({checkpoint.last_hash[:12]}…), key {checkpoint.key_id}"
        )
