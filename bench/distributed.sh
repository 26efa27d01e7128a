#!/bin/sh
# distributed.sh: the measurements behind docs/distributed.md
# (make bench-distributed), one thread per process throughout:
#   1. training throughput of all-MiniLM-L6-v2 on the first 1024 MR training
#      documents (batch 32, length 128, one epoch, cross-entropy and G-Loss),
#      in one process and in two (mpirun -np 2): training seconds, documents
#      per second, and the exchanges' share that the run logs;
#   2. the encoder's training step per document for the MiniLM-L6 and
#      BERT-base shapes (bench_train, batch 32, length 128);
#   3. G-Loss's cost against the batch size, and the batch at which it passes
#      3% of a step (bench_gloss_scaling, with the step times of 2.);
#   4. the gradient sum over 2 processes on buffers of both shapes
#      (bench_allreduce; shared memory here, not a network).
# Each run of 1. also reports its wall and CPU seconds (user + system, all its
# processes, validation and test passes included) from /usr/bin/time: on a
# shared machine the wall time depends on the other jobs, the CPU time much
# less. usage: sh bench/distributed.sh [BUILD [SECTIONS]]  (SECTIONS: default
# "1 2 3 4"; about 30 minutes on 2 cores)
set -eu
B=${1:-build}
SECTIONS=${2:-1 2 3 4}
O=${BENCH_OUT:-out/bench-distributed}
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }
TIME=""
[ -x /usr/bin/time ] && TIME="/usr/bin/time -f wall=%e,user=%U,system=%S -o"
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe"
mkdir -p "$O"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/gloss" --version

if want 1; then
echo "== 1. training throughput, all-MiniLM-L6-v2, MR (1024 documents), batch 32, length 128"
RUN="--model models/all-MiniLM-L6-v2 --data data/benchmarks/mr --limit-train 1024 --epochs 1 --batch-size 32
     --max-length 128 --map-points 0 --pool mean --log-steps"
for loss in ce gloss; do
    for np in 1 2; do
        out=$O/$loss-np$np
        rm -rf "$out"
        if [ $np -eq 1 ]; then
            $TIME${TIME:+ $out.time} "$B/gloss" train $RUN --loss $loss --out "$out" >"$out.log" 2>&1
        else
            $TIME${TIME:+ $out.time} $MPIRUN -np $np "$B/gloss" train $RUN --loss $loss --out "$out" >"$out.log" 2>&1
        fi
        secs=$(awk -F, 'NR == 2 { print $7 }' "$out/epochs.csv")
        x=$(sed -n 's/^ *exchanges: //p' "$out.log")
        echo "THROUGHPUT loss=$loss processes=$np train_seconds=$secs docs_per_s=$(awk -v s="$secs" 'BEGIN { printf "%.2f", 1024 / s }') load=$(cut -d' ' -f1 /proc/loadavg) $(cat "$out.time" 2>/dev/null)${x:+ exchanges=\"$x\"}"
    done
    # the two runs' losses, step by step, and their test metrics
    awk -F, -v loss=$loss 'FNR == 1 { next } NR == FNR { a[FNR] = $3; next }
        { d = a[FNR] - $3; d = d < 0 ? -d : d; r = d / (a[FNR] < 0 ? -a[FNR] : a[FNR]); if (r > w) w = r; n++; same += a[FNR] == $3 }
        END { printf "REPRO loss=%s steps=%d max_rel_loss_diff=%.3g bit_identical=%d\n", loss, n, w, same }' \
        "$O/$loss-np1/steps.csv" "$O/$loss-np2/steps.csv"
    grep -h -A2 '^  "test"' "$O/$loss-np1/metrics.json" "$O/$loss-np2/metrics.json" | grep accuracy || true
done
fi

if want 2 || want 3; then
echo "== 2. the encoder's training step, batch 32, length 128, 1 thread"
for shape in minilm base; do
    "$B/bench/bench_train" train $shape 1 3 32 128 | grep '^RESULT'
done | tee "$O/steps.txt"
row_ms() { awk -v s="shape=$1" '$0 ~ s { for (i = 1; i <= NF; i++) if ($i ~ /^step_s=/) { split($i, a, "="); printf "%.3f", a[2] * 1000 / 32 } }' "$O/steps.txt"; }

fi
if want 3; then
echo "== 3. G-Loss against the batch size (per process: 32 documents)"
"$B/bench/bench_gloss_scaling" 384 "$(row_ms minilm)" 8192 32
"$B/bench/bench_gloss_scaling" 768 "$(row_ms base)" 8192 32
fi

if want 4; then
echo "== 4. the gradient sum over 2 processes (shared memory)"
$MPIRUN -np 2 "$B/bench/bench_allreduce" 5
fi
