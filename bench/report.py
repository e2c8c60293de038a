"""The editor benchmark's printed table: one column per method, then each method's turns."""

from __future__ import annotations

import sys
from typing import TextIO

from editor.metrics import (
    GENERATION_EFFICACY,
    GENERATION_GENERALIZATION,
    GENERATION_RETENTION,
    LOCALITY,
    LOCALITY_ACCURACY,
    PERPLEXITY_DRIFT,
    TOKEN_EFFICACY,
    TOKEN_GENERALIZATION,
    TOKEN_RETENTION,
)


def turn_shares(said: list[bool], turns) -> list[float]:
    """Per turn (in order, as many as ``said`` covers): the share of its prompts whose answer gives the target."""
    out, at = [], 0
    while at < len(said):
        size = len(turns[len(out)])
        out.append(sum(said[at : at + size]) / size)
        at += size
    return out


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _pair(part: dict) -> str:
    """Greedy ES / GS of one group of records (the JSON says how many records it holds)."""
    return f"{_fmt(part[GENERATION_EFFICACY])}/{_fmt(part[GENERATION_GENERALIZATION])}"


ROWS = [
    ("ES (efficacy, token)", lambda r: r["metrics"].get(TOKEN_EFFICACY)),
    ("GS (generalization, token)", lambda r: r["metrics"].get(TOKEN_GENERALIZATION)),
    ("ES says target (greedy)", lambda r: r["metrics"].get(GENERATION_EFFICACY)),
    ("GS says target (greedy)", lambda r: r["metrics"].get(GENERATION_GENERALIZATION)),
    ("LS (agreement w/ pre-edit)", lambda r: r["metrics"].get(LOCALITY)),
    ("LS accuracy vs loc_ans", lambda r: r["metrics"].get(LOCALITY_ACCURACY)),
    ("retention (turns 1..T-1)", lambda r: r["metrics"].get(TOKEN_RETENTION)),
    ("retention says target (greedy)", lambda r: r["metrics"].get(GENERATION_RETENTION)),
    ("retention, of what took", lambda r: r.get("retention_of_took")),
    ("perplexity drift", lambda r: r["metrics"].get(PERPLEXITY_DRIFT)),
    ("greedy ES/GS, one-target qs", lambda r: _pair(r["by_question"]["single_target"])),
    ("greedy ES/GS, contradicted qs", lambda r: _pair(r["by_question"]["several_targets"])),
    ("one answer per q., at most", lambda r: r["by_question"]["one_answer_bound"]),
    (
        "ES / GS before editing",
        lambda r: f"{r['before'].get(TOKEN_EFFICACY, 0):.3f}/{r['before'].get(TOKEN_GENERALIZATION, 0):.3f}",
    ),
    ("edits/s (edit phase)", lambda r: r["edits_per_s"]),
    ("edit time / fwd+bwd", lambda r: r["edit_to_forward_backward"]),
    ("setup once, s", lambda r: r["setup_s"]),
    ("peak memory, MiB", lambda r: r["peak_memory_bytes"] / 2**20),
    ("peak mem growth turn 2..T", lambda r: r["peak_memory_growth_turn2_to_last"]),
]


def print_table(results: list[dict], out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call: a default bound at import outlives a replaced stdout
    names = [r["method"] for r in results]
    print(f"{'metric':28s}" + "".join(f"{n:>14s}" for n in names), file=out)
    for label, get in ROWS:
        print(f"{label:28s}" + "".join(f"{_fmt(get(r)):>14s}" for r in results), file=out)
    for r in results:
        cfg = r["config"]
        settings = " ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("method", "modules"))
        print(f"\n{r['method']}: modules={','.join(cfg['modules'])} {settings}", file=out)
        print(f"  device={r['device']} edits={r['edits']} (skipped as too long: {r['skipped_too_long']})", file=out)
        print(f"{'turn':>5s} {'latency_s':>10s} {'fwd+bwd_s':>10s} {'peak_MiB':>10s}", file=out)
        for t in r["per_turn"]:
            print(
                f"{t['turn']:5d} {t['latency_s']:10.3f} {t['forward_backward_s']:10.3f} "
                f"{t['peak_memory_bytes'] / 2**20:10.1f}",
                file=out,
            )
