#!/usr/bin/env python3
"""Write a seeded random sample of N documents of each split of a dataset folder
into another folder (CSV, RFC 4180, the documents in their original order), for
quick trials of the defaults. The benchmark files are sorted by label, so their
first N documents would not do. N = 0 leaves that split out.

    python3 tools/make_subset.py SRC DST TRAIN VAL TEST [--seed S]  (default 0)
    e.g. python3 tools/make_subset.py data/benchmarks/mr out/data/mr-600 600 150 400

SRC holds SPLIT.csv or SPLIT.csv.gz (data/benchmarks, as shipped); the output
is plain CSV.

Standard library only; the output is atomic per file (temp file + rename).
"""
import csv
import gzip
import os
import random
import sys


def main(argv):
    seed = 0
    if len(argv) == 8 and argv[6] == "--seed":
        seed = int(argv[7])
        argv = argv[:6]
    if len(argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    src, dst, counts = argv[1], argv[2], [int(a) for a in argv[3:6]]
    os.makedirs(dst, exist_ok=True)
    for split, n in zip(("train", "val", "test"), counts):
        path, opener = os.path.join(src, split + ".csv"), open
        if not os.path.exists(path) and os.path.exists(path + ".gz"):
            path, opener = path + ".gz", gzip.open
        with opener(path, "rt", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if n == 0:
            continue
        head, docs = rows[0], rows[1:]
        if len(docs) < n:
            sys.exit(f"error: {src}/{split}.csv has {len(docs)} documents, fewer than {n}")
        keep = sorted(random.Random(f"{seed}/{split}").sample(range(len(docs)), n))
        body = [docs[i] for i in keep]
        tmp = os.path.join(dst, split + ".csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(head)
            w.writerows(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(dst, split + ".csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
