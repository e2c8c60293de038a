"""The data behind a model line's version timeline: versions with their verdicts, the lineage chart
as inline SVG (production's path, gate thresholds, promotion and rollback marks), and the history."""

from dataclasses import dataclass

from apps.modellines.models import ModelLine
from apps.releases.gates import GATES, gate_metric
from apps.releases.links import mlflow_page_url, mlflow_ui_answers
from apps.releases.models import Batch, BatchState, ModelVersion, Promotion, PromotionKind, VersionState
from apps.releases.progress import batch_progress
from apps.releases.queries import ancestry, head_version
from apps.releases.verdicts import verdict
from apps.releases.wording import format_metric

# gate -> CSS colour: the metric each "min" gate reads, drawn as one line each on a 0..1 scale
# (drift is not a 0..1 rate), so the chart shows exactly what the gates judge.
CHART_GATES = {
    "min_efficacy": "#2563eb",
    "min_generalization": "#16a34a",
    "min_locality": "#d97706",
    "min_retention": "#9333ea",
}
WIDTH, HEIGHT, PAD, LEFT = 640, 240, 36, 44


@dataclass
class Series:
    name: str
    label: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline>
    dots: list[tuple[float, float, str]]


def _label(gate: str) -> str:
    return GATES[gate][2].capitalize()


def chart(line: ModelLine, lineage: list[ModelVersion], promotions: list[Promotion]) -> dict:
    """Each metric along the lineage (oldest left), the gate thresholds as dashed lines, and a mark
    at every version that was promoted (▲) or that production was rolled back to (▼)."""
    measured = [v for v in lineage if v.metrics]
    if not measured:
        return {"series": [], "width": WIDTH, "height": HEIGHT}
    step = (WIDTH - LEFT - PAD) / max(1, len(measured) - 1)
    x_of = {
        v.pk: round(LEFT + (index * step if len(measured) > 1 else (WIDTH - LEFT - PAD) / 2), 1)
        for index, v in enumerate(measured)
    }

    def y(value: float) -> float:
        return round(HEIGHT - PAD - max(0.0, min(1.0, value)) * (HEIGHT - 2 * PAD), 1)

    series = []
    for gate, colour in CHART_GATES.items():
        label = _label(gate)
        dots = []
        for v in measured:
            value = v.metrics.get(gate_metric(gate, v.metrics))
            if isinstance(value, int | float):
                dots.append(
                    (x_of[v.pk], y(float(value)), f"{v.label} {label.lower()} {format_metric(value, 'efficacy')}")
                )
        if dots:
            series.append(Series(gate, label, colour, " ".join(f"{x},{yy}" for x, yy, _ in dots), dots))
    gates = [
        {
            "y": y(float(getattr(line, s.name))),
            "colour": s.colour,
            "label": f"{s.label} gate {format_metric(float(getattr(line, s.name)), 'efficacy')}",
        }
        for s in series
    ]
    marks = []
    for promotion in promotions:
        if promotion.version_id in x_of and promotion.kind in (PromotionKind.PROMOTE, PromotionKind.ROLLBACK):
            up = promotion.kind == PromotionKind.PROMOTE
            what = "promoted" if up else "rolled back to"
            x = x_of[promotion.version_id]
            marks.append(
                {
                    "x": x,
                    "kind": promotion.kind,
                    "path": f"M{x - 5},{PAD - 8} L{x + 5},{PAD - 8} L{x},{PAD - 16} Z"
                    if up
                    else f"M{x - 5},{PAD - 16} L{x + 5},{PAD - 16} L{x},{PAD - 8} Z",
                    "colour": "#16a34a" if up else "#dc2626",
                    "label": f"{promotion.version.label} {what} by {promotion.actor_name}",
                }
            )
    return {
        "series": series,
        "gates": gates,
        "marks": marks,
        "ticks": [{"x": x_of[v.pk], "label": v.label} for v in measured],
        "grid": [{"y": y(level), "label": f"{level * 100:.0f}%"} for level in (0.0, 0.5, 1.0)],
        "path": " → ".join(v.label for v in lineage),
        "width": WIDTH,
        "height": HEIGHT,
        "pad": PAD,
        "left": LEFT,
    }


def line_timeline(line: ModelLine, limit: int = 30) -> dict:
    versions = list(
        ModelVersion.objects.filter(model_line=line).select_related("parent", "batch").order_by("-number")[:limit]
    )
    promotions = list(Promotion.objects.filter(model_line=line).select_related("version", "previous", "actor"))
    for version in versions:
        version.mlflow_url = mlflow_page_url(version)
        version.verdict = verdict(version, promotions)
    production = next((v for v in versions if v.state == VersionState.PRODUCTION), None)
    # The chart follows production's path; before the first promotion, the lineage's head.
    tip = production or head_version(line)
    lineage = ancestry(tip) if tip is not None else []
    batches = list(Batch.objects.filter(model_line=line).select_related("version")[:limit])
    return {
        "versions": versions,
        "chart": chart(line, lineage, promotions),
        "promotions": promotions[:limit],
        "batches": batches,
        "running": [batch_progress(b) for b in reversed(batches) if b.state == BatchState.PENDING],
        "production": production,
        "mlflow_ui": mlflow_ui_answers(),
    }
