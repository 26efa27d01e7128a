#!/usr/bin/env python3
"""Writes the reference fixtures tests/test_model.c (and the kernel / AdamW tests)
compare against, into tests/fixtures/model/. Every reference file is a
safetensors file (dtypes F32, F64, I64 only) so the C side reads it with its own
reader; the outputs are committed so the tests need no Python.

Run from the repository root:   python3 tools/make_model_fixtures.py [--only NAME]
(--only writes the one fixture fixture_NAME makes, leaving the others as they are.)
Needs torch, transformers (5.x), safetensors, numpy; fixture 2 also needs the
real model at models/all-MiniLM-L6-v2 (`make model` / tools/fetch_model.sh).
Deterministic: every random draw comes from a fixed seed. About 30 s on 2 cores.

Reference: Hugging Face `transformers.BertModel`, attn_implementation="eager",
eval mode (no dropout), token_type_ids all 0, position ids 0..T-1, run in
float64 (the reference for every value and gradient) and in float32 (only to
report how far a float32 forward is from the float64 one). Each float64 forward
is also cross-checked against a small BERT written here from scratch
(`manual_bert`), and a few tiny-model gradients against central differences.

Parameter names are the Hugging Face BertModel state-dict names without a
"bert." prefix (embeddings.word_embeddings.weight, ...,
encoder.layer.{i}.attention.self.query.weight, ..., pooler.dense.bias); the
buffer embeddings.position_ids is never stored. Weights are in the HF layout
(Linear weight is (out, in), y = x W^T + b).

THE SCALAR LOSS (fixtures 1 and 2)
----------------------------------
With H = last_hidden_state (B,T,C), mask = attention_mask (B,T) in {0,1}, and
R1 (B,T,C), R2, R3, R4 (B,C) fixed standard-normal tensors stored in the file
as float32 and used as (exactly converted) float64:
    cnt[b]   = max(sum_t mask[b,t], 1e-9)
    M[b,c]   = sum_t mask[b,t] * H[b,t,c] / cnt[b]            (mean pooling)
    Cls[b,c] = H[b,0,c]                                        (CLS pooling)
    P[b,c]   = tanh(sum_j pooler.dense.weight[c,j] * H[b,0,j]
                    + pooler.dense.bias[c])                    (pooler output)
    L = sum_{b,t,c} mask[b,t]*H[b,t,c]*R1[b,t,c] + sum_{b,c} M[b,c]*R2[b,c]
      + sum_{b,c} P[b,c]*R3[b,c] + sum_{b,c} Cls[b,c]*R4[b,c]
So the upstream gradients are dL/dH = mask*R1 (+ R2/cnt spread over the valid
tokens, + R4 at t=0, + the pooler backward of R3 at t=0), dL/dM = R2,
dL/dP = R3, dL/dCls = R4. The reference gradient of every parameter is dL/dp
in float64. Because the key mask sends exactly zero probability to padded
tokens and the loss ignores padded positions, padded positions contribute
exactly nothing to any gradient (so it does not matter that HF's embedding
has padding_idx=0).

FIXTURE 1: the tiny random BERT
-------------------------------
tests/fixtures/model/tiny/         a checkpoint in HF layout:
  config.json            model_type bert, BertModel, hidden_act gelu, hidden 32,
                         2 layers, 4 heads, intermediate 64, vocab 120,
                         max_position_embeddings 40, type_vocab_size 2,
                         layer_norm_eps 1e-12, pad_token_id 0
  model.safetensors      F32, all 39 parameters incl. the pooler, no prefix.
                         Init: Linear/embedding weights N(0, 0.2^2), Linear
                         biases N(0, 0.1^2), LayerNorm weight 1 + N(0, 0.25^2),
                         LayerNorm bias N(0, 0.1^2) (row 0 = [PAD] is random too)
  vocab.txt              120 tokens: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102,
                         [MASK]=103, the others invented words / ##pieces /
                         single letters / punctuation
  tokenizer_config.json  {"do_lower_case": true}
tests/fixtures/model/tiny_ref.safetensors:
  input_ids         I64 (3,9)  lengths 9, 6, 4: [CLS] ... [SEP] then [PAD]=0
  attention_mask    I64 (3,9)  1 on the real tokens, 0 on padding
  R1                F32 (3,9,32)
  R2, R3, R4        F32 (3,32)
  last_hidden       F32 (3,9,32)   H from the float64 reference (rounded to f32)
  mean_pooled       F32 (3,32)     M
  cls               F32 (3,32)     Cls
  pooler_output     F32 (3,32)     P
  loss              F64 ()         L
  grad.<param>      F64, same shape as the parameter: the full dL/dparam, for
                    every one of the 39 parameters
tests/fixtures/model/tiny_f16/     same config.json / vocab.txt /
  tokenizer_config.json; model.safetensors = the tiny weights stored as F16,
  no key prefix, WITHOUT the pooler (37 tensors).
tests/fixtures/model/tiny_bf16/    same, weights stored as BF16, every key with
  the "bert." prefix, pooler included (39 tensors).
tests/fixtures/model/tiny_f16_ref.safetensors, tiny_bf16_ref.safetensors:
  input_ids I64 (3,9), attention_mask I64 (3,9) (the same batch as tiny_ref),
  last_hidden F32 (3,9,32): the float64 forward of the weights converted
  F16/BF16 -> float64 exactly (the quantised model, not the f32 one).

FIXTURE 2: all-MiniLM-L6-v2 (tests/fixtures/model/minilm_ref.safetensors)
-----------------------------------------------------------------------
Four English sentences (SENTENCES below) tokenised with the model's own
BertTokenizerFast, padded to the longest (T). C = 384.
  input_ids, attention_mask  I64 (4,T)
  R1 F32 (4,T,384); R2, R3, R4 F32 (4,384)
  last_hidden F32 (4,T,384), mean_pooled, cls, pooler_output F32 (4,384)
  loss F64 ()
  for each of the 103 parameters p:
  gnorm.<p>  F64 ()    L2 norm of the float64 gradient dL/dp
  gproj.<p>  F64 (4,)  gproj[k-1] = sum_i s_k[i] * g[i] over the flattened
                       (row-major) gradient, for k = 1..4, with
                       s_k[i] = +1 if splitmix64(k*0x9E3779B97F4A7C15 ^ i) >> 63
                       is 0, else -1 (all arithmetic mod 2^64), where
                       splitmix64(x): x += 0x9E3779B97F4A7C15; z = x;
                         z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
                         z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
                         return z ^ (z >> 31)      (== gl_splitmix64 in rng.h)
  gidx.<p>   I64 (64,) sorted distinct flat indices: for word_embeddings inside
                       rows of token ids present (mask 1) in the batch; for
                       position_embeddings 48 inside rows 0..T-1 and 16 from
                       any row; for every other tensor uniform over all entries
  gval.<p>   F64 (64,) the gradient at those flat indices

FIXTURE 3: AdamW (tests/fixtures/model/adamw_ref.safetensors), all F32
-----------------------------------------------------------------------
torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), two param groups:
p0 (7,5) with weight_decay 0.01 ("decay"), p1 (5,) with weight_decay 0
("no decay"); torch defaults otherwise (amsgrad off, maximize off). Three
steps; before each step k the gradients grad.step{k}.* are set and
torch.nn.utils.clip_grad_norm_([p0, p1], max_norm=1.0) is applied:
    total = sqrt(sum of squares of all grad entries of p0 and p1)
    g *= min(1, max_norm / (total + 1e-6))
Gradients are N(0,1) draws scaled by 0.1 for steps 1 and 3 (total < 1: the
clip is a no-op) and by 100 for step 2 (heavily clipped). The AdamW step t:
    p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
Tensors: init.p0 (7,5), init.p1 (5,); for k = 1..3: grad.step{k}.p0/.p1 (the
gradients before clipping), clip_norm.step{k} () (the total norm returned),
after.step{k}.p0/.p1 (params after the step), exp_avg.step{k}.p0/.p1 and
exp_avg_sq.step{k}.p0/.p1 (optimizer state after the step).
Metadata (string map): lr, beta1, beta2, eps, weight_decay.p0,
weight_decay.p1, max_norm, clip_eps, torch_version.

FIXTURE 3b: AdamW with a head group (tests/fixtures/model/adamw_groups_ref.safetensors), F32
-----------------------------------------------------------------------------------------
torch.optim.AdamW(betas=(0.9, 0.999), eps=1e-8) over three param groups laid
out as gloss lays out its buffer: p0 (6,4) "encoder", weight_decay 0.01, lr
base; p1 (3,4) "head weight", weight_decay 0.01, lr 30 x base; p2 (3,)
"head bias", weight_decay 0, lr 30 x base. Before step k (1..3) every group's
lr is set to its peak times a schedule factor f_k (1.0, 0.5, 0.25; base
3e-3), as a scheduler would. Gradients are N(0,1) x 0.1 draws, no clipping.
Tensors: init.p{0,1,2}; grad.step{k}.p{0,1,2}; after.step{k}.p{0,1,2}.
Metadata: lr_base, head_scale, factors, weight_decay, torch_version.

FIXTURE 4: kernels (tests/fixtures/model/kernels_ref.safetensors), all F64
-------------------------------------------------------------------------
Small random inputs, B=2, T=5, C=8, 2 heads (head_dim 4), I=16; every output
and gradient computed with float64 autograd; dout tensors are N(0,1).
  layernorm over the last dim, out = (x-mu)/sqrt(var+eps)*w + b, var biased:
    ln.x (2,5,8) (row [1,4] is 3 + 1e-3*N(0,1): variance ~1e-6, so eps shows),
    ln.w (8,), ln.b (8,), ln.dout (2,5,8); for eps 1e-12 (tag "e12") and
    1e-5 (tag "e5"): ln.<tag>.out (2,5,8), ln.<tag>.dx (2,5,8),
    ln.<tag>.dw (8,), ln.<tag>.db (8,)
  gelu (erf form), out = 0.5*x*(1+erf(x/sqrt(2))):
    gelu.x (2,5,16) (the first 16 entries are fixed values up to |x| = 40),
    gelu.out, gelu.dout, gelu.dx (2,5,16)
  attention: attn.q, attn.k, attn.v (2,5,8), head h uses channels
    [4h, 4h+4); attn.mask I64 (2,5): sequence 0 length 5, sequence 1 length 3;
    scores = q_h k_h^T / sqrt(4), masked KEYS get -inf before the softmax
    (padded query rows are computed normally, attending to the valid keys),
    attn.probs (2,2,5,5) [b,h,query,key], attn.out (2,5,8) = context with
    heads concatenated, attn.dout (2,5,8) (nonzero at padded rows too),
    attn.dq, attn.dk, attn.dv (2,5,8)
  linear: lin.x (10,8), lin.w (16,8) (out,in), lin.b (16,),
    lin.out = x W^T + b (10,16), lin.dout (10,16), lin.dx (10,8),
    lin.dw (16,8), lin.db (16,)
"""
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join("tests", "fixtures", "model")
MINILM_DIR = os.path.join("models", "all-MiniLM-L6-v2")

SENTENCES = [
    "The cat slept on the warm windowsill all afternoon.",
    "Café owners in São Paulo say the new menu — crêpes, açaí bowls and "
    "“naïve” fusion dishes — sold out by noon on Sunday!",
    "Researchers found that regular exercise improves sleep quality, reduces "
    "stress, and may even help older adults remember names and faces more "
    "reliably over time.",
    "When the old railway bridge finally closed for repairs last spring, "
    "commuters from the northern villages had to take a ferry across the "
    "river, which added nearly forty minutes to their journey each way and "
    "frustrated almost everyone involved.",
]

TINY_CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 32,
    "initializer_range": 0.2,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 40,
    "model_type": "bert",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "vocab_size": 120,
}

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# ----------------------------------------------------------------------------
# helpers


def log(msg):
    print(msg, flush=True)


def save(path, tensors, metadata=None):
    for k, v in tensors.items():
        assert v.dtype in (torch.float32, torch.float64, torch.int64, torch.float16, torch.bfloat16), (k, v.dtype)
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, path, metadata=metadata)
    if metadata and len(metadata) > 1:
        sort_metadata(path)


def sort_metadata(path):
    """safetensors writes the metadata map in hash order; rewrite the header with
    the metadata keys sorted (same length, same bytes otherwise) so that the
    output is byte-for-byte reproducible."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=dict)
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    order = ["__metadata__"] + [k for k in header if k != "__metadata__"]
    text = json.dumps({k: header[k] for k in order}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert len(text) <= n and len(text.rstrip()) == len(raw[8:8 + n].rstrip()), path
    with open(path, "wb") as f:
        f.write(raw[:8] + text + b" " * (n - len(text)) + raw[8 + n:])


def make_vocab():
    """120 tokens with the standard BERT positions of the special tokens."""
    punct = [".", ",", "!", "?", "'", "-", "(", ")"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = ["##s", "##es", "##ed", "##ing", "##er", "##est", "##ly", "##ness", "##ion", "##al",
              "##a", "##e", "##i", "##o", "##u", "##n", "##t", "##r", "##y", "##k"]
    words = ["the", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on", "with",
             "as", "at", "by", "from", "this", "be", "are", "not", "or", "have", "an", "they",
             "we", "you", "she", "he", "his", "her", "one", "two", "three", "cat", "dog",
             "bird", "tree", "river", "bridge", "town", "road", "house", "water", "light",
             "small"]
    more = ["big", "old", "new", "red", "green", "blue", "run", "walk", "read", "write",
            "sleep", "warm", "cold", "day", "night", "train"]
    body = punct + letters + pieces + words  # ids 1..99
    assert len(body) == 99, len(body)
    vocab = ["[PAD]"] + body + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"] + more
    assert len(vocab) == 120 and len(set(vocab)) == 120
    assert vocab.index("[UNK]") == 100 and vocab.index("[CLS]") == 101
    assert vocab.index("[SEP]") == 102 and vocab.index("[MASK]") == 103
    return vocab


def build_bert(cfg_dict, dtype):
    from transformers import BertConfig, BertModel

    cfg = BertConfig(**{k: v for k, v in cfg_dict.items() if k != "architectures"},
                     attn_implementation="eager")
    m = BertModel(cfg)
    assert m.config._attn_implementation == "eager"
    return m.to(dtype).eval()


def param_names(model):
    names = [n for n, _ in model.named_parameters()]
    assert "embeddings.position_ids" not in names
    return names


def hf_forward(model, ids, mask):
    ttype = torch.zeros_like(ids)
    pos = torch.arange(ids.shape[1], dtype=torch.int64).unsqueeze(0).expand_as(ids)
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=ttype, position_ids=pos)
    return out.last_hidden_state, (out.pooler_output if model.pooler is not None else None)


def poolings(H, mask, P):
    """Mean / CLS poolings."""
    m = mask.to(H.dtype).unsqueeze(-1)
    cnt = torch.clamp(m.sum(1), min=1e-9)
    M = (H * m).sum(1) / cnt
    return M, H[:, 0], P


def scalar_loss(H, mask, P, R):
    R1, R2, R3, R4 = (r.to(H.dtype) for r in R)
    M, Cls, P = poolings(H, mask, P)
    m = mask.to(H.dtype).unsqueeze(-1)
    L = (m * H * R1).sum() + (M * R2).sum() + (Cls * R4).sum()
    if P is not None:
        L = L + (P * R3).sum()
    return L, M, Cls


def manual_bert(sd, cfg, ids, mask):
    """An independent float64 BERT forward from a state dict (no prefix)."""
    nh, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    B, T = ids.shape
    C = cfg["hidden_size"]
    d = C // nh

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * sd[p + ".weight"] + sd[p + ".bias"]

    def lin(x, p):
        return x @ sd[p + ".weight"].T + sd[p + ".bias"]

    def gelu(x):
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))

    x = sd["embeddings.word_embeddings.weight"][ids] + sd["embeddings.position_embeddings.weight"][:T] \
        + sd["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "embeddings.LayerNorm")
    keymask = (mask == 0).view(B, 1, 1, T)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def heads(t):
            return t.view(B, T, nh, d).transpose(1, 2)

        q, k, v = (heads(lin(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        s = s.masked_fill(keymask, float("-inf"))
        ctx = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, C)
        a = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = gelu(lin(a, p + "intermediate.dense"))
        x = ln(lin(h, p + "output.dense") + a, p + "output.LayerNorm")
    P = torch.tanh(lin(x[:, 0], "pooler.dense")) if "pooler.dense.weight" in sd else None
    return x, P


def reference(model64, ids, mask, R):
    """float64 forward + loss + backward; returns dict of results."""
    model64.zero_grad(set_to_none=True)
    H, P = hf_forward(model64, ids, mask)
    L, M, Cls = scalar_loss(H, mask, P, R)
    L.backward()
    grads = {n: p.grad.detach().clone() for n, p in model64.named_parameters()}
    return dict(H=H.detach(), P=None if P is None else P.detach(), M=M.detach(), Cls=Cls.detach(),
                L=L.detach(), grads=grads)


def cross_check_manual(model64, cfg, ids, mask, R, ref, what):
    """Same forward + gradients with manual_bert; asserts agreement."""
    sd = {n: p.detach().clone().requires_grad_(True) for n, p in model64.named_parameters()}
    H, P = manual_bert(sd, cfg, ids, mask)
    L, _, _ = scalar_loss(H, mask, P, R)
    L.backward()
    m = mask.to(torch.float64).unsqueeze(-1)
    dh = ((H.detach() - ref["H"]) * m).abs().max().item()
    dl = abs(L.item() - ref["L"].item())
    # attention.self.key.bias has a gradient that is exactly 0 in exact arithmetic (softmax is
    # shift invariant per query), so the comparison needs an absolute floor.
    floor = 1e-6 * max(g.norm().item() for g in ref["grads"].values())
    dg = max(((sd[n].grad - g).norm() / (g.norm() + floor)).item() for n, g in ref["grads"].items())
    log(f"  {what}: manual f64 BERT vs HF f64: hidden {dh:.1e}, loss {dl:.1e}, worst grad rel {dg:.1e}")
    assert dh < 1e-10 and dl < 1e-9 * max(1.0, abs(ref["L"].item())) and dg < 1e-9, what


def make_batch_tiny():
    g = torch.Generator().manual_seed(1234)
    B, T = 3, 9
    lengths = [9, 6, 4]
    normal_ids = torch.tensor([i for i in range(1, 120) if i not in (100, 101, 102, 103)])
    ids = torch.zeros(B, T, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lengths):
        body = normal_ids[torch.randint(len(normal_ids), (n - 2,), generator=g)]
        ids[b, 0] = 101
        ids[b, 1:n - 1] = body
        ids[b, n - 1] = 102
        mask[b, :n] = 1
    ids[1, 2] = 100  # one [UNK]
    return ids, mask


def random_R(g, B, T, C):
    return (torch.randn(B, T, C, generator=g), torch.randn(B, C, generator=g),
            torch.randn(B, C, generator=g), torch.randn(B, C, generator=g))


# ----------------------------------------------------------------------------
# fixture 1


def init_tiny(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm.weight" in n:
                v = 1.0 + 0.25 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif "LayerNorm.bias" in n or n.endswith(".bias"):
                v = 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            else:
                v = 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            p.copy_(v.to(torch.float32).to(p.dtype))  # values exactly representable in f32


def write_tiny_dir(path, vocab, weights):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(TINY_CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("".join(t + "\n" for t in vocab))
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        f.write('{"do_lower_case": true}\n')
    save(os.path.join(path, "model.safetensors"), weights, metadata={"format": "pt"})


def fd_check(model64, ids, mask, R, ref, names_idx):
    """Central differences on a few entries of the float64 model."""
    worst = 0.0
    h = 1e-6
    params = dict(model64.named_parameters())
    with torch.no_grad():
        for n, i in names_idx:
            flat = params[n].view(-1)
            old = flat[i].item()
            vals = []
            for s in (1, -1):
                flat[i] = old + s * h
                H, P = hf_forward(model64, ids, mask)
                vals.append(scalar_loss(H, mask, P, R)[0].item())
            flat[i] = old
            num = (vals[0] - vals[1]) / (2 * h)
            ana = ref["grads"][n].view(-1)[i].item()
            err = abs(num - ana) / (abs(ana) + 1e-3)
            worst = max(worst, err)
    log(f"  tiny: central differences on {len(names_idx)} entries, worst rel err {worst:.1e}")
    assert worst < 1e-5


def fixture_tiny():
    log("fixture 1: tiny random BERT")
    vocab = make_vocab()
    m32 = build_bert(TINY_CONFIG, torch.float32)
    init_tiny(m32, seed=20240601)
    names = param_names(m32)
    assert len(names) == 39
    m64 = build_bert(TINY_CONFIG, torch.float64)
    m64.load_state_dict({n: p.double() for n, p in m32.named_parameters()}, strict=False)

    ids, mask = make_batch_tiny()
    B, T = ids.shape
    C = TINY_CONFIG["hidden_size"]
    R = random_R(torch.Generator().manual_seed(99), B, T, C)

    ref = reference(m64, ids, mask, R)
    cross_check_manual(m64, TINY_CONFIG, ids, mask, R, ref, "tiny")
    with torch.no_grad():
        H32, _ = hf_forward(m32, ids, mask)
    valid = mask.bool()
    log(f"  tiny: HF f32 vs f64 forward max abs diff (valid tokens) "
        f"{(H32.double() - ref['H'])[valid].abs().max().item():.2e}; loss {ref['L'].item():.12g}")
    g = torch.Generator().manual_seed(5)
    picks = []
    for n in names:
        numel = dict(m64.named_parameters())[n].numel()
        picks.append((n, int(torch.randint(numel, (1,), generator=g))))
    # make sure a word-embedding entry of a used token is checked
    picks.append(("embeddings.word_embeddings.weight", int(ids[0, 3]) * C + 7))
    fd_check(m64, ids, mask, R, ref, picks[::3] + picks[-1:])

    weights = {n: p.detach().clone() for n, p in m32.named_parameters()}
    write_tiny_dir(os.path.join(OUT, "tiny"), vocab, weights)
    out = {"input_ids": ids, "attention_mask": mask,
           "R1": R[0], "R2": R[1], "R3": R[2], "R4": R[3],
           "last_hidden": ref["H"].float(), "mean_pooled": ref["M"].float(),
           "cls": ref["Cls"].float(), "pooler_output": ref["P"].float(),
           "loss": ref["L"].reshape(())}
    for n in names:
        out["grad." + n] = ref["grads"][n]
    save(os.path.join(OUT, "tiny_ref.safetensors"), out)

    # F16 (no pooler, no prefix) and BF16 ("bert." prefix, pooler) variants
    for tag, dt, prefix, pooler in (("f16", torch.float16, "", False), ("bf16", torch.bfloat16, "bert.", True)):
        q = {n: w.to(dt) for n, w in weights.items() if pooler or not n.startswith("pooler.")}
        write_tiny_dir(os.path.join(OUT, "tiny_" + tag), vocab, {prefix + n: w for n, w in q.items()})
        mq = build_bert(TINY_CONFIG, torch.float64)
        full = {n: w.double() for n, w in weights.items()}
        full.update({n: w.double() for n, w in q.items()})  # pooler (unused for H) stays f32 if dropped
        mq.load_state_dict(full, strict=False)
        with torch.no_grad():
            Hq, Pq = hf_forward(mq, ids, mask)
            Hm, _ = manual_bert({n: w.double() for n, w in q.items()}, TINY_CONFIG, ids, mask)
        dm = (Hm - Hq)[valid].abs().max().item()
        dq = (Hq - ref["H"])[valid].abs().max().item()
        log(f"  tiny_{tag}: {len(q)} tensors; vs manual {dm:.1e}; quantised vs f32 weights: hidden moves {dq:.2e}")
        assert dm < 1e-10
        save(os.path.join(OUT, f"tiny_{tag}_ref.safetensors"),
             {"input_ids": ids, "attention_mask": mask, "last_hidden": Hq.float()})


# ----------------------------------------------------------------------------
# fixture 2


def splitmix64_py(x):
    x = (x + GOLDEN) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def splitmix64_np(x):
    """Vectorised splitmix64 on a uint64 array (wrapping arithmetic)."""
    x = x + np.uint64(GOLDEN)
    z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def signs(k, n):
    """s_k[i] for i in 0..n-1 as float64 +-1."""
    key = np.uint64((k * GOLDEN) & MASK64)
    h = splitmix64_np(np.arange(n, dtype=np.uint64) ^ key)
    return np.where((h >> np.uint64(63)) == 0, 1.0, -1.0)


def check_splitmix():
    # the standard splitmix64 stream from state 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4
    assert splitmix64_py(0) == 0xE220A8397B1DCDAF
    assert splitmix64_py(GOLDEN) == 0x6E789E6AA1B965F4
    with np.errstate(over="ignore"):
        xs = [0, 1, 2, 12345, GOLDEN, MASK64, 0xDEADBEEFCAFEBABE] + [(k * GOLDEN) & MASK64 ^ i for k in range(1, 5)
                                                                   for i in (0, 1, 7, 1000003)]
        got = splitmix64_np(np.array(xs, dtype=np.uint64))
        for x, y in zip(xs, got):
            assert int(y) == splitmix64_py(x), hex(x)
        for k in range(1, 5):
            s = signs(k, 5000)
            for i in (0, 1, 2, 3, 99, 4999):
                want = 1.0 if (splitmix64_py(((k * GOLDEN) & MASK64) ^ i) >> 63) == 0 else -1.0
                assert s[i] == want
            assert abs(s.mean()) < 0.05


def fixture_minilm():
    from transformers import BertModel, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    log("fixture 2: all-MiniLM-L6-v2")
    if not os.path.isfile(os.path.join(MINILM_DIR, "model.safetensors")):
        sys.exit(f"{MINILM_DIR} is missing: run tools/fetch_model.sh first")
    check_splitmix()
    with open(os.path.join(MINILM_DIR, "config.json")) as f:
        cfg = json.load(f)
    tok = BertTokenizerFast.from_pretrained(MINILM_DIR)
    enc = tok(SENTENCES, padding="longest", return_tensors="pt")
    ids = enc["input_ids"].to(torch.int64)
    mask = enc["attention_mask"].to(torch.int64)
    B, T = ids.shape
    C = cfg["hidden_size"]
    log(f"  batch {B}x{T}, lengths {mask.sum(1).tolist()}")
    for b in range(B):
        log("    " + " ".join(tok.convert_ids_to_tokens(ids[b, :int(mask[b].sum())].tolist())))

    m32 = BertModel.from_pretrained(MINILM_DIR, attn_implementation="eager").float().eval()
    assert m32.config._attn_implementation == "eager" and m32.pooler is not None
    m64 = BertModel.from_pretrained(MINILM_DIR, attn_implementation="eager").double().eval()
    names = param_names(m64)

    R = random_R(torch.Generator().manual_seed(777), B, T, C)
    ref = reference(m64, ids, mask, R)
    cross_check_manual(m64, cfg, ids, mask, R, ref, "minilm")
    with torch.no_grad():
        H32, P32 = hf_forward(m32, ids, mask)
        L32, M32, _ = scalar_loss(H32.double(), mask, P32.double(), R)
    valid = mask.bool()
    dH = (H32.double() - ref["H"])[valid].abs().max().item()
    dHall = (H32.double() - ref["H"]).abs().max().item()
    dM = (M32 - ref["M"]).abs().max().item()
    dP = (P32.double() - ref["P"]).abs().max().item()
    log(f"  minilm: HF f32 vs f64 forward max abs diff: last_hidden (valid tokens) {dH:.2e}, "
        f"all positions {dHall:.2e}, mean_pooled {dM:.2e}, pooler {dP:.2e}; loss f64 {ref['L'].item():.12g} f32 {L32.item():.12g}")

    out = {"input_ids": ids, "attention_mask": mask,
           "R1": R[0], "R2": R[1], "R3": R[2], "R4": R[3],
           "last_hidden": ref["H"].float(), "mean_pooled": ref["M"].float(),
           "cls": ref["Cls"].float(), "pooler_output": ref["P"].float(),
           "loss": ref["L"].reshape(())}
    rng = np.random.RandomState(4242)
    used_rows = np.unique(ids[valid].numpy())
    with np.errstate(over="ignore"):
        sign_cache = {}
        for n in names:
            g = ref["grads"][n].reshape(-1).numpy()
            numel = g.size
            if numel not in sign_cache:
                sign_cache[numel] = [signs(k, numel) for k in range(1, 5)]
            out["gnorm." + n] = torch.tensor(float(np.sqrt(np.dot(g, g))), dtype=torch.float64)
            out["gproj." + n] = torch.tensor([float(np.dot(s, g)) for s in sign_cache[numel]], dtype=torch.float64)
            shape = ref["grads"][n].shape
            if n == "embeddings.word_embeddings.weight":
                idx = set()
                while len(idx) < 64:
                    idx.add(int(rng.choice(used_rows)) * shape[1] + int(rng.randint(shape[1])))
            elif n == "embeddings.position_embeddings.weight":
                idx = set()
                while len(idx) < 48:
                    idx.add(int(rng.randint(T * shape[1])))
                while len(idx) < 64:
                    idx.add(int(rng.randint(numel)))
            else:
                idx = set(rng.choice(numel, 64, replace=False).tolist())
            idx = np.array(sorted(idx), dtype=np.int64)
            assert len(idx) == 64
            out["gidx." + n] = torch.from_numpy(idx)
            out["gval." + n] = torch.from_numpy(g[idx].copy())
    save(os.path.join(OUT, "minilm_ref.safetensors"), out)
    log(f"  minilm: {len(names)} parameters, grad norms "
        f"{min(out['gnorm.' + n].item() for n in names):.2e}..{max(out['gnorm.' + n].item() for n in names):.2e}")
    return dH


# ----------------------------------------------------------------------------
# fixture 3


def fixture_adamw():
    log("fixture 3: AdamW")
    g = torch.Generator().manual_seed(31337)
    lr, b1, b2, eps, wd, max_norm = 1e-3, 0.9, 0.999, 1e-8, 0.01, 1.0
    p0 = torch.randn(7, 5, generator=g).requires_grad_(True)
    p1 = torch.randn(5, generator=g).requires_grad_(True)
    out = {"init.p0": p0.detach().clone(), "init.p1": p1.detach().clone()}
    opt = torch.optim.AdamW([{"params": [p0], "weight_decay": wd}, {"params": [p1], "weight_decay": 0.0}],
                            lr=lr, betas=(b1, b2), eps=eps)
    for k in (1, 2, 3):
        scale = 100.0 if k == 2 else 0.1
        g0 = torch.randn(7, 5, generator=g) * scale
        g1 = torch.randn(5, generator=g) * scale
        out[f"grad.step{k}.p0"], out[f"grad.step{k}.p1"] = g0.clone(), g1.clone()
        p0.grad, p1.grad = g0.clone(), g1.clone()
        total = torch.nn.utils.clip_grad_norm_([p0, p1], max_norm=max_norm)
        out[f"clip_norm.step{k}"] = total.detach().clone().reshape(())
        opt.step()
        out[f"after.step{k}.p0"], out[f"after.step{k}.p1"] = p0.detach().clone(), p1.detach().clone()
        for name, p in (("p0", p0), ("p1", p1)):
            st = opt.state[p]
            out[f"exp_avg.step{k}.{name}"] = st["exp_avg"].clone()
            out[f"exp_avg_sq.step{k}.{name}"] = st["exp_avg_sq"].clone()
        log(f"  step {k}: clip total norm {total.item():.6g}")
    # independent float64 re-derivation of the update, as a sanity check
    P = {"p0": out["init.p0"].double(), "p1": out["init.p1"].double()}
    Mo = {n: torch.zeros_like(v) for n, v in P.items()}
    V = {n: torch.zeros_like(v) for n, v in P.items()}
    for k in (1, 2, 3):
        G = {n: out[f"grad.step{k}.{n}"].double() for n in P}
        tot = math.sqrt(sum((v * v).sum().item() for v in G.values()))
        c = min(1.0, max_norm / (tot + 1e-6))
        for n in P:
            w = wd if n == "p0" else 0.0
            gg = G[n] * c
            P[n] = P[n] * (1 - lr * w)
            Mo[n] = b1 * Mo[n] + (1 - b1) * gg
            V[n] = b2 * V[n] + (1 - b2) * gg * gg
            P[n] = P[n] - lr / (1 - b1 ** k) * Mo[n] / (V[n].sqrt() / math.sqrt(1 - b2 ** k) + eps)
            err = (P[n] - out[f"after.step{k}.{n}"].double()).abs().max().item()
            assert err < 1e-6, (k, n, err)
    meta = {"lr": repr(lr), "beta1": repr(b1), "beta2": repr(b2), "eps": repr(eps),
            "weight_decay.p0": repr(wd), "weight_decay.p1": "0.0", "max_norm": repr(max_norm),
            "clip_eps": "1e-06", "torch_version": torch.__version__}
    save(os.path.join(OUT, "adamw_ref.safetensors"), out, metadata=meta)


def fixture_adamw_groups():
    log("fixture 3b: AdamW with a head param group")
    g = torch.Generator().manual_seed(4242)
    base, scale, wd, factors = 3e-3, 30.0, 0.01, (1.0, 0.5, 0.25)
    ps = [torch.randn(6, 4, generator=g), torch.randn(3, 4, generator=g), torch.randn(3, generator=g)]
    ps = [p.requires_grad_(True) for p in ps]
    out = {f"init.p{i}": p.detach().clone() for i, p in enumerate(ps)}
    peaks = (base, base * scale, base * scale)
    opt = torch.optim.AdamW([{"params": [ps[0]], "weight_decay": wd}, {"params": [ps[1]], "weight_decay": wd},
                             {"params": [ps[2]], "weight_decay": 0.0}], lr=base, betas=(0.9, 0.999), eps=1e-8)
    for k, f in enumerate(factors, 1):
        for grp, peak in zip(opt.param_groups, peaks):
            grp["lr"] = peak * f
        for i, p in enumerate(ps):
            gr = torch.randn(p.shape, generator=g) * 0.1
            out[f"grad.step{k}.p{i}"] = gr.clone()
            p.grad = gr
        opt.step()
        for i, p in enumerate(ps):
            out[f"after.step{k}.p{i}"] = p.detach().clone()
    # the head moved about scale times as far as the encoder from its start
    d0 = (out["after.step3.p0"] - out["init.p0"]).abs().mean().item()
    d1 = (out["after.step3.p1"] - out["init.p1"]).abs().mean().item()
    log(f"  mean |change|: encoder {d0:.3g}, head {d1:.3g}")
    assert d1 > 10 * d0
    meta = {"lr_base": repr(base), "head_scale": repr(scale), "factors": repr(factors), "weight_decay": repr(wd),
            "torch_version": torch.__version__}
    save(os.path.join(OUT, "adamw_groups_ref.safetensors"), out, metadata=meta)


# ----------------------------------------------------------------------------
# fixture 4


def fixture_kernels():
    log("fixture 4: kernels")
    g = torch.Generator().manual_seed(2718)
    f64 = torch.float64
    B, T, C, NH, I = 2, 5, 8, 2, 16
    D = C // NH
    out = {}

    def rn(*shape):
        # inputs are rounded to float32 so the C kernels (which read them as
        # float32) and the float64 reference see exactly the same numbers
        return torch.randn(*shape, generator=g, dtype=f64).float().double()

    # layernorm
    x = rn(B, T, C)
    x[1, 4] = (3.0 + 1e-3 * rn(C)).float().double()
    w = 1.0 + 0.3 * rn(C)
    b = 0.2 * rn(C)
    dout = rn(B, T, C)
    out.update({"ln.x": x, "ln.w": w, "ln.b": b, "ln.dout": dout})
    for tag, eps in (("e12", 1e-12), ("e5", 1e-5)):
        xx, ww, bb = (t.clone().requires_grad_(True) for t in (x, w, b))
        y = torch.nn.functional.layer_norm(xx, (C,), ww, bb, eps)
        y.backward(dout)
        out.update({f"ln.{tag}.out": y.detach(), f"ln.{tag}.dx": xx.grad, f"ln.{tag}.dw": ww.grad,
                    f"ln.{tag}.db": bb.grad})
    d = (out["ln.e12.out"] - out["ln.e5.out"]).abs()
    log(f"  layernorm: eps 1e-12 vs 1e-5 differ by {d[1, 4].max().item():.3g} on the low-variance row, "
        f"{d[0].max().item():.1e} elsewhere")

    # gelu (erf)
    x = 2.0 * rn(B, T, I)
    special = torch.tensor([-40.0, -20.0, -10.0, -7.5, -5.0, -3.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 3.0, 5.0,
                            7.5, 10.0, 40.0], dtype=f64)
    x.view(-1)[:16] = special
    dout = rn(B, T, I)
    xx = x.clone().requires_grad_(True)
    y = torch.nn.functional.gelu(xx, approximate="none")
    y.backward(dout)
    ref = 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))
    assert (ref - y.detach()).abs().max().item() < 1e-14
    out.update({"gelu.x": x, "gelu.out": y.detach(), "gelu.dout": dout, "gelu.dx": xx.grad})

    # attention
    q, k, v = rn(B, T, C), rn(B, T, C), rn(B, T, C)
    mask = torch.ones(B, T, dtype=torch.int64)
    mask[1, 3:] = 0
    dout = rn(B, T, C)
    qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))

    def heads(t):
        return t.view(B, T, NH, D).transpose(1, 2)

    s = heads(qq) @ heads(kk).transpose(-1, -2) / math.sqrt(D)
    s = s.masked_fill((mask == 0).view(B, 1, 1, T), float("-inf"))
    probs = torch.softmax(s, -1)
    ctx = (probs @ heads(vv)).transpose(1, 2).reshape(B, T, C)
    ctx.backward(dout)
    out.update({"attn.q": q, "attn.k": k, "attn.v": v, "attn.mask": mask, "attn.probs": probs.detach(),
                "attn.out": ctx.detach(), "attn.dout": dout, "attn.dq": qq.grad, "attn.dk": kk.grad,
                "attn.dv": vv.grad})
    assert probs.detach()[1, :, :, 3:].abs().max().item() == 0.0
    assert vv.grad[1, 3:].abs().max().item() == 0.0 and kk.grad[1, 3:].abs().max().item() == 0.0

    # linear
    x = rn(B * T, C)
    w = 0.5 * rn(I, C)
    b = 0.5 * rn(I)
    dout = rn(B * T, I)
    xx, ww, bb = (t.clone().requires_grad_(True) for t in (x, w, b))
    y = torch.nn.functional.linear(xx, ww, bb)
    y.backward(dout)
    out.update({"lin.x": x, "lin.w": w, "lin.b": b, "lin.out": y.detach(), "lin.dout": dout,
                "lin.dx": xx.grad, "lin.dw": ww.grad, "lin.db": bb.grad})
    for kname, t in out.items():
        assert t.dtype == (torch.int64 if kname == "attn.mask" else f64), kname
    save(os.path.join(OUT, "kernels_ref.safetensors"), out)


# ----------------------------------------------------------------------------


def main():
    t0 = time.time()
    torch.manual_seed(0)
    np.random.seed(0)
    if sys.argv[1:2] == ["--only"]:  # one fixture into the existing directory, e.g. --only adamw_groups
        globals()["fixture_" + sys.argv[2]]()
        return
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    fixture_tiny()
    fixture_kernels()
    fixture_adamw()
    fixture_adamw_groups()
    dH = fixture_minilm()
    total = 0
    for root, _, files in os.walk(OUT):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            total += os.path.getsize(p)
    log(f"wrote {OUT}: {total / 1e6:.2f} MB in total; MiniLM f32-vs-f64 last_hidden max abs diff {dH:.2e}; "
        f"{time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
