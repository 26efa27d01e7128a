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
import json
import os
import sys

from transformers import AutoModelForSequenceClassification, AutoTokenizer

from predict_check import compare_predictions, gloss_predict, hf_probs, read_texts


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

    header, g_labels, g_probs = gloss_predict(a.gloss, a.model, a.input, a.max_length)

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, attn_implementation="eager").eval()
    texts = read_texts(a.input)
    probs = hf_probs(tok, texts, a.max_length, lambda enc: model(**enc).logits)
    err, same = compare_predictions(header, g_labels, g_probs, probs, model.config.id2label)
    print(f"{model_type} ({type(model).__name__}, {type(tok).__name__}), {len(texts)} documents: labels agree on "
          f"{same}, max |p_gloss - p_hf| = {err:.2e} (tolerance {a.tol})")
    ok = same == len(texts) and err <= a.tol
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
