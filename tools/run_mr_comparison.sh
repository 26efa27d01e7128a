#!/bin/sh
# The MR comparison of the README: all-MiniLM-L6-v2, same seed, budget and
# settings for every loss (max length 64, batch 32, lr 3e-5, linear schedule,
# 3 epochs, pooler head). Each run writes out/mr-<name>/ and out/mr-<name>.log.
set -eu
G=${G:-build/gloss}
DATA=${DATA:-data/benchmarks/mr}
COMMON="--model models/all-MiniLM-L6-v2 --data $DATA --max-length 64 --batch-size 32 --lr 3e-5 --epochs 3 --seed 42 --pool pooler"
run() {
    name=$1
    shift
    [ -f "out/mr-$name/metrics.json" ] && { echo "mr-$name: done already"; return 0; }
    echo "mr-$name: $G train $COMMON --out out/mr-$name $*"
    /usr/bin/time -v $G train $COMMON --out "out/mr-$name" "$@" >"out/mr-$name.log" 2>&1
}
mkdir -p out
run ce
run gloss-paper --loss gloss --gloss-variant paper
run gloss-reference --loss gloss --gloss-variant reference
run supcon --loss supcon --temperature 0.1
