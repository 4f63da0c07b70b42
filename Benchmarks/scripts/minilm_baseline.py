#!/usr/bin/env python3
"""Baseline for `RAGBench minilm`: sentence-transformers (PyTorch, CPU) embedding the same 256-token chunks.

    python3 -m venv /tmp/st && /tmp/st/bin/pip install torch sentence-transformers
    /tmp/st/bin/python Benchmarks/scripts/minilm_baseline.py [--models DIR] [--chunks 64] [--repeat 5] [--threads 1,2]

Prints one JSON object like RAGBench's: per thread count (torch.set_num_threads), the median seconds to embed
all chunks, chunks/s, and the peak resident memory of this process.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

WORDS = (
    "matrix vector eigenvalue solve linear system function plot figure axis label legend string cell array "
    "structure field index loop condition error warning file read write format number integer double "
    "precision complex root polynomial derivative integral equation optimisation gradient signal filter "
    "frequency transform image colour pixel package install document chapter section table reference "
    "example output input variable value default option"
).split(" ")


def texts(count):
    """The same strings as MiniLMBench.texts(count:) in Benchmarks/RAGBench/MiniLMBench.swift."""
    return [" ".join(WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(400)) for i in range(count)]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=os.environ.get("RAG_MODELS_DIR", os.path.join(root, "models")))
    parser.add_argument("--chunks", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(os.path.join(args.models, "all-MiniLM-L6-v2"), device="cpu")
    chunks = texts(args.chunks)
    lengths = {len(ids) for ids in model.tokenizer(chunks, truncation=True, max_length=256)["input_ids"]}
    assert lengths == {256}, lengths
    modes = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            model.encode(chunks[:4], batch_size=args.batch_size)  # warm up
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                model.encode(chunks, batch_size=args.batch_size, convert_to_numpy=True)
                times.append(time.perf_counter() - start)
        median = statistics.median(times)
        modes.append({"threads": threads, "median_s": median, "chunks_per_s": args.chunks / median, "times_s": times})
    print(json.dumps({
        "bench": "minilm_baseline", "chunks": args.chunks, "tokens_per_chunk": 256, "torch": torch.__version__,
        "torch_config_threads": torch.get_num_threads(), "modes": modes,
        "median_s": min(m["median_s"] for m in modes),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
