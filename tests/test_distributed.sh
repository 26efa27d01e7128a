#!/bin/sh
# test_distributed.sh: `mpirun -np 2 gloss train` (data parallelism,
# docs/distributed.md) on data/sample with the tiny model, one thread per
# process, against the same run in one process:
#
#  1. --loss gloss and --loss ce, 3 epochs of 15 steps: every step's loss
#     (steps.csv, written to the last bit) within 1e-5 relative of the
#     single process's, the final test and validation accuracy and macro-F1
#     equal, the silhouette within 1e-5; metrics.json says 2 processes of 1
#     thread. The largest difference is printed, and whether the losses are
#     bit-identical (they are not: the gradient sums over rows are split
#     between the processes, so float rounding differs). Batches of 16: at 8,
#     G-Loss's graph is degenerate on this data (3.5 effective neighbours,
#     clamped probabilities, a weight near 60 on E), and its loss amplifies
#     float rounding to a few 1e-6 (docs/distributed.md).
#  2. stopped after epoch 1 of 3 with 2 processes and resumed in 1: the steps of
#     the whole run within 1e-5 of the uninterrupted single process's.
#  3. one rank killed (SIGKILL) mid-run, after the first checkpoint: the job
#     stops within 30 s, mpirun names the rank and the signal, and the
#     checkpoint is intact: a single process resumes from it, and its steps
#     match the uninterrupted run's.
#  4. one rank stopped (SIGSTOP, a hung node) with --comm-timeout 3: the
#     other stops within 30 s more with a message that says so, and the job
#     ends. (Under memcheck, GLOSS_TEST_MEMCHECK=1, the deadlines are longer.)
#  5. bad data on one rank (mpirun's MPMD form, another --data for rank 1):
#     both ranks stop with the same error, which names rank 1 and the file
#     and line; no outputs are written.
#  6. other commands refuse to run under mpirun.
#
# Skipped (exit 77) where mpirun is not installed or gloss was built without
# MPI.
set -u
G=${BUILD:-build}/gloss
command -v mpirun >/dev/null 2>&1 || { echo "test_distributed: skipped: mpirun not installed"; exit 77; }
"$G" --version | grep -q '^MPI: none' && { echo "test_distributed: skipped: gloss built without MPI"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
# Open MPI refuses root without these; shared-memory copies without ptrace
# rights (containers) need the single-copy mechanism off
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
# Open MPI's own allocations are not ours to report (make asan)
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
MPIRUN="mpirun --oversubscribe"
# deadlines: under memcheck (tools/valgrind_all.sh) every process is 20-50 times slower
if [ -n "${GLOSS_TEST_MEMCHECK:-}" ]; then
    HANG_TIMEOUT=60 STOP_WITHIN=180 CHECKPOINT_WITHIN=3000
else
    HANG_TIMEOUT=3 STOP_WITHIN=30 CHECKPOINT_WITHIN=600
fi
fails=0
fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

RUN="--model tests/fixtures/model/tiny --data data/sample --batch-size 16 --max-length 32 --map-points 0 --log-steps --quiet"
STEPS_PER_EPOCH=15 # 240 training documents

# compare_steps A B [ROWS]: the loss of every step (or of the first ROWS) of
# A/steps.csv and B/steps.csv within 1e-5 relative; prints the largest
# difference and how many losses are bit-identical
compare_steps() {
    awk -F, -v rows="${3:-0}" -v what="$1 vs $2" '
        FNR == 1 { next }
        NR == FNR { a[FNR] = $3; na = FNR; next }
        { b[FNR] = $3; nb = FNR }
        END {
            n = rows > 0 ? rows + 1 : na
            if (na < n || nb < n || (rows == 0 && na != nb)) { printf "%s: %d and %d rows\n", what, na - 1, nb - 1; exit 1 }
            worst = 0; same = 0
            for (i = 2; i <= n; i++) {
                d = a[i] - b[i]; if (d < 0) d = -d
                m = a[i] < 0 ? -a[i] : a[i]
                r = m > 0 ? d / m : d
                if (r > worst) worst = r
                if (a[i] == b[i]) same++
            }
            printf "%s: %d steps, largest relative loss difference %.3g, %d of them bit-identical\n", what, n - 1, worst, same
            exit worst > 1e-5
        }' "$1/steps.csv" "$2/steps.csv"
}

# metric FILE KEY [SUBKEY]: a value of metrics.json (written with 2-space indents)
metric() {
    awk -v k1="$2" -v k2="${3:-}" '
        match($0, /^  "[^"]*":/) { top = substr($0, 4, RLENGTH - 5) }
        k2 == "" && top == k1 && match($0, /^  "[^"]*": /) { v = substr($0, RLENGTH + 1); sub(/,$/, "", v); print v; exit }
        k2 != "" && top == k1 && index($0, "    \"" k2 "\": ") == 1 { v = substr($0, length(k2) + 9); sub(/,$/, "", v); print v; exit }
    ' "$1"
}

close() { # close A B: |A - B| <= 1e-5 |A| (numbers as text)
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; exit !(d <= 1e-5 * m + 1e-12) }'
}

# ---- 1. one process against two
for loss in gloss ce; do
    "$G" train $RUN --loss $loss --epochs 3 --out "$T/one_$loss" 2>"$T/err" || fail "$loss: one process: $(cat "$T/err")"
    $MPIRUN -np 2 "$G" train $RUN --loss $loss --epochs 3 --out "$T/two_$loss" 2>"$T/err" ||
        fail "$loss: mpirun -np 2: $(cat "$T/err")"
    compare_steps "$T/one_$loss" "$T/two_$loss" || fail "$loss: per-step losses differ by more than 1e-5"
    m1=$T/one_$loss/metrics.json m2=$T/two_$loss/metrics.json
    for split in test val; do
        for k in accuracy macro_f1; do
            a=$(metric "$m1" $split $k) b=$(metric "$m2" $split $k)
            [ -n "$a" ] && [ "$a" = "$b" ] || fail "$loss: $split $k $a (one process) vs $b (two)"
        done
    done
    a=$(metric "$m1" silhouette micro) b=$(metric "$m2" silhouette micro)
    close "$a" "$b" || fail "$loss: silhouette $a vs $b"
    echo "$loss: test accuracy $(metric "$m1" test accuracy) and $(metric "$m2" test accuracy), macro-F1" \
        "$(metric "$m1" test macro_f1) and $(metric "$m2" test macro_f1), silhouette $a and $b"
    [ "$(metric "$m2" processes)" = 2 ] && [ "$(metric "$m2" threads_per_process)" = 1 ] &&
        [ "$(metric "$m1" processes)" = 1 ] || fail "$loss: metrics.json: processes / threads_per_process"
done

# ---- 2. two processes stopped after epoch 1, one resumes
$MPIRUN -np 2 "$G" train $RUN --loss gloss --epochs 3 --stop-after 1 --out "$T/stop" 2>"$T/err"
[ $? -eq 3 ] || fail "stop-after under mpirun: exit status not 3: $(cat "$T/err")"
"$G" train $RUN --loss gloss --epochs 3 --resume --out "$T/stop" 2>"$T/err" || fail "resume in one process: $(cat "$T/err")"
compare_steps "$T/one_gloss" "$T/stop" || fail "stopped with 2 processes, resumed with 1: steps differ"

# the processes of a running job: PID RANK, for the job started with GLOSS_TEST_JOB=$1
ranks() {
    for e in /proc/[0-9]*/environ; do
        { tr '\0' '\n' <"$e" | grep -q "^GLOSS_TEST_JOB=$1\$"; } 2>/dev/null || continue
        r=$({ tr '\0' '\n' <"$e" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p'; } 2>/dev/null)
        p=${e#/proc/}
        [ -n "$r" ] && echo "${p%/environ} $r"
    done
}

# start_long NAME OPTIONS...: a long two-process run in the background; waits
# for its first checkpoint. Sets job (mpirun's pid) and rank1 (rank 1's pid).
start_long() {
    name=$1
    shift
    GLOSS_TEST_JOB=$name-$$ $MPIRUN -np 2 "$G" train $RUN --loss gloss --epochs 300 --patience 0 "$@" \
        --out "$T/$name" >"$T/$name.log" 2>&1 &
    job=$!
    i=0
    while [ ! -f "$T/$name/checkpoint.safetensors" ] && [ $i -lt $CHECKPOINT_WITHIN ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 0.3
    rank1=$(ranks "$name-$$" | awk '$2 == 1 { print $1 }')
}

# wait_job SECONDS: wait for the job to end, at most SECONDS; sets status and took
wait_job() {
    t0=$(date +%s)
    while kill -0 $job 2>/dev/null && [ $(($(date +%s) - t0)) -le "$1" ]; do sleep 0.2; done
    took=$(($(date +%s) - t0))
    if kill -0 $job 2>/dev/null; then
        kill -9 $job
        status=timeout
    else
        wait $job
        status=$?
    fi
}

# ---- 3. a rank killed mid-run
start_long killed
if [ -z "$rank1" ]; then
    fail "kill: no rank 1 found (or no checkpoint within 60 s): $(cat "$T/killed.log")"
    kill -9 $job 2>/dev/null
else
    kill -9 "$rank1"
    wait_job $STOP_WITHIN
    echo "kill -9 of rank 1: mpirun ended after ${took} s with status $status"
    [ "$status" != timeout ] && [ "$status" -ne 0 ] ||
        fail "kill: the job did not stop within $STOP_WITHIN s (status $status)"
    grep -q "rank 1" "$T/killed.log" && grep -q -i "signal 9\|killed" "$T/killed.log" ||
        fail "kill: no message naming the rank and the signal: $(cat "$T/killed.log")"
    # the checkpoint is intact: one process resumes from it for one more epoch
    done_epochs=$(grep -c '^[0-9]' "$T/killed/epochs.csv")
    next=$((done_epochs + 1))
    "$G" train $RUN --loss gloss --epochs 300 --patience 0 --resume --stop-after $next --out "$T/killed" 2>"$T/err"
    [ $? -eq 3 ] || fail "kill: resuming from the checkpoint in one process: $(cat "$T/err")"
    "$G" train $RUN --loss gloss --epochs 300 --patience 0 --stop-after $next --out "$T/ref" 2>/dev/null
    compare_steps "$T/ref" "$T/killed" $((next * STEPS_PER_EPOCH)) ||
        fail "kill: the resumed run's steps differ from an uninterrupted run's"
    echo "kill: checkpoint after epoch $done_epochs intact; resumed in one process through epoch $next"
fi

# ---- 4. a rank that hangs
start_long hung --comm-timeout $HANG_TIMEOUT
if [ -z "$rank1" ]; then
    fail "hang: no rank 1 found: $(cat "$T/hung.log")"
    kill -9 $job 2>/dev/null
else
    kill -STOP "$rank1"
    wait_job $((HANG_TIMEOUT + STOP_WITHIN))
    kill -9 "$rank1" 2>/dev/null
    echo "SIGSTOP of rank 1 with --comm-timeout $HANG_TIMEOUT: the job ended after ${took} s with status $status"
    [ "$status" != timeout ] && [ "$status" -ne 0 ] || fail "hang: the job did not stop in time"
    grep -q "no answer from the other processes for $HANG_TIMEOUT s" "$T/hung.log" ||
        fail "hang: no message about the silent process: $(cat "$T/hung.log")"
    [ -f "$T/hung/checkpoint.safetensors" ] || fail "hang: checkpoint missing"
fi

# ---- 5. bad data on one rank
mkdir "$T/bad"
cp data/sample/*.csv "$T/bad/"
printf '"an unterminated quote,positive\n' >>"$T/bad/train.csv"
bad_line=$(wc -l <"$T/bad/train.csv")
ONE="--model tests/fixtures/model/tiny --batch-size 8 --max-length 32 --epochs 1 --quiet --out $T/badout"
mpirun --oversubscribe --tag-output -np 1 "$G" train $ONE --data data/sample : -np 1 "$G" train $ONE \
    --data "$T/bad" >"$T/bad.log" 2>&1 && fail "bad data on rank 1: the job succeeded"
e0=$(sed -n 's/^\[[0-9]*,0\]<stderr>://p' "$T/bad.log")
e1=$(sed -n 's/^\[[0-9]*,1\]<stderr>://p' "$T/bad.log")
echo "bad data on rank 1: rank 0 says: $e0"
[ -n "$e0" ] && [ "$e0" = "$e1" ] || fail "bad data: the ranks' errors differ: '$e0' / '$e1'"
case $e0 in
*"rank 1 of 2: $T/bad/train.csv:$bad_line: "*) ;;
*) fail "bad data: the error does not name rank 1, the file and line $bad_line: $e0" ;;
esac
[ -f "$T/badout/metrics.json" ] && fail "bad data: outputs written"

# ---- 6. other commands
$MPIRUN -np 2 "$G" eval --model tests/fixtures/model/tiny --data data/sample/test.csv >/dev/null 2>"$T/err" &&
    fail "gloss eval under mpirun succeeded"
grep -q "only 'gloss train' runs under mpirun" "$T/err" || fail "gloss eval under mpirun: $(cat "$T/err")"

if [ $fails -ne 0 ]; then
    echo "test_distributed: $fails failed"
    exit 1
fi
echo "test_distributed: all passed"
