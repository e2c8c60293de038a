"""The data behind a model line's version timeline: versions, a metrics chart as inline SVG, history."""

from dataclasses import dataclass

from apps.modellines.models import ModelLine
from apps.releases.links import mlflow_version_url
from apps.releases.models import Batch, ModelVersion, Promotion, VersionState

# metric -> (label, CSS colour): drawn as one line each, all on a 0..1 scale.
CHART_METRICS = {
    "efficacy": ("Efficacy", "#2563eb"),
    "generalization": ("Generalisation", "#16a34a"),
    "locality": ("Locality", "#d97706"),
    "retention": ("Retention", "#9333ea"),
}
WIDTH, HEIGHT, PAD = 640, 220, 36


@dataclass
class Series:
    name: str
    label: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline>
    dots: list[tuple[float, float, str]]


def chart(versions: list[ModelVersion]) -> dict:
    """Coordinates of each metric over the versions (oldest left), for an inline SVG."""
    measured = [v for v in versions if v.metrics]
    if not measured:
        return {"series": [], "width": WIDTH, "height": HEIGHT}
    step = (WIDTH - 2 * PAD) / max(1, len(measured) - 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return round(PAD + index * step, 1), round(HEIGHT - PAD - value * (HEIGHT - 2 * PAD), 1)

    series = []
    for name, (label, colour) in CHART_METRICS.items():
        dots = []
        for index, version in enumerate(measured):
            value = version.metrics.get(name)
            if isinstance(value, int | float):
                x, y = xy(index, max(0.0, min(1.0, float(value))))
                dots.append((x, y, f"{version.label} {label.lower()} {value:.3f}"))
        if dots:
            series.append(Series(name, label, colour, " ".join(f"{x},{y}" for x, y, _ in dots), dots))
    ticks = [{"x": xy(i, 0)[0], "label": v.label} for i, v in enumerate(measured)]
    grid = [{"y": xy(0, level)[1], "label": f"{level:.1f}"} for level in (0.0, 0.5, 1.0)]
    return {"series": series, "ticks": ticks, "grid": grid, "width": WIDTH, "height": HEIGHT, "pad": PAD}


def line_timeline(line: ModelLine, limit: int = 30) -> dict:
    versions = list(
        ModelVersion.objects.filter(model_line=line).select_related("parent", "batch").order_by("-number")[:limit]
    )
    for version in versions:
        version.mlflow_url = mlflow_version_url(version)
    return {
        "versions": versions,
        "chart": chart(versions[::-1]),
        "promotions": list(
            Promotion.objects.filter(model_line=line).select_related("version", "previous", "actor")[:limit]
        ),
        "batches": list(Batch.objects.filter(model_line=line).select_related("version")[:limit]),
        "production": next((v for v in versions if v.state == VersionState.PRODUCTION), None),
    }
