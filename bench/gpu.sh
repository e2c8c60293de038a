#!/usr/bin/env bash
# Issue 15's GPU figures as one short run on a lent GPU machine (the device tool's `run`), which reaches
# no hub and no package index: the editor's speed on SmolLM2-135M's shape (fp32 and bf16) and on
# Mistral-7B's (bf16, 20 turns of 1,000 edits; the published claim is 20,000 edits in under 5 minutes),
# random weights, with the machine's own python3 (its image holds CUDA torch and transformers).
#
#   bash bench/gpu.sh prepare   # here: the bundled tokenizer and the ZsRE records into var/gpu/ (3 MB)
#   bash bench/gpu.sh run       # there, carrying var/gpu: figures to $OUT (var/gpu/out when unset)
#
# The bundled model's weights (a 98 MB file) exceed what a run carries, so the SmolLM2 rows time its shape,
# not its answers. Each part is cut at its own limit so that the others' figures still come back (a cut part's
# turns so far are in its .log); the whole run fits one 600-second call.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=var/gpu/zsre.jsonl
TOKENIZER=var/gpu/tokenizer
case "${1:-}" in
prepare)
    set -e
    mkdir -p "$TOKENIZER"
    install -m 644 var/models/smollm2-135m/tokenizer.json var/models/smollm2-135m/tokenizer_config.json "$TOKENIZER"/
    install -m 644 "${ZSRE:-../shared/data/zsre_dev.jsonl}" "$DATA"
    du -sh var/gpu
    ;;
run)
    out=${OUT:-var/gpu/out}
    mkdir -p "$out"
    python=${PYTHON:-python3}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
    speed() {  # NAME SECONDS ARGS...: one bench, its figures printed and kept as JSON
        local name=$1 seconds=$2
        shift 2
        echo "== $name"
        PYTHONUNBUFFERED=1 timeout "$seconds" "$python" -m bench speed --tokenizer "$TOKENIZER" --data "$DATA" \
            --device cuda --json "$out/$name.json" "$@" 2>"$out/$name.log"
        echo "exit $?"
    }
    mistral=(--shape mistral-7b --dtype bf16 --batch-size 1000 --turns 20)
    speed mistral-7b-amend 240 "${mistral[@]}" --method amend
    speed mistral-7b-ultraedit 120 "${mistral[@]}" --method ultraedit
    speed smollm2-fp32 90 --shape smollm2-135m --dtype fp32 --batch-size 100 --turns 10
    speed smollm2-bf16 90 --shape smollm2-135m --dtype bf16 --batch-size 100 --turns 10
    ;;
*)
    echo "usage: bash bench/gpu.sh prepare|run" >&2
    exit 2
    ;;
esac
