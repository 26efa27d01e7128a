#!/bin/sh
# test_data.sh: the data that ships with gloss, and gzip-compressed data files
# in every command.
#  - data/benchmarks (tools/make_benchmark_data.py): each of the 15
#    NAME/SPLIT.csv.gz files listed in SHA256SUMS is there and decompresses to
#    the bytes the manifest's sha256 names (the row counts: tests/test_table.c);
#  - a data directory of .csv.gz files (data/sample, gzipped) trains to the
#    same model bytes as the plain one; eval, predict and embed read a
#    .csv.gz file to the same output as the plain file;
#  - a damaged .csv.gz (truncated, corrupt) is exit status 1 with a message
#    naming it, for train, eval, predict and embed.
set -u
G=${BUILD:-build}/gloss
TINY=tests/fixtures/model/tiny
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
fails=0
n=0
fail() {
    echo "FAIL test_data: $*"
    fails=$((fails + 1))
}

# ---- the shipped benchmark sets against their manifest
B=data/benchmarks
n=$((n + 1))
[ "$(grep -c . "$B/SHA256SUMS")" -eq 15 ] || fail "$B/SHA256SUMS does not list 15 files"
while read -r sum rel; do
    n=$((n + 1))
    if [ ! -f "$B/$rel.gz" ]; then
        fail "$B/$rel.gz is missing"
        continue
    fi
    got=$(gzip -dc "$B/$rel.gz" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$sum" ] || fail "$B/$rel.gz decompresses to sha256 $got, the manifest has $sum"
done <"$B/SHA256SUMS"

# ---- .csv.gz in every command: the same results as the plain files
mkdir "$T/plain" "$T/gz"
cp data/sample/*.csv "$T/plain/"
for f in data/sample/*.csv; do gzip -9 -n -c "$f" >"$T/gz/$(basename "$f").gz"; done
TRAIN="--model $TINY --epochs 1 --limit-train 64 --max-length 32 --batch-size 8 --map-points 0 --seed 3 --quiet"
n=$((n + 1))
"$G" train $TRAIN --data "$T/plain" --out "$T/out-plain" >"$T/log" 2>&1 || fail "train on plain CSV: $(tail -3 "$T/log")"
n=$((n + 1))
"$G" train $TRAIN --data "$T/gz" --out "$T/out-gz" >"$T/log" 2>&1 || fail "train on .csv.gz: $(tail -3 "$T/log")"
n=$((n + 1))
cmp -s "$T/out-plain/model.safetensors" "$T/out-gz/model.safetensors" ||
    fail "the model trained on .csv.gz differs from the one trained on .csv"
n=$((n + 1))
cmp -s "$T/out-plain/test_embeddings.npy" "$T/out-gz/test_embeddings.npy" ||
    fail "test embeddings of the .csv.gz run differ"
for f in plain/test.csv gz/test.csv.gz; do
    k=${f%%/*}
    "$G" predict --model "$T/out-plain" --input "$T/$f" --output "$T/pred-$k.csv" --quiet 2>"$T/log" ||
        fail "predict --input $f: $(tail -2 "$T/log")"
    "$G" eval --model "$T/out-plain" --data "$T/$f" --quiet >"$T/eval-$k.json" 2>"$T/log" ||
        fail "eval --data $f: $(tail -2 "$T/log")"
    "$G" embed --model "$TINY" --input "$T/$f" --output "$T/emb-$k.npy" --max-length 32 --quiet 2>"$T/log" ||
        fail "embed --input $f: $(tail -2 "$T/log")"
    n=$((n + 3))
done
n=$((n + 1))
cmp -s "$T/pred-plain.csv" "$T/pred-gz.csv" || fail "predict: .csv.gz output differs"
n=$((n + 1))
cmp -s "$T/eval-plain.json" "$T/eval-gz.json" || fail "eval: .csv.gz output differs"
n=$((n + 1))
cmp -s "$T/emb-plain.npy" "$T/emb-gz.npy" || fail "embed: .csv.gz output differs"

# ---- damaged .csv.gz: exit 1, the file named, no crash
# expect1 NAME PATTERN -- command...
expect1() {
    name=$1 pat=$2
    shift 3
    n=$((n + 1))
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ne 1 ]; then
        fail "$name: exit $rc, expected 1: $(head -3 "$T/err")"
    elif ! grep -q -- "$pat" "$T/err"; then
        fail "$name: stderr lacks '$pat': $(head -3 "$T/err")"
    fi
}
mkdir "$T/bad"
cp "$T/gz/train.csv.gz" "$T/gz/val.csv.gz" "$T/bad/"
size=$(wc -c <"$T/gz/test.csv.gz")
head -c $((size / 2)) "$T/gz/test.csv.gz" >"$T/bad/test.csv.gz"
# flip_bit IN OUT OFFSET: a copy of IN with the low bit of the byte at OFFSET flipped
flip_bit() {
    b=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
    head -c "$3" "$1" >"$2"
    printf "\\$(printf '%03o' $((b ^ 1)))" >>"$2"
    tail -c +$(($3 + 2)) "$1" >>"$2"
}
flip_bit "$T/gz/test.csv.gz" "$T/crc.csv.gz" $((size - 8)) # the first byte of the CRC-32 trailer
expect1 train-truncated "$T/bad/test.csv.gz: truncated gzip data" -- \
    "$G" train $TRAIN --data "$T/bad" --out "$T/out-bad"
expect1 eval-truncated "$T/bad/test.csv.gz: truncated gzip data" -- \
    "$G" eval --model "$T/out-plain" --data "$T/bad/test.csv.gz" --quiet
expect1 predict-corrupt "$T/crc.csv.gz: corrupt gzip data" -- \
    "$G" predict --model "$T/out-plain" --input "$T/crc.csv.gz" --quiet
expect1 embed-corrupt "$T/crc.csv.gz: corrupt gzip data" -- \
    "$G" embed --model "$TINY" --input "$T/crc.csv.gz" --output "$T/o.npy" --quiet
n=$((n + 1))
[ ! -e "$T/out-bad/model.safetensors" ] || fail "train on a damaged data directory wrote a model"

[ $fails -eq 0 ] && echo "test_data.sh: all $n checks passed"
[ $fails -eq 0 ]
