#!/bin/sh
# test_robust.sh: `gloss train`, `embed`, `predict` and `eval` when their
# output cannot be written: the disk is full, the target is /dev/full, the
# output directory is read-only, or the whole file system is. Each must exit 1 with a message naming the
# file and the reason, leave every earlier output byte-identical and leave no
# temporary file behind.
#
# Disk full is simulated without root tricks by RLIMIT_FSIZE: `ulimit -f N`
# in a child shell makes a write past N blocks (512 bytes in dash, 1024 in
# bash) fail; with SIGXFSZ ignored (`trap '' XFSZ`, kept across exec) it fails
# with EFBIG, which the program must handle exactly like ENOSPC. The limits
# below fail in both units: every file that would be written is larger.
#
# Root ignores directory permissions and may create files in /dev, so as root
# the read-only-directory and /dev cases run as nobody (65534) through
# setpriv (util-linux), on copies of the binary, model and data that nobody
# can read: a regression that renames a temp file over /dev/full must not
# replace the real device node. Those cases are skipped, with the reason
# printed, when neither works.
#
# The read-only file system is a tmpfs remounted read-only in a private mount
# namespace (unshare -m as root, unshare -rm in a user namespace otherwise);
# skipped, with the reason printed, where neither can mount.
#
# Last, memory running out in a training step (fault injection,
# GLOSS_FAULT_OOM_STEP): an error that stops the run with its last checkpoint
# intact, not a skipped non-finite step.
set -u
T=$(mktemp -d)
chmod 755 "$T"
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
# copies of the binary, the tiny model and the sample data that anyone can read
mkdir "$T/bin" "$T/model" "$T/data"
cp "${BUILD:-build}/gloss" "$T/bin/gloss"
cp tests/fixtures/model/tiny/* "$T/model/"
cp data/sample/*.csv "$T/data/"
chmod -R a+rX "$T"
G=$T/bin/gloss M=$T/model D=$T/data
export OMP_NUM_THREADS=1
fails=0
n=0
fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}
skip() { # skip WHAT: cases that cannot run here, recorded for tests/run.sh
    echo "test_robust.sh: skipped $*"
    [ -n "${GLOSS_SKIP_LOG:-}" ] && echo "test_robust.sh: $*" >>"$GLOSS_SKIP_LOG"
}

TRAIN="--epochs 1 --limit-train 40 --max-length 32 --batch-size 8 --quiet"

# names, then checksums, of everything in a directory (hidden files too)
snapshot() {
    (cd "$1" && ls -A | LC_ALL=C sort && ls -A | LC_ALL=C sort | while read -r f; do cksum "$f"; done)
}

# limited BLOCKS command...: run with RLIMIT_FSIZE = BLOCKS and SIGXFSZ ignored
limited() {
    blocks=$1
    shift
    sh -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$blocks" "$@"
}

# expect_fail NAME DIR PATTERN -- command...: exit status 1, stderr contains
# PATTERN, DIR (the earlier outputs) unchanged: same names, same bytes.
expect_fail() {
    name=$1 dir=$2 pat=$3
    shift 4
    n=$((n + 1))
    snapshot "$dir" >"$T/before"
    "$@" >"$T/stdout" 2>"$T/stderr"
    got=$?
    snapshot "$dir" >"$T/after"
    judge "$got" "$dir"
}

# judge STATUS WHAT: the checks of expect_fail on a finished command: STATUS 1,
# $pat in $T/stderr, $T/before = $T/after (non-empty)
judge() {
    if [ "$1" != 1 ]; then
        fail "$name: exit $1, expected 1"
        sed 's/^/  /' "$T/stderr" | head -5
    elif ! grep -q -- "$pat" "$T/stderr"; then
        fail "$name: stderr lacks '$pat':"
        sed 's/^/  /' "$T/stderr" | head -5
    elif ! cmp -s "$T/before" "$T/after" || [ ! -s "$T/before" ]; then
        fail "$name: $2 changed:"
        diff "$T/before" "$T/after" | head -10 | sed 's/^/  /'
    fi
}

# ---- earlier outputs: a fine-tuned model, predictions, embeddings, metrics
R=$T/run
if ! "$G" train --model "$M" --data "$D" --out "$R" --seed 1 $TRAIN ||
    ! "$G" predict --model "$R" --input "$D/test.csv" --output "$R/pred.csv" --quiet ||
    ! "$G" embed --model "$M" --input "$D/test.csv" --output "$R/emb.npy" --max-length 32 --quiet ||
    ! "$G" eval --model "$R" --data "$D/test.csv" --quiet >"$R/eval.json"; then
    echo "FAIL test_robust.sh: the baseline run failed"
    exit 1
fi

# ---- disk full (EFBIG from RLIMIT_FSIZE). Every new output would differ from
# the earlier one (other seed, other input), so a half-written or replaced
# file shows up in the snapshot, and so does a leftover *.tmp.* file.
# train: the first write is the 370 KB checkpoint after epoch 1
expect_fail full-train "$R" "$R/checkpoint.safetensors: write failed: File too large" -- \
    limited 8 "$G" train --model "$M" --data "$D" --out "$R" --seed 2 $TRAIN
# embed: 240 x 32 float32 = 30 KB
expect_fail full-embed "$R" "$R/emb.npy: write failed: File too large" -- \
    limited 8 "$G" embed --model "$M" --input "$D/train.csv" --output "$R/emb.npy" --max-length 32 --quiet
# predict --output: 240 rows, about 11 KB
expect_fail full-predict "$R" "$R/pred.csv: write failed: File too large" -- \
    limited 8 "$G" predict --model "$R" --input "$D/train.csv" --output "$R/pred.csv" --quiet
# predict and eval on stdout, redirected to a file: a short write, then EFBIG
expect_fail full-predict-stdout "$R" "writing to stdout failed: File too large" -- \
    limited 8 "$G" predict --model "$R" --input "$D/train.csv" --quiet
expect_fail full-eval-stdout "$R" "writing to stdout failed: File too large" -- \
    limited 1 "$G" eval --model "$R" --data "$D/train.csv" --quiet
n=$((n + 1))
[ "$(wc -c <"$T/stdout")" -le 1024 ] || fail "full-eval-stdout: the limit did not apply"
# without the trap: gloss itself ignores SIGXFSZ, so the limit is an error
# (exit 1, temp file removed), not a kill by signal (exit 153)
expect_fail full-embed-sigxfsz "$R" "$R/emb.npy: write failed: File too large" -- \
    sh -c 'ulimit -f 8; exec "$@"' sh "$G" embed --model "$M" --input "$D/train.csv" --output "$R/emb.npy" \
    --max-length 32 --quiet

expect_fail out-is-file "$R" "exists and is not a directory" -- \
    "$G" train --model "$M" --data "$D" --out "$R/eval.json" $TRAIN
expect_fail output-is-dir "$R" "is a directory" -- \
    "$G" embed --model "$M" --input "$D/test.csv" --output "$R" --max-length 32 --quiet

# ---- the unprivileged cases: as root, run as nobody; check that the user
# really cannot create files in a chmod 555 directory or in /dev
RO=$T/ro
cp -R "$R" "$RO"
chmod -R a+rX "$RO"
chmod 555 "$RO"
as_user="" skip=""
if [ "$(id -u)" -ne 0 ]; then
    as_user=""
elif command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
else
    skip="running as root and setpriv (util-linux) cannot switch to uid 65534"
fi
if [ -z "$skip" ] && $as_user sh -c ': >"$0/probe"' "$RO" 2>/dev/null; then
    rm -f "$RO/probe" 2>/dev/null
    skip="a chmod 555 directory is still writable for uid $(id -u)${as_user:+ under setpriv}"
fi
if [ -z "$skip" ] && $as_user sh -c ': >/dev/gloss-test-probe' 2>/dev/null; then
    rm -f /dev/gloss-test-probe
    skip="uid $(id -u)${as_user:+ under setpriv} can create files in /dev"
fi

if [ -n "$skip" ]; then
    skip "the read-only directory and /dev cases: $skip"
else
    # ---- read-only output directory
    # train fails before training, not after the first epoch
    expect_fail ro-train "$RO" "--out $RO: cannot create files there: Permission denied" -- \
        $as_user "$G" train --model "$M" --data "$D" --out "$RO" --seed 2 $TRAIN
    expect_fail ro-train-subdir "$RO" "$RO/sub: cannot create directory: Permission denied" -- \
        $as_user "$G" train --model "$M" --data "$D" --out "$RO/sub" --seed 2 $TRAIN
    expect_fail ro-embed "$RO" "$RO/emb.npy: cannot create: Permission denied" -- \
        $as_user "$G" embed --model "$M" --input "$D/train.csv" --output "$RO/emb.npy" --max-length 32 --quiet
    expect_fail ro-predict "$RO" "$RO/pred.csv: cannot create: Permission denied" -- \
        $as_user "$G" predict --model "$RO" --input "$D/train.csv" --output "$RO/pred.csv" --quiet
    # (eval writes only to stdout, which the shell opens, not gloss)

    # ---- /dev/full as the file the user names: ENOSPC. Written in place (a
    # temp file renamed over it would replace the device node).
    if [ -c /dev/full ]; then
        expect_fail devfull-embed "$RO" "/dev/full: write failed: No space left on device" -- \
            $as_user "$G" embed --model "$M" --input "$D/test.csv" --output /dev/full --max-length 32 --quiet
        expect_fail devfull-predict "$RO" "/dev/full: write failed: No space left on device" -- \
            $as_user "$G" predict --model "$RO" --input "$D/test.csv" --output /dev/full --quiet
        expect_fail devfull-eval "$RO" "writing to stdout failed: No space left on device" -- \
            $as_user sh -c 'exec "$@" >/dev/full' sh "$G" eval --model "$RO" --data "$D/test.csv" --quiet
        n=$((n + 1))
        [ -c /dev/full ] || fail "devfull: /dev/full is no longer a character device"
    else
        skip "the /dev/full cases: no /dev/full"
    fi
    # /dev/stdout with stdout redirected to a regular file: also written in
    # place (renaming a temp file over it would replace the /dev/stdout symlink)
    if [ -L /dev/stdout ]; then
        : >"$T/p.csv"
        chmod 666 "$T/p.csv" # reopened through /proc/self/fd/1 by the user
        n=$((n + 1))
        $as_user "$G" predict --model "$RO" --input "$D/test.csv" --output /dev/stdout --quiet \
            >"$T/p.csv" 2>"$T/stderr" && cmp -s "$T/p.csv" "$RO/pred.csv" ||
            fail "predict --output /dev/stdout differs from the file output: $(head -c 300 "$T/stderr")"
        n=$((n + 1))
        [ -L /dev/stdout ] || fail "predict --output /dev/stdout replaced the /dev/stdout symlink"
    fi
    n=$((n + 1))
    leftovers=$(ls -A /dev | grep -E '^(full|stdout)\.tmp\.')
    [ -z "$leftovers" ] || fail "temp files left in /dev: $leftovers"
fi

# ---- a read-only file system (EROFS), not just a read-only directory: a
# tmpfs holding the earlier outputs, remounted read-only, in a private mount
# namespace (unshare; as root, or in a user namespace otherwise)
ROFS=$T/rofs
mkdir "$ROFS"
cat >"$T/rofs.sh" <<'EOS'
# rofs.sh MOUNTPOINT SOURCE OUTDIR command...: inside the namespace: mount,
# fill, remount read-only, snapshot, run, snapshot; exits with the command's status
mp=$1 src=$2 o=$3
shift 3
mount -t tmpfs -o size=16m tmpfs "$mp" && cp -R "$src"/. "$mp" && mount -o remount,ro "$mp" || exit 99
snap() { (cd "$mp" && ls -A | LC_ALL=C sort && ls -A | LC_ALL=C sort | while read -r f; do cksum "$f"; done); }
snap >"$o/before"
"$@" >"$o/stdout" 2>"$o/stderr"
rc=$?
snap >"$o/after"
exit $rc
EOS
if [ "$(id -u)" -eq 0 ]; then ns="unshare -m"; else ns="unshare -rm"; fi
if ! $ns sh -c 'mount -t tmpfs tmpfs "$0" && mount -o remount,ro "$0" && ! touch "$0/probe" 2>/dev/null' "$ROFS" 2>/dev/null; then
    skip "the read-only file system cases: $ns cannot mount a tmpfs here"
else
    # expect_fail_rofs NAME PATTERN -- command...: as expect_fail, on the read-only mount
    expect_fail_rofs() {
        name=$1 pat=$2
        shift 3
        n=$((n + 1))
        $ns sh "$T/rofs.sh" "$ROFS" "$R" "$T" "$@"
        judge "$?" "the read-only file system"
    }
    expect_fail_rofs rofs-train "--out $ROFS: cannot create files there: Read-only file system" -- \
        "$G" train --model "$M" --data "$D" --out "$ROFS" --seed 2 $TRAIN
    expect_fail_rofs rofs-train-subdir "$ROFS/sub: cannot create directory: Read-only file system" -- \
        "$G" train --model "$M" --data "$D" --out "$ROFS/sub" --seed 2 $TRAIN
    expect_fail_rofs rofs-train-resume "--out $ROFS: cannot create files there: Read-only file system" -- \
        "$G" train --model "$M" --data "$D" --out "$ROFS" --seed 1 $TRAIN --resume
    expect_fail_rofs rofs-embed "$ROFS/emb.npy: cannot create: Read-only file system" -- \
        "$G" embed --model "$M" --input "$D/train.csv" --output "$ROFS/emb.npy" --max-length 32 --quiet
    expect_fail_rofs rofs-predict "$ROFS/pred.csv: cannot create: Read-only file system" -- \
        "$G" predict --model "$ROFS" --input "$D/train.csv" --output "$ROFS/pred.csv" --quiet
fi

# ---- memory running out during training: GLOSS_FAULT_OOM_STEP=n makes the
# embedding loss's workspace allocation fail at step n (here in epoch 2 of 3).
# Exit 1 with "out of memory", not a skipped "non-finite" step; the checkpoint
# of epoch 1 intact; --resume ends with the model of an uninterrupted run.
OOMT="--model $M --data $D --epochs 3 --limit-train 80 --batch-size 8 --max-length 24 --pool mean --patience 0
 --map-points 0 --seed 5 --loss gloss --quiet"
n=$((n + 1))
"$G" train $OOMT --out "$T/oom-ref" >"$T/stderr" 2>&1 || fail "oom: the reference run failed: $(tail -3 "$T/stderr")"
n=$((n + 1))
GLOSS_FAULT_OOM_STEP=15 "$G" train $OOMT --out "$T/oom" >"$T/stderr" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "oom: exit $rc, expected 1"
n=$((n + 1))
grep -q "step 15: embedding loss: out of memory" "$T/stderr" || fail "oom: no out-of-memory error: $(tail -3 "$T/stderr")"
n=$((n + 1))
grep -q -i "non-finite\|lower --lr" "$T/stderr" && fail "oom: reported as a non-finite step: $(tail -3 "$T/stderr")"
n=$((n + 1))
[ "$(grep -c . "$T/oom/epochs.csv" 2>/dev/null)" = 2 ] && [ ! -e "$T/oom/model.safetensors" ] ||
    fail "oom: expected epoch 1 alone in epochs.csv and no model"
n=$((n + 1))
"$G" train $OOMT --out "$T/oom" --resume >"$T/stderr" 2>&1 || fail "oom: --resume failed: $(tail -3 "$T/stderr")"
n=$((n + 1))
cmp -s "$T/oom/model.safetensors" "$T/oom-ref/model.safetensors" ||
    fail "oom: the resumed run ends with another model than the uninterrupted one"

echo "test_robust.sh: $((n - fails)) of $n checks passed"
[ $fails -eq 0 ]
