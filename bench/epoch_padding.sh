#!/bin/sh
# epoch_padding.sh: wall time of one MR training epoch (all-MiniLM-L6-v2,
# --max-length 128, batch 32, 2 threads) under the three batching modes:
#   pad       every batch padded to 128 (--pad-to-max)
#   longest   every batch padded to its longest document (the default)
#   bucket    batches of documents of similar length (--bucket)
#   sh bench/epoch_padding.sh [BUILD_DIR] [DATA_DIR]
# Prints one line per mode: training seconds (the epoch without validation),
# the epoch with validation, real tokens per second. Same seed, same data order
# within a mode. BENCH_THREADS (2), BENCH_MODEL (the default model),
# BENCH_MAXLEN (128). Needs an idle machine; about 12 minutes on 2 cores.
set -eu
BUILD=${1:-build}
DATA=${2:-data/benchmarks/mr}
THREADS=${BENCH_THREADS:-2}
MODEL=${BENCH_MODEL:-models/all-MiniLM-L6-v2}
MAXLEN=${BENCH_MAXLEN:-128}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "epoch_padding: WARNING: load average $load before starting; timings are only meaningful on an idle machine" >&2
fi
printf '%-8s %10s %12s %10s\n' mode train_s epoch_s tokens/s
for mode in pad longest bucket; do
    case $mode in
    pad) extra=--pad-to-max ;;
    longest) extra= ;;
    bucket) extra=--bucket ;;
    esac
    OMP_NUM_THREADS=$THREADS "$BUILD/gloss" train --model "$MODEL" --data "$DATA" \
        --out "$T/$mode" --max-length "$MAXLEN" --batch-size 32 --epochs 1 --seed 42 --map-points 0 \
        --quiet $extra >"$T/$mode.log" 2>&1 || { cat "$T/$mode.log" >&2; exit 1; }
    # epochs.csv: epoch,train_loss,val_accuracy,val_macro_f1,seconds,tokens_per_s,train_seconds
    tail -n 1 "$T/$mode/epochs.csv" |
        awk -F, -v m="$mode" '{ printf "%-8s %10.1f %12.1f %10.0f\n", m, $7, $5, $6 }'
done
