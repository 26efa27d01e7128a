#!/bin/sh
# epoch_padding.sh: wall time of one MR training epoch (all-MiniLM-L6-v2,
# --max-length 128, batch 32, 2 threads, the default recipe otherwise) under
# the three batching modes:
#   pad       every batch padded to 128 (--pad-to-max)
#   longest   every batch padded to its longest document (the default)
#   bucket    batches of documents of similar length (--bucket)
#   sh bench/epoch_padding.sh [BUILD_DIR] [DATA_DIR]
# Prints one line per mode and precision: training seconds (the epoch without
# validation), the epoch with validation, real tokens per second. Same seed,
# same data order within a mode. Knobs (environment): BENCH_THREADS (2),
# BENCH_MODEL (the default model), BENCH_MAXLEN (128), BENCH_MODES ("pad
# longest bucket"), BENCH_PRECISIONS ("fp32"; "fp32 bf16" adds --bf16 rows),
# BENCH_PYTHON (an interpreter with torch and transformers, e.g.
# build/bench/venv/bin/python3): adds PyTorch's epoch padded to MAXLEN, its
# measured step (bench/torch_peer.py train minilm, 1 warm-up + 3 steps, under
# autocast for bf16) times the epoch's steps. Needs an idle machine; about 12
# minutes on 2 cores for the three fp32 modes.
set -eu
BUILD=${1:-build}
DATA=${2:-data/benchmarks/mr}
THREADS=${BENCH_THREADS:-2}
MODEL=${BENCH_MODEL:-models/all-MiniLM-L6-v2}
MAXLEN=${BENCH_MAXLEN:-128}
MODES=${BENCH_MODES:-pad longest bucket}
PRECISIONS=${BENCH_PRECISIONS:-fp32}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "epoch_padding: WARNING: load average $load before starting; timings are only meaningful on an idle machine" >&2
fi
printf '%-8s %-5s %10s %12s %10s\n' mode prec train_s epoch_s tokens/s
docs=""
for prec in $PRECISIONS; do
    for mode in $MODES; do
        case $mode in
        pad) extra=--pad-to-max ;;
        longest) extra= ;;
        bucket) extra=--bucket ;;
        *)
            echo "epoch_padding: unknown mode '$mode' (pad, longest, bucket)" >&2
            exit 2
            ;;
        esac
        case $prec in
        fp32) ;;
        bf16) extra="$extra --bf16" ;;
        *)
            echo "epoch_padding: unknown precision '$prec' (fp32, bf16)" >&2
            exit 2
            ;;
        esac
        OMP_NUM_THREADS=$THREADS "$BUILD/gloss" train --model "$MODEL" --data "$DATA" \
            --out "$T/$mode-$prec" --max-length "$MAXLEN" --batch-size 32 --epochs 1 --seed 42 --map-points 0 \
            --quiet $extra >"$T/$mode-$prec.log" 2>&1 || { cat "$T/$mode-$prec.log" >&2; exit 1; }
        # epochs.csv: epoch,train_loss,val_accuracy,val_macro_f1,seconds,tokens_per_s,train_seconds,...
        head -n 1 "$T/$mode-$prec/epochs.csv" | grep -q '^epoch,train_loss,val_accuracy,val_macro_f1,seconds,tokens_per_s,train_seconds' ||
            { echo "epoch_padding: epochs.csv columns changed" >&2; exit 1; }
        tail -n 1 "$T/$mode-$prec/epochs.csv" |
            awk -F, -v m="$mode" -v p="$prec" '{ printf "%-8s %-5s %10.1f %12.1f %10.0f\n", m, p, $7, $5, $6 }'
        [ -n "$docs" ] || docs=$(sed -n 's/.*"train_size": *\([0-9]*\).*/\1/p' "$T/$mode-$prec/metrics.json" | head -n 1)
    done
done
if [ -n "${BENCH_PYTHON:-}" ] && [ -n "$docs" ]; then
    steps=$(((docs + 31) / 32))
    for prec in $PRECISIONS; do
        b=0
        [ "$prec" = bf16 ] && b=1
        step=$(OMP_NUM_THREADS=$THREADS BENCH_THREADS=$THREADS MKL_NUM_THREADS=$THREADS BENCH_BF16=$b \
            "$BENCH_PYTHON" bench/torch_peer.py train minilm 1 3 32 "$MAXLEN" 2>/dev/null |
            sed -n 's/.* step_s=\([0-9.]*\).*/\1/p')
        [ -n "$step" ] && awk -v s="$step" -v n="$steps" -v p="$prec" -v t="$MAXLEN" \
            'BEGIN { printf "%-8s %-5s %10.1f %12s %10s   (PyTorch: %d steps of 32 x %d at %.3f s)\n", "torch", p, s * n, "-", "-", n, t, s }'
    done
fi
