#!/usr/bin/env python3
"""HF tokenizers encode throughput on the same corpus, single thread, optionally side by side
with clcdd's bench_tokenizer:

    TOKENIZERS_PARALLELISM=false python bench/tokenizer/peer_hf.py \
        --clcdd-bench build/bench/tokenizer/bench_tokenizer [--tokenizer T.json] [--seconds 3]

Strings are given to HF as bytes.decode("utf-8", errors="replace"), as clcdd does internally;
MB/s counts the raw corpus bytes for both. Uses encode() per string (no batch parallelism).
"""
import argparse
import os
import re
import struct
import subprocess
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FX = os.path.join(HERE, "..", "..", "tests", "fixtures", "tokenizer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.join(FX, "smollm2.tokenizer.json"))
    ap.add_argument("--corpus", default=os.path.join(FX, "corpus.bin"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clcdd-bench")
    a = ap.parse_args()
    data = open(a.corpus, "rb").read()
    assert data[:8] == b"CLTKCORP"
    n = struct.unpack_from("<I", data, 12)[0]
    off, raw = 16, []
    for _ in range(n):
        ln = struct.unpack_from("<I", data, off)[0]
        raw.append(data[off + 4:off + 4 + ln])
        off += 4 + ln
    total = sum(len(b) for b in raw)
    texts = [b.decode("utf-8", errors="replace") for b in raw]
    tok = Tokenizer.from_file(a.tokenizer)
    for t in texts:
        tok.encode(t)
    best, reps, end = 0.0, 0, time.perf_counter() + a.seconds
    while time.perf_counter() < end or reps < 3:
        t0 = time.perf_counter()
        for t in texts:
            tok.encode(t)
        best = max(best, total / 1e6 / (time.perf_counter() - t0))
        reps += 1
    print(f"hf tokenizers encode: {best:.2f} MB/s (best of {reps} passes)")
    if a.clcdd_bench:
        out = subprocess.run([a.clcdd_bench, a.tokenizer, a.corpus, str(a.seconds)], capture_output=True, text=True,
                             check=True).stdout
        print(out.strip())
        c = float(re.search(r"clcdd encode: ([0-9.]+)", out).group(1))
        print(f"ratio clcdd/hf: {c / best:.2f}")


if __name__ == "__main__":
    main()
