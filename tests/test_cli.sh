#!/bin/sh
# test_cli.sh: the gloss command line: help, usage errors (exit 2), input
# errors (exit 1, message naming the file), embed output that numpy-compatible
# readers accept, predict/eval on a tiny fine-tuned model.
set -u
G=${BUILD:-build}/gloss
M=${GLOSS_MODEL_DIR:-models/all-MiniLM-L6-v2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
check() { # check NAME EXPECTED_STATUS EXPECTED_STDERR_SUBSTRING -- command...
    name=$1 want=$2 pat=$3
    shift 4
    n=$((n + 1))
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"; sed 's/^/  /' "$T/err" | head -5; fails=$((fails + 1))
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$T/err" "$T/out"; then
        echo "FAIL $name: output lacks '$pat'"; sed 's/^/  /' "$T/err" | head -5; fails=$((fails + 1))
    fi
}

check help 0 "commands:" -- "$G" --help
check version 0 "BLAS: OpenBLAS" -- "$G" --version
# OpenBLAS falls back to its SSE3 (Prescott) kernels on CPU models newer than
# itself; gloss then restarts itself with the kernels the CPU can run
if grep -q -w avx2 /proc/cpuinfo 2>/dev/null && grep -q -w fma /proc/cpuinfo; then
    n=$((n + 1))
    core=$(env -u OPENBLAS_CORETYPE "$G" --version | sed -n 's/^BLAS kernels: //p')
    case "$core" in
    "" | [Pp]rescott) echo "FAIL blas-core: an AVX2 CPU runs OpenBLAS core '$core'"; fails=$((fails + 1)) ;;
    esac
    n=$((n + 1))
    OPENBLAS_CORETYPE=Sandybridge "$G" --version | grep -q -i "^BLAS kernels: Sandybridge$" \
        || { echo "FAIL blas-core: OPENBLAS_CORETYPE set by the user was not kept"; fails=$((fails + 1)); }
fi
check no-args 2 "usage" -- "$G"
check unknown-cmd 2 "unknown command" -- "$G" frobnicate
for c in train eval predict embed; do check "$c-help" 0 "usage: gloss $c" -- "$G" $c --help; done
check embed-missing-args 2 "required" -- "$G" embed --model "$M"
check embed-bad-pool 2 "--pool" -- "$G" embed --model "$M" --input x --output y --pool maximum
check embed-bad-normalize 2 "--normalize" -- "$G" embed --model "$M" --input x --output y --normalize maybe
check embed-bad-int 2 "--batch-size" -- "$G" embed --model "$M" --input x --output y --batch-size 0
check embed-no-model 1 "$T/nomodel/config.json" -- "$G" embed --model "$T/nomodel" --input x --output "$T/o.npy"
printf 'first document\nsecond one, with a comma\n' >"$T/in.txt"
check embed-no-input 1 "$T/missing.csv" -- "$G" embed --model "$M" --input "$T/missing.csv" --output "$T/o.npy"
printf 'text,label\n"unterminated,a\n' >"$T/bad.csv"
check embed-bad-csv 1 "bad.csv:2" -- "$G" embed --model "$M" --input "$T/bad.csv" --output "$T/o.npy"
check embed-ok 0 "" -- "$G" embed --model "$M" --input "$T/in.txt" --output "$T/o.npy" --quiet
# .npy: magic, version 1.0, float32 little-endian, shape (2, 384)
n=$((n + 1))
if ! head -c 80 "$T/o.npy" | grep -q "'descr': '<f4', 'fortran_order': False, 'shape': (2, 384)"; then
    echo "FAIL embed-npy-header"; fails=$((fails + 1))
fi
size=$(wc -c <"$T/o.npy")
n=$((n + 1))
[ $((size % 64)) -eq 0 ] || [ "$size" -eq $((128 + 2 * 384 * 4)) ] || { echo "FAIL embed-npy-size $size"; fails=$((fails + 1)); }
check embed-unwritable 1 "$T/nodir/o.npy" -- "$G" embed --model "$M" --input "$T/in.txt" --output "$T/nodir/o.npy" --quiet
check train-missing 2 "required" -- "$G" train --model "$M"
check train-bad-loss 2 "--loss" -- "$G" train --model "$M" --data d --out o --loss hinge
check train-standalone-ce 2 "standalone" -- "$G" train --model "$M" --data d --out o --standalone
check train-head-lr-zero 2 "--head-lr" -- "$G" train --model "$M" --data d --out o --head-lr 0
check train-head-lr-standalone 2 "no effect with --standalone" -- "$G" train --model "$M" --data d --out o \
    --loss supcon --standalone --head-lr 1e-3
check train-head-lr-lr-zero 2 "--lr" -- "$G" train --model "$M" --data d --out o --lr 0 --head-lr 1e-3
for l in "" "1e-3," ",1e-3" "1e-3,,1e-2" "1e-3,x" "-1" "1e-3,1e4" "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"; do
    check "train-probe-l2-bad[$l]" 2 "--probe-l2" -- "$G" train --model "$M" --data d --out o --loss gloss \
        --standalone --probe-l2 "$l"
done
check train-no-data 1 "$T/nodata" -- "$G" train --model "$M" --data "$T/nodata" --out "$T/o1" --quiet
# --bf16: trains where the CPU has AVX512-BF16 (recorded in metrics.json), a clear error elsewhere
# (GLOSS_TEST_CPU_NO_BF16=1: the CPU gloss sees has none although the machine's
# has, e.g. under valgrind, which emulates a CPU without AVX-512)
TINY=tests/fixtures/model/tiny
if grep -q -w avx512_bf16 /proc/cpuinfo && [ -z "${GLOSS_TEST_CPU_NO_BF16:-}" ]; then
    check train-bf16 0 "" -- "$G" train --model "$TINY" --data data/sample --out "$T/bf16" --epochs 1 \
        --max-length 32 --limit-train 64 --map-points 0 --bf16 --quiet
    n=$((n + 1))
    grep -q '"bf16": true' "$T/bf16/metrics.json" || { echo "FAIL train-bf16-recorded"; fails=$((fails + 1)); }
else
    check train-bf16 1 "AVX512-BF16" -- "$G" train --model "$TINY" --data data/sample --out "$T/bf16" \
        --epochs 1 --max-length 32 --limit-train 64 --map-points 0 --bf16 --quiet
fi
check predict-not-finetuned 1 "id2label" -- "$G" predict --model "$M" --input "$T/in.txt"

# sentence-transformers layout: --pool auto takes the checkpoint's pooling (and
# Normalize); bad modules.json / pooling configs are errors naming file and key
if [ -f "$M/modules.json" ]; then
    check embed-auto-st 0 "pool mean (from 1_Pooling/config.json), L2-normalised" -- "$G" embed --model "$M" \
        --input "$T/in.txt" --output "$T/o.npy"
    check embed-explicit-cls 0 "pool cls (--pool), max length" -- "$G" embed --model "$M" --input "$T/in.txt" \
        --output "$T/o.npy" --pool cls
    n=$((n + 1))
    grep -q "L2-normalised" "$T/err" && { echo "FAIL embed-explicit-cls: normalised"; fails=$((fails + 1)); }
fi
check embed-auto-pooler 0 "pool pooler (no pooling declared; trained pooler weights)" -- "$G" embed \
    --model "$TINY" --input "$T/in.txt" --output "$T/o.npy"
ST="$T/stmodel"
st_model() { # a copy of the tiny model with the sentence-transformers files given as NAME TEXT pairs
    rm -rf "$ST" && mkdir -p "$ST/1_Pooling" && cp "$TINY"/* "$ST"/
    while [ $# -gt 1 ]; do printf '%s' "$2" >"$ST/$1"; shift 2; done
}
MODS='[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]'
POOL_MAX='{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": false,
"pooling_mode_max_tokens": true, "pooling_mode_mean_sqrt_len_tokens": false}'
st_model modules.json "$MODS" 1_Pooling/config.json "$POOL_MAX"
check embed-st-max 0 "pool max (from 1_Pooling/config.json), L2-normalised" -- "$G" embed --model "$ST" \
    --input "$T/in.txt" --output "$T/o.npy"
check embed-st-normalize-no 0 "wrote $T/o.npy (2 x 32 float32, pool max)" -- "$G" embed --model "$ST" \
    --input "$T/in.txt" --output "$T/o.npy" --normalize no
st_model modules.json '[{"idx":0,' 1_Pooling/config.json "$POOL_MAX"
check embed-st-bad-json 1 "$ST/modules.json: invalid JSON" -- "$G" embed --model "$ST" --input "$T/in.txt" \
    --output "$T/o.npy"
check train-st-bad-json 1 "$ST/modules.json: invalid JSON" -- "$G" train --model "$ST" --data data/sample \
    --out "$T/st-bad" --quiet
st_model modules.json '[{"path":"1_Pooling","type":["Pooling"]}]' 1_Pooling/config.json "$POOL_MAX"
check embed-st-bad-type 1 "$ST/modules.json: entry 0: key \"type\" must be a string" -- "$G" embed \
    --model "$ST" --input "$T/in.txt" --output "$T/o.npy"
st_model modules.json "$(echo "$MODS" | sed 's/"1_Pooling"/"7_Pooling"/')" 1_Pooling/config.json "$POOL_MAX"
check embed-st-no-path 1 "key \"path\" is \"7_Pooling\" but" -- "$G" embed --model "$ST" --input "$T/in.txt" \
    --output "$T/o.npy" --pool mean
st_model modules.json "$MODS" 1_Pooling/config.json "$(echo "$POOL_MAX" | sed 's/: 32/: 384/')"
check train-st-dim 1 "$ST/1_Pooling/config.json: key \"word_embedding_dimension\" is 384" -- "$G" train \
    --model "$ST" --data data/sample --out "$T/st-bad" --quiet
st_model 1_Pooling/config.json "$(echo "$POOL_MAX" | sed 's/"pooling_mode_cls_token": false/"pooling_mode_cls_token": true/')"
check embed-st-two-modes 1 "$ST/1_Pooling/config.json: key \"pooling_mode_max_tokens\": more than one" -- \
    "$G" embed --model "$ST" --input "$T/in.txt" --output "$T/o.npy"
st_model 1_Pooling/config.json '{"word_embedding_dimension": 32, "pooling_mode_lasttoken": true}'
check embed-st-unknown-mode 1 "\"pooling_mode_lasttoken\" is true" -- "$G" embed --model "$ST" \
    --input "$T/in.txt" --output "$T/o.npy"
st_model 1_Pooling/config.json '{"word_embedding_dimension": 32, "pooling_mode_mean_tokens": "true"}'
check embed-st-wrong-type 1 "\"pooling_mode_mean_tokens\" must be true or false" -- "$G" embed --model "$ST" \
    --input "$T/in.txt" --output "$T/o.npy"
# training records and exports the pooling: config.json, metrics.json, modules.json + 1_Pooling
st_model modules.json "$MODS" 1_Pooling/config.json "$POOL_MAX"
check train-st-max 0 "pool max (from 1_Pooling/config.json)" -- "$G" train --model "$ST" --data data/sample \
    --out "$T/st-out" --epochs 1 --max-length 32 --limit-train 64 --map-points 0
n=$((n + 1))
if ! grep -q '"gloss_pooling": "max"' "$T/st-out/config.json" || ! grep -q '"pool": "max"' "$T/st-out/metrics.json" ||
    ! grep -q '"pooling_mode_max_tokens": true' "$T/st-out/1_Pooling/config.json" ||
    ! grep -q '"max_seq_length": 32' "$T/st-out/sentence_bert_config.json" ||
    ! grep -q '"path": "2_Normalize"' "$T/st-out/modules.json"; then
    echo "FAIL train-st-max-export"; fails=$((fails + 1))
fi
check embed-st-export 0 "pool max (from 1_Pooling/config.json), L2-normalised, max length 32" -- "$G" embed \
    --model "$T/st-out" --input "$T/in.txt" --output "$T/o.npy"
check eval-st-export 0 "" -- "$G" eval --model "$T/st-out" --data data/sample/test.csv --quiet
check train-auto-pooler 0 "pool pooler (no pooling declared; trained pooler weights)" -- "$G" train \
    --model "$TINY" --data data/sample --out "$T/pooler-out" --epochs 1 --max-length 32 --limit-train 64 \
    --map-points 0
n=$((n + 1))
if ! [ -f "$T/pooler-out/2_Dense/model.safetensors" ] || grep -q Normalize "$T/pooler-out/modules.json"; then
    echo "FAIL train-auto-pooler-export"; fails=$((fails + 1))
fi
check embed-pooler-export 0 "pool pooler (from 1_Pooling/config.json + 2_Dense/config.json), max length 32" -- \
    "$G" embed --model "$T/pooler-out" --input "$T/in.txt" --output "$T/o.npy"

# a vocabulary longer than the embedding table (config.json vocab_size): every
# command refuses the model directory, naming vocab.txt, its entry count and
# vocab_size (token ids past the table would read other parameters)
BV="$T/bigvocab" BVF="$T/bigvocab-ft"
mkdir -p "$BV" "$BVF" && cp "$TINY"/* "$BV"/ && cp -R "$T/pooler-out"/. "$BVF"/
for i in 1 2 3 4 5 6 7 8 9 10; do echo "extra$i"; done >>"$BV/vocab.txt"
cp "$BV/vocab.txt" "$BVF/vocab.txt"
VMSG="vocab.txt: 130 entries but config.json's vocab_size is 120"
check vocab-train 1 "$BV/$VMSG" -- "$G" train --model "$BV" --data data/sample --out "$T/bv-out" --epochs 1 \
    --max-length 32 --limit-train 64 --map-points 0 --quiet
n=$((n + 1))
[ ! -e "$T/bv-out/checkpoint.safetensors" ] || { echo "FAIL vocab-train: a checkpoint was written"; fails=$((fails + 1)); }
check vocab-embed 1 "$BV/$VMSG" -- "$G" embed --model "$BV" --input "$T/in.txt" --output "$T/bv.npy" --quiet
check vocab-eval 1 "$BVF/$VMSG" -- "$G" eval --model "$BVF" --data data/sample/test.csv --quiet
check vocab-predict 1 "$BVF/$VMSG" -- "$G" predict --model "$BVF" --input "$T/in.txt" --quiet
# as long as the table is fine
head -n 120 "$BV/vocab.txt" >"$BV/v" && mv "$BV/v" "$BV/vocab.txt"
check vocab-equal-ok 0 "" -- "$G" embed --model "$BV" --input "$T/in.txt" --output "$T/bv.npy" --quiet

echo "test_cli.sh: $((n - fails)) of $n checks passed"
[ $fails -eq 0 ]
