#!/usr/bin/env python3
"""Check that a model written by `gloss train` loads in Hugging Face transformers
(AutoModelForSequenceClassification + AutoTokenizer) and predicts what
`gloss predict` predicts: the same labels and class probabilities within 1e-5.

usage: tools/check_hf_export.py MODEL_DIR INPUT_FILE [--gloss build/gloss] [--max-length 128] [--tol 1e-5]

Every architecture gloss writes: BertForSequenceClassification (its head is
on the tanh pooler: gloss computes the same with --pool pooler),
DistilBertForSequenceClassification and RobertaForSequenceClassification
(their heads take the first token: --pool cls, the default for them). A model
trained with another pooling is refused (exit status 2): transformers' class
would compute something else.

INPUT_FILE: a CSV with a `text` column, or plain text with one document per line.
Exit status 0 when everything agrees. Needs torch and transformers (pip).
"""
import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def read_texts(path):
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return [row["text"] for row in csv.DictReader(f)]
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.rstrip("\r\n")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("--gloss", default="build/gloss")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()

    with open(os.path.join(a.model, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    model_type = cfg.get("model_type", "bert")
    want_pool = {"bert": "pooler", "distilbert": "cls", "roberta": "cls"}.get(model_type)
    if want_pool is None:
        print(f"{a.model}: model_type {model_type!r} is not one gloss writes")
        return 2
    pool = cfg.get("gloss_pooling", want_pool)
    if pool != want_pool:
        print(f"{a.model}: trained with --pool {pool}, but {cfg.get('architectures', ['?'])[0]} computes its head on "
              f"{want_pool}: transformers would not compute what gloss does")
        return 2

    out = subprocess.run([a.gloss, "predict", "--model", a.model, "--input", a.input, "--quiet",
                          "--max-length", str(a.max_length)], check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(out.splitlines()))
    header, rows = rows[0], rows[1:]
    g_labels = [r[1] for r in rows]
    g_probs = np.array([[float(x) for x in r[2:]] for r in rows])

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, attn_implementation="eager").eval()
    texts = read_texts(a.input)
    probs = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tok(texts[i:i + 32], padding=True, truncation=True, max_length=a.max_length, return_tensors="pt")
            probs.append(torch.softmax(model(**enc).logits, dim=-1).numpy())
    probs = np.concatenate(probs)
    id2label = model.config.id2label
    h_labels = [id2label[int(k)] for k in probs.argmax(1)]
    assert [h[2:] for h in header[2:]] == [id2label[k] for k in range(len(id2label))], "label order differs"
    err = np.abs(probs - g_probs).max()
    same = sum(x == y for x, y in zip(g_labels, h_labels))
    print(f"{model_type} ({type(model).__name__}, {type(tok).__name__}), {len(texts)} documents: labels agree on "
          f"{same}, max |p_gloss - p_hf| = {err:.2e} (tolerance {a.tol})")
    ok = same == len(texts) and err <= a.tol
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
