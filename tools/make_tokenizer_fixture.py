#!/usr/bin/env python3
"""Acceptance fixture for the C WordPiece tokenizer (src/text/tokenizer.c).

Reference: Hugging Face `tokenizers` (BertWordPieceTokenizer: BertNormalizer with
clean_text and handle_chinese_chars, BertPreTokenizer, WordPiece with "##" and
[UNK], max 100 characters per word, [CLS] ... [SEP]) built from
models/all-MiniLM-L6-v2/vocab.txt in two modes:
  U  uncased: lowercase=True, strip_accents follows it (on): the model's setting
  C  cased:   lowercase=False, strip_accents follows it (off)
Every dataset document is also run through `transformers`' BertTokenizer loaded
from the model directory, and the two references must agree.

Usage:  python3 tools/make_tokenizer_fixture.py [--model DIR] [--data DIR] [--out DIR]
Writes three files into tests/fixtures/tokenizer/ (no dataset text is stored):

tricky.txt  hand-written strings (below) with their full id lists. Lines:
    # <n>: <ascii() of the string>
    <U|C> <max_length> <UTF-8 bytes in hex, or "-" if empty> : <ids...>
  max_length 0 means no truncation; 2, 3, 8 truncate to that total (HF
  enable_truncation(L): the first L-2 tokens, then [SEP]).

docs.bin  every document of mr, r8, r52, ohsumed, 20ng (train, val, test; read
  with Python's csv module, column "text", from data/benchmarks/NAME/SPLIT.csv.gz,
  or SPLIT.csv in a --data folder of plain files). Little-endian:
    "GLTKDOC1"  magic
    u32 CRC-32 of vocab.txt's bytes, u32 number of splits
    per split: u8 name length, name ("mr/train"), u32 number of documents,
      u32 agg[4]: CRC-32 over the split of, per document, u32 id count then
        u32 CRC-32 of its ids, for U untruncated, U max_length 128,
        C untruncated, C max_length 128
      per document: u32 CRC-32 of the U untruncated ids (as u32 LE bytes),
        u8 check byte of the C untruncated ids (xor of the four bytes of their
        CRC-32), LEB128 varint id count (U untruncated)
  The per-document entries locate a mismatch; the aggregates settle the
  truncated and cased variants exactly.

codepoints.bin  every code point, in a synthetic vocabulary that has each
  character c as "c" and "##c" (after [PAD] [UNK] [CLS] [SEP] [MASK]; except
  U+0000, the surrogates and the characters in NOT_IN_SYNTH_VOCAB, which cannot
  be vocab lines), so the ids spell the normalized, split text exactly. The C
  test writes the same vocabulary. For each code point c (no surrogates) the
  text "a" + c + "b" is encoded untruncated; per block of 256 code points a u32
  CRC-32 over (u32 count, ids) of its code points. Layout: "GLTKCPS1",
  u32 blocks (4352), then U's block hashes, then C's.

CRC-32: the zlib / IEEE 802.3 one (reflected polynomial 0xEDB88320, initial
and final xor 0xFFFFFFFF), as Python's zlib.crc32, continued across pieces.
"""

import argparse
import os
import struct
import sys
import zlib

from tokenizers import BertWordPieceTokenizer

from tokenizer_fixture_io import MAX_LENGTHS, TRUNC, ids_bytes, write_bytes, write_docs, write_lines

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# White_Space (Rust's char::is_whitespace) plus the file separators U+001C..U+001F.
NOT_IN_SYNTH_VOCAB = set(range(0x09, 0x0E)) | set(range(0x1C, 0x21)) | {
    0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} | set(range(0x2000, 0x200B))

TRICKY = [
    "",
    "   \t\n  \r\n ",
    "\u00a0\u2028\u3000\u2009 \u202f\u2029\u1680",
    "Hello, World!",
    "Héllo Wörld Ñandú çà et là",
    "naïve café résumé ÉCOLE Crème Brûlée",
    "中文分词测试 and 日本語のテキスト",
    "한국어 텍스트 ㄱㄴㄷ",
    "emoji 😀🤖👍🏽 🇺🇸 ❤️ family 👨‍👩‍👧 end",
    "ctrl\x00chars\x01\x07\x1b\x7f here\x0b\x0c\x1c\x1f there",
    "zero\u200bwidth\u200c\u200d\ufeff joiners\u2060 soft\u00adhyphen",
    "nbsp\u00a0line\u2028sep\u2029para\u3000ideo\u2003em\u0085nel",
    "„quoted“ “curly” ‘single’ — dash – en ¿qué? ¡sí! «guillemets» … ‹›",
    "a" * 100,
    "a" * 101,
    "x" * 250 + " short",
    "é" * 60 + " " + "é" * 101,
    "e\u0301" * 60,
    "e\u0301 a\u0300\u0316 o\u0308\u0304 n\u0303 c\u0327",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f algo",
    "ΟΔΥΣΣΕΥΣ Σίσυφος ὀδυσσεύς ΐ ΰ ά έ ή",
    "İstanbul IŞIK ılık İ",
    "ＡＢＣ ｆｕｌｌｗｉｄｔｈ １２３ ！？",
    "ﬁ ligature ﬀ Å Ω K ẞ ß ǅ ǈ",
    "x² + y³ = z½ € £ ¥ © ® ™ ° ± × ÷ ∑ ∞ ≠",
    "https://example.com/path?q=1&r=2#frag user@mail.org",
    "3.14159 1,000,000 -42 +7 1e-9 $100 50% #hashtag @mention",
    "don't won't it's y'all 'quoted' U.S.A. e.g. O'Neil",
    "state-of-the-art well--known",
    "[CLS] [SEP] [PAD] [MASK] [UNK] [cls] [Sep] x[SEP]y [[CLS]] [SEP",
    "مرحبا بالعالم مَرْحَبًا שלום עולם",
    "नमस्ते दुनिया สวัสดีชาวโลก",
    "Привет, МИР! Ёлка й",
    "Tiếng Việt có dấu",
    "abcабв helloмир",
    "bad\ufffdchar \ue000\uf8ff pua \U000F0000",
    "line1\r\nline2\rline3\n\tindented",
    "!!!???...;;;---___",
    "\u2e43 \u166d x\u08e2y a\u1ac1b \U0001E95E \u0890",
    "ガギグ パピプ",
    "𝄞 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 x\U0001D16D\U0001D165y",
    "\U000E0001tag \U0001FFFF \U0010FFFF",
    "Ⅻ ⅻ ₂ ⁴ ℌ ℍ",
    "unbelievablyantidisestablishmentarianism supercalifragilisticexpialidocious",
    "the quick brown fox jumps over the lazy dog " * 4,
    "a",
    "A",
    ".",
    "中",
    "Ꭰ ᏸ ꭰ Ⴀ",
    "\u1c89 \ua7cb \U00010D50 \U00011938",
]


def make_tok(vocab, lowercase, max_length=0):
    t = BertWordPieceTokenizer(vocab, lowercase=lowercase)  # strip_accents=None: follows lowercase
    if max_length:
        t.enable_truncation(max_length)
    return t


def write_tricky(vocab, path):
    lines = []
    toks = {(m, L): make_tok(vocab, m == "U", L) for m in "UC" for L in MAX_LENGTHS}
    for i, s in enumerate(TRICKY):
        lines.append("# %d: %s" % (i, ascii(s)))
        hx = s.encode("utf-8").hex() or "-"
        for m in "UC":
            for L in MAX_LENGTHS:
                ids = toks[(m, L)].encode(s).ids
                lines.append("%s %d %s : %s" % (m, L, hx, " ".join(map(str, ids))))
    write_lines(path, lines)


def crosscheck_transformers(model_dir, texts, ids_u, ids_c):
    from transformers import BertTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()  # no "longer than the model's maximum" warnings
    for lower, want in ((True, ids_u), (False, ids_c)):
        bt = BertTokenizer.from_pretrained(model_dir, do_lower_case=lower)
        got = bt(texts, add_special_tokens=True)["input_ids"]
        bad = sum(1 for a, b in zip(got, want) if list(a) != list(b))
        if bad:
            sys.exit("transformers and tokenizers disagree on %d documents (lowercase=%s)" % (bad, lower))


def write_docs_fixture(vocab, model_dir, data_dir, path):
    toks = (make_tok(vocab, True), make_tok(vocab, True, TRUNC), make_tok(vocab, False), make_tok(vocab, False, TRUNC))
    with open(vocab, "rb") as f:
        vocab_hash = zlib.crc32(f.read())
    write_docs(path, b"GLTKDOC1", vocab_hash, data_dir, toks,
               lambda name, texts, variants: crosscheck_transformers(model_dir, texts, variants[0], variants[2]))


def write_codepoints(tmpdir, path):
    cps = [c for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF)]
    vocab = os.path.join(tmpdir, "synthetic_vocab.txt")
    with open(vocab, "w", encoding="utf-8", newline="\n") as f:
        for t in SPECIALS:
            f.write(t + "\n")
        for c in cps:
            if c == 0 or c in NOT_IN_SYNTH_VOCAB:
                continue
            f.write(chr(c) + "\n##" + chr(c) + "\n")
    out = bytearray(b"GLTKCPS1") + struct.pack("<I", 0x110000 // 256)
    texts = ["a" + chr(c) + "b" for c in cps]
    for lower in (True, False):
        encs = make_tok(vocab, lower).encode_batch(texts)
        blocks = [0] * (0x110000 // 256)
        for c, e in zip(cps, encs):
            b = c >> 8
            blocks[b] = zlib.crc32(struct.pack("<I", len(e.ids)), blocks[b])
            blocks[b] = zlib.crc32(ids_bytes(e.ids), blocks[b])
        out += struct.pack("<%dI" % len(blocks), *blocks)
    os.unlink(vocab)
    write_bytes(path, out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=os.path.join(root, "data", "benchmarks"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "tokenizer"))
    a = ap.parse_args()
    vocab = os.path.join(a.model, "vocab.txt")
    os.makedirs(a.out, exist_ok=True)
    write_tricky(vocab, os.path.join(a.out, "tricky.txt"))
    write_codepoints(a.out, os.path.join(a.out, "codepoints.bin"))
    write_docs_fixture(vocab, a.model, a.data, os.path.join(a.out, "docs.bin"))


if __name__ == "__main__":
    main()
