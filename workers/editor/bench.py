"""The editing benchmark: sequential turns of batch edits, then every edit is evaluated.

python -m workers.editor bench --model DIR --data FILE.jsonl --batch-size 100 --turns 10 \
    --method ultraedit,amend,ft [--modules a,b] [--lr X] [--lam X] [--mu X] [--steps N] [--json OUT]

Several methods run side by side, each on a freshly loaded model. Timings: the edit phase is
Editor.apply alone; the reference is one plain forward+backward (all weights trainable,
loss.backward) over the same batch, timed right before it.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

from .config import EditorConfig
from .data import read_zsre
from .editor import Editor
from .errors import EditorError
from .evaluate import DEFAULT_FLUENCY_TEXT, evaluate, locality_baseline, perplexity
from .hooks import edit_loss
from .memory import PeakMemory
from .model import load_model
from .tokens import edit_batch


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m workers.editor bench", description="Lifelong editing benchmark (ZsRE JSONL)")
    p.add_argument("--model", required=True, help="model directory or hub id")
    p.add_argument("--data", required=True, help="ZsRE JSONL: src, rephrase, alt, loc, loc_ans[, answers]")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--method", default="amend", help="amend, ultraedit, ft, or several separated by commas")
    p.add_argument("--modules", default=None, help="comma-separated dotted module names (default: family's)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--lam", type=float, default=None)
    p.add_argument("--mu", type=float, default=None, help="preservation weight (amend)")
    p.add_argument("--steps", type=int, default=None, help="closed-form steps (amend) or gradient steps (ft)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="fp32")
    p.add_argument("--fluency", default=None, help="text file for perplexity (default: MODEL/fluency.txt or built-in)")
    p.add_argument("--json", default=None, help="write all figures to this JSON file")
    return p


def plain_forward_backward(model, batch, repeats: int = 3) -> float:
    """Seconds for one ordinary training forward+backward over the batch (all weights trainable,
    none updated): the median of ``repeats`` runs, as the machine may be shared."""
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(True)
    times = []
    try:
        for _ in range(repeats):
            _sync(batch.input_ids.device)
            t0 = time.perf_counter()
            with torch.enable_grad():
                logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
                edit_loss(logits, batch).backward()
            _sync(batch.input_ids.device)
            times.append(time.perf_counter() - t0)
            for p in params:
                p.grad = None
            del logits
    finally:
        for p in params:
            p.grad = None
            p.requires_grad_(False)
    return sorted(times)[len(times) // 2]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_method(args, method: str, requests, fluency_text: str, progress: bool) -> dict:
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    modules = args.modules.split(",") if args.modules else None
    config = EditorConfig.for_model(
        loaded, method=method, modules=modules, lr=args.lr, lam=args.lam, mu=args.mu, steps=args.steps
    )
    editor = Editor(loaded, config)
    probes = [p for r in requests for p in r.locality]
    baseline = locality_baseline(loaded, probes)
    ppl_before = perplexity(loaded, fluency_text)
    before = evaluate(loaded, requests).metrics

    turns = [requests[i : i + args.batch_size] for i in range(0, len(requests), args.batch_size)]
    per_turn = []
    edit_time = fb_time = 0.0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(turns), desc=method, unit="turn", file=sys.stderr)
    for turn, batch_requests in enumerate(turns, start=1):
        batch = edit_batch(
            loaded.tokenizer,
            [r.prompt for r in batch_requests],
            [r.target for r in batch_requests],
            loaded.context_length,
        ).to(loaded.device)
        fb = plain_forward_backward(loaded.model, batch)
        del batch
        gc.collect()
        with PeakMemory(loaded.device) as mem:
            _sync(loaded.device)
            t0 = time.perf_counter()
            delta = editor.apply(batch_requests)
            _sync(loaded.device)
            dt = time.perf_counter() - t0
        edit_time += dt
        fb_time += fb
        per_turn.append(
            {
                "turn": turn,
                "edits": len(batch_requests),
                "latency_s": dt,
                "forward_backward_s": fb,
                "peak_memory_bytes": mem.peak_bytes,
                "delta_rank": delta.rank,
                "normalizer_bytes": editor.normalizer.nbytes,
                "loss_before_steps": editor.last_losses,
            }
        )
        del delta
        if bar is not None:
            bar.update(1)
            bar.set_postfix(latency=f"{dt:.2f}s")
    if bar is not None:
        bar.close()

    retained = [r for t in turns[:-1] for r in t]
    report = evaluate(
        loaded,
        requests,
        locality_baseline=baseline,
        retained=retained,
        fluency_text=fluency_text,
        perplexity_before=ppl_before,
    )
    peaks = [t["peak_memory_bytes"] for t in per_turn]
    steps = config.steps if method != "ultraedit" else 1
    result = {
        "method": method,
        "config": config.to_dict(),
        "device": str(loaded.device),
        "edits": len(requests),
        "turns": len(turns),
        "before": before,
        "metrics": report.metrics,
        "edits_per_s": len(requests) / edit_time if edit_time else float("nan"),
        "edit_s": edit_time,
        "forward_backward_s": fb_time,
        "edit_to_forward_backward": edit_time / fb_time if fb_time else float("nan"),
        "edit_to_forward_backward_per_step": edit_time / fb_time / steps if fb_time else float("nan"),
        "peak_memory_growth_turn2_to_last": (peaks[-1] / peaks[1] - 1) if len(peaks) > 2 else None,
        "per_turn": per_turn,
    }
    del editor, loaded
    gc.collect()
    return result


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def print_table(results: list[dict], out=sys.stdout) -> None:
    rows = [
        ("ES (efficacy)", lambda r: r["metrics"].get("efficacy")),
        ("GS (generalization)", lambda r: r["metrics"].get("generalization")),
        ("LS (agreement w/ pre-edit)", lambda r: r["metrics"].get("locality")),
        ("LS accuracy vs loc_ans", lambda r: r["metrics"].get("locality_accuracy")),
        ("retention (turns 1..T-1)", lambda r: r["metrics"].get("retention")),
        ("perplexity drift", lambda r: r["metrics"].get("perplexity_drift")),
        ("ES before editing", lambda r: r["before"].get("efficacy")),
        ("GS before editing", lambda r: r["before"].get("generalization")),
        ("edits/s (edit phase)", lambda r: r["edits_per_s"]),
        ("edit time / fwd+bwd", lambda r: r["edit_to_forward_backward"]),
        ("  per closed-form step", lambda r: r["edit_to_forward_backward_per_step"]),
        ("peak mem growth turn 2..T", lambda r: r["peak_memory_growth_turn2_to_last"]),
    ]
    names = [r["method"] for r in results]
    print(f"{'metric':28s}" + "".join(f"{n:>12s}" for n in names), file=out)
    for label, get in rows:
        print(f"{label:28s}" + "".join(f"{_fmt(get(r)):>12s}" for r in results), file=out)
    for r in results:
        cfg = r["config"]
        print(
            f"\n{r['method']}: modules={','.join(cfg['modules'])} lr={cfg['lr']:g} lam={cfg['lam']:g} mu={cfg['mu']:g} "
            f"steps={cfg['steps']} device={r['device']} edits={r['edits']} turns={r['turns']}",
            file=out,
        )
        print(f"{'turn':>5s} {'latency_s':>10s} {'fwd+bwd_s':>10s} {'peak_MiB':>10s} {'rank':>6s}", file=out)
        for t in r["per_turn"]:
            print(
                f"{t['turn']:5d} {t['latency_s']:10.3f} {t['forward_backward_s']:10.3f} "
                f"{t['peak_memory_bytes'] / 2**20:10.1f} {t['delta_rank']:6d}",
                file=out,
            )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        methods = [m.strip() for m in args.method.split(",") if m.strip()]
        if not methods:
            raise EditorError("--method is empty")
        for m in methods:
            if m not in ("amend", "ultraedit", "ft"):
                raise EditorError(f"unknown method {m!r}: use amend, ultraedit or ft")
        if args.batch_size < 1 or args.turns < 1:
            raise EditorError("--batch-size and --turns must be at least 1")
        requests = read_zsre(args.data, limit=args.batch_size * args.turns)
        if args.fluency:
            fluency_text = Path(args.fluency).read_text(encoding="utf-8")
        elif (Path(args.model) / "fluency.txt").is_file():
            fluency_text = (Path(args.model) / "fluency.txt").read_text(encoding="utf-8")
        else:
            fluency_text = DEFAULT_FLUENCY_TEXT
        progress = sys.stderr.isatty()
        results = [run_method(args, m, requests, fluency_text, progress) for m in methods]
    except EditorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return 2
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "data": args.data, "results": results}, indent=2))
    return 0
