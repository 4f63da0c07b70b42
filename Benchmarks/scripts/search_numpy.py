#!/usr/bin/env python3
"""numpy brute-force search baseline (1M x 384 float32, inner product, top-10).

  python3 Benchmarks/scripts/search_numpy.py [--vectors FILE] [--queries FILE]
          [--repeat R] [--batch-repeat B] [--max-seconds S] [--blas-threads T]

Data (written if missing, shared with the Swift side so there is no generator
mismatch):
  bench-data/vectors-1m-384.f32   1,000,000 x 384 float32, little-endian,
                                  row-major, no header (1,536,000,000 bytes)
  bench-data/queries-64-384.f32   64 x 384, same layout (98,304 bytes)
  bench-data/queries-64-384.top10.json   exact top-10 (ids, scores) per query,
                                  computed in float64, for correctness checks
Generator: numpy.random.default_rng(seed) (PCG64), standard_normal float64,
drawn in row blocks of 100,000 (vectors seed 20240601, queries seed 20240602),
each row divided by its float64 L2 norm, then cast to float32. Because rows
are unit length, inner product == cosine similarity.

Timed operations (matrix fully in RAM, loaded with np.fromfile, untimed):
  single: s = M @ q (sgemv); top = argpartition(s, n-10)[n-10:];
          top = top[argsort(-s[top])]        -- one query, queries cycled
  batch:  S = Q @ M.T (sgemm, 64 x 1M); top = argpartition(S, n-10, axis=1)
          [:, n-10:]; then each row's 10 sorted by score descending
One warm-up call of each precedes timing. Prints one JSON object with
single_median_s, batch_median_s (and median_s = single_median_s), the
OpenBLAS kernel (threadpoolctl) and the OPENBLAS_* environment.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, summary  # noqa: E402

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402

N, D, NQ, K = 1_000_000, 384, 64, 10
BLOCK = 100_000
SEED_VECTORS, SEED_QUERIES = 20240601, 20240602


def write_unit_rows(path, rows, seed):
    rng = np.random.default_rng(seed)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        done = 0
        while done < rows:
            m = min(BLOCK, rows - done)
            x = rng.standard_normal((m, D))
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            f.write(x.astype("<f4").tobytes())
            done += m
    os.replace(tmp, path)


def exact_top10(vpath, qpath, out):
    q = np.fromfile(qpath, dtype="<f4").reshape(NQ, D).astype(np.float64)
    best_s = np.full((NQ, 0), -np.inf)
    best_i = np.zeros((NQ, 0), dtype=np.int64)
    mm = np.memmap(vpath, dtype="<f4", mode="r", shape=(N, D))
    for start in range(0, N, BLOCK):
        s = q @ mm[start:start + BLOCK].astype(np.float64).T
        cs = np.concatenate([best_s, s], axis=1)
        ci = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + s.shape[1]), s.shape)], axis=1)
        part = np.argpartition(-cs, K - 1, axis=1)[:, :K]
        best_s = np.take_along_axis(cs, part, 1)
        best_i = np.take_along_axis(ci, part, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    best_s = np.take_along_axis(best_s, order, 1)
    best_i = np.take_along_axis(best_i, order, 1)
    with open(out + ".tmp", "w") as f:
        json.dump({"k": K, "ids": best_i.tolist(), "scores": best_s.tolist()}, f)
    os.replace(out + ".tmp", out)


def ensure_data(vpath, qpath):
    made = False
    if not (os.path.exists(vpath) and os.path.getsize(vpath) == N * D * 4):
        print(f"search_numpy: writing {vpath}", file=sys.stderr)
        write_unit_rows(vpath, N, SEED_VECTORS)
        made = True
    if not (os.path.exists(qpath) and os.path.getsize(qpath) == NQ * D * 4):
        print(f"search_numpy: writing {qpath}", file=sys.stderr)
        write_unit_rows(qpath, NQ, SEED_QUERIES)
        made = True
    gt = qpath.replace(".f32", ".top10.json")
    if made or not os.path.exists(gt):
        print(f"search_numpy: writing {gt}", file=sys.stderr)
        exact_top10(vpath, qpath, gt)
    with open(gt) as f:
        return np.array(json.load(f)["ids"])


def top10_single(M, q):
    s = M @ q
    top = np.argpartition(s, N - K)[N - K:]
    return top[np.argsort(-s[top])]


def top10_batch(M, Q):
    S = Q @ M.T
    top = np.argpartition(S, N - K, axis=1)[:, N - K:]
    vals = np.take_along_axis(S, top, 1)
    return np.take_along_axis(top, np.argsort(-vals, axis=1), 1)


def bounded(fn, repeat, max_seconds):
    times = []
    spent = 0.0
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if spent > max_seconds and len(times) >= 3:
            break
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", default="bench-data/vectors-1m-384.f32")
    ap.add_argument("--queries", default="bench-data/queries-64-384.f32")
    ap.add_argument("--repeat", type=int, default=64, help="single-query runs (queries cycled)")
    ap.add_argument("--batch-repeat", type=int, default=7, help="64-query batch runs")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time budget per phase")
    ap.add_argument("--blas-threads", type=int, default=None, help="limit OpenBLAS threads (default: its own)")
    ap.add_argument("--only-data", action="store_true", help="write the data files and exit")
    a = ap.parse_args()

    gt = ensure_data(a.vectors, a.queries)
    if a.only_data:
        return

    limiter = threadpoolctl.threadpool_limits(a.blas_threads, "blas") if a.blas_threads else None
    blas = [
        {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")}
        for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"
    ]

    M = np.fromfile(a.vectors, dtype="<f4").reshape(N, D)
    Q = np.fromfile(a.queries, dtype="<f4").reshape(NQ, D)

    # Correctness: float32 results vs the float64 exact top-10 (recall@10).
    got_single = top10_single(M, Q[0])  # also the warm-up
    got_batch = top10_batch(M, Q)       # also the warm-up
    recall_single = len(set(got_single.tolist()) & set(gt[0].tolist())) / K
    recall_batch = float(np.mean([len(set(got_batch[i].tolist()) & set(gt[i].tolist())) / K for i in range(NQ)]))

    single = bounded(lambda i: top10_single(M, Q[i % NQ]), a.repeat, a.max_seconds)
    batch = bounded(lambda i: top10_batch(M, Q), a.batch_repeat, a.max_seconds)
    if limiter is not None:
        limiter.restore_original_limits()

    ss, bs = summary(single), summary(batch)
    emit({
        "bench": "search",
        "tool": "numpy",
        "numpy": np.__version__,
        "blas": blas,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
        "n": N, "dim": D, "k": K, "batch": NQ,
        "bytes_scanned": N * D * 4,
        "recall_single_q0": recall_single,
        "recall_batch": recall_batch,
        "median_s": ss["median_s"],
        "single_median_s": ss["median_s"],
        "single_runs": ss["runs"],
        "single_times_s": ss["times_s"],
        "batch_median_s": bs["median_s"],
        "batch_runs": bs["runs"],
        "batch_times_s": bs["times_s"],
        "batch_per_query_s": bs["median_s"] / NQ,
        "single_gbs": N * D * 4 / ss["median_s"] / 1e9,
    })


if __name__ == "__main__":
    main()
