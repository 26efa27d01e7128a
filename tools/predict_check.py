"""What tools/check_hf_export.py and tools/check_st_export.py share to compare
`gloss predict` with a Hugging Face classifier: the input documents, gloss
predict's labels and class probabilities, the classifier's probabilities
computed in batches, and the comparison of the two."""
import csv
import subprocess

import numpy as np
import torch


def read_texts(path):
    """A CSV's `text` column, or the non-empty lines of a plain text file."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return [row["text"] for row in csv.DictReader(f)]
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.rstrip("\r\n")]


def gloss_predict(gloss, model, input_path, max_length):
    """gloss predict's CSV: its header, the labels and the class probabilities."""
    out = subprocess.run([gloss, "predict", "--model", model, "--input", input_path, "--quiet",
                          "--max-length", str(max_length)], check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(out.splitlines()))
    header, rows = rows[0], rows[1:]
    return header, [r[1] for r in rows], np.array([[float(x) for x in r[2:]] for r in rows])


def hf_probs(tok, texts, max_length, logits):
    """softmax(logits(enc)) over batches of 32 texts (enc: tok's padded, truncated tensors)."""
    probs = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tok(texts[i:i + 32], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            probs.append(torch.softmax(logits(enc), dim=-1).numpy())
    return np.concatenate(probs)


def compare_predictions(header, g_labels, g_probs, probs, id2label):
    """max |g_probs - probs| and how many labels agree (the classes must be in
    the same order in gloss's header, "p_<label>", and id2label)."""
    h_labels = [id2label[int(k)] for k in probs.argmax(1)]
    assert [h[2:] for h in header[2:]] == [id2label[k] for k in range(len(id2label))], "label order differs"
    err = np.abs(probs - g_probs).max()
    same = sum(x == y for x, y in zip(g_labels, h_labels))
    return err, same
