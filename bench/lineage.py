"""``python -m bench lineage``: rebuild time and bytes per version of a long lineage (no Django, no MLflow).

Builds a synthetic lineage (default 200 versions) on the bundled SmolLM2: one delta per version on the
editor's default modules, random factors of a few hundred ranks (the shapes UltraEdit writes: U (d_in, r),
R (r, d_out)), stored as the worker stores them, with a dense snapshot whenever the rank-1 terms since
the last one reach --snapshot-rank (AMEND_SNAPSHOT_RANK). Then, as a worker that has just loaded the base
would, rebuilds versions 1, 100 and the last from the files, checks each against the hash recorded
while building, and prints the times against the base model's load time, and the bytes per version.
Optionally the same for Mistral-7B-shaped modules (random weights; the base load time is estimated).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from editor import Delta, EditorConfig, Snapshot, load_model, write_version_weights
from editor.legacy import rule1_state
from editor.versions import snapshot_due

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "var" / "models" / "smollm2-135m"
MISTRAL_DOWN_PROJ = (14336, 4096)  # (d_in, d_out) of Mistral-7B's mlp.down_proj
MISTRAL_CHECKPOINT_BYTES = 14_483_464_192  # its bf16 safetensors
SCALE = 1e-3  # factor magnitude: only the timing matters, but keep the weights finite and plausible


@dataclass
class Lineage:
    directory: Path
    hashes: dict[int, str] = field(default_factory=dict)  # version -> content hash recorded while building
    snapshots: list[int] = field(default_factory=list)  # versions that stored a snapshot
    delta_bytes: int = 0
    snapshot_bytes: int = 0

    def start(self, version: int) -> int:
        """The newest snapshot at or below `version` (0: the base)."""
        return max([s for s in self.snapshots if s <= version], default=0)


def random_delta(shapes: dict[str, tuple[int, int]], rank: int, gen: torch.Generator) -> Delta:
    return Delta(
        {
            name: (torch.randn(d_in, rank, generator=gen) * SCALE, torch.randn(rank, d_out, generator=gen) * SCALE)
            for name, (d_in, d_out) in shapes.items()
        }
    )


def shapes_of(base: Snapshot) -> dict[str, tuple[int, int]]:
    """(d_in, d_out) of each module held (nn.Linear keeps d_out x d_in)."""
    return {
        n: (w.shape[1], w.shape[0]) if base.kinds[n] == "linear" else tuple(w.shape) for n, w in base.weights.items()
    }


def build(base: Snapshot, versions: int, rank: int, every_rank: int, directory: Path, seed: int = 0) -> Lineage:
    """Each version: one delta (ranks rank/2 .. 3 rank/2), the chain state advanced in memory as the worker
    does, a snapshot file when due; the state's digest is the version's content hash (fp32 model)."""
    gen = torch.Generator().manual_seed(seed)
    lineage, state, since = Lineage(directory), base, []
    for version in range(1, versions + 1):
        r = int(torch.randint(rank // 2, rank + rank // 2 + 1, (1,), generator=gen))
        delta = random_delta(shapes_of(base), r, gen)
        path = directory / f"delta-{version}.safetensors"
        delta.save(path)
        lineage.delta_bytes += path.stat().st_size
        state, since = state.advance([delta]), [*since, delta.rank]
        lineage.hashes[version] = state.digest()
        if snapshot_due(since, every_rank):
            path = directory / f"snapshot-{version}.safetensors"
            state.save(path)
            lineage.snapshot_bytes += path.stat().st_size
            lineage.snapshots.append(version)
            since = []
        print(f"\r  built v{version} (snapshots: {len(lineage.snapshots)})", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return lineage


def rebuild(loaded, base: Snapshot, lineage: Lineage, version: int) -> tuple[float, str, int]:
    """(seconds, content hash, deltas added) to make the model's weights `version`, from its files."""
    started = time.perf_counter()
    first = lineage.start(version)
    start = Snapshot.load(lineage.directory / f"snapshot-{first}.safetensors") if first else base
    deltas = [Delta.load(lineage.directory / f"delta-{v}.safetensors") for v in range(first + 1, version + 1)]
    content_hash = write_version_weights(loaded, start, deltas)
    return time.perf_counter() - started, content_hash, len(deltas)


def cold_load_seconds(model: str) -> float:
    """load_model in a fresh process, as a worker's cold start pays it (imports included)."""
    code = (
        "import time; from editor import load_model; t = time.perf_counter(); "
        f"load_model({model!r}, device='cpu'); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def warm_load_seconds(model: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        load_model(model, device="cpu")
        best = min(best, time.perf_counter() - started)
    return best


def legacy_seconds_per_delta(base: Snapshot, rank: int) -> float:
    """Rule 1 (every rank-1 term in a Python loop) on one delta of one module, times the modules."""
    name = base.modules[0]
    one = Snapshot({name: base.weights[name]}, {name: base.kinds[name]})
    delta = random_delta({name: shapes_of(one)[name]}, rank, torch.Generator().manual_seed(1))
    started = time.perf_counter()
    rule1_state(one, [delta])
    return (time.perf_counter() - started) * len(base.modules)


def smollm2(args: argparse.Namespace, directory: Path) -> dict:
    cold = cold_load_seconds(args.model)
    warm = warm_load_seconds(args.model)
    loaded = load_model(args.model, device="cpu")
    modules = EditorConfig.for_model(loaded).modules[: args.modules or None]
    base = Snapshot.capture(loaded, modules)
    print(f"SmolLM2: {len(modules)} modules {shapes_of(base)[modules[0]]}, rank ~{args.rank}", file=sys.stderr)
    lineage = build(base, args.versions, args.rank, args.snapshot_rank, directory)
    rebuilds = {}
    for version in sorted({1, min(100, args.versions), args.versions}):
        seconds, content_hash, added = rebuild(loaded, base, lineage, version)
        rebuilds[version] = {
            "seconds": seconds,
            "deltas_added": added,
            "exact": content_hash == lineage.hashes[version],
        }
    # Rollback from the last version to version 1 in the same worker: the same rebuild, from its weights.
    rollback, content_hash, _ = rebuild(loaded, base, lineage, 1)
    last = args.versions
    from_base = None
    if args.verify_from_base:  # the whole chain from the base: the same bits as through the snapshots
        started = time.perf_counter()
        deltas = [Delta.load(directory / f"delta-{v}.safetensors") for v in range(1, last + 1)]
        from_base = {
            "exact": write_version_weights(loaded, base, deltas) == lineage.hashes[last],
            "seconds": time.perf_counter() - started,
        }
    per_delta_legacy = legacy_seconds_per_delta(base, args.rank)
    return {
        "modules": len(modules),
        "module_shape": list(shapes_of(base)[modules[0]]),
        "rank": args.rank,
        "versions": last,
        "snapshot_rank": args.snapshot_rank,
        "snapshots": len(lineage.snapshots),
        "base_load_cold_s": cold,
        "base_load_warm_s": warm,
        "rebuild": rebuilds,
        "rollback_last_to_1_s": rollback,
        "rollback_exact": content_hash == lineage.hashes[1],
        "from_base": from_base,
        "bytes_per_version": (lineage.delta_bytes + lineage.snapshot_bytes) / last,
        "delta_bytes_per_version": lineage.delta_bytes / last,
        "snapshot_bytes": lineage.snapshot_bytes / max(1, len(lineage.snapshots)),
        "full_checkpoint_bytes": sum(f.stat().st_size for f in Path(args.model).glob("*.safetensors")),
        "legacy_estimate_last_s": per_delta_legacy * last,
    }


def mistral(args: argparse.Namespace, smol: dict) -> dict:
    """Mistral-7B-shaped down_proj modules with random weights: the worst rebuild under the snapshot rule
    (the largest snapshot-free tail: deltas until the terms reach --snapshot-rank), measured."""
    d_in, d_out = MISTRAL_DOWN_PROJ
    gen = torch.Generator().manual_seed(2)
    names = [f"model.layers.{29 + i}.mlp.down_proj" for i in range(args.mistral_modules)]
    base = Snapshot({n: torch.randn(d_out, d_in, generator=gen) * 0.02 for n in names}, dict.fromkeys(names, "linear"))
    tail = -(-args.snapshot_rank // args.rank) - 1  # deltas of rank `rank` after a snapshot, at most
    deltas = [random_delta(dict.fromkeys(names, (d_in, d_out)), args.rank, gen) for _ in range(max(1, tail))]
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        path = Path(scratch) / "snapshot.safetensors"
        base.save(path)
        started = time.perf_counter()
        Snapshot.load(path).advance(deltas)
        worst = time.perf_counter() - started
    # Base load estimated from SmolLM2's (warm) load throughput: bytes / (bytes per second).
    throughput = smol["full_checkpoint_bytes"] / smol["base_load_warm_s"]
    estimate = MISTRAL_CHECKPOINT_BYTES / throughput
    return {
        "modules": len(names),
        "rank": args.rank,
        "deltas_after_snapshot": len(deltas),
        "worst_rebuild_s": worst,
        "base_load_estimate_s": estimate,
        "snapshot_bytes": base.nbytes,
        "delta_bytes": sum(d.nbytes for d in deltas) / len(deltas),
    }


def report(smol: dict, big: dict | None) -> None:
    cold, warm = smol["base_load_cold_s"], smol["base_load_warm_s"]
    print(f"SmolLM2-135M, {smol['modules']} x {smol['module_shape']} modules, rank ~{smol['rank']} per version,")
    print(
        f"  {smol['versions']} versions, a snapshot every {smol['snapshot_rank']} rank-1 terms "
        f"({smol['snapshots']} in all)"
    )
    print(f"  base load: cold process {cold:.2f} s, warm {warm:.2f} s  (threads: {torch.get_num_threads()})")
    for version, r in smol["rebuild"].items():
        print(
            f"  rebuild v{version:<4} {r['seconds']:6.2f} s  = {r['seconds'] / cold:4.2f}x cold load, "
            f"{r['seconds'] / warm:5.2f}x warm  ({r['deltas_added']} deltas after its snapshot; "
            f"{'bitwise equal to its hash' if r['exact'] else 'HASH DIFFERS'})"
        )
    print(
        f"  rollback v{smol['versions']} -> v1 {smol['rollback_last_to_1_s']:.2f} s (exact: {smol['rollback_exact']})"
    )
    if smol["from_base"]:
        fb = smol["from_base"]
        print(
            f"  v{smol['versions']} from the base through every delta: {fb['seconds']:.1f} s, same bits: {fb['exact']}"
        )
    print(f"  before (rule 1, estimated from one delta): v{smol['versions']} {smol['legacy_estimate_last_s']:.0f} s")
    mib = 2**20
    print(
        f"  bytes per version {smol['bytes_per_version'] / mib:.1f} MiB "
        f"(deltas {smol['delta_bytes_per_version'] / mib:.1f}"
        f" + snapshots amortised; one snapshot {smol['snapshot_bytes'] / mib:.1f} MiB); "
        f"a full checkpoint {smol['full_checkpoint_bytes'] / mib:.0f} MiB"
    )
    if big:
        ratio = big["worst_rebuild_s"] / big["base_load_estimate_s"]
        print(f"Mistral-7B-shaped: {big['modules']} x down_proj {list(MISTRAL_DOWN_PROJ)}, rank {big['rank']}")
        print(
            f"  worst rebuild (snapshot + {big['deltas_after_snapshot']} deltas) {big['worst_rebuild_s']:.1f} s; "
            f"base load ESTIMATED {big['base_load_estimate_s']:.1f} s (SmolLM2's warm bytes/s) -> {ratio:.2f}x"
        )
        print(f"  snapshot {big['snapshot_bytes'] / mib:.0f} MiB, delta {big['delta_bytes'] / mib:.1f} MiB per version")


def build_parser() -> argparse.ArgumentParser:
    from bench.cli import BenchParser

    p = BenchParser(prog="python -m bench lineage", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="base model directory (default: bundled SmolLM2)")
    p.add_argument("--versions", type=int, default=200)
    p.add_argument("--rank", type=int, default=300, help="typical rank of a batch's delta (each drawn in r/2..3r/2)")
    p.add_argument("--modules", type=int, default=0, help="edit the first N default modules (0: all)")
    p.add_argument("--snapshot-rank", type=int, default=1024, help="AMEND_SNAPSHOT_RANK")
    p.add_argument("--mistral-modules", type=int, default=2, help="Mistral-7B-shaped modules (0: skip)")
    p.add_argument("--no-verify-from-base", dest="verify_from_base", action="store_false")
    p.add_argument("--workdir", default=None, help="where the lineage's files go (a temporary directory)")
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.model).is_dir():
        print(f"error: no model at {args.model} (python -m editor fetch-model smollm2 --out ...)", file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="amend-lineage-", dir=args.workdir))
    try:
        smol = smollm2(args, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    big = mistral(args, smol) if args.mistral_modules else None
    report(smol, big)
    if args.json:
        Path(args.json).write_text(json.dumps({"smollm2": smol, "mistral": big}, indent=1))
    return 0
