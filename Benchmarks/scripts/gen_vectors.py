#!/usr/bin/env python3
"""Writes N unit vectors for scale runs: row-major float32, no header (the layout of vectors-1m-384.f32).

  python3 Benchmarks/scripts/gen_vectors.py --rows 10000000 --out bench-data/vectors-10m-384.f32

Generator: numpy.random.default_rng(20261207), standard_normal float32 in blocks of 100,000 rows, each row divided
by its L2 norm. Skips the work when the file already has the right size.
"""
import argparse
import os

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, required=True)
ap.add_argument("--dimension", type=int, default=384)
ap.add_argument("--out", required=True)
args = ap.parse_args()
size = args.rows * args.dimension * 4
if os.path.exists(args.out) and os.path.getsize(args.out) == size:
    print(f"gen_vectors: {args.out} exists")
    raise SystemExit(0)
rng = np.random.default_rng(20261207)
tmp = args.out + ".part"
with open(tmp, "wb") as out:
    done = 0
    while done < args.rows:
        m = min(100_000, args.rows - done)
        x = rng.standard_normal((m, args.dimension), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out.write(x.astype("<f4", copy=False).tobytes())
        done += m
os.replace(tmp, args.out)
print(f"gen_vectors: wrote {args.rows} x {args.dimension} to {args.out}")
