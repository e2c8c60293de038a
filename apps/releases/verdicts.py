"""What a version did, in the terms a person checks: did it change anything, which gates did it miss,
and who overrode them. Pages, serializers and the promote confirmation all read these, so the
versions table can no longer say "all met" beside a missed gate.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from apps.releases.gates import GATES
from apps.releases.models import ModelVersion, Promotion, PromotionKind
from apps.releases.wording import format_metric, metric_label


@dataclass(frozen=True)
class GateLine:
    metric: str
    label: str
    passed: bool
    value: str  # formatted, "—" when the version has no data for it
    threshold: str  # "at least 90.0%" / "at most +10.0%"
    no_data: bool


@dataclass
class Verdict:
    gates: list[GateLine]
    changed_nothing: bool
    # The operator's promotion that put this version in production over gates it missed.
    override: Promotion | None = None
    missed: list[GateLine] = field(init=False)

    def __post_init__(self) -> None:
        self.missed = [gate for gate in self.gates if not gate.passed]

    @property
    def gated(self) -> bool:
        return bool(self.gates)

    @property
    def all_met(self) -> bool:
        return self.gated and not self.missed


def changed_nothing(version: ModelVersion) -> bool:
    """A version whose weights hash the same as its parent's: its batch changed nothing."""
    parent = version.parent
    return bool(parent and version.content_hash and version.content_hash == parent.content_hash)


def gate_lines(version: ModelVersion) -> list[GateLine]:
    lines = []
    # PostgreSQL's jsonb does not keep key order: show the gates in the line's own order.
    known = [gate for gate in GATES if gate in version.gate_results]
    for gate in known + sorted(set(version.gate_results) - set(known)):
        result = version.gate_results[gate]
        name = result.get("metric") or GATES.get(gate, (gate,))[0]
        sense = GATES.get(gate, (name, "min", name))[1]
        bound = "at most" if sense == "max" else "at least"
        lines.append(
            GateLine(
                metric=name,
                label=metric_label(name),
                passed=bool(result.get("passed")),
                value=format_metric(result.get("value"), name),
                threshold=f"{bound} {format_metric(result.get('threshold'), name)}",
                no_data=result.get("value") is None,
            )
        )
    return lines


def manual_override(version: ModelVersion, promotions: Iterable[Promotion]) -> Promotion | None:
    """The latest promotion of this version by an operator (not the pipeline), if any."""
    manual = [
        p for p in promotions if p.kind == PromotionKind.PROMOTE and not p.automatic and p.version_id == version.pk
    ]
    return max(manual, key=lambda p: p.pk) if manual else None


def verdict(version: ModelVersion, promotions: Iterable[Promotion] | None = None) -> Verdict:
    """The version's verdict; pass the line's promotions when judging many versions (one query)."""
    if promotions is None:
        promotions = version.promotions.select_related("actor")
    lines = gate_lines(version)
    result = Verdict(gates=lines, changed_nothing=changed_nothing(version))
    if result.missed:
        result.override = manual_override(version, promotions)
    return result


def override_warning(version: ModelVersion) -> str:
    """What an operator is told before promoting a version that missed gates (empty when it met them all)."""
    missed = [gate for gate in gate_lines(version) if not gate.passed]
    words = []
    if missed:
        gates = "; ".join(f"{g.label} {g.value} ({g.threshold})" for g in missed)
        words.append(f"{version.label} missed {len(missed)} gate{'s' if len(missed) != 1 else ''}: {gates}.")
    if changed_nothing(version):
        words.append(f"Its weights equal {version.parent.label}'s: it changed nothing.")
    if not words:
        return ""
    return " ".join(words) + " Promoting it overrides the gates; your name and reason are shown beside it."
