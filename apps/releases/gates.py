"""Promotion gates: a version is promoted automatically only if it meets every gate of its model line."""

import math
from typing import Any

import editor.metrics as names
from apps.modellines.models import ModelLine
from apps.releases.wording import format_metric

# gate field on ModelLine -> (metric it reads, "min" or "max", words for the reason). Efficacy,
# generalisation and retention are judged by what the model says (its greedy answer begins with the
# target), not by teacher-forced token accuracy, which can score 0.75 for a fact the model never once
# says; versions recorded before the generation metric existed fall back to the token metric (FALLBACK).
GATES: dict[str, tuple[str, str, str]] = {
    "min_efficacy": (names.GENERATION_EFFICACY, "min", "efficacy"),
    "min_generalization": (names.GENERATION_GENERALIZATION, "min", "generalisation"),
    "min_locality": (names.LOCALITY, "min", "locality"),
    "min_retention": (names.GENERATION_RETENTION, "min", "retention of earlier facts"),
    "max_perplexity_drift": (names.PERPLEXITY_DRIFT, "max", "perplexity drift"),
}


FALLBACK = {
    names.GENERATION_EFFICACY: names.TOKEN_EFFICACY,
    names.GENERATION_GENERALIZATION: names.TOKEN_GENERALIZATION,
    names.GENERATION_RETENTION: names.TOKEN_RETENTION,
}


def gate_metric(gate: str, metrics: dict[str, Any]) -> str:
    """The metric a gate reads among these metrics: its own, or the older one it falls back to."""
    metric = GATES[gate][0]
    return FALLBACK[metric] if metric not in metrics and FALLBACK.get(metric) in metrics else metric


def non_finite_metrics(metrics: dict[str, Any]) -> list[str]:
    """Names of metrics that are NaN or infinite (such a version fails outright)."""
    return sorted(
        name for name, value in metrics.items() if isinstance(value, int | float) and not math.isfinite(value)
    )


def evaluate_gates(model_line: ModelLine, metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each gate's verdict. A metric with no data (no paraphrases, no earlier facts) passes, saying so."""
    results: dict[str, dict[str, Any]] = {}
    for gate, (_, sense, words) in GATES.items():
        threshold = float(getattr(model_line, gate))
        metric = gate_metric(gate, metrics)
        value = metrics.get(metric)
        if value is None:
            results[gate] = {
                "metric": metric,
                "threshold": threshold,
                "value": None,
                "passed": True,
                "reason": f"no data for {words}",
            }
            continue
        value = float(value)
        if not math.isfinite(value):
            passed = False
            reason = f"{words} is not a finite number"
        elif sense == "min":
            passed = value >= threshold
            shown = f"{format_metric(value, metric)} {'>=' if passed else 'is below the minimum'}"
            reason = f"{words} {shown} {format_metric(threshold, metric)}"
        else:
            passed = value <= threshold
            shown = f"{format_metric(value, metric)} {'<=' if passed else 'is above the maximum'}"
            reason = f"{words} {shown} {format_metric(threshold, metric)}"
        results[gate] = {"metric": metric, "threshold": threshold, "value": value, "passed": passed, "reason": reason}
    return results


def all_passed(gate_results: dict[str, dict[str, Any]]) -> bool:
    return all(result["passed"] for result in gate_results.values())


def failure_reasons(gate_results: dict[str, dict[str, Any]]) -> list[str]:
    return [result["reason"] for result in gate_results.values() if not result["passed"]]
