"""`manage.py verify_audit`: walk the hash chain and hold it against every signed checkpoint.

Exit 1 naming the first broken link and every finding (truncation, rewritten past, forged inserts,
missing checkpoint); exit 0 when the chain is intact and matches every checkpoint.
"""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.report import verify_trail


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain and its signed checkpoints (exit code 1 when broken or tampered with)."
    )

    def handle(self, *args, **options) -> None:
        report = verify_trail()
        for note in report.notes:
            self.stderr.write(f"note: {note}")
        problems = [str(finding) for finding in report.findings]
        if report.broken is not None:
            broken = report.broken
            problems.insert(
                0,
                f"audit chain broken at event #{broken.pk} ({broken.action} by {broken.actor_name} "
                f"at {broken.created_at.isoformat()}): {report.reason}; {report.checked} events before it verified",
            )
        if problems:
            raise CommandError("\n".join(problems), returncode=1)
        self.stdout.write(f"audit chain intact: {report.checked} events verified")
        if report.newest_checkpoint:
            newest = report.newest_checkpoint
            self.stdout.write(
                f"matches {report.checkpoints} signed checkpoint(s); the newest ({newest['sequence']}, "
                f"{newest['signed_at']}) covers {newest['event_count']} events up to #{newest['last_event_id']}"
            )
