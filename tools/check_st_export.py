#!/usr/bin/env python3
"""Check that a checkpoint directory embeds in sentence-transformers as `gloss
embed --model DIR` does (pooling and normalisation as gloss resolves them with
--pool auto, --normalize auto), and, for a model written by `gloss train`, that
its classifier in Hugging Face transformers predicts what `gloss predict` does.

usage: tools/check_st_export.py DIR INPUT_FILE [--gloss build/gloss] [--tol 1e-4]

DIR: a model written by `gloss train` (its modules.json, 1_Pooling/, ...), or a
sentence-transformers checkpoint such as models/all-MiniLM-L6-v2.
INPUT_FILE: a CSV with a `text` column, or plain text with one document per line.

Checks, each within --tol:
  1. SentenceTransformer(DIR, device="cpu").encode(texts) against gloss embed:
     max |difference| and 1 - min cosine similarity.
  2. (fine-tuned models only: config.json has id2label) AutoModelForSequenceClassification
     loads DIR; its encoder's last hidden state, pooled as config.json's
     gloss_pooling says (pooler: the model's own logits; mean/cls/max/mean_sqrt_len
     computed here in torch), through its classifier, gives gloss predict's class
     probabilities (max |difference|) and labels.
Runs offline (HF_HUB_OFFLINE=1). Exit status 0 when everything agrees. Needs
torch, transformers and sentence-transformers (pip).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from predict_check import compare_predictions, gloss_predict, hf_probs, read_texts  # noqa: E402


def pool(h, mask, mode):
    """sentence-transformers' poolings, written out independently of both gloss and it."""
    m = mask.unsqueeze(-1).to(h.dtype)
    n = m.sum(1).clamp(min=1e-9)
    if mode == "mean":
        return (h * m).sum(1) / n
    if mode == "mean_sqrt_len":
        return (h * m).sum(1) / n.sqrt()
    if mode == "max":
        return h.masked_fill(m == 0, float("-inf")).max(1).values
    if mode == "cls":
        return h[:, 0]
    raise ValueError(mode)


def check_embeddings(a, texts, max_length):
    from sentence_transformers import SentenceTransformer

    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "emb.npy")
        r = subprocess.run([a.gloss, "embed", "--model", a.model, "--input", a.input, "--output", npy],
                           check=True, capture_output=True, text=True)
        print("gloss embed: " + " ".join(l for l in r.stderr.splitlines() if l.startswith("pool")))
        g = np.load(npy).astype(np.float64)
    st = SentenceTransformer(a.model, device="cpu")
    print(f"SentenceTransformer: {[type(m).__name__ for m in st]}, max_seq_length {st.max_seq_length}")
    if max_length and st.max_seq_length != max_length:
        print(f"  note: sentence_bert_config.json max_seq_length {st.max_seq_length}, training --max-length "
              f"{max_length}")
    e = st.encode(texts, batch_size=32, convert_to_numpy=True).astype(np.float64)
    if e.shape != g.shape:
        print(f"MISMATCH: shapes {e.shape} (sentence-transformers) and {g.shape} (gloss)")
        return False
    err = np.abs(e - g).max()
    cos = (e * g).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(g, axis=1))
    norms = np.linalg.norm(g, axis=1)
    print(f"{len(texts)} documents: max |e_st - e_gloss| = {err:.2e}, 1 - min cosine = {1 - cos.min():.2e}, "
          f"gloss norms {norms.min():.4f}..{norms.max():.4f} (tolerance {a.tol})")
    return err <= a.tol and 1 - cos.min() <= a.tol


def check_classifier(a, texts, cfg, max_length):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    mode = cfg.get("gloss_pooling", "pooler")
    header, g_labels, g_probs = gloss_predict(a.gloss, a.model, a.input, max_length)

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, attn_implementation="eager").eval()

    def logits(enc):
        if mode == "pooler":
            return model(**enc).logits
        h = model.bert(**enc).last_hidden_state
        return model.classifier(pool(h, enc["attention_mask"], mode))

    probs = hf_probs(tok, texts, max_length, logits)
    err, same = compare_predictions(header, g_labels, g_probs, probs, model.config.id2label)
    print(f"classifier on {mode} pooling: labels agree on {same} of {len(texts)}, max |p_gloss - p_hf| = "
          f"{err:.2e} (tolerance {a.tol})")
    return same == len(texts) and err <= a.tol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("--gloss", default="build/gloss")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    texts = read_texts(a.input)
    with open(os.path.join(a.model, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    sbert = os.path.join(a.model, "sentence_bert_config.json")
    max_length = json.load(open(sbert)).get("max_seq_length", 128) if os.path.exists(sbert) else 128
    ok = check_embeddings(a, texts, max_length)
    if cfg.get("id2label") and "gloss_pooling" in cfg:
        ok = check_classifier(a, texts, cfg, max_length) and ok
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
