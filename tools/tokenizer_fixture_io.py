"""What the tokenizer fixture scripts share (tools/make_tokenizer_fixture.py,
tools/make_bpe_fixtures.py): the benchmark texts they read, the text and
binary files they write, and the layout of docs.bin, which their docstrings
describe (the same but for the magic, the CRC-32 of the source file and what
the four variants are).

CRC-32 is zlib's (as Python's zlib.crc32), continued across pieces; ids are
u32 little-endian.
"""

import csv
import gzip
import os
import struct
import sys
import zlib

DATASETS = ["mr", "r8", "r52", "ohsumed", "20ng"]
SPLITS = ["train", "val", "test"]
TRUNC = 128
MAX_LENGTHS = [0, 2, 3, 8]


def ids_bytes(ids):
    return struct.pack("<%dI" % len(ids), *ids)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def data_file(data_dir, rel):
    """data_dir/rel.csv.gz (data/benchmarks, shipped), else data_dir/rel.csv."""
    gz = os.path.join(data_dir, rel + ".csv.gz")
    return gz if os.path.exists(gz) else os.path.join(data_dir, rel + ".csv")


def read_texts(path):
    """The column "text" of a CSV file (gzip'ed when its name ends in .gz)."""
    csv.field_size_limit(1 << 30)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        col = next(r).index("text")
        return [row[col] for row in r]


def write_lines(path, lines):
    """ASCII lines, each ended by "\\n"."""
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def docs_split(name, variants):
    """One split of docs.bin: u8 name length, name, u32 number of documents,
    u32 agg[4] (per variant, the CRC-32 over the split of (u32 id count, u32
    CRC-32 of the ids) per document), then per document the u32 CRC-32 of
    variant 0's ids, the u8 check byte of variant 2's ids (xor of the bytes of
    their CRC-32) and variant 0's id count as a LEB128 varint.
    variants: four lists of id lists, one per document."""
    aggs = []
    for v in variants:
        h = 0
        for ids in v:
            h = zlib.crc32(struct.pack("<II", len(ids), zlib.crc32(ids_bytes(ids))), h)
        aggs.append(h)
    name = name.encode()
    out = bytearray(struct.pack("<B", len(name)) + name + struct.pack("<I4I", len(variants[0]), *aggs))
    for ids_a, ids_b in zip(variants[0], variants[2]):
        hb = zlib.crc32(ids_bytes(ids_b))
        check = (hb ^ (hb >> 8) ^ (hb >> 16) ^ (hb >> 24)) & 0xFF
        out += struct.pack("<IB", zlib.crc32(ids_bytes(ids_a)), check) + varint(len(ids_a))
    return out


def write_docs(path, magic, source_crc, data_dir, tokenizers, crosscheck):
    """docs.bin over every split of DATASETS x SPLITS in data_dir: magic, u32
    source_crc, u32 number of splits, then docs_split of each. tokenizers: the
    four variants (objects with encode_batch); crosscheck(name, texts,
    variants) runs on each split before it is written (it exits on a
    disagreement)."""
    out = bytearray(magic) + struct.pack("<II", source_crc, len(DATASETS) * len(SPLITS))
    for d in DATASETS:
        for s in SPLITS:
            name = "%s/%s" % (d, s)
            texts = read_texts(data_file(data_dir, name))
            variants = [[e.ids for e in t.encode_batch(texts)] for t in tokenizers]
            crosscheck(name, texts, variants)
            out += docs_split(name, variants)
            print("%s: %d documents" % (name, len(texts)), file=sys.stderr)
    write_bytes(path, out)
