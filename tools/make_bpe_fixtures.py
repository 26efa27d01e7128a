#!/usr/bin/env python3
"""Fixtures for the byte-level BPE tokenizer and tokenizer.json (src/text/).

Reference: Hugging Face `tokenizers` (and `transformers`, cross-checked).
Needs a venv with `tokenizers` and `transformers` (no model is downloaded):

    python3 -m venv /tmp/tok-venv && /tmp/tok-venv/bin/pip install tokenizers transformers
    /tmp/tok-venv/bin/python tools/make_bpe_fixtures.py [--data DIR] [--out DIR]

Writes into tests/fixtures/bpe/ (no dataset text is stored):

json/tokenizer.json  a byte-level BPE trained here (ByteLevelBPETokenizer,
  vocab 8000, min_frequency 2, on the train.csv.gz texts of the five benchmark
  sets), RoBERTa style: added tokens <s> <pad> </s> <unk> <mask> (ids 0..4,
  <mask> with lstrip), ByteLevel pre-tokenizer with add_prefix_space false,
  RobertaProcessing <s> ... </s>. Compact JSON.
files/  the same tokenizer as transformers' RobertaTokenizer reads it:
  vocab.json, merges.txt, tokenizer_config.json (add_prefix_space false, the
  special tokens, added_tokens_decoder with <mask>'s lstrip),
  special_tokens_map.json (plain strings).
probe1/tokenizer.json, probe2/tokenizer.json  tiny BPEs for the rarer
  options: a vocabulary without the one-byte tokens of bytes 0x00..0x08 (and
  0xC4 in probe2); probe1: unk_token <unk> with fuse_unk, ignore_merges,
  add_prefix_space true, added tokens <mask> (lstrip and rstrip), "qqq"
  (single_word), "[n]" and "ab" (normalized); probe2: byte_fallback with some
  <0xXX> tokens, use_regex false.
wp/tokenizer.json, wp_flags/tokenizer.json  WordPiece tokenizer.json files
  over a synthetic vocabulary (the specials, then every character of the hard
  strings as "c" and "##c", then a few words): wp has BertNormalizer's
  defaults, wp_flags has clean_text, handle_chinese_chars and strip_accents
  off.

tricky.txt  hard strings with their full id lists. Blocks of
    # <n>: <ascii() of the string>
    = <UTF-8 bytes in hex, or "-" if empty>
    <mode> <max_length> : <ids...>
  Modes (the C test loads the same files):
    F  json/ (and files/): add_prefix_space false; max_length 0, 2, 3, 8
    T  the same with add_prefix_space true (tokenizer.json's pre_tokenizer
       flag, tokenizer_config.json's); max_length 0, 2, 3, 8
    S  files/ with a tokenizer_config.json of plain-string special tokens and
       no added_tokens_decoder (so <mask> takes no spaces): transformers' ids
    X  probe1/, Y  probe2/
    W  wp/ as the file says (lowercase); w  wp/ with do_lower_case false;
    A  wp/ with do_lower_case false and strip_accents true (transformers'
       BertTokenizer over the file with those tokenizer_config.json values)
    N  wp_flags/
  max_length 0 means no truncation; L truncates to L ids with <s> and </s>.

docs.bin  every document of mr, r8, r52, ohsumed, 20ng (train, val, test):
    "GLBPDOC1", u32 CRC-32 of json/tokenizer.json, u32 number of splits;
    per split: u8 name length, name, u32 number of documents, u32 agg[4]: the
      CRC-32 over the split of (u32 id count, u32 CRC-32 of the ids) per
      document for F, F max_length 128, T, T max_length 128;
    per document: u32 CRC-32 of its F ids, u8 check byte of its T ids (xor
      of the bytes of their CRC-32), LEB128 varint F id count.

codepoints.bin  every code point c (no surrogates) in the context string
    CONTEXT(c) = "a" c "b 1" c "2 !" c "? " c " x" c c "  y" c "'s" c
  "GLBPCPS1", u32 blocks (4352), then three arrays of per-block CRC-32s:
    split: (u32 piece count, u32 byte length of each piece) of the ByteLevel
      pre-tokenizer (add_prefix_space false) on CONTEXT(c);
    ids:   (u32 count, ids) of F on CONTEXT(c);
    probe: (u32 count, ids) of probe1 on "x" c "qqq" c "<mask>" c "y" c "[n]"
      (single_word boundaries, lstrip / rstrip spaces, normalized tokens).

SHA256SUMS  the sha256 of every file above.

CRC-32 is zlib's (as Python's zlib.crc32), continued across pieces; ids are
u32 little-endian.
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import zlib

from tokenizers import AddedToken, ByteLevelBPETokenizer, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE, WordPiece

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixture import TRICKY as WORDPIECE_TRICKY  # noqa: E402
from tokenizer_fixture_io import (DATASETS, MAX_LENGTHS, TRUNC, data_file, ids_bytes, read_texts,  # noqa: E402
                                  write_bytes, write_docs, write_lines)

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

BPE_TRICKY = [
    "Hello world", " Hello world", "Hello world ", "  leading spaces", "trailing spaces   ", " ", "   ",
    "\t", "\n", "\n\n\n", "\r\n", "a\tb\nc\r\nd", "x \t y", "x  \n\n y", "x \n", "word\u00a0word", "a\u2003 b",
    "\u3000x \u3000 y\u3000", "a \u0085 b", "end with newline\n", " \tmixed \n\t whitespace\t \n",
    "don't can't I'm you're we've they'll she'd it's", "DON'T IT'S 'S 'T 'Re", "'s 't 're 've 'm 'll 'd",
    "'''s ''t x's", "rock'n'roll o'clock", " 's", "x'", "'", "’s curly’re",
    "1234567890 3.14 1,000 12ab34 ab12cd", "٣٤٥ ໑໒ ①②③ ¼½ Ⅻ", "x²³ 10⁻⁹", "2024-01-01T12:00:00Z",
    "👨\u200d👩\u200d👧\u200d👦 family", "🏳️\u200d🌈 flag", "👍🏽👍🏿", "🇺🇸🇬🇧", "❤️\u200d🔥", "emoji😀text😀",
    "e\u0301\u0301\u0301", "\u0301start", "ก่ข้", "\u1100\u1161\u11a8 한",
    "a" * 300, "ab" * 400, "antidisestablishment" * 20, "abc123!@#" * 100, "😀" * 50, "\u0301" * 100,
    "\x00\x01\x02\x1b[31mred\x1b[0m\x7f", "\x85\x1c\x1d\x1e\x1f", "\x00", "a\x00b",
    "<s>", "</s>", "<s>hello</s>", "<mask>", "a <mask> b", "a  <mask>  b", "<mask><mask>", " <mask>",
    "\t<mask>\n", "x\u3000<mask>", "<pad><unk>", "<s", "<<s>>", "</s >", "<MASK>", "< s>",
    "qqq", "xqqq qqq qqqx _qqq qqq_ é qqq 1qqq qqq1 qqq.", "[n]", "a[n]b", "ab", "xabx", "[n]ab[n]", "qqq<mask>qqq", "qqqq and qqqq",
    "\ufeffBOM", "\ufffd", "\U0010ffff", "\ue000 private",
    "日本語のテキスト", "中文 分词", "한국어", "Ελληνικά", "עברית", "العربية", "हिन्दी",
]
TRICKY = BPE_TRICKY + WORDPIECE_TRICKY


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHAR = bytes_to_unicode()
CHAR_BYTE = {c: b for b, c in BYTE_CHAR.items()}


# ---- the tokenizers ---------------------------------------------------------------


def train_bpe(data_dir, tmp):
    texts = []
    for d in DATASETS:
        texts += read_texts(data_file(data_dir, d + "/train"))
    t = ByteLevelBPETokenizer(add_prefix_space=False)
    t.train_from_iterator(texts, vocab_size=8000, min_frequency=2, special_tokens=SPECIALS, show_progress=False)
    t.save_model(tmp)
    return os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt")


def specials(mask_lstrip=True, mask_rstrip=False):
    out = []
    for s in SPECIALS:
        m = s == "<mask>"
        out.append(AddedToken(s, lstrip=m and mask_lstrip, rstrip=m and mask_rstrip, normalized=False, special=True))
    return out


def roberta_tokenizer(vocab, merges, add_prefix_space):
    t = Tokenizer(BPE.from_file(vocab, merges))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=add_prefix_space,
                                                    trim_offsets=True)
    t.add_special_tokens(specials())
    return t


def probe_tokenizer(vocab_path, merges_path, probe):
    """A tiny BPE over the first merges of the trained one, with some bytes missing."""
    with open(vocab_path, encoding="utf-8") as f:
        big = json.load(f)
    with open(merges_path, encoding="utf-8") as f:
        big_merges = [tuple(line.rstrip("\n").split(" ")) for line in f if not line.startswith("#version")]
    missing = set(range(0x00, 0x09)) | ({0xC4} if probe == 2 else set())
    vocab = {}
    for t in ["<s>", "<pad>", "</s>", "<unk>"]:
        vocab[t] = len(vocab)
    for b in range(256):
        if b not in missing:
            vocab[BYTE_CHAR[b]] = len(vocab)
    if probe == 2:
        # byte-fallback tokens: the bytes of the characters of bytes 0x00, 0x01 (C4 80, C4 81) and 0xC4
        # (C3 84); the other missing bytes have none and are dropped
        for b in [0xC4, 0x80, 0x81, 0xC3, 0x84]:
            vocab["<0x%02X>" % b] = len(vocab)
    merges = []
    for a, b in big_merges:
        if len(merges) == 300:
            break
        if a in vocab and b in vocab and a + b in big:
            merges.append((a, b))
            vocab.setdefault(a + b, len(vocab))
    if probe == 1:
        for w in ("qqqq", "\u0120qqqq"):  # whole words, for ignore_merges
            vocab.setdefault(w, len(vocab))
        m = BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, ignore_merges=True)
    else:
        m = BPE(vocab, merges, byte_fallback=True)
    t = Tokenizer(m)
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=probe == 1, use_regex=probe == 1)
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    t.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in ["<s>", "<pad>", "</s>", "<unk>"]])
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False, special=True)])
    t.add_tokens([AddedToken("qqq", single_word=True, normalized=False), AddedToken("[n]", normalized=True),
                  AddedToken("ab", normalized=True)])
    return t


def synthetic_wordpiece_vocab():
    chars = set()
    for s in TRICKY:
        for variant in (s, s.lower()):
            chars.update(variant)
    import unicodedata
    for s in TRICKY:
        chars.update(unicodedata.normalize("NFD", s))
        chars.update(unicodedata.normalize("NFD", s.lower()))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for c in sorted(chars):
        if c == "\x00":  # jansson refuses NUL in JSON strings
            continue
        vocab += [c, "##" + c]
    vocab += ["hello", "##llo", "world", "the", "##ing", "naive", "cafe", "##é"]
    seen = set()
    out = []
    for t in vocab:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return {t: i for i, t in enumerate(out)}


def wordpiece_tokenizer(vocab, flags):
    t = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    if flags:
        t.normalizer = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                                  lowercase=True)
    else:
        t.normalizer = normalizers.BertNormalizer()
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                     special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    t.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]])
    return t


def with_truncation(path, max_length, edit=None):
    """A fresh Tokenizer from path (edit(dict) applied to its JSON), truncating at max_length."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if edit:
        edit(d)
    t = Tokenizer.from_str(json.dumps(d))
    if max_length:
        t.enable_truncation(max_length)
    return t


def set_prefix_space(d):
    d["pre_tokenizer"]["add_prefix_space"] = True


def set_normalizer(lowercase, strip_accents):
    def edit(d):
        d["normalizer"]["lowercase"] = lowercase
        d["normalizer"]["strip_accents"] = strip_accents
    return edit


# ---- transformers cross-checks ----------------------------------------------------


def transformers_ids(directory, texts, cls_name):
    import transformers
    from transformers.utils import logging
    logging.set_verbosity_error()
    tok = getattr(transformers, cls_name).from_pretrained(directory)
    return [list(x) for x in tok(texts, add_special_tokens=True)["input_ids"]]


def files_variant(files_dir, tmp, name, config):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    for f in ["vocab.json", "merges.txt"]:
        shutil.copy(os.path.join(files_dir, f), d)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return d


def crosscheck(what, got, want):
    bad = sum(1 for a, b in zip(got, want) if list(a) != list(b))
    if bad or len(got) != len(want):
        sys.exit("%s: transformers and tokenizers disagree on %d of %d texts" % (what, bad, len(want)))


# ---- writers ----------------------------------------------------------------------


def tokenizer_config(add_prefix_space, decoder=True):
    def at(c, lstrip=False):
        return {"content": c, "lstrip": lstrip, "normalized": False, "rstrip": False, "single_word": False,
                "special": True}
    cfg = {"add_prefix_space": add_prefix_space, "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
           "mask_token": "<mask>", "model_max_length": 512, "pad_token": "<pad>", "sep_token": "</s>",
           "tokenizer_class": "RobertaTokenizer", "trim_offsets": True, "unk_token": "<unk>"}
    if decoder:
        cfg["added_tokens_decoder"] = {str(i): at(s, s == "<mask>") for i, s in enumerate(SPECIALS)}
    return cfg


def write_tricky(out, path, modes):
    lines = []
    for i, s in enumerate(TRICKY):
        lines.append("# %d: %s" % (i, ascii(s)))
        lines.append("= %s" % (s.encode("utf-8").hex() or "-"))
        for mode, lengths, fn in modes:
            for L in lengths:
                lines.append("%s %d : %s" % (mode, L, " ".join(map(str, fn(L, i, s)))))
    write_lines(path, lines)


def write_docs_fixture(data_dir, json_path, files_dir, tmp, path):
    toks = (with_truncation(json_path, 0), with_truncation(json_path, TRUNC),
            with_truncation(json_path, 0, set_prefix_space), with_truncation(json_path, TRUNC, set_prefix_space))
    t_files = files_variant(files_dir, tmp, "files_prefix", tokenizer_config(True))

    def crosscheck_split(name, texts, variants):
        crosscheck("%s F" % name, transformers_ids(files_dir, texts, "RobertaTokenizer"), variants[0])
        crosscheck("%s T" % name, transformers_ids(t_files, texts, "RobertaTokenizer"), variants[2])

    with open(json_path, "rb") as f:
        json_crc = zlib.crc32(f.read())
    write_docs(path, b"GLBPDOC1", json_crc, data_dir, toks, crosscheck_split)


def context(ch):
    return "a" + ch + "b 1" + ch + "2 !" + ch + "? " + ch + " x" + ch + ch + "  y" + ch + "'s" + ch


def write_codepoints(json_path, probe1, path):
    cps = [c for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF)]
    nblocks = 0x110000 // 256
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok = with_truncation(json_path, 0)
    split, ids, probe = [0] * nblocks, [0] * nblocks, [0] * nblocks
    chunk = 65536
    for k in range(0, len(cps), chunk):
        part = cps[k:k + chunk]
        texts = [context(chr(c)) for c in part]
        encs = tok.encode_batch(texts)
        pencs = probe1.encode_batch(["x" + chr(c) + "qqq" + chr(c) + "<mask>" + chr(c) + "y" + chr(c) + "[n]"
                                     for c in part])
        for c, text, e, pe in zip(part, texts, encs, pencs):
            b = c >> 8
            pieces = pre.pre_tokenize_str(text)
            lens = [len(bytes(CHAR_BYTE[x] for x in p)) for p, _ in pieces]
            split[b] = zlib.crc32(struct.pack("<I%dI" % len(lens), len(lens), *lens), split[b])
            ids[b] = zlib.crc32(struct.pack("<I", len(e.ids)) + ids_bytes(e.ids), ids[b])
            probe[b] = zlib.crc32(struct.pack("<I", len(pe.ids)) + ids_bytes(pe.ids), probe[b])
    out = bytearray(b"GLBPCPS1") + struct.pack("<I", nblocks)
    for a in (split, ids, probe):
        out += struct.pack("<%dI" % nblocks, *a)
    write_bytes(path, out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(root, "data", "benchmarks"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "bpe"))
    a = ap.parse_args()
    out = a.out
    for sub in ["json", "files", "probe1", "probe2", "wp", "wp_flags"]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        vocab, merges = train_bpe(a.data, tmp)
        # the tokenizer, both ways
        json_path = os.path.join(out, "json", "tokenizer.json")
        roberta_tokenizer(vocab, merges, False).save(json_path, pretty=False)
        files_dir = os.path.join(out, "files")
        shutil.copy(vocab, files_dir)
        shutil.copy(merges, files_dir)
        with open(os.path.join(files_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_config(False), f, indent=2)
        with open(os.path.join(files_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
            json.dump({"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
                       "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}, f, indent=2)
        probes = {}
        for p in (1, 2):
            probe_path = os.path.join(out, "probe%d" % p, "tokenizer.json")
            probe_tokenizer(vocab, merges, p).save(probe_path, pretty=False)
            probes[p] = probe_path
        wp_vocab = synthetic_wordpiece_vocab()
        for name, flags in (("wp", False), ("wp_flags", True)):
            wordpiece_tokenizer(wp_vocab, flags).save(os.path.join(out, name, "tokenizer.json"), pretty=False)
        wp_path = os.path.join(out, "wp", "tokenizer.json")

        # tricky strings: tokenizers' ids, transformers cross-checked where it reads the same files
        cache = {}

        def encoder(key, path, edit=None):
            def fn(L, i, s):
                if (key, L) not in cache:
                    cache[(key, L)] = with_truncation(path, L, edit)
                return cache[(key, L)].encode(s).ids
            return fn

        plain = files_variant(files_dir, tmp, "files_plain", tokenizer_config(False, decoder=False))
        s_ids = transformers_ids(plain, TRICKY, "RobertaTokenizer")
        prefix_files = files_variant(files_dir, tmp, "files_prefix", tokenizer_config(True))
        crosscheck("tricky F", transformers_ids(files_dir, TRICKY, "RobertaTokenizer"),
                   [encoder("F", json_path)(0, i, s) for i, s in enumerate(TRICKY)])
        crosscheck("tricky T", transformers_ids(prefix_files, TRICKY, "RobertaTokenizer"),
                   [encoder("T", json_path, set_prefix_space)(0, i, s) for i, s in enumerate(TRICKY)])
        wp_dirs = {}
        for mode, cfg in (("w", {"do_lower_case": False}), ("A", {"do_lower_case": False, "strip_accents": True})):
            d = os.path.join(tmp, "wp_" + mode)
            os.makedirs(d, exist_ok=True)
            shutil.copy(wp_path, d)
            with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                json.dump(dict(cfg, tokenizer_class="BertTokenizer"), f)
            wp_dirs[mode] = d
        modes = [
            ("F", MAX_LENGTHS, encoder("F", json_path)),
            ("T", MAX_LENGTHS, encoder("T", json_path, set_prefix_space)),
            ("S", [0], lambda L, i, s: s_ids[i]),
            ("X", [0], encoder("X", probes[1])),
            ("Y", [0], encoder("Y", probes[2])),
            ("W", [0], encoder("W", wp_path)),
            ("w", [0], encoder("w", wp_path, set_normalizer(False, None))),
            ("A", [0], encoder("A", wp_path, set_normalizer(False, True))),
            ("N", [0], encoder("N", os.path.join(out, "wp_flags", "tokenizer.json"))),
        ]
        for mode, key in (("w", "w"), ("A", "A")):
            crosscheck("tricky " + mode, transformers_ids(wp_dirs[mode], TRICKY, "BertTokenizer"),
                       [encoder(key, wp_path, set_normalizer(False, None if mode == "w" else True))(0, i, s)
                        for i, s in enumerate(TRICKY)])
        write_tricky(out, os.path.join(out, "tricky.txt"), modes)
        print("tricky.txt: %d strings" % len(TRICKY), file=sys.stderr)

        probe1 = with_truncation(probes[1], 0)
        write_codepoints(json_path, probe1, os.path.join(out, "codepoints.bin"))
        print("codepoints.bin written", file=sys.stderr)
        write_docs_fixture(a.data, json_path, files_dir, tmp, os.path.join(out, "docs.bin"))

    sums = []
    for dirpath, _, names in sorted(os.walk(out)):
        for n in sorted(names):
            if n == "SHA256SUMS":
                continue
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                sums.append("%s  %s" % (hashlib.sha256(f.read()).hexdigest(), os.path.relpath(p, out)))
    with open(os.path.join(out, "SHA256SUMS"), "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(sums) + "\n")


if __name__ == "__main__":
    main()
