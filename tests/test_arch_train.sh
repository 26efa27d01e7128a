#!/bin/sh
# test_arch_train.sh: DistilBERT and RoBERTa end to end. gloss train on
# data/sample from the tiny random checkpoints of tools/make_arch_fixtures.py,
# with cross-entropy and with CE + G-Loss: the training loss falls, the
# fine-tuned model is written in the architecture's Hugging Face layout
# (config.json's model_type and architectures, the head under its class's
# tensor names, the tokenizer's files, cls pooling recorded), and gloss eval
# of the written model gives the test accuracy that metrics.json reports. (That transformers'
# AutoModelForSequenceClassification computes the same probabilities is
# tools/check_hf_export.py's job: it needs Python.)
set -u
G=${BUILD:-build}/gloss
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

TRAIN="--data data/sample --epochs 10 --lr 3e-3 --max-length 40 --seed 7 --patience 0 --quiet"

# json_number FILE KEY: the first "KEY": NUMBER in FILE
json_number() { sed -n "s/^ *\"$2\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1" | head -1; }

# run ARCH MODEL CLASS HEAD_TENSOR TOKENIZER_FILES
run() {
    arch=$1 model=$2 class=$3 head=$4 files=$5
    for loss in ce gloss; do
        out=$T/$arch-$loss
        n=$((n + 1))
        if ! OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$G" train --model "$model" --out "$out" --loss $loss $TRAIN \
            >"$T/log" 2>&1; then
            fail "$arch $loss: gloss train failed"
            sed 's/^/  /' "$T/log" | tail -5
            continue
        fi
        # the training loss falls: the last epoch's below 90% of the first's
        awk -F, 'NR == 2 { first = $2 } NR > 2 { last = $2 } END { exit !(last < 0.9 * first) }' "$out/epochs.csv" ||
            fail "$arch $loss: the training loss did not fall: $(cut -d, -f2 "$out/epochs.csv" | tr '\n' ' ')"
        if [ $loss = gloss ]; then # G-Loss ran: label-propagation accuracy logged every epoch
            awk -F, 'NR > 1 && $10 == "" { bad = 1 } END { exit bad }' "$out/epochs.csv" ||
                fail "$arch gloss: epochs.csv lacks lp_accuracy"
        fi
        grep -q "\"model_type\": \"$arch\"" "$out/config.json" || fail "$arch $loss: config.json lacks model_type $arch"
        grep -q "\"$class\"" "$out/config.json" || fail "$arch $loss: config.json lacks $class"
        grep -q '"gloss_pooling": "cls"' "$out/config.json" || fail "$arch $loss: not trained on the first token"
        head -c 8192 "$out/model.safetensors" | grep -q "\"$head\"" ||
            fail "$arch $loss: model.safetensors lacks $head"
        for f in $files; do
            cmp -s "$model/$f" "$out/$f" || fail "$arch $loss: $f not written as the checkpoint has it"
        done
        if ! OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$G" eval --model "$out" --data data/sample/test.csv \
            >"$T/eval.json" 2>"$T/log"; then
            fail "$arch $loss: gloss eval of the written model failed"
            sed 's/^/  /' "$T/log" | tail -5
            continue
        fi
        want=$(sed -n '/"test": {/,/}/p' "$out/metrics.json" | sed -n 's/^ *"accuracy": \([0-9.eE+-]*\),$/\1/p' |
            head -1)
        got=$(json_number "$T/eval.json" accuracy)
        [ -n "$want" ] && [ "$want" = "$got" ] ||
            fail "$arch $loss: gloss eval accuracy '$got', metrics.json test accuracy '$want'"
    done
}

run distilbert tests/fixtures/model/tiny_distilbert DistilBertForSequenceClassification pre_classifier.weight vocab.txt
run roberta tests/fixtures/model/tiny_roberta RobertaForSequenceClassification classifier.out_proj.weight \
    "vocab.json merges.txt"

if [ $fails -eq 0 ]; then
    echo "test_arch_train.sh: all $n runs passed"
else
    echo "test_arch_train.sh: $fails failures"
fi
[ $fails -eq 0 ]
