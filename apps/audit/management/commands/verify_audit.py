"""`manage.py verify_audit`: walk the hash chain; exit 1 naming the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.record import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and name the first broken link (exit code 1 when broken)."

    def handle(self, *args, **options) -> None:
        checked, broken, reason = verify_chain()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at event #{broken.pk} ({broken.action} by {broken.actor_name} "
                f"at {broken.created_at.isoformat()}): {reason}; {checked} events before it verified",
                returncode=1,
            )
        self.stdout.write(f"audit chain intact: {checked} events verified")
