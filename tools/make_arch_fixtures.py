#!/usr/bin/env python3
"""Writes the DistilBERT and RoBERTa fixtures tests/test_arch.c compares
against, into tests/fixtures/model/: tiny random checkpoints made with
Hugging Face `transformers` (nothing is downloaded) and the float64 reference
of their forward and gradients. The outputs are committed so the tests need no
Python.

Run from the repository root:   python3 tools/make_arch_fixtures.py
Needs torch, transformers (5.x), tokenizers, safetensors, numpy.
Deterministic: every random draw comes from a fixed seed, the tokenizers are
trained on data/sample/train.csv.

TOKENIZERS (from the text column of data/sample/train.csv)
  WordPiece, lowercase, 300 entries: vocab.txt with [PAD]=0 [UNK]=1 [CLS]=2
    [SEP]=3 [MASK]=4, then every character of the (BertNormalizer-lowercased)
    text alone and as ##piece, then its most frequent words (DistilBERT's;
    tokenizer_config.json do_lower_case true)
  byte-level BPE trained with `tokenizers`, 320 entries: vocab.json +
    merges.txt with <s>=0 <pad>=1
    </s>=2 <unk>=3 <mask>=4 (RoBERTa's; tokenizer_config.json names
    RobertaTokenizer)

CHECKPOINTS (F32 safetensors)
  tiny_distilbert/        DistilBERT dim 32, 2 layers, 4 heads, hidden_dim 64,
                          GELU, 40 positions, seq_classif_dropout 0.2; keys
                          "distilbert.*" (as distilbert-base-uncased), no head
  tiny_distilbert_cls/    DistilBertForSequenceClassification.save_pretrained
                          of the same encoder with a random head of 3 classes
                          (pre_classifier, classifier; id2label neg/neu/pos)
  tiny_distilbert_relu/   the same encoder weights with activation "relu",
                          saved by a bare DistilBertModel (keys without prefix)
  tiny_roberta/           RoBERTa hidden 32, 2 layers, 4 heads, intermediate 64,
                          GELU, layer_norm_eps 1e-5, pad_token_id 1,
                          max_position_embeddings 42 (40 positions after
                          padding_idx + 1), type_vocab_size 1; keys
                          "roberta.*" including a pooler (which gloss ignores)
  tiny_roberta_cls/       RobertaForSequenceClassification.save_pretrained of the
                          same encoder with a random head of 3 classes
                          (classifier.dense, classifier.out_proj)
  Init: Linear / embedding weights N(0, 0.2^2), Linear biases N(0, 0.1^2),
  LayerNorm weight 1 + N(0, 0.25^2), bias N(0, 0.1^2); the head's Linear
  weights N(0, 0.2^2) too (large enough that every term of the gradient shows).

REFERENCES (float64, eval mode: no dropout, attn_implementation "eager")
  input_ids, attention_mask  I64 (3, 9): lengths 9, 6, 4; [CLS]/<s> first,
      [SEP]/</s> last, the pad id (0 / 1) after; the other ids drawn from the
      non-special ids
  R1 F32 (3, 9, 32) standard normal; y I64 (3,) classes; class_w F64 (3,)
  tiny_distilbert_ref, tiny_roberta_ref (the _cls models):
      last_hidden F32 (3, 9, 32)   H, the encoder's last hidden state
      logits      F32 (3, 3)       the model's logits (HF's head on H[:, 0])
      loss        F64 ()           L = sum mask*H*R1 + CE(logits, y; weight class_w)
      grad.<name> F64              dL/dparam for every parameter, named as
                                   model.safetensors names it without the
                                   "distilbert." / "roberta." prefix
  tiny_distilbert_relu_ref: the encoder only (ReLU), with R4 F32 (3, 32):
      last_hidden, loss L = sum mask*H*R1 + sum H[:, 0]*R4, grad.<name>
"""
import csv
import json
import os
import shutil

import torch
from safetensors.torch import save_file

OUT = os.path.join("tests", "fixtures", "model")
SCRIPT = "tools/make_arch_fixtures.py"
SEED = 20250725
B, T, LENGTHS = 3, 9, (9, 6, 4)
LABELS = ["neg", "neu", "pos"]
CLASS_W = [0.5, 1.0, 2.0]


def log(msg):
    print(msg, flush=True)


def sample_texts():
    with open(os.path.join("data", "sample", "train.csv"), newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def fresh_dir(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def save_st(path, tensors, generator=True):
    meta = {"format": "pt"}
    if generator:
        meta = {"generator": SCRIPT}
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, path, metadata=meta)


# ----------------------------------------------------------------- tokenizers


def make_wordpiece(dirs):
    """A WordPiece vocabulary built here, deterministically: the special tokens,
    every character of the lowercased, accent-stripped sample text alone and as
    ##piece (sorted), then its most frequent words (ties alphabetical)."""
    from collections import Counter

    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    norm, pre = BertNormalizer(lowercase=True), BertPreTokenizer()
    words = Counter()
    for text in sample_texts():
        words.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars]
    for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) == 300:
            break
        if w not in vocab:
            vocab.append(w)
    assert len(vocab) == len(set(vocab))
    for d in dirs:
        with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in vocab))
        write_json(os.path.join(d, "tokenizer_config.json"),
                   {"do_lower_case": True, "tokenizer_class": "DistilBertTokenizer"})
    return len(vocab)


def make_bpe(dirs):
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer(add_prefix_space=False)
    tok.train_from_iterator(sample_texts(), vocab_size=320, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    V = tok.get_vocab_size()
    assert tok.token_to_id("<s>") == 0 and tok.token_to_id("<pad>") == 1 and tok.token_to_id("</s>") == 2
    for d in dirs:
        tok.save_model(d)
        write_json(os.path.join(d, "tokenizer_config.json"),
                   {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": False,
                    "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                    "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"})
    return V


# ------------------------------------------------------------------- models


def randomise(model, gen):
    """The init of the header, in named_parameters order."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.25 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen, dtype=torch.float64))


def batch(V, cls_id, sep_id, pad_id, gen):
    ids = torch.full((B, T), pad_id, dtype=torch.int64)
    mask = torch.zeros((B, T), dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        ids[b, 0], ids[b, n - 1] = cls_id, sep_id
        ids[b, 1:n - 1] = torch.randint(5, V, (n - 2,), generator=gen)
        mask[b, :n] = 1
    return ids, mask


def reference_cls(model, base, ids, mask, R1, y, path):
    """Forward, head and gradients of a ForSequenceClassification model in float64."""
    model = model.double().eval()
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    H, logits = out.hidden_states[-1], out.logits
    m = mask.double().unsqueeze(-1)
    L = (m * H * R1.double()).sum() + torch.nn.functional.cross_entropy(
        logits, y, weight=torch.tensor(CLASS_W, dtype=torch.float64))
    L.backward()
    t = {"input_ids": ids, "attention_mask": mask, "R1": R1, "y": y,
         "class_w": torch.tensor(CLASS_W, dtype=torch.float64),
         "last_hidden": H.detach().float(), "logits": logits.detach().float(),
         "loss": L.detach().reshape(())}
    for name, p in model.named_parameters():
        key = name[len(base) + 1:] if name.startswith(base + ".") else name
        t["grad." + key] = p.grad.detach().clone()
    save_st(path, t)
    log(f"{path}: loss {L.item():.9g}, {sum(1 for k in t if k.startswith('grad.'))} gradients")


def distilbert():
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertModel

    enc_dir, cls_dir, relu_dir = fresh_dir("tiny_distilbert"), fresh_dir("tiny_distilbert_cls"), \
        fresh_dir("tiny_distilbert_relu")
    V = make_wordpiece([enc_dir, cls_dir, relu_dir])
    args = dict(vocab_size=V, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=40,
                activation="gelu", dropout=0.1, attention_dropout=0.1, seq_classif_dropout=0.2, pad_token_id=0,
                sinusoidal_pos_embds=False)
    gen = torch.Generator().manual_seed(SEED)
    cfg = DistilBertConfig(num_labels=3, id2label=dict(enumerate(LABELS)),
                           label2id={l: i for i, l in enumerate(LABELS)}, attn_implementation="eager", **args)
    model = DistilBertForSequenceClassification(cfg)
    randomise(model, gen)
    model.save_pretrained(cls_dir)
    enc = {"distilbert." + k: v for k, v in model.distilbert.state_dict().items()}
    save_st(os.path.join(enc_dir, "model.safetensors"), enc, generator=False)
    write_json(os.path.join(enc_dir, "config.json"),
               dict(architectures=["DistilBertForMaskedLM"], model_type="distilbert", **args))
    # the bare encoder with ReLU
    write_json(os.path.join(relu_dir, "config.json"),
               dict(architectures=["DistilBertModel"], model_type="distilbert", **dict(args, activation="relu")))
    save_st(os.path.join(relu_dir, "model.safetensors"), model.distilbert.state_dict(), generator=False)

    ids, mask = batch(V, 2, 3, 0, gen)
    R1 = torch.randn((B, T, 32), generator=gen).float()
    R4 = torch.randn((B, 32), generator=gen).float()
    y = torch.tensor([2, 0, 1], dtype=torch.int64)
    reference_cls(model, "distilbert", ids, mask, R1, y, os.path.join(OUT, "tiny_distilbert_ref.safetensors"))

    rcfg = DistilBertConfig(attn_implementation="eager", **dict(args, activation="relu"))
    bare = DistilBertModel(rcfg)
    bare.load_state_dict(model.distilbert.state_dict())
    bare = bare.double().eval()
    H = bare(input_ids=ids, attention_mask=mask).last_hidden_state
    L = (mask.double().unsqueeze(-1) * H * R1.double()).sum() + (H[:, 0] * R4.double()).sum()
    L.backward()
    t = {"input_ids": ids, "attention_mask": mask, "R1": R1, "R4": R4, "last_hidden": H.detach().float(),
         "loss": L.detach().reshape(())}
    for name, p in bare.named_parameters():
        t["grad." + name] = p.grad.detach().clone()
    path = os.path.join(OUT, "tiny_distilbert_relu_ref.safetensors")
    save_st(path, t)
    log(f"{path}: loss {L.item():.9g}")


def roberta():
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaModel

    enc_dir, cls_dir = fresh_dir("tiny_roberta"), fresh_dir("tiny_roberta_cls")
    V = make_bpe([enc_dir, cls_dir])
    args = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                max_position_embeddings=42, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                bos_token_id=0, eos_token_id=2, position_embedding_type="absolute")
    gen = torch.Generator().manual_seed(SEED + 1)
    cfg = RobertaConfig(num_labels=3, id2label=dict(enumerate(LABELS)),
                        label2id={l: i for i, l in enumerate(LABELS)}, attn_implementation="eager", **args)
    model = RobertaForSequenceClassification(cfg)
    randomise(model, gen)
    model.save_pretrained(cls_dir)
    # the encoder checkpoint with a pooler, as roberta-base's carries one
    ecfg = RobertaConfig(**args)
    enc = RobertaModel(ecfg, add_pooling_layer=True)
    missing, unexpected = enc.load_state_dict(model.roberta.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("pooler.") for k in missing), (missing, unexpected)
    with torch.no_grad():
        enc.pooler.dense.weight.copy_(0.2 * torch.randn(enc.pooler.dense.weight.shape, generator=gen))
        enc.pooler.dense.bias.copy_(0.1 * torch.randn(enc.pooler.dense.bias.shape, generator=gen))
    save_st(os.path.join(enc_dir, "model.safetensors"),
            {"roberta." + k: v for k, v in enc.state_dict().items()}, generator=False)
    write_json(os.path.join(enc_dir, "config.json"),
               dict(architectures=["RobertaForMaskedLM"], model_type="roberta", **args))

    ids, mask = batch(V, 0, 2, 1, gen)
    R1 = torch.randn((B, T, 32), generator=gen).float()
    y = torch.tensor([1, 2, 0], dtype=torch.int64)
    reference_cls(model, "roberta", ids, mask, R1, y, os.path.join(OUT, "tiny_roberta_ref.safetensors"))


def main():
    torch.manual_seed(SEED)
    distilbert()
    roberta()


if __name__ == "__main__":
    main()
