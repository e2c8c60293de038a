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
from .evaluate import DEFAULT_FLUENCY_TEXT, GREEDY_TOKENS, evaluate, locality_baseline, perplexity
from .hooks import edit_loss
from .memory import PeakMemory
from .model import load_model
from .tokens import edit_batch, prompt_ids, target_ids


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
    p.add_argument(
        "--skip-long", action="store_true", help="drop records that do not fit the model's context (else an error)"
    )
    p.add_argument("--json", default=None, help="write all figures to this JSON file")
    return p


def plain_forward_backward(model, batch, repeats: int = 3) -> tuple[float, float]:
    """(wall, CPU) seconds of one ordinary training forward+backward over the batch (all weights
    trainable, none updated): the median of ``repeats`` runs, as the machine may be shared."""
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(True)
    times, cpu = [], []
    try:
        for _ in range(repeats):
            _sync(batch.input_ids.device)
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.enable_grad():
                logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
                edit_loss(logits, batch).backward()
            _sync(batch.input_ids.device)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            for p in params:
                p.grad = None
            del logits
    finally:
        for p in params:
            p.grad = None
            p.requires_grad_(False)
    return sorted(times)[len(times) // 2], sorted(cpu)[len(cpu) // 2]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fits(loaded, request) -> bool:
    """Whether every prompt of the record, with its answer, fits the model's context."""
    tok, ctx = loaded.tokenizer, loaded.context_length
    t = len(target_ids(tok, request.target))
    texts = [(p, t) for p in [request.prompt, *request.paraphrases]]
    texts += [(p.prompt, len(target_ids(tok, p.answer)) if p.answer else GREEDY_TOKENS) for p in request.locality]
    return all(len(prompt_ids(tok, p)) + n <= ctx for p, n in texts)


def run_method(args, method: str, requests, fluency_text: str, progress: bool) -> dict:
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    skipped = 0
    if args.skip_long:
        kept = [r for r in requests if fits(loaded, r)]
        skipped = len(requests) - len(kept)
        requests = kept
        if not requests:
            raise EditorError("no record fits the model's context")
    modules = args.modules.split(",") if args.modules else None
    config = EditorConfig.for_model(
        loaded, method=method, modules=modules, lr=args.lr, lam=args.lam, mu=args.mu, steps=args.steps
    )
    editor = Editor(loaded, config)
    t0 = time.perf_counter()
    editor.prepare()  # fixed, once per model line (C0): setup, not edit phase
    setup_s = time.perf_counter() - t0
    probes = [p for r in requests for p in r.locality]
    baseline = locality_baseline(loaded, probes)
    ppl_before = perplexity(loaded, fluency_text)
    before = evaluate(loaded, requests).metrics

    turns = [requests[i : i + args.batch_size] for i in range(0, len(requests), args.batch_size)]
    per_turn = []
    edit_time = fb_time = edit_cpu = fb_cpu = 0.0
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
        fb, fb_c = plain_forward_backward(loaded.model, batch)
        del batch
        gc.collect()
        with PeakMemory(loaded.device) as mem:
            _sync(loaded.device)
            t0, c0 = time.perf_counter(), time.process_time()
            delta = editor.apply(batch_requests)
            _sync(loaded.device)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
        edit_time += dt
        fb_time += fb
        edit_cpu += dc
        fb_cpu += fb_c
        per_turn.append(
            {
                "turn": turn,
                "edits": len(batch_requests),
                "latency_s": dt,
                "forward_backward_s": fb,
                "cpu_s": dc,
                "forward_backward_cpu_s": fb_c,
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
        "skipped_too_long": skipped,
        "turns": len(turns),
        "before": before,
        "metrics": report.metrics,
        "edits_per_s": len(requests) / edit_time if edit_time else float("nan"),
        "edit_s": edit_time,
        "setup_s": setup_s,
        "forward_backward_s": fb_time,
        "edit_to_forward_backward": edit_time / fb_time if fb_time else float("nan"),
        "edit_to_forward_backward_per_step": edit_time / fb_time / steps if fb_time else float("nan"),
        "edit_to_forward_backward_cpu": edit_cpu / fb_cpu if fb_cpu else float("nan"),
        "edit_to_forward_backward_cpu_per_step": edit_cpu / fb_cpu / steps if fb_cpu else float("nan"),
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
        ("edit wall time / fwd+bwd", lambda r: r["edit_to_forward_backward"]),
        ("  per closed-form step", lambda r: r["edit_to_forward_backward_per_step"]),
        ("edit CPU time / fwd+bwd CPU", lambda r: r["edit_to_forward_backward_cpu"]),
        ("  per closed-form step", lambda r: r["edit_to_forward_backward_cpu_per_step"]),
        ("setup once (C0), s", lambda r: r["setup_s"]),
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
            f"steps={cfg['steps']} nu={cfg['nu']:g} settle={cfg['settle']} device={r['device']} edits={r['edits']} "
            f"(skipped as too long: {r['skipped_too_long']}) turns={r['turns']}",
            file=out,
        )
        print(
            f"{'turn':>5s} {'latency_s':>10s} {'fwd+bwd_s':>10s} {'cpu_s':>8s} {'fb_cpu_s':>8s} "
            f"{'peak_MiB':>10s} {'rank':>6s}",
            file=out,
        )
        for t in r["per_turn"]:
            print(
                f"{t['turn']:5d} {t['latency_s']:10.3f} {t['forward_backward_s']:10.3f} "
                f"{t['cpu_s']:8.3f} {t['forward_backward_cpu_s']:8.3f} "
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
