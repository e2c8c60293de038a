"""A full check's report as files: CSV for people, JSON for scripts (the API and the page export the same)."""

import csv
import io
import json

from django.http import HttpResponse

from apps.releases.models import FactCheck

COLUMNS = ["fact_id", "prompt", "target", "answer", "still_said", "applied_in", "since"]


def report_summary(check: FactCheck) -> dict:
    """What the report says in a few numbers, with the date and what was asked."""
    return {
        "check": check.pk,
        "model_line": check.model_line.name,
        "version": check.version.number,
        "content_hash": check.version.content_hash,
        "state": check.state,
        "asked_at": check.created_at.isoformat(),
        "finished_at": check.finished_at.isoformat() if check.finished_at else None,
        "requested_by": check.requested_by.get_username() if check.requested_by_id else "schedule",
        "facts": check.facts_total,
        "still_said": check.still_said,
        "regressed": len(check.regressed),
        "digest": check.digest,
        "mlflow_artifact": check.mlflow_artifact,
    }


def report_json(check: FactCheck) -> str:
    return json.dumps({**report_summary(check), "results": check.results}, indent=2, ensure_ascii=False)


def report_csv(check: FactCheck) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(check.results)
    return out.getvalue()


def export_response(check: FactCheck, fmt: str) -> HttpResponse:
    """The report as a download: `fmt` "csv" (every fact's line) or "json" (the summary and every line)."""
    as_json = fmt == "json"
    body = report_json(check) if as_json else report_csv(check)
    response = HttpResponse(body, content_type="application/json" if as_json else "text/csv; charset=utf-8")
    name = f"{check.model_line.name}-v{check.version.number}-check-{check.pk}.{'json' if as_json else 'csv'}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
