"""The figures of `python -m bench pipeline` and their goals: per batch, per lineage, the pages, the full check."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

GOAL_SECONDS = 60.0
GOAL_DELTA_SHARE = 0.01
GOAL_PAGE_SECONDS = 0.3
GOAL_FLAT = 0.10  # the last version's time within 10% of the second's
GOAL_CHECK_SECONDS = 60.0
GOAL_STILL_SAID = 0.90
PAGE_TRIES = 5


@dataclass
class BatchFigures:
    facts: int
    approval_to_production_s: float
    checkpoint_export_s: float
    stages_s: dict[str, float]
    other_s: float
    delta_bytes: int
    normalizer_bytes: int
    checkpoint_bytes: int
    state: str
    metrics: dict[str, float]
    reapplied: int = 0  # facts of earlier batches the line re-applied in this one (regressed, or did not take)

    @property
    def delta_share(self) -> float:
        return self.delta_bytes / self.checkpoint_bytes if self.checkpoint_bytes else float("nan")

    @property
    def stored_share(self) -> float:
        stored = self.delta_bytes + self.normalizer_bytes
        return stored / self.checkpoint_bytes if self.checkpoint_bytes else float("nan")


@dataclass
class CheckFigures:
    """A full check of production at the end: facts asked, still said, seconds, and where the facts it no
    longer says stood before it."""

    version: int
    facts: int
    still_said: int
    seconds: float
    lost_waiting: int = 0  # found by the last version's own check: regressed, waiting for the next batch
    lost_reapplied: int = 0  # applied, re-applied at least once before (took late, or regressed and came back)
    lost_never_reapplied: int = 0  # applied once and faded unseen

    @property
    def share(self) -> float:
        return self.still_said / self.facts if self.facts else float("nan")


@dataclass
class Report:
    model: str
    data: str
    batches: list[BatchFigures] = field(default_factory=list)
    # Median seconds to answer, at the end: the line page, a fact page, the versions API.
    pages_s: dict[str, float] = field(default_factory=dict)
    check: CheckFigures | None = None

    def summary(self, goal_seconds: float) -> list[str]:
        """The figures the goals name: per-version time (flat?), evaluation against edit, pages, the full check."""
        lines = []
        if self.batches:
            times = [b.approval_to_production_s for b in self.batches]
            lines.append("time per version (s): " + " ".join(f"{t:.1f}" for t in times))
            warm = self.batches[1:] or self.batches
            slowest = max(b.approval_to_production_s for b in warm)
            lines.append(f"  slowest warm version {slowest:.1f} s (goal < {goal_seconds:.0f} s)")
            if len(times) >= 3:
                drift = times[-1] / times[1] - 1
                lines.append(
                    f"  version {len(times)} against version 2: {drift * 100:+.1f}%"
                    f" (goal within {GOAL_FLAT * 100:.0f}%)"
                )
            worse = [
                i for i, b in enumerate(self.batches, 1) if b.stages_s.get("evaluate", 0) > b.stages_s.get("edit", 0)
            ]
            lines.append(f"  evaluation longer than the edit in versions: {worse or 'none'} (goal: none)")
        for page, seconds in self.pages_s.items():
            lines.append(f"{page:<28} {seconds * 1000:7.0f} ms (goal < {GOAL_PAGE_SECONDS * 1000:.0f} ms)")
        if self.check is not None:
            c = self.check
            approved = sum(b.facts for b in self.batches)
            lines.append(
                f"full check of v{c.version}: {c.still_said} of {c.facts} facts that took still said "
                f"({c.share * 100:.1f}%, goal >= {GOAL_STILL_SAID * 100:.0f}%) in {c.seconds:.1f} s "
                f"(goal < {GOAL_CHECK_SECONDS:.0f} s); {c.facts} of the {approved} approved facts took"
            )
            lines.append(
                f"  not said: {c.lost_waiting} already found regressed (waiting for the next batch), "
                f"{c.lost_reapplied} re-applied before, {c.lost_never_reapplied} never re-applied"
            )
        return lines

    def table(self, goal_seconds: float, goal_share: float) -> str:
        """Per batch: approval to production by stage, checkpoint export, bytes stored, metrics."""
        lines = [f"bench pipeline on {self.model}, facts from {self.data}"]
        for index, b in enumerate(self.batches, start=1):
            label = "cold: model loaded" if index == 1 else "warm: model kept in memory"
            total = b.approval_to_production_s
            again = f" + {b.reapplied} re-applied" if b.reapplied else ""
            lines.append(f"batch {index} ({b.facts} facts{again}, {label}) -> version {b.state}")
            lines.append(f"  approval to production  {total:8.2f} s   (goal < {goal_seconds:.0f} s)")
            for stage, seconds in [*b.stages_s.items(), ("other (cut, DB, promote, aliases)", b.other_s)]:
                share = seconds / total * 100 if total else 0.0
                lines.append(f"    {stage:<34} {seconds:8.2f} s  {share:5.1f}%")
            lines.append(f"  full checkpoint export  {b.checkpoint_export_s:8.2f} s   (after promotion)")
            lines.append(f"  full checkpoint         {b.checkpoint_bytes:>12,} B")
            goal = f"(goal < {goal_share * 100:.0f}%)"
            lines.append(f"  delta factors           {b.delta_bytes:>12,} B  {b.delta_share * 100:7.3f}%  {goal}")
            lines.append(f"  + normaliser state      {b.normalizer_bytes:>12,} B  {b.stored_share * 100:7.3f}%  in all")
            shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(b.metrics.items()))
            lines.append(f"  metrics: {shown}")
        return "\n".join([*lines, *self.summary(goal_seconds)])

    def to_json(self) -> str:
        """The same figures for scripts (the delta share included)."""
        return json.dumps(
            {
                "model": self.model,
                "data": self.data,
                "batches": [{**asdict(b), "delta_share": b.delta_share} for b in self.batches],
                "pages_s": self.pages_s,
                "check": {**asdict(self.check), "share": self.check.share} if self.check else None,
            },
            indent=2,
        )
