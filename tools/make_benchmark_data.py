#!/usr/bin/env python3
"""Ship the five benchmark sets with the project: data/benchmarks/NAME/SPLIT.csv.gz.

    python3 tools/make_benchmark_data.py [--src ../shared/data] [--out data/benchmarks]
    python3 tools/make_benchmark_data.py --check [--out data/benchmarks]
    python3 tools/make_benchmark_data.py --init-manifest [--src ../shared/data]

Reads SRC/{mr,r8,r52,ohsumed,20ng}/{train,val,test}.csv (the copies beside the
project, ../shared/data/README.md), checks each file against what it must be:

  - its number of documents as Python's csv module reads it (header and
    blank lines excluded), the counts of ../shared/data/README.md (ROWS below);
  - the sha256 of its bytes against the committed manifest OUT/SHA256SUMS
    (`sha256sum` format, one line per uncompressed file, "<hex>  mr/train.csv");

and writes it as OUT/NAME/SPLIT.csv.gz with `gzip -9 -n` (no file name, no
time stamp: the same bytes on every run), atomically (a temporary file in
the same directory, fsync, rename, fsync of the directory). Every file written
is read back, decompressed and checked again. It also writes OUT/README.md
(sources, licences, the table of splits). Nothing is written when any source
file fails its checks.

--check verifies the shipped OUT/*/*.csv.gz alone (no SRC needed): hashes of
the decompressed bytes and row counts. --init-manifest writes OUT/SHA256SUMS
from SRC after checking the row counts (once, when the manifest is made; it
refuses to replace one that exists).

gloss reads the .csv.gz files directly (`--data data/benchmarks/mr`), and so
do tools/tfidf_baseline.py, tools/probe.py and tools/make_subset.py.
"""
import argparse
import csv
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile

DATASETS = ["mr", "r8", "r52", "ohsumed", "20ng"]
SPLITS = ["train", "val", "test"]
# documents per split (../shared/data/README.md)
ROWS = {
    "mr": (6397, 711, 3554),
    "r8": (4936, 549, 2189),
    "r52": (5865, 667, 2568),
    "ohsumed": (3021, 336, 4043),
    "20ng": (10182, 1132, 7532),
}
TASKS = {
    "mr": "movie-review sentiment (sentence polarity)",
    "r8": "Reuters-21578 topics, 8 classes",
    "r52": "Reuters-21578 topics, 52 classes",
    "ohsumed": "MEDLINE abstracts (OHSUMED), 23 cardiovascular disease categories",
    "20ng": "20 Newsgroups posts (headers kept)",
}

README = """# Benchmark data sets

The five text-classification benchmarks of the G-Loss paper, shipped with
gloss so that a clone of the repository can reproduce `docs/results.md` and
run every grid in `experiments/`. Made by `tools/make_benchmark_data.py` (do
not edit by hand) from the read-only copies in `../shared/data`.

Each folder holds `train.csv.gz`, `val.csv.gz` and `test.csv.gz`: gzip
(`gzip -9 -n`) of UTF-8 CSV files, RFC 4180 quoting (fields may contain
commas, quotes and newlines), header `text,label`, labels as strings. gloss
reads them as they are: `gloss train --data data/benchmarks/mr ...`, `gloss
eval --data data/benchmarks/mr/test.csv.gz`; `gzip -dk FILE` gives the plain
CSV. `SHA256SUMS` holds the sha256 of each uncompressed file
(`gzip -dc mr/train.csv.gz | sha256sum`); `make check` verifies them
(`tests/test_data.sh`) and the row counts (`tests/test_table.c`).

| data set | task | train | val | test | classes | compressed |
|---|---|---|---|---|---|---|
{table}

Splits: the standard TextGCN splits (Yao et al., 2019, "Graph Convolutional
Networks for Text Classification"), with the validation carve-out used by the
G-Loss authors' public code; train + val together are the standard TextGCN
training split of each set. r52's validation split has 51 of the 52 classes.
20ng's texts were decoded as latin-1 from the original posts; three posts in
train and three in test contain carriage returns inside quoted fields.

Sources: the TextGCN repository (github.com/yao8839836/text_gcn) and the
G-Loss authors' public repositories (github.com/saditya13/G-Loss-LoG).

Licences: those of the original corpora (research use): MR (Pang and Lee,
2005, sentence polarity data set v1.0), Reuters-21578 (R8 and R52; Reuters Ltd.
and Carnegie Group allow its free distribution for research purposes only, with
acknowledgement in publications), OHSUMED (Hersh et al., 1994) and 20
Newsgroups (Lang, 1995). They are not covered by the licence of gloss's code;
use them for research, and respect the original terms when redistributing.
"""


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def count_rows(data, where):
    """Documents in CSV bytes as csv.DictReader reads them; checks the header."""
    csv.field_size_limit(1 << 30)
    text = data.decode("utf-8")  # raises on invalid UTF-8
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header != ["text", "label"]:
        raise SystemExit(f"error: {where}: header is {header}, expected ['text', 'label']")
    n, labels = 0, set()
    for r in rows:
        if not r:
            continue  # a blank line (DictReader skips it too)
        if len(r) != 2:
            raise SystemExit(f"error: {where}: a record with {len(r)} fields")
        n += 1
        labels.add(r[1])
    return n, labels


def read_manifest(path):
    sums = {}
    try:
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                parts = line.rstrip("\n").split("  ", 1)
                if len(parts) != 2 or len(parts[0]) != 64:
                    raise SystemExit(f"error: {path}:{i}: expected '<sha256>  NAME/SPLIT.csv'")
                sums[parts[1]] = parts[0]
    except FileNotFoundError:
        raise SystemExit(f"error: {path}: no manifest (make it once with --init-manifest)")
    want = {f"{d}/{s}.csv" for d in DATASETS for s in SPLITS}
    if set(sums) != want:
        raise SystemExit(f"error: {path}: lists {sorted(sums)}, expected {sorted(want)}")
    return sums


def write_atomic(path, data):
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=os.path.basename(path) + ".tmp.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def gzip_bytes(data):
    """`gzip -9 -n`: the same output for the same input, run after run."""
    r = subprocess.run(["gzip", "-9", "-n", "-c"], input=data, stdout=subprocess.PIPE, check=True)
    return r.stdout


def check_source(src, name, split, sums):
    rel = f"{name}/{split}.csv"
    path = os.path.join(src, rel)
    with open(path, "rb") as f:
        data = f.read()
    n, labels = count_rows(data, path)
    want = ROWS[name][SPLITS.index(split)]
    if n != want:
        raise SystemExit(f"error: {path}: {n} documents, expected {want}")
    if sums is not None and sha256(data) != sums[rel]:
        raise SystemExit(f"error: {path}: sha256 {sha256(data)}, the manifest has {sums[rel]}")
    return data, labels


def check_shipped(out, sums):
    """Every OUT/NAME/SPLIT.csv.gz decompresses to the manifest's bytes and rows."""
    bad = 0
    for name in DATASETS:
        for i, split in enumerate(SPLITS):
            rel = f"{name}/{split}.csv"
            path = os.path.join(out, rel + ".gz")
            try:
                with open(path, "rb") as f:
                    data = gzip.decompress(f.read())
            except (OSError, EOFError) as e:
                print(f"{path}: {e}", file=sys.stderr)
                bad += 1
                continue
            n, _ = count_rows(data, path)
            if sha256(data) != sums[rel] or n != ROWS[name][i]:
                print(f"{path}: sha256 {sha256(data)} ({n} documents), expected {sums[rel]} ({ROWS[name][i]})",
                      file=sys.stderr)
                bad += 1
    return bad


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(root, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(root, "data", "benchmarks"))
    ap.add_argument("--check", action="store_true", help="verify the shipped files only")
    ap.add_argument("--init-manifest", action="store_true", help="write OUT/SHA256SUMS from SRC (once)")
    a = ap.parse_args()
    manifest = os.path.join(a.out, "SHA256SUMS")

    if a.init_manifest:
        if os.path.exists(manifest):
            raise SystemExit(f"error: {manifest} exists; the manifest is made once (remove it by hand to remake)")
        lines = []
        for name in DATASETS:
            for split in SPLITS:
                data, _ = check_source(a.src, name, split, None)
                lines.append(f"{sha256(data)}  {name}/{split}.csv\n")
        write_atomic(manifest, "".join(lines).encode())
        print(f"wrote {manifest}")
        return

    sums = read_manifest(manifest)
    if a.check:
        bad = check_shipped(a.out, sums)
        if bad:
            raise SystemExit(f"error: {bad} shipped files differ from {manifest}")
        print(f"{a.out}: all {len(sums)} files match {manifest}")
        return

    # check every source first: nothing is written when one fails
    sources, rows = {}, []
    for name in DATASETS:
        classes = set()
        for split in SPLITS:
            data, labels = check_source(a.src, name, split, sums)
            sources[(name, split)] = data
            if split == "train":
                classes = labels
        sizes = []
        for split in SPLITS:
            gz = gzip_bytes(sources[(name, split)])
            if gzip.decompress(gz) != sources[(name, split)]:
                raise SystemExit(f"error: gzip did not round-trip {name}/{split}.csv")
            write_atomic(os.path.join(a.out, name, split + ".csv.gz"), gz)
            sizes.append(len(gz))
        n = ROWS[name]
        rows.append(f"| `{name}` | {TASKS[name]} | {n[0]} | {n[1]} | {n[2]} | {len(classes)} | "
                    f"{sum(sizes) / 1e6:.1f} MB |")
    bad = check_shipped(a.out, sums)
    if bad:
        raise SystemExit(f"error: {bad} written files do not read back as their sources")
    write_atomic(os.path.join(a.out, "README.md"), README.format(table="\n".join(rows)).encode())
    print(f"wrote {a.out}: {len(sources)} files, checked against {manifest}")


if __name__ == "__main__":
    main()
